/**
 * How the SQLite store reaches its database: one connection that writes, one that reads committed data, the write
 * lock its writes and transactions take turns on, and the group commit of the token inserts and transactions of one
 * turn of the event loop (through the stores' one batching module, `batch.ts`).
 *
 * What stays here rather than in `batch.ts`: better-sqlite3 is synchronous and has one writing connection, so the
 * statements of every request share one SQLite transaction at a time. The lock ({@link Lock}) serializes them, and
 * each transaction level (a {@link Scope}) has its own, so that calls made inside a transaction do not wait for the
 * lock their transaction holds.
 *
 * @module
 * @internal
 */
import { resolve } from 'node:path'
import type Database from 'better-sqlite3'
import { CallFailure, TurnBatch } from '../batch.js'
import { Lock } from '../lock.js'
import { TransactionStorage } from '../transaction-storage.js'
import { checkFiles, openedFiles, type OpenedFile } from './files.js'

/** Prepares SQL once per connection and text; the texts are the constants of the tables. */
export type Sql = (text: string) => Database.Statement

/** How the tables reach the database: reads need no lock, writes take the caller's scope's. */
export interface Access {
  read<T>(query: (sql: Sql) => T): Promise<T>
  /** A read whose value is shared by the reads of the same key in one read transaction (see `readShared`). */
  readShared<T>(key: string, query: (sql: Sql) => T): Promise<T>
  write<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T>
  /** A write that stands on its own, committed in a group with others outside a transaction (see `writeGrouped`). */
  writeGrouped<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T>
}

/**
 * The most one `COMMIT` holds, in weight: a grouped write weighs 1 and a transaction {@link TRANSACTION_WEIGHT}, so
 * a group holds at most 128 token inserts or 32 transactions. A bound on how long the first of a group waits.
 */
const MAX_GROUP_WEIGHT = 128
const TRANSACTION_WEIGHT = 4

/** One member of a group commit: a write that stands on its own, or a whole transaction's `work`. */
interface GroupMember {
  readonly change?: ((sql: Sql, db: Database.Database) => unknown) | undefined
  readonly work?: (() => Promise<unknown>) | undefined
}

/**
 * A transaction level: outside any (the root) or one transaction. Writes made in a scope, and transactions begun in
 * it, take turns on its lock. `active` is cleared when the transaction ends.
 */
interface Scope {
  readonly lock: Lock
  readonly parent: Scope | undefined
  readonly depth: number
  active: boolean
}

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

/** The connections of a `SqliteStore`, its write lock, its transactions and its group commits. */
export class SqliteTransactions implements Access {
  private readonly writer: Connection
  private readonly reader: Connection
  /** The scope outside any transaction; its lock is the store's write lock. */
  private readonly root: Scope = { lock: new Lock(), parent: undefined, depth: 0, active: true }
  /** The transaction scope a table call runs in, if any (see {@link SqliteTransactions.transaction}). */
  private readonly scopes = new TransactionStorage<Scope>()
  /** The grouped writes and top-level transactions of one turn, which share one `COMMIT` (see `commitGroup`). */
  private readonly group: TurnBatch<GroupMember, unknown>
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

  constructor(writer: Database.Database, reader: Database.Database) {
    this.writer = new Connection(writer)
    this.reader = reader === writer ? this.writer : new Connection(reader)
    this.files = writer.memory ? [] : openedFiles(resolve(writer.name))
    this.busyTimeoutMs = writer.pragma('busy_timeout', { simple: true }) as number
    this.group = new TurnBatch<GroupMember, unknown>({
      // Groups take the write lock, so they commit one after another, after the writes queued before them.
      run: (members) => this.root.lock.run(() => this.commitGroup(members)),
      maxWeight: MAX_GROUP_WEIGHT,
      // What better-sqlite3 says of a closed connection, which `isUnavailableError` accepts.
      closedError: () => new TypeError('The database connection is not open'),
    })
  }

  /**
   * Runs `work` in one SQLite transaction (see `SqliteStore.transaction`). A top-level transaction on a database file
   * joins the group commit of its turn, in the savepoint `oauthkit_1` of the group's transaction; a nested one gets a
   * savepoint of its parent; a top-level one on an in-memory database (whose reads outside transactions share the
   * writing connection, and would see a group in progress) commits alone.
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    const parent = this.current()
    if (parent !== this.root) return parent.lock.run(() => this.inSavepoint(parent, work))
    if (this.reader !== this.writer) return this.group.add({ work }, TRANSACTION_WEIGHT) as Promise<T>
    return parent.lock.run(async () => {
      this.takeWriteLock(() => this.writer.sql('BEGIN IMMEDIATE').run())
      try {
        const result = await this.inSavepoint(parent, work)
        this.writer.sql('COMMIT').run()
        return result
      } catch (error) {
        this.rollBackQuietly()
        throw error
      } finally {
        this.endRead()
      }
    })
  }

  async read<T>(query: (sql: Sql) => T): Promise<T> {
    // Inside a transaction, read through it to see its own writes; outside, read only committed data.
    if (this.current() !== this.root) return query(this.writer.sql)
    if (this.reader !== this.writer && !this.reading) {
      // One read transaction for the reads of this turn of the event loop: SQLite takes and releases a WAL read lock
      // (two fcntl calls) per transaction, so per statement without it. It ends at the next turn, and as soon as
      // this store commits a write, so a read never misses a write this process made before it. Another process's
      // writes are seen from the next turn on. A snapshot, not a batch: each read is answered at once.
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
  readShared<T>(key: string, query: (sql: Sql) => T): Promise<T> {
    if (this.current() !== this.root || this.reader === this.writer) return this.read(query)
    return this.read((sql) => {
      const shared = (this.shared ??= new Map())
      if (shared.has(key)) return shared.get(key) as T
      const value = query(sql)
      shared.set(key, value)
      return value
    })
  }

  write<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T> {
    const scope = this.current()
    // Outside a transaction, the statement takes SQLite's write lock itself, after the groups queued before it.
    if (scope === this.root) {
      return scope.lock.run(() => {
        try {
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
   * with the others made in the same turn of the event loop. Each is a single statement or its own savepoint, so one
   * that fails (a constraint) is undone alone and rejects alone. Inside a transaction, it is an ordinary write of
   * that transaction.
   */
  writeGrouped<T>(change: (sql: Sql, db: Database.Database) => T): Promise<T> {
    if (this.current() !== this.root) return this.write(change)
    return this.group.add({ change }) as Promise<T>
  }

  /**
   * Closes the connections, after the groups and writes already queued have committed (called from inside a
   * transaction, it cannot wait for it: SQLite rolls it back). Idempotent.
   */
  close(): Promise<void> {
    const waiting = this.current() === this.root ? this.group.close().then(() => this.root.lock.run(() => undefined)) : Promise.resolve()
    this.closing ??= waiting.then(() => {
      // The reader first: the last connection to close checkpoints the WAL into the file and removes it.
      this.endRead()
      if (this.reader !== this.writer) this.reader.db.close()
      this.writer.db.close()
    })
    return this.closing
  }

  /**
   * Commits a group, under the write lock: one `BEGIN IMMEDIATE … COMMIT` around every member, each write a statement
   * (or savepoint) of its own and each transaction in the savepoint `oauthkit_1`, so that a member that fails is undone
   * alone and its caller alone rejects, and each member sees the writes of those before it as if they had committed.
   * The group is answered after its `COMMIT`, so durability is that of a write of its own; what it saves is SQLite's
   * per-transaction work (WAL frames of the same pages, locks, the `stat`s of `checkFiles`), which under concurrent
   * requests is most of the cost of a short write. A failure of the transaction itself (the lock, the files, the
   * `COMMIT`, or SQLite rolling everything back on a disk or I/O error) rejects the whole group, none of it saved.
   */
  private async commitGroup(members: readonly GroupMember[]): Promise<readonly unknown[]> {
    const { db, sql } = this.writer
    const alone = members.length === 1 ? members[0]?.change : undefined
    try {
      // Alone, a write commits as an ordinary write: no BEGIN and COMMIT around its statement.
      if (alone !== undefined) return [this.takeWriteLock(() => alone(sql, db))]
      // No file check before BEGIN: the files are checked right before the COMMIT.
      this.takeWriteLock(() => sql('BEGIN IMMEDIATE').run(), false)
      const outputs: unknown[] = []
      for (const member of members) {
        try {
          outputs.push(member.work === undefined ? member.change?.(sql, db) : await this.inSavepoint(this.root, member.work))
        } catch (error) {
          if (!(db.open && db.inTransaction)) throw error
          outputs.push(new CallFailure(error))
        }
      }
      // The file may have been moved away meanwhile: then nothing of the group is committed.
      checkFiles(this.files)
      sql('COMMIT').run()
      return outputs
    } catch (error) {
      this.rollBackQuietly()
      throw error
    } finally {
      this.endRead()
    }
  }

  /**
   * Runs `work` in a savepoint one level below `parent`, under a scope of its own: released when `work` succeeds,
   * rolled back (its writes alone) when it throws, after the calls `work` left queued in its scope have finished.
   */
  private async inSavepoint<T>(parent: Scope, work: () => Promise<T>): Promise<T> {
    const { db, sql } = this.writer
    const scope: Scope = { lock: new Lock(), parent, depth: parent.depth + 1, active: true }
    // Siblings are serialized by the parent's lock (or the group), so one name per depth is enough. Prepared once, like
    // every statement of the store: parsed again at each `exec`, they cost the bench's cc-opaque case over SQLite 15k
    // instructions a token (callgrind), 5 % of it.
    const savepoint = `oauthkit_${scope.depth}`
    sql(`SAVEPOINT ${savepoint}`).run()
    try {
      const result = await this.scopes.run(scope, work)
      await this.end(scope)
      sql(`RELEASE ${savepoint}`).run()
      return result
    } catch (error) {
      await this.end(scope)
      if (db.open && db.inTransaction) {
        try {
          db.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`)
        } catch {
          // The connection is gone; the error of `work` is the one to report.
        }
      }
      throw error
    }
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

  /** Ends the reads' transaction, if one is open (see `read`). */
  private readonly endRead = (): void => {
    this.shared = undefined
    if (!this.reading) return
    this.reading = false
    if (this.reader.db.open && this.reader.db.inTransaction) this.reader.sql('COMMIT').run()
  }

  /**
   * Runs `attempt`, which takes SQLite's write lock (`BEGIN IMMEDIATE`, or a write outside a transaction), once the
   * files passed {@link checkFiles} (unless `checkFirst` is false: the caller checks before it commits).
   *
   * When another process holds the lock past the busy timeout, waiting the busy timeout again for every write would
   * block the event loop that long per write, one after the other, and requests would pile up behind a stuck lock.
   * So after an `SQLITE_BUSY`, writes try the lock without waiting, until one gets it.
   */
  private takeWriteLock<T>(attempt: () => T, checkFirst = true): T {
    if (checkFirst) checkFiles(this.files)
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
}
