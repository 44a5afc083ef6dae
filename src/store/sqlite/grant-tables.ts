/**
 * The SQLite store's tables of what grants issue: authorization codes and tokens. Token inserts outside transactions
 * are committed in groups (see `writeGrouped` in `transactions.ts`).
 *
 * @module
 * @internal
 */
import { type CodeRecord, type CodeTable, type TokenRecord, type TokenTable } from '../tables.js'
import { type Authentication } from '../../types.js'
import { list, type Mutable } from './tables.js'
import { type Access } from './transactions.js'

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
  nonce: string | null
  authentication: string | null
}

/** Authorization codes in table `codes`, by digest. */
export class SqliteCodeTable implements CodeTable {
  constructor(private readonly access: Access) {}

  async insert(record: CodeRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO codes (code_hash, client_id, user_id, scopes, redirect_uri, code_challenge, code_challenge_method, resources, expires_at, grant_id, consumed_at, nonce, authentication)
         VALUES (@code_hash, @client_id, @user_id, @scopes, @redirect_uri, @code_challenge, @code_challenge_method, @resources, @expires_at, @grant_id, @consumed_at, @nonce, @authentication)`,
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
        nonce: record.nonce ?? null,
        authentication: authenticationText(record.authentication),
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
    if (row.nonce !== null) record.nonce = row.nonce
    if (row.authentication !== null) record.authentication = JSON.parse(row.authentication) as Authentication
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
  authentication: string | null
}

/** Access and refresh tokens in table `tokens`, by digest; inserts outside transactions are committed in groups. */
export class SqliteTokenTable implements TokenTable {
  constructor(private readonly access: Access) {}

  async insert(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.access.writeGrouped((sql, db) => {
      const insert = sql(
        `INSERT INTO tokens (token_hash, type, client_id, user_id, scopes, resources, issued_at, expires_at, grant_id, revoked_at, rotated_at, authentication)
         VALUES (@token_hash, @type, @client_id, @user_id, @scopes, @resources, @issued_at, @expires_at, @grant_id, @revoked_at, @rotated_at, @authentication)`,
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
          authentication: authenticationText(record.authentication),
        } satisfies TokenRow)
      // One statement is whole on its own; a response's two tokens are saved together or not at all (a savepoint when
      // inside a transaction).
      if (records.length === 1) insertRecord(records[0] as TokenRecord)
      else db.transaction(() => records.forEach(insertRecord))()
    })
  }

  async get(tokenHash: string): Promise<TokenRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined)
    return row === undefined ? undefined : tokenRecord(row)
  }

  /** SQLite transactions hold the one write lock: they never interleave, so there is nothing more to hold. */
  async lock(): Promise<void> {}

  async family(grantId: string): Promise<readonly TokenRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM tokens WHERE grant_id = ?').all(grantId) as TokenRow[])
    return rows.map(tokenRecord)
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

  async revokeForUser(userId: string, now: number): Promise<number> {
    return this.access.write((sql) => sql('UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(now, userId).changes)
  }
}

/** A token's row as its record. */
function tokenRecord(row: TokenRow): TokenRecord {
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
  if (row.authentication !== null) record.authentication = JSON.parse(row.authentication) as Authentication
  return record
}

/** An authentication (OpenID Connect) as its JSON column, NULL when there is none. */
function authenticationText(authentication: Authentication | undefined): string | null {
  return authentication === undefined ? null : JSON.stringify(authentication)
}
