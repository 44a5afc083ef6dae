/**
 * Bearer tokens (RFC 6750): the token response of RFC 6749 §5.1, made from generators and an expiry policy.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { scopeToString } from '../core/scope.js'
import { type RequestValidator } from '../validator.js'
import { type BearerTokenResponse, type TokenContext } from '../types.js'
import { defaultExpiresIn, resolveExpiresIn, type ExpiresIn } from './expiry.js'
import { copyTokenContext, type TokenGenerationContext, type TokenGenerator } from './generator.js'
import { randomTokenGenerator } from './random-token.js'

/** Options of {@link BearerToken.createToken}. */
export interface CreateTokenOptions {
  /** Who and what the token is for. */
  readonly context: TokenContext
  /** Whether to issue a refresh token too. */
  readonly refreshToken: boolean
  /** Whether to pass the token to `RequestValidator.saveBearerToken` before returning it. Default `true`. */
  readonly saveToken?: boolean
  /** Whether to put `scope` in the response; the grant sets it when the granted scope differs from the requested. */
  readonly includeScope?: boolean
}

/**
 * Makes Bearer token responses, as oauthlib's `BearerToken`: an access token from `tokenGenerator`, a refresh token
 * from `refreshTokenGenerator` when the grant issues one, and `expires_in` from the expiry policy.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-4 | RFC 6750 §4}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.1 | RFC 6749 §5.1}
 */
export class BearerToken {
  /**
   * @param requestValidator - receives each token through `saveBearerToken`
   * @param tokenGenerator - makes access tokens; default {@link randomTokenGenerator}
   * @param expiresIn - access token lifetime in seconds, or a policy; default {@link defaultExpiresIn}
   * @param refreshTokenGenerator - makes refresh tokens; default {@link randomTokenGenerator}. A signed access token
   *   generator is not used for refresh tokens unless passed here, since a refresh token is only read by its issuer.
   */
  constructor(
    readonly requestValidator: RequestValidator,
    readonly tokenGenerator: TokenGenerator = randomTokenGenerator,
    readonly expiresIn: ExpiresIn = defaultExpiresIn,
    readonly refreshTokenGenerator: TokenGenerator = randomTokenGenerator,
  ) {}

  /**
   * Creates a token response and, unless `saveToken` is `false`, saves it through the validator.
   *
   * @throws whatever the generators or `saveBearerToken` throw; endpoints turn it into `server_error`
   */
  async createToken(request: OAuth2Request, options: CreateTokenOptions): Promise<BearerTokenResponse> {
    const { context } = options
    // A policy, or a generator, that answers synchronously is not awaited: each await is a turn of the event loop.
    const policy = resolveExpiresIn(this.expiresIn, context.client, context.grantType, request)
    const expiresIn = typeof policy === 'number' ? policy : await policy
    const generation: TokenGenerationContext = copyTokenContext(context, { request, expiresIn, issuedAt: Math.floor(Date.now() / 1000) })
    const accessToken = this.tokenGenerator(generation)
    const token: { -readonly [K in keyof BearerTokenResponse]: BearerTokenResponse[K] } = {
      access_token: typeof accessToken === 'string' ? accessToken : await accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
    }
    if (options.refreshToken) {
      // RFC 6749 §6: the refresh token keeps the scope (and RFC 8707 resources) of the grant, which a refresh may
      // narrow for the access token alone.
      const resources = context.refreshTokenResources ?? context.resources
      const refreshToken = this.refreshTokenGenerator(copyTokenContext(generation, { scopes: context.refreshTokenScopes, resources }))
      token.refresh_token = typeof refreshToken === 'string' ? refreshToken : await refreshToken
    }
    if (options.includeScope === true) token.scope = scopeToString(context.scopes)
    if (options.saveToken ?? true) await this.requestValidator.saveBearerToken(token, context, request)
    return token
  }
}
