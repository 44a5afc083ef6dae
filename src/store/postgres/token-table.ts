/**
 * The PostgreSQL store's token table: the table every token request writes and every introspection reads, so its
 * inserts and reads outside transactions are coalesced per turn of the event loop.
 *
 * @module
 * @internal
 */
import { type TurnBatch } from '../batch.js'
import { type TokenRecord, type TokenTable } from '../tables.js'
import { type Authentication } from '../../types.js'
import { affected, list, optionalSeconds, readByKeys, seconds, TOKEN_COLUMNS, type Coalescing, type Int8, type Queryable, type TableNames } from './statements.js'

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
  authentication: Authentication | null
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
    authentication: row.authentication ?? undefined,
  }
}

const TOKEN_COLUMN_COUNT = 12

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
    record.authentication === undefined ? null : JSON.stringify(record.authentication),
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

/** Access and refresh tokens in table `tokens`, by digest; inserts and reads outside transactions are coalesced per turn. */
export class PostgresTokenTable implements TokenTable {
  /**
   * `insert` outside transactions: the tokens of concurrent responses in one statement, committed together (or, when
   * it fails, call by call; see {@link TurnBatch}), each call's promise settled once its rows are committed.
   */
  private readonly inserts: TurnBatch<readonly TokenRecord[], void>
  /** `get` outside transactions: introspection and resource requests read one token each, and share one `SELECT`. */
  private readonly reads: TurnBatch<string, TokenRecord | undefined>

  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
    private readonly coalescing: Coalescing,
  ) {
    this.inserts = coalescing.batch(async (calls: readonly (readonly TokenRecord[])[]): Promise<readonly void[]> => {
      await insertTokens(coalescing.pool, tables, calls.flat())
      return []
    })
    this.reads = coalescing.batch(
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

  async lock(tokenHash: string): Promise<void> {
    await this.db.query(`SELECT 1 FROM ${this.tables.tokens} WHERE token_hash = $1 FOR UPDATE`, [tokenHash])
  }

  async family(grantId: string): Promise<readonly TokenRecord[]> {
    const { rows } = await this.db.query<TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM ${this.tables.tokens} WHERE grant_id = $1`, [grantId])
    return rows.map(toToken)
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

  async revokeForUser(userId: string, now: number): Promise<number> {
    const result = await this.db.query(`UPDATE ${this.tables.tokens} SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL`, [now, userId])
    return result.rowCount ?? 0
  }
}
