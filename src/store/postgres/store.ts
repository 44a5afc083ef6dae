/**
 * `PostgresStore`: opening the pool, transactions on one connection, purging and closing. The tables are in
 * `tables.ts` and `token-table.ts`, the schema in `migrations.ts`.
 *
 * @module
 */
import pg from 'pg'
import { TurnBatch } from '../batch.js'
import { PURGE_GRACE_SECONDS, Store } from '../store.js'
import { type ClientTable, type CodeTable, type ConsentTable, type KeyTable, type RateLimitTable, type TokenTable, type UserTable } from '../tables.js'
import { type InitialAccessTokenTable, type InstallationSecretTable, type SessionTable } from '../tables.js'
import { TransactionStorage } from '../transaction-storage.js'
import { closedError, isUnavailable } from './errors.js'
import { PostgresInitialAccessTokenTable } from './initial-access-token-table.js'
import { migrate } from './migrations.js'
import { send, tableNames, type Coalescing, type Connection, type Queryable, type TableNames } from './statements.js'
import { PostgresClientTable, PostgresCodeTable, PostgresConsentTable, PostgresKeyTable, PostgresRateLimitTable, PostgresUserTable } from './tables.js'
import { PostgresInstallationSecretTable, PostgresSessionTable } from './tables.js'
import { PostgresTokenTable } from './token-table.js'

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /**
   * The schema that holds oauthkit's tables, created when missing. Default `public`. Give each application (or each
   * test) its own schema to share one database.
   */
  readonly schema?: string | undefined
  /**
   * Send the store's statements as named prepared statements, which each connection parses and plans once (about a
   * fifth of PostgreSQL's CPU per token insert). Default `true`. Set `false` behind a pooler in transaction mode that
   * cannot keep prepared statements on a connection (PgBouncer before 1.21, or later ones without
   * `max_prepared_statements`).
   */
  readonly preparedStatements?: boolean | undefined
}

/** How long a new connection may take before the attempt fails (and `isUnavailableError` says so). */
const DEFAULT_CONNECTION_TIMEOUT_MS = 5000
/**
 * How long a statement may go unanswered before it fails (and `isUnavailableError` says so): a server that stopped
 * answering (frozen, or cut off without a reset) must fail the request, not hang it. The store's statements take
 * milliseconds; migrations have no limit.
 */
const DEFAULT_QUERY_TIMEOUT_MS = 5000
/**
 * The most calls (for token inserts: rows) a batch ({@link TurnBatch}) puts in one statement; more wait for the next.
 * Far below PostgreSQL's 65,535 parameters per statement (11 per token row), and short enough that a batch that fails
 * and is retried call by call costs little.
 */
const MAX_BATCH = 100

/** Rows deleted per statement by {@link PostgresStore.purgeExpired}: short statements, short row locks. */
const PURGE_BATCH = 500
/**
 * First key of the advisory lock {@link PostgresStore.purgeExpired} holds ("purg"); the second is a hash of the codes
 * table's qualified name, so that each schema purges on its own.
 *
 * @internal
 */
export const PURGE_LOCK_KEY = 0x70757267
/** A transaction in progress (or a savepoint inside one), bound to the async context of its `work`. */
interface TransactionContext {
  readonly client: pg.PoolClient
  /** The enclosing transaction, for a savepoint. */
  readonly parent: TransactionContext | undefined
  readonly depth: number
  /** Set once it ended, so that a call `work` left running afterwards does not use a released client. */
  done: boolean
  /** Settles when the last nested transaction started in it has ended: nested ones run one after another. */
  nested: Promise<void>
}

/**
 * A {@link Store} on PostgreSQL.
 *
 * Tables live in one schema (default `public`): `clients`, `users`, `codes`, `tokens`, `consents`, `signing_keys`,
 * `rate_limits`, `sessions`, `installation_secrets`, `initial_access_tokens` and `schema_migrations`. Codes, tokens,
 * consents and sessions reference their client or user and are deleted with them. Lists are `text[]`, times `bigint`
 * seconds.
 *
 * Table calls inside {@link PostgresStore.transaction} run on that transaction's connection; other calls take a
 * connection from the pool. Outside transactions, the calls that every token request makes are coalesced: the token
 * inserts, client reads and token reads made in the same turn of the event loop go to PostgreSQL as one statement
 * each (one multi-row `INSERT`, one `SELECT … = ANY($1)`), which saves a round trip per call under concurrent load.
 * Each insert still resolves only once its rows are committed, and each read sees every change committed before it
 * was called: nothing is cached beyond the one statement.
 */
export class PostgresStore extends Store {
  /** Clients, table `clients`. */
  readonly clientTable: ClientTable
  /** Users, table `users` (usernames unique). */
  readonly userTable: UserTable
  /** Authorization codes by digest, table `codes`. */
  readonly codes: CodeTable
  /** Access and refresh tokens by digest, table `tokens`, indexed by grant family and expiry. */
  readonly tokens: TokenTable
  /** Consents by client and user, table `consents`. */
  readonly consents: ConsentTable
  /** Signing keys by `kid`, table `signing_keys`, private keys in clear: protect the database like the keys. */
  readonly keys: KeyTable
  /** Rate-limit windows by key, table `rate_limits`: every instance over the database shares the counts. */
  readonly rateLimits: RateLimitTable
  /** Browser sessions by digest, table `sessions`: a sign-out ends a session on every instance. */
  readonly sessions: SessionTable
  /** Installation secrets by name, table `installation_secrets`: every instance gets the same. */
  readonly installationSecrets: InstallationSecretTable
  /** Initial access tokens by digest, table `initial_access_tokens`. */
  readonly initialAccessTokenTable: InitialAccessTokenTable

  private readonly context = new TransactionStorage<TransactionContext>()
  /** The tables' batches, which `close` drains. */
  private readonly batches: Pick<TurnBatch<unknown, unknown>, 'close'>[] = []
  private ended: Promise<void> | undefined

  private constructor(
    private readonly pool: pg.Pool,
    private readonly tables: TableNames,
    prepared: boolean,
  ) {
    super()
    const db: Queryable = { query: (text, values) => send(this.connection(), prepared, text, values) }
    const coalescing: Coalescing = {
      pool: { query: (text, values) => send(this.ended === undefined ? pool : CLOSED, prepared, text, values) },
      outsideTransaction: () => this.activeContext() === undefined,
      // A batch that fails whole is tried again call by call, so that only the faulty calls fail (a duplicate digest, a
      // client deleted meanwhile, a value the server refuses), unless the database is unavailable: retrying would only
      // wait again.
      batch: <I, O>(run: (inputs: readonly I[]) => Promise<readonly O[]>) => {
        const batch = new TurnBatch<I, O>({ run, maxWeight: MAX_BATCH, isolate: (error) => !isUnavailable(error, 0), closedError })
        this.batches.push(batch)
        return batch
      },
    }
    this.clientTable = new PostgresClientTable(db, tables, coalescing)
    this.userTable = new PostgresUserTable(db, tables)
    this.codes = new PostgresCodeTable(db, tables)
    this.tokens = new PostgresTokenTable(db, tables, coalescing)
    this.consents = new PostgresConsentTable(db, tables)
    this.keys = new PostgresKeyTable(db, tables)
    this.rateLimits = new PostgresRateLimitTable(db, tables)
    this.sessions = new PostgresSessionTable(db, tables)
    this.installationSecrets = new PostgresInstallationSecretTable(db, tables)
    this.initialAccessTokenTable = new PostgresInitialAccessTokenTable(db, tables)
  }

  /**
   * Connects a pool, creates the schema if it is missing, and applies the migrations it lacks. Safe to call from many
   * instances at once: they wait for each other on an advisory lock.
   *
   * @param connection - a connection string (`postgresql://user:password@host:5432/db`) or a `pg.PoolConfig` (pool
   *   size, TLS, timeouts, …). Unless it says otherwise, a connection not made within 5 s (`connectionTimeoutMillis`)
   *   and a statement not answered within 5 s (`query_timeout`; migrations have none) fail as unavailable, so that a
   *   server that stopped answering fails requests instead of hanging them.
   * @throws Error when the database's schema version is newer than this oauthkit knows (upgrade oauthkit), or when
   *   the database cannot be reached or migrated; the pool is closed then
   */
  static async open(connection: string | pg.PoolConfig, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schemaName = options.schema ?? 'public'
    if (typeof schemaName !== 'string' || schemaName === '') throw new TypeError('The schema must be a non-empty name')
    // A server that accepts connections but never answers must fail a request, not hang it: 5 s to connect and 5 s
    // for each statement's answer, unless configured.
    const config = typeof connection === 'string' ? { connectionString: connection } : connection
    const pool = new pg.Pool({ connectionTimeoutMillis: DEFAULT_CONNECTION_TIMEOUT_MS, query_timeout: DEFAULT_QUERY_TIMEOUT_MS, ...config })
    // An idle connection that breaks (a server restart) is dropped by the pool, which then emits 'error'; with no
    // listener, Node would end the process. The next query simply takes a new connection.
    pool.on('error', () => {})
    try {
      await migrate(pool, schemaName)
    } catch (error) {
      await pool.end().catch(() => {})
      throw error
    }
    return new PostgresStore(pool, tableNames(schemaName), options.preparedStatements ?? true)
  }

  /**
   * Runs `work` in one transaction on one connection: table calls made inside it (in its async context) use that
   * connection, and commit together or, when `work` throws, not at all (the error is rethrown).
   *
   * A transaction started inside another joins it as a savepoint: when the inner `work` throws, only what it wrote is
   * undone. Nested transactions of one transaction run one after another.
   *
   * As always in PostgreSQL, after a statement fails inside a transaction the statements after it fail too, up to the
   * end of the (nested) transaction it belongs to.
   */
  async transaction<T>(work: () => Promise<T>): Promise<T> {
    const parent = this.activeContext()
    if (parent !== undefined) return this.savepoint(parent, work)
    if (this.ended !== undefined) throw closedError()
    const client = await this.pool.connect()
    const context: TransactionContext = { client, parent: undefined, depth: 0, done: false, nested: Promise.resolve() }
    let broken: Error | undefined
    // A connection lost between two statements is reported as an 'error' event, which would end the process unheard;
    // the next statement fails anyway, and the client must not go back to the pool.
    const onError = (error: Error) => (broken ??= error)
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      const result = await this.context.run(context, work)
      await client.query('COMMIT')
      return result
    } catch (error) {
      if (isUnavailable(error, 0)) {
        // The connection is lost, or the server does not answer: a ROLLBACK would wait as long again. Dropping the
        // connection rolls the transaction back (the server aborts it when it sees the connection close).
        broken ??= error instanceof Error ? error : new Error(String(error))
        throw error
      }
      try {
        await client.query('ROLLBACK')
      } catch (rollbackError) {
        // The connection is gone: the server rolls back on its own; the pool must not reuse this client.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      }
      throw error
    } finally {
      context.done = true
      client.removeListener('error', onError)
      client.release(broken)
    }
  }

  /** Runs `work` inside the transaction `parent`, as a savepoint, after the nested transactions started before it. */
  private async savepoint<T>(parent: TransactionContext, work: () => Promise<T>): Promise<T> {
    const before = parent.nested
    let finished!: () => void
    parent.nested = new Promise((resolve) => (finished = resolve))
    await before
    const context: TransactionContext = { client: parent.client, parent, depth: parent.depth + 1, done: false, nested: Promise.resolve() }
    const name = `oauthkit_savepoint_${context.depth}`
    try {
      await context.client.query(`SAVEPOINT ${name}`)
      try {
        const result = await this.context.run(context, work)
        await context.client.query(`RELEASE SAVEPOINT ${name}`)
        return result
      } catch (error) {
        // If even this fails, the connection is gone and the outermost transaction fails with it. Not tried when the
        // server does not answer: the outermost transaction drops the connection.
        if (!isUnavailable(error, 0)) await context.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {})
        throw error
      }
    } finally {
      context.done = true
      finished()
    }
  }

  /**
   * Deletes codes and tokens that expired more than an hour before `now`, and refresh tokens without expiry revoked
   * more than an hour before `now` (the hour keeps a replayed code or reused refresh token recognisable). It deletes
   * 500 rows per statement and skips rows locked by requests in flight, so requests are never held up. Also deletes
   * the signing keys whose `expires_at` is before `now` (no grace: no token they signed is valid any more), and the
   * rate-limit windows, sessions and initial access tokens that ended at or before `now`. Run it from a timer on any
   * instance: it holds an advisory lock while it runs, and a purge that finds it held by another instance (of the same
   * schema) deletes nothing and returns 0.
   *
   * @returns how many rows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    // Each table and condition, deleted in batches. A row in use right now is skipped (SKIP LOCKED).
    const expired: readonly (readonly [string, string, number])[] = [
      [this.tables.codes, 'expires_at < $1', cutoff],
      [this.tables.tokens, 'expires_at < $1', cutoff],
      // A refresh token without expiry is kept for reuse detection until it has been revoked for the grace period.
      [this.tables.tokens, 'expires_at IS NULL AND revoked_at < $1', cutoff],
      // Rate-limit windows and sessions that ended are worth nothing: no grace.
      [this.tables.rateLimits, 'reset_at <= $1', now],
      [this.tables.sessions, 'expires_at <= $1', now],
    ]
    if (this.ended !== undefined) throw closedError()
    // One instance at a time: the others skip this round rather than compete for the same rows.
    const client = await this.pool.connect()
    // A connection on which a statement failed may still hold the lock (a timed-out unlock is never sent): it is
    // closed rather than pooled, which ends its session and so releases the lock.
    let failure: Error | undefined
    try {
      const lock = [PURGE_LOCK_KEY, this.tables.codes]
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked', lock)
      if (rows[0]?.locked !== true) return 0
      try {
        let total = 0
        for (const [table, condition, before] of expired) {
          for (;;) {
            const result = await client.query(
              `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${condition} LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`,
              [before],
            )
            const deleted = result.rowCount ?? 0
            total += deleted
            if (deleted < PURGE_BATCH) break
          }
        }
        // Keys are few: one statement, against `now` itself.
        const keys = await client.query(`DELETE FROM ${this.tables.signingKeys} WHERE expires_at < $1`, [now])
        // Initial access tokens are few too; one that expired can never be used again.
        const initialAccessTokens = await client.query(`DELETE FROM ${this.tables.initialAccessTokens} WHERE expires_at <= $1`, [now])
        return total + (keys.rowCount ?? 0) + (initialAccessTokens.rowCount ?? 0)
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', lock)
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error))
      throw error
    } finally {
      client.release(failure)
    }
  }

  /**
   * Whether `error` means PostgreSQL cannot be reached right now: a connection refused, reset, timed out or lost, a
   * pool that could not hand out a connection in time, SQLSTATE class 08 (connection exception), 57P01–57P03 (the
   * server is shutting down, crashed or starting) or 53300 (too many connections).
   */
  isUnavailableError(error: unknown): boolean {
    return isUnavailable(error, 0)
  }

  /**
   * Sends the calls waiting to be coalesced and waits for their answers, then ends the pool, waiting for connections in
   * use to be released. Calls made afterwards reject, except in a transaction still running. Calling it again does
   * nothing more.
   */
  close(): Promise<void> {
    // Batches first: a pool that is ending hands out no connection, so a batch sent after `end` would never run.
    this.ended ??= Promise.all(this.batches.map((batch) => batch.close())).then(() => this.pool.end())
    return this.ended
  }

  /** The connection of the transaction in progress in this async context, or the pool while the store is open. */
  private connection(): Connection {
    const context = this.activeContext()
    if (context !== undefined) return context.client
    // While `close` drains the batches the pool still takes statements; new calls must not slip in before it ends.
    return this.ended === undefined ? this.pool : CLOSED
  }

  /** The innermost transaction of this async context that has not ended yet. */
  private activeContext(): TransactionContext | undefined {
    let context = this.context.getStore()
    while (context?.done === true) context = context.parent
    return context
  }
}

/** What a table runs its statements on once the store is closed: nothing. */
const CLOSED: Connection = { query: (() => Promise.reject(closedError())) as pg.Pool['query'] }
