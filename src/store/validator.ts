/**
 * `StoreValidator`: every `RequestValidator` hook implemented over a `Store`, written against the hooks'
 * documentation alone.
 *
 * @module
 */
import { InvalidClientError, InvalidRequestError, TemporarilyUnavailableError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type AuthorizationCode, type BearerTokenResponse, type IssuedAuthorizationCode, type RefreshTokenRecord, type StoredToken, type TokenContext } from '../types.js'
import { type ClientMetadata } from '../endpoints/client-metadata.js'
import { type RegisteredClient } from '../endpoints/registration.js'
import { RequestValidator } from '../validator.js'
import { type ClientIdMetadataDocuments } from './client-id-metadata-documents.js'
import { DocumentClients, trustedClient } from './document-clients.js'
import { schedulePurges } from './purge-schedule.js'
import { isRetry, supersede } from './refresh-retry.js'
import { StoreRegistrations } from './registration.js'
import { tokenHash } from './secrets.js'
import { type ClientRecord, type Store, type TokenRecord } from './store.js'
import { authorizationCode, codeRecord, newGrantId, refreshTokenRecord, storedToken, storeUser } from './validator-records.js'

import { type StoreUser, type StoreValidatorOptions } from './validator-options.js'

export { type StoreClientMetadataDocumentsPolicy } from './document-clients.js'
export { type StoreRegistrationPolicy } from './registration.js'
export { type StoreUser, type StoreValidatorOptions } from './validator-options.js'

const DEFAULT_REFRESH_TOKEN_EXPIRES_IN = 30 * 24 * 3600
const DEFAULT_REFRESH_TOKEN_RETRY_WINDOW = 30

/**
 * A complete `RequestValidator` over a {@link Store}: clients and users from the store, secrets checked in constant
 * time against their hashes, codes and tokens stored only as SHA-256 digests, and the guarantees that need the
 * database:
 *
 * - a code is redeemed atomically, and a replayed code revokes every token issued from it (RFC 6749 §4.1.2);
 * - refresh tokens rotate, and presenting a rotated one revokes its whole family (RFC 9700 §4.14.2);
 * - revoking a refresh token revokes the access tokens of its grant (RFC 7009 §2.1);
 * - each token request's writes happen in one transaction (consumption and new tokens together);
 * - a database that cannot be reached gives `temporarily_unavailable` (503 with `Retry-After`), anything else
 *   `server_error`, both reported through the server's `onError`.
 *
 * @example
 * ```ts
 * const store = await SqliteStore.open('./oauthkit.db')
 * const server = new Server(new StoreValidator(store, { issuer: 'https://as.example.com' }), { issuer: 'https://as.example.com' })
 * ```
 */
export class StoreValidator extends RequestValidator<ClientRecord, StoreUser> {
  private readonly refreshTokenExpiresIn: number
  /** The audience of tokens requested without a resource: the issuer, if one is configured. */
  private readonly defaultAudience: readonly string[]
  /** The grant family of the code or refresh token a token request redeems, found by `validateCode` / `validateRefreshToken`. */
  private readonly families = new WeakMap<OAuth2Request, string>()
  /** What to do when a token request's transaction rolls back (replay revocations that must outlive it). */
  private readonly onRollback = new WeakMap<OAuth2Request, Array<() => Promise<unknown>>>()
  /** The registration hooks (RFC 7591, RFC 7592) under `options.registration`. */
  private readonly registrations: StoreRegistrations

  private readonly documentClients: DocumentClients | undefined

  /** The client ID metadata documents this validator fetches; `undefined` unless `clientMetadataDocuments` is set. */
  get clientIdMetadataDocuments(): ClientIdMetadataDocuments | undefined {
    return this.documentClients?.documents
  }

  /** @throws TypeError when `refreshTokenExpiresIn` or `retryAfter` is not a positive whole number */
  constructor(
    readonly store: Store,
    private readonly options: StoreValidatorOptions = {},
  ) {
    super()
    const documents = options.clientMetadataDocuments
    this.documentClients = documents === undefined ? undefined : new DocumentClients(store, documents, (call) => this.run(call))
    this.refreshTokenExpiresIn = options.refreshTokenExpiresIn ?? DEFAULT_REFRESH_TOKEN_EXPIRES_IN
    this.defaultAudience = Object.freeze(options.issuer === undefined ? [] : [options.issuer])
    this.registrations = new StoreRegistrations(store, options.registration)
    for (const [name, value] of [['refreshTokenExpiresIn', this.refreshTokenExpiresIn], ['retryAfter', options.retryAfter ?? 5]] as const) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`StoreValidator ${name} must be a positive whole number of seconds`)
    }
    const window = options.refreshTokenRetryWindow ?? DEFAULT_REFRESH_TOKEN_RETRY_WINDOW
    if (!Number.isSafeInteger(window) || window < 0) throw new TypeError('StoreValidator refreshTokenRetryWindow must be a whole number of seconds')
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Clients

  override async clientAuthenticationRequired(request: OAuth2Request): Promise<boolean> {
    const clientId = request.clientId
    if (clientId === undefined) return true
    const client = await this.run(() => this.store.clientTable.get(clientId))
    // A client of a metadata document is public: identified by its client_id (authenticateClientId fetches it).
    if (this.documentClients?.isDocumentClient(clientId, client) === true) return false
    return trustedClient(client)?.tokenEndpointAuthMethod !== 'none'
  }

  override async authenticateClient(request: OAuth2Request): Promise<ClientRecord | undefined> {
    const credentials = request.clientCredentials
    if (credentials === undefined) return undefined
    const client = await this.run(() => this.store.clients.authenticate(credentials.clientId, credentials.clientSecret))
    // RFC 7591 §2: the client authenticates with the method it was registered for, and no other: a secret that leaked
    // through one channel (a form body logged by a proxy) does not open the other.
    return client?.tokenEndpointAuthMethod === credentials.method ? client : undefined
  }

  /**
   * A client learns about its own tokens; a client registered with `protectedResources` (a resource server) also about
   * the access tokens whose audience names one of them. Refresh tokens only ever to their own client.
   */
  override async mayIntrospect(token: StoredToken<StoreUser>, client: ClientRecord): Promise<boolean> {
    if (token.clientId === client.clientId) return true
    if (token.tokenType !== 'access_token') return false
    const protectedResources = client.protectedResources ?? []
    return (token.audience ?? []).some((audience) => protectedResources.includes(audience))
  }

  /**
   * A public client, identified by its `client_id`; a client of a metadata document is fetched (or found in the
   * cache), and a document that cannot be used is `invalid_client`, with the reason.
   */
  override async authenticateClientId(clientId: string): Promise<ClientRecord | undefined> {
    const client = await this.run(() => this.store.clientTable.get(clientId))
    if (this.documentClients?.isDocumentClient(clientId, client) === true) return this.documentClients.resolve(clientId, (description) => new InvalidClientError(description))
    // Only a public client may be identified without a secret; a confidential one must authenticate.
    return trustedClient(client)?.tokenEndpointAuthMethod === 'none' ? client : undefined
  }

  /**
   * The client of an authorization request; a client of a metadata document is fetched (or found in the cache), and a
   * document that cannot be used is an error shown to the user, never redirected (`redirectable: false`).
   */
  override validateClientId(clientId: string): Promise<ClientRecord | undefined> {
    return this.run(() => this.store.clientTable.get(clientId)).then((client) =>
      this.documentClients?.isDocumentClient(clientId, client) === true
        ? this.documentClients.resolve(clientId, (description) => new InvalidRequestError(description, { redirectable: false }))
        : trustedClient(client),
    )
  }

  override async getRedirectUris(_clientId: string, client: ClientRecord): Promise<readonly string[]> {
    return client.redirectUris
  }

  override async validateGrantType(_clientId: string, grantType: string, client: ClientRecord): Promise<boolean> {
    return client.grantTypes.includes(grantType)
  }

  override async validateResponseType(_clientId: string, responseType: string, client: ClientRecord): Promise<boolean> {
    return client.responseTypes.includes(responseType)
  }

  override async getDefaultScopes(clientId: string): Promise<readonly string[]> {
    // A request without scope gets every scope the client is registered for (RFC 6749 §3.3 default).
    return (await this.validateClientId(clientId))?.scopes ?? []
  }

  override async validateScopes(_clientId: string, scopes: readonly string[], client: ClientRecord): Promise<boolean> {
    return scopes.every((scope) => client.scopes.includes(scope))
  }

  override async validateResources(_clientId: string, resources: readonly string[], client: ClientRecord): Promise<boolean> {
    const served = this.options.resources ?? []
    return resources.every((resource) => client.resources.includes(resource) || served.includes(resource))
  }

  override async isPkceRequired(_clientId: string, client: ClientRecord): Promise<boolean> {
    return (this.options.pkceRequired ?? 'always') === 'always' || client.tokenEndpointAuthMethod === 'none'
  }

  /** Open registration admits anyone, registration by token a valid initial access token; without `registration`, nobody. */
  override authorizeRegistration(initialAccessToken: string | undefined, request: OAuth2Request): Promise<boolean> {
    return this.run(() => this.registrations.authorize(initialAccessToken, request))
  }

  /** Stores a self-registered client under the registration policy, spending a use of its initial access token. */
  override registerClient(metadata: ClientMetadata, request: OAuth2Request): Promise<RegisteredClient> {
    return this.run(() => this.registrations.register(metadata, request))
  }

  override authenticateRegistration(clientId: string, registrationAccessToken: string, request: OAuth2Request): Promise<boolean> {
    return this.run(() => this.registrations.authenticate(clientId, registrationAccessToken, request))
  }

  override readRegistration(clientId: string): Promise<RegisteredClient | undefined> {
    return this.run(() => this.registrations.read(clientId))
  }

  override updateRegistration(clientId: string, metadata: ClientMetadata, secret: string | undefined, request: OAuth2Request): Promise<RegisteredClient | undefined> {
    return this.run(() => this.registrations.update(clientId, metadata, secret, request))
  }

  override deleteRegistration(clientId: string): Promise<boolean> {
    return this.run(() => this.registrations.delete(clientId))
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Users

  override async validateUser(username: string, password: string): Promise<StoreUser | undefined> {
    const user = await this.run(() => this.store.users.authenticate(username, password))
    return user === undefined ? undefined : storeUser(user)
  }

  /** The user's stored claims (`oauthkit users add --claim`); the core releases them by scope (OpenID Connect Core §5.4). */
  override async getUserInfoClaims(user: StoreUser): Promise<Readonly<Record<string, unknown>>> {
    return (await this.run(() => this.store.userTable.get(user.userId)))?.claims ?? {}
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Authorization codes

  override async saveAuthorizationCode(code: string, issued: IssuedAuthorizationCode<StoreUser>): Promise<void> {
    // The code (and the tokens from it) must belong to a client row: a metadata document's client gets one now.
    await this.documentClients?.storeRow(issued.clientId)
    await this.run(() => this.store.codes.insert(codeRecord(code, issued)))
  }

  override async validateCode(_clientId: string, code: string, client: ClientRecord, request: OAuth2Request): Promise<AuthorizationCode<StoreUser> | undefined> {
    return this.run(async () => {
      const stored = await this.store.codes.get(tokenHash(code))
      if (stored === undefined) return undefined
      if (stored.consumedAt !== undefined) {
        // RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it; it may have been stolen. Only its
        // own client's second use does: another client presenting it (a stranger replaying a code it saw) gets
        // invalid_grant and may not end the victim's grant.
        if (stored.clientId === client.clientId) await this.store.tokens.revokeFamily(stored.grantId, now())
        return undefined
      }
      const user = await this.store.userTable.get(stored.userId)
      if (user === undefined) return undefined
      this.families.set(request, stored.grantId)
      return authorizationCode(stored, user)
    })
  }

  override async invalidateAuthorizationCode(_clientId: string, code: string, request: OAuth2Request): Promise<boolean> {
    const hash = tokenHash(code)
    const consumed = await this.run(() => this.store.codes.consume(hash, now()))
    if (!consumed) {
      // A concurrent redemption won: this one is a second use of the code. The revocation must survive the rollback
      // of this request's transaction, so it runs after it.
      this.afterRollback(request, async () => {
        const stored = await this.store.codes.get(hash)
        if (stored !== undefined) await this.store.tokens.revokeFamily(stored.grantId, now())
      })
    }
    return consumed
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Tokens

  override async validateRefreshToken(refreshToken: string, client: ClientRecord, request: OAuth2Request): Promise<RefreshTokenRecord<StoreUser> | undefined> {
    return this.run(async () => {
      const stored = await this.store.tokens.get(tokenHash(refreshToken))
      if (stored === undefined || stored.type !== 'refresh_token') return undefined
      if (stored.revokedAt !== undefined) {
        // A revoked refresh token presented by its client: one superseded by a retry (below) means two holders, so the
        // family ends, as for reuse; for a token revoked with its family already, revoking again changes nothing.
        if (stored.clientId === client.clientId) await this.store.tokens.revokeFamily(stored.grantId, now())
        return undefined
      }
      if (stored.rotatedAt !== undefined) {
        // Presented by another client, it proves nothing about the family and ends nothing (RFC 6749 §6: refresh
        // tokens are bound to their client).
        if (stored.clientId !== client.clientId) return undefined
        // Its own client retrying a refresh whose answer it never got goes on, for a fresh pair (the rotation
        // fails in invalidateRefreshToken, which sees the retry too). Otherwise, RFC 9700 §4.14.2: a rotated refresh
        // token presented again by its client means one of its holders is an attacker; end the whole family, the
        // legitimate client's tokens included.
        if (!(await this.isRetry(stored))) {
          await this.store.tokens.revokeFamily(stored.grantId, now())
          return undefined
        }
      }
      const user = stored.userId === undefined ? undefined : await this.store.userTable.get(stored.userId)
      if (stored.userId !== undefined && user === undefined) return undefined
      this.families.set(request, stored.grantId)
      return refreshTokenRecord(stored, user)
    })
  }

  override async invalidateRefreshToken(refreshToken: string, _client: ClientRecord, request: OAuth2Request): Promise<boolean> {
    const hash = tokenHash(refreshToken)
    const rotated = await this.run(() => this.store.tokens.rotate(hash, now()))
    if (!rotated) {
      // Rotated already: by the request whose answer was lost, or by a concurrent one with the same token that won
      // just now. Within the retry window this one gets a fresh pair, like a retry.
      await this.run(() => this.store.tokens.lock(hash)) // concurrent retries take turns, each seeing the one before
      const stored = await this.run(() => this.store.tokens.get(hash))
      if (stored?.rotatedAt !== undefined && stored.revokedAt === undefined && (await this.isRetry(stored))) {
        // One live refresh token per family: the pairs issued for this token before are superseded by the one this
        // retry gets. Whoever holds one of them and presents it later ends the family (see validateRefreshToken).
        await this.run(() => supersede(this.store.tokens, stored, now()))
        return true
      }
      // A concurrent refresh won: this is reuse of a rotated token (RFC 9700 §4.14.2), after the rollback.
      this.afterRollback(request, async () => {
        const stored = await this.store.tokens.get(hash)
        if (stored !== undefined) await this.store.tokens.revokeFamily(stored.grantId, now())
      })
    }
    return rotated
  }

  override async transaction<T>(request: OAuth2Request, work: () => Promise<T>): Promise<T> {
    try {
      return await this.run(() => this.store.transaction(work))
    } catch (error) {
      const compensations = this.onRollback.get(request) ?? []
      this.onRollback.delete(request)
      // Best effort: the request's own error is what the client must see.
      for (const compensate of compensations) await this.run(compensate).catch(() => undefined)
      throw error
    }
  }

  override async saveBearerToken(token: BearerTokenResponse, context: TokenContext<ClientRecord, StoreUser>, request: OAuth2Request): Promise<void> {
    const issuedAt = now()
    const grantId = this.families.get(request) ?? newGrantId()
    const clientId = context.client.clientId
    const userId = context.user?.userId
    // Fields named one by one: V8 builds `{ ...owner, tokenHash }` on a slow path, microseconds per token.
    const records: TokenRecord[] = [
      {
        clientId,
        userId,
        grantId,
        issuedAt,
        tokenHash: tokenHash(token.access_token),
        type: 'access_token',
        // Not copied here: every store copies what it keeps.
        scopes: context.scopes,
        resources: this.audienceOf(context.resources),
        expiresAt: issuedAt + token.expires_in,
      },
    ]
    if (token.refresh_token !== undefined) {
      records.push({
        clientId,
        userId,
        grantId,
        issuedAt,
        tokenHash: tokenHash(token.refresh_token),
        type: 'refresh_token',
        scopes: context.refreshTokenScopes,
        resources: context.refreshTokenResources ?? context.resources ?? [],
        expiresAt: issuedAt + this.refreshTokenExpiresIn,
        // OpenID Connect Core §12.2: the ID token of a later refresh names the grant's sign-in.
        authentication: context.authentication,
      })
    }
    await this.run(() => this.store.tokens.insert(records))
    // The inactivity purge's clock: a self-registered client's last token, written at most once an hour.
    if (context.client.registration !== undefined) await this.run(() => this.registrations.markUsed(context.client, issuedAt))
  }

  override async validateBearerToken(token: string): Promise<StoredToken<StoreUser> | undefined> {
    const found = await this.lookUp(token)
    return found?.tokenType === 'access_token' ? found : undefined
  }

  override introspectToken(token: string): Promise<StoredToken<StoreUser> | undefined> {
    return this.lookUp(token)
  }

  override async revokeToken(token: string, tokenType: StoredToken['tokenType']): Promise<void> {
    await this.run(async () => {
      const stored = await this.store.tokens.get(tokenHash(token))
      if (stored === undefined) return
      // RFC 7009 §2.1: revoking a refresh token also revokes the access tokens of the same grant.
      if (tokenType === 'refresh_token') await this.store.tokens.revokeFamily(stored.grantId, now())
      else await this.store.tokens.revoke(stored.tokenHash, now())
    })
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Consent and housekeeping

  /** Whether the user already consented to every one of `scopes` for this client (consent remembered per scope set). */
  async hasConsent(clientId: string, userId: string, scopes: readonly string[]): Promise<boolean> {
    const consent = await this.run(() => this.store.consents.get(clientId, userId))
    return consent !== undefined && scopes.every((scope) => consent.scopes.includes(scope))
  }

  /** Remembers that the user consented to `scopes` for this client, adding to what they granted before. */
  async saveConsent(clientId: string, userId: string, scopes: readonly string[]): Promise<void> {
    await this.documentClients?.storeRow(clientId)
    await this.run(async () => {
      const earlier = (await this.store.consents.get(clientId, userId))?.scopes ?? []
      await this.store.consents.put({ clientId, userId, scopes: [...new Set([...earlier, ...scopes])], grantedAt: now() })
    })
  }

  /**
   * Purges expired codes and tokens, and unused or inactive registrations, `firstAfterSeconds` after the call (default
   * 30, or `everySeconds` if shorter) and then every `everySeconds` (default 10 minutes), in the background: the timers
   * do not keep the process alive, a run still going makes the next one skip, and a failure is passed to `onError`
   * instead of stopping the purge. An interval beyond what a Node timer holds (about 24.8 days) is shortened to it.
   *
   * @returns a function that stops purging
   * @throws TypeError when `everySeconds` is not a positive number, or `firstAfterSeconds` not a number from 0
   */
  startPurging(everySeconds = 600, onError: (error: unknown) => void = (error) => console.error('oauthkit: purge failed', error), firstAfterSeconds = Math.min(everySeconds, 30)): () => void {
    // Registrations unused or inactive, and rows of metadata documents whose codes and tokens are gone: open
    // registration and metadata documents must not let the client table grow without bound.
    // Each started from a promise, so that one throwing at once is reported like one that rejects.
    const purge = () =>
      Promise.all([
        Promise.resolve().then(() => this.store.purgeExpired(now())).catch(onError),
        Promise.resolve().then(() => this.registrations.purge(now(), this.documentClients !== undefined)).catch(onError),
      ])
    return schedulePurges(purge, everySeconds, firstAfterSeconds)
  }

  /**
   * Whether a `client_id` names a client that vouches for itself rather than one an operator registered: a client
   * that registered itself (RFC 7591), or the URL of a client ID metadata document (when they are on). Nothing is
   * fetched: the answer does not depend on whether the document can be used.
   */
  async isSelfAsserted(clientId: string): Promise<boolean> {
    const client = await this.run(() => this.store.clientTable.get(clientId))
    return client === undefined ? this.documentClients?.mayBe(clientId) === true : client.registration !== undefined
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** A live token (not revoked, not rotated away) as the core's `StoredToken`; expiry is checked by the core. */
  private lookUp(token: string): Promise<StoredToken<StoreUser> | undefined> {
    // A promise chain, not async functions: a lookup is the whole of an introspection or resource request.
    return this.run(() =>
      this.store.tokens.get(tokenHash(token)).then((stored) => {
        if (stored === undefined || stored.revokedAt !== undefined || stored.rotatedAt !== undefined) return undefined
        if (stored.userId === undefined) return storedToken(stored, undefined)
        return this.store.userTable.get(stored.userId).then((user) => (user === undefined ? undefined : storedToken(stored, user)))
      }),
    )
  }

  /** Whether a rotated refresh token presented again by its client is a retry of a lost response (see {@link isRetry}). */
  private isRetry(stored: TokenRecord): Promise<boolean> {
    return isRetry(this.store.tokens, stored, this.options.refreshTokenRetryWindow ?? DEFAULT_REFRESH_TOKEN_RETRY_WINDOW, now())
  }

  /** The audience of an access token: the requested resources, else the issuer when one is configured. */
  private audienceOf(resources: readonly string[] | undefined): readonly string[] {
    return resources !== undefined && resources.length > 0 ? resources : this.defaultAudience
  }

  private afterRollback(request: OAuth2Request, compensate: () => Promise<unknown>): void {
    const list = this.onRollback.get(request) ?? []
    list.push(compensate)
    this.onRollback.set(request, list)
  }

  /** Runs a store call, turning "the database cannot be reached" into `temporarily_unavailable` (RFC 6749 §5.2). */
  private run<T>(call: () => Promise<T>): Promise<T> {
    // A plain promise chain, not an async function: one turn less on every store call.
    let pending: Promise<T>
    try {
      pending = call()
    } catch (error) {
      return Promise.reject(this.unavailable(error))
    }
    return pending.catch((error: unknown) => {
      throw this.unavailable(error)
    })
  }

  private unavailable(error: unknown): unknown {
    if (error instanceof TemporarilyUnavailableError || !this.store.isUnavailableError(error)) return error
    return new TemporarilyUnavailableError('The authorization server cannot reach its database; retry later', {
      cause: error,
      headers: { 'Retry-After': String(this.options.retryAfter ?? 5) },
    })
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000)
}
