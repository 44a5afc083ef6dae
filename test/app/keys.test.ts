/**
 * SigningKeys over the memory and SQLite stores: generated once and persisted, published without private members,
 * rotated with the old key published until its tokens expire, and a rotation by another process picked up.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SigningKeys, type SigningKeysOptions } from '../../src/app/keys.js'
import { BackendApplicationServer, InvalidTokenError, signedTokenGenerator, signedTokenVerifier, type SigningAlgorithm } from '../../src/index.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { type Store } from '../../src/store/store.js'
import { expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'
const LIFETIME = 3600
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth']
const ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const satisfies readonly SigningAlgorithm[]

/** Everything a test opened: stopped, closed and removed after it, newest first. */
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  vi.useRealTimers()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A clock the test moves, starting at the real time (tokens are checked against the real time). */
function clock(): { now: () => number; set: (seconds: number) => void; start: number } {
  const start = Math.floor(Date.now() / 1000)
  let current = start
  return { now: () => current, set: (seconds) => (current = seconds), start }
}

async function load(store: Store, options: Partial<SigningKeysOptions> = {}): Promise<SigningKeys> {
  const keys = await SigningKeys.load(store, { maxTokenLifetime: LIFETIME, reloadInterval: 0, ...options })
  cleanups.push(() => keys.stop())
  return keys
}

/** A client credentials access token signed with the key that signs now, as the ready server makes them. */
async function issue(keys: SigningKeys): Promise<string> {
  const { kid, alg, privateKey } = keys.current()
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
  const server = new BackendApplicationServer(validator, {
    tokenExpiresIn: LIFETIME,
    tokenGenerator: signedTokenGenerator(privateKey, { issuer: ISSUER, alg, kid }),
  })
  const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('backend', 'backend-secret'), ...FORM })
  const token = expectTokenResponse(response).access_token
  if (typeof token !== 'string') throw new Error('no access_token')
  return token
}

/** Verifies as a resource server holding the JWKS would. */
function verify(keys: SigningKeys, token: string) {
  return signedTokenVerifier({ key: keys.jwks(), issuer: ISSUER, audience: ISSUER })(token)
}

function kids(keys: SigningKeys): string[] {
  return keys.jwks().keys.map((key) => key.kid as string)
}

interface Backend {
  readonly name: string
  /** A fresh, empty store. */
  open(): Promise<Store>
  /** The same data after a restart: the SQLite file reopened, the memory store as it is. */
  restart(store: Store): Promise<Store>
}

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauthkit-keys-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'oauthkit.db')
}

async function openSqlite(file: string): Promise<SqliteStore> {
  const store = await SqliteStore.open(file)
  cleanups.push(() => store.close())
  return store
}

const sqliteFiles = new WeakMap<Store, string>()

const BACKENDS: readonly Backend[] = [
  {
    name: 'memory',
    open: async () => {
      const store = await MemoryStore.open()
      cleanups.push(() => store.close())
      return store
    },
    restart: async (store) => store,
  },
  {
    name: 'sqlite',
    open: async () => {
      const file = tempFile()
      const store = await openSqlite(file)
      sqliteFiles.set(store, file)
      return store
    },
    restart: async (store) => {
      await store.close()
      return openSqlite(sqliteFiles.get(store) as string)
    },
  },
]

describe.each(BACKENDS)('SigningKeys over the $name store', (backend) => {
  it('generates one key on first start and stores it, private JWK included, with its thumbprint as kid', async () => {
    const store = await backend.open()
    expect(await store.keys.list()).toEqual([])
    const keys = await load(store)
    const stored = await store.keys.list()
    expect(stored).toHaveLength(1)
    const [record] = stored
    expect(record).toMatchObject({ kid: keys.current().kid, alg: 'ES256' })
    expect([record?.retiredAt, record?.expiresAt]).toEqual([undefined, undefined])
    expect(JSON.parse(record?.privateJwk as string)).toHaveProperty('d')
    expect(record?.kid).toBe(await calculateJwkThumbprint(JSON.parse(record?.publicJwk as string)))
    expect(keys.current().alg).toBe('ES256')
  })

  it('reuses the stored key after a restart', async () => {
    const store = await backend.open()
    const first = await load(store)
    const token = await issue(first)
    first.stop()
    const restarted = await backend.restart(store)
    const second = await load(restarted)
    expect(second.current().kid).toBe(first.current().kid)
    expect(await restarted.keys.list()).toHaveLength(1)
    expect((await verify(second, token)).clientId).toBe('backend')
  })

  it('signs tokens that verify with signedTokenVerifier and with jose over the JWKS', async () => {
    const keys = await load(await backend.open())
    const token = await issue(keys)
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: keys.current().kid })
    expect(await verify(keys, token)).toMatchObject({ clientId: 'backend', tokenType: 'access_token' })
    const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), { issuer: ISSUER, typ: 'at+jwt' })
    expect(protectedHeader.kid).toBe(keys.current().kid)
  })

  it('after a rotation signs with the new key; old tokens verify until the old key expires, then it is no longer published', async () => {
    const time = clock()
    const store = await backend.open()
    const keys = await load(store, { now: time.now })
    const oldKid = keys.current().kid
    const oldToken = await issue(keys)

    time.set(time.start + 10)
    const { kid: newKid } = await keys.rotate()
    expect(newKid).not.toBe(oldKid)
    expect(keys.current().kid).toBe(newKid)
    const newToken = await issue(keys)
    expect(decodeProtectedHeader(newToken).kid).toBe(newKid)
    expect(kids(keys)).toEqual([newKid, oldKid])
    expect((await verify(keys, oldToken)).clientId).toBe('backend')
    expect((await verify(keys, newToken)).clientId).toBe('backend')

    // The old key stays published as long as any token it signed may be valid.
    const retired = (await store.keys.list()).find((key) => key.kid === oldKid)
    expect(retired).toMatchObject({ retiredAt: time.start + 10, expiresAt: time.start + 10 + LIFETIME })
    expect(retired?.expiresAt).toBeGreaterThanOrEqual((await verify(keys, oldToken)).expiresAt as number)
    time.set(time.start + 10 + LIFETIME - 1)
    expect(kids(keys)).toEqual([newKid, oldKid])

    // Then it is not published, and purging deletes it.
    time.set(time.start + 10 + LIFETIME)
    expect(kids(keys)).toEqual([newKid])
    await expect(verify(keys, oldToken)).rejects.toThrow(new InvalidTokenError('The access token is signed with an unknown key'))
    expect(await store.purgeExpired(time.start + 10 + LIFETIME + 1)).toBe(1)
    await keys.reload()
    expect((await store.keys.list()).map((key) => key.kid)).toEqual([newKid])
    expect(kids(keys)).toEqual([newKid])
    expect((await verify(keys, newToken)).clientId).toBe('backend')
  })

  it('a rotation retires every key that still signs (as two processes rotating at once would leave)', async () => {
    const store = await backend.open()
    const keys = await load(store)
    const first = keys.current().kid
    // Another process's key, stored without retiring ours.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    const publicJwk = await exportJWK(publicKey)
    const other = await calculateJwkThumbprint(publicJwk)
    await store.keys.insert({
      kid: other,
      alg: 'ES256',
      privateJwk: JSON.stringify(await exportJWK(privateKey)),
      publicJwk: JSON.stringify(publicJwk),
      createdAt: Math.floor(Date.now() / 1000),
    })
    await keys.reload()
    expect(keys.current().kid).toBe(other)
    expect(kids(keys)).toEqual([other, first])

    const { kid } = await keys.rotate()
    const stored = await store.keys.list()
    expect(stored.map((key) => [key.kid, key.retiredAt !== undefined])).toEqual([
      [kid, false],
      [other, true],
      [first, true],
    ])
  })

  it.each(ALGORITHMS)('publishes %s public keys with kid, alg and use, and never a private member', async (alg) => {
    const store = await backend.open()
    const keys = await load(store, { alg })
    await keys.rotate()
    const jwks = keys.jwks()
    expect(jwks.keys).toHaveLength(2)
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ alg, use: 'sig' })
      expect(key.kid).toBe(await calculateJwkThumbprint(key))
      for (const member of PRIVATE_MEMBERS) expect(key, member).not.toHaveProperty(member)
    }
    const response = keys.jwksResponse()
    expect(response).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'public, max-age=300' },
      body: JSON.stringify(jwks),
    })
    for (const record of await store.keys.list()) {
      const privateJwk = JSON.parse(record.privateJwk) as Record<string, string>
      for (const member of PRIVATE_MEMBERS) if (privateJwk[member] !== undefined) expect(response.body).not.toContain(privateJwk[member])
    }
    expect((await verify(keys, await issue(keys))).clientId).toBe('backend')
  })
})

describe('SigningKeys across processes (two instances over one SQLite file)', () => {
  it('sees a rotation made by the other after reload', async () => {
    const file = tempFile()
    const serving = await load(await openSqlite(file))
    const cli = await load(await openSqlite(file))
    const oldKid = serving.current().kid
    expect(cli.current().kid).toBe(oldKid)

    const { kid: newKid } = await cli.rotate()
    const tokenOfOther = await issue(cli)
    // Not seen before a re-read.
    expect(serving.current().kid).toBe(oldKid)
    expect(kids(serving)).toEqual([oldKid])

    await serving.reload()
    expect(serving.current().kid).toBe(newKid)
    expect(kids(serving)).toEqual([newKid, oldKid])
    expect((await verify(serving, tokenOfOther)).clientId).toBe('backend')
    expect(decodeProtectedHeader(await issue(serving)).kid).toBe(newKid)
  })

  it('re-reads on its own every reloadInterval, and keeps a retired key published that much longer', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const file = tempFile()
    const serving = await load(await openSqlite(file), { reloadInterval: 60 })
    const cliStore = await openSqlite(file)
    const cli = await load(cliStore, { reloadInterval: 60 })
    const oldKid = serving.current().kid
    const before = Math.floor(Date.now() / 1000)
    const { kid: newKid } = await cli.rotate()

    vi.advanceTimersByTime(59_000)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(serving.current().kid).toBe(oldKid)
    vi.advanceTimersByTime(1000)
    await vi.waitFor(() => expect(serving.current().kid).toBe(newKid))

    const retired = (await cliStore.keys.list()).find((key) => key.kid === oldKid)
    expect(retired?.expiresAt).toBeGreaterThanOrEqual(before + LIFETIME + 60)
    expect((retired?.expiresAt as number) - (retired?.retiredAt as number)).toBe(LIFETIME + 60)
  })

  it('reports a failed periodic re-read and keeps the keys it has', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const store = await MemoryStore.open()
    const errors: unknown[] = []
    const keys = await load(store, { reloadInterval: 60, onReloadError: (error) => errors.push(error) })
    const kid = keys.current().kid
    await store.close()
    vi.advanceTimersByTime(60_000)
    await vi.waitFor(() => expect(errors).toEqual([new Error('This MemoryStore is closed')]))
    expect(keys.current().kid).toBe(kid)
    await expect(keys.reload()).rejects.toThrow('closed')
    keys.stop()
    vi.advanceTimersByTime(120_000)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(errors).toHaveLength(1)
  })
})

describe('SigningKeys.load options', () => {
  it('rejects a missing or malformed option with a TypeError', async () => {
    const store = await MemoryStore.open()
    await expect(SigningKeys.load(store, { maxTokenLifetime: 0 })).rejects.toThrow(TypeError)
    await expect(SigningKeys.load(store, { maxTokenLifetime: 1.5 })).rejects.toThrow(TypeError)
    await expect(SigningKeys.load(store, {} as SigningKeysOptions)).rejects.toThrow(TypeError)
    await expect(SigningKeys.load(store, { maxTokenLifetime: LIFETIME, alg: 'HS256' as SigningAlgorithm })).rejects.toThrow(TypeError)
    await expect(SigningKeys.load(store, { maxTokenLifetime: LIFETIME, reloadInterval: -1 })).rejects.toThrow(TypeError)
    expect(await store.keys.list()).toEqual([])
  })

  it('keeps signing with a stored key of another algorithm until the next rotation', async () => {
    const store = await MemoryStore.open()
    await load(store, { alg: 'ES256' })
    const keys = await load(store, { alg: 'EdDSA' })
    expect(keys.current().alg).toBe('ES256')
    await keys.rotate()
    expect(keys.current().alg).toBe('EdDSA')
    expect(keys.jwks().keys.map((key) => key.alg)).toEqual(['EdDSA', 'ES256'])
  })

  it('without alg, generates ES256 on first start, and at a rotation keeps the algorithm of the key that signed', async () => {
    const store = await MemoryStore.open()
    expect((await load(store, {})).current().alg).toBe('ES256')
    const other = await MemoryStore.open()
    await load(other, { alg: 'RS256' })
    // As `oauthkit keys rotate` loads the keys: no alg. An RS256 installation stays RS256.
    const keys = await load(other, {})
    await keys.rotate()
    expect(keys.current().alg).toBe('RS256')
  })
})
