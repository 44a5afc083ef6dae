/**
 * Resource owners over a `UserTable`: passwords stored with scrypt, checked in constant time.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { hashPassword, isWeakerThanCurrent, unknownUserHash, verifySecret } from './secrets.js'
import { type SessionTable, type TokenTable, type UserRecord, type UserTable } from './tables.js'
import { checkUserClaims } from './user-claims.js'

/** What {@link Users.create} takes. */
export interface NewUser {
  readonly username: string
  readonly password: string
  /** Choose the identifier (the `sub` of tokens) instead of a generated one. */
  readonly userId?: string | undefined
  /** Standard claims of the profile (OpenID Connect Core §5.1): `name`, `email`, `email_verified`, `locale`, … */
  readonly claims?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The users of a store: `store.users`.
 *
 * @example
 * ```ts
 * await store.users.create({ username: 'alice', password: 'correct horse battery staple' })
 * ```
 */
/**
 * A username as oauthkit keeps and compares it: compatibility-normalized and case-mapped (NFKC, lower case, NFC),
 * after RFC 8265's UsernameCaseMapped profile, so that "zoë" composed and decomposed, fullwidth "ａｌｉｃｅ" and "Alice"
 * are one account, not look-alikes of each other.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc8265#section-3.3 | RFC 8265 §3.3}
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase().normalize('NFC')
}

export class Users {
  constructor(
    private readonly table: UserTable,
    private readonly sessions: SessionTable,
    private readonly tokens: TokenTable,
  ) {}

  /**
   * Creates a user; the password is stored as an scrypt hash only.
   *
   * @throws TypeError when the username is empty or has control characters, the password is empty, or a claim is not
   *   a standard claim of its type (see {@link checkUserClaims})
   */
  async create(input: NewUser): Promise<UserRecord> {
    if (typeof input.username !== 'string' || input.username === '' || /[\x00-\x1F\x7F]/.test(input.username)) {
      throw new TypeError('A username must be printable and not empty')
    }
    if (typeof input.password !== 'string' || input.password === '') throw new TypeError('A password must not be empty')
    const claims = checkUserClaims(input.claims ?? {})
    const username = normalizeUsername(input.username)
    // A name that stands for an existing account once normalized is that account, even one stored before
    // usernames were normalized.
    if ((await this.getByUsername(username)) !== undefined) throw new TypeError(`A user named ${username} exists already`)
    const user: UserRecord = {
      userId: input.userId ?? randomBytes(16).toString('base64url'),
      username,
      passwordHash: await hashPassword(input.password),
      createdAt: Math.floor(Date.now() / 1000),
      ...(Object.keys(claims).length === 0 ? {} : { claims }),
    }
    await this.table.insert(user)
    return user
  }

  /** The user with this identifier, or `undefined`. */
  get(userId: string): Promise<UserRecord | undefined> {
    return this.table.get(userId)
  }

  /**
   * The user with this username (normalized, see {@link normalizeUsername}), or `undefined`. An account stored before
   * usernames were normalized is found by its name exactly as stored.
   */
  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const normalized = normalizeUsername(username)
    return (await this.table.getByUsername(normalized)) ?? (normalized === username ? undefined : this.table.getByUsername(username))
  }

  /** Every user. */
  list(): Promise<readonly UserRecord[]> {
    return this.table.list()
  }

  /** Removes a user with their codes, tokens, consents and sessions. @returns whether they existed */
  remove(userId: string): Promise<boolean> {
    return this.table.delete(userId)
  }

  /**
   * Sets a new password, and ends what the old one opened: every session of the user, on every instance, and every
   * token issued to them (a password is changed when it may be known to someone else).
   *
   * @returns whether the user exists
   * @throws TypeError when the password is empty
   */
  async setPassword(userId: string, password: string): Promise<boolean> {
    if (typeof password !== 'string' || password === '') throw new TypeError('A password must not be empty')
    if (!(await this.table.updatePasswordHash(userId, await hashPassword(password)))) return false
    await this.signOutEverywhere(userId)
    await this.tokens.revokeForUser(userId, Math.floor(Date.now() / 1000))
    return true
  }

  /**
   * Replaces the claims of the user's profile (OpenID Connect Core §5.1), which the UserInfo endpoint answers by
   * scope; `{}` removes them all.
   *
   * @returns whether the user exists
   * @throws TypeError when a claim is not a standard claim of its type (see {@link checkUserClaims})
   */
  async setClaims(userId: string, claims: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.table.updateClaims(userId, checkUserClaims(claims))
  }

  /** Ends every browser session of the user, on every instance. @returns how many there were */
  signOutEverywhere(userId: string): Promise<number> {
    return this.sessions.deleteForUser(userId)
  }

  /**
   * Checks a username and password. An unknown username costs the same scrypt work as a wrong password, so timing
   * does not reveal which usernames exist.
   *
   * @returns the user, or `undefined`
   */
  async authenticate(username: string, password: string): Promise<UserRecord | undefined> {
    const user = await this.getByUsername(username)
    const ok = await verifySecret(password, user?.passwordHash ?? (await unknownUserHash()))
    if (!ok || user === undefined) return undefined
    // A hash made with less work than new ones get is made again now, while the password is at hand.
    if (isWeakerThanCurrent(user.passwordHash)) {
      const passwordHash = await hashPassword(password)
      if (await this.table.updatePasswordHash(user.userId, passwordHash)) return { ...user, passwordHash }
    }
    return user
  }
}
