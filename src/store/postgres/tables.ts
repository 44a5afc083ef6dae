/**
 * The PostgreSQL store's tables but the tokens' (`token-table.ts`): clients, users, codes, consents, signing keys and
 * rate-limit windows, each a class over the statements it sends.
 *
 * @module
 * @internal
 */
import { type TurnBatch } from '../batch.js'
import type { ClientRecord, ClientTable, CodeRecord, CodeTable, ConsentRecord, ConsentTable, KeyTable, RateLimitTable } from '../tables.js'
import type { ClientRegistration, RateLimitWindow, SigningKeyRecord, TokenEndpointAuthMethod, UserRecord, UserTable } from '../tables.js'
import type { InstallationSecretTable, SessionRecord, SessionTable } from '../tables.js'
import { type Authentication } from '../../types.js'
import {
  affected,
  CLIENT_COLUMNS,
  CODE_COLUMNS,
  CONSENT_COLUMNS,
  list,
  optionalSeconds,
  readByKeys,
  seconds,
  USER_COLUMNS,
  type Coalescing,
  type Int8,
  type Queryable,
  type TableNames,
} from './statements.js'

interface ClientRow {
  client_id: string
  name: string
  secret_hash: string | null
  redirect_uris: string[]
  grant_types: string[]
  response_types: string[]
  scopes: string[]
  resources: string[]
  protected_resources: string[]
  token_endpoint_auth_method: string
  created_at: Int8
  registration: ClientRegistration | null
  registration_token_hash: string | null
  last_used_at: Int8 | null
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
    ...(row.protected_resources.length > 0 ? { protectedResources: list(row.protected_resources) } : {}),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod,
    createdAt: seconds(row.created_at),
    ...(row.registration === null ? {} : { registration: Object.freeze(row.registration) }),
    ...(row.registration_token_hash === null ? {} : { registrationTokenHash: row.registration_token_hash }),
    ...(row.last_used_at === null ? {} : { lastUsedAt: seconds(row.last_used_at) }),
  }
}

/** A client's columns but `client_id`, `created_at` and `last_used_at`, as the parameters $2 to $12 of a statement. */
function clientValues(record: ClientRecord): unknown[] {
  return [
    record.name,
    record.secretHash ?? null,
    [...record.redirectUris],
    [...record.grantTypes],
    [...record.responseTypes],
    [...record.scopes],
    [...record.resources],
    record.tokenEndpointAuthMethod,
    [...(record.protectedResources ?? [])],
    record.registration === undefined ? null : JSON.stringify(record.registration),
    record.registrationTokenHash ?? null,
  ]
}

/** Clients in table `clients`; `get` outside transactions is coalesced per turn. */
export class PostgresClientTable implements ClientTable {
  /** `get` outside transactions: every token request reads its client, so concurrent ones share one `SELECT`. */
  private readonly reads: TurnBatch<string, ClientRecord | undefined>

  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
    private readonly coalescing: Coalescing,
  ) {
    this.reads = coalescing.batch(
      readByKeys(coalescing.pool, `SELECT ${CLIENT_COLUMNS} FROM ${tables.clients} WHERE client_id = ANY($1::text[])`, (row: ClientRow) => row.client_id, toClient),
    )
  }

  async insert(record: ClientRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.clients} (client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, token_endpoint_auth_method, protected_resources, registration, registration_token_hash, created_at, last_used_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [record.clientId, ...clientValues(record), record.createdAt, record.lastUsedAt ?? null],
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

  async deleteUnusedRegistrations(registeredBefore: number): Promise<number> {
    const { clients, tokens, codes } = this.tables
    const result = await this.db.query(
      `DELETE FROM ${clients} c WHERE c.registration IS NOT NULL AND c.last_used_at IS NULL AND c.created_at < $1
         AND NOT EXISTS (SELECT 1 FROM ${tokens} t WHERE t.client_id = c.client_id)
         AND NOT EXISTS (SELECT 1 FROM ${codes} k WHERE k.client_id = c.client_id)`,
      [registeredBefore],
    )
    return result.rowCount ?? 0
  }

  async deleteInactiveRegistrations(usedBefore: number): Promise<number> {
    const result = await this.db.query(`DELETE FROM ${this.tables.clients} WHERE registration IS NOT NULL AND coalesce(last_used_at, created_at) < $1`, [usedBefore])
    return result.rowCount ?? 0
  }

  async markUsed(clientId: string, now: number): Promise<void> {
    await this.db.query(`UPDATE ${this.tables.clients} SET last_used_at = $2 WHERE client_id = $1 AND registration IS NOT NULL`, [clientId, now])
  }

  async updateRegistration(record: ClientRecord, currentTokenHash: string, forgetConsents = false): Promise<boolean> {
    // Compare-and-set on the token's digest: of concurrent updates with one token, the row lock lets one match. The
    // consents go in the same statement (a data-modifying CTE), and only when the update matched.
    const { rows } = await this.db.query<{ updated: string }>(
      `WITH updated AS (
         UPDATE ${this.tables.clients} SET name = $2, secret_hash = $3, redirect_uris = $4, grant_types = $5, response_types = $6, scopes = $7,
           resources = $8, token_endpoint_auth_method = $9, protected_resources = $10, registration = $11, registration_token_hash = $12
         WHERE client_id = $1 AND registration_token_hash = $13
         RETURNING client_id
       ), forgotten AS (
         DELETE FROM ${this.tables.consents} WHERE $14::boolean AND client_id IN (SELECT client_id FROM updated)
       )
       SELECT count(*)::text AS updated FROM updated`,
      [record.clientId, ...clientValues(record), currentTokenHash, forgetConsents],
    )
    return rows[0]?.updated === '1'
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
  claims: Record<string, unknown>
}

function toUser(row: UserRow): UserRecord {
  const record = { userId: row.user_id, username: row.username, passwordHash: row.password_hash, createdAt: seconds(row.created_at) }
  // The field only when the user has claims, as the other stores answer.
  return Object.keys(row.claims).length === 0 ? record : { ...record, claims: row.claims }
}

/** Users in table `users`. */
export class PostgresUserTable implements UserTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: UserRecord): Promise<void> {
    await this.db.query(`INSERT INTO ${this.tables.users} (user_id, username, password_hash, created_at, claims) VALUES ($1, $2, $3, $4, $5)`, [
      record.userId,
      record.username,
      record.passwordHash,
      record.createdAt,
      JSON.stringify(record.claims ?? {}),
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

  async updateClaims(userId: string, claims: Readonly<Record<string, unknown>>): Promise<boolean> {
    return affected(await this.db.query(`UPDATE ${this.tables.users} SET claims = $2 WHERE user_id = $1`, [userId, JSON.stringify(claims)]))
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
  nonce: string | null
  authentication: Authentication | null
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
    nonce: row.nonce ?? undefined,
    authentication: row.authentication ?? undefined,
  }
}

/** Authorization codes in table `codes`, by digest. */
export class PostgresCodeTable implements CodeTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: CodeRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO ${this.tables.codes} (${CODE_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
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
        record.nonce ?? null,
        record.authentication === undefined ? null : JSON.stringify(record.authentication),
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

interface ConsentRow {
  client_id: string
  user_id: string
  scopes: string[]
  granted_at: Int8
}

/** Consents in table `consents`, by client and user. */
export class PostgresConsentTable implements ConsentTable {
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

/** Signing keys in table `signing_keys`, private keys in clear. */
export class PostgresKeyTable implements KeyTable {
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

/** Rate-limit windows in table `rate_limits`, shared by every instance. */
export class PostgresRateLimitTable implements RateLimitTable {
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

  async release(key: string, now: number): Promise<void> {
    await this.db.query(`UPDATE ${this.tables.rateLimits} SET hits = hits - 1 WHERE rate_key = $1 AND reset_at > $2 AND hits > 0`, [key, now])
  }
}

/** Browser sessions in table `sessions`; a user's are deleted with the user (foreign key cascade). */
export class PostgresSessionTable implements SessionTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: SessionRecord): Promise<void> {
    await this.db.query(`INSERT INTO ${this.tables.sessions} (session_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)`, [
      record.sessionHash,
      record.userId,
      record.authTime,
      record.expiresAt,
    ])
  }

  async get(sessionHash: string, now: number): Promise<SessionRecord | undefined> {
    const { rows } = await this.db.query<{ session_hash: string; user_id: string; auth_time: Int8; expires_at: Int8 }>(
      `SELECT session_hash, user_id, auth_time, expires_at FROM ${this.tables.sessions} WHERE session_hash = $1 AND expires_at > $2`,
      [sessionHash, now],
    )
    const row = rows[0]
    return row === undefined ? undefined : { sessionHash: row.session_hash, userId: row.user_id, authTime: seconds(row.auth_time), expiresAt: seconds(row.expires_at) }
  }

  async delete(sessionHash: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.sessions} WHERE session_hash = $1`, [sessionHash]))
  }

  async deleteForUser(userId: string): Promise<number> {
    return (await this.db.query(`DELETE FROM ${this.tables.sessions} WHERE user_id = $1`, [userId])).rowCount ?? 0
  }
}

/** Installation secrets in table `installation_secrets`, shared by every instance. */
export class PostgresInstallationSecretTable implements InstallationSecretTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async getOrInsert(name: string, candidate: string, now: number): Promise<string> {
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same name to commit, then inserts nothing; the
    // SELECT after it then sees the row that won.
    await this.db.query(`INSERT INTO ${this.tables.installationSecrets} (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, [
      name,
      candidate,
      now,
    ])
    const { rows } = await this.db.query<{ value: string }>(`SELECT value FROM ${this.tables.installationSecrets} WHERE name = $1`, [name])
    return (rows[0] as { value: string }).value
  }
}
