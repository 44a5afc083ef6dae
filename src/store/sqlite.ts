/**
 * `SqliteStore`: the embedded default store, one SQLite file through `better-sqlite3` (the `oauthkit/store/sqlite`
 * entry).
 *
 * One process owns the file. It writes through one connection, in WAL mode, and reads committed data through a
 * second one, so a read never waits for a write and never sees another request's unfinished transaction. Other
 * processes (an admin CLI, a backup) may open the file too; SQLite's locks keep them consistent.
 *
 * @module
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import Database from 'better-sqlite3'
import { migrate } from './sqlite-migrations.js'
import {
  PURGE_GRACE_SECONDS,
  Store,
  type ClientRecord,
  type ClientTable,
  type CodeRecord,
  type CodeTable,
  type ConsentRecord,
  type ConsentTable,
  type KeyTable,
  type RateLimitTable,
  type RateLimitWindow,
  type SigningKeyRecord,
  type TokenEndpointAuthMethod,
  type TokenRecord,
  type TokenTable,
  type UserRecord,
  type UserTable,
} from './store.js'
import { TransactionStorage } from './transaction-storage.js'

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

/** What a write gets when the file it would go to is not the one at the store's path any more. */
const DB_MOVED_CODE = 'SQLITE_READONLY_DBMOVED'

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
 * - Token inserts outside a transaction are committed in groups: those made in one turn of the event loop share one
 *   SQLite transaction on the next turn, and each resolves once it has committed. Under concurrent requests this
 *   divides SQLite's per-commit work (WAL frames of shared pages, locks) among them.
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

  private readonly writer: Connection
  private readonly reader: Connection
  /** The scope outside any transaction; its lock is the store's write lock. */
  private readonly root: Scope = { lock: new Mutex(), parent: undefined, depth: 0, active: true }
  /** The transaction scope a table call runs in, if any (see {@link SqliteStore.transaction}). */
  private readonly scopes = new TransactionStorage<Scope>()
  private closing: Promise<void> | undefined
  /** The database file and its WAL as opened, to notice them moved or removed (see `checkFiles`); none in memory. */
  private readonly files: readonly OpenedFile[]
  /** The writer's busy timeout, and whether it is set to 0 now because another process holds the lock (`takeWriteLock`). */
  private readonly busyTimeoutMs: number
  private lockedOut = false
  /** Whether the reading connection has a read transaction open for this turn of the event loop (see `read`). */
  private reading = false
  /** What `readShared` read in the current read transaction, by key; dropped when it ends. */
  private shared: Map<string, unknown> | undefined
  /** Writes waiting for the next group commit ({@link SqliteStore.writeGrouped}), if any. */
  private group: GroupedWrite[] | undefined
  /** Transactions done but not yet committed, sharing one SQLite transaction (see {@link SqliteStore.transaction}). */
  private transactions: TransactionGroup | undefined

  private constructor(writer: Database.Database, reader: Database.Database) {
    super()
    this.writer = new Connection(writer)
    this.reader = reader === writer ? this.writer : new Connection(reader)
    this.files = writer.memory ? [] : openedFiles(resolve(writer.name))
    this.busyTimeoutMs = writer.pragma('busy_timeout', { simple: true }) as number
    const access: Access = {
      read: (query) => this.read(query),
      readShared: (key, query) => this.readShared(key, query),
      write: (change) => this.write(change),
      writeGrouped: (change) => this.writeGrouped(change),
    }
    this.clientTable = new SqliteClientTable(access)
    this.userTable = new SqliteUserTable(access)
    this.codes = new SqliteCodeTable(access)
    this.tokens = new SqliteTokenTable(access)
    this.consents = new SqliteConsentTable(access)
    this.keys = new SqliteKeyTable(access)
    this.rateLimits = new SqliteRateLimitTable(access)
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
   * Transactions that meet share one `COMMIT` (on a database file): each runs in a savepoint of one SQLite
   * transaction, which commits on the next turn of the event loop (so that the transactions of the requests read in
   * this turn join it), or once it holds {@link MAX_GROUPED_TRANSACTIONS}. Any other write commits it first. A
   * `COMMIT` is most of a short transaction's cost (WAL frames of the same pages, locks, the `stat`s of `checkFiles`),
   * so under concurrent code redemptions and refreshes a group costs about what one transaction did. Each one still
   * stands alone: a failure undoes its own writes only, it sees the writes of those before it as if they had
   * committed, and its promise settles after the `COMMIT` that holds it (so no durability is lost). A failed `COMMIT`
   * rejects every transaction of its group, none of which is then saved.
   *
   * @throws whatever `work` throws, after rolling back
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    const parent = this.current()
    if (parent !== this.root || this.reader === this.writer) return this.transactionAlone(parent, work)
    const { result, group } = await parent.lock.run(() => this.transactionInGroup(parent, work))
    await group.committed
    return result
  }

  /** A transaction with its own `COMMIT` (or a savepoint of its parent's), as {@link SqliteStore.transaction}. */
  private transactionAlone<T>(parent: Scope, work: () => Promise<T>): Promise<T> {
    return parent.lock.run(async () => {
      const db = this.writer.db
      const depth = parent.depth + 1
      // A nested transaction gets a savepoint, so its failure undoes only its own writes. Siblings are serialized
      // by the parent's lock, so one name per depth is enough.
      const savepoint = depth === 1 ? undefined : `oauthkit_${depth}`
      if (savepoint === undefined) this.takeWriteLock(() => db.exec('BEGIN IMMEDIATE'))
      else db.exec(`SAVEPOINT ${savepoint}`)
      const scope: Scope = { lock: new Mutex(), parent, depth, active: true }
      let result: T
      try {
        result = await this.scopes.run(scope, work)
      } catch (error) {
        await this.end(scope)
        if (db.inTransaction) {
          try {
            db.exec(savepoint === undefined ? 'ROLLBACK' : `ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`)
          } catch {
            // The connection is gone or SQLite rolled back already; the error of `work` is the one to report.
          }
        }
        throw error
      }
      await this.end(scope)
      try {
        // The file may have been moved away while `work` awaited: then nothing of it is committed.
        if (savepoint === undefined) this.checkFiles()
        db.exec(savepoint === undefined ? 'COMMIT' : `RELEASE ${savepoint}`)
      } catch (error) {
        // A failed COMMIT (e.g. SQLITE_IOERR) may leave the transaction open; never leave it for the next caller.
        if (savepoint === undefined && db.inTransaction) db.exec('ROLLBACK')
        throw error
      } finally {
        if (savepoint === undefined) this.endRead()
      }
      return result
    })
  }

  /**
   * A top-level transaction in the open group (begun if there is none), under the store's write lock: `work` runs in
   * the savepoint `oauthkit_1`, which is released when it succeeds and rolled back when it fails. Then the group
   * commits if it is full, or is scheduled to commit on the next turn.
   */
  private async transactionInGroup<T>(parent: Scope, work: () => Promise<T>): Promise<{ result: T; group: TransactionGroup }> {
    const db = this.writer.db
    if (this.transactions === undefined) {
      this.takeWriteLock(() => db.exec('BEGIN IMMEDIATE'))
      this.transactions = new TransactionGroup()
    }
    const group = this.transactions
    const scope: Scope = { lock: new Mutex(), parent, depth: 1, active: true }
    let result: T
    try {
      db.exec('SAVEPOINT oauthkit_1')
      result = await this.scopes.run(scope, work)
      await this.end(scope)
      db.exec('RELEASE oauthkit_1')
    } catch (error) {
      await this.end(scope)
      if (db.open && db.inTransaction) {
        try {
          db.exec('ROLLBACK TO oauthkit_1; RELEASE oauthkit_1')
        } catch {
          // The connection is gone; the error of `work` is the one to report.
        }
      }
      // SQLite rolls the whole transaction back on some errors (disk full, I/O): the group is gone with it.
      if (!(db.open && db.inTransaction)) this.dropTransactions(error)
      else this.commitTransactionsUnlessQueued()
      throw error
    }
    group.size++
    this.commitTransactionsUnlessQueued()
    return { result, group }
  }

  /**
   * Commits the open group of transactions when it is full; otherwise leaves it open for the transactions that begin
   * before the next turn of the event loop (those of the requests read in this one), and commits it on that turn
   * (`setImmediate`, after the calls already waiting for the write lock) unless one of them did.
   */
  private commitTransactionsUnlessQueued(): void {
    const group = this.transactions
    if (group === undefined) return
    if (group.size >= MAX_GROUPED_TRANSACTIONS) return this.commitTransactions()
    if (group.scheduled) return
    group.scheduled = true
    setImmediate(() => {
      void this.root.lock.run(() => {
        if (this.transactions === group) this.commitTransactions()
      })
    })
  }

  /**
   * Commits the open group of transactions, if any, and settles their promises. Called with the write lock held: when
   * the group is full or its turn comes, by any other write before it runs, and by `close`.
   */
  private commitTransactions(): void {
    const group = this.transactions
    if (group === undefined) return
    this.transactions = undefined
    try {
      // The file may have been moved away while the group ran: then nothing of it is committed.
      this.checkFiles()
      this.writer.db.exec('COMMIT')
    } catch (error) {
      this.rollBackQuietly()
      group.settle(error)
      return
    } finally {
      this.endRead()
    }
    group.settle()
  }

  /** Rolls back the writer's transaction, if one is open; the error being handled is the one to report. */
  private rollBackQuietly(): void {
    const db = this.writer.db
    if (!db.open || !db.inTransaction) return
    try {
      db.exec('ROLLBACK')
    } catch {
      // The connection is gone.
    }
  }

  /** Forgets the open group, which SQLite rolled back, rejecting its transactions with `error`. */
  private dropTransactions(error: unknown): void {
    const group = this.transactions
    this.transactions = undefined
    group?.settle(error)
  }

  /**
   * Deletes, in batches of 500 rows, the codes and tokens that expired more than an hour before `now`. The hour keeps
   * a replayed code or a reused refresh token recognisable a while after it expired, so it can still revoke its
   * family. Tokens without expiry are kept. Between batches the write lock is released and the event loop gets a
   * turn, so requests are not held up by a large purge. Signing keys whose `expires_at` is before `now` are deleted
   * too, in one statement (they are few), with no grace: no token they signed is valid any more. Rate-limit windows
   * that ended at or before `now` go too, in batches, with no grace.
   *
   * @returns how many codes, tokens, keys and rate-limit windows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    let deleted = 0
    for (const table of ['codes', 'tokens'] as const) {
      for (;;) {
        const batch = await this.write(
          (sql) => sql(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE expires_at < ? LIMIT ${PURGE_BATCH_SIZE})`).run(cutoff).changes,
        )
        deleted += batch
        if (batch < PURGE_BATCH_SIZE) break
        await new Promise(setImmediate)
      }
    }
    // Keys are few: one statement, against `now` itself.
    deleted += await this.write((sql) => sql('DELETE FROM signing_keys WHERE expires_at < ?').run(now).changes)
    // Rate-limit windows that ended are worth nothing: no grace.
    for (;;) {
      const batch = await this.write(
        (sql) =>
          sql(`DELETE FROM rate_limits WHERE rate_key IN (SELECT rate_key FROM rate_limits WHERE reset_at <= ? LIMIT ${PURGE_BATCH_SIZE})`).run(now).changes,
      )
      deleted += batch
      if (batch < PURGE_BATCH_SIZE) break
      await new Promise(setImmediate)
    }
    return deleted
  }

  /**
   * Closes the database, after the transaction and writes already queued have finished (called from inside a
   * transaction, it cannot wait for it: SQLite rolls it back). Idempotent. Any later call rejects with "The database
   * connection is not open", which {@link SqliteStore.isUnavailableError} accepts.
   */
  async close(): Promise<void> {
    // Writes waiting for their group commit go first.
    if (this.closing === undefined && this.current() === this.root) void this.flushGroup()
    this.closing ??= (this.current() === this.root ? this.root.lock.run(() => this.commitTransactions()) : Promise.resolve()).then(() => {
      // The reader first: the last connection to close checkpoints the WAL into the file and removes it.
      this.endRead()
      if (this.reader !== this.writer) this.reader.db.close()
      this.writer.db.close()
    })
    return this.closing
  }

  /** The innermost transaction still running around the caller, or the root scope. */
  private current(): Scope {
    let scope = this.scopes.getStore()
    // A call left over from a finished transaction (e.g. a promise `work` did not await) belongs to the enclosing one.
    while (scope !== undefined && !scope.active) scope = scope.parent
    return scope ?? this.root
  }

  /** Ends a transaction scope: later calls from it go to the parent; calls already queued in it finish first. */
  private async end(scope: Scope): Promise<void> {
    scope.active = false
    await scope.lock.idle()
  }

  private async read<T>(query: (sql: Sql) => T): Promise<T> {
    // Inside a transaction, read through it to see its own writes; outside, read only committed data.
    if (this.current() !== this.root) return query(this.writer.sql)
    if (this.reader !== this.writer && !this.reading) {
      // One read transaction for the reads of this turn of the event loop: SQLite takes and releases a WAL read lock
      // (two fcntl calls) per transaction, so per statement without it. It ends at the next turn, and as soon as
      // this store commits a write, so a read never misses a write this process made before it. Another process's
      // writes are seen from the next turn on.
      this.reader.sql('BEGIN').run()
      this.reading = true
      setImmediate(this.endRead)
    }
    return query(this.reader.sql)
  }

  /**
   * `read` for a value that every request of a turn asks for (the client of a token request), read once per read
   * transaction: within one, SQLite shows every read the same snapshot, so a second read could only give the same
   * answer. Inside a transaction, or on an in-memory database (no read transaction), it is a plain `read`. The value
   * is shared: the caller hands out copies.
   */
  private readShared<T>(key: string, query: (sql: Sql) => T): Promise<T> {
    if (this.current() !== this.root || this.reader === this.writer) return this.read(query)
    return this.read((sql) => {
      const shared = (this.shared ??= new Map())
      if (shared.has(key)) return shared.get(key) as T
      const value = query(sql)
      shared.set(key, value)
      return value
    })
  }

  /** Ends the reads' transaction, if one is open (see `read`). */
  private readonly endRead = (): void => {
    this.shared = undefined
    if (!this.reading) return
    this.reading = false
    if (this.reader.db.open && this.reader.db.inTransaction) this.reader.sql('COMMIT').run()
  }

  private write<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T> {
    const scope = this.current()
    // Outside a transaction, the statement takes SQLite's write lock itself.
    if (scope === this.root) {
      return scope.lock.run(() => {
        try {
          this.commitTransactions()
          return this.takeWriteLock(() => change(this.writer.sql, this.writer.db))
        } finally {
          this.endRead()
        }
      })
    }
    return scope.lock.run(() => change(this.writer.sql, this.writer.db))
  }

  /**
   * A write that stands on its own (a token insert: it depends on no read and no other write), committed together
   * with the others made in the same turn of the event loop: outside a transaction, it is queued, and one
   * `BEGIN IMMEDIATE … COMMIT` on the next turn (`setImmediate`) holds them all. The promise settles once that
   * transaction has committed, so durability is the same as a write of its own; what a group saves is SQLite's
   * per-transaction work (WAL frames of the same pages, locks, the `stat`s of `checkFiles`), which under concurrent
   * requests is most of the cost of a token. Each write is a single statement or its own savepoint, so one that fails
   * (a constraint) is undone alone and rejects alone; a failure of the transaction itself rejects them all. Inside a
   * transaction, it is an ordinary write of that transaction.
   */
  private writeGrouped<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T> {
    if (this.current() !== this.root) return this.write(change)
    return new Promise<T>((resolve, reject) => {
      if (this.group === undefined) {
        this.group = []
        setImmediate(() => void this.flushGroup())
      }
      this.group.push({ change, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  /** Commits the writes queued for the group, after the writes and transactions queued before them. Never rejects. */
  private flushGroup(): Promise<void> {
    const group = this.group
    this.group = undefined
    return group === undefined ? Promise.resolve() : this.root.lock.run(() => this.commitGroup(group))
  }

  private commitGroup(group: readonly GroupedWrite[]): void {
    try {
      this.commitTransactions()
      this.commitGroupNow(group)
    } finally {
      this.endRead()
    }
  }

  private commitGroupNow(group: readonly GroupedWrite[]): void {
    const { db, sql } = this.writer
    if (group.length === 1) {
      // Alone, it commits as an ordinary write: no BEGIN and COMMIT around its statement.
      const [write] = group as [GroupedWrite]
      try {
        write.resolve(this.takeWriteLock(() => write.change(sql, db)))
      } catch (error) {
        write.reject(error)
      }
      return
    }
    const outcomes: { ok: boolean; value: unknown }[] = []
    try {
      // No file check before BEGIN: the group runs without a pause up to its COMMIT, and is checked right before it.
      this.takeWriteLock(() => db.exec('BEGIN IMMEDIATE'), false)
      for (const write of group) {
        try {
          outcomes.push({ ok: true, value: write.change(sql, db) })
        } catch (error) {
          // A failed statement undoes itself; if SQLite rolled the whole transaction back (disk full, I/O error), the
          // writes before it are gone too, and all fail with it.
          if (!db.inTransaction) throw error
          outcomes.push({ ok: false, value: error })
        }
      }
      // The file may have been moved away meanwhile: then nothing of the group is committed.
      this.checkFiles()
      db.exec('COMMIT')
    } catch (error) {
      this.rollBackQuietly()
      for (const write of group) write.reject(error)
      return
    }
    group.forEach((write, i) => {
      const outcome = outcomes[i] as { ok: boolean; value: unknown }
      if (outcome.ok) write.resolve(outcome.value)
      else write.reject(outcome.value)
    })
  }

  /**
   * Runs `attempt`, which takes SQLite's write lock (`BEGIN IMMEDIATE`, or a write outside a transaction), once
   * {@link SqliteStore.checkFiles} passed (unless `checkFirst` is false: the caller checks before it commits).
   *
   * When another process holds the lock past the busy timeout, waiting the busy timeout again for every write would
   * block the event loop that long per write, one after the other, and requests would pile up behind a stuck lock.
   * So after an `SQLITE_BUSY`, writes try the lock without waiting, until one gets it.
   */
  private takeWriteLock<T>(attempt: () => T, checkFirst = true): T {
    if (checkFirst) this.checkFiles()
    let busy = false
    try {
      return attempt()
    } catch (error) {
      busy = /^SQLITE_BUSY(?:_|$)/.test(String((error as { code?: unknown }).code))
      throw error
    } finally {
      if (busy !== this.lockedOut && this.writer.db.open) {
        this.lockedOut = busy
        this.writer.db.pragma(`busy_timeout = ${busy ? 0 : this.busyTimeoutMs}`)
      }
    }
  }

  /**
   * Throws `SQLITE_READONLY_DBMOVED` unless the database file and its WAL at the store's path are still the ones it
   * opened. On Linux an open database that was moved or removed goes on working, on files that no longer have its
   * name: a write would go where the next start does not look (and a removed file is gone for good). SQLite checks
   * this itself only in rollback-journal mode. One `stat` per file, per write transaction.
   */
  private checkFiles(): void {
    for (const file of this.files) {
      const now = statSync(file.path, { throwIfNoEntry: false })
      if (now === undefined || now.ino !== file.ino || now.dev !== file.dev) {
        throw new Database.SqliteError(`${file.path} was moved or removed since the store opened it: writes are refused until it is back`, DB_MOVED_CODE)
      }
    }
  }
}

/** A file as the store opened it: where, and which one (device and inode). */
interface OpenedFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

/** The database file and its WAL (SQLite keeps the same WAL file while the database is open). */
function openedFiles(path: string): OpenedFile[] {
  return [path, `${path}-wal`].flatMap((file) => {
    const stat = statSync(file, { throwIfNoEntry: false })
    return stat === undefined ? [] : [{ path: file, dev: stat.dev, ino: stat.ino }]
  })
}

// ---------------------------------------------------------------------------------------------------------------------
// Connections, locks and scopes

/** Prepares SQL once per connection and text; the texts are the constants of this file. */
type Sql = (text: string) => Database.Statement

class Connection {
  private readonly statements = new Map<string, Database.Statement>()
  constructor(readonly db: Database.Database) {}
  readonly sql: Sql = (text) => {
    let statement = this.statements.get(text)
    if (statement === undefined) {
      statement = this.db.prepare(text)
      this.statements.set(text, statement)
    }
    return statement
  }
}

/** First come, first served mutual exclusion for async work. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  /** Runs `critical` after everything queued before it has settled. */
  run<T>(critical: () => T | Promise<T>): Promise<T> {
    const turn = this.tail.then(critical)
    this.tail = turn.catch(() => undefined)
    return turn
  }

  /** Settles when everything queued so far has. */
  idle(): Promise<unknown> {
    return this.tail
  }
}

/**
 * A transaction level: outside any (the root) or one transaction. Writes made in a scope, and transactions begun in
 * it, take turns on its lock. `active` is cleared when the transaction ends.
 */
interface Scope {
  readonly lock: Mutex
  readonly parent: Scope | undefined
  readonly depth: number
  active: boolean
}

/** A write waiting for its group commit, and how to settle its caller's promise. */
interface GroupedWrite {
  readonly change: (sql: Sql, db: Database.Database) => unknown
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

/** The most transactions one `COMMIT` holds: a bound on how long the first of a group waits for its answer. */
const MAX_GROUPED_TRANSACTIONS = 32

/** Transactions done and waiting for the `COMMIT` they share (see {@link SqliteStore.transaction}). */
class TransactionGroup {
  /** How many transactions succeeded in it. */
  size = 0
  /** Whether its `COMMIT` is scheduled for the next turn of the event loop. */
  scheduled = false
  /** Settles when the group has committed, or rejects with why it did not. */
  readonly committed: Promise<void>
  settle!: (error?: unknown) => void

  constructor() {
    this.committed = new Promise<void>((resolve, reject) => {
      this.settle = (error?: unknown) => (error === undefined ? resolve() : reject(error))
    })
    // Rejections reach the transactions that wait for it; a group whose transactions all failed has no one waiting.
    this.committed.catch(() => {})
  }
}

/** A record being built from a row, its optional fields set one by one. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** How the tables reach the database: reads need no lock, writes take the caller's scope's. */
interface Access {
  read<T>(query: (sql: Sql) => T): Promise<T>
  /** A read whose value is shared by the reads of the same key in one read transaction (see `readShared`). */
  readShared<T>(key: string, query: (sql: Sql) => T): Promise<T>
  write<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T>
  /** A write that stands on its own, committed in a group with others outside a transaction (see `writeGrouped`). */
  writeGrouped<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T>
}

// ---------------------------------------------------------------------------------------------------------------------
// Tables

interface ClientRow {
  client_id: string
  name: string
  secret_hash: string | null
  redirect_uris: string
  grant_types: string
  response_types: string
  scopes: string
  resources: string
  token_endpoint_auth_method: TokenEndpointAuthMethod
  created_at: number
}

class SqliteClientTable implements ClientTable {
  constructor(private readonly access: Access) {}

  async insert(record: ClientRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO clients (client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, token_endpoint_auth_method, created_at)
         VALUES (@client_id, @name, @secret_hash, @redirect_uris, @grant_types, @response_types, @scopes, @resources, @token_endpoint_auth_method, @created_at)`,
      ).run({
        client_id: record.clientId,
        name: record.name,
        secret_hash: record.secretHash ?? null,
        redirect_uris: JSON.stringify(record.redirectUris),
        grant_types: JSON.stringify(record.grantTypes),
        response_types: JSON.stringify(record.responseTypes),
        scopes: JSON.stringify(record.scopes),
        resources: JSON.stringify(record.resources),
        token_endpoint_auth_method: record.tokenEndpointAuthMethod,
        created_at: record.createdAt,
      } satisfies ClientRow),
    )
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    // Every token request reads its client: the requests of one turn share one read (and its lists' parse).
    const record = await this.access.readShared(`client ${clientId}`, (sql) => {
      const row = sql('SELECT * FROM clients WHERE client_id = ?').get(clientId) as ClientRow | undefined
      return row === undefined ? undefined : clientRecord(row)
    })
    // A copy of its own for each caller; the lists are frozen, so they may be shared.
    return record === undefined ? undefined : { ...record }
  }

  async list(): Promise<readonly ClientRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM clients ORDER BY created_at, client_id').all() as ClientRow[])
    return rows.map(clientRecord)
  }

  async delete(clientId: string): Promise<boolean> {
    // Codes, tokens and consents go with it: ON DELETE CASCADE.
    return this.access.write((sql) => sql('DELETE FROM clients WHERE client_id = ?').run(clientId).changes === 1)
  }

  async updateSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return this.access.write((sql) => sql('UPDATE clients SET secret_hash = ? WHERE client_id = ?').run(secretHash, clientId).changes === 1)
  }
}

function clientRecord(row: ClientRow): ClientRecord {
  const record: Mutable<ClientRecord> = {
    clientId: row.client_id,
    name: row.name,
    redirectUris: list(row.redirect_uris),
    grantTypes: list(row.grant_types),
    responseTypes: list(row.response_types),
    scopes: list(row.scopes),
    resources: list(row.resources),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    createdAt: row.created_at,
  }
  // Optional fields set after, not spread in: V8 builds `{ ...(c ? {} : { x }), y }` on a slow path.
  if (row.secret_hash !== null) record.secretHash = row.secret_hash
  return record
}

interface UserRow {
  user_id: string
  username: string
  password_hash: string
  created_at: number
}

class SqliteUserTable implements UserTable {
  constructor(private readonly access: Access) {}

  async insert(record: UserRecord): Promise<void> {
    await this.access.write((sql) =>
      sql('INSERT INTO users (user_id, username, password_hash, created_at) VALUES (@user_id, @username, @password_hash, @created_at)').run({
        user_id: record.userId,
        username: record.username,
        password_hash: record.passwordHash,
        created_at: record.createdAt,
      } satisfies UserRow),
    )
  }

  async get(userId: string): Promise<UserRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM users WHERE user_id = ?').get(userId) as UserRow | undefined)
    return row === undefined ? undefined : userRecord(row)
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined)
    return row === undefined ? undefined : userRecord(row)
  }

  async list(): Promise<readonly UserRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM users ORDER BY created_at, user_id').all() as UserRow[])
    return rows.map(userRecord)
  }

  async delete(userId: string): Promise<boolean> {
    // Codes, tokens and consents go with them: ON DELETE CASCADE.
    return this.access.write((sql) => sql('DELETE FROM users WHERE user_id = ?').run(userId).changes === 1)
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.access.write((sql) => sql('UPDATE users SET password_hash = ? WHERE user_id = ?').run(passwordHash, userId).changes === 1)
  }
}

function userRecord(row: UserRow): UserRecord {
  return { userId: row.user_id, username: row.username, passwordHash: row.password_hash, createdAt: row.created_at }
}

interface CodeRow {
  code_hash: string
  client_id: string
  user_id: string
  scopes: string
  redirect_uri: string | null
  code_challenge: string | null
  code_challenge_method: 'S256' | 'plain' | null
  resources: string
  expires_at: number
  grant_id: string
  consumed_at: number | null
}

class SqliteCodeTable implements CodeTable {
  constructor(private readonly access: Access) {}

  async insert(record: CodeRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO codes (code_hash, client_id, user_id, scopes, redirect_uri, code_challenge, code_challenge_method, resources, expires_at, grant_id, consumed_at)
         VALUES (@code_hash, @client_id, @user_id, @scopes, @redirect_uri, @code_challenge, @code_challenge_method, @resources, @expires_at, @grant_id, @consumed_at)`,
      ).run({
        code_hash: record.codeHash,
        client_id: record.clientId,
        user_id: record.userId,
        scopes: JSON.stringify(record.scopes),
        redirect_uri: record.redirectUri ?? null,
        code_challenge: record.codeChallenge ?? null,
        code_challenge_method: record.codeChallengeMethod ?? null,
        resources: JSON.stringify(record.resources),
        expires_at: record.expiresAt,
        grant_id: record.grantId,
        consumed_at: record.consumedAt ?? null,
      } satisfies CodeRow),
    )
  }

  async get(codeHash: string): Promise<CodeRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM codes WHERE code_hash = ?').get(codeHash) as CodeRow | undefined)
    if (row === undefined) return undefined
    const record: Mutable<CodeRecord> = {
      codeHash: row.code_hash,
      clientId: row.client_id,
      userId: row.user_id,
      scopes: list(row.scopes),
      resources: list(row.resources),
      expiresAt: row.expires_at,
      grantId: row.grant_id,
    }
    if (row.redirect_uri !== null) record.redirectUri = row.redirect_uri
    if (row.code_challenge !== null) record.codeChallenge = row.code_challenge
    if (row.code_challenge_method !== null) record.codeChallengeMethod = row.code_challenge_method
    if (row.consumed_at !== null) record.consumedAt = row.consumed_at
    return record
  }

  async consume(codeHash: string, now: number): Promise<boolean> {
    // The condition makes it a compare-and-set: of concurrent calls, only the first UPDATE matches the row.
    return this.access.write(
      (sql) => sql('UPDATE codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL').run(now, codeHash).changes === 1,
    )
  }
}

interface TokenRow {
  token_hash: string
  type: 'access_token' | 'refresh_token'
  client_id: string
  user_id: string | null
  scopes: string
  resources: string
  issued_at: number
  expires_at: number | null
  grant_id: string
  revoked_at: number | null
  rotated_at: number | null
}

class SqliteTokenTable implements TokenTable {
  constructor(private readonly access: Access) {}

  async insert(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.access.writeGrouped((sql, db) => {
      const insert = sql(
        `INSERT INTO tokens (token_hash, type, client_id, user_id, scopes, resources, issued_at, expires_at, grant_id, revoked_at, rotated_at)
         VALUES (@token_hash, @type, @client_id, @user_id, @scopes, @resources, @issued_at, @expires_at, @grant_id, @revoked_at, @rotated_at)`,
      )
      const insertRecord = (record: TokenRecord) =>
        insert.run({
          token_hash: record.tokenHash,
          type: record.type,
          client_id: record.clientId,
          user_id: record.userId ?? null,
          scopes: JSON.stringify(record.scopes),
          resources: JSON.stringify(record.resources),
          issued_at: record.issuedAt,
          expires_at: record.expiresAt ?? null,
          grant_id: record.grantId,
          revoked_at: record.revokedAt ?? null,
          rotated_at: record.rotatedAt ?? null,
        } satisfies TokenRow)
      // One statement is whole on its own; a response's two tokens are saved together or not at all (a savepoint when
      // inside a transaction).
      if (records.length === 1) insertRecord(records[0] as TokenRecord)
      else db.transaction(() => records.forEach(insertRecord))()
    })
  }

  async get(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined)
    if (row === undefined) return undefined
    const record: Mutable<TokenRecord> = {
      tokenHash: row.token_hash,
      type: row.type,
      clientId: row.client_id,
      scopes: list(row.scopes),
      resources: list(row.resources),
      issuedAt: row.issued_at,
      grantId: row.grant_id,
    }
    if (row.user_id !== null) record.userId = row.user_id
    if (row.expires_at !== null) record.expiresAt = row.expires_at
    if (row.revoked_at !== null) record.revokedAt = row.revoked_at
    if (row.rotated_at !== null) record.rotatedAt = row.rotated_at
    return record
  }

  async revoke(tokenHash: string, now: number): Promise<boolean> {
    // COALESCE keeps the first revocation time; the row still counts as changed, which tells that it exists.
    return this.access.write(
      (sql) => sql('UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE token_hash = ?').run(now, tokenHash).changes === 1,
    )
  }

  async rotate(tokenHash: string, now: number): Promise<boolean> {
    // Compare-and-set, as for codes: only one concurrent refresh matches a token not yet rotated nor revoked.
    return this.access.write(
      (sql) =>
        sql(`UPDATE tokens SET rotated_at = ? WHERE token_hash = ? AND type = 'refresh_token' AND rotated_at IS NULL AND revoked_at IS NULL`).run(
          now,
          tokenHash,
        ).changes === 1,
    )
  }

  async revokeFamily(grantId: string, now: number): Promise<number> {
    return this.access.write((sql) => sql('UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL').run(now, grantId).changes)
  }
}

interface ConsentRow {
  client_id: string
  user_id: string
  scopes: string
  granted_at: number
}

class SqliteConsentTable implements ConsentTable {
  constructor(private readonly access: Access) {}

  async get(clientId: string, userId: string): Promise<ConsentRecord | undefined> {
    const row = await this.access.read(
      (sql) => sql('SELECT * FROM consents WHERE client_id = ? AND user_id = ?').get(clientId, userId) as ConsentRow | undefined,
    )
    return row === undefined ? undefined : { clientId: row.client_id, userId: row.user_id, scopes: list(row.scopes), grantedAt: row.granted_at }
  }

  async put(record: ConsentRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO consents (client_id, user_id, scopes, granted_at) VALUES (@client_id, @user_id, @scopes, @granted_at)
         ON CONFLICT (client_id, user_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
      ).run({ client_id: record.clientId, user_id: record.userId, scopes: JSON.stringify(record.scopes), granted_at: record.grantedAt } satisfies ConsentRow),
    )
  }

  async delete(clientId: string, userId: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM consents WHERE client_id = ? AND user_id = ?').run(clientId, userId).changes === 1)
  }
}

interface SigningKeyRow {
  kid: string
  alg: SigningKeyRecord['alg']
  private_jwk: string
  public_jwk: string
  created_at: number
  retired_at: number | null
  expires_at: number | null
}

class SqliteKeyTable implements KeyTable {
  constructor(private readonly access: Access) {}

  async insert(record: SigningKeyRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
         VALUES (@kid, @alg, @private_jwk, @public_jwk, @created_at, @retired_at, @expires_at)`,
      ).run({
        kid: record.kid,
        alg: record.alg,
        private_jwk: record.privateJwk,
        public_jwk: record.publicJwk,
        created_at: record.createdAt,
        retired_at: record.retiredAt ?? null,
        expires_at: record.expiresAt ?? null,
      } satisfies SigningKeyRow),
    )
  }

  async list(): Promise<readonly SigningKeyRecord[]> {
    // rowid grows with each insert: it orders the keys created in the same second.
    const rows = await this.access.read((sql) => sql('SELECT * FROM signing_keys ORDER BY created_at DESC, rowid DESC').all() as SigningKeyRow[])
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateJwk: row.private_jwk,
      publicJwk: row.public_jwk,
      createdAt: row.created_at,
      ...(row.retired_at === null ? {} : { retiredAt: row.retired_at }),
      ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    }))
  }

  async retire(kid: string, retiredAt: number, expiresAt: number): Promise<boolean> {
    // Compare-and-set, as for codes: only one concurrent retirement matches a key still signing.
    return this.access.write(
      (sql) => sql('UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE kid = ? AND retired_at IS NULL').run(retiredAt, expiresAt, kid).changes === 1,
    )
  }

  async delete(kid: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM signing_keys WHERE kid = ?').run(kid).changes === 1)
  }
}

interface RateLimitRow {
  rate_key: string
  hits: number
  reset_at: number
}

class SqliteRateLimitTable implements RateLimitTable {
  constructor(private readonly access: Access) {}

  async hit(key: string, windowSeconds: number, now: number): Promise<RateLimitWindow> {
    // One UPSERT: a running window counts on, an ended one starts over (the SET expressions read the old row).
    const row = await this.access.write(
      (sql) =>
        sql(
          `INSERT INTO rate_limits (rate_key, hits, reset_at) VALUES (@key, 1, @now + @window)
           ON CONFLICT (rate_key) DO UPDATE SET
             hits = CASE WHEN reset_at > @now THEN hits + 1 ELSE 1 END,
             reset_at = CASE WHEN reset_at > @now THEN reset_at ELSE excluded.reset_at END
           RETURNING hits, reset_at`,
        ).get({ key, now, window: windowSeconds }) as Omit<RateLimitRow, 'rate_key'>,
    )
    return { count: row.hits, resetAt: row.reset_at }
  }

  async peek(keys: readonly string[], now: number): Promise<readonly (RateLimitWindow | undefined)[]> {
    if (keys.length === 0) return []
    // One statement per number of keys (callers use one to three), prepared once each; the token requests of one turn
    // (one client, one address) share its answer (see `readShared`).
    const rows = await this.access.readShared(
      `rate limits ${JSON.stringify([now, ...keys])}`,
      (sql) =>
        sql(`SELECT rate_key, hits, reset_at FROM rate_limits WHERE rate_key IN (${keys.map(() => '?').join(', ')}) AND reset_at > ?`).all(
          ...keys,
          now,
        ) as RateLimitRow[],
    )
    return keys.map((key) => {
      const row = rows.find((candidate) => candidate.rate_key === key)
      return row === undefined ? undefined : { count: row.hits, resetAt: row.reset_at }
    })
  }

  async reset(key: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM rate_limits WHERE rate_key = ?').run(key).changes === 1)
  }
}

/** A JSON array column as a fresh frozen array: callers get their own copy and cannot alter it by accident. */
function list(json: string): readonly string[] {
  return Object.freeze(JSON.parse(json) as string[])
}
