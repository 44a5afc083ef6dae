/**
 * The PostgreSQL store's initial access tokens (RFC 7591 §3), table `initial_access_tokens`.
 *
 * @module
 * @internal
 */
import { initialAccessTokenValues, type InitialAccessTokenRecord, type InitialAccessTokenTable } from '../tables.js'
import { affected, optionalSeconds, seconds, type Int8, type Queryable, type TableNames } from './statements.js'

const COLUMNS = 'id, token_hash, created_at, expires_at, uses_left'

interface InitialAccessTokenRow {
  id: string
  token_hash: string
  created_at: Int8
  expires_at: Int8 | null
  uses_left: number | null
}

function toRecord(row: InitialAccessTokenRow): InitialAccessTokenRecord {
  const expiresAt = optionalSeconds(row.expires_at)
  return {
    id: row.id,
    tokenHash: row.token_hash,
    createdAt: seconds(row.created_at),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    ...(row.uses_left === null ? {} : { usesLeft: row.uses_left }),
  }
}

/** Initial access tokens by id, unique by digest. */
export class PostgresInitialAccessTokenTable implements InitialAccessTokenTable {
  constructor(
    private readonly db: Queryable,
    private readonly tables: TableNames,
  ) {}

  async insert(record: InitialAccessTokenRecord): Promise<void> {
    await this.db.query(`INSERT INTO ${this.tables.initialAccessTokens} (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, initialAccessTokenValues(record))
  }

  async list(): Promise<readonly InitialAccessTokenRecord[]> {
    const { rows } = await this.db.query<InitialAccessTokenRow>(`SELECT ${COLUMNS} FROM ${this.tables.initialAccessTokens} ORDER BY created_at, id`)
    return rows.map(toRecord)
  }

  async get(tokenHash: string): Promise<InitialAccessTokenRecord | undefined> {
    const { rows } = await this.db.query<InitialAccessTokenRow>(`SELECT ${COLUMNS} FROM ${this.tables.initialAccessTokens} WHERE token_hash = $1`, [tokenHash])
    return rows[0] === undefined ? undefined : toRecord(rows[0])
  }

  async use(tokenHash: string, now: number): Promise<boolean> {
    // One conditional UPDATE: concurrent uses queue on the row lock, and each re-checks the count it finds.
    return affected(
      await this.db.query(
        `UPDATE ${this.tables.initialAccessTokens} SET uses_left = uses_left - 1
         WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2) AND (uses_left IS NULL OR uses_left > 0)`,
        [tokenHash, now],
      ),
    )
  }

  async delete(id: string): Promise<boolean> {
    return affected(await this.db.query(`DELETE FROM ${this.tables.initialAccessTokens} WHERE id = $1`, [id]))
  }
}
