/**
 * The resource owner password credentials grant (RFC 6749 §4.3).
 *
 * @module
 */
import { InvalidGrantError, InvalidRequestError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type RequestValidator } from '../validator.js'
import { GrantTypeBase, type ValidatedTokenRequest } from './base.js'

/** Options of {@link PasswordGrant}. */
export interface PasswordGrantOptions {
  /** Issue a refresh token with the access token. Default `true` (RFC 6749 §4.3.3). */
  readonly refreshToken?: boolean
}

/**
 * The password grant: the client exchanges the user's username and password for tokens. RFC 9700 §2.4 says it MUST
 * NOT be used; it exists for migrating legacy clients, as oauthlib's `LegacyApplicationServer`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.3 | RFC 6749 §4.3}
 */
export class PasswordGrant extends GrantTypeBase {
  readonly grantType = 'password'
  /** Public clients may use this grant, identified by client_id (RFC 6749 §3.2.1). */
  readonly allowsPublicClients = true
  protected readonly parameters = ['username', 'password', 'scope'] as const
  private readonly refreshToken: boolean

  constructor(requestValidator: RequestValidator, options: PasswordGrantOptions = {}) {
    super(requestValidator)
    this.refreshToken = options.refreshToken ?? true
  }

  /**
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.3.2 | RFC 6749 §4.3.2}
   * @throws {@link InvalidRequestError} when `username` or `password` is missing
   * @throws {@link InvalidClientError} when client authentication fails
   * @throws {@link UnauthorizedClientError} when the client may not use this grant
   * @throws {@link InvalidGrantError} when the username or password is wrong
   * @throws {@link InvalidScopeError} when the scope is malformed or not allowed
   */
  async validateTokenRequest(request: OAuth2Request): Promise<ValidatedTokenRequest> {
    this.rejectRepeatedParameters(request)
    const client = await this.authenticateClient(request)
    await this.checkGrantType(client, request)
    const username = request.params.get('username')
    const password = request.params.get('password')
    if (username === undefined) throw new InvalidRequestError('username is required')
    if (password === undefined) throw new InvalidRequestError('password is required')
    const user = await this.requestValidator.validateUser(username, password, client, request)
    if (user === undefined) throw new InvalidGrantError('The username or password is incorrect')
    const { scopes, requestedScopes } = await this.resolveScopes(client, request)
    const resources = await this.resolveResources(client, request)
    return { client, user, scopes, refreshTokenScopes: scopes, grantType: this.grantType, requestedScopes, resources, refreshTokenResources: resources }
  }

  /** Validates the request and issues an access token and, by default, a refresh token. */
  async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
    return await this.issueToken(request, bearerToken, await this.validateTokenRequest(request), this.refreshToken)
  }
}
