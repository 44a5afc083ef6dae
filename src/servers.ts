/**
 * Pre-configured servers, as oauthlib's: each wires the endpoints and grants of one kind of deployment.
 *
 * @module
 */
import { type ErrorHook } from './endpoints/base.js'
import { TokenEndpoint } from './endpoints/token.js'
import { type TokenGrantType } from './grants/base.js'
import { ClientCredentialsGrant } from './grants/client-credentials.js'
import { PasswordGrant } from './grants/password.js'
import { RefreshTokenGrant } from './grants/refresh-token.js'
import { type RequestBody, type RequestHeaders } from './core/request.js'
import { type OAuth2Response } from './core/response.js'
import { BearerToken } from './tokens/bearer-token.js'
import { type ExpiresIn } from './tokens/expiry.js'
import { type TokenGenerator } from './tokens/generator.js'
import { type RequestValidator } from './validator.js'

/** Options of every pre-configured server (oauthlib's `token_expires_in`, `token_generator`, …). */
export interface ServerOptions {
  /** Access token lifetime in seconds, or a policy; default `DEFAULT_EXPIRES_IN` by grant type. */
  readonly tokenExpiresIn?: ExpiresIn | undefined
  /** Makes access tokens; default `randomTokenGenerator`. Use `signedTokenGenerator(...)` for JWTs. */
  readonly tokenGenerator?: TokenGenerator | undefined
  /** Makes refresh tokens; default `randomTokenGenerator`. */
  readonly refreshTokenGenerator?: TokenGenerator | undefined
  /** Accept non-`https:` request URIs at the token endpoint; for loopback development and tests only. */
  readonly allowInsecureTransport?: boolean | undefined
  /** Receives unexpected errors (5xx); default `console.error`. */
  readonly onError?: ErrorHook | undefined
}

/** Options of {@link BackendApplicationServer}. */
export interface BackendApplicationServerOptions extends ServerOptions {
  /** Issue refresh tokens with client credentials tokens. Default `false` (RFC 6749 §4.4.3). */
  readonly refreshTokenForClientCredentials?: boolean | undefined
}

/** The token endpoint of a pre-configured server, wired from its options and grants. */
abstract class TokenServer {
  /** The token endpoint, for use on its own. */
  readonly tokenEndpoint: TokenEndpoint

  protected constructor(requestValidator: RequestValidator, options: ServerOptions, grantTypes: readonly TokenGrantType[]) {
    this.tokenEndpoint = new TokenEndpoint({
      grantTypes,
      bearerToken: new BearerToken(requestValidator, options.tokenGenerator, options.tokenExpiresIn, options.refreshTokenGenerator),
      allowInsecureTransport: options.allowInsecureTransport,
      onError: options.onError,
    })
  }

  /**
   * Handles a token request; see {@link TokenEndpoint.createTokenResponse}. Never rejects.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5 | RFC 6749 §5}
   */
  createTokenResponse(
    uri: string,
    httpMethod?: string,
    body?: RequestBody,
    headers?: RequestHeaders,
    credentials?: Readonly<Record<string, unknown>>,
  ): Promise<OAuth2Response> {
    return this.tokenEndpoint.createTokenResponse(uri, httpMethod, body, headers, credentials)
  }
}

/**
 * A server for machine-to-machine clients: the client credentials grant (RFC 6749 §4.4).
 *
 * @example
 * ```ts
 * const server = new BackendApplicationServer(validator, { tokenExpiresIn: 3600 })
 * const { status, headers, body } = await server.createTokenResponse(uri, 'POST', form, requestHeaders)
 * ```
 */
export class BackendApplicationServer extends TokenServer {
  constructor(requestValidator: RequestValidator, options: BackendApplicationServerOptions = {}) {
    super(requestValidator, options, [
      new ClientCredentialsGrant(requestValidator, { refreshToken: options.refreshTokenForClientCredentials ?? false }),
    ])
  }
}

/**
 * A server for legacy clients that hold the user's password: the password grant (RFC 6749 §4.3) and the refresh
 * token grant (§6). RFC 9700 §2.4 says the password grant MUST NOT be used; use this to migrate old clients.
 */
export class LegacyApplicationServer extends TokenServer {
  constructor(requestValidator: RequestValidator, options: ServerOptions = {}) {
    super(requestValidator, options, [new PasswordGrant(requestValidator), new RefreshTokenGrant(requestValidator)])
  }
}
