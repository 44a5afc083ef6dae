/**
 * Signed JWT access tokens (RFC 9068). The token is the JWS Compact Serialization (RFC 7515 §7.1) of a fixed header
 * and the claims, signed by `jws.ts` with any key input: a {@link JwsSigner} of the application's, a `CryptoKey`, a
 * private JWK, a PKCS#8 PEM or a Node `KeyObject`.
 *
 * @module
 */
import { type KeyInput } from 'jose'
import { scopeToString } from '../core/scope.js'
import { generateTimeOrderedToken } from './time-ordered.js'
import { type TokenGenerationContext, type TokenGenerator } from './generator.js'
import { compactSigner, SIGNING_ALGORITHMS, type JwsSigner, type SigningAlgorithm } from './jws.js'

export { type JwsSigner, type SigningAlgorithm } from './jws.js'

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

// Claims the generator sets itself; a validator's request.claims cannot replace them.
const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope'])

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
  if (!SIGNING_ALGORITHMS.includes(options.alg)) {
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

  const sign = compactSigner(privateKey, options.alg, header)
  return (context) => sign(claimsOf(context))
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
