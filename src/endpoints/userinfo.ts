/**
 * The UserInfo endpoint (OpenID Connect Core §5.3): a protected resource, at the authorization server, that answers
 * the claims about the signed-in user an access token with `openid` was granted.
 *
 * @module
 */
import { checkSubject, claimsForScopes, OPENID_SCOPE } from '../core/claims.js'
import { InvalidRequestError, InvalidTokenError, OAuth2Error, ServerError } from '../core/errors.js'
import { normalizeMethod, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { errorResponse, noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { type RequestValidator } from '../validator.js'
import { reportError, type EndpointOptions } from './base.js'
import { assertRealm, checkStoredToken, validateProtectedResource, type AccessTokenCheck, type ResourceProtection } from './resource.js'

/** Options of {@link UserInfoEndpoint}. */
export interface UserInfoEndpointOptions extends EndpointOptions {
  /** Looks up access tokens (`validateBearerToken`), subjects (`getSubject`) and claims (`getUserInfoClaims`). */
  readonly requestValidator: RequestValidator
  /** The `realm` of the `WWW-Authenticate` challenge; left out when absent. */
  readonly realm?: string | undefined
  /**
   * The issuer identifier: a token whose audience (RFC 8707) names resource servers is answered only when it names
   * this one too. Absent, only tokens without an audience are answered.
   */
  readonly issuer?: string | undefined
}

/**
 * The UserInfo endpoint: `GET` or `POST` with a Bearer access token (RFC 6750 §2: the `Authorization` header, or a
 * form body of a `POST`) granted `openid`; answers `sub` and the claims of the token's other scopes (§5.4) as JSON,
 * never cached. An access token looked up through the validator, so a revoked token stops working at once.
 *
 * - no token: 401 with a `Bearer` challenge (RFC 6750 §3.1);
 * - an unknown, expired or revoked token, or one issued without a user (client credentials): 401 `invalid_token`;
 * - a token whose audience (RFC 8707 `resource`) does not name this server's `issuer`: 401 `invalid_token`;
 * - a token without `openid`: 403 `insufficient_scope`.
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#UserInfo | OpenID Connect Core §5.3}
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims | OpenID Connect Core §5.4}
 */
export class UserInfoEndpoint {
  private readonly protection: ResourceProtection
  private readonly check: AccessTokenCheck

  /** @throws TypeError when `realm` is malformed */
  constructor(private readonly options: UserInfoEndpointOptions) {
    assertRealm(options.realm)
    this.protection = { realm: options.realm, onError: options.onError }
    const validator = options.requestValidator
    this.check = async (token, scopes, request) => {
      const stored = checkStoredToken(await validator.validateBearerToken(token, scopes, request), scopes)
      // §5.3: claims about the End-User; a token issued to a client for itself has none to answer.
      if (stored.user === undefined) throw new InvalidTokenError('The access token was not issued for a user')
      // RFC 8707 §2, RFC 9700 §4.10.1: a token meant for other resource servers (which receive it, and could replay it
      // here for the user's claims) is not one for this server's UserInfo.
      const audience = stored.audience ?? []
      if (audience.length > 0 && (options.issuer === undefined || !audience.includes(options.issuer))) {
        throw new InvalidTokenError('The access token is meant for another resource server')
      }
      return stored
    }
  }

  /**
   * Answers a UserInfo request. Never rejects.
   *
   * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#UserInfoRequest | OpenID Connect Core §5.3.1}
   * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#UserInfoResponse | OpenID Connect Core §5.3.2}
   */
  async createUserInfoResponse(uri: RequestUri, httpMethod = 'GET', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    const method = normalizeMethod(httpMethod)
    if (method !== 'GET' && method !== 'POST') {
      return errorResponse(new InvalidRequestError('The UserInfo endpoint accepts GET and POST only', { status: 405, headers: { Allow: 'GET, POST' } }))
    }
    const result = await validateProtectedResource(this.protection, this.check, uri, method, body, headers, [OPENID_SCOPE])
    if (!result.valid) return result.response
    const { token, request } = result
    try {
      const validator = this.options.requestValidator
      const user = token.user as NonNullable<typeof token.user>
      const sub = checkSubject(await validator.getSubject(user, token.clientId, request))
      const claims = claimsForScopes(await validator.getUserInfoClaims(user, token.scopes, token.clientId, request), token.scopes)
      // §5.3.2: sub is always there, and it is the ID token's.
      return noStoreJsonResponse(200, { sub, ...claims })
    } catch (caught) {
      const error = caught instanceof OAuth2Error ? caught : new ServerError({ cause: caught })
      if (error.status >= 500) reportError(this.options.onError, caught, request)
      return errorResponse(error)
    }
  }
}
