/**
 * The `RequestValidator`: the only door between the protocol core and the application's data.
 *
 * @module
 */
import { ValidatorNotImplementedError } from './core/errors.js'
import { type OAuth2Request } from './core/request.js'
import { type ClientMetadata } from './endpoints/client-metadata.js'
import { type RegisteredClient } from './endpoints/registration.js'
import {
  type AuthorizationCode,
  type BearerTokenResponse,
  type Client,
  type IssuedAuthorizationCode,
  type RefreshTokenRecord,
  type StoredToken,
  type TokenContext,
  type User,
} from './types.js'

/**
 * Claims about the user (OpenID Connect Core §5.1) as an application answers them: names to JSON values (`name`,
 * `email`, `email_verified`, `address`, …).
 */
export type UserClaims = Readonly<Record<string, unknown>>

/** Whether a stored expiry (seconds since the epoch) has passed; no expiry means none was set. */
export function isExpired(expiresAt: number | undefined, now = Date.now() / 1000): boolean {
  return expiresAt !== undefined && now >= expiresAt
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
 * A hook may throw an `OAuth2Error`, which is answered as it is (e.g. `TemporarilyUnavailableError` when its database
 * is unreachable); any other exception becomes `server_error` and goes to the `onError` hook.
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
   * Whether the client may obtain a token for these resources (RFC 8707 `resource` parameters, each already checked
   * to be an absolute URI without a fragment). Called only when a request names resources, at the authorization
   * endpoint and for grants without an earlier authorization (password, client credentials).
   *
   * Default: `false` (`invalid_target`): a server accepts no resource until the application says which.
   *
   * Used by: authorization endpoint, password, client credentials.
   * @see {@link https://www.rfc-editor.org/rfc/rfc8707#section-2 | RFC 8707 §2}
   */
  async validateResources(clientId: string, resources: readonly string[], client: C, request: OAuth2Request): Promise<boolean> {
    void [clientId, resources, client, request]
    return false
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
   * Runs the writes of one token request together: consuming a code or rotating a refresh token, then
   * `saveBearerToken`. Resolve to what `work` resolves to; when `work` throws, undo what it wrote and rethrow. A
   * store-backed validator runs it in one database transaction, so that a code is never consumed, nor a refresh
   * token rotated, without the new tokens being saved.
   *
   * Default: runs `work` as it is, with no rollback.
   *
   * Used by: the authorization code and refresh token grants, which consume something before saving. The other grants
   * write only through `saveBearerToken`, which must save a response's tokens together or not at all on its own.
   */
  async transaction<T>(request: OAuth2Request, work: () => Promise<T>): Promise<T> {
    void request
    return work()
  }

  /**
   * Stores a newly issued access token (and refresh token, if the response has one). Store digests of the token
   * values, not the values. Keep `context.resources` as the access token's audience (RFC 8707), so that
   * `introspectToken` and `validateBearerToken` can answer it, and `context.refreshTokenScopes` /
   * `context.refreshTokenResources` with the refresh token. When `context.grantType` is `refresh_token`, the refresh token presented is
   * `request.params.get('refresh_token')`, which lets the application link the new tokens to their family.
   *
   * Used by: every grant.
   */
  async saveBearerToken(token: BearerTokenResponse, context: TokenContext<C, U>, request: OAuth2Request): Promise<void> {
    void [token, context, request]
    throw new ValidatorNotImplementedError('saveBearerToken')
  }

  /**
   * Identifies the client of an authorization request by its `client_id`. Until it answers, nothing about the
   * request is redirected: an unknown client is shown an error, never sent anywhere (RFC 6749 §4.1.2.1).
   *
   * @returns the client, or `undefined` (an error shown to the user, not redirected)
   *
   * Used by: authorization endpoint (code and implicit).
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.1 | RFC 6749 §3.1}
   */
  async validateClientId(clientId: string, request: OAuth2Request): Promise<C | undefined> {
    void [clientId, request]
    throw new ValidatorNotImplementedError('validateClientId')
  }

  /**
   * The redirect URIs registered for the client. oauthkit matches the presented `redirect_uri` against them itself,
   * exactly (RFC 9700 §4.1.3, with the loopback port exception of RFC 8252 §7.3), instead of asking the application
   * to compare as oauthlib's `validate_redirect_uri` does; a client with one registered URI may omit `redirect_uri`.
   *
   * Used by: authorization endpoint (code and implicit).
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2 | RFC 6749 §3.1.2}
   */
  async getRedirectUris(clientId: string, client: C, request: OAuth2Request): Promise<readonly string[]> {
    void [clientId, client, request]
    throw new ValidatorNotImplementedError('getRedirectUris')
  }

  /**
   * Whether the client may use this response type (`code` or `token`).
   *
   * @returns `false` to answer `unauthorized_client`
   *
   * Used by: authorization endpoint (code and implicit).
   */
  async validateResponseType(clientId: string, responseType: string, client: C, request: OAuth2Request): Promise<boolean> {
    void [clientId, responseType, client, request]
    throw new ValidatorNotImplementedError('validateResponseType')
  }

  /**
   * Whether the client must send a PKCE `code_challenge`. RFC 9700 §2.1.1: public clients MUST use PKCE, and it is
   * recommended for confidential clients too.
   *
   * Default: `true` for every client. Override to return `false` for a confidential client that cannot do PKCE.
   *
   * Used by: authorization endpoint (code).
   * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.4.1 | RFC 7636 §4.4.1}
   */
  async isPkceRequired(clientId: string, client: C, request: OAuth2Request): Promise<boolean> {
    void [clientId, client, request]
    return true
  }

  /**
   * Stores an authorization code being issued, with what `validateCode` must later answer. Store a digest of the code
   * value, not the value.
   *
   * Used by: authorization endpoint (code).
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 | RFC 6749 §4.1.2}
   */
  async saveAuthorizationCode(code: string, issued: IssuedAuthorizationCode<U>, request: OAuth2Request): Promise<void> {
    void [code, issued, request]
    throw new ValidatorNotImplementedError('saveAuthorizationCode')
  }

  /**
   * Looks up an access token presented to a protected resource. Return it only if it exists and was not revoked;
   * oauthkit itself checks its expiry and its scopes against `scopes` (answering `insufficient_scope`).
   *
   * @param scopes - the scopes the resource requires, for validators that want them
   * @returns the stored token, or `undefined` (`invalid_token`)
   *
   * Used by: resource endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
   */
  async validateBearerToken(token: string, scopes: readonly string[], request: OAuth2Request): Promise<StoredToken<U> | undefined> {
    void [token, scopes, request]
    throw new ValidatorNotImplementedError('validateBearerToken')
  }

  /**
   * Looks up an access or refresh token by its value, trying the kind named by `tokenTypeHint` first (the hint is
   * advice, not a filter: RFC 7009 §2.1). Return it only if it exists and was not revoked; oauthkit checks expiry
   * and which client it belongs to.
   *
   * @returns the stored token, or `undefined` (`active: false`, or a silent 200 at revocation)
   *
   * Used by: introspection endpoint, revocation endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2.1 | RFC 7662 §2.1}
   */
  async introspectToken(token: string, tokenTypeHint: string | undefined, request: OAuth2Request): Promise<StoredToken<U> | undefined> {
    void [token, tokenTypeHint, request]
    throw new ValidatorNotImplementedError('introspectToken')
  }

  /**
   * Whether `client`, which authenticated at the introspection endpoint, may learn that `token` is active. When it
   * may not, the answer is `{"active": false}`, as for an unknown token, so that no client can probe another's tokens.
   *
   * The default: a client learns about the tokens issued to itself, and nothing else. Override it to let a resource
   * server introspect the access tokens meant for it (`StoreValidator` does, for clients registered with the resources
   * they protect), or for any other policy.
   *
   * Used by: introspection endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-4 | RFC 7662 §4}
   */
  async mayIntrospect(token: StoredToken<U>, client: C, request: OAuth2Request): Promise<boolean> {
    void request
    return token.clientId === client.clientId
  }

  /**
   * Revokes a token that {@link RequestValidator.introspectToken} found and that belongs to `client`. Revoking a
   * refresh token must also revoke the access tokens issued from it (RFC 7009 §2.1). Must be idempotent.
   *
   * Used by: revocation endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.1 | RFC 7009 §2.1}
   */
  async revokeToken(token: string, tokenType: StoredToken['tokenType'], client: C, request: OAuth2Request): Promise<void> {
    void [token, tokenType, client, request]
    throw new ValidatorNotImplementedError('revokeToken')
  }

  /**
   * Whether a client may register itself (RFC 7591 §3), given the request's initial access token (`Authorization:
   * Bearer`), if any. Open registration answers `true` whatever the token; registration by invitation checks it
   * (compare digests in constant time); `false` is answered `invalid_token` (401). Not implemented: registration is
   * refused with `server_error`, so an application that did not decide keeps it closed.
   *
   * Used by: registration endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3 | RFC 7591 §3}
   */
  async authorizeRegistration(initialAccessToken: string | undefined, request: OAuth2Request): Promise<boolean> {
    void [initialAccessToken, request]
    throw new ValidatorNotImplementedError('authorizeRegistration')
  }

  /**
   * Registers a client whose metadata the endpoint has validated (RFC 7591 §2): generate its `client_id` and, unless
   * `token_endpoint_auth_method` is `none`, a secret, store them (the secret as a digest), and return them with the
   * metadata as registered. The server may narrow what was asked (`scope`, say) or refuse it by throwing
   * `InvalidClientMetadataError` or `InvalidRedirectUriError`.
   *
   * Used by: registration endpoint.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1 | RFC 7591 §3.2.1}
   */
  async registerClient(metadata: ClientMetadata, request: OAuth2Request): Promise<RegisteredClient> {
    void [metadata, request]
    throw new ValidatorNotImplementedError('registerClient')
  }

  /**
   * Whether `registrationAccessToken` is the current registration access token of the client `clientId` (RFC 7592 §1),
   * the one its registration or last update answered with. Compare digests in constant time, and take as long for a
   * client that does not exist or has no token (an operator's client, not manageable this way). `false` is answered
   * `invalid_token` (401). Not implemented: every request is refused with `server_error`.
   *
   * Used by: client configuration endpoint, before each of the hooks below.
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2 | RFC 7592 §2}
   */
  async authenticateRegistration(clientId: string, registrationAccessToken: string, request: OAuth2Request): Promise<boolean> {
    void [clientId, registrationAccessToken, request]
    throw new ValidatorNotImplementedError('authenticateRegistration')
  }

  /**
   * The registration of a client whose token {@link RequestValidator.authenticateRegistration} accepted, as it stands:
   * its metadata, and no secret (a stored secret is a digest). Return a `registrationAccessToken` only to rotate it
   * (RFC 7592 §3). `undefined` when the client no longer exists (401).
   *
   * Used by: client configuration endpoint (`GET`).
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.1 | RFC 7592 §2.1}
   */
  async readRegistration(clientId: string, request: OAuth2Request): Promise<RegisteredClient | undefined> {
    void [clientId, request]
    throw new ValidatorNotImplementedError('readRegistration')
  }

  /**
   * Replaces the metadata of a client whose token was accepted with `metadata`, validated as at registration. When the
   * request carried `clientSecret`, it must be the client's current secret (compare in constant time), else throw
   * `InvalidClientMetadataError`; the client never chooses its secret. Issue a secret when the client becomes
   * confidential (and return it), drop it when it becomes public; narrow or refuse as `registerClient` does. The
   * update should rotate the registration access token (return the new one) so that the old one stops working, and
   * must fail when that token changed meanwhile (a concurrent update): return `undefined` (401), as for a client that
   * no longer exists.
   *
   * Used by: client configuration endpoint (`PUT`).
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.2 | RFC 7592 §2.2}
   */
  async updateRegistration(clientId: string, metadata: ClientMetadata, clientSecret: string | undefined, request: OAuth2Request): Promise<RegisteredClient | undefined> {
    void [clientId, metadata, clientSecret, request]
    throw new ValidatorNotImplementedError('updateRegistration')
  }

  /**
   * Removes a client whose token was accepted, with its codes, tokens and grants, and its registration access token.
   *
   * @returns whether it existed (`false` is answered 401)
   *
   * Used by: client configuration endpoint (`DELETE`).
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.3 | RFC 7592 §2.3}
   */
  async deleteRegistration(clientId: string, request: OAuth2Request): Promise<boolean> {
    void [clientId, request]
    throw new ValidatorNotImplementedError('deleteRegistration')
  }

  /**
   * The subject identifier of `user` for the client `clientId`: the `sub` of its ID tokens and UserInfo answers
   * (OpenID Connect Core §2, §8). It must be unique and never reassigned within the issuer, at most 255 ASCII
   * characters; oauthkit refuses to sign anything else (`server_error`). Return the same value at every call for a user
   * and client: a client recognises the user by `sub` (with `iss`).
   *
   * Default: `user.userId`, the same for every client (the `public` subject type, §8). Override it for pairwise
   * identifiers (§8.1).
   *
   * Used by: ID tokens (authorization code, refresh token), UserInfo endpoint.
   * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#SubjectIDTypes | OpenID Connect Core §8}
   */
  async getSubject(user: U, clientId: string, request: OAuth2Request): Promise<string> {
    void [clientId, request]
    return user.userId
  }

  /**
   * The claims the application holds about `user`, for an access token granted `scopes` (OpenID Connect Core §5.1,
   * §5.4). Return what you know (or only what the scopes ask for); oauthkit passes on a standard claim only when its
   * scope was granted (`profile`, `email`, `address`, `phone`), so a claim returned for no granted scope does not
   * leak, and it sets `sub` itself from {@link RequestValidator.getSubject}, ignoring any `sub` here. Claims that
   * belong to no standard scope are passed on as they are: return them only for the scopes that allow them.
   *
   * Not implemented by default: the UserInfo endpoint answers `server_error` until the application says what it knows.
   *
   * Used by: UserInfo endpoint.
   * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims | OpenID Connect Core §5.4}
   */
  async getUserInfoClaims(user: U, scopes: readonly string[], clientId: string, request: OAuth2Request): Promise<UserClaims> {
    void [user, scopes, clientId, request]
    throw new ValidatorNotImplementedError('getUserInfoClaims')
  }
}
