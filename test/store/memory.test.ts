/**
 * MemoryStore: the Store contract, then what only the memory backend promises: transactions queued one at a time,
 * nested transactions, the hour of grace of purgeExpired, references checked as foreign keys would be, and close.
 */
import { describe, expect, it } from 'vitest'
import { BackendApplicationServer } from '../../src/index.js'
import { MemoryStore, MemoryStoreFullError, StoreValidator, tokenHash, type CodeRecord, type TokenRecord } from '../../src/store/index.js'
import { describeStoreContract } from './contract.js'

describeStoreContract('memory', async () => ({ store: await MemoryStore.open(), cleanup: async () => {} }))

const NOW = 1_800_000_000
const HOUR = 3600

/** A store with client `app` and user `alice`. */
async function seeded(options: { maxTokens?: number } = {}): Promise<MemoryStore> {
  const store = await MemoryStore.open(options)
  await store.clientTable.insert({
    clientId: 'app',
    name: 'App',
    secretHash: `sha256:${tokenHash('secret')}`,
    redirectUris: ['https://app.example/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    responseTypes: ['code'],
    scopes: ['read'],
    resources: [],
    tokenEndpointAuthMethod: 'client_secret_basic',
    createdAt: NOW,
  })
  await store.userTable.insert({ userId: 'alice', username: 'alice', passwordHash: 'scrypt:fake', createdAt: NOW })
  return store
}

function code(value: string, fields: Partial<CodeRecord> = {}): CodeRecord {
  return { codeHash: tokenHash(value), clientId: 'app', userId: 'alice', scopes: ['read'], resources: [], expiresAt: NOW + 600, grantId: 'grant-1', ...fields }
}

function token(value: string, fields: Partial<TokenRecord> = {}): TokenRecord {
  return { tokenHash: tokenHash(value), type: 'access_token', clientId: 'app', userId: 'alice', scopes: ['read'], resources: [], issuedAt: NOW, expiresAt: NOW + HOUR, grantId: 'grant-1', ...fields }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((done) => (resolve = done))
  return { promise, resolve }
}

/** Lets every pending callback run, timers included. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5))
}

describe('MemoryStore', () => {
  describe('transactions', () => {
    it('run one at a time, in the order they were started', async () => {
      const store = await seeded()
      const log: string[] = []
      const run = (name: string) =>
        store.transaction(async () => {
          log.push(`${name} starts`)
          await settle()
          log.push(`${name} ends`)
        })
      await Promise.all([run('first'), run('second'), run('third')])
      expect(log).toEqual(['first starts', 'first ends', 'second starts', 'second ends', 'third starts', 'third ends'])
    })

    it('a read outside a transaction waits for it, and never sees writes that are then undone', async () => {
      const store = await seeded()
      const wrote = deferred()
      const gate = deferred()
      const failing = store.transaction(async () => {
        await store.codes.insert(code('code-1'))
        wrote.resolve()
        await gate.promise
        throw new Error('rolled back')
      })
      const failed = failing.catch((error: unknown) => error)
      await wrote.promise
      let seen: CodeRecord | undefined | 'pending' = 'pending'
      const read = store.codes.get(tokenHash('code-1')).then((record) => (seen = record))
      await settle()
      expect(seen).toBe('pending')
      gate.resolve()
      expect(await failed).toEqual(new Error('rolled back'))
      await read
      expect(seen).toBeUndefined()
    })

    it('a nested transaction that throws undoes only its own writes; the outer one commits the rest', async () => {
      const store = await seeded()
      const inner = new Error('inner failed')
      await store.transaction(async () => {
        await store.codes.insert(code('outer before'))
        await expect(
          store.transaction(async () => {
            await store.codes.insert(code('inner'))
            await store.codes.consume(tokenHash('outer before'), NOW)
            throw inner
          }),
        ).rejects.toBe(inner)
        await store.transaction(() => store.codes.insert(code('inner that resolves')))
        await store.codes.insert(code('outer after'))
      })
      expect(await store.codes.get(tokenHash('outer before'))).toEqual(code('outer before'))
      expect(await store.codes.get(tokenHash('inner'))).toBeUndefined()
      expect(await store.codes.get(tokenHash('inner that resolves'))).toEqual(code('inner that resolves'))
      expect(await store.codes.get(tokenHash('outer after'))).toEqual(code('outer after'))
    })

    it('a nested transaction that resolved is undone with the outer one', async () => {
      const store = await seeded()
      await expect(
        store.transaction(async () => {
          await store.transaction(() => store.codes.insert(code('inner')))
          throw new Error('outer failed')
        }),
      ).rejects.toThrow('outer failed')
      expect(await store.codes.get(tokenHash('inner'))).toBeUndefined()
    })
  })

  describe('purgeExpired', () => {
    it('keeps expired codes and tokens for an hour, and a refresh token without expiry until an hour after its revocation', async () => {
      const store = await seeded()
      await store.codes.insert(code('expired an hour ago', { expiresAt: NOW - HOUR }))
      await store.codes.insert(code('expired an hour and a second ago', { expiresAt: NOW - HOUR - 1 }))
      await store.tokens.insert([
        token('expired an hour ago', { expiresAt: NOW - HOUR }),
        token('expired an hour and a second ago', { expiresAt: NOW - HOUR - 1 }),
        token('revoked an hour ago', { type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - HOUR }),
        token('revoked an hour and a second ago', { type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - HOUR - 1 }),
        token('rotated long ago', { type: 'refresh_token', expiresAt: undefined, rotatedAt: NOW - 100 * HOUR }),
      ])
      expect(await store.purgeExpired(NOW)).toBe(3)
      expect(await store.codes.get(tokenHash('expired an hour ago'))).toBeDefined()
      expect(await store.codes.get(tokenHash('expired an hour and a second ago'))).toBeUndefined()
      for (const kept of ['expired an hour ago', 'revoked an hour ago', 'rotated long ago']) expect(await store.tokens.get(tokenHash(kept)), kept).toBeDefined()
      for (const gone of ['expired an hour and a second ago', 'revoked an hour and a second ago']) expect(await store.tokens.get(tokenHash(gone)), gone).toBeUndefined()
    })

    it('deletes in batches until nothing expired is left', async () => {
      const store = await seeded()
      for (let i = 0; i < 2500; i++) await store.codes.insert(code(`code ${i}`, { expiresAt: NOW - 2 * HOUR }))
      await store.tokens.insert(Array.from({ length: 1500 }, (_, i) => token(`token ${i}`, { expiresAt: NOW - 2 * HOUR })))
      expect(await store.purgeExpired(NOW)).toBe(4000)
      expect(await store.purgeExpired(NOW)).toBe(0)
      expect(await store.tokens.revokeFamily('grant-1', NOW)).toBe(0)
    })
  })

  describe('records', () => {
    it('refuses a code, token or consent of a client or user that does not exist, as a foreign key would', async () => {
      const store = await seeded()
      await expect(store.codes.insert(code('code-1', { clientId: 'nobody' }))).rejects.toThrow('No client')
      await expect(store.codes.insert(code('code-1', { userId: 'nobody' }))).rejects.toThrow('No user')
      await expect(store.tokens.insert([token('token-1', { clientId: 'nobody' })])).rejects.toThrow('No client')
      await expect(store.consents.put({ clientId: 'app', userId: 'nobody', scopes: [], grantedAt: NOW })).rejects.toThrow('No user')
      await store.tokens.insert([token('client credentials', { userId: undefined })])
      expect(await store.codes.get(tokenHash('code-1'))).toBeUndefined()
      expect(await store.consents.get('app', 'nobody')).toBeUndefined()
    })

    it('refuses a second code or token with the same digest; a refused token insert writes none of its tokens', async () => {
      const store = await seeded()
      await store.codes.insert(code('code-1'))
      await expect(store.codes.insert(code('code-1', { scopes: ['other'] }))).rejects.toThrow('exists already')
      expect((await store.codes.get(tokenHash('code-1')))?.scopes).toEqual(['read'])
      await store.tokens.insert([token('token-1')])
      await expect(store.tokens.insert([token('token-2'), token('token-1')])).rejects.toThrow('exists already')
      await expect(store.tokens.insert([token('token-3'), token('token-3')])).rejects.toThrow('exists already')
      expect(await store.tokens.get(tokenHash('token-2'))).toBeUndefined()
      expect(await store.tokens.get(tokenHash('token-3'))).toBeUndefined()
    })

    it('hands out frozen arrays', async () => {
      const store = await seeded()
      const client = await store.clients.get('app')
      expect(() => (client?.scopes as string[]).push('admin')).toThrow(TypeError)
      expect(Object.isFrozen(client?.redirectUris)).toBe(true)
    })

    it('keeps one list for the tokens with the same scopes, and never mistakes a list for another that joins alike', async () => {
      const store = await seeded()
      const lists = [['read'], ['read', 'write'], ['read write'], ['read\nwrite'], ['read', 'write', ''], ['write', 'read']]
      await store.tokens.insert(lists.flatMap((scopes, i) => [token(`a${i}`, { scopes: [...scopes] }), token(`b${i}`, { scopes: [...scopes] })]))
      const stored = await Promise.all(lists.flatMap((_, i) => [store.tokens.get(tokenHash(`a${i}`)), store.tokens.get(tokenHash(`b${i}`))]))
      lists.forEach((scopes, i) => {
        const [a, b] = [stored[2 * i]?.scopes, stored[2 * i + 1]?.scopes]
        expect(a).toEqual(scopes)
        // Shared, not copied per token: the memory a store of many tokens keeps.
        expect(a).toBe(b)
        expect(Object.isFrozen(a)).toBe(true)
      })
    })
  })

  it('isUnavailableError is always false', async () => {
    const store = await MemoryStore.open()
    expect(store.isUnavailableError(new Error('ECONNREFUSED'))).toBe(false)
    expect(store.isUnavailableError(undefined)).toBe(false)
  })

  it('close waits for a running transaction, forgets everything, and later calls reject', async () => {
    const store = await seeded()
    const gate = deferred()
    const committed = store.transaction(async () => {
      await gate.promise
      await store.codes.insert(code('code-1'))
    })
    let closed = false
    const closing = store.close().then(() => (closed = true))
    await settle()
    expect(closed).toBe(false)
    gate.resolve()
    await committed
    await closing
    await expect(store.clients.get('app')).rejects.toThrow('closed')
    await expect(store.codes.get(tokenHash('code-1'))).rejects.toThrow('closed')
    await expect(store.transaction(async () => 1)).rejects.toThrow('closed')
    await store.close()
  })
})

describe('MemoryStore rate limits', () => {
  it('keeps at most 100,000 windows: past that, a new key drops the window that started first', async () => {
    const store = await MemoryStore.open()
    await store.rateLimits.hit('first', 60, NOW)
    await store.rateLimits.hit('second', 60, NOW)
    // A window that ended and starts over counts as new.
    await store.rateLimits.hit('first', 60, NOW + 60)
    for (let i = 2; i < 100_000; i++) await store.rateLimits.hit(`key ${i}`, 60, NOW + 60)
    expect(await store.rateLimits.peek(['first', 'second'], NOW + 60)).toEqual([{ count: 1, resetAt: NOW + 120 }, undefined])
    await store.rateLimits.hit('one too many', 60, NOW + 60)
    expect(await store.rateLimits.reset('second')).toBe(false)
    // 'first' started over after 'second', so 'second' was the one to go.
    const running = { count: 1, resetAt: NOW + 120 }
    expect(await store.rateLimits.peek(['first', 'one too many', 'key 2'], NOW + 60)).toEqual([running, running, running])
    await store.close()
  })
})

describe('MemoryStore maxTokens', () => {
  const now = () => Math.floor(Date.now() / 1000)
  const live = (value: string) => token(value, { issuedAt: now(), expiresAt: now() + HOUR })

  it('refuses a token past the maximum, as unavailable, and keeps the ones it has', async () => {
    const store = await seeded({ maxTokens: 3 })
    await store.tokens.insert([live('a'), live('b'), live('c')])
    const refused = store.tokens.insert([live('d')])
    await expect(refused).rejects.toBeInstanceOf(MemoryStoreFullError)
    expect(store.isUnavailableError(await refused.catch((error: unknown) => error))).toBe(true)
    for (const kept of ['a', 'b', 'c']) expect(await store.tokens.get(tokenHash(kept)), kept).toBeDefined()
    expect(await store.tokens.get(tokenHash('d'))).toBeUndefined()
    // Two where one would fit: neither is written.
    await store.tokens.revoke(tokenHash('a'), now())
    await expect(store.tokens.insert([live('e'), live('f')])).rejects.toBeInstanceOf(MemoryStoreFullError)
    expect(await store.tokens.get(tokenHash('e'))).toBeUndefined()
  })

  it('evicts tokens that expired, then ones revoked since it was last found full', async () => {
    const store = await seeded({ maxTokens: 3 })
    await store.tokens.insert([token('expired', { issuedAt: now() - 2 * HOUR, expiresAt: now() - 1 }), live('b'), live('c')])
    await store.tokens.insert([live('d')])
    expect(await store.tokens.get(tokenHash('expired'))).toBeUndefined()
    for (const kept of ['b', 'c', 'd']) expect(await store.tokens.get(tokenHash(kept)), kept).toBeDefined()
    await expect(store.tokens.insert([live('e')])).rejects.toBeInstanceOf(MemoryStoreFullError)
    await store.tokens.revoke(tokenHash('b'), now())
    await store.tokens.insert([live('e')])
    expect(await store.tokens.get(tokenHash('b'))).toBeUndefined()
    expect(await store.tokens.get(tokenHash('e'))).toBeDefined()
  })

  it('at capacity, a revocation followed by a token request evicts the revoked token without looking at every other token', async () => {
    // An attacker who alternates revoking its own token and asking for a new one must not make each request of a
    // full store an O(maxTokens) scan.
    const maxTokens = 2000
    const store = await seeded({ maxTokens })
    await store.tokens.insert(Array.from({ length: maxTokens }, (_, index) => live(`live-${index}`)))
    await expect(store.tokens.insert([live('refused')])).rejects.toBeInstanceOf(MemoryStoreFullError)
    // The store's token map, reached past `private` to count the tokens each eviction looks at.
    const tokens = (store as unknown as { database: { tokens: Map<string, TokenRecord> } }).database.tokens
    const values = tokens.values.bind(tokens)
    let visited = 0
    tokens.values = function* () {
      for (const value of values()) {
        visited++
        yield value
      }
      return undefined
    } as typeof tokens.values
    let previous = 'live-0'
    for (let round = 0; round < 50; round++) {
      await store.tokens.revoke(tokenHash(previous), now())
      previous = `attacker-${round}`
      await store.tokens.insert([live(previous)])
      expect(await store.tokens.get(tokenHash(previous))).toBeDefined()
    }
    expect(visited).toBeLessThan(maxTokens)
    // Live tokens are never evicted.
    for (let index = 1; index < maxTokens; index++) expect(await store.tokens.get(tokenHash(`live-${index}`))).toBeDefined()
  })

  it('keeps at most maxTokens authorization codes too: expired ones go first, then a new code is refused', async () => {
    // A signed-in user with a remembered consent mints a code per /authorize; kept an hour for replay detection, they
    // would grow the heap without bound.
    const store = await seeded({ maxTokens: 3 })
    await store.codes.insert(code('old', { expiresAt: now() - 1 }))
    await store.codes.insert(code('a', { expiresAt: now() + 600 }))
    await store.codes.insert(code('b', { expiresAt: now() + 600 }))
    await store.codes.insert(code('c', { expiresAt: now() + 600 }))
    expect(await store.codes.get(tokenHash('old'))).toBeUndefined()
    const refused = store.codes.insert(code('d', { expiresAt: now() + 600 }))
    await expect(refused).rejects.toBeInstanceOf(MemoryStoreFullError)
    expect(store.isUnavailableError(await refused.catch((error: unknown) => error))).toBe(true)
    for (const kept of ['a', 'b', 'c']) expect(await store.codes.get(tokenHash(kept)), kept).toBeDefined()
  })

  it('answers temporarily_unavailable at the token endpoint when full', async () => {
    const store = await MemoryStore.open({ maxTokens: 2 })
    const { clientId, clientSecret } = await store.clients.create({ name: 'machine', grantTypes: ['client_credentials'], scopes: ['read'] })
    const server = new BackendApplicationServer(new StoreValidator(store), { allowInsecureTransport: true })
    const ask = () =>
      server.createTokenResponse('http://as.example/token', 'POST', 'grant_type=client_credentials', {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${btoa(`${clientId}:${clientSecret as string}`)}`,
      })
    expect((await ask()).status).toBe(200)
    expect((await ask()).status).toBe(200)
    const full = await ask()
    expect(full.status).toBe(503)
    expect(JSON.parse(full.body)).toMatchObject({ error: 'temporarily_unavailable' })
    expect(full.headers['Retry-After']).toBe('5')
  })

  it('takes only a positive whole maxTokens', async () => {
    for (const maxTokens of [0, -1, 1.5, Number.NaN]) await expect(MemoryStore.open({ maxTokens }), String(maxTokens)).rejects.toThrow(TypeError)
  })
})
