/**
 * `BearerTokenValidator`, for applications coming from authlib: protect a resource by overriding one lookup.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type StoredToken, type User } from '../types.js'
import {
  assertRealm,
  assertResourceMetadata,
  checkStoredToken,
  validateProtectedResource,
  type AccessTokenCheck,
  type ProtectedResourceResult,
  type ResourceEndpoint,
  type ResourceProtection,
} from './resource.js'
import { type EndpointOptions } from './base.js'

/** Options of {@link BearerTokenValidator}. */
export interface BearerTokenValidatorOptions extends EndpointOptions {
  /** The `realm` of the `WWW-Authenticate` challenge, as authlib's `realm`; left out when absent. */
  readonly realm?: string | undefined
  /** Accept the token in the `access_token` query parameter (RFC 6750 §2.3); default `false`. */
  readonly allowQueryToken?: boolean | undefined
  /** The URL of the resource's metadata document, named in every challenge as `resource_metadata` (RFC 9728 §5.1). */
  readonly resourceMetadata?: string | undefined
}

/**
 * authlib's `BearerTokenValidator` (`authlib.oauth2.rfc6750`): extend it, implement
 * {@link BearerTokenValidator.authenticateToken} to look a token up, and call
 * {@link BearerTokenValidator.validateProtectedResourceRequest}. Finding the token in the request and answering with
 * an RFC 6750 §3 challenge work exactly as in `ResourceEndpoint`, from the same code.
 *
 * To verify JWT access tokens locally, call a `signedTokenVerifier` in `authenticateToken`, or use
 * `ResourceEndpoint` with its `jwt` option.
 *
 * @typeParam U - the application's user type
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2 | RFC 6750 §2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
 * @throws TypeError from the constructor when `realm` has a character a quoted-string would need to escape
 * @example
 * ```ts
 * class MyBearerTokenValidator extends BearerTokenValidator {
 *   async authenticateToken(tokenString: string) { return db.findAccessToken(tokenString) }
 * }
 * const protect = new MyBearerTokenValidator({ realm: 'api' })
 * const result = await protect.validateProtectedResourceRequest(url, 'GET', undefined, headers, ['profile'])
 * ```
 */
export abstract class BearerTokenValidator<U extends User = User> {
  /** The `realm` of the challenge (authlib's `realm`). */
  readonly realm: string | undefined
  private readonly protection: ResourceProtection
  private readonly check: AccessTokenCheck<U>

  constructor(options: BearerTokenValidatorOptions = {}) {
    assertRealm(options.realm)
    assertResourceMetadata(options.resourceMetadata)
    this.realm = options.realm
    this.protection = options
    this.check = async (tokenString, scopes, request) => {
      // Unknown, refresh and expired tokens are refused even when validateToken is overridden.
      const checked = checkStoredToken(await this.authenticateToken(tokenString), [])
      await this.validateToken(checked, scopes, request)
      return checked
    }
  }

  /**
   * Finds the access token with this value (authlib's `authenticate_token`). Return it only if it exists and was not
   * revoked; {@link BearerTokenValidator.validateToken} then checks expiry, type and scopes.
   *
   * @returns the stored token, or `undefined` (`invalid_token`)
   */
  abstract authenticateToken(tokenString: string): Promise<StoredToken<U> | undefined>

  /**
   * Checks a token {@link BearerTokenValidator.authenticateToken} found (authlib's `validate_token`). The default
   * refuses a token that is not an access token or has expired, and one lacking a required scope. Override to add
   * checks (audience, client, IP binding); call `super.validateToken` to keep the scope check. Type and expiry are
   * checked before this hook in any case, as {@link StoredToken.expiresAt} promises.
   *
   * @param scopes - the scopes the resource requires
   * @throws {@link InvalidTokenError} when the token is a refresh token or expired
   * @throws {@link InsufficientScopeError} when the token lacks a scope in `scopes`
   */
  async validateToken(token: StoredToken<U>, scopes: readonly string[], request: OAuth2Request): Promise<void> {
    void request
    checkStoredToken(token, scopes)
  }

  /**
   * Checks a protected resource request exactly as `ResourceEndpoint.validateProtectedResourceRequest` does (one
   * Bearer token, RFC 6750 §2), with {@link BearerTokenValidator.authenticateToken} and
   * {@link BearerTokenValidator.validateToken} as the lookup. Never rejects: an exception from either gives
   * `valid: false` with a 500 `server_error` response, and goes to `onError`.
   *
   * @param scopes - the scopes the resource requires; each an RFC 6749 §3.3 scope token
   * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 | RFC 6750 §3.1}
   */
  validateProtectedResourceRequest(...args: Parameters<ResourceEndpoint['validateProtectedResourceRequest']>): Promise<ProtectedResourceResult<U>> {
    return validateProtectedResource(this.protection, this.check, ...args)
  }
}
