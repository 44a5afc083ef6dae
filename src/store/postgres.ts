/**
 * `oauthkit/store/postgres`: a {@link Store} on PostgreSQL through a `pg` pool, the backend for many instances of an
 * authorization server behind a load balancer.
 *
 * Every instance may open the same database at once: schema migrations are versioned (table `schema_migrations`) and
 * applied on open, in one transaction under an advisory lock. The atomic steps of the protocol are single
 * conditional `UPDATE`s, so of any number of concurrent redemptions of a code, on any number of instances, exactly one
 * wins. Only digests of tokens, codes and secrets are stored (see `secrets.ts`); the exception is the private signing
 * keys of JWT access tokens (table `signing_keys`), stored in clear, so protect the database like the keys themselves.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'oauthkit/store/postgres'
 *
 * const store = await PostgresStore.open(process.env.DATABASE_URL!, { schema: 'oauth' })
 * ```
 *
 * @module
 */
import pg from 'pg'
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
/** The longest timer Node keeps: a query timeout that never fires in practice (24.8 days). */
const NO_QUERY_TIMEOUT_MS = 2 ** 31 - 1

/**
 * The most calls (for token inserts: rows) a {@link Batcher} puts in one statement; more wait for the next. Far below
 * PostgreSQL's 65,535 parameters per statement (11 per token row), and short enough that a batch that fails and is
 * retried call by call costs little.
 */
const MAX_BATCH = 100

/** Rows deleted per statement by {@link PostgresStore.purgeExpired}: short statements, short row locks. */
const PURGE_BATCH = 500
/** First key of the advisory lock taken while migrating ("oaut"); the second is a hash of the schema's name. */
const MIGRATION_LOCK_KEY = 0x6f617574

/**
 * The schema's migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Never edit one that was released; append a
 * new one. `{schema}` stands for the quoted schema name.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {schema}.clients (
    client_id text PRIMARY KEY,
    name text NOT NULL,
    secret_hash text,
    redirect_uris text[] NOT NULL,
    grant_types text[] NOT NULL,
    response_types text[] NOT NULL,
    scopes text[] NOT NULL,
    resources text[] NOT NULL,
    token_endpoint_auth_method text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE {schema}.users (
    user_id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE {schema}.codes (
    code_hash text PRIMARY KEY,
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    redirect_uri text,
    code_challenge text,
    code_challenge_method text CHECK (code_challenge_method IN ('S256', 'plain')),
    resources text[] NOT NULL,
    expires_at bigint NOT NULL,
    grant_id text NOT NULL,
    consumed_at bigint
  );
  CREATE INDEX codes_expires_at ON {schema}.codes (expires_at);
  CREATE INDEX codes_client_id ON {schema}.codes (client_id);
  CREATE INDEX codes_user_id ON {schema}.codes (user_id);
  CREATE TABLE {schema}.tokens (
    token_hash text PRIMARY KEY,
    type text NOT NULL CHECK (type IN ('access_token', 'refresh_token')),
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    resources text[] NOT NULL,
    issued_at bigint NOT NULL,
    expires_at bigint,
    grant_id text NOT NULL,
    revoked_at bigint,
    rotated_at bigint
  );
  CREATE INDEX tokens_grant_id ON {schema}.tokens (grant_id);
  CREATE INDEX tokens_expires_at ON {schema}.tokens (expires_at);
  CREATE INDEX tokens_client_id ON {schema}.tokens (client_id);
  CREATE INDEX tokens_user_id ON {schema}.tokens (user_id);
  CREATE INDEX tokens_revoked_at ON {schema}.tokens (revoked_at) WHERE expires_at IS NULL;
  CREATE TABLE {schema}.consents (
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (client_id, user_id)
  );
  CREATE INDEX consents_user_id ON {schema}.consents (user_id);
  `,
  // 2: signing keys of JWT access tokens, private key in clear (it must sign, so it cannot be hashed). `seq` is the
  // order of insertion, which orders keys created in the same second.
  `
  CREATE TABLE {schema}.signing_keys (
    kid text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    alg text NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    private_jwk text NOT NULL,
    public_jwk text NOT NULL,
    created_at bigint NOT NULL,
    retired_at bigint,
    expires_at bigint
  );
  `,
  // 3: rate-limit windows, one row per key (the ready server passes SHA-256 digests), shared by every instance.
  `
  CREATE TABLE {schema}.rate_limits (
    rate_key text PRIMARY KEY,
    hits integer NOT NULL,
    reset_at bigint NOT NULL
  );
  CREATE INDEX rate_limits_reset_at ON {schema}.rate_limits (reset_at);
  `,
  // 4: client_credentials tokens have no user: left out of the user_id index, they cost one index write less each.
  // Deleting a user still finds its tokens through it (user_id = $1 implies IS NOT NULL).
  `
  DROP INDEX {schema}.tokens_user_id;
  CREATE INDEX tokens_user_id ON {schema}.tokens (user_id) WHERE user_id IS NOT NULL;
  `,
  // 5: keys are the digest of the whole token or code (43 characters), nothing else. Before, oauthkit's own tokens and
  // codes had their time of issue and a "." in front (9 + 1 + 43 = 53 characters); the digest after it is the new key,
  // so a token or code issued before the upgrade is still found. A digest has no ".", so no other key matches.
  `
  UPDATE {schema}.tokens SET token_hash = substr(token_hash, 11) WHERE length(token_hash) = 53 AND substr(token_hash, 10, 1) = '.';
  UPDATE {schema}.codes SET code_hash = substr(code_hash, 11) WHERE length(code_hash) = 53 AND substr(code_hash, 10, 1) = '.';
  `,
]

/** Node's codes for a connection that could not be made or was lost. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
])
/** SQLSTATEs (besides class 08, connection exception) that mean the server cannot serve right now. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** What `pg` and `pg-pool` say when a connection drops or a pool cannot hand one out in time. */
const CONNECTION_ERROR_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i

/** A statement with its own `query_timeout`, which `pg` reads but its types do not declare. */
type TimedQueryConfig = pg.QueryConfig & { readonly query_timeout: number }

/** A `pg` connection or the pool: what a table runs its statements on. */
// The columns each read names, never `*`: a prepared statement's result may not change shape, so a column added by a
// later migration (another instance upgrading first) must not reach the statements this version has prepared.
const CLIENT_COLUMNS = 'client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, token_endpoint_auth_method, created_at'
const USER_COLUMNS = 'user_id, username, password_hash, created_at'
const CODE_COLUMNS = 'code_hash, client_id, user_id, scopes, redirect_uri, code_challenge, code_challenge_method, resources, expires_at, grant_id, consumed_at'
const TOKEN_COLUMNS = 'token_hash, type, client_id, user_id, scopes, resources, issued_at, expires_at, grant_id, revoked_at, rotated_at'
const CONSENT_COLUMNS = 'client_id, user_id, scopes, granted_at'

/** Where the tables send a statement: the pool, or the connection of the transaction in progress. */
interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>
}

/** What statements are sent on: a pool or a pooled connection. */
type Connection = Pick<pg.Pool, 'query'>

/**
 * The name of each statement text sent as a prepared statement: the same text always gets the same name, so that a
 * connection prepares it once (pg remembers which names each connection has prepared); texts are the store's own,
 * with at most one multi-row insert per row count, so there are few.
 */
const statementNames = new Map<string, string>()

/** Sends `text` on `connection`, as a named prepared statement when `prepared`. */
function send<R extends pg.QueryResultRow>(connection: Connection, prepared: boolean, text: string, values: readonly unknown[] | undefined): Promise<pg.QueryResult<R>> {
  if (!prepared) return connection.query<R>(text, values as unknown[] | undefined)
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `oauthkit_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return connection.query<R>(values === undefined ? { name, text } : { name, text, values: values as unknown[] })
}

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

/** What a table needs to coalesce its calls made outside transactions (see {@link Batcher}). */
interface Coalescing {
  /** The pool, which batches are sent on: they belong to no caller's transaction. */
  readonly pool: Queryable
  /** Whether the calling async context is outside every transaction of the store, so that its call may join a batch. */
  outsideTransaction(): boolean
  /** A new batcher sending with `run`, which the store drains when it closes. */
  batcher<I, O>(run: (inputs: readonly I[]) => Promise<readonly O[]>): Batcher<I, O>
}

/** A call waiting in a {@link Batcher}: its input, and how to settle its promise. */
interface Waiting<I, O> {
  readonly input: I
  readonly resolve: (output: O) => void
  readonly reject: (error: unknown) => void
}

/**
 * Coalesces calls made in the same turn of the event loop into one statement, so that concurrent requests share a
 * round trip (each costs many system calls on both sides) instead of taking one each.
 *
 * `add` queues a call; the queue is sent, as one batch, by a `setImmediate` (after every callback and promise job of
 * this turn has run), or at once when it weighs {@link MAX_BATCH}. `run` answers a batch with one output per input, in
 * order. When it fails, every call of the batch fails with its error if the database is unavailable (retrying would
 * only wait again); otherwise the error may be one call's alone (a duplicate digest, a client deleted meanwhile, a
 * value the server refuses), so each call is run again on its own and only the faulty ones fail.
 */
class Batcher<I, O> {
  private queue: Waiting<I, O>[] = []
  private weight = 0
  private scheduled: NodeJS.Immediate | undefined
  /** Batches sent and not yet settled, for `close` to wait for. */
  private readonly inFlight = new Set<Promise<void>>()
  private closed = false

  constructor(private readonly run: (inputs: readonly I[]) => Promise<readonly O[]>) {}

  /** Queues a call weighing `weight` (e.g. its rows); a call heavier than a whole batch is sent alone. */
  add(input: I, weight = 1): Promise<O> {
    if (this.closed) return Promise.reject(closedError())
    if (this.weight > 0 && this.weight + weight > MAX_BATCH) this.flush()
    const output = new Promise<O>((resolve, reject) => this.queue.push({ input, resolve, reject }))
    this.weight += weight
    if (this.weight >= MAX_BATCH) this.flush()
    else this.scheduled ??= setImmediate(this.flush)
    return output
  }

  /** Sends what is queued now, takes no more calls, and settles when every batch sent has settled. */
  async close(): Promise<void> {
    this.closed = true
    this.flush()
    await Promise.all(this.inFlight)
  }

  private readonly flush = (): void => {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled)
    this.scheduled = undefined
    const batch = this.queue
    if (batch.length === 0) return
    this.queue = []
    this.weight = 0
    const sent = this.send(batch)
    this.inFlight.add(sent)
    void sent.then(() => this.inFlight.delete(sent))
  }

  /** Runs `batch` and settles each of its calls; never rejects. */
  private async send(batch: readonly Waiting<I, O>[]): Promise<void> {
    let outputs: readonly O[]
    try {
      outputs = await this.run(batch.map((call) => call.input))
    } catch (error) {
      if (batch.length === 1 || isUnavailable(error, 0)) {
        for (const call of batch) call.reject(error)
        return
      }
      await Promise.all(batch.map((call) => this.send([call])))
      return
    }
    batch.forEach((call, i) => call.resolve(outputs[i] as O))
  }
}

/** What a call to a store that was closed rejects with. */
function closedError(): Error {
  return new Error('This PostgresStore is closed')
}

/**
 * A batch's `run` for reads by primary key: one `SELECT … WHERE key = ANY($1)` over the distinct keys answers every
 * call. Each call gets a record of its own, even when several asked for one key, since callers must not share
 * mutable objects (their lists are frozen, so those may be shared).
 */
function readByKeys<Row extends pg.QueryResultRow, R>(pool: Queryable, text: string, keyOf: (row: Row) => string, toRecord: (row: Row) => R) {
  return async (keys: readonly string[]): Promise<readonly (R | undefined)[]> => {
    const { rows } = await pool.query<Row>(text, [[...new Set(keys)]])
    const found = new Map(rows.map((row) => [keyOf(row), row]))
    return keys.map((key) => {
      const row = found.get(key)
      return row === undefined ? undefined : toRecord(row)
    })
  }
}

/**
 * A {@link Store} on PostgreSQL.
 *
 * Tables live in one schema (default `public`): `clients`, `users`, `codes`, `tokens`, `consents`, `signing_keys`,
 * `rate_limits` and `schema_migrations`. Codes, tokens and consents reference their client and user and are deleted
 * with them. Lists are `text[]`, times `bigint` seconds.
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

  private readonly context = new TransactionStorage<TransactionContext>()
  /** The tables' batchers, which `close` drains. */
  private readonly batchers: Pick<Batcher<unknown, unknown>, 'close'>[] = []
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
      batcher: <I, O>(run: (inputs: readonly I[]) => Promise<readonly O[]>) => {
        const batcher = new Batcher(run)
        this.batchers.push(batcher)
        return batcher
      },
    }
    this.clientTable = new PostgresClientTable(db, tables, coalescing)
    this.userTable = new PostgresUserTable(db, tables)
    this.codes = new PostgresCodeTable(db, tables)
    this.tokens = new PostgresTokenTable(db, tables, coalescing)
    this.consents = new PostgresConsentTable(db, tables)
    this.keys = new PostgresKeyTable(db, tables)
    this.rateLimits = new PostgresRateLimitTable(db, tables)
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
   * rate-limit windows that ended at or before `now`. Run it from a timer on any instance.
   *
   * @returns how many rows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    const expired: readonly (readonly [string, string])[] = [
      [this.tables.codes, 'expires_at < $1'],
      [this.tables.tokens, 'expires_at < $1'],
      // A refresh token without expiry is kept for reuse detection until it has been revoked for the grace period.
      [this.tables.tokens, 'expires_at IS NULL AND revoked_at < $1'],
    ]
    let total = 0
    for (const [table, condition] of expired) {
      for (;;) {
        const result = await this.connection().query(
          `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${condition} LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`,
          [cutoff],
        )
        const deleted = result.rowCount ?? 0
        total += deleted
        if (deleted < PURGE_BATCH) break
      }
    }
    // Keys are few: one statement, against `now` itself.
    const keys = await this.connection().query(`DELETE FROM ${this.tables.signingKeys} WHERE expires_at < $1`, [now])
    total += keys.rowCount ?? 0
    // Rate-limit windows that ended are worth nothing: no grace. A window being counted right now is skipped.
    for (;;) {
      const result = await this.connection().query(
        `DELETE FROM ${this.tables.rateLimits} WHERE ctid IN (SELECT ctid FROM ${this.tables.rateLimits} WHERE reset_at <= $1 LIMIT ${PURGE_BATCH} FOR UPDATE SKIP LOCKED)`,
        [now],
      )
      const deleted = result.rowCount ?? 0
      total += deleted
      if (deleted < PURGE_BATCH) break
    }
    return total
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
    this.ended ??= Promise.all(this.batchers.map((batcher) => batcher.close())).then(() => this.pool.end())
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

function isUnavailable(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false
  const { code, message, errors, cause } = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown }
  if (typeof code === 'string') {
    if (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true
  }
  if (typeof message === 'string' && CONNECTION_ERROR_MESSAGE.test(message)) return true
  // Node reports a refused connection to a name with several addresses as an AggregateError of one error per address.
  if (Array.isArray(errors) && errors.some((inner) => isUnavailable(inner, depth + 1))) return true
  return isUnavailable(cause, depth + 1)
}

/** Creates the schema if needed and applies the missing migrations, in one transaction under an advisory lock. */
async function migrate(pool: pg.Pool, schemaName: string): Promise<void> {
  const schema = pg.escapeIdentifier(schemaName)
  const client = await pool.connect()
  // No query timeout: a migration may wait for another instance's, or rewrite a large table.
  const query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    const config: TimedQueryConfig = values === undefined ? { text, query_timeout: NO_QUERY_TIMEOUT_MS } : { text, values, query_timeout: NO_QUERY_TIMEOUT_MS }
    return client.query<R>(config)
  }
  let broken: Error | undefined
  const onError = (error: Error) => (broken ??= error)
  client.on('error', onError)
  try {
    await query('BEGIN')
    // Instances starting together queue here; each then sees the versions the others applied.
    await query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schemaName])
    // Create the schema only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even then.
    const exists = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName])
    if (exists.rowCount === 0) await query(`CREATE SCHEMA ${schema}`)
    await query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`)
    const { rows } = await query<{ version: number | null }>(`SELECT max(version) AS version FROM ${schema}.schema_migrations`)
    const current = rows[0]?.version ?? 0
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this oauthkit (knows ${MIGRATIONS.length}): upgrade oauthkit`)
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await query((MIGRATIONS[version - 1] as string).replaceAll('{schema}', schema))
      await query(`INSERT INTO ${schema}.schema_migrations (version, applied_at) VALUES ($1, $2)`, [version, Math.floor(Date.now() / 1000)])
    }
    await query('COMMIT')
  } catch (error) {
    await query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
    })
    throw error
  } finally {
    client.removeListener('error', onError)
    client.release(broken)
  }
}

/** The schema-qualified, quoted names of the tables. */
interface TableNames {
  readonly clients: string
  readonly users: string
  readonly codes: string
  readonly tokens: string
  readonly consents: string
  readonly signingKeys: string
  readonly rateLimits: string
}

function tableNames(schemaName: string): TableNames {
  const schema = pg.escapeIdentifier(schemaName)
  return {
    clients: `${schema}.clients`,
    users: `${schema}.users`,
    codes: `${schema}.codes`,
    tokens: `${schema}.tokens`,
    consents: `${schema}.consents`,
    signingKeys: `${schema}.signing_keys`,
    rateLimits: `${schema}.rate_limits`,
  }
}

// `pg` returns bigint as a string (it may exceed 2^53); times in seconds never do.
type Int8 = string | number

function seconds(value: Int8): number {
  return Number(value)
}

function optionalSeconds(value: Int8 | null): number | undefined {
  return value === null ? undefined : Number(value)
}

/** An array `pg` parsed for this row alone, frozen: the records made from the row may share it, nobody can change it. */
function list(values: string[]): readonly string[] {
  return Object.freeze(values)
}

function affected(result: pg.QueryResult): boolean {
  return (result.rowCount ?? 0) > 0
}

interface ClientRow {
  client_id: string
  name: string
  secret_hash: string | null
  redirect_uris: string[]
  grant_types: string[]
  response_types: string[]
  scopes: string[]
  resources: string[]
  token_endpoint_auth_method: string
  created_at: Int8
}

function toClient(row: ClientRow): ClientRecord {
  return {
    clientId: row.client_id,
    name: row.name,
    secretHash: row.secret_hash ?? undefined,
    redirectUris: list(row.redirect_uris),
    grantTypes: list(row.grant_types),
    responseTypes: list(row.response_types),
    scopes: list(row.scopes),
    resources: list(row.resources),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    createdAt: seconds(row.created_at),
  }
}

class PostgresClientTable implements ClientTable {
  /** `get` outside transactions: every token request reads its client, so concurrent ones share one `SELECT`. */
  private readonly reads: Batcher<string, ClientRecord | undefined>

  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
    private readonly coalescing: Coalescing,
  ) {
    this.reads = coalescing.batcher(
      readByKeys(coalescing.pool, `SELECT ${CLIENT_COLUMNS} FROM ${tables.clients} WHERE client_id = ANY($1::text[])`, (row: ClientRow) => row.client_id, toClient),
    )
  }

  async insert(record: ClientRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.clients} (client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, token_endpoint_auth_method, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        record.clientId,
        record.name,
        record.secretHash ?? null,
        [...record.redirectUris],
        [...record.grantTypes],
        [...record.responseTypes],
        [...record.scopes],
        [...record.resources],
        record.tokenEndpointAuthMethod,
        record.createdAt,
      ],
    )
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    if (this.coalescing.outsideTransaction()) return this.reads.add(clientId)
    const { rows } = await this.db.query<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM ${this.tables.clients} WHERE client_id = $1`, [clientId])
    return rows[0] === undefined ? undefined : toClient(rows[0])
  }

  async list(): Promise<readonly ClientRecord[]> {
    const { rows } = await this.db.query<ClientRow>(`SELECT ${CLIENT_COLUMNS} FROM ${this.tables.clients} ORDER BY created_at, client_id`)
    return rows.map(toClient)
  }

  async delete(clientId: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.clients} WHERE client_id = $1`, [clientId]))
  }

  async updateSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return affected(await this.db.query(`UPDATE ${this.tables.clients} SET secret_hash = $2 WHERE client_id = $1`, [clientId, secretHash]))
  }
}

interface UserRow {
  user_id: string
  username: string
  password_hash: string
  created_at: Int8
}

function toUser(row: UserRow): UserRecord {
  return { userId: row.user_id, username: row.username, passwordHash: row.password_hash, createdAt: seconds(row.created_at) }
}

class PostgresUserTable implements UserTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: UserRecord): Promise<void> {
    await this.db.query(`INSERT INTO ${this.tables.users} (user_id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)`, [
      record.userId,
      record.username,
      record.passwordHash,
      record.createdAt,
    ])
  }

  async get(userId: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.tables.users} WHERE user_id = $1`, [userId])
    return rows[0] === undefined ? undefined : toUser(rows[0])
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.tables.users} WHERE username = $1`, [username])
    return rows[0] === undefined ? undefined : toUser(rows[0])
  }

  async list(): Promise<readonly UserRecord[]> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.tables.users} ORDER BY created_at, user_id`)
    return rows.map(toUser)
  }

  async delete(userId: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.users} WHERE user_id = $1`, [userId]))
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return affected(await this.db.query(`UPDATE ${this.tables.users} SET password_hash = $2 WHERE user_id = $1`, [userId, passwordHash]))
  }
}

interface CodeRow {
  code_hash: string
  client_id: string
  user_id: string
  scopes: string[]
  redirect_uri: string | null
  code_challenge: string | null
  code_challenge_method: 'S256' | 'plain' | null
  resources: string[]
  expires_at: Int8
  grant_id: string
  consumed_at: Int8 | null
}

function toCode(row: CodeRow): CodeRecord {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    userId: row.user_id,
    scopes: list(row.scopes),
    redirectUri: row.redirect_uri ?? undefined,
    codeChallenge: row.code_challenge ?? undefined,
    codeChallengeMethod: row.code_challenge_method ?? undefined,
    resources: list(row.resources),
    expiresAt: seconds(row.expires_at),
    grantId: row.grant_id,
    consumedAt: optionalSeconds(row.consumed_at),
  }
}

class PostgresCodeTable implements CodeTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: CodeRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.codes} (code_hash, client_id, user_id, scopes, redirect_uri, code_challenge, code_challenge_method, resources, expires_at, grant_id, consumed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        record.codeHash,
        record.clientId,
        record.userId,
        [...record.scopes],
        record.redirectUri ?? null,
        record.codeChallenge ?? null,
        record.codeChallengeMethod ?? null,
        [...record.resources],
        record.expiresAt,
        record.grantId,
        record.consumedAt ?? null,
      ],
    )
  }

  async get(codeHash: string): Promise<CodeRecord | undefined> {
    const { rows } = await this.db.query<CodeRow>(`SELECT ${CODE_COLUMNS} FROM ${this.tables.codes} WHERE code_hash = $1`, [codeHash])
    return rows[0] === undefined ? undefined : toCode(rows[0])
  }

  async consume(codeHash: string, now: number): Promise<boolean> {
    // One conditional UPDATE: PostgreSQL locks the row, and a concurrent UPDATE re-checks `consumed_at IS NULL` after
    // the first one commits, so exactly one of them changes a row.
    const result = await this.db.query(`UPDATE ${this.tables.codes} SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL`, [now, codeHash])
    return result.rowCount === 1
  }
}

interface TokenRow {
  token_hash: string
  type: 'access_token' | 'refresh_token'
  client_id: string
  user_id: string | null
  scopes: string[]
  resources: string[]
  issued_at: Int8
  expires_at: Int8 | null
  grant_id: string
  revoked_at: Int8 | null
  rotated_at: Int8 | null
}

function toToken(row: TokenRow): TokenRecord {
  return {
    tokenHash: row.token_hash,
    type: row.type,
    clientId: row.client_id,
    userId: row.user_id ?? undefined,
    scopes: list(row.scopes),
    resources: list(row.resources),
    issuedAt: seconds(row.issued_at),
    expiresAt: optionalSeconds(row.expires_at),
    grantId: row.grant_id,
    revokedAt: optionalSeconds(row.revoked_at),
    rotatedAt: optionalSeconds(row.rotated_at),
  }
}

const TOKEN_COLUMN_COUNT = 11

/** One multi-row `INSERT` of `records` on `db`: they are inserted together or not at all. */
async function insertTokens(db: Queryable, tables: TableNames, records: readonly TokenRecord[]): Promise<void> {
  const values = records.flatMap((record) => [
    record.tokenHash,
    record.type,
    record.clientId,
    record.userId ?? null,
    [...record.scopes],
    [...record.resources],
    record.issuedAt,
    record.expiresAt ?? null,
    record.grantId,
    record.revokedAt ?? null,
    record.rotatedAt ?? null,
  ])
  await db.query(insertTokensText(tables.tokens, records.length), values)
}

/** The text of a `records`-row token insert into `table`, made once per table and row count. */
function insertTokensText(table: string, rowCount: number): string {
  const key = `${table} ${rowCount}`
  let text = insertTexts.get(key)
  if (text === undefined) {
    const rows = Array.from({ length: rowCount }, (_, i) => `(${Array.from({ length: TOKEN_COLUMN_COUNT }, (_, j) => `$${i * TOKEN_COLUMN_COUNT + j + 1}`).join(', ')})`)
    text = `INSERT INTO ${table} (${TOKEN_COLUMNS}) VALUES ${rows.join(', ')}`
    insertTexts.set(key, text)
  }
  return text
}
const insertTexts = new Map<string, string>()

class PostgresTokenTable implements TokenTable {
  /**
   * `insert` outside transactions: the tokens of concurrent responses in one statement, committed together (or, when
   * it fails, call by call; see {@link Batcher}), each call's promise settled once its rows are committed.
   */
  private readonly inserts: Batcher<readonly TokenRecord[], void>
  /** `get` outside transactions: introspection and resource requests read one token each, and share one `SELECT`. */
  private readonly reads: Batcher<string, TokenRecord | undefined>

  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
    private readonly coalescing: Coalescing,
  ) {
    this.inserts = coalescing.batcher(async (calls: readonly (readonly TokenRecord[])[]): Promise<readonly void[]> => {
      await insertTokens(coalescing.pool, tables, calls.flat())
      return []
    })
    this.reads = coalescing.batcher(
      readByKeys(coalescing.pool, `SELECT ${TOKEN_COLUMNS} FROM ${tables.tokens} WHERE token_hash = ANY($1::text[])`, (row: TokenRow) => row.token_hash, toToken),
    )
  }

  async insert(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 0) return
    // The tokens of one response are in one statement, batched or not: they are inserted together or not at all.
    if (this.coalescing.outsideTransaction()) return this.inserts.add(records, records.length)
    await insertTokens(this.db, this.tables, records)
  }

  async get(tokenHash: string): Promise<TokenRecord | undefined> {
    if (this.coalescing.outsideTransaction()) return this.reads.add(tokenHash)
    const { rows } = await this.db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM ${this.tables.tokens} WHERE token_hash = $1`, [tokenHash])
    return rows[0] === undefined ? undefined : toToken(rows[0])
  }

  async revoke(tokenHash: string, now: number): Promise<boolean> {
    return affected(await this.db.query(`UPDATE ${this.tables.tokens} SET revoked_at = COALESCE(revoked_at, $1) WHERE token_hash = $2`, [now, tokenHash]))
  }

  async rotate(tokenHash: string, now: number): Promise<boolean> {
    // Atomic like CodeTable.consume: of concurrent rotations exactly one changes the row.
    const result = await this.db.query(
      `UPDATE ${this.tables.tokens} SET rotated_at = $1
       WHERE token_hash = $2 AND type = 'refresh_token' AND rotated_at IS NULL AND revoked_at IS NULL`,
      [now, tokenHash],
    )
    return result.rowCount === 1
  }

  async revokeFamily(grantId: string, now: number): Promise<number> {
    const result = await this.db.query(`UPDATE ${this.tables.tokens} SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL`, [now, grantId])
    return result.rowCount ?? 0
  }
}

interface ConsentRow {
  client_id: string
  user_id: string
  scopes: string[]
  granted_at: Int8
}

class PostgresConsentTable implements ConsentTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async get(clientId: string, userId: string): Promise<ConsentRecord | undefined> {
    const { rows } = await this.db.query<ConsentRow>(`SELECT ${CONSENT_COLUMNS} FROM ${this.tables.consents} WHERE client_id = $1 AND user_id = $2`, [clientId, userId])
    const row = rows[0]
    return row === undefined ? undefined : { clientId: row.client_id, userId: row.user_id, scopes: list(row.scopes), grantedAt: seconds(row.granted_at) }
  }

  async put(record: ConsentRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.consents} (client_id, user_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (client_id, user_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
      [record.clientId, record.userId, [...record.scopes], record.grantedAt],
    )
  }

  async delete(clientId: string, userId: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.consents} WHERE client_id = $1 AND user_id = $2`, [clientId, userId]))
  }
}

interface SigningKeyRow {
  kid: string
  alg: SigningKeyRecord['alg']
  private_jwk: string
  public_jwk: string
  created_at: Int8
  retired_at: Int8 | null
  expires_at: Int8 | null
}

class PostgresKeyTable implements KeyTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: SigningKeyRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.signingKeys} (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [record.kid, record.alg, record.privateJwk, record.publicJwk, record.createdAt, record.retiredAt ?? null, record.expiresAt ?? null],
    )
  }

  async list(): Promise<readonly SigningKeyRecord[]> {
    const { rows } = await this.db.query<SigningKeyRow>(
      `SELECT kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at FROM ${this.tables.signingKeys} ORDER BY created_at DESC, seq DESC`,
    )
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateJwk: row.private_jwk,
      publicJwk: row.public_jwk,
      createdAt: seconds(row.created_at),
      retiredAt: optionalSeconds(row.retired_at),
      expiresAt: optionalSeconds(row.expires_at),
    }))
  }

  async retire(kid: string, retiredAt: number, expiresAt: number): Promise<boolean> {
    // Atomic like CodeTable.consume: of concurrent retirements exactly one changes the row.
    const result = await this.db.query(`UPDATE ${this.tables.signingKeys} SET retired_at = $2, expires_at = $3 WHERE kid = $1 AND retired_at IS NULL`, [
      kid,
      retiredAt,
      expiresAt,
    ])
    return result.rowCount === 1
  }

  async delete(kid: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.signingKeys} WHERE kid = $1`, [kid]))
  }
}

class PostgresRateLimitTable implements RateLimitTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async hit(key: string, windowSeconds: number, now: number): Promise<RateLimitWindow> {
    // One INSERT … ON CONFLICT DO UPDATE: PostgreSQL locks the row, so concurrent hits on one key, from any instance,
    // count one after another (1, 2, … n). A running window counts on; an ended one starts over.
    const { rows } = await this.db.query<{ hits: number; reset_at: Int8 }>(
      `INSERT INTO ${this.tables.rateLimits} AS window_row (rate_key, hits, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
       ON CONFLICT (rate_key) DO UPDATE SET
         hits = CASE WHEN window_row.reset_at > $2::bigint THEN window_row.hits + 1 ELSE 1 END,
         reset_at = CASE WHEN window_row.reset_at > $2::bigint THEN window_row.reset_at ELSE EXCLUDED.reset_at END
       RETURNING hits, reset_at`,
      [key, now, windowSeconds],
    )
    const row = rows[0] as { hits: number; reset_at: Int8 }
    return { count: row.hits, resetAt: seconds(row.reset_at) }
  }

  async peek(keys: readonly string[], now: number): Promise<readonly (RateLimitWindow | undefined)[]> {
    if (keys.length === 0) return []
    const { rows } = await this.db.query<{ rate_key: string; hits: number; reset_at: Int8 }>(
      `SELECT rate_key, hits, reset_at FROM ${this.tables.rateLimits} WHERE rate_key = ANY($1::text[]) AND reset_at > $2`,
      [[...keys], now],
    )
    return keys.map((key) => {
      const row = rows.find((candidate) => candidate.rate_key === key)
      return row === undefined ? undefined : { count: row.hits, resetAt: seconds(row.reset_at) }
    })
  }

  async reset(key: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.rateLimits} WHERE rate_key = $1`, [key]))
  }
}
