/**
 * The records and tables of a store: what a complete authorization server keeps, as the rows a backend stores and the
 * small typed tables the memory, SQLite and PostgreSQL backends implement. `store.ts` builds the `Store` on them, and
 * `clients.ts` and `users.ts` build client registration and user management on the client and user tables; this
 * module imports none of them.
 *
 * Secrets never reach a backend in clear: tokens, codes and generated client secrets arrive as SHA-256 digests
 * (`tokenHash`: the digest of the whole token or code), passwords and imported secrets as slow scrypt hashes (see
 * `secrets.ts`). The one exception is the signing keys of JWT access tokens ({@link KeyTable}): a key that must sign
 * cannot be hashed, so it is stored as it is, and the database must be protected like the key itself.
 *
 * Times are whole seconds since the epoch.
 *
 * @module
 */
import { type SigningAlgorithm } from '../tokens/signed-token.js'
import { type Authentication } from '../types.js'

/** How a client authenticates at the token endpoint (RFC 7591 §2). */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none'

/**
 * How long codes and tokens are kept after they expire before `purgeExpired` deletes them: a replay within this hour
 * is still recognised and revokes its family (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
 */
export const PURGE_GRACE_SECONDS = 3600

/** A registered client, as stored. */
export interface ClientRecord {
  readonly clientId: string
  /** A human-readable name, shown on the consent page. */
  readonly name: string
  /**
   * The secret's hash: `sha256:<base64url>` for a secret oauthkit generated (256 bits of entropy), `scrypt:…` for one
   * imported with unknown entropy. Absent for a public client.
   */
  readonly secretHash?: string | undefined
  readonly redirectUris: readonly string[]
  readonly grantTypes: readonly string[]
  readonly responseTypes: readonly string[]
  /** The scopes the client may ask for; the first request without `scope` gets all of them. */
  readonly scopes: readonly string[]
  /** The resources (RFC 8707) the client may ask tokens for. */
  readonly resources: readonly string[]
  /**
   * The resources this client serves as a resource server (RFC 7662 §4): it may introspect access tokens whose
   * audience names one of them. Absent or empty for an ordinary client.
   */
  readonly protectedResources?: readonly string[] | undefined
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod
  readonly createdAt: number
  /**
   * Set when the client registered itself (RFC 7591), or is known by its client ID metadata document
   * (`metadataDocument`), rather than by an operator: what it said of itself beyond the fields above. Nothing in it
   * was verified, and the consent page says so.
   */
  readonly registration?: ClientRegistration | undefined
  /**
   * Of a client that registered itself: the SHA-256 digest (`tokenHash`) of its registration access token (RFC 7592
   * §1), with which it reads, updates and deletes its registration. Absent for an operator's client, which cannot be
   * managed that way.
   */
  readonly registrationTokenHash?: string | undefined
  /**
   * Of a client that registered itself: when it last obtained or refreshed a token, updated at most about once an
   * hour ({@link ClientTable.markUsed}); absent until then. What {@link ClientTable.deleteInactiveRegistrations} reads.
   */
  readonly lastUsedAt?: number | undefined
}

/**
 * What a client that registered itself said of itself (RFC 7591 §2), beside the fields every client has; or, with
 * `metadataDocument`, what its client ID metadata document said.
 */
export interface ClientRegistration {
  /**
   * `true` for a client whose `client_id` is the URL of its client ID metadata document
   * (draft-ietf-oauth-client-id-metadata-document): the row was stored when it first obtained a code or a consent, so
   * that its codes, tokens and consents have a client to belong to. What is applied to its requests is always the
   * document as currently fetched (and cached), never this row; the row records the document as it was then.
   */
  readonly metadataDocument?: boolean | undefined
  readonly clientUri?: string | undefined
  readonly logoUri?: string | undefined
  readonly tosUri?: string | undefined
  readonly policyUri?: string | undefined
  readonly contacts?: readonly string[] | undefined
  readonly softwareId?: string | undefined
  readonly softwareVersion?: string | undefined
  readonly applicationType?: 'web' | 'native' | undefined
}

/** A resource owner, as stored. */
export interface UserRecord {
  readonly userId: string
  readonly username: string
  /** The password's scrypt hash (`scrypt:…`). */
  readonly passwordHash: string
  readonly createdAt: number
  /**
   * What the user's profile says of them, as OpenID Connect standard claims (Core §5.1: `name`, `email`,
   * `email_verified`, `locale`, …), released at the UserInfo endpoint by scope (§5.4). Absent or empty when none
   * were set.
   */
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}

/** An authorization code, as stored: its digest and what it was issued for. */
export interface CodeRecord {
  /** The code's key (`tokenHash`): the SHA-256 digest (base64url) of the whole code. */
  readonly codeHash: string
  readonly clientId: string
  readonly userId: string
  readonly scopes: readonly string[]
  /** The `redirect_uri` of the authorization request, when it had one. */
  readonly redirectUri?: string | undefined
  readonly codeChallenge?: string | undefined
  readonly codeChallengeMethod?: 'S256' | 'plain' | undefined
  readonly resources: readonly string[]
  readonly expiresAt: number
  /** The grant family: every token issued from this code, and from their refreshes, shares it. */
  readonly grantId: string
  /** When the code was redeemed; set once, atomically, by {@link CodeTable.consume}. */
  readonly consumedAt?: number | undefined
  /** The `nonce` of an OpenID Connect authorization request, for the ID token of the exchange. */
  readonly nonce?: string | undefined
  /** How and when the user signed in (OpenID Connect Core §2), for the ID tokens of the grant. */
  readonly authentication?: Authentication | undefined
}

/** An access or refresh token, as stored. */
export interface TokenRecord {
  /** The token's key (`tokenHash`): the SHA-256 digest (base64url) of the whole token. */
  readonly tokenHash: string
  readonly type: 'access_token' | 'refresh_token'
  readonly clientId: string
  readonly userId?: string | undefined
  readonly scopes: readonly string[]
  /** The audience (RFC 8707 resources). */
  readonly resources: readonly string[]
  readonly issuedAt: number
  /** Absent for a refresh token that does not expire. */
  readonly expiresAt?: number | undefined
  /** The grant family (see {@link CodeRecord.grantId}); a family is revoked as a whole. */
  readonly grantId: string
  /** Set when the token was revoked (by revocation, family revocation or replay detection). */
  readonly revokedAt?: number | undefined
  /** Set on a refresh token when it was exchanged for a new one (rotation). Presenting it again is reuse. */
  readonly rotatedAt?: number | undefined
  /** Of a refresh token: the sign-in of its grant, for the ID token of a refresh (OpenID Connect Core §12.2). */
  readonly authentication?: Authentication | undefined
}

/** The consent a user gave a client: the scopes already granted. */
export interface ConsentRecord {
  readonly clientId: string
  readonly userId: string
  readonly scopes: readonly string[]
  readonly grantedAt: number
}

/**
 * A key pair that signs JWT access tokens (RFC 9068), as stored.
 *
 * A key signs from `createdAt` until `retiredAt`, and is published (in the JWKS) until `expiresAt`, so that the tokens
 * it signed verify until they expire.
 *
 * **Warning:** `privateJwk` is the private key itself, in clear. A signing key cannot be hashed like a token or a
 * password: it has to sign. Whoever reads it can forge access tokens that every resource server accepts, so protect
 * the database (its files, backups and credentials) as you would the key itself.
 */
export interface SigningKeyRecord {
  /** The key identifier, written as `kid` in the tokens' header and in the JWKS (oauthkit uses the RFC 7638 thumbprint). */
  readonly kid: string
  /** The signature algorithm: `ES256`, `RS256` or `EdDSA` (those `signedTokenGenerator` signs with). */
  readonly alg: SigningAlgorithm
  /** JSON text of the private JWK (RFC 7517), private members included. Stored as it is: see the warning above. */
  readonly privateJwk: string
  /** JSON text of the public JWK, the member published in the JWKS. */
  readonly publicJwk: string
  readonly createdAt: number
  /** When the key stopped signing (it was rotated out); absent while it signs. */
  readonly retiredAt?: number | undefined
  /**
   * After this, the key is no longer published and `purgeExpired` deletes it: at least `retiredAt` plus the longest
   * token lifetime, when no token it signed is valid any more. Absent while it signs.
   */
  readonly expiresAt?: number | undefined
}

/**
 * The keys that sign JWT access tokens: the one signing now, and retired ones still published for verification.
 *
 * **Warning:** private keys are stored in clear (see {@link SigningKeyRecord}): the database must be protected like the
 * keys themselves.
 */
export interface KeyTable {
  /** @throws Error when `kid` exists already */
  insert(record: SigningKeyRecord): Promise<void>
  /**
   * Every key, newest first: by `createdAt` descending, and among keys created in the same second, the one inserted
   * last first.
   */
  list(): Promise<readonly SigningKeyRecord[]>
  /**
   * Retires a key that still signs, atomically: sets `retiredAt` and `expiresAt` if `retiredAt` is not set yet, so
   * that of concurrent calls for one key exactly one resolves to `true`. `false` when the key was retired already or
   * does not exist.
   */
  retire(kid: string, retiredAt: number, expiresAt: number): Promise<boolean>
  /** @returns whether a key was deleted */
  delete(kid: string): Promise<boolean>
}

/** One key's window of a {@link RateLimitTable}: how many hits it counted and when it ends. */
export interface RateLimitWindow {
  /** The hits counted in the window (for {@link RateLimitTable.hit}, this one included). */
  readonly count: number
  /** When the window ends, in seconds since the epoch: from then on the key counts from zero again. */
  readonly resetAt: number
}

/**
 * Counters of attempts in fixed windows, one per key, for rate limiting (failed sign-ins, failed token requests).
 * Kept in the store so that every instance over one database shares the counts.
 *
 * A window starts at a key's first hit, lasts `windowSeconds`, and is not extended by later hits. Keys are opaque
 * strings chosen by the caller; keep them short and bounded (the ready server passes SHA-256 digests), since every
 * distinct key is a row until `purgeExpired` deletes it after its window ended.
 */
export interface RateLimitTable {
  /**
   * Counts one hit for `key`, atomically, in one statement: adds one to the count of its window when that window has
   * not ended at `now` (`resetAt > now`), else starts a new window of `windowSeconds` with a count of 1. Of `n`
   * concurrent hits on one key within one window, on any number of instances, the counts returned are 1 to `n`, each
   * once.
   *
   * @returns the key's window after this hit
   */
  hit(key: string, windowSeconds: number, now: number): Promise<RateLimitWindow>
  /**
   * The windows of `keys` that have not ended at `now`, without counting: one lookup for all of them.
   *
   * @returns one entry per key, in the order of `keys`: its window, or `undefined` when it has none running
   */
  peek(keys: readonly string[], now: number): Promise<readonly (RateLimitWindow | undefined)[]>
  /** Ends the window of `key` at once, e.g. a username's failures after a successful sign-in. @returns whether there was one to delete */
  reset(key: string): Promise<boolean>
  /**
   * Gives one hit back, atomically: takes one from the count of `key`'s window when it is running at `now` and above
   * zero, e.g. a sign-in that was counted before its password was checked and turned out right.
   */
  release(key: string, now: number): Promise<void>
}

/** Low-level client storage: rows in, rows out. `Clients` adds secret generation and hashing on top. */
export interface ClientTable {
  /** @throws Error when `clientId` exists already */
  insert(record: ClientRecord): Promise<void>
  get(clientId: string): Promise<ClientRecord | undefined>
  list(): Promise<readonly ClientRecord[]>
  /** @returns whether a client was removed (its codes, tokens and consents go with it) */
  delete(clientId: string): Promise<boolean>
  /** @returns whether the client exists */
  updateSecretHash(clientId: string, secretHash: string): Promise<boolean>
  /**
   * Deletes the clients that registered themselves (`registration` set, clients of a client ID metadata document
   * included) before `registeredBefore` and never obtained a token (no `lastUsedAt`), nor a code or a token that is
   * still stored. @returns how many
   */
  deleteUnusedRegistrations(registeredBefore: number): Promise<number>
  /**
   * Deletes the clients that registered themselves and have not obtained a token since `usedBefore`: their
   * `lastUsedAt`, or their `createdAt` when they never did, is before it. Their codes, tokens and consents go with
   * them. @returns how many
   */
  deleteInactiveRegistrations(usedBefore: number): Promise<number>
  /** Sets the `lastUsedAt` of a client that registered itself (nothing for an operator's client). */
  markUsed(clientId: string, now: number): Promise<void>
  /**
   * Replaces the registration of a client that registered itself (RFC 7592 §2.2), atomically, if its registration
   * access token is still the one whose digest is `currentTokenHash`: every field of `record` but `clientId`,
   * `createdAt` and `lastUsedAt` is written, `registrationTokenHash` (the rotated token) included. Of concurrent updates presenting one
   * token, exactly one resolves to `true`. `false` when the client does not exist or its token changed meanwhile. With
   * `forgetConsents`, the consents users gave the client are deleted in the same atomic step (RFC 9700 §4.1: a consent
   * given under the old redirect URIs or credentials must not approve a request under the new ones unseen).
   */
  updateRegistration(record: ClientRecord, currentTokenHash: string, forgetConsents?: boolean): Promise<boolean>
}

/**
 * An initial access token (RFC 7591 §3), as stored: what an operator hands out so that a client may register itself
 * where registration is not open.
 */
export interface InitialAccessTokenRecord {
  /** A short identifier, for listing and removing; not a secret. */
  readonly id: string
  /** The token's key (`tokenHash`): the SHA-256 digest (base64url) of the whole token. */
  readonly tokenHash: string
  readonly createdAt: number
  /** When it stops working; absent when it never does. */
  readonly expiresAt?: number | undefined
  /** How many more registrations it allows; absent when unlimited. */
  readonly usesLeft?: number | undefined
}

/** An initial access token's column values in the SQL stores, in the order of their `INSERT`. @internal */
export function initialAccessTokenValues(record: InitialAccessTokenRecord): [string, string, number, number | null, number | null] {
  return [record.id, record.tokenHash, record.createdAt, record.expiresAt ?? null, record.usesLeft ?? null]
}

/** Initial access tokens (RFC 7591 §3) by id, looked up by digest. */
export interface InitialAccessTokenTable {
  /** @throws Error when the id or the digest exists already */
  insert(record: InitialAccessTokenRecord): Promise<void>
  /** Every token, oldest first. */
  list(): Promise<readonly InitialAccessTokenRecord[]>
  get(tokenHash: string): Promise<InitialAccessTokenRecord | undefined>
  /**
   * Spends one use of the token, atomically, if it has not expired at `now` and has a use left (or unlimited uses):
   * of concurrent calls for a token with `n` uses left, exactly `n` resolve to `true`. `false` otherwise, or when it
   * does not exist.
   */
  use(tokenHash: string, now: number): Promise<boolean>
  /** @returns whether a token was removed */
  delete(id: string): Promise<boolean>
}

/** Low-level user storage. */
export interface UserTable {
  /** @throws Error when `userId` or `username` exists already */
  insert(record: UserRecord): Promise<void>
  get(userId: string): Promise<UserRecord | undefined>
  getByUsername(username: string): Promise<UserRecord | undefined>
  list(): Promise<readonly UserRecord[]>
  /** @returns whether a user was removed (their codes, tokens, consents and sessions go with them) */
  delete(userId: string): Promise<boolean>
  /** @returns whether the user exists */
  updatePasswordHash(userId: string, passwordHash: string): Promise<boolean>
  /** Replaces the user's claims ({@link UserRecord.claims}). @returns whether the user exists */
  updateClaims(userId: string, claims: Readonly<Record<string, unknown>>): Promise<boolean>
}

/** Authorization codes. */
export interface CodeTable {
  /** @throws Error when the digest exists already, or the client or user does not exist */
  insert(record: CodeRecord): Promise<void>
  get(codeHash: string): Promise<CodeRecord | undefined>
  /**
   * Marks the code consumed, atomically: of any number of concurrent calls for one code, exactly one resolves to
   * `true` (e.g. `UPDATE … SET consumed_at = $now WHERE code_hash = $1 AND consumed_at IS NULL`). `false` when it
   * was consumed already or does not exist.
   */
  consume(codeHash: string, now: number): Promise<boolean>
}

/** Access and refresh tokens. */
export interface TokenTable {
  /**
   * Inserts the tokens of one response (an access token, and maybe a refresh token), all or none.
   *
   * @throws Error when a digest exists already, or the client or user does not exist
   */
  insert(records: readonly TokenRecord[]): Promise<void>
  get(tokenHash: string): Promise<TokenRecord | undefined>
  /**
   * Holds the token's row until the transaction this runs in ends: concurrent transactions that lock the same token run
   * this part one after another, each seeing what the one before committed. A no-op where transactions never
   * interleave (memory, SQLite).
   */
  lock(tokenHash: string): Promise<void>
  /** Every token of a grant family, revoked and rotated ones included, in no particular order. */
  family(grantId: string): Promise<readonly TokenRecord[]>
  /** Sets `revokedAt` if not set. @returns whether the token exists */
  revoke(tokenHash: string, now: number): Promise<boolean>
  /**
   * Marks a refresh token rotated, atomically: of concurrent calls for one token exactly one resolves to `true`.
   * `false` when it was rotated or revoked already, does not exist, or is an access token.
   */
  rotate(tokenHash: string, now: number): Promise<boolean>
  /** Revokes every token of a grant family that is not revoked yet. @returns how many were revoked */
  revokeFamily(grantId: string, now: number): Promise<number>
  /** Revokes every token issued to a user that is not revoked yet (e.g. after a password change). @returns how many */
  revokeForUser(userId: string, now: number): Promise<number>
}

/** Consents remembered per client, user and scope set. */
export interface ConsentTable {
  get(clientId: string, userId: string): Promise<ConsentRecord | undefined>
  /**
   * Stores the scopes granted, replacing an earlier consent of the same user to the same client.
   *
   * @throws Error when the client or user does not exist
   */
  put(record: ConsentRecord): Promise<void>
  /** Forgets a consent. @returns whether there was one */
  delete(clientId: string, userId: string): Promise<boolean>
}

/**
 * A signed-in browser of the ready server, as stored: the digest of its session id (the cookie's value) and whose it
 * is. Kept in the store, so that signing out, a password change or removing the user ends it on every instance.
 */
export interface SessionRecord {
  /** The session's key (`tokenHash`): the SHA-256 digest (base64url) of the session id the browser holds. */
  readonly sessionHash: string
  readonly userId: string
  /** When the user signed in (for `max_age`). */
  readonly authTime: number
  readonly expiresAt: number
}

/** Browser sessions of the ready server. */
export interface SessionTable {
  /** @throws Error when the digest exists already, or the user does not exist */
  insert(record: SessionRecord): Promise<void>
  /** The session, when it exists and has not expired at `now`. */
  get(sessionHash: string, now: number): Promise<SessionRecord | undefined>
  /** Ends one session (sign-out). @returns whether it existed */
  delete(sessionHash: string): Promise<boolean>
  /** Ends every session of a user (sign out everywhere, password change). @returns how many there were */
  deleteForUser(userId: string): Promise<number>
}

/**
 * Secrets of one installation, made once and shared by every instance over the database: the keys of the ready
 * server's rate-limit counters and CSRF tokens. Stored in clear (they must key an HMAC), like the signing keys.
 */
export interface InstallationSecretTable {
  /**
   * The secret named `name`. When there is none yet, `candidate` is stored and returned, atomically: of instances
   * asking at once, all get the one value stored first.
   */
  getOrInsert(name: string, candidate: string, now: number): Promise<string>
}

/**
 * Everything an authorization server keeps. Implemented by `MemoryStore`, `SqliteStore` and `PostgresStore`;
 * `StoreValidator` turns any of them into a complete `RequestValidator`.
 */
export interface StoreBackend {
  readonly clientTable: ClientTable
  readonly userTable: UserTable
  readonly codes: CodeTable
  readonly tokens: TokenTable
  readonly consents: ConsentTable
  /** Keys that sign JWT access tokens. Private keys are stored in clear: protect the database like the keys. */
  readonly keys: KeyTable
  /** Rate-limit counters, shared by every instance over the database. */
  readonly rateLimits: RateLimitTable
  /** Browser sessions of the ready server; a user's go with the user. */
  readonly sessions: SessionTable
  /** Secrets made once per installation (HMAC keys), shared by every instance. */
  readonly installationSecrets: InstallationSecretTable
  /** Initial access tokens of client registration (RFC 7591 §3), by digest. */
  readonly initialAccessTokenTable: InitialAccessTokenTable
  /**
   * Runs `work` in one transaction: every write through the tables inside it commits together, or none does when
   * `work` throws (the error is rethrown). Transactions do not interleave their writes with each other, and a write
   * made outside a transaction is never rolled back with one. A transaction started inside another joins it. `work`
   * must not wait for a store call started outside it (on a single connection that would deadlock).
   */
  transaction<T>(work: () => Promise<T>): Promise<T>
  /**
   * Deletes codes and tokens that expired more than an hour before `now` (the hour keeps replay detection working),
   * in small batches so that requests are never blocked for long. A refresh token without expiry is kept. Also
   * deletes the signing keys whose `expiresAt` is before `now` (no grace: no token they signed is valid any more), and
   * the rate-limit windows, sessions and initial access tokens that ended at or before `now`.
   * @returns how many rows were deleted
   */
  purgeExpired(now: number): Promise<number>
  /** Releases connections and files; calls made after it reject. Idempotent. */
  close(): Promise<void>
}
