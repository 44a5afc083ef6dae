/**
 * The memory store's tables: each call one synchronous step on the Maps of a {@link MemoryDatabase}, so that a check
 * and the write it guards happen with nothing in between.
 *
 * @module
 * @internal
 */
import type { ClientRecord, ClientTable, CodeRecord, CodeTable, ConsentRecord, ConsentTable, KeyTable, RateLimitTable } from '../tables.js'
import type { RateLimitWindow, SigningKeyRecord, TokenRecord, TokenTable, UserRecord, UserTable } from '../tables.js'
import type { InitialAccessTokenRecord, InitialAccessTokenTable, InstallationSecretTable, SessionRecord, SessionTable } from '../tables.js'
import { type MemoryDatabase } from './database.js'
import { changed, consentKey, copyClient, copyCode, copyConsent, copyInitialAccessToken, copyKey, copyOut, copyToken, copyUser, jsonCopy } from './records.js'

/**
 * The most rate-limit windows kept at once. Each window takes a failed attempt to create and is purged once it ended;
 * past this bound the oldest window is dropped, so a flood of distinct keys cannot take all the memory.
 */
const MAX_RATE_LIMIT_WINDOWS = 100_000

/** Clients, by `clientId`. */
export class MemoryClientTable implements ClientTable {
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

  deleteUnusedRegistrations(registeredBefore: number): Promise<number> {
    return this.database.run((writer) => {
      const used = new Set<string>()
      for (const record of [...this.database.codes.values(), ...this.database.tokens.values()]) used.add(record.clientId)
      let deleted = 0
      for (const client of this.database.clients.values()) {
        if (client.registration === undefined || client.lastUsedAt !== undefined || client.createdAt >= registeredBefore || used.has(client.clientId)) continue
        this.database.deleteClient(writer, client.clientId)
        deleted++
      }
      return deleted
    })
  }

  deleteInactiveRegistrations(usedBefore: number): Promise<number> {
    return this.database.run((writer) => {
      let deleted = 0
      for (const client of this.database.clients.values()) {
        if (client.registration === undefined || (client.lastUsedAt ?? client.createdAt) >= usedBefore) continue
        this.database.deleteClient(writer, client.clientId)
        deleted++
      }
      return deleted
    })
  }

  markUsed(clientId: string, now: number): Promise<void> {
    return this.database.run((writer) => {
      const client = this.database.clients.get(clientId)
      if (client?.registration !== undefined) writer.set(this.database.clients, clientId, changed(client, { lastUsedAt: now }))
    })
  }

  updateRegistration(record: ClientRecord, currentTokenHash: string, forgetConsents = false): Promise<boolean> {
    const client = copyClient(record)
    return this.database.run((writer) => {
      const stored = this.database.clients.get(client.clientId)
      if (stored?.registrationTokenHash === undefined || stored.registrationTokenHash !== currentTokenHash) return false
      writer.set(this.database.clients, client.clientId, copyClient({ ...client, createdAt: stored.createdAt, lastUsedAt: stored.lastUsedAt }))
      if (forgetConsents) for (const [key, consent] of this.database.consents) if (consent.clientId === client.clientId) writer.delete(this.database.consents, key)
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

/** Users, by `userId`, with unique usernames. */
export class MemoryUserTable implements UserTable {
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
      this.database.deleteSessions(writer, userId)
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

  updateClaims(userId: string, claims: Readonly<Record<string, unknown>>): Promise<boolean> {
    const copy = jsonCopy(claims)
    return this.database.run((writer) => {
      const user = this.database.users.get(userId)
      if (user === undefined) return false
      writer.set(this.database.users, userId, copyUser({ ...user, claims: copy }))
      return true
    })
  }
}

/** Authorization codes, by digest; consumed in one synchronous step. */
export class MemoryCodeTable implements CodeTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: CodeRecord): Promise<void> {
    const code = copyCode(record)
    return this.database.run((writer) => {
      if (this.database.codes.has(code.codeHash)) throw new Error('A code with this digest exists already')
      this.database.assertReferences(code)
      this.database.makeRoomForCode(writer)
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

/** Access and refresh tokens, by digest, indexed by grant family. */
export class MemoryTokenTable implements TokenTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(records: readonly TokenRecord[]): Promise<void> {
    if (records.length === 1) {
      // One token (an access token alone: the common request): nothing to check against the others.
      const token = copyToken(records[0] as TokenRecord)
      return this.database.run((writer) => {
        if (this.database.tokens.has(token.tokenHash)) throw new Error('A token with this digest exists already')
        this.database.assertReferences(token)
        this.database.makeRoom(writer, 1)
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
      this.database.makeRoom(writer, tokens.length)
      for (const token of tokens) this.database.insertToken(writer, token)
    })
  }

  get(tokenHash: string): Promise<TokenRecord | undefined> {
    return this.database.run(() => copyOut(this.database.tokens.get(tokenHash)))
  }

  /** Transactions of a memory store never interleave: nothing to hold. */
  lock(): Promise<void> {
    return Promise.resolve()
  }

  family(grantId: string): Promise<readonly TokenRecord[]> {
    return this.database.run(() => this.database.familyOf(grantId).flatMap((tokenHash) => copyOut(this.database.tokens.get(tokenHash)) ?? []))
  }

  revoke(tokenHash: string, now: number): Promise<boolean> {
    return this.database.run((writer) => {
      const token = this.database.tokens.get(tokenHash)
      if (token === undefined) return false
      if (token.revokedAt === undefined) {
        writer.set(this.database.tokens, tokenHash, changed(token, { revokedAt: now }))
        this.database.revoked(tokenHash)
      }
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
        this.database.revoked(tokenHash)
        revoked++
      }
      return revoked
    })
  }

  revokeForUser(userId: string, now: number): Promise<number> {
    return this.database.run((writer) => {
      let revoked = 0
      for (const token of this.database.tokens.values()) {
        if (token.userId !== userId || token.revokedAt !== undefined) continue
        writer.set(this.database.tokens, token.tokenHash, changed(token, { revokedAt: now }))
        this.database.revoked(token.tokenHash)
        revoked++
      }
      return revoked
    })
  }
}

/** Consents, by client and user. */
export class MemoryConsentTable implements ConsentTable {
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

/** Signing keys, by `kid`, in the order they were inserted. */
export class MemoryKeyTable implements KeyTable {
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

/** Rate-limit windows, by key, at most 100,000 (the oldest dropped beyond). */
export class MemoryRateLimitTable implements RateLimitTable {
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

  release(key: string, now: number): Promise<void> {
    return this.database.run((writer) => {
      const running = this.database.rateLimits.get(key)
      if (running !== undefined && running.resetAt > now && running.count > 0) {
        writer.set(this.database.rateLimits, key, Object.freeze({ count: running.count - 1, resetAt: running.resetAt }))
      }
    })
  }
}

/** Browser sessions, by digest; this process's only. */
export class MemorySessionTable implements SessionTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: SessionRecord): Promise<void> {
    return this.database.run((writer) => {
      if (this.database.sessions.has(record.sessionHash)) throw new Error('A session with this digest exists already')
      if (!this.database.users.has(record.userId)) throw new Error('No user with this userId')
      writer.set(this.database.sessions, record.sessionHash, Object.freeze({ ...record }))
    })
  }

  get(sessionHash: string, now: number): Promise<SessionRecord | undefined> {
    return this.database.run(() => {
      const session = this.database.sessions.get(sessionHash)
      return session !== undefined && session.expiresAt > now ? session : undefined
    })
  }

  delete(sessionHash: string): Promise<boolean> {
    return this.database.run((writer) => writer.delete(this.database.sessions, sessionHash))
  }

  deleteForUser(userId: string): Promise<number> {
    return this.database.run((writer) => this.database.deleteSessions(writer, userId))
  }
}

/** Installation secrets, by name; this process's only (a memory store is one instance). */
export class MemoryInstallationSecretTable implements InstallationSecretTable {
  constructor(private readonly database: MemoryDatabase) {}

  getOrInsert(name: string, candidate: string): Promise<string> {
    return this.database.run((writer) => {
      const existing = this.database.installationSecrets.get(name)
      if (existing !== undefined) return existing
      writer.set(this.database.installationSecrets, name, candidate)
      return candidate
    })
  }
}

/** Initial access tokens, by id; few, so found by digest with a scan. */
export class MemoryInitialAccessTokenTable implements InitialAccessTokenTable {
  constructor(private readonly database: MemoryDatabase) {}

  insert(record: InitialAccessTokenRecord): Promise<void> {
    const token = copyInitialAccessToken(record)
    return this.database.run((writer) => {
      if (this.database.initialAccessTokens.has(token.id) || this.find(token.tokenHash) !== undefined) throw new Error('An initial access token with this id or digest exists already')
      writer.set(this.database.initialAccessTokens, token.id, token)
    })
  }

  list(): Promise<readonly InitialAccessTokenRecord[]> {
    return this.database.run(() =>
      [...this.database.initialAccessTokens.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((token) => ({ ...token })),
    )
  }

  get(tokenHash: string): Promise<InitialAccessTokenRecord | undefined> {
    return this.database.run(() => copyOut(this.find(tokenHash)))
  }

  use(tokenHash: string, now: number): Promise<boolean> {
    // One synchronous step: the check and the decrement with nothing in between.
    return this.database.run((writer) => {
      const token = this.find(tokenHash)
      if (token === undefined || (token.expiresAt !== undefined && token.expiresAt <= now) || (token.usesLeft !== undefined && token.usesLeft <= 0)) return false
      if (token.usesLeft !== undefined) writer.set(this.database.initialAccessTokens, token.id, changed(token, { usesLeft: token.usesLeft - 1 }))
      return true
    })
  }

  delete(id: string): Promise<boolean> {
    return this.database.run((writer) => writer.delete(this.database.initialAccessTokens, id))
  }

  private find(tokenHash: string): InitialAccessTokenRecord | undefined {
    for (const token of this.database.initialAccessTokens.values()) if (token.tokenHash === tokenHash) return token
    return undefined
  }
}
