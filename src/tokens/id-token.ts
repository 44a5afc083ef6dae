/**
 * ID tokens (OpenID Connect Core §2): the signed statement of who signed in, for which client, when and how, issued
 * with the tokens of an OpenID Connect grant (the code exchange §3.1.3.3, a refresh §12.2).
 *
 * @module
 */
import { base64url, type KeyInput } from 'jose'
import { checkSubject } from '../core/claims.js'
import { type OAuth2Request } from '../core/request.js'
import { type RequestValidator } from '../validator.js'
import { type TokenContext } from '../types.js'
import { compactSigner, SIGNING_ALGORITHMS, type JwsSigner, type SigningAlgorithm } from './jws.js'

/** The key that signs the next ID token, and its algorithm (which `at_hash` depends on). */
export interface IdTokenKey {
  readonly alg: SigningAlgorithm
  /** Signs the claims as a JWS in compact serialization. */
  sign(claims: Readonly<Record<string, unknown>>): Promise<string>
}

/**
 * Signs ID tokens: the issuer they name, the algorithms it may sign with (discovery's
 * `id_token_signing_alg_values_supported`), and the key of the moment. Make one with {@link idTokenSigner}, or
 * implement it to sign with keys that rotate (the ready server does).
 */
export interface IdTokenSigner {
  /** The issuer identifier, written as `iss`; it must be the issuer of the metadata (OpenID Connect Discovery §3). */
  readonly issuer: string
  /** The algorithms of the keys it signs with. */
  readonly algorithms: readonly SigningAlgorithm[]
  /** The key that signs now. */
  current(): IdTokenKey
}

/** Options of {@link idTokenSigner}. */
export interface IdTokenSignerOptions {
  /** The issuer identifier, written as `iss`. */
  readonly issuer: string
  /** The signature algorithm; it must fit the key. `RS256`, `ES256` or `EdDSA`. */
  readonly alg: SigningAlgorithm
  /** The key identifier, written as `kid`, so that relying parties pick the key from the JWKS. */
  readonly kid?: string | undefined
}

/**
 * An {@link IdTokenSigner} of one key: a `CryptoKey`, a private JWK, a Node `KeyObject`, a PKCS#8 PEM, or a
 * {@link JwsSigner} that signs with the key of `alg`.
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#IDToken | OpenID Connect Core §2}
 * @throws TypeError when the issuer is empty, the algorithm unsupported, or a `CryptoKey` not a private key of `alg`
 * @example
 * ```ts
 * const { privateKey } = await generateKeyPair('ES256')
 * const server = new WebApplicationServer(validator, {
 *   issuer: 'https://as.example.com',
 *   idTokenSigner: idTokenSigner(privateKey, { issuer: 'https://as.example.com', alg: 'ES256', kid: 'k1' }),
 * })
 * ```
 */
export function idTokenSigner(privateKey: KeyInput | string | JwsSigner, options: IdTokenSignerOptions): IdTokenSigner {
  if (typeof options.issuer !== 'string' || options.issuer === '') throw new TypeError('idTokenSigner needs an issuer')
  if (!SIGNING_ALGORITHMS.includes(options.alg)) throw new TypeError(`idTokenSigner does not support alg ${String(options.alg)}: use RS256, ES256 or EdDSA`)
  const header = options.kid === undefined ? { alg: options.alg, typ: 'JWT' } : { alg: options.alg, typ: 'JWT', kid: options.kid }
  const key: IdTokenKey = { alg: options.alg, sign: compactSigner(privateKey, options.alg, header) }
  return { issuer: options.issuer, algorithms: [options.alg], current: () => key }
}

/** Options of {@link IdTokenIssuer}. */
export interface IdTokenIssuerOptions {
  /** Lifetime of ID tokens in seconds; default 600. A relying party checks an ID token once, when it receives it. */
  readonly expiresIn?: number | undefined
}

/** The default lifetime of ID tokens, in seconds. */
export const DEFAULT_ID_TOKEN_EXPIRES_IN = 600

/**
 * Makes the ID token of an OpenID Connect token response: `iss`, `sub` (from `RequestValidator.getSubject`), `aud`
 * (the client), `exp`, `iat`, `auth_time`, `acr` and `amr` (from the grant's {@link Authentication}), `nonce` (at the
 * code exchange, when the authorization request had one) and `at_hash` (the access token issued with it).
 *
 * `azp` is never needed: `aud` is the client alone (OpenID Connect Core §2).
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#IDToken | OpenID Connect Core §2}
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#CodeIDToken | OpenID Connect Core §3.1.3.6}
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse | OpenID Connect Core §12.2}
 */
export class IdTokenIssuer {
  readonly expiresIn: number

  /** @throws TypeError when `expiresIn` is not a positive whole number of seconds */
  constructor(
    private readonly requestValidator: RequestValidator,
    readonly signer: IdTokenSigner,
    options: IdTokenIssuerOptions = {},
  ) {
    this.expiresIn = options.expiresIn ?? DEFAULT_ID_TOKEN_EXPIRES_IN
    if (!Number.isSafeInteger(this.expiresIn) || this.expiresIn <= 0) throw new TypeError('ID token expiresIn must be a positive whole number of seconds')
    if (typeof signer?.current !== 'function' || typeof signer.issuer !== 'string') throw new TypeError('IdTokenIssuer needs an IdTokenSigner')
  }

  /**
   * The signed ID token for a grant's tokens.
   *
   * @throws Error (answered `server_error`) when the context has no user or `getSubject` answers an invalid `sub`
   */
  async createIdToken(context: TokenContext, accessToken: string, request: OAuth2Request): Promise<string> {
    if (context.user === undefined) throw new Error('An ID token needs the user who signed in')
    const sub = checkSubject(await this.requestValidator.getSubject(context.user, context.client.clientId, request))
    const key = this.signer.current()
    const iat = Math.floor(Date.now() / 1000)
    const { authentication } = context
    const claims: Record<string, unknown> = { iss: this.signer.issuer, sub, aud: context.client.clientId, exp: iat + this.expiresIn, iat }
    if (authentication !== undefined) {
      claims.auth_time = authentication.authTime
      if (authentication.acr !== undefined) claims.acr = authentication.acr
      if (authentication.amr !== undefined && authentication.amr.length > 0) claims.amr = [...authentication.amr]
    }
    // §3.1.3.6 (the code exchange only; §12.2: a refreshed ID token has none).
    if (context.nonce !== undefined) claims.nonce = context.nonce
    claims.at_hash = await accessTokenHash(accessToken, key.alg)
    return key.sign(claims)
  }
}

/**
 * `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the hash of the access token's ASCII octets, base64url,
 * with the hash of the ID token's `alg` (SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519).
 */
export async function accessTokenHash(accessToken: string, alg: SigningAlgorithm): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest(alg === 'EdDSA' ? 'SHA-512' : 'SHA-256', new TextEncoder().encode(accessToken)))
  return base64url.encode(digest.subarray(0, digest.length / 2))
}
