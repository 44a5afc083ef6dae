/**
 * `MemoryStore`: the `Store` kept in Maps inside one process, for tests and demos. Nothing survives a restart and
 * nothing is shared between processes, so it is no backend for a server behind a load balancer (use `SqliteStore` or
 * `PostgresStore`).
 *
 * It keeps the same promises as the database backends: records are copied in and out, a code is consumed and a
 * refresh token rotated atomically, removing a client or user removes what belongs to it, and a transaction's writes
 * are undone when its work throws.
 *
 * @module
 */
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
  type TokenRecord,
  type TokenTable,
  type UserRecord,
  type UserTable,
} from './store.js'
import { TransactionStorage } from './transaction-storage.js'

/** Rows deleted by `purgeExpired` before it lets other work run. */
const PURGE_BATCH_SIZE = 1000

/**
 * The most rate-limit windows kept at once. Each window takes a failed attempt to create and is purged once it ended;
 * past this bound the oldest window is dropped, so a flood of distinct keys cannot take all the memory.
 */
const MAX_RATE_LIMIT_WINDOWS = 100_000

/**
 * A store in memory, for tests and demos: every record lives in a Map of this object, is lost when the process exits,
 * and is not shared with other processes.
 *
 * - Records are copied in and out, their arrays frozen: changing a record you passed in or got back never changes
 *   what is stored.
 * - Transactions run one at a time. A write made through the tables while a transaction's `work` runs belongs to it
 *   and is undone when `work` throws. A read or write outside a transaction waits for a running one to finish, so it
 *   never sees, nor is rolled back with, writes that are later undone. A transaction started inside another joins it:
 *   when the inner `work` throws, only the writes made since it started are undone.
 * - Inserting a code, token or consent for a client or user that does not exist fails, as a foreign key would.
 * - `purgeExpired` keeps expired codes and tokens for an hour, for replay detection.
 * - At most 100,000 rate-limit windows are kept; beyond that the oldest is dropped.
 *
 * @example
 * ```ts
 * const store = await MemoryStore.open()
 * const { clientId, clientSecret } = await store.clients.create({ name: 'demo', grantTypes: ['client_credentials'], scopes: ['read'] })
 * const server = new Server(new StoreValidator(store, { issuer: 'http://localhost:3000' }))
 * ```
 */
export class MemoryStore extends Store {
  /** Opens an empty store. Async only to match `SqliteStore.open` and `PostgresStore.open`. */
  static open(): Promise<MemoryStore> {
    return Promise.resolve(new MemoryStore())
  }

  private readonly database = new MemoryDatabase()

  /** Clients, by `clientId`. */
  readonly clientTable: ClientTable = new MemoryClientTable(this.database)
  /** Users, by `userId`, with unique usernames. */
  readonly userTable: UserTable = new MemoryUserTable(this.database)
  /** Authorization codes, by digest. */
  readonly codes: CodeTable = new MemoryCodeTable(this.database)
  /** Access and refresh tokens, by digest, indexed by grant family. */
  readonly tokens: TokenTable = new MemoryTokenTable(this.database)
  /** Consents, by client and user. */
  readonly consents: ConsentTable = new MemoryConsentTable(this.database)
  /** Signing keys, by `kid`, private keys included (they live in this process's memory only). */
  readonly keys: KeyTable = new MemoryKeyTable(this.database)
  /** Rate-limit windows, by key; this process's counts only. */
  readonly rateLimits: RateLimitTable = new MemoryRateLimitTable(this.database)

  /**
   * Runs `work` as one transaction, after any running one: when it throws, every write it made through the tables is
   * undone and the error rethrown. Inside another transaction, `work` joins it (see the class notes).
   */
  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.database.transaction(work)
  }

  /**
   * Deletes codes that expired more than an hour before `now`, tokens that did, and refresh tokens without expiry
   * that were revoked more than an hour before `now`, in batches of a thousand; and signing keys whose `expiresAt` is
   * before `now`; and rate-limit windows that ended at or before `now`, in batches too.
   *
   * @returns how many codes, tokens, keys and rate-limit windows were deleted
   */
  async purgeExpired(now: number): Promise<number> {
    const cutoff = now - PURGE_GRACE_SECONDS
    let deleted = 0
    for (;;) {
      const batch = await this.database.run((writer) => this.database.purgeBatch(writer, cutoff, PURGE_BATCH_SIZE))
      deleted += batch
      if (batch < PURGE_BATCH_SIZE) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (;;) {
      const batch = await this.database.run((writer) => this.database.purgeRateLimits(writer, now, PURGE_BATCH_SIZE))
      deleted += batch
      if (batch < PURGE_BATCH_SIZE) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Keys are few: one step, no batches. No grace either: a key expires when the last token it signed does.
    return deleted + (await this.database.run((writer) => this.database.purgeKeys(writer, now)))
  }

  /** Always `false`: memory cannot be unreachable. */
  isUnavailableError(error: unknown): boolean {
    void error
    return false
  }

  /** Forgets every record, after any running transaction; later calls on the store reject. */
  close(): Promise<void> {
    return this.database.close()
  }
}

/** What a transaction in progress keeps: how to undo each of its writes, newest last. */
interface Transaction {
  open: boolean
  readonly undo: (() => void)[]
}

/** Writes to the Maps, remembering how to undo each write when it belongs to a transaction. */
class Writer {
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

/** A first-come, first-served lock: who holds it hands it straight to the next in line. */
class Queue {
  private held = false
  private readonly waiting: (() => void)[] = []

  get busy(): boolean {
    return this.held
  }

  acquire(): Promise<void> {
    if (!this.held) {
      this.held = true
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    const next = this.waiting.shift()
    if (next === undefined) this.held = false
    else next()
  }
}

/** The Maps of one `MemoryStore`, the queue its transactions take turns in, and the writes that span tables. */
class MemoryDatabase {
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
  /** The `order` of the next key inserted. */
  nextKeyOrder = 0

  private readonly queue = new Queue()
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
    if (!this.queue.busy) return this.settle(operation, undefined)
    return this.runQueued(operation)
  }

  /** `apply` as a settled promise: no async function (and its extra turns) on the common path. */
  private settle<T>(operation: (writer: Writer) => T, undo: (() => void)[] | undefined): Promise<T> {
    try {
      return Promise.resolve(this.apply(operation, undo))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private async runQueued<T>(operation: (writer: Writer) => T): Promise<T> {
    await this.queue.acquire()
    try {
      return this.apply(operation, undefined)
    } finally {
      this.queue.release()
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
    await this.queue.acquire()
    const transaction: Transaction = { open: true, undo: [] }
    try {
      this.assertOpen()
      return await this.context.run(transaction, work)
    } catch (error) {
      undoTo(transaction.undo, 0)
      throw error
    } finally {
      // Work that `work` left running without awaiting it now writes outside the transaction, through the queue.
      transaction.open = false
      this.queue.release()
    }
  }

  async close(): Promise<void> {
    if (this.context.getStore()?.open === true) throw new Error('A MemoryStore cannot be closed inside one of its transactions')
    await this.queue.acquire()
    try {
      this.closed = true
      for (const map of [this.clients, this.users, this.usernames, this.codes, this.tokens, this.families, this.consents, this.keys, this.rateLimits]) {
        map.clear()
      }
    } finally {
      this.queue.release()
    }
  }

  insertToken(writer: Writer, record: TokenRecord): void {
    writer.set(this.tokens, record.tokenHash, record)
    const family = this.families.get(record.grantId)
    writer.set(this.families, record.grantId, family === undefined ? record.tokenHash : typeof family === 'string' ? [family, record.tokenHash] : [...family, record.tokenHash])
  }

  deleteToken(writer: Writer, record: TokenRecord): void {
    writer.delete(this.tokens, record.tokenHash)
    const family = this.familyOf(record.grantId).filter((tokenHash) => tokenHash !== record.tokenHash)
    if (family.length === 0) writer.delete(this.families, record.grantId)
    else writer.set(this.families, record.grantId, family.length === 1 ? (family[0] as string) : family)
  }

  /** The digests of the tokens of a grant. */
  familyOf(grantId: string): readonly string[] {
    const family = this.families.get(grantId)
    return family === undefined ? NONE : typeof family === 'string' ? [family] : family
  }

  /** Deletes the codes, tokens and consents that `belongs` says belong to a client or user being removed. */
  deleteDependents(writer: Writer, belongs: (record: { readonly clientId: string; readonly userId?: string | undefined }) => boolean): void {
    for (const [codeHash, code] of this.codes) if (belongs(code)) writer.delete(this.codes, codeHash)
    for (const token of this.tokens.values()) if (belongs(token)) this.deleteToken(writer, token)
    for (const [key, consent] of this.consents) if (belongs(consent)) writer.delete(this.consents, key)
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

  /** Deletes the signing keys whose `expiresAt` is before `now`. @returns how many */
  purgeKeys(writer: Writer, now: number): number {
    let deleted = 0
    for (const [kid, { record }] of this.keys) {
      if (record.expiresAt !== undefined && record.expiresAt < now && writer.delete(this.keys, kid)) deleted++
    }
    return deleted
  }

  /** Deletes up to `limit` rate-limit windows that ended at or before `now`. @returns how many */
  purgeRateLimits(writer: Writer, now: number, limit: number): number {
    let deleted = 0
    for (const [key, window] of this.rateLimits) {
      if (deleted === limit) return deleted
      if (window.resetAt <= now && writer.delete(this.rateLimits, key)) deleted++
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

class MemoryClientTable implements ClientTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: ClientRecord): Promise<void> {
    const client = copyClient(record)
    return this.database.run((writer) => {
      if (this.database.clients.has(client.clientId)) throw new Error('A client with this clientId exists already')
      writer.set(this.database.clients, client.clientId, client)
    })
  }

  get(clientId: string): Promise<ClientRecord | undefined> {
    return this.database.run(() => copyOut(this.database.clients.get(clientId)))
  }

  list(): Promise<readonly ClientRecord[]> {
    return this.database.run(() => [...this.database.clients.values()].map((client) => ({ ...client })))
  }

  delete(clientId: string): Promise<boolean> {
    return this.database.run((writer) => {
      if (!writer.delete(this.database.clients, clientId)) return false
      this.database.deleteDependents(writer, (record) => record.clientId === clientId)
      return true
    })
  }

  updateSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return this.database.run((writer) => {
      const client = this.database.clients.get(clientId)
      if (client === undefined) return false
      writer.set(this.database.clients, clientId, changed(client, { secretHash }))
      return true
    })
  }
}

class MemoryUserTable implements UserTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: UserRecord): Promise<void> {
    const user = copyUser(record)
    return this.database.run((writer) => {
      if (this.database.users.has(user.userId)) throw new Error('A user with this userId exists already')
      if (this.database.usernames.has(user.username)) throw new Error('A user with this username exists already')
      writer.set(this.database.users, user.userId, user)
      writer.set(this.database.usernames, user.username, user.userId)
    })
  }

  get(userId: string): Promise<UserRecord | undefined> {
    return this.database.run(() => copyOut(this.database.users.get(userId)))
  }

  getByUsername(username: string): Promise<UserRecord | undefined> {
    return this.database.run(() => {
      const userId = this.database.usernames.get(username)
      return userId === undefined ? undefined : copyOut(this.database.users.get(userId))
    })
  }

  list(): Promise<readonly UserRecord[]> {
    return this.database.run(() => [...this.database.users.values()].map((user) => ({ ...user })))
  }

  delete(userId: string): Promise<boolean> {
    return this.database.run((writer) => {
      const user = this.database.users.get(userId)
      if (user === undefined) return false
      writer.delete(this.database.users, userId)
      writer.delete(this.database.usernames, user.username)
      this.database.deleteDependents(writer, (record) => record.userId === userId)
      return true
    })
  }

  updatePasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.database.run((writer) => {
      const user = this.database.users.get(userId)
      if (user === undefined) return false
      writer.set(this.database.users, userId, changed(user, { passwordHash }))
      return true
    })
  }
}

class MemoryCodeTable implements CodeTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: CodeRecord): Promise<void> {
    const code = copyCode(record)
    return this.database.run((writer) => {
      if (this.database.codes.has(code.codeHash)) throw new Error('A code with this digest exists already')
      this.database.assertReferences(code)
      writer.set(this.database.codes, code.codeHash, code)
    })
  }

  get(codeHash: string): Promise<CodeRecord | undefined> {
    return this.database.run(() => copyOut(this.database.codes.get(codeHash)))
  }

  consume(codeHash: string, now: number): Promise<boolean> {
    // Check and write in one synchronous step: no concurrent call can see the code unconsumed in between.
    return this.database.run((writer) => {
      const code = this.database.codes.get(codeHash)
      if (code === undefined || code.consumedAt !== undefined) return false
      writer.set(this.database.codes, codeHash, changed(code, { consumedAt: now }))
      return true
    })
  }
}

class MemoryTokenTable implements TokenTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 1) {
      // One token (an access token alone: the common request): nothing to check against the others.
      const token = copyToken(records[0] as TokenRecord)
      return this.database.run((writer) => {
        if (this.database.tokens.has(token.tokenHash)) throw new Error('A token with this digest exists already')
        this.database.assertReferences(token)
        this.database.insertToken(writer, token)
      })
    }
    const tokens = records.map(copyToken)
    return this.database.run((writer) => {
      // Check them all before writing any, so that a failed insert writes nothing.
      const digests = new Set<string>()
      for (const token of tokens) {
        if (this.database.tokens.has(token.tokenHash) || digests.has(token.tokenHash)) throw new Error('A token with this digest exists already')
        digests.add(token.tokenHash)
        this.database.assertReferences(token)
      }
      for (const token of tokens) this.database.insertToken(writer, token)
    })
  }

  get(tokenHash: string): Promise<TokenRecord | undefined> {
    return this.database.run(() => copyOut(this.database.tokens.get(tokenHash)))
  }

  revoke(tokenHash: string, now: number): Promise<boolean> {
    return this.database.run((writer) => {
      const token = this.database.tokens.get(tokenHash)
      if (token === undefined) return false
      if (token.revokedAt === undefined) writer.set(this.database.tokens, tokenHash, changed(token, { revokedAt: now }))
      return true
    })
  }

  rotate(tokenHash: string, now: number): Promise<boolean> {
    // Check and write in one synchronous step, as for consume.
    return this.database.run((writer) => {
      const token = this.database.tokens.get(tokenHash)
      if (token?.type !== 'refresh_token' || token.rotatedAt !== undefined || token.revokedAt !== undefined) return false
      writer.set(this.database.tokens, tokenHash, changed(token, { rotatedAt: now }))
      return true
    })
  }

  revokeFamily(grantId: string, now: number): Promise<number> {
    return this.database.run((writer) => {
      let revoked = 0
      for (const tokenHash of this.database.familyOf(grantId)) {
        const token = this.database.tokens.get(tokenHash)
        if (token === undefined || token.revokedAt !== undefined) continue
        writer.set(this.database.tokens, tokenHash, changed(token, { revokedAt: now }))
        revoked++
      }
      return revoked
    })
  }
}

class MemoryConsentTable implements ConsentTable {
  constructor(private readonly database: MemoryDatabase) {}

  get(clientId: string, userId: string): Promise<ConsentRecord | undefined> {
    return this.database.run(() => copyOut(this.database.consents.get(consentKey(clientId, userId))))
  }

  put(record: ConsentRecord): Promise<void> {
    const consent = copyConsent(record)
    return this.database.run((writer) => {
      this.database.assertReferences(consent)
      writer.set(this.database.consents, consentKey(consent.clientId, consent.userId), consent)
    })
  }

  delete(clientId: string, userId: string): Promise<boolean> {
    return this.database.run((writer) => writer.delete(this.database.consents, consentKey(clientId, userId)))
  }
}

class MemoryKeyTable implements KeyTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: SigningKeyRecord): Promise<void> {
    const key = copyKey(record)
    return this.database.run((writer) => {
      if (this.database.keys.has(key.kid)) throw new Error('A signing key with this kid exists already')
      // Taken from a counter that an undo does not roll back: orders stay unique, and a rolled-back insert leaves a gap.
      writer.set(this.database.keys, key.kid, { record: key, order: this.database.nextKeyOrder++ })
    })
  }

  list(): Promise<readonly SigningKeyRecord[]> {
    return this.database.run(() =>
      [...this.database.keys.values()].sort((a, b) => b.record.createdAt - a.record.createdAt || b.order - a.order).map(({ record }) => ({ ...record })),
    )
  }

  retire(kid: string, retiredAt: number, expiresAt: number): Promise<boolean> {
    // Check and write in one synchronous step, as for consume: one of concurrent retirements wins.
    return this.database.run((writer) => {
      const stored = this.database.keys.get(kid)
      if (stored === undefined || stored.record.retiredAt !== undefined) return false
      writer.set(this.database.keys, kid, { record: changed(stored.record, { retiredAt, expiresAt }), order: stored.order })
      return true
    })
  }

  delete(kid: string): Promise<boolean> {
    return this.database.run((writer) => writer.delete(this.database.keys, kid))
  }
}

class MemoryRateLimitTable implements RateLimitTable {
  constructor(private readonly database: MemoryDatabase) {}

  hit(key: string, windowSeconds: number, now: number): Promise<RateLimitWindow> {
    // Read and write in one synchronous step: concurrent hits count one after another.
    return this.database.run((writer) => {
      const running = this.database.rateLimits.get(key)
      const window =
        running !== undefined && running.resetAt > now
          ? Object.freeze({ count: running.count + 1, resetAt: running.resetAt })
          : Object.freeze({ count: 1, resetAt: now + windowSeconds })
      if (running === undefined && this.database.rateLimits.size >= MAX_RATE_LIMIT_WINDOWS) {
        writer.delete(this.database.rateLimits, this.database.rateLimits.keys().next().value as string)
      }
      // A new window goes to the end of the Map, which stays in the order windows started.
      if (window.count === 1) writer.delete(this.database.rateLimits, key)
      writer.set(this.database.rateLimits, key, window)
      return { ...window }
    })
  }

  peek(keys: readonly string[], now: number): Promise<readonly (RateLimitWindow | undefined)[]> {
    return this.database.run(() =>
      keys.map((key) => {
        const window = this.database.rateLimits.get(key)
        return window !== undefined && window.resetAt > now ? { ...window } : undefined
      }),
    )
  }

  reset(key: string): Promise<boolean> {
    return this.database.run((writer) => writer.delete(this.database.rateLimits, key))
  }
}

/** A signing key as the memory store keeps it: the record, and its place in the order of insertion. */
interface StoredKey {
  readonly record: SigningKeyRecord
  readonly order: number
}

/** Rolls a journal back to `mark`, newest write first. */
function undoTo(undo: (() => void)[], mark: number): void {
  while (undo.length > mark) (undo.pop() as () => void)()
}

function consentKey(clientId: string, userId: string): string {
  return JSON.stringify([clientId, userId])
}

/**
 * A frozen copy of `record` with `change` applied. (Object.assign, not `{ ...record, field }`: V8 builds an object
 * spread with added properties on a slow path.)
 */
function changed<R extends object>(record: R, change: Partial<R>): R {
  return Object.freeze(Object.assign({}, record, change))
}

/** A stored record as handed out: a new object, sharing only the frozen arrays. */
function copyOut<R extends object>(record: R | undefined): R | undefined {
  return record === undefined ? undefined : { ...record }
}

/**
 * A frozen copy of `values`. Most tokens name no resource, and the tokens of a client mostly carry the same few
 * scopes: the lists made last are shared by the records with equal contents (nobody can change a frozen list), so
 * that a store of many tokens does not keep one array per token and field.
 */
function frozen(values: readonly string[]): readonly string[] {
  if (values.length === 0) return NONE
  for (const list of recentLists) if (sameList(list, values)) return list
  const list = Object.freeze([...values])
  recentLists[nextRecent] = list
  nextRecent = (nextRecent + 1) % RECENT_LISTS
  return list
}
const NONE: readonly string[] = Object.freeze([])
const RECENT_LISTS = 8
const recentLists: Array<readonly string[]> = []
let nextRecent = 0

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

// The copy-in functions name every field, so that a caller's extra properties are not stored, as in a database.

function copyClient(record: ClientRecord): ClientRecord {
  return Object.freeze({
    clientId: record.clientId,
    name: record.name,
    secretHash: record.secretHash,
    redirectUris: frozen(record.redirectUris),
    grantTypes: frozen(record.grantTypes),
    responseTypes: frozen(record.responseTypes),
    scopes: frozen(record.scopes),
    resources: frozen(record.resources),
    tokenEndpointAuthMethod: record.tokenEndpointAuthMethod,
    createdAt: record.createdAt,
  })
}

function copyUser(record: UserRecord): UserRecord {
  return Object.freeze({ userId: record.userId, username: record.username, passwordHash: record.passwordHash, createdAt: record.createdAt })
}

function copyCode(record: CodeRecord): CodeRecord {
  return Object.freeze({
    codeHash: record.codeHash,
    clientId: record.clientId,
    userId: record.userId,
    scopes: frozen(record.scopes),
    redirectUri: record.redirectUri,
    codeChallenge: record.codeChallenge,
    codeChallengeMethod: record.codeChallengeMethod,
    resources: frozen(record.resources),
    expiresAt: record.expiresAt,
    grantId: record.grantId,
    consumedAt: record.consumedAt,
  })
}

function copyToken(record: TokenRecord): TokenRecord {
  return Object.freeze({
    tokenHash: record.tokenHash,
    type: record.type,
    clientId: record.clientId,
    userId: record.userId,
    scopes: frozen(record.scopes),
    resources: frozen(record.resources),
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    grantId: record.grantId,
    revokedAt: record.revokedAt,
    rotatedAt: record.rotatedAt,
  })
}

function copyKey(record: SigningKeyRecord): SigningKeyRecord {
  return Object.freeze({
    kid: record.kid,
    alg: record.alg,
    privateJwk: record.privateJwk,
    publicJwk: record.publicJwk,
    createdAt: record.createdAt,
    retiredAt: record.retiredAt,
    expiresAt: record.expiresAt,
  })
}

function copyConsent(record: ConsentRecord): ConsentRecord {
  return Object.freeze({ clientId: record.clientId, userId: record.userId, scopes: frozen(record.scopes), grantedAt: record.grantedAt })
}
