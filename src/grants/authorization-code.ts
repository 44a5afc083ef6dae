/**
 * The authorization code grant at the token endpoint (RFC 6749 §4.1.3), with PKCE (RFC 7636).
 *
 * @module
 */
import { InvalidGrantError, InvalidRequestError } from '../core/errors.js'
import { isWellFormedVerifier, verifyCodeChallenge, type CodeChallengeMethod } from '../core/pkce.js'
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type ResponseMode } from '../core/response-mode.js'
import { type AuthorizationRequestCredentials, type AuthorizationResponseType } from './response-type.js'
import { generateTimeOrderedToken } from '../tokens/time-ordered.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type IdTokenIssuer } from '../tokens/id-token.js'
import { OPENID_SCOPE } from '../core/claims.js'
import { isExpired, type RequestValidator } from '../validator.js'
import { type Authentication, type AuthorizationCode, type Client, type User } from '../types.js'
import { GrantTypeBase, type ValidatedTokenRequest } from './base.js'

/** Options of {@link AuthorizationCodeGrant}. */
export interface AuthorizationCodeGrantOptions {
  /** Issue a refresh token with the access token. Default `true` (RFC 6749 §4.1.4). */
  readonly refreshToken?: boolean
  /** Lifetime of an authorization code in seconds. Default 60; RFC 6749 §4.1.2 sets 10 minutes as the maximum. */
  readonly codeExpiresIn?: number
  /**
   * Accept the `plain` PKCE method. Default `false`: RFC 9700 §2.1.1 asks for `S256`, since a `plain` challenge
   * leaked with the authorization request is the verifier itself.
   */
  readonly allowPlainCodeChallenge?: boolean
  /**
   * Issues an ID token at the exchange of a code granted with the `openid` scope (OpenID Connect Core §3.1.3.3).
   * Without it, such a code gets OAuth tokens only.
   */
  readonly idTokens?: IdTokenIssuer | undefined
}

/** The longest `nonce` accepted: a nonce is a random value, and it is stored with the code and signed back. */
export const MAX_NONCE_LENGTH = 512

/** RFC 6749 §4.1.2: a maximum authorization code lifetime of 10 minutes is recommended. */
const MAX_CODE_EXPIRES_IN = 600

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
export class AuthorizationCodeGrant extends GrantTypeBase implements AuthorizationResponseType {
  readonly grantType = 'authorization_code'
  /** Public clients may use this grant, identified by client_id (RFC 6749 §3.2.1). */
  readonly allowsPublicClients = true
  readonly responseType = 'code'
  readonly defaultResponseMode = 'query'
  readonly responseModes: readonly ResponseMode[] = ['query', 'fragment', 'form_post']
  readonly authorizationParameters = ['code_challenge', 'code_challenge_method', 'nonce', 'max_age'] as const
  protected readonly parameters = ['code', 'redirect_uri', 'code_verifier'] as const
  private readonly refreshToken: boolean
  private readonly codeExpiresIn: number
  /** The PKCE methods accepted, for metadata (`code_challenge_methods_supported`). */
  readonly codeChallengeMethods: readonly CodeChallengeMethod[]

  /** @throws TypeError when `codeExpiresIn` is not a whole number of seconds from 1 to 600 */
  constructor(requestValidator: RequestValidator, options: AuthorizationCodeGrantOptions = {}) {
    super(requestValidator)
    this.refreshToken = options.refreshToken ?? true
    this.codeExpiresIn = options.codeExpiresIn ?? 60
    if (!Number.isSafeInteger(this.codeExpiresIn) || this.codeExpiresIn <= 0 || this.codeExpiresIn > MAX_CODE_EXPIRES_IN) {
      throw new TypeError('codeExpiresIn must be a whole number of seconds from 1 to 600 (RFC 6749 section 4.1.2)')
    }
    this.codeChallengeMethods = options.allowPlainCodeChallenge === true ? ['S256', 'plain'] : ['S256']
    this.idTokens = options.idTokens
  }

  /** Whether this grant issues ID tokens (it was given an `idTokens` issuer). */
  get issuesIdTokens(): boolean {
    return this.idTokens !== undefined
  }

  /**
   * Checks the PKCE parameters of an authorization request: a challenge is required when the validator's
   * `isPkceRequired` says so (by default always), must be well formed, and its method must be enabled.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.4.1 | RFC 7636 §4.4.1}
   * @throws {@link InvalidRequestError} for a missing, malformed or unsupported challenge
   */
  async validateAuthorizationRequest(request: OAuth2Request, client: Client): Promise<void> {
    const nonce = request.params.get('nonce')
    // OpenID Connect Core §3.1.2.1: the nonce is echoed in the ID token; a bounded one keeps codes and tokens small.
    if (nonce !== undefined && nonce.length > MAX_NONCE_LENGTH) throw new InvalidRequestError(`nonce must be at most ${MAX_NONCE_LENGTH} characters`)
    const maxAge = request.params.get('max_age')
    if (maxAge !== undefined && !/^\d{1,10}$/.test(maxAge)) throw new InvalidRequestError('max_age must be a whole number of seconds')
    const challenge = request.params.get('code_challenge')
    const method = request.params.get('code_challenge_method')
    if (challenge === undefined) {
      if (method !== undefined) throw new InvalidRequestError('code_challenge_method was sent without code_challenge')
      if (await this.requestValidator.isPkceRequired(client.clientId, client, request)) {
        throw new InvalidRequestError('code_challenge is required (PKCE, RFC 7636)')
      }
      return
    }
    // RFC 7636 §4.3: a challenge without a method is plain.
    const effective = method ?? 'plain'
    if (!this.codeChallengeMethods.some((allowed) => allowed === effective)) {
      throw new InvalidRequestError(`code_challenge_method must be ${this.codeChallengeMethods.join(' or ')}`)
    }
    if (!isWellFormedVerifier(challenge)) {
      throw new InvalidRequestError('code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.2)')
    }
  }

  /**
   * Issues an authorization code: 256 random bits, saved through `saveAuthorizationCode` with the client, user,
   * scopes, redirect URI and PKCE challenge it is bound to, and, for an OpenID Connect request (scope `openid`), its
   * `nonce` and the user's `authentication`.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 | RFC 6749 §4.1.2}
   * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest | OpenID Connect Core §3.1.2.1}
   * @throws TypeError when the request has `max_age` but `authentication` is missing or older than it: the caller
   *   must have the user sign in again (§3.1.2.1), and `auth_time` is then required in the ID token (§2)
   */
  async createAuthorizationResponseParameters(
    credentials: AuthorizationRequestCredentials,
    scopes: readonly string[],
    user: User,
    _bearerToken?: BearerToken,
    authentication?: Authentication,
  ): Promise<Record<string, string>> {
    const { request } = credentials
    const openid = scopes.includes(OPENID_SCOPE)
    const maxAge = request.params.get('max_age')
    if (openid && maxAge !== undefined && (authentication === undefined || Math.floor(Date.now() / 1000) - authentication.authTime > Number(maxAge))) {
      throw new TypeError('createAuthorizationResponse needs the authentication of a sign-in within max_age (OpenID Connect Core section 3.1.2.1)')
    }
    const code = generateTimeOrderedToken()
    const challenge = request.params.get('code_challenge')
    await this.requestValidator.saveAuthorizationCode(
      code,
      {
        clientId: credentials.client.clientId,
        user,
        scopes,
        redirectUri: credentials.redirectUriIncluded ? credentials.redirectUri : undefined,
        codeChallenge: challenge,
        codeChallengeMethod: challenge === undefined ? undefined : ((request.params.get('code_challenge_method') ?? 'plain') as CodeChallengeMethod),
        resources: credentials.resources,
        expiresAt: Math.floor(Date.now() / 1000) + this.codeExpiresIn,
        nonce: openid ? request.params.get('nonce') : undefined,
        authentication,
      },
      request,
    )
    return { code }
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
    const client = await this.authenticateClient(request)
    await this.checkGrantType(client, request)
    const code = request.params.get('code')
    if (code === undefined) throw new InvalidRequestError('code is required')
    const stored = await this.requestValidator.validateCode(client.clientId, code, client, request)
    if (stored === undefined || isExpired(stored.expiresAt)) throw new InvalidGrantError('The authorization code is invalid, expired or already used')
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
      resources: await this.resolveResources(client, request, stored.resources ?? []),
      refreshTokenResources: stored.resources ?? [],
      grantType: this.grantType,
      // The token request has no scope parameter, so the granted scope is always returned (RFC 6749 §5.1).
      requestedScopes: undefined,
      authentication: stored.authentication,
      nonce: stored.nonce,
      code,
    }
  }

  /**
   * Validates the request, consumes the code atomically and issues tokens, the consumption and the new tokens saved
   * in one `RequestValidator.transaction`. A code already consumed, for example by a concurrent request, is refused
   * with `invalid_grant` and no token is issued.
   */
  async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
    const { code, ...validated } = await this.validateTokenRequest(request)
    return await this.issueToken(request, bearerToken, validated, this.refreshToken, async () => {
      if (!(await this.requestValidator.invalidateAuthorizationCode(validated.client.clientId, code, request))) {
        throw new InvalidGrantError('The authorization code was already used')
      }
    })
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
