/**
 * The client credentials grant (RFC 6749 §4.4).
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type RequestValidator } from '../validator.js'
import { GrantTypeBase, type ValidatedTokenRequest } from './base.js'

/** Options of {@link ClientCredentialsGrant}. */
export interface ClientCredentialsGrantOptions {
  /**
   * Issue a refresh token too. Default `false`: RFC 6749 §4.4.3 says a refresh token SHOULD NOT be included, since
   * the client can always ask again with its credentials.
   */
  readonly refreshToken?: boolean
}

/**
 * The client credentials grant: a confidential client obtains a token for itself. The client must authenticate;
 * public clients cannot use this grant.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.4 | RFC 6749 §4.4}
 */
export class ClientCredentialsGrant extends GrantTypeBase {
  readonly grantType = 'client_credentials'
  /** RFC 6749 §4.4: only confidential clients, which authenticate. */
  readonly allowsPublicClients = false
  protected readonly parameters = ['scope'] as const
  private readonly refreshToken: boolean

  constructor(requestValidator: RequestValidator, options: ClientCredentialsGrantOptions = {}) {
    super(requestValidator)
    this.refreshToken = options.refreshToken ?? false
  }

  /**
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2 | RFC 6749 §4.4.2}
   * @throws {@link InvalidClientError} when the client does not authenticate
   * @throws {@link UnauthorizedClientError} when the client may not use this grant
   * @throws {@link InvalidScopeError} when the scope is malformed or not allowed
   */
  async validateTokenRequest(request: OAuth2Request): Promise<ValidatedTokenRequest> {
    this.rejectRepeatedParameters(request)
    // RFC 6749 §4.4.2: the client MUST authenticate.
    const client = await this.authenticateClient(request)
    await this.checkGrantType(client, request)
    const { scopes, requestedScopes } = await this.resolveScopes(client, request)
    const resources = await this.resolveResources(client, request)
    return { client, user: undefined, scopes, refreshTokenScopes: scopes, grantType: this.grantType, requestedScopes, resources, refreshTokenResources: resources }
  }

  /** Validates the request and issues an access token (and a refresh token only when configured, §4.4.3). */
  async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
    // Awaited rather than returned: an async function resolved with a promise waits three turns for it, not one.
    return await this.issueToken(request, bearerToken, await this.validateTokenRequest(request), this.refreshToken)
  }
}
