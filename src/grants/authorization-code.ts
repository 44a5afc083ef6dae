/**
 * The authorization code grant at the token endpoint (RFC 6749 §4.1.3), with PKCE (RFC 7636).
 *
 * @module
 */
import { InvalidGrantError, InvalidRequestError } from '../core/errors.js'
import { isWellFormedVerifier, verifyCodeChallenge } from '../core/pkce.js'
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type AuthorizationCode, type RequestValidator } from '../validator.js'
import { GrantTypeBase, type ValidatedTokenRequest } from './base.js'

/** Options of {@link AuthorizationCodeGrant}. */
export interface AuthorizationCodeGrantOptions {
  /** Issue a refresh token with the access token. Default `true` (RFC 6749 §4.1.4). */
  readonly refreshToken?: boolean
}

/** A validated code exchange: the tokens' context plus the code to consume. */
interface ValidatedCodeRequest extends ValidatedTokenRequest {
  readonly code: string
}

/**
 * The authorization code grant: the client exchanges a code obtained at the authorization endpoint for tokens.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3 | RFC 6749 §4.1.3}
 * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.6 | RFC 7636 §4.6}
 */
export class AuthorizationCodeGrant extends GrantTypeBase {
  readonly grantType = 'authorization_code'
  protected readonly parameters = ['code', 'redirect_uri', 'code_verifier'] as const
  private readonly refreshToken: boolean

  constructor(requestValidator: RequestValidator, options: AuthorizationCodeGrantOptions = {}) {
    super(requestValidator)
    this.refreshToken = options.refreshToken ?? true
  }

  /**
   * Checks the code exchange. The code is not consumed here: `createTokenResponse` consumes it after every check.
   *
   * @throws {@link InvalidRequestError} when `code` is missing, or `code_verifier` is missing or malformed
   * @throws {@link InvalidClientError} when client authentication fails
   * @throws {@link UnauthorizedClientError} when the client may not use this grant
   * @throws {@link InvalidGrantError} when the code is unknown, expired, used or another client's, the redirect URI
   *   differs, or the PKCE verifier does not match
   */
  async validateTokenRequest(request: OAuth2Request): Promise<ValidatedCodeRequest> {
    this.rejectRepeatedParameters(request)
    const client = await this.authenticateClient(request, true)
    await this.checkGrantType(client, request)
    const code = request.params.get('code')
    if (code === undefined) throw new InvalidRequestError('code is required')
    const stored = await this.requestValidator.validateCode(client.clientId, code, client, request)
    if (stored === undefined) throw new InvalidGrantError('The authorization code is invalid, expired or already used')
    // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
    if (stored.clientId !== client.clientId) throw new InvalidGrantError('The authorization code was issued to another client')
    // RFC 6749 §4.1.3: redirect_uri is required and must be identical when the authorization request carried one.
    if (stored.redirectUri !== undefined && request.params.get('redirect_uri') !== stored.redirectUri) {
      throw new InvalidGrantError('redirect_uri does not match the one of the authorization request')
    }
    await this.verifyPkce(stored, request)
    return {
      client,
      user: stored.user,
      scopes: stored.scopes,
      refreshTokenScopes: stored.scopes,
      grantType: this.grantType,
      // The token request has no scope parameter, so the granted scope is always returned (RFC 6749 §5.1).
      requestedScopes: undefined,
      code,
    }
  }

  /**
   * Validates the request, consumes the code atomically and issues tokens. A code already consumed, for example by a
   * concurrent request, is refused with `invalid_grant` and no token is issued.
   */
  async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
    const { code, ...validated } = await this.validateTokenRequest(request)
    if (!(await this.requestValidator.invalidateAuthorizationCode(validated.client.clientId, code, request))) {
      throw new InvalidGrantError('The authorization code was already used')
    }
    return this.issueToken(request, bearerToken, validated, this.refreshToken)
  }

  private async verifyPkce(stored: AuthorizationCode, request: OAuth2Request): Promise<void> {
    const verifier = request.params.get('code_verifier')
    if (stored.codeChallenge === undefined) {
      // RFC 9700 §4.8.2: a code_verifier for a code issued without a challenge is a PKCE downgrade attempt.
      if (verifier !== undefined) throw new InvalidGrantError('code_verifier was sent but the authorization request had no code_challenge')
      return
    }
    if (verifier === undefined) throw new InvalidRequestError('code_verifier is required: the authorization request had a code_challenge')
    if (!isWellFormedVerifier(verifier)) {
      throw new InvalidRequestError('code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)')
    }
    // RFC 7636 §4.3: a challenge sent without a method was plain.
    if (!(await verifyCodeChallenge(verifier, stored.codeChallenge, stored.codeChallengeMethod ?? 'plain'))) {
      throw new InvalidGrantError('code_verifier does not match the code_challenge')
    }
  }
}
