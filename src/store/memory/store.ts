/**
 * `MemoryStore`: the `Store` kept in Maps inside one process, for tests and demos. Nothing survives a restart and
 * nothing is shared between processes, so it is no backend for a server behind a load balancer (use `SqliteStore` or
 * `PostgresStore`).
 *
 * It keeps the same promises as the database backends: records are copied in and out, a code is consumed and a
 * refresh token rotated atomically, removing a client or user removes what belongs to it, and a transaction's writes
 * are undone when its work throws.
 *
 * @module
 */
import { PURGE_GRACE_SECONDS, Store } from '../store.js'
import { type ClientTable, type CodeTable, type ConsentTable, type KeyTable, type RateLimitTable, type TokenTable, type UserTable } from '../tables.js'
import { type InitialAccessTokenTable, type InstallationSecretTable, type SessionTable } from '../tables.js'
import { MemoryDatabase, MemoryStoreFullError } from './database.js'
import { MemoryClientTable, MemoryCodeTable, MemoryConsentTable, MemoryKeyTable, MemoryRateLimitTable, MemoryTokenTable, MemoryUserTable } from './tables.js'
import { MemoryInitialAccessTokenTable, MemoryInstallationSecretTable, MemorySessionTable } from './tables.js'

/** Rows deleted by `purgeExpired` before it lets other work run. */
const PURGE_BATCH_SIZE = 1000

/** Options of {@link MemoryStore.open}. */
export interface MemoryStoreOptions {
  /**
   * The most access and refresh tokens kept at once; default 1,000,000 (about 300 MB of heap). When full, tokens that
   * expired or were revoked are evicted; when none can go, a new token is refused with {@link MemoryStoreFullError}
   * (which `StoreValidator` answers with `temporarily_unavailable`). The same bound holds for authorization codes, the
   * expired ones evicted first.
   */
  readonly maxTokens?: number | undefined
}

/**
 * A store in memory, for tests and demos: every record lives in a Map of this object, is lost when the process exits,
 * and is not shared with other processes.
 *
 * - Records are copied in and out, their arrays frozen: changing a record you passed in or got back never changes
 *   what is stored.
 * - Transactions run one at a time. A write made through the tables while a transaction's `work` runs belongs to it
 *   and is undone when `work` throws. A read or write outside a transaction waits for a running one to finish, so it
 *   never sees, nor is rolled back with, writes that are later undone. A transaction started inside another joins it:
 *   when the inner `work` throws, only the writes made since it started are undone.
 * - Inserting a code, token or consent for a client or user that does not exist fails, as a foreign key would.
 * - `purgeExpired` keeps expired codes and tokens for an hour, for replay detection.
 * - At most 100,000 rate-limit windows are kept; beyond that the oldest is dropped. At most `maxTokens` tokens are
 *   kept (see {@link MemoryStoreOptions.maxTokens}).
 *
 * @example
 * ```ts
 * const store = await MemoryStore.open()
 * const { clientId, clientSecret } = await store.clients.create({ name: 'demo', grantTypes: ['client_credentials'], scopes: ['read'] })
 * const server = new Server(new StoreValidator(store, { issuer: 'http://localhost:3000' }))
 * ```
 */
export class MemoryStore extends Store {
  /**
   * Opens an empty store. Async only to match `SqliteStore.open` and `PostgresStore.open`.
   *
   * @throws TypeError when `maxTokens` is not a positive whole number
   */
  static open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const store = new MemoryStore()
    if (options.maxTokens !== undefined) {
      if (!Number.isSafeInteger(options.maxTokens) || options.maxTokens < 1) return Promise.reject(new TypeError('maxTokens must be a positive whole number'))
      store.database.maxTokens = options.maxTokens
    }
    return Promise.resolve(store)
  }

  private readonly database = new MemoryDatabase()

  /** Clients, by `clientId`. */
  readonly clientTable: ClientTable = new MemoryClientTable(this.database)
  /** Users, by `userId`, with unique usernames. */
  readonly userTable: UserTable = new MemoryUserTable(this.database)
  /** Authorization codes, by digest. */
  readonly codes: CodeTable = new MemoryCodeTable(this.database)
  /** Access and refresh tokens, by digest, indexed by grant family. */
  readonly tokens: TokenTable = new MemoryTokenTable(this.database)
  /** Consents, by client and user. */
  readonly consents: ConsentTable = new MemoryConsentTable(this.database)
  /** Signing keys, by `kid`, private keys included (they live in this process's memory only). */
  readonly keys: KeyTable = new MemoryKeyTable(this.database)
  /** Rate-limit windows, by key; this process's counts only. */
  readonly rateLimits: RateLimitTable = new MemoryRateLimitTable(this.database)
  /** Browser sessions, by digest; this process's only. */
  readonly sessions: SessionTable = new MemorySessionTable(this.database)
  /** Installation secrets, by name; this process's only. */
  readonly installationSecrets: InstallationSecretTable = new MemoryInstallationSecretTable(this.database)
  /** Initial access tokens of client registration, by id; this process's only. */
  readonly initialAccessTokenTable: InitialAccessTokenTable = new MemoryInitialAccessTokenTable(this.database)

  /**
   * Runs `work` as one transaction, after any running one: when it throws, every write it made through the tables is
   * undone and the error rethrown. Inside another transaction, `work` joins it (see the class notes).
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.database.transaction(work)
  }

  /**
   * Deletes codes that expired more than an hour before `now`, tokens that did, and refresh tokens without expiry
   * that were revoked more than an hour before `now`, in batches of a thousand; and signing keys whose `expiresAt` is
   * before `now`; and rate-limit windows and sessions that ended at or before `now`, in batches too.
   *
   * @returns how many codes, tokens, keys and rate-limit windows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    let deleted = 0
    for (;;) {
      const batch = await this.database.run((writer) => this.database.purgeBatch(writer, cutoff, PURGE_BATCH_SIZE))
      deleted += batch
      if (batch < PURGE_BATCH_SIZE) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (;;) {
      const batch = await this.database.run((writer) => this.database.purgeRateLimits(writer, now, PURGE_BATCH_SIZE))
      deleted += batch
      if (batch < PURGE_BATCH_SIZE) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Keys are few: one step, no batches. No grace either: a key expires when the last token it signed does.
    return deleted + (await this.database.run((writer) => this.database.purgeKeys(writer, now)))
  }

  /** Memory cannot be unreachable; only a full store ({@link MemoryStoreFullError}) is unavailable for a while. */
  isUnavailableError(error: unknown): boolean {
    return error instanceof MemoryStoreFullError
  }

  /** Forgets every record, after any running transaction; later calls on the store reject. */
  close(): Promise<void> {
    return this.database.close()
  }
}
