/**
 * The refresh token grant (RFC 6749 §6), with rotation (RFC 9700 §4.14.2).
 *
 * @module
 */
import { InvalidGrantError, InvalidRequestError, InvalidScopeError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { isSubsetOf, parseScope } from '../core/scope.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type IdTokenIssuer } from '../tokens/id-token.js'
import { isExpired, type RequestValidator } from '../validator.js'
import { GrantTypeBase, type ValidatedTokenRequest } from './base.js'

/** A validated refresh: the tokens' context plus the refresh token presented. */
interface ValidatedRefreshRequest extends ValidatedTokenRequest {
  readonly refreshToken: string
}

/**
 * The refresh token grant: the client trades a refresh token for a new access token, with the same or a narrower
 * scope. When the validator's `rotateRefreshToken` says so (the default), the presented refresh token is invalidated
 * atomically and a new one issued with the original scope.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-6 | RFC 6749 §6}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2 | RFC 9700 §4.14.2}
 */
export class RefreshTokenGrant extends GrantTypeBase {
  readonly grantType = 'refresh_token'
  /** Public clients may use this grant, identified by client_id (RFC 6749 §3.2.1). */
  readonly allowsPublicClients = true
  protected readonly parameters = ['refresh_token', 'scope'] as const

  /**
   * @param options - `idTokens`: issues a new ID token at the refresh of a grant that has the `openid` scope, with the
   *   same `sub` and `auth_time` and no `nonce` (OpenID Connect Core §12.2)
   */
  constructor(requestValidator: RequestValidator, options: { readonly idTokens?: IdTokenIssuer | undefined } = {}) {
    super(requestValidator)
    this.idTokens = options.idTokens
  }

  /**
   * @throws {@link InvalidRequestError} when `refresh_token` is missing
   * @throws {@link InvalidClientError} when client authentication fails
   * @throws {@link UnauthorizedClientError} when the client may not use this grant
   * @throws {@link InvalidGrantError} when the refresh token is unknown, expired, revoked or another client's
   * @throws {@link InvalidScopeError} when the scope is malformed or wider than the original grant
   */
  async validateTokenRequest(request: OAuth2Request): Promise<ValidatedRefreshRequest> {
    this.rejectRepeatedParameters(request)
    const client = await this.authenticateClient(request)
    await this.checkGrantType(client, request)
    const refreshToken = request.params.get('refresh_token')
    if (refreshToken === undefined) throw new InvalidRequestError('refresh_token is required')
    const stored = await this.requestValidator.validateRefreshToken(refreshToken, client, request)
    if (stored === undefined || isExpired(stored.expiresAt)) throw new InvalidGrantError('The refresh token is invalid, expired or revoked')
    // RFC 6749 §6: the refresh token must have been issued to the authenticated client.
    if (stored.clientId !== client.clientId) throw new InvalidGrantError('The refresh token was issued to another client')
    const requestedScopes = request.scope === undefined ? undefined : parseScope(request.scope)
    // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
    if (requestedScopes !== undefined && !isSubsetOf(requestedScopes, stored.scopes)) {
      throw new InvalidScopeError('The requested scope exceeds the scope originally granted')
    }
    return {
      client,
      user: stored.user,
      scopes: requestedScopes ?? stored.scopes,
      refreshTokenScopes: stored.scopes,
      resources: await this.resolveResources(client, request, stored.resources ?? []),
      refreshTokenResources: stored.resources ?? [],
      grantType: this.grantType,
      requestedScopes,
      authentication: stored.authentication,
      refreshToken,
    }
  }

  /** Validates the request, rotates the refresh token when the validator asks for rotation, and issues tokens. */
  async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
    const { refreshToken, ...validated } = await this.validateTokenRequest(request)
    const rotate = await this.requestValidator.rotateRefreshToken(request)
    const invalidate = async () => {
      if (!(await this.requestValidator.invalidateRefreshToken(refreshToken, validated.client, request))) {
        throw new InvalidGrantError('The refresh token was already used')
      }
    }
    return await this.issueToken(request, bearerToken, validated, rotate, rotate ? invalidate : undefined)
  }
}
