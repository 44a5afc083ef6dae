/**
 * How the PostgreSQL store's tables send their statements: the pool or a transaction's connection, prepared statements,
 * the quoted table names, the columns each read names, the coalescing of calls outside transactions, and the
 * conversions of `pg`'s values.
 *
 * @module
 * @internal
 */
import pg from 'pg'
import { type TurnBatch } from '../batch.js'

// The columns each read names, never `*`: a prepared statement's result may not change shape, so a column added by a
// later migration (another instance upgrading first) must not reach the statements this version has prepared.
/** The columns of `clients`. */
export const CLIENT_COLUMNS = 'client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, protected_resources, token_endpoint_auth_method, created_at, registration, registration_token_hash, last_used_at'
/** The columns of `users`. */
export const USER_COLUMNS = 'user_id, username, password_hash, created_at, claims'
/** The columns of `codes`. */
export const CODE_COLUMNS = 'code_hash, client_id, user_id, scopes, redirect_uri, code_challenge, code_challenge_method, resources, expires_at, grant_id, consumed_at, nonce, authentication'
/** The columns of `tokens`. */
export const TOKEN_COLUMNS = 'token_hash, type, client_id, user_id, scopes, resources, issued_at, expires_at, grant_id, revoked_at, rotated_at, authentication'
/** The columns of `consents`. */
export const CONSENT_COLUMNS = 'client_id, user_id, scopes, granted_at'

/** Where the tables send a statement: the pool, or the connection of the transaction in progress. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>
}

/** What statements are sent on: a pool or a pooled connection. */
export type Connection = Pick<pg.Pool, 'query'>

/**
 * The name of each statement text sent as a prepared statement: the same text always gets the same name, so that a
 * connection prepares it once (pg remembers which names each connection has prepared); texts are the store's own,
 * with at most one multi-row insert per row count, so there are few.
 */
const statementNames = new Map<string, string>()

/** Sends `text` on `connection`, as a named prepared statement when `prepared`. */
export function send<R extends pg.QueryResultRow>(connection: Connection, prepared: boolean, text: string, values: readonly unknown[] | undefined): Promise<pg.QueryResult<R>> {
  if (!prepared) return connection.query<R>(text, values as unknown[] | undefined)
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `oauthkit_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return connection.query<R>(values === undefined ? { name, text } : { name, text, values: values as unknown[] })
}

/** What a table needs to coalesce its calls made outside transactions (see {@link TurnBatch}). */
export interface Coalescing {
  /** The pool, which batches are sent on: they belong to no caller's transaction. */
  readonly pool: Queryable
  /** Whether the calling async context is outside every transaction of the store, so that its call may join a batch. */
  outsideTransaction(): boolean
  /** A new batch of the calls of one turn, sent with `run`, which the store drains when it closes. */
  batch<I, O>(run: (inputs: readonly I[]) => Promise<readonly O[]>): TurnBatch<I, O>
}

/**
 * A batch's `run` for reads by primary key: one `SELECT … WHERE key = ANY($1)` over the distinct keys answers every
 * call. Each call gets a record of its own, even when several asked for one key, since callers must not share
 * mutable objects (their lists are frozen, so those may be shared).
 */
export function readByKeys<Row extends pg.QueryResultRow, R>(pool: Queryable, text: string, keyOf: (row: Row) => string, toRecord: (row: Row) => R) {
  return async (keys: readonly string[]): Promise<readonly (R | undefined)[]> => {
    const { rows } = await pool.query<Row>(text, [[...new Set(keys)]])
    const found = new Map(rows.map((row) => [keyOf(row), row]))
    return keys.map((key) => {
      const row = found.get(key)
      return row === undefined ? undefined : toRecord(row)
    })
  }
}

/** The schema-qualified, quoted names of the tables. */
export interface TableNames {
  readonly clients: string
  readonly users: string
  readonly codes: string
  readonly tokens: string
  readonly consents: string
  readonly signingKeys: string
  readonly rateLimits: string
  readonly sessions: string
  readonly installationSecrets: string
  readonly initialAccessTokens: string
}

/** The quoted, schema-qualified names of the tables in `schemaName`. */
export function tableNames(schemaName: string): TableNames {
  const schema = pg.escapeIdentifier(schemaName)
  return {
    clients: `${schema}.clients`,
    users: `${schema}.users`,
    codes: `${schema}.codes`,
    tokens: `${schema}.tokens`,
    consents: `${schema}.consents`,
    signingKeys: `${schema}.signing_keys`,
    rateLimits: `${schema}.rate_limits`,
    sessions: `${schema}.sessions`,
    installationSecrets: `${schema}.installation_secrets`,
    initialAccessTokens: `${schema}.initial_access_tokens`,
  }
}

/** A `bigint` column as `pg` returns it: a string (it may exceed 2^53); times in seconds never do. */
export type Int8 = string | number

/** A time column in seconds as a number. */
export function seconds(value: Int8): number {
  return Number(value)
}

/** An optional time column in seconds as a number, `undefined` for NULL. */
export function optionalSeconds(value: Int8 | null): number | undefined {
  return value === null ? undefined : Number(value)
}

/** An array `pg` parsed for this row alone, frozen: the records made from the row may share it, nobody can change it. */
export function list(values: string[]): readonly string[] {
  return Object.freeze(values)
}

/** Whether a statement changed at least one row. */
export function affected(result: pg.QueryResult): boolean {
  return (result.rowCount ?? 0) > 0
}
