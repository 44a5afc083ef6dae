/**
 * Initial access tokens (RFC 7591 §3) over an `InitialAccessTokenTable`: tokens of 256 bits generated here, shown once
 * and stored only as their digest, each with an expiry and a number of uses.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { tokenHash } from './secrets.js'
import { type InitialAccessTokenRecord, type InitialAccessTokenTable } from './tables.js'

/** What {@link InitialAccessTokens.create} takes. */
export interface NewInitialAccessToken {
  /** Seconds until it stops working; default: it never does. */
  readonly expiresIn?: number | undefined
  /** How many registrations it allows; default unlimited. */
  readonly uses?: number | undefined
}

/** A token just made: the token itself, shown once and not stored, and its record. */
export interface CreatedInitialAccessToken {
  readonly token: string
  readonly record: InitialAccessTokenRecord
}

/**
 * The initial access tokens of a store: `store.initialAccessTokens`. Where registration needs one (`oauthkit serve
 * --registration token`), a client sends it as `Authorization: Bearer` to the registration endpoint.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3 | RFC 7591 §3}
 */
export class InitialAccessTokens {
  constructor(private readonly table: InitialAccessTokenTable) {}

  /**
   * Makes a token of 256 random bits; only its digest is stored.
   *
   * @throws TypeError when `expiresIn` or `uses` is not a positive whole number
   */
  async create(input: NewInitialAccessToken = {}): Promise<CreatedInitialAccessToken> {
    for (const [name, value] of [['expiresIn', input.expiresIn], ['uses', input.uses]] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new TypeError(`An initial access token's ${name} must be a positive whole number`)
    }
    const token = randomBytes(32).toString('base64url')
    const createdAt = Math.floor(Date.now() / 1000)
    const record: InitialAccessTokenRecord = {
      id: randomBytes(6).toString('hex'),
      tokenHash: tokenHash(token),
      createdAt,
      ...(input.expiresIn === undefined ? {} : { expiresAt: createdAt + input.expiresIn }),
      ...(input.uses === undefined ? {} : { usesLeft: input.uses }),
    }
    await this.table.insert(record)
    return { token, record }
  }

  /** Every token (their digests), oldest first. */
  list(): Promise<readonly InitialAccessTokenRecord[]> {
    return this.table.list()
  }

  /** @returns whether the token existed */
  remove(id: string): Promise<boolean> {
    return this.table.delete(id)
  }

  /** Whether `token` would be accepted at `now`: known (looked up by its digest), not expired, with a use left. */
  async isValid(token: string, now: number): Promise<boolean> {
    return isUsable(await this.table.get(tokenHash(token)), now)
  }

  /** Spends one use of `token`, atomically (see {@link InitialAccessTokenTable.use}). */
  use(token: string, now: number): Promise<boolean> {
    return this.table.use(tokenHash(token), now)
  }
}

/** Whether a stored token may still be used at `now`. */
export function isUsable(record: InitialAccessTokenRecord | undefined, now: number): boolean {
  return record !== undefined && (record.expiresAt === undefined || record.expiresAt > now) && (record.usesLeft === undefined || record.usesLeft > 0)
}
