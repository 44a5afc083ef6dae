/**
 * The shapes every layer shares: clients, users, codes, tokens and the context a token is issued in. Types only, so
 * that the core, the stores, the adapters and the ready server may all import them without importing each other.
 *
 * @module
 */

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
 * How and when the user authenticated for an authorization (OpenID Connect Core §2): written into ID tokens as
 * `auth_time`, `acr` and `amr`, and kept with the code and the refresh tokens of the grant, so that an ID token issued
 * at a refresh names the original sign-in (§12.2).
 */
export interface Authentication {
  /** When the user signed in, in seconds since the epoch (`auth_time`), not when the code was issued. */
  readonly authTime: number
  /** The Authentication Context Class Reference satisfied (`acr`), when the application knows one. */
  readonly acr?: string | undefined
  /** The methods used (`amr`, e.g. `["pwd"]`, RFC 8176), when known. */
  readonly amr?: readonly string[] | undefined
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
  /** Expiry in seconds since the epoch; when given, the grant refuses the code after it. */
  readonly expiresAt?: number | undefined
  /** The resources (RFC 8707) of the authorization request; a token request may only narrow them. */
  readonly resources?: readonly string[] | undefined
  /** The `nonce` of an OpenID Connect authorization request, echoed in the ID token (OpenID Connect Core §3.1.2.1). */
  readonly nonce?: string | undefined
  /** How and when the user authenticated, when the application said (OpenID Connect Core §2). */
  readonly authentication?: Authentication | undefined
}

/** A refresh token as the application stored it when it was issued. */
export interface RefreshTokenRecord<U extends User = User> {
  /** The client the refresh token was issued to (RFC 6749 §6: refresh tokens are bound to their client). */
  readonly clientId: string
  /** The user the refresh token acts for, if any. */
  readonly user?: U | undefined
  /** The scopes granted with the refresh token; a refresh may only narrow them (RFC 6749 §6). */
  readonly scopes: readonly string[]
  /** Expiry in seconds since the epoch; when given, the grant refuses the refresh token after it. */
  readonly expiresAt?: number | undefined
  /** The resources (RFC 8707) the refresh token was granted for; a refresh may only narrow them. */
  readonly resources?: readonly string[] | undefined
  /** The sign-in of the grant, kept from its code, for the ID token of a refresh (OpenID Connect Core §12.2). */
  readonly authentication?: Authentication | undefined
}

/** An authorization code being issued, as passed to `RequestValidator.saveAuthorizationCode`. */
export interface IssuedAuthorizationCode<U extends User = User> extends AuthorizationCode<U> {
  /** When the code expires, in seconds since the epoch. Codes live minutes at most (RFC 6749 §4.1.2). */
  readonly expiresAt: number
}

/**
 * An access or refresh token as the application stored it, answered by `RequestValidator.validateBearerToken`
 * and `RequestValidator.introspectToken`.
 */
export interface StoredToken<U extends User = User> {
  /** Which kind of token this is. */
  readonly tokenType: 'access_token' | 'refresh_token'
  /** The client the token was issued to. */
  readonly clientId: string
  /** The resource owner, absent for `client_credentials` tokens. */
  readonly user?: U | undefined
  /** A human-readable identifier of the resource owner, for introspection's `username` (RFC 7662 §2.2). */
  readonly username?: string | undefined
  /** The scopes of the token. */
  readonly scopes: readonly string[]
  /** Expiry, in seconds since the epoch; a token past it is treated as invalid whatever the validator says. */
  readonly expiresAt?: number | undefined
  /** Issue time, in seconds since the epoch. */
  readonly issuedAt?: number | undefined
  /** The resource servers the token is meant for (`aud`, RFC 8707). */
  readonly audience?: readonly string[] | undefined
}

/**
 * Who and what a token is issued for. Grants build it from the validator's answers and hand it to the token
 * generators and to `RequestValidator.saveBearerToken`.
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
  /**
   * The resources (RFC 8707) the access token is for: its audience. Empty when the request named none. A refresh
   * token issued with it keeps the resources of the grant (`refreshTokenResources`).
   */
  readonly resources?: readonly string[] | undefined
  /** The resources of a refresh token issued with it; they equal `resources` except when a refresh narrowed them. */
  readonly refreshTokenResources?: readonly string[] | undefined
  /**
   * The sign-in of the grant (OpenID Connect Core §2), from its code or refresh token; keep it with a refresh token
   * issued now, so that a later refresh's ID token names it.
   */
  readonly authentication?: Authentication | undefined
  /** The `nonce` of the authorization request; only at the code exchange, for its ID token (§3.1.3.6). */
  readonly nonce?: string | undefined
}

/**
 * A Bearer token response (RFC 6749 §5.1), as built by `BearerToken` and passed to
 * `RequestValidator.saveBearerToken`.
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
