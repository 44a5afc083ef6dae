/**
 * The Maps of a `MemoryStore`, the lock its transactions take turns on, and the journal that undoes a failed
 * transaction's writes.
 *
 * @module
 * @internal
 */
import { Lock } from '../lock.js'
import type { ClientRecord, CodeRecord, ConsentRecord, InitialAccessTokenRecord, RateLimitWindow, SessionRecord, SigningKeyRecord, TokenRecord, UserRecord } from '../tables.js'
import { TransactionStorage } from '../transaction-storage.js'
import { NONE } from './records.js'

/** How many tokens a `MemoryStore` keeps unless told otherwise: about 300 MB of heap. */
export const DEFAULT_MAX_TOKENS = 1_000_000

/**
 * A `MemoryStore` holds its maximum number of tokens, none of which has expired or was revoked: the token is not
 * stored. `MemoryStore.isUnavailableError` accepts it, so `StoreValidator` answers `temporarily_unavailable` (503 with
 * `Retry-After`) instead of growing the heap until the process dies.
 */
export class MemoryStoreFullError extends Error {
  /** Stable code, for `switch` without `instanceof`. */
  readonly code = 'ERR_MEMORY_STORE_FULL'

  constructor(readonly maxTokens: number) {
    super(`The memory store holds its maximum of ${maxTokens} live tokens (or authorization codes)`)
    this.name = 'MemoryStoreFullError'
  }
}

/** What a transaction in progress keeps: how to undo each of its writes, newest last. */
interface Transaction {
  open: boolean
  readonly undo: (() => void)[]
}

/** Writes to the Maps, remembering how to undo each write when it belongs to a transaction. */
export class Writer {
  constructor(private readonly undo: (() => void)[] | undefined) {}

  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    this.remember(map, key)
    map.set(key, value)
  }

  delete<K, V>(map: Map<K, V>, key: K): boolean {
    if (!map.has(key)) return false
    this.remember(map, key)
    map.delete(key)
    return true
  }

  private remember<K, V>(map: Map<K, V>, key: K): void {
    if (this.undo === undefined) return
    if (map.has(key)) {
      const previous = map.get(key) as V
      this.undo.push(() => map.set(key, previous))
    } else {
      this.undo.push(() => map.delete(key))
    }
  }
}

/** The writer of everything outside a transaction: nothing to undo, so one serves every write. */
const UNJOURNALED = new Writer(undefined)

/** A signing key as the memory store keeps it: the record, and its place in the order of insertion. */
export interface StoredKey {
  readonly record: SigningKeyRecord
  readonly order: number
}

/** The Maps of one `MemoryStore`, the lock its transactions take turns on, and the writes that span tables. */
export class MemoryDatabase {
  readonly clients = new Map<string, ClientRecord>()
  readonly users = new Map<string, UserRecord>()
  /** username → userId */
  readonly usernames = new Map<string, string>()
  readonly codes = new Map<string, CodeRecord>()
  readonly tokens = new Map<string, TokenRecord>()
  /**
   * grantId → the digests of its tokens: the digest itself for a family of one (every client_credentials token),
   * else an array. Replaced, never changed in place, so that the journal can restore it.
   */
  readonly families = new Map<string, string | readonly string[]>()
  /** consentKey(clientId, userId) → consent */
  readonly consents = new Map<string, ConsentRecord>()
  /** kid → signing key, with the order of insertion that breaks ties of `createdAt` in `list`. */
  readonly keys = new Map<string, StoredKey>()
  /** rate-limit key → its window, in the order the windows started. */
  readonly rateLimits = new Map<string, RateLimitWindow>()
  /** session digest → session */
  readonly sessions = new Map<string, SessionRecord>()
  /** name → installation secret */
  readonly installationSecrets = new Map<string, string>()
  /** id → initial access token (few: looked up by digest with a scan) */
  readonly initialAccessTokens = new Map<string, InitialAccessTokenRecord>()
  /** The `order` of the next key inserted. */
  nextKeyOrder = 0
  /** The most tokens kept (`MemoryStoreOptions.maxTokens`). */
  maxTokens = DEFAULT_MAX_TOKENS
  /** No stored token expires before this time (seconds): a full store need not look for one to evict until then. */
  private nothingExpiresBefore = 0
  /** No stored code expires before this time (seconds): {@link MemoryDatabase.makeRoomForCode}'s scan waits till then. */
  private noCodeExpiresBefore = 0
  /**
   * The digests of tokens revoked since they were stored, evicted first from a full store without a scan: otherwise a
   * client alternating a revocation and a token request would make every request of a full store look at every token.
   * A hint, not journaled: an entry whose token is gone or no longer revoked (a rolled-back revocation) is skipped.
   */
  private readonly revokedTokens = new Set<string>()

  private readonly lock = new Lock()
  private readonly context = new TransactionStorage<Transaction>()
  private closed = false

  /**
   * Runs one table operation. `operation` is synchronous, so that a check and the write it guards happen with no
   * await between them (atomic `consume` and `rotate`). Inside a transaction it runs at once and is journaled;
   * outside, it waits for a running transaction to finish first.
   */
  run<T>(operation: (writer: Writer) => T): Promise<T> {
    const transaction = this.context.getStore()
    if (transaction?.open === true) return this.settle(operation, transaction.undo)
    if (!this.lock.busy) return this.settle(operation, undefined)
    return this.lock.run(() => this.apply(operation, undefined))
  }

  /** `apply` as a settled promise: no async function (and its extra turns) on the common path. */
  private settle<T>(operation: (writer: Writer) => T, undo: (() => void)[] | undefined): Promise<T> {
    try {
      return Promise.resolve(this.apply(operation, undo))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    const outer = this.context.getStore()
    if (outer?.open === true) {
      // A nested transaction joins the outer one; like a savepoint, its failure undoes only its own writes.
      const mark = outer.undo.length
      try {
        return await work()
      } catch (error) {
        undoTo(outer.undo, mark)
        throw error
      }
    }
    return this.lock.run(async () => {
      const transaction: Transaction = { open: true, undo: [] }
      try {
        this.assertOpen()
        return await this.context.run(transaction, work)
      } catch (error) {
        undoTo(transaction.undo, 0)
        throw error
      } finally {
        // Work that `work` left running without awaiting it now writes outside the transaction, through the lock.
        transaction.open = false
      }
    })
  }

  async close(): Promise<void> {
    if (this.context.getStore()?.open === true) throw new Error('A MemoryStore cannot be closed inside one of its transactions')
    await this.lock.run(() => {
      this.closed = true
      for (const map of [
        this.clients,
        this.users,
        this.usernames,
        this.codes,
        this.tokens,
        this.families,
        this.consents,
        this.keys,
        this.rateLimits,
        this.sessions,
        this.installationSecrets,
        this.initialAccessTokens,
      ]) {
        map.clear()
      }
      this.revokedTokens.clear()
    })
  }

  /**
   * Makes room for `count` more tokens: when the store is full, evicts tokens that have expired or were revoked (the
   * oldest first, at least a hundredth of the maximum at a time, so that the next inserts find room at once).
   *
   * @throws {@link MemoryStoreFullError} when not enough of them can go
   */
  makeRoom(writer: Writer, count: number): void {
    if (this.tokens.size + count <= this.maxTokens) return
    for (const tokenHash of this.revokedTokens) {
      this.revokedTokens.delete(tokenHash)
      const token = this.tokens.get(tokenHash)
      if (token?.revokedAt !== undefined) this.deleteToken(writer, token)
      if (this.tokens.size + count <= this.maxTokens) return
    }
    const now = Math.floor(Date.now() / 1000)
    if (now >= this.nothingExpiresBefore) {
      const wanted = Math.max(count, Math.ceil(this.maxTokens / 100))
      let evicted = 0
      let earliest = Number.POSITIVE_INFINITY
      for (const token of this.tokens.values()) {
        if (token.revokedAt !== undefined || (token.expiresAt !== undefined && token.expiresAt <= now)) {
          this.deleteToken(writer, token)
          if (++evicted >= wanted) break
        } else if (token.expiresAt !== undefined && token.expiresAt < earliest) {
          earliest = token.expiresAt
        }
      }
      // Every token was looked at: none can go before the earliest expiry (or a revocation, which resets this).
      if (evicted < wanted) this.nothingExpiresBefore = earliest
    }
    if (this.tokens.size + count > this.maxTokens) throw new MemoryStoreFullError(this.maxTokens)
  }

  /**
   * Makes room for one more authorization code, as {@link MemoryDatabase.makeRoom} does for tokens: at most
   * `maxTokens` codes, those expired evicted first (at most one scan per earliest expiry), else
   * {@link MemoryStoreFullError}. Without it, a signed-in user could mint codes without bound.
   */
  makeRoomForCode(writer: Writer): void {
    if (this.codes.size < this.maxTokens) return
    const now = Math.floor(Date.now() / 1000)
    if (now >= this.noCodeExpiresBefore) {
      let earliest = Number.POSITIVE_INFINITY
      for (const [codeHash, code] of this.codes) {
        if (code.expiresAt <= now) writer.delete(this.codes, codeHash)
        else if (code.expiresAt < earliest) earliest = code.expiresAt
      }
      this.noCodeExpiresBefore = earliest
    }
    if (this.codes.size >= this.maxTokens) throw new MemoryStoreFullError(this.maxTokens)
  }

  /** A token was revoked: it may be evicted from a full store at once. */
  revoked(tokenHash: string): void {
    this.revokedTokens.add(tokenHash)
  }

  insertToken(writer: Writer, record: TokenRecord): void {
    writer.set(this.tokens, record.tokenHash, record)
    const family = this.families.get(record.grantId)
    writer.set(this.families, record.grantId, family === undefined ? record.tokenHash : typeof family === 'string' ? [family, record.tokenHash] : [...family, record.tokenHash])
  }

  deleteToken(writer: Writer, record: TokenRecord): void {
    writer.delete(this.tokens, record.tokenHash)
    this.revokedTokens.delete(record.tokenHash)
    const family = this.familyOf(record.grantId).filter((tokenHash) => tokenHash !== record.tokenHash)
    if (family.length === 0) writer.delete(this.families, record.grantId)
    else writer.set(this.families, record.grantId, family.length === 1 ? (family[0] as string) : family)
  }

  /** The digests of the tokens of a grant. */
  familyOf(grantId: string): readonly string[] {
    const family = this.families.get(grantId)
    return family === undefined ? NONE : typeof family === 'string' ? [family] : family
  }

  /** Deletes a client and its codes, tokens and consents. */
  deleteClient(writer: Writer, clientId: string): void {
    writer.delete(this.clients, clientId)
    this.deleteDependents(writer, (record) => record.clientId === clientId)
  }

  /** Deletes the codes, tokens and consents that `belongs` says belong to a client or user being removed. */
  deleteDependents(writer: Writer, belongs: (record: { readonly clientId: string; readonly userId?: string | undefined }) => boolean): void {
    for (const [codeHash, code] of this.codes) if (belongs(code)) writer.delete(this.codes, codeHash)
    for (const token of this.tokens.values()) if (belongs(token)) this.deleteToken(writer, token)
    for (const [key, consent] of this.consents) if (belongs(consent)) writer.delete(this.consents, key)
  }

  /** Deletes the sessions of a user. @returns how many */
  deleteSessions(writer: Writer, userId: string): number {
    let deleted = 0
    for (const [sessionHash, session] of this.sessions) if (session.userId === userId && writer.delete(this.sessions, sessionHash)) deleted++
    return deleted
  }

  /** Deletes up to `limit` codes and tokens expired before `cutoff`. @returns how many */
  purgeBatch(writer: Writer, cutoff: number, limit: number): number {
    let deleted = 0
    for (const [codeHash, code] of this.codes) {
      if (deleted === limit) return deleted
      if (code.expiresAt < cutoff && writer.delete(this.codes, codeHash)) deleted++
    }
    for (const token of this.tokens.values()) {
      if (deleted === limit) return deleted
      // A refresh token without expiry is kept for reuse detection until it has been revoked for the grace period.
      const gone = token.expiresAt !== undefined ? token.expiresAt < cutoff : token.revokedAt !== undefined && token.revokedAt < cutoff
      if (gone) {
        this.deleteToken(writer, token)
        deleted++
      }
    }
    return deleted
  }

  /**
   * Deletes the signing keys whose `expiresAt` is before `now`, and the initial access tokens expired at or before it.
   *
   * @returns how many
   */
  purgeKeys(writer: Writer, now: number): number {
    let deleted = 0
    for (const [kid, { record }] of this.keys) {
      if (record.expiresAt !== undefined && record.expiresAt < now && writer.delete(this.keys, kid)) deleted++
    }
    for (const [id, token] of this.initialAccessTokens) {
      if (token.expiresAt !== undefined && token.expiresAt <= now && writer.delete(this.initialAccessTokens, id)) deleted++
    }
    return deleted
  }

  /** Deletes up to `limit` rate-limit windows and sessions that ended at or before `now`. @returns how many */
  purgeRateLimits(writer: Writer, now: number, limit: number): number {
    let deleted = 0
    for (const [key, window] of this.rateLimits) {
      if (deleted === limit) return deleted
      if (window.resetAt <= now && writer.delete(this.rateLimits, key)) deleted++
    }
    for (const [sessionHash, session] of this.sessions) {
      if (deleted === limit) return deleted
      if (session.expiresAt <= now && writer.delete(this.sessions, sessionHash)) deleted++
    }
    return deleted
  }

  /** @throws Error when a code, token or consent would refer to a client or user that does not exist */
  assertReferences(record: { readonly clientId: string; readonly userId?: string | undefined }): void {
    if (!this.clients.has(record.clientId)) throw new Error('No client with this clientId')
    if (record.userId !== undefined && !this.users.has(record.userId)) throw new Error('No user with this userId')
  }

  private apply<T>(operation: (writer: Writer) => T, undo: (() => void)[] | undefined): T {
    this.assertOpen()
    return operation(undo === undefined ? UNJOURNALED : new Writer(undo))
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('This MemoryStore is closed')
  }
}

/** Rolls a journal back to `mark`, newest write first. */
function undoTo(undo: (() => void)[], mark: number): void {
  while (undo.length > mark) (undo.pop() as () => void)()
}
