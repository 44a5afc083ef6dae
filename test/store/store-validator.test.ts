/**
 * StoreValidator over the memory store. The SQLite and PostgreSQL runs of the same suite live with those backends'
 * tests, which know how to open them.
 */
import { describe, expect, it, vi } from 'vitest'
import { MemoryStore, StoreValidator } from '../../src/store/index.js'
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
