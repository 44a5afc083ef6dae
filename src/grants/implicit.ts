/**
 * The implicit grant (RFC 6749 §4.2): an access token straight from the authorization endpoint.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type ResponseMode } from '../core/response-mode.js'
import { parseScope, sameScopes, scopeToString } from '../core/scope.js'
import { type AuthorizationRequestCredentials, type AuthorizationResponseType } from './response-type.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type Client, type User } from '../types.js'

/**
 * The implicit grant, `response_type=token`, as oauthlib's `MobileApplicationServer` serves it.
 *
 * **Not recommended.** RFC 9700 §2.1.2 says clients SHOULD NOT use it: the token travels in the browser's URL
 * fragment, where history, extensions and referrers can leak it, and it cannot be sender-constrained. Use the
 * authorization code grant with PKCE instead; this grant exists for clients that cannot be changed yet. `Server`
 * leaves it off unless enabled. No refresh token is ever issued (§4.2.2), tokens never travel in a query, and their
 * default lifetime is 15 minutes (`DEFAULT_EXPIRES_IN.implicit`).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.2 | RFC 6749 §4.2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9700#section-2.1.2 | RFC 9700 §2.1.2}
 */
export class ImplicitGrant implements AuthorizationResponseType {
  readonly responseType = 'token'
  readonly grantType = 'implicit'
  readonly defaultResponseMode = 'fragment'
  readonly responseModes: readonly ResponseMode[] = ['fragment', 'form_post']
  readonly authorizationParameters: readonly string[] = []

  /** Nothing beyond the endpoint's common checks: PKCE has no meaning without a token request. */
  async validateAuthorizationRequest(request: OAuth2Request, client: Client): Promise<void> {
    void [request, client]
  }

  /**
   * Issues an access token (never a refresh token, RFC 6749 §4.2.2) and returns the fragment parameters.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2 | RFC 6749 §4.2.2}
   */
  async createAuthorizationResponseParameters(
    credentials: AuthorizationRequestCredentials,
    scopes: readonly string[],
    user: User,
    bearerToken: BearerToken,
  ): Promise<Record<string, string>> {
    const { request } = credentials
    const token = await bearerToken.createToken(request, {
      context: {
        client: credentials.client,
        user,
        scopes,
        refreshTokenScopes: scopes,
        grantType: this.grantType,
        resources: credentials.resources,
      },
      refreshToken: false,
    })
    const requested = request.scope
    const params: Record<string, string> = {
      access_token: token.access_token,
      token_type: token.token_type,
      expires_in: String(token.expires_in),
    }
    // RFC 6749 §4.2.2: scope is required in the response when it differs from the request.
    if (requested === undefined || !sameScopes(parseScope(requested), scopes)) params.scope = scopeToString(scopes)
    return params
  }
}
