/**
 * `SqliteStore`: opening the file, transactions, purging and closing. The tables are in `tables.ts` and
 * `grant-tables.ts`, the connections, the write lock and the group commits in `transactions.ts`, the schema in
 * `migrations.ts`.
 *
 * @module
 */
import Database from 'better-sqlite3'
import { PURGE_GRACE_SECONDS, Store } from '../store.js'
import { type ClientTable, type CodeTable, type ConsentTable, type KeyTable, type RateLimitTable, type TokenTable, type UserTable } from '../tables.js'
import { type InitialAccessTokenTable, type InstallationSecretTable, type SessionTable } from '../tables.js'
import { SqliteCodeTable, SqliteTokenTable } from './grant-tables.js'
import { migrate } from './migrations.js'
import { SqliteClientTable, SqliteConsentTable, SqliteKeyTable, SqliteRateLimitTable, SqliteUserTable } from './tables.js'
import { SqliteInitialAccessTokenTable, SqliteInstallationSecretTable, SqliteSessionTable } from './tables.js'
import { SqliteTransactions } from './transactions.js'

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /**
   * How long a statement waits for a lock held by another process before failing with `SQLITE_BUSY`, which
   * `StoreValidator` answers with `temporarily_unavailable`. Default 1000 ms.
   *
   * better-sqlite3 is synchronous: the wait blocks the whole event loop. Another process's write lasts milliseconds,
   * so a short wait suffices. A lock held longer costs one wait, not one per write: after a write found it held past
   * the timeout, writes try the lock without waiting until one gets it.
   */
  readonly busyTimeoutMs?: number | undefined
  /**
   * How many pages the write-ahead log may hold before a commit copies them into the database file (SQLite's
   * `wal_autocheckpoint`). Default 10,000 (about 40 MiB of WAL), against SQLite's 1,000: each copy writes every page
   * changed since the last and syncs twice, and tokens land on random pages of their index, so copying ten times less
   * often writes each such page fewer times. The WAL file keeps its largest size; 0 turns automatic copies off.
   */
  readonly walCheckpointPages?: number | undefined
}

/** Rows deleted per statement by `purgeExpired`: each batch holds the write lock for about a millisecond. */
const PURGE_BATCH_SIZE = 500

const DEFAULT_BUSY_TIMEOUT_MS = 1000
const DEFAULT_WAL_CHECKPOINT_PAGES = 10_000

/** Extended result codes are the primary code plus a suffix (`SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`, …). */
const UNAVAILABLE_CODE = /^SQLITE_(?:BUSY|LOCKED|CANTOPEN|IOERR|READONLY|FULL)(?:_|$)/

/** better-sqlite3 throws these as plain `TypeError`s, without an SQLite code. */
const UNAVAILABLE_MESSAGES = new Set(['The database connection is not open', 'Cannot open database because the directory does not exist'])

/**
 * The embedded default store: SQLite in WAL mode, schema migrated on open.
 *
 * - Only hashes are stored: the records carry SHA-256 digests of codes, tokens and generated secrets and scrypt
 *   hashes of passwords, and the schema has no column for a clear value. The exception is the signing keys of JWT
 *   access tokens (table `signing_keys`), stored in clear: protect the file, its WAL and its backups like the keys.
 * - A code is consumed, and a refresh token rotated, by a conditional `UPDATE`, so exactly one of any number of
 *   concurrent calls wins.
 * - `transaction` serializes with every write outside it: a write that does not belong to a transaction waits until
 *   the transaction ends, so it can neither be rolled back with it nor slip into it.
 * - Token inserts and transactions outside a transaction are committed in groups: those begun in one turn of the
 *   event loop share one SQLite transaction on the next turn, and each resolves once it has committed. Under
 *   concurrent requests this divides SQLite's per-commit work (WAL frames of shared pages, locks) among them.
 * - Reads outside a transaction share one read transaction per turn of the event loop, ended as soon as this store
 *   commits a write: a read sees every write of this process made before it, and another process's writes from the
 *   next turn on.
 * - When the database cannot be written, writes fail with an error {@link SqliteStore.isUnavailableError} accepts
 *   (`StoreValidator` answers 503) and reads go on: while another process holds the write lock (`SQLITE_BUSY`; only
 *   the first write waits the busy timeout), and while the file or its WAL is not at its path any more, moved or
 *   removed (`SQLITE_READONLY_DBMOVED`: the open connections would still write, to files the next start would not
 *   find). Writes resume when the lock is released or the same file is back; a different file put in its place is
 *   not adopted until the store is opened again.
 *
 * Open one `SqliteStore` per file per process: two in one process would wait on each other's locks synchronously.
 *
 * @example
 * ```ts
 * const store = await SqliteStore.open('./oauthkit.db')
 * const server = new Server(new StoreValidator(store, { issuer: 'https://as.example.com' }))
 * ```
 */
export class SqliteStore extends Store {
  /** @inheritDoc */
  readonly clientTable: ClientTable
  /** @inheritDoc */
  readonly userTable: UserTable
  /** @inheritDoc */
  readonly codes: CodeTable
  /** @inheritDoc */
  readonly tokens: TokenTable
  /** @inheritDoc */
  readonly consents: ConsentTable
  /** @inheritDoc */
  readonly keys: KeyTable
  /** @inheritDoc */
  readonly rateLimits: RateLimitTable
  /** @inheritDoc */
  readonly sessions: SessionTable
  /** @inheritDoc */
  readonly installationSecrets: InstallationSecretTable
  /** @inheritDoc */
  readonly initialAccessTokenTable: InitialAccessTokenTable

  /** The connections, the write lock, the transactions and the group commits. */
  private readonly access: SqliteTransactions

  private constructor(writer: Database.Database, reader: Database.Database) {
    super()
    this.access = new SqliteTransactions(writer, reader)
    this.clientTable = new SqliteClientTable(this.access)
    this.userTable = new SqliteUserTable(this.access)
    this.codes = new SqliteCodeTable(this.access)
    this.tokens = new SqliteTokenTable(this.access)
    this.consents = new SqliteConsentTable(this.access)
    this.keys = new SqliteKeyTable(this.access)
    this.rateLimits = new SqliteRateLimitTable(this.access)
    this.sessions = new SqliteSessionTable(this.access)
    this.installationSecrets = new SqliteInstallationSecretTable(this.access)
    this.initialAccessTokenTable = new SqliteInitialAccessTokenTable(this.access)
  }

  /**
   * Opens (creating if needed) the database at `path` and brings its schema to the latest version.
   *
   * `':memory:'` gives a private in-memory database (for tests): it cannot use WAL, so reads outside a transaction
   * share the one connection and may see a transaction in progress.
   *
   * @param path - the database file; default `./oauthkit.db`
   * @throws Error when the database's schema is newer than this oauthkit knows (upgrade oauthkit)
   * @throws better-sqlite3's errors when the file cannot be opened or is not a database; classify them with
   *   {@link SqliteStore.isUnavailableError}
   */
  static async open(path = './oauthkit.db', options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
    if (!Number.isSafeInteger(timeout) || timeout < 0) throw new TypeError('busyTimeoutMs must be a non-negative integer')
    const checkpointPages = options.walCheckpointPages ?? DEFAULT_WAL_CHECKPOINT_PAGES
    if (!Number.isSafeInteger(checkpointPages) || checkpointPages < 0) throw new TypeError('walCheckpointPages must be a non-negative integer')
    const opened: Database.Database[] = []
    try {
      // `timeout` is SQLite's busy_timeout, set before the first statement: switching to WAL may already need a lock.
      const writer = new Database(path, { timeout })
      opened.push(writer)
      // WAL: readers never block the writer nor the writer them. Persistent in the file; a no-op in memory.
      writer.pragma('journal_mode = WAL')
      // SQLite enforces foreign keys (and so the cascades) only when asked, per connection.
      writer.pragma('foreign_keys = ON')
      // NORMAL is durable in WAL mode except for the last transactions on power loss, and syncs far less than FULL.
      writer.pragma('synchronous = NORMAL')
      // Only the connection that commits checkpoints: the reader only reads.
      writer.pragma(`wal_autocheckpoint = ${checkpointPages}`)
      migrate(writer)
      let reader = writer
      if (!writer.memory) {
        reader = new Database(path, { timeout, readonly: true, fileMustExist: true })
        opened.push(reader)
      }
      return new SqliteStore(writer, reader)
    } catch (error) {
      for (const db of opened.reverse()) db.close()
      throw error
    }
  }

  /**
   * Whether an error of this store means the database cannot be used right now (locked by another process, file
   * missing or unreadable, disk full or failing, store closed) rather than a bug. Follows `cause` chains.
   *
   * Usable before a store exists, e.g. on an error of {@link SqliteStore.open}.
   */
  static isUnavailableError(error: unknown): boolean {
    for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
      const code = (current as { code?: unknown }).code
      if (typeof code === 'string' && UNAVAILABLE_CODE.test(code)) return true
      if (UNAVAILABLE_MESSAGES.has(current.message)) return true
    }
    return false
  }

  /** {@inheritDoc Store.isUnavailableError} See {@link SqliteStore.isUnavailableError | the static method}. */
  isUnavailableError(error: unknown): boolean {
    return SqliteStore.isUnavailableError(error)
  }

  /**
   * Runs `work` in one SQLite transaction (`BEGIN IMMEDIATE`; a `SAVEPOINT` when nested in another).
   *
   * better-sqlite3 has one connection and `work` awaits between its statements, so other requests run meanwhile on
   * the same connection. Every write outside this transaction, and every other transaction, therefore waits for the
   * store's write lock, which this transaction holds until it commits or rolls back. Calls made by `work` run inside
   * it (found through `AsyncLocalStorage`) and do not wait for that lock, which would deadlock. Reads outside the
   * transaction go to the reading connection, which sees only committed data.
   *
   * Transactions that meet share one `COMMIT` (on a database file): those begun in one turn of the event loop are
   * collected and run on the next turn (so that the transactions of the requests read in this turn join them), one
   * after another, each in a savepoint of one SQLite transaction, which commits after the last (at most 32 in one).
   * Writes outside them wait until it has committed. A `COMMIT` is most of a short transaction's cost (WAL frames of
   * the same pages, locks, the `stat`s of `checkFiles`), so under concurrent code redemptions and refreshes a group costs about what one transaction did. Each one still
   * stands alone: a failure undoes its own writes only, it sees the writes of those before it as if they had
   * committed, and its promise settles after the `COMMIT` that holds it (so no durability is lost). A failed `COMMIT`
   * rejects every transaction of its group, none of which is then saved.
   *
   * @throws whatever `work` throws, after rolling back
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.access.transaction(work)
  }

  /**
   * Deletes, in batches of 500 rows, the codes and tokens that expired more than an hour before `now`. The hour keeps
   * a replayed code or a reused refresh token recognisable a while after it expired, so it can still revoke its
   * family. Refresh tokens without expiry go once they have been revoked for that hour, as in the other stores.
   * Between batches the write lock is released and the event loop gets a
   * turn, so requests are not held up by a large purge. Signing keys whose `expires_at` is before `now` are deleted
   * too, in one statement (they are few), with no grace: no token they signed is valid any more, and so are initial
   * access tokens that expired at or before `now`. Rate-limit windows and sessions that ended at or before `now` go
   * too, in batches, with no grace.
   *
   * @returns how many codes, tokens, keys and rate-limit windows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    // Each table and condition, deleted in batches of short write transactions, other work let in between.
    const expired: readonly (readonly [string, string, string, number])[] = [
      ['codes', 'rowid', 'expires_at < ?', cutoff],
      ['tokens', 'rowid', 'expires_at < ?', cutoff],
      // A refresh token without expiry is kept for reuse detection until it has been revoked for the grace period.
      ['tokens', 'rowid', 'expires_at IS NULL AND revoked_at < ?', cutoff],
      // Rate-limit windows and sessions that ended are worth nothing: no grace.
      ['rate_limits', 'rate_key', 'reset_at <= ?', now],
      ['sessions', 'session_hash', 'expires_at <= ?', now],
    ]
    let deleted = 0
    for (const [table, key, condition, before] of expired) {
      for (;;) {
        const batch = await this.access.write(
          (sql) => sql(`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${condition} LIMIT ${PURGE_BATCH_SIZE})`).run(before).changes,
        )
        deleted += batch
        if (batch < PURGE_BATCH_SIZE) break
        await new Promise(setImmediate)
      }
    }
    // Keys are few: one statement, against `now` itself.
    deleted += await this.access.write((sql) => sql('DELETE FROM signing_keys WHERE expires_at < ?').run(now).changes)
    // Initial access tokens are few too; one that expired can never be used again.
    deleted += await this.access.write((sql) => sql('DELETE FROM initial_access_tokens WHERE expires_at <= ?').run(now).changes)
    return deleted
  }

  /**
   * Closes the database, after the transaction and writes already queued have finished (called from inside a
   * transaction, it cannot wait for it: SQLite rolls it back). Idempotent. Any later call rejects with "The database
   * connection is not open", which {@link SqliteStore.isUnavailableError} accepts.
   */
  close(): Promise<void> {
    return this.access.close()
  }
}
