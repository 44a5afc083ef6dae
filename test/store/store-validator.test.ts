/**
 * StoreValidator over the memory store. The SQLite and PostgreSQL runs of the same suite live with those backends'
 * tests, which know how to open them.
 */
import { describe, expect, it, vi } from 'vitest'
import { Server } from '../../src/index.js'
import { MemoryStore, StoreValidator } from '../../src/store/index.js'
import { hashGeneratedSecret } from '../../src/store/secrets.js'
import { basic, FORM } from '../support/memory-validator.js'
import { describeStoreValidator } from './validator-suite.js'

describeStoreValidator('memory', async () => {
  const store = await MemoryStore.open()
  return { store, cleanup: () => store.close() }
})

describe('StoreValidator.startPurging', () => {
  it('purges expired rows in the background on its interval, and stops when told', async () => {
    const store = await MemoryStore.open()
    const { clientId } = await store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] })
    const old = Math.floor(Date.now() / 1000) - 7200
    await store.tokens.insert([{ tokenHash: 'expired', type: 'access_token', clientId, scopes: ['read'], resources: [], issuedAt: old - 60, expiresAt: old, grantId: 'g1' }])
    const failures: unknown[] = []
    const stop = new StoreValidator(store).startPurging(0.05, (error) => failures.push(error))
    try {
      await vi.waitFor(async () => expect(await store.tokens.get('expired')).toBeUndefined(), { timeout: 2000, interval: 20 })
    } finally {
      stop()
    }
    expect(failures).toEqual([])
    await store.close()
  })
})

describe('StoreValidator.startPurging: when it runs', () => {
  it('runs first 30 s after start (not an interval later), then on its interval, and never twice at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] })
    const store = await MemoryStore.open()
    let release!: () => void
    const purge = vi.spyOn(store, 'purgeExpired').mockImplementation(() => new Promise((resolve) => (release = () => resolve(0))))
    const stop = new StoreValidator(store).startPurging(600)
    try {
      await vi.advanceTimersByTimeAsync(29_000)
      expect(purge).toHaveBeenCalledTimes(0)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(purge).toHaveBeenCalledTimes(1)
      // Still running at the next two intervals: they skip.
      await vi.advanceTimersByTimeAsync(1_200_000)
      expect(purge).toHaveBeenCalledTimes(1)
      release()
      await vi.advanceTimersByTimeAsync(600_000)
      expect(purge).toHaveBeenCalledTimes(2)
    } finally {
      stop()
      vi.useRealTimers()
      await store.close()
    }
  })
})

describe('StoreValidator.startPurging: a purge that fails', () => {
  it('reports a purge that throws at once to onError, survives an onError that throws, and runs again on its interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'] })
    const store = await MemoryStore.open()
    const purge = vi.spyOn(store, 'purgeExpired').mockImplementation(() => {
      throw new Error('store gone')
    })
    const reported: unknown[] = []
    const stop = new StoreValidator(store).startPurging(600, (error) => {
      reported.push(error)
      // A logger that fails must not take the process down with an unhandled rejection.
      throw new Error('log stream closed')
    })
    try {
      await vi.advanceTimersByTimeAsync(30_000)
      expect(purge).toHaveBeenCalledTimes(1)
      expect(reported).toEqual([new Error('store gone')])
      await vi.advanceTimersByTimeAsync(600_000)
      expect(purge).toHaveBeenCalledTimes(2)
    } finally {
      stop()
      vi.useRealTimers()
      purge.mockRestore()
      await store.close()
    }
  })
})

describe('StoreValidator.startPurging: intervals beyond what a timer holds', () => {
  it('an interval longer than 24.8 days (serve --purge-interval 3000000) does not purge every millisecond', async () => {
    // setInterval takes at most 2^31 - 1 ms; beyond, Node fires after 1 ms, again and again.
    const store = await MemoryStore.open()
    const purge = vi.spyOn(store, 'purgeExpired').mockResolvedValue(0)
    const stop = new StoreValidator(store).startPurging(3_000_000, () => undefined, 3_000_000)
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(purge).toHaveBeenCalledTimes(0)
    } finally {
      stop()
      purge.mockRestore()
      await store.close()
    }
  })

  it('refuses an interval that is not a positive number of seconds', async () => {
    const store = await MemoryStore.open()
    for (const every of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => new StoreValidator(store).startPurging(every), String(every)).toThrow(TypeError)
    await store.close()
  })
})

describe('StoreValidator.startPurging with open registration', () => {
  it('removes a self-registered client that obtained nothing within unusedTtl, and keeps the operator’s', async () => {
    const store = await MemoryStore.open()
    const old = Math.floor(Date.now() / 1000) - 7200
    const base = { redirectUris: [], grantTypes: ['client_credentials'], responseTypes: [], scopes: ['read'], resources: [], tokenEndpointAuthMethod: 'client_secret_basic' as const }
    await store.clientTable.insert({ ...base, clientId: 'self', name: 'self', createdAt: old, registration: {} })
    await store.clientTable.insert({ ...base, clientId: 'operator', name: 'operator', createdAt: old })
    const stop = new StoreValidator(store, { registration: { policy: 'open', scopes: ['read'], unusedTtl: 3600 } }).startPurging(0.05)
    try {
      await vi.waitFor(async () => expect(await store.clients.get('self')).toBeUndefined(), { timeout: 2000, interval: 20 })
    } finally {
      stop()
    }
    expect(await store.clients.get('operator')).toBeDefined()
    await store.close()
  })
})

describe('StoreValidator: inactivity of self-registered clients', () => {
  const base = { redirectUris: [], grantTypes: ['client_credentials'], responseTypes: [], scopes: ['read'], resources: [], tokenEndpointAuthMethod: 'client_secret_basic' as const }
  const now = () => Math.floor(Date.now() / 1000)

  it('startPurging removes a self-registered client, with its tokens, that obtained no token within inactiveTtl; 0 keeps it', async () => {
    for (const inactiveTtl of [3600, 0]) {
      const store = await MemoryStore.open()
      await store.clientTable.insert({ ...base, clientId: 'idle', name: 'idle', createdAt: now() - 90_000, lastUsedAt: now() - 7200, registration: {} })
      await store.clientTable.insert({ ...base, clientId: 'busy', name: 'busy', createdAt: now() - 90_000, lastUsedAt: now() - 60, registration: {} })
      await store.clientTable.insert({ ...base, clientId: 'operator', name: 'operator', createdAt: now() - 90_000 })
      // Tokens of their own: not "unused", so only the inactivity rule can remove them.
      for (const clientId of ['idle', 'busy']) {
        await store.tokens.insert([{ tokenHash: `${clientId}-token`, type: 'access_token', clientId, scopes: ['read'], resources: [], issuedAt: now() - 7200, expiresAt: now() + 3600, grantId: clientId }])
      }
      const stop = new StoreValidator(store, { registration: { policy: 'open', scopes: ['read'], inactiveTtl } }).startPurging(0.05)
      try {
        if (inactiveTtl > 0) await vi.waitFor(async () => expect(await store.clients.get('idle')).toBeUndefined(), { timeout: 2000, interval: 20 })
        else await new Promise((resolve) => setTimeout(resolve, 200))
      } finally {
        stop()
      }
      expect((await store.clients.list()).map((client) => client.clientId).sort()).toEqual(inactiveTtl > 0 ? ['busy', 'operator'] : ['busy', 'idle', 'operator'])
      expect(await store.tokens.get('idle-token')).toEqual(inactiveTtl > 0 ? undefined : expect.anything())
      await store.close()
    }
  })

  it('a token obtained by a self-registered client sets its lastUsedAt, written at most once an hour', async () => {
    const store = await MemoryStore.open()
    await store.clientTable.insert({ ...base, clientId: 'self', name: 'self', secretHash: hashGeneratedSecret('s3cret'), createdAt: now() - 7200, registration: {} })
    const server = new Server(new StoreValidator(store), { issuer: 'https://as.example' })
    const markUsed = vi.spyOn(store.clientTable, 'markUsed')
    const token = () =>
      server.createTokenResponse('https://as.example/token', 'POST', 'grant_type=client_credentials', { ...FORM, Authorization: basic('self', 's3cret') })
    expect((await token()).status).toBe(200)
    expect((await store.clientTable.get('self'))?.lastUsedAt).toBeGreaterThanOrEqual(now() - 1)
    for (let i = 0; i < 5; i++) expect((await token()).status).toBe(200)
    expect(markUsed).toHaveBeenCalledTimes(1)
    await store.close()
  })
})
