/**
 * The `RequestValidator`: the only door between the protocol core and the application's data.
 *
 * @module
 */
import { ValidatorNotImplementedError } from './core/errors.js'
import { type OAuth2Request } from './core/request.js'

/** A client as the application knows it. Extend it with whatever the application keeps about a client. */
export interface Client {
  /** The client identifier (RFC 6749 §2.2). */
  readonly clientId: string
}

/** A resource owner as the application knows it. Extend it with whatever the application keeps about a user. */
export interface User {
  /** A stable identifier of the user, used as `sub` in signed tokens. */
  readonly userId: string
}

/**
 * An authorization code as the application stored it when it was issued.
 *
 * @typeParam U - the application's user type
 */
export interface AuthorizationCode<U extends User = User> {
  /** The client the code was issued to; the grant refuses the code from any other client (RFC 6749 §4.1.3). */
  readonly clientId: string
  /** The user who authorized the client. */
  readonly user: U
  /** The scopes the user granted. */
  readonly scopes: readonly string[]
  /**
   * The `redirect_uri` of the authorization request, when it carried one. The token request must then carry the
   * identical value (RFC 6749 §4.1.3).
   */
  readonly redirectUri?: string | undefined
  /** The PKCE `code_challenge` of the authorization request, when it carried one (RFC 7636 §4.4). */
  readonly codeChallenge?: string | undefined
  /** The PKCE `code_challenge_method`, `S256` or `plain`; `plain` when a challenge was sent without one. */
  readonly codeChallengeMethod?: 'S256' | 'plain' | undefined
}

/** A refresh token as the application stored it when it was issued. */
export interface RefreshTokenRecord<U extends User = User> {
  /** The client the refresh token was issued to (RFC 6749 §6: refresh tokens are bound to their client). */
  readonly clientId: string
  /** The user the refresh token acts for, if any. */
  readonly user?: U | undefined
  /** The scopes granted with the refresh token; a refresh may only narrow them (RFC 6749 §6). */
  readonly scopes: readonly string[]
}

/**
 * Who and what a token is issued for. Grants build it from the validator's answers and hand it to the token
 * generators and to {@link RequestValidator.saveBearerToken}.
 */
export interface TokenContext<C extends Client = Client, U extends User = User> {
  /** The authenticated (or, for public clients, identified) client. */
  readonly client: C
  /** The resource owner, absent for `client_credentials`. */
  readonly user: U | undefined
  /** The scopes of the access token. */
  readonly scopes: readonly string[]
  /**
   * The scopes of a refresh token issued with it. They equal `scopes` except when a refresh narrowed the access
   * token's scope: a rotated refresh token keeps the scope of the one it replaces (RFC 6749 §6).
   */
  readonly refreshTokenScopes: readonly string[]
  /** The grant type of the token request, e.g. `client_credentials`. */
  readonly grantType: string
}

/**
 * A Bearer token response (RFC 6749 §5.1), as built by `BearerToken` and passed to
 * {@link RequestValidator.saveBearerToken}.
 */
export interface BearerTokenResponse {
  readonly access_token: string
  readonly token_type: 'Bearer'
  /** Lifetime of the access token in seconds. */
  readonly expires_in: number
  readonly refresh_token?: string
  /** Present when the granted scope differs from the requested one. */
  readonly scope?: string
}

/**
 * The decisions that need the application's data. Extend this class and override the hooks the grants you enable
 * call; each hook's documentation says when it is called, which grants use it and what it must return.
 *
 * Unlike oauthlib's validator, hooks answer with return values (`authenticateClient` resolves to the client) instead
 * of writing onto the request, so a hook cannot forget to set what the grant then trusts. A hook left unimplemented
 * throws {@link ValidatorNotImplementedError}: the endpoint answers `server_error` and reports it through `onError`,
 * so a missing hook denies, never allows.
 *
 * Hooks may throw `TemporarilyUnavailableError` when their database is unreachable; any other exception becomes
 * `server_error`.
 *
 * @typeParam C - the application's client type
 * @typeParam U - the application's user type
 */
export class RequestValidator<C extends Client = Client, U extends User = User> {
  /**
   * Whether the client of this request must authenticate. Called when a request carries no client credentials, for
   * grants that public clients may use (authorization code, password, refresh token). Return `false` only for a
   * public client; it is then identified with {@link RequestValidator.authenticateClientId}.
   *
   * Default: `true` (every client must authenticate).
   *
   * Used by: authorization code, password, refresh token.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1 | RFC 6749 §3.2.1}
   */
  async clientAuthenticationRequired(request: OAuth2Request): Promise<boolean> {
    void request
    return true
  }

  /**
   * Authenticates a confidential client with the credentials in `request.clientCredentials` (HTTP Basic or
   * `client_secret_post`, already decoded). Compare the secret in constant time (`timingSafeEqual`) and never
   * against a plain stored secret: store a digest.
   *
   * @returns the client, or `undefined` when the client is unknown or the secret is wrong (`invalid_client`)
   *
   * Used by: every grant.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1 | RFC 6749 §2.3.1}
   */
  async authenticateClient(request: OAuth2Request): Promise<C | undefined> {
    void request
    throw new ValidatorNotImplementedError('authenticateClient')
  }

  /**
   * Identifies a public client that sent only its `client_id`. Return the client only if it is really a public
   * client (one issued no secret): a confidential client must never be let in without its secret.
   *
   * @returns the client, or `undefined` (`invalid_client`)
   *
   * Used by: authorization code, password, refresh token, when {@link RequestValidator.clientAuthenticationRequired}
   * returned `false`.
   */
  async authenticateClientId(clientId: string, request: OAuth2Request): Promise<C | undefined> {
    void clientId
    void request
    throw new ValidatorNotImplementedError('authenticateClientId')
  }

  /**
   * Whether the client may use this grant type.
   *
   * @returns `false` to answer `unauthorized_client`
   *
   * Used by: every grant.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
   */
  async validateGrantType(clientId: string, grantType: string, client: C, request: OAuth2Request): Promise<boolean> {
    void [clientId, grantType, client, request]
    throw new ValidatorNotImplementedError('validateGrantType')
  }

  /**
   * The scopes to grant when the request names none (RFC 6749 §3.3). Return an empty list to require a `scope`.
   *
   * Used by: password, client credentials.
   */
  async getDefaultScopes(clientId: string, request: OAuth2Request): Promise<readonly string[]> {
    void [clientId, request]
    throw new ValidatorNotImplementedError('getDefaultScopes')
  }

  /**
   * Whether the client may obtain these scopes.
   *
   * @returns `false` to answer `invalid_scope`
   *
   * Used by: password, client credentials.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.3 | RFC 6749 §3.3}
   */
  async validateScopes(clientId: string, scopes: readonly string[], client: C, request: OAuth2Request): Promise<boolean> {
    void [clientId, scopes, client, request]
    throw new ValidatorNotImplementedError('validateScopes')
  }

  /**
   * Looks up an authorization code. Return it only if it exists, has not expired and has not been used; the grant
   * itself checks that it belongs to this client, its redirect URI and its PKCE challenge. Look the code up by a
   * digest of its value, so a leaked database holds no usable code.
   *
   * @returns the stored code, or `undefined` (`invalid_grant`)
   *
   * Used by: authorization code.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3 | RFC 6749 §4.1.3}
   */
  async validateCode(clientId: string, code: string, client: C, request: OAuth2Request): Promise<AuthorizationCode<U> | undefined> {
    void [clientId, code, client, request]
    throw new ValidatorNotImplementedError('validateCode')
  }

  /**
   * Consumes an authorization code, atomically: of concurrent calls with the same code exactly one may resolve to
   * `true` (e.g. `UPDATE … SET used = true WHERE code_hash = $1 AND NOT used`). Called after every check passed and
   * before tokens are issued. When the code was already used, resolve to `false`; the request is refused with
   * `invalid_grant`, and the application should revoke the tokens issued from that code (RFC 6749 §4.1.2).
   *
   * Used by: authorization code.
   */
  async invalidateAuthorizationCode(clientId: string, code: string, request: OAuth2Request): Promise<boolean> {
    void [clientId, code, request]
    throw new ValidatorNotImplementedError('invalidateAuthorizationCode')
  }

  /**
   * Checks a resource owner's username and password. Compare a slow password hash (scrypt, argon2id), never the
   * password itself.
   *
   * @returns the user, or `undefined` (`invalid_grant`)
   *
   * Used by: password.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.3.2 | RFC 6749 §4.3.2}
   */
  async validateUser(username: string, password: string, client: C, request: OAuth2Request): Promise<U | undefined> {
    void [username, password, client, request]
    throw new ValidatorNotImplementedError('validateUser')
  }

  /**
   * Looks up a refresh token. Return it only if it exists, has not expired, has not been revoked and has not been
   * rotated away; the grant itself checks that it belongs to this client and that the scope only narrows.
   *
   * @returns the stored refresh token, or `undefined` (`invalid_grant`)
   *
   * Used by: refresh token.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-6 | RFC 6749 §6}
   */
  async validateRefreshToken(refreshToken: string, client: C, request: OAuth2Request): Promise<RefreshTokenRecord<U> | undefined> {
    void [refreshToken, client, request]
    throw new ValidatorNotImplementedError('validateRefreshToken')
  }

  /**
   * Whether a refresh issues a new refresh token and invalidates the one presented. RFC 9700 §4.14.2 asks for
   * rotation (or sender-constrained tokens) for public clients.
   *
   * Default: `true`.
   *
   * Used by: refresh token.
   */
  async rotateRefreshToken(request: OAuth2Request): Promise<boolean> {
    void request
    return true
  }

  /**
   * Invalidates a refresh token that is being rotated, atomically: of concurrent calls with the same token exactly
   * one may resolve to `true`. When it was already rotated, resolve to `false`; the request is refused with
   * `invalid_grant`, and the application should revoke the whole token family (RFC 9700 §4.14.2).
   *
   * Used by: refresh token, when {@link RequestValidator.rotateRefreshToken} returned `true`.
   */
  async invalidateRefreshToken(refreshToken: string, client: C, request: OAuth2Request): Promise<boolean> {
    void [refreshToken, client, request]
    throw new ValidatorNotImplementedError('invalidateRefreshToken')
  }

  /**
   * Stores a newly issued access token (and refresh token, if the response has one). Store digests of the token
   * values, not the values. When `context.grantType` is `refresh_token`, the refresh token presented is
   * `request.params.get('refresh_token')`, which lets the application link the new tokens to their family.
   *
   * Used by: every grant.
   */
  async saveBearerToken(token: BearerTokenResponse, context: TokenContext<C, U>, request: OAuth2Request): Promise<void> {
    void [token, context, request]
    throw new ValidatorNotImplementedError('saveBearerToken')
  }
}
