/**
 * Local verification of signed JWT access tokens (RFC 9068 §4), made with `jose`: the counterpart of
 * `signedTokenGenerator`, for a resource server that checks tokens without asking the authorization server.
 *
 * @module
 */
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type JWTVerifyResult,
  type KeyInput,
} from 'jose'
import { InvalidTokenError } from '../core/errors.js'
import { parseScope } from '../core/scope.js'
import { type StoredToken } from '../types.js'

/** The algorithms accepted when {@link SignedTokenVerificationOptions.algorithms} is not set: those `signedTokenGenerator` signs with. */
export const DEFAULT_VERIFICATION_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'ES256', 'EdDSA'])

/** Options of {@link signedTokenVerifier}. */
export interface SignedTokenVerificationOptions {
  /**
   * The authorization server's public key(s): a key (`CryptoKey`, public JWK, Node `KeyObject`), a JSON Web Key Set
   * object (`{ keys: [...] }`), or a key resolver such as `createLocalJWKSet(...)` or `createRemoteJWKSet(url)`.
   */
  readonly key: KeyInput | JSONWebKeySet | JWTVerifyGetKey
  /** The issuer identifier the `iss` claim must equal exactly (RFC 9068 §4). */
  readonly issuer: string
  /** This resource server's identifier(s); the `aud` claim must contain one of them (RFC 9068 §4). */
  readonly audience: string | readonly string[]
  /**
   * The `alg` values accepted; default {@link DEFAULT_VERIFICATION_ALGORITHMS}. RFC 9068 §4 requires rejecting
   * tokens signed with an algorithm the resource server did not expect, and `none` is never accepted.
   */
  readonly algorithms?: readonly string[] | undefined
}

/** A {@link StoredToken} read from a verified JWT, with the whole claims set (custom claims included). */
export interface VerifiedSignedToken extends StoredToken {
  /** The verified claims set of the JWT. */
  readonly claims: Readonly<JWTPayload>
}

/**
 * Verifies a signed access token and maps its claims to a {@link StoredToken}.
 *
 * @throws {@link InvalidTokenError} when the token is not a valid RFC 9068 access token for this resource server
 */
export type SignedTokenVerifier = (token: string) => Promise<VerifiedSignedToken>

// RFC 7515 §7.1: JWS Compact Serialization, three base64url parts; a JWT always has a signature here (never `none`).
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

// RFC 9068 §2.2: the claims every JWT access token carries.
const REQUIRED_CLAIMS = ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti']

// Failures of a key resolver that are the token's fault (its kid or alg matches no key); any other failure of the
// resolver (a JWKS that cannot be fetched or parsed) is the server's and must not be answered as invalid_token.
const TOKEN_FAULTS_OF_RESOLVER = new Set<string>([
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JOSENotSupported.code,
])

/** Wraps a failure of the key source, so that verification can tell it apart from a bad token. */
class KeySourceFailure extends Error {
  constructor(cause: unknown) {
    super('The key source failed', { cause })
    this.name = 'KeySourceFailure'
  }
}

/**
 * Whether `token` has the JWS Compact Serialization form of a signed JWT: three base64url parts, the first a JSON
 * header. A random token from `generateToken` never has this form, and neither has an opaque token that merely
 * contains two dots (such as RFC 6750's example `mF_9.B5f-4.1JqM`), so a resource server tells the kinds apart
 * without a look-up.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7515#section-7.1 | RFC 7515 §7.1}
 */
export function isSignedTokenFormat(token: string): boolean {
  if (!COMPACT_JWS.test(token)) return false
  try {
    decodeProtectedHeader(token)
    return true
  } catch {
    return false
  }
}

/**
 * Makes a verifier of JWT access tokens (RFC 9068 §4): it checks the signature with `key` and an allowed algorithm,
 * header `typ` `at+jwt` (or `application/at+jwt`), `iss`, `aud`, `exp`, and the presence of every claim RFC 9068
 * §2.2 requires, then maps the claims to a {@link StoredToken}: `clientId` from `client_id`, `user` from `sub`
 * (absent when `sub` is the client, as in a client credentials token), `scopes` from `scope`, `expiresAt` from
 * `exp`, `issuedAt` from `iat` and `audience` from `aud`.
 *
 * A JWT is verified without any look-up, so it stays valid until `exp` even if revoked: keep lifetimes short.
 * A failure of the key source itself (a remote JWKS that times out) is not the token's fault: the verifier rejects
 * with that error, not with `invalid_token`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-4 | RFC 9068 §4}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-2.2 | RFC 9068 §2.2}
 * @throws TypeError when an option is missing or malformed, or when `key` is a private key
 * @example
 * ```ts
 * const verify = signedTokenVerifier({ key: jwks, issuer: 'https://as.example.com', audience: 'https://api.example.com' })
 * const token = await verify(accessToken) // throws InvalidTokenError
 * ```
 */
export function signedTokenVerifier(options: SignedTokenVerificationOptions): SignedTokenVerifier {
  if (typeof options.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('signedTokenVerifier needs the issuer (RFC 9068 section 4)')
  }
  const audience = typeof options.audience === 'string' ? [options.audience] : options.audience
  if (!Array.isArray(audience) || audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    throw new TypeError('signedTokenVerifier needs this resource server as audience (RFC 9068 section 4)')
  }
  const algorithms = options.algorithms ?? DEFAULT_VERIFICATION_ALGORITHMS
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((alg) => typeof alg !== 'string' || alg === '' || alg === 'none')) {
    throw new TypeError('signedTokenVerifier algorithms must be a non-empty list of JWS alg values, without none')
  }
  const key = verificationKeyOf(options.key)
  const verifyOptions: JWTVerifyOptions = {
    issuer: options.issuer,
    audience: [...audience],
    algorithms: [...algorithms],
    typ: 'at+jwt',
    requiredClaims: REQUIRED_CLAIMS,
  }
  return async (token) => {
    let result: JWTVerifyResult
    try {
      result = await verifyJwt(token, key, verifyOptions)
    } catch (error) {
      if (error instanceof KeySourceFailure) throw error.cause
      throw new InvalidTokenError(describeFailure(error), { cause: error })
    }
    return storedTokenOf(result.payload)
  }
}

/** Turns the `key` option into what `jwtVerify` takes, checking it once instead of on every request. */
function verificationKeyOf(key: SignedTokenVerificationOptions['key']): KeyInput | JWTVerifyGetKey {
  if (typeof key === 'function') return guardResolver(key)
  if (typeof key !== 'object' || key === null) throw new TypeError('signedTokenVerifier needs a key, a JWKS or a key resolver')
  if (isKeySet(key)) {
    let resolver: JWTVerifyGetKey
    try {
      resolver = createLocalJWKSet(key)
    } catch (cause) {
      throw new TypeError('signedTokenVerifier key is not a valid JSON Web Key Set', { cause })
    }
    return guardResolver(resolver)
  }
  // A private key here means the authorization server's signing key was copied to a resource server.
  if (('type' in key && key.type === 'private') || ('d' in key && key.d !== undefined)) {
    throw new TypeError('signedTokenVerifier needs the public key, not the private signing key')
  }
  return key as KeyInput
}

function isKeySet(key: KeyInput | JSONWebKeySet): key is JSONWebKeySet {
  // A Uint8Array has a keys() method too; createLocalJWKSet then checks that the object really is a JWKS.
  return !(key instanceof Uint8Array) && !('kty' in key) && 'keys' in key
}

function guardResolver(resolver: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await resolver(header, token)
    } catch (error) {
      if (error instanceof errors.JOSEError && TOKEN_FAULTS_OF_RESOLVER.has(error.code)) throw error
      throw new KeySourceFailure(error)
    }
  }
}

async function verifyJwt(token: string, key: KeyInput | JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
  try {
    return await jwtVerify(token, key, options)
  } catch (error) {
    // A JWKS without `kid` in the token may hold several candidate keys (e.g. during key rotation): try each.
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error
    for await (const candidate of error) {
      try {
        return await jwtVerify(token, candidate, options)
      } catch (inner) {
        if (inner instanceof errors.JWSSignatureVerificationFailed) continue
        throw inner
      }
    }
    throw new errors.JWSSignatureVerificationFailed()
  }
}

/** A public `error_description` for a failed verification; the jose error itself travels as `cause`. */
function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'The access token expired'
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return `The access token lacks the ${error.claim} claim (RFC 9068 section 2.2)`
    switch (error.claim) {
      case 'typ':
        return 'The access token is not a JWT access token (typ at+jwt, RFC 9068 section 4)'
      case 'iss':
        return 'The access token was issued by another authorization server'
      case 'aud':
        return 'The access token is not meant for this resource server'
      case 'nbf':
        return 'The access token is not valid yet'
      default:
        return 'The access token has an invalid claim'
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'The access token is signed with an algorithm this resource server does not accept'
  if (error instanceof errors.JWKSNoMatchingKey) return 'The access token is signed with an unknown key'
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid'
  return 'The access token is malformed or not signed with an accepted key'
}

function storedTokenOf(claims: JWTPayload): VerifiedSignedToken {
  const { client_id: clientId, sub, scope, aud, exp, iat } = claims
  // jose checked that the claims of REQUIRED_CLAIMS are present and that sub, exp and iat have their types.
  if (typeof clientId !== 'string' || clientId === '') {
    throw new InvalidTokenError('The access token client_id claim is not a string (RFC 9068 section 2.2)')
  }
  if (typeof sub !== 'string' || sub === '') throw new InvalidTokenError('The access token sub claim is empty')
  return {
    tokenType: 'access_token',
    clientId,
    // RFC 9068 §2.2: sub is the client itself when no resource owner is involved (client credentials).
    user: sub === clientId ? undefined : { userId: sub },
    scopes: scopesOf(scope),
    expiresAt: exp,
    issuedAt: iat,
    audience: typeof aud === 'string' ? [aud] : aud,
    claims,
  }
}

function scopesOf(scope: unknown): readonly string[] {
  // RFC 9068 §2.2.3: scope is the space-delimited list of RFC 6749 §3.3; absent or empty means no scope.
  if (scope === undefined || scope === '') return []
  if (typeof scope !== 'string') throw new InvalidTokenError('The access token scope claim is not a string')
  try {
    return parseScope(scope)
  } catch (cause) {
    throw new InvalidTokenError('The access token scope claim is malformed (RFC 6749 section 3.3)', { cause })
  }
}
