/**
 * The `Store`: what a complete authorization server keeps, behind a small typed interface that the memory, SQLite and
 * PostgreSQL backends implement and `StoreValidator` uses. The records and tables it is made of are in `tables.ts`,
 * re-exported here.
 *
 * Secrets never reach a backend in clear: tokens, codes and generated client secrets arrive as SHA-256 digests
 * (`tokenHash`: the digest of the whole token or code), passwords and imported secrets as slow scrypt hashes (see
 * `secrets.ts`). The one exception is the signing keys of JWT access tokens ({@link KeyTable}): a key that must sign
 * cannot be hashed, so it is stored as it is, and the database must be protected like the key itself.
 *
 * Times are whole seconds since the epoch.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { Clients } from './clients.js'
import { InitialAccessTokens } from './initial-access-tokens.js'
import {
  type ClientTable,
  type CodeTable,
  type ConsentTable,
  type InitialAccessTokenTable,
  type InstallationSecretTable,
  type KeyTable,
  type RateLimitTable,
  type SessionTable,
  type StoreBackend,
  type TokenTable,
  type UserTable,
} from './tables.js'
import { Users } from './users.js'

export * from './tables.js'

/**
 * A store: a backend's tables plus client registration (`clients`) and user management (`users`) built on them.
 * Extend it to write a backend; use `MemoryStore`, `SqliteStore` or `PostgresStore` otherwise.
 */
export abstract class Store implements StoreBackend {
  abstract readonly clientTable: ClientTable
  abstract readonly userTable: UserTable
  abstract readonly codes: CodeTable
  abstract readonly tokens: TokenTable
  abstract readonly consents: ConsentTable
  abstract readonly keys: KeyTable
  abstract readonly rateLimits: RateLimitTable
  abstract readonly sessions: SessionTable
  abstract readonly installationSecrets: InstallationSecretTable
  abstract readonly initialAccessTokenTable: InitialAccessTokenTable
  abstract transaction<T>(work: () => Promise<T>): Promise<T>
  abstract purgeExpired(now: number): Promise<number>
  abstract close(): Promise<void>
  /**
   * Whether an error thrown by this backend means the database cannot be reached right now (connection refused or
   * lost, database locked or gone), as opposed to a bug. `StoreValidator` answers the first with
   * `temporarily_unavailable` (503) and the second with `server_error` (500).
   */
  abstract isUnavailableError(error: unknown): boolean

  /**
   * The installation's secret named `name`, 32 random bytes made the first time any instance asks and kept in the
   * store, so that every instance over the database gets the same one.
   */
  async installationSecret(name: string): Promise<Uint8Array> {
    const value = await this.installationSecrets.getOrInsert(name, randomBytes(32).toString('base64url'), Math.floor(Date.now() / 1000))
    return Buffer.from(value, 'base64url')
  }

  private clientsView: Clients | undefined
  private usersView: Users | undefined
  private initialAccessTokensView: InitialAccessTokens | undefined

  /** Client registration: create, list, remove, rotate secrets, authenticate. */
  get clients(): Clients {
    this.clientsView ??= new Clients(this.clientTable)
    return this.clientsView
  }

  /** Initial access tokens of client registration (RFC 7591 §3): create, list, remove, check, spend. */
  get initialAccessTokens(): InitialAccessTokens {
    this.initialAccessTokensView ??= new InitialAccessTokens(this.initialAccessTokenTable)
    return this.initialAccessTokensView
  }

  /** User management: create, list, remove, set passwords (which signs the user out), authenticate. */
  get users(): Users {
    this.usersView ??= new Users(this.userTable, this.sessions, this.tokens)
    return this.usersView
  }
}
