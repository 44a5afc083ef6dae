/**
 * Signed JWT access tokens (RFC 9068). The token is the JWS Compact Serialization (RFC 7515 §7.1) of a fixed header
 * and the claims, assembled here so that any {@link JwsSigner} can sign it: a signer of the application's (a key in an
 * HSM or a KMS, `nodeSigner` of `oauthkit/node`), or Web Crypto for a `CryptoKey`, a private JWK or a PKCS#8 PEM
 * (imported once with `jose`), each checked once to be a private signing key of `alg`. Any other key input `jose`
 * accepts (a Node `KeyObject`) is signed through `jose`'s `SignJWT`.
 *
 * @module
 */
import { base64url, importJWK, importPKCS8, SignJWT, type JWK, type KeyInput } from 'jose'
import { scopeToString } from '../core/scope.js'
import { generateTimeOrderedToken } from './time-ordered.js'
import { type TokenGenerationContext, type TokenGenerator } from './generator.js'

/** The signature algorithms a signed access token may use. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA'

/** Options of {@link signedTokenGenerator}. */
export interface SignedTokenOptions {
  /** The authorization server's issuer identifier, written as `iss`. */
  readonly issuer: string
  /** The signature algorithm; it must fit the key. */
  readonly alg: SigningAlgorithm
  /**
   * The resource server(s) the token is for, written as `aud` (RFC 9068 §2.2 requires one). The `resource` values
   * of the request (RFC 8707) take precedence; when there are none and this is absent, `aud` is taken from
   * `request.claims.aud` if a validator set it, else it is the issuer.
   */
  readonly audience?: string | readonly string[] | ((context: TokenGenerationContext) => string | readonly string[])
  /** A key identifier written as `kid` in the header, so that verifiers can pick the key from a JWKS. */
  readonly kid?: string
}

/**
 * Signs a JWS Signing Input (RFC 7515 §5.1: `BASE64URL(header) '.' BASE64URL(payload)` as ASCII bytes) and returns
 * the JWS Signature bytes of the algorithm: for ES256 the 64-byte `R || S` of RFC 7518 §3.4, not DER.
 */
export type JwsSigner = (signingInput: Uint8Array) => Uint8Array | Promise<Uint8Array>

// Claims the generator sets itself; a validator's request.claims cannot replace them.
const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope'])
const encoder = new TextEncoder()

/**
 * A generator of JWT access tokens (RFC 9068): header `typ: at+jwt`, claims `iss`, `sub` (the user, or the client
 * for `client_credentials`), `aud`, `client_id`, `scope`, `iat`, `exp` and `jti`, plus the custom claims a validator
 * put on `request.claims` (which may add claims but not replace those above, except `aud` when no `audience` is set).
 *
 * @param privateKey - a `CryptoKey`, a private JWK, a Node `KeyObject`, a PKCS#8 PEM string, or a {@link JwsSigner}
 *   that signs with the key of `alg` (its first failure is the first token's)
 * @see {@link https://www.rfc-editor.org/rfc/rfc9068#section-2.2 | RFC 9068 §2.2}
 * @throws TypeError when the issuer is empty, the algorithm unsupported, or a `CryptoKey` not a private key of `alg`
 * @example
 * ```ts
 * const server = new BackendApplicationServer(validator, {
 *   tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg: 'ES256' }),
 * })
 * ```
 */
export function signedTokenGenerator(privateKey: KeyInput | string | JwsSigner, options: SignedTokenOptions): TokenGenerator {
  if (typeof options.issuer !== 'string' || options.issuer === '') {
    throw new TypeError('signedTokenGenerator needs an issuer')
  }
  if (!['RS256', 'ES256', 'EdDSA'].includes(options.alg)) {
    throw new TypeError(`signedTokenGenerator does not support alg ${String(options.alg)}: use RS256, ES256 or EdDSA`)
  }
  const { audience } = options
  if (audience !== undefined && typeof audience !== 'function' && (audience.length === 0 || (typeof audience !== 'string' && audience.some((a) => a === '')))) {
    throw new TypeError('signedTokenGenerator audience must not be empty (RFC 9068 section 2.2 requires aud)')
  }
  const header = options.kid === undefined ? { alg: options.alg, typ: 'at+jwt' } : { alg: options.alg, typ: 'at+jwt', kid: options.kid }
  const claimsOf = (context: TokenGenerationContext) => {
    const audience = resolveAudience(options, context)
    const custom = Object.entries(context.request.claims).filter(([name]) => !REGISTERED.has(name))
    // The registered claims last: a validator's claims cannot replace them. Object.assign rather than a spread followed
    // by properties, which V8 builds on a slow path (bench case cc-jwt).
    return Object.assign(Object.fromEntries(custom), {
      jti: generateTimeOrderedToken(),
      client_id: context.client.clientId,
      scope: scopeToString(context.scopes),
      iss: options.issuer,
      sub: context.user?.userId ?? context.client.clientId,
      aud: typeof audience === 'string' ? audience : [...audience],
      iat: context.issuedAt,
      exp: context.issuedAt + context.expiresIn,
    })
  }

  let signer: JwsSigner | Promise<JwsSigner> | undefined
  if (typeof privateKey === 'function') signer = privateKey
  else if (isCryptoKey(privateKey)) signer = webCryptoSigner(privateKey, options.alg)
  else if (typeof privateKey === 'string' || isJwk(privateKey)) {
    const imported = (typeof privateKey === 'string' ? importPKCS8(privateKey, options.alg) : importJWK(privateKey, options.alg)).then((key) => {
      if (!isCryptoKey(key)) throw new TypeError('The imported key is not a CryptoKey')
      return webCryptoSigner(key, options.alg)
    })
    imported.catch(() => {}) // reported when the first token is signed, not as an unhandled rejection
    signer = imported
  }
  if (signer === undefined) {
    // A Node KeyObject or another input jose knows: signed through SignJWT.
    const key = privateKey as KeyInput
    return async (context) => new SignJWT(claimsOf(context)).setProtectedHeader(header).sign(key)
  }

  const encodedHeader = base64url.encode(JSON.stringify(header))
  const sign = signer
  return async (context) => {
    // RFC 7515 §7.1: BASE64URL(UTF8(header)) '.' BASE64URL(payload) '.' BASE64URL(signature).
    const signingInput = `${encodedHeader}.${base64url.encode(JSON.stringify(claimsOf(context)))}`
    const signature = await (await sign)(encoder.encode(signingInput))
    return `${signingInput}.${base64url.encode(signature)}`
  }
}

/** The Web Crypto algorithm of each JWS `alg`, and the key algorithm it needs (RFC 7518 §3.3, §3.4; RFC 8037 §3.1). */
const WEB_CRYPTO: Readonly<Record<SigningAlgorithm, { sign: AlgorithmIdentifier | EcdsaParams; key: (key: KeyAlgorithm) => boolean }>> = {
  RS256: { sign: { name: 'RSASSA-PKCS1-v1_5' }, key: (key) => key.name === 'RSASSA-PKCS1-v1_5' && (key as RsaHashedKeyAlgorithm).hash.name === 'SHA-256' },
  ES256: { sign: { name: 'ECDSA', hash: 'SHA-256' }, key: (key) => key.name === 'ECDSA' && (key as EcKeyAlgorithm).namedCurve === 'P-256' },
  EdDSA: { sign: { name: 'Ed25519' }, key: (key) => key.name === 'Ed25519' },
}

/** Signs with a private `CryptoKey` through `crypto.subtle.sign` (ECDSA answers in the raw `R || S` form JWS uses). */
function webCryptoSigner(key: CryptoKey, alg: SigningAlgorithm): JwsSigner {
  const algorithm = WEB_CRYPTO[alg]
  if (key.type !== 'private' || !key.usages.includes('sign') || !algorithm.key(key.algorithm)) {
    throw new TypeError(`The key is not a private signing key for ${alg}`)
  }
  // The input is always this module's own TextEncoder output, backed by a plain ArrayBuffer.
  return async (signingInput) => new Uint8Array(await crypto.subtle.sign(algorithm.sign, key, signingInput as Uint8Array<ArrayBuffer>))
}

function isCryptoKey(key: unknown): key is CryptoKey {
  return typeof CryptoKey !== 'undefined' && key instanceof CryptoKey
}

function isJwk(key: unknown): key is JWK {
  return typeof key === 'object' && key !== null && !isCryptoKey(key) && typeof (key as { kty?: unknown }).kty === 'string' && !(key instanceof Uint8Array)
}

function resolveAudience(options: SignedTokenOptions, context: TokenGenerationContext): string | readonly string[] {
  // RFC 8707 §2: a token requested for resources is audience-restricted to them.
  if (context.resources !== undefined && context.resources.length > 0) return context.resources
  const { audience } = options
  if (typeof audience === 'function') return audience(context)
  if (audience !== undefined) return audience
  const claimed = context.request.claims.aud
  // RFC 9068 §2.2 requires aud: an empty value falls back to the issuer rather than producing an unusable token.
  if ((typeof claimed === 'string' && claimed !== '') || (Array.isArray(claimed) && claimed.length > 0 && claimed.every((a) => typeof a === 'string' && a !== ''))) {
    return claimed as string | string[]
  }
  return options.issuer
}
