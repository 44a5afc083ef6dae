/**
 * SqliteStore: the shared store contract over a fresh file per test, then what only SQLite has to prove (migrations,
 * WAL, atomic consumption on one connection, transactions that async requests share, nothing in clear on disk, purge
 * in batches, which errors mean "unavailable").
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, renameSync, rmSync, existsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { hashGeneratedSecret, tokenHash } from '../../src/store/secrets.js'
import { generateToken } from '../../src/tokens/random-token.js'
import { generateTimeOrderedToken } from '../../src/tokens/time-ordered.js'
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../src/store/sqlite/migrations.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { type ClientRecord, type CodeRecord, type TokenRecord, type UserRecord } from '../../src/store/store.js'
import { registerClient } from '../../src/store/registration.js'
import { describeStoreContract, SELF_REGISTERED } from './contract.js'
import { describeStoreValidator } from './validator-suite.js'

/** A fresh database file in its own temporary directory, removed with its WAL by `cleanup`. */
async function openFresh(): Promise<{ store: SqliteStore; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'oauthkit-sqlite-'))
  const store = await SqliteStore.open(join(dir, 'oauthkit.db'))
  return {
    store,
    cleanup: async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describeStoreContract('sqlite', openFresh)
describeStoreValidator('sqlite', openFresh)

const NOW = 1_800_000_000
const HOUR = 3600

/** Everything a test opened, closed and removed after it. */
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauthkit-sqlite-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'oauthkit.db')
}

async function open(file = tempFile(), options?: Parameters<typeof SqliteStore.open>[1]): Promise<{ store: SqliteStore; file: string }> {
  const store = await SqliteStore.open(file, options)
  cleanups.push(() => store.close())
  return { store, file }
}

/** A second, raw connection to the file, as another process would have. */
function raw(file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options)
  cleanups.push(() => {
    if (db.inTransaction) db.exec('ROLLBACK')
    db.close()
  })
  return db
}

/** How many tokens the database file holds committed, read through a read-only connection of its own. */
function committedTokenCount(file: string): () => number {
  const reader = raw(file, { readonly: true })
  return () => (reader.prepare('SELECT count(*) AS n FROM tokens').get() as { n: number }).n
}

function client(clientId = 'app'): ClientRecord {
  return {
    clientId,
    name: 'App',
    secretHash: hashGeneratedSecret(`secret of ${clientId}`),
    redirectUris: ['https://client.example.com/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    responseTypes: ['code'],
    scopes: ['read', 'write'],
    resources: [],
    tokenEndpointAuthMethod: 'client_secret_basic',
    createdAt: NOW,
  }
}

function user(userId = 'alice'): UserRecord {
  return { userId, username: userId, passwordHash: 'scrypt:32768:8:1:c2FsdA:aGFzaA', createdAt: NOW }
}

function code(value: string, overrides: Partial<CodeRecord> = {}): CodeRecord {
  return { codeHash: tokenHash(value), clientId: 'app', userId: 'alice', scopes: ['read'], resources: [], expiresAt: NOW + 60, grantId: 'grant-1', ...overrides }
}

function token(value: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    tokenHash: tokenHash(value),
    type: 'access_token',
    clientId: 'app',
    userId: 'alice',
    scopes: ['read'],
    resources: [],
    issuedAt: NOW,
    expiresAt: NOW + HOUR,
    grantId: 'grant-1',
    ...overrides,
  }
}

/** A store with client `app` and user `alice`, which codes, tokens and consents refer to. */
async function openWithOwners(file?: string, options?: Parameters<typeof SqliteStore.open>[1]): Promise<{ store: SqliteStore; file: string }> {
  const opened = await open(file, options)
  await opened.store.clientTable.insert(client())
  await opened.store.userTable.insert(user())
  return opened
}

function tick(ms = 5): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

describe('SqliteStore schema migrations', () => {
  it('creates the schema at the latest version on a fresh file', async () => {
    const { file } = await open()
    const db = raw(file, { readonly: true })
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
    expect(versions).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1))
    const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all()
    expect(tables).toEqual(['clients', 'codes', 'consents', 'initial_access_tokens', 'installation_secrets', 'rate_limits', 'schema_migrations', 'sessions', 'signing_keys', 'tokens', 'users'])
  })

  it('keeps the data when reopened, and applies no migration twice', async () => {
    const file = tempFile()
    const first = await SqliteStore.open(file)
    await first.clientTable.insert(client())
    await first.userTable.insert(user())
    await first.codes.insert(code('c1'))
    await first.close()

    const { store } = await open(file)
    expect(await store.clientTable.get('app')).toEqual(client())
    expect(await store.codes.get(tokenHash('c1'))).toEqual(code('c1'))
    expect(raw(file).prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).toBe(SCHEMA_VERSION)
  })

  it('refuses a database written by a newer oauthkit, with a message that says what to do', async () => {
    const file = tempFile()
    await (await SqliteStore.open(file)).close()
    const db = new Database(file)
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, NOW)
    db.close()

    await expect(SqliteStore.open(file)).rejects.toThrow(
      new Error(`database schema version ${SCHEMA_VERSION + 1} is newer than this oauthkit (knows ${SCHEMA_VERSION}): upgrade oauthkit`),
    )
    // Refused without touching it, and without leaving a connection behind that holds the write lock.
    const after = raw(file)
    after.exec('BEGIN IMMEDIATE; COMMIT')
    expect(after.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get()).toBe(SCHEMA_VERSION + 1)
  })

  it('applies only the migrations a database lacks, in order', () => {
    const db = raw(':memory:')
    expect(migrate(db, ['CREATE TABLE a (x INTEGER)'])).toBe(1)
    expect(migrate(db, ['CREATE TABLE a (x INTEGER)', 'CREATE TABLE b (y INTEGER)'])).toBe(2)
    expect(db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('a', 'b') ORDER BY name`).pluck().all()).toEqual(['a', 'b'])
    expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()).toEqual([1, 2])
  })

  it('rekeys the tokens and codes of a database from before keys were digests alone, so they are still found', async () => {
    const file = tempFile()
    const db = new Database(file)
    migrate(db, MIGRATIONS.slice(0, 4))
    const issued = [generateTimeOrderedToken(), generateTimeOrderedToken(), generateToken()]
    // The keys of version 4: the time of an own token and a ".", then the digest; the digest alone for other tokens.
    const oldKey = (value: string) => (value.length === 53 ? value.slice(0, 10) : '') + createHash('sha256').update(value).digest('base64url')
    const insertClient = db.prepare(`INSERT INTO clients VALUES ('app', 'App', NULL, '[]', '[]', '[]', '[]', '[]', 'none', ?)`)
    insertClient.run(NOW)
    db.prepare(`INSERT INTO users VALUES ('alice', 'alice', 'scrypt:x', ?)`).run(NOW)
    db.prepare(`INSERT INTO codes (code_hash, client_id, user_id, scopes, resources, expires_at, grant_id) VALUES (?, 'app', 'alice', '[]', '[]', ?, 'g')`).run(
      oldKey(issued[0] as string),
      NOW + 60,
    )
    const insertToken = db.prepare(`INSERT INTO tokens (token_hash, type, client_id, scopes, resources, issued_at, grant_id) VALUES (?, 'refresh_token', 'app', '[]', '[]', ?, 'g')`)
    for (const value of issued) insertToken.run(oldKey(value), NOW)
    db.close()

    const { store } = await open(file)
    expect(await store.codes.consume(tokenHash(issued[0] as string), NOW)).toBe(true)
    for (const value of issued) expect((await store.tokens.get(tokenHash(value)))?.type, value).toBe('refresh_token')
    expect(await store.tokens.rotate(tokenHash(issued[1] as string), NOW)).toBe(true)
    const keys = raw(file, { readonly: true }).prepare('SELECT token_hash FROM tokens UNION ALL SELECT code_hash FROM codes').pluck().all() as string[]
    expect(keys.every((key) => /^[A-Za-z0-9_-]{43}$/.test(key))).toBe(true)
  })

  it('migration 9: a client that registered itself before it starts its inactivity now, and has no registration access token', async () => {
    const file = tempFile()
    const db = new Database(file)
    migrate(db, MIGRATIONS.slice(0, 8))
    const insert = db.prepare(`INSERT INTO clients (client_id, name, redirect_uris, grant_types, response_types, scopes, resources, token_endpoint_auth_method, created_at, registration) VALUES (?, ?, '[]', '[]', '[]', '[]', '[]', 'none', ?, ?)`)
    insert.run('self', 'Self', NOW - 400 * 86_400, '{}')
    insert.run('operator', 'Operator', NOW - 400 * 86_400, null)
    db.close()
    const before = Math.floor(Date.now() / 1000)
    const { store } = await open(file)
    expect((await store.clientTable.get('self'))?.lastUsedAt).toBeGreaterThanOrEqual(before)
    expect(await store.clientTable.get('self')).not.toHaveProperty('registrationTokenHash')
    expect(await store.clientTable.get('operator')).not.toHaveProperty('lastUsedAt')
    expect(await store.clientTable.deleteInactiveRegistrations(before - 90 * 86_400)).toBe(0)
  })

  it('leaves the database as it was when a migration fails half-way', () => {
    const db = raw(':memory:')
    expect(() => migrate(db, [MIGRATIONS[0] as string, 'CREATE TABLE b (y INTEGER); INSERT INTO no_such_table VALUES (1)'])).toThrow(/no such table/)
    expect(db.inTransaction).toBe(false)
    expect(db.prepare(`SELECT COUNT(*) FROM sqlite_schema`).pluck().get()).toBe(0)
  })
})

describe('SqliteStore connection settings', () => {
  it('runs in WAL mode', async () => {
    const { file } = await open()
    expect(raw(file, { readonly: true }).pragma('journal_mode', { simple: true })).toBe('wal')
    expect(existsSync(`${file}-wal`)).toBe(true)
  })

  it('enforces foreign keys and cascades a client removal to its codes, tokens and consents', async () => {
    const { store } = await openWithOwners()
    await expect(store.codes.insert(code('orphan', { clientId: 'nobody' }))).rejects.toThrow(/FOREIGN KEY/)
    await store.codes.insert(code('c1'))
    await store.tokens.insert([token('t1')])
    await store.consents.put({ clientId: 'app', userId: 'alice', scopes: ['read'], grantedAt: NOW })
    expect(await store.clientTable.delete('app')).toBe(true)
    expect(await store.codes.get(tokenHash('c1'))).toBeUndefined()
    expect(await store.tokens.get(tokenHash('t1'))).toBeUndefined()
    expect(await store.consents.get('app', 'alice')).toBeUndefined()
  })

  it('indexes tokens by user only when they have one, and the cascade from a user still finds them through that index', async () => {
    const { file } = await open()
    const db = raw(file, { readonly: true })
    const plan = db.prepare('EXPLAIN QUERY PLAN DELETE FROM tokens WHERE user_id = ?').all('alice') as Array<{ detail: string }>
    expect(plan.map((step) => step.detail).join(' ')).toMatch(/USING (COVERING )?INDEX tokens_user_id/)
    const index = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'tokens_user_id'").get() as { sql: string }
    expect(index.sql).toMatch(/WHERE user_id IS NOT NULL/)
  })

  it('works on a private in-memory database', async () => {
    const { store } = await openWithOwners(':memory:')
    await store.codes.insert(code('c1'))
    expect(await store.codes.consume(tokenHash('c1'), NOW)).toBe(true)
    expect((await store.codes.get(tokenHash('c1')))?.consumedAt).toBe(NOW)
  })

  it('refuses a busy timeout that is not a non-negative integer', async () => {
    await expect(SqliteStore.open(tempFile(), { busyTimeoutMs: -1 })).rejects.toThrow(TypeError)
    await expect(SqliteStore.open(tempFile(), { busyTimeoutMs: 1.5 })).rejects.toThrow(TypeError)
  })
})

describe('SqliteStore records', () => {
  it('round-trips every optional field, present and absent, as fresh objects with frozen arrays', async () => {
    const { store } = await openWithOwners()
    const full = code('full', { redirectUri: 'https://client.example.com/cb', codeChallenge: 'x'.repeat(43), codeChallengeMethod: 'S256', consumedAt: NOW, resources: ['https://api.example.com/'] })
    await store.codes.insert(full)
    await store.codes.insert(code('bare'))
    expect(await store.codes.get(tokenHash('full'))).toStrictEqual(full)
    const bare = await store.codes.get(tokenHash('bare'))
    expect(bare).toStrictEqual(code('bare'))
    expect(bare?.redirectUri).toBeUndefined()
    expect(Object.isFrozen(bare?.scopes)).toBe(true)
    expect(await store.codes.get(tokenHash('bare'))).not.toBe(bare)

    const refresh = token('r', { type: 'refresh_token', expiresAt: undefined, userId: undefined, revokedAt: NOW, rotatedAt: NOW })
    await store.tokens.insert([refresh])
    const stored = await store.tokens.get(tokenHash('r'))
    expect(stored).toEqual(refresh)
    expect(stored?.expiresAt).toBeUndefined()
    expect(stored?.userId).toBeUndefined()

    const publicClient: ClientRecord = { ...client('spa'), secretHash: undefined, tokenEndpointAuthMethod: 'none' }
    await store.clientTable.insert(publicClient)
    expect(await store.clientTable.get('spa')).toEqual(publicClient)
    expect((await store.clientTable.get('spa'))?.secretHash).toBeUndefined()
  })

  it('refuses a fractional time instead of storing it (STRICT tables)', async () => {
    const { store } = await openWithOwners()
    await expect(store.codes.insert(code('c1', { expiresAt: NOW + 0.5 }))).rejects.toThrow(/INTEGER/)
  })
})

describe('SqliteStore atomic consumption', () => {
  it('of 50 concurrent redemptions of one code exactly one wins', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('the-code'))
    const results = await Promise.all(Array.from({ length: 50 }, () => store.codes.consume(tokenHash('the-code'), NOW)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('of 50 concurrent redemptions through two connections to one file exactly one wins', async () => {
    const { store, file } = await openWithOwners()
    const { store: other } = await open(file)
    await store.codes.insert(code('the-code'))
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? store : other).codes.consume(tokenHash('the-code'), NOW)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  it('of 50 concurrent transactions that redeem one code and save tokens exactly one saves', async () => {
    const { store, file } = await openWithOwners()
    await store.codes.insert(code('the-code'))
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        store.transaction(async () => {
          if (!(await store.codes.consume(tokenHash('the-code'), NOW))) throw new Error('code used')
          await tick(1)
          await store.tokens.insert([token(`access-${i}`, { grantId: 'grant-the-code' }), token(`refresh-${i}`, { type: 'refresh_token', grantId: 'grant-the-code' })])
        }),
      ),
    )
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1)
    expect(raw(file).prepare(`SELECT COUNT(*) FROM tokens WHERE grant_id = 'grant-the-code'`).pluck().get()).toBe(2)
  })

  it('of 50 concurrent rotations of one refresh token exactly one wins', async () => {
    const { store } = await openWithOwners()
    await store.tokens.insert([token('the-refresh', { type: 'refresh_token' })])
    const results = await Promise.all(Array.from({ length: 50 }, () => store.tokens.rotate(tokenHash('the-refresh'), NOW)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })
})

describe('SqliteStore transactions', () => {
  it('a rolled-back transaction leaves nothing half-written, while a concurrent write outside it survives', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('c1'))
    const order: string[] = []
    const failing = store.transaction(async () => {
      expect(await store.codes.consume(tokenHash('c1'), NOW)).toBe(true)
      await tick(20)
      await Promise.all([store.tokens.insert([token('inside')]), store.consents.put({ clientId: 'app', userId: 'alice', scopes: ['read'], grantedAt: NOW })])
      order.push('rolling back')
      throw new Error('saving failed')
    })
    await tick()
    // Another request writes while the transaction is open on the same connection.
    const outside = store.tokens.insert([token('outside')]).then(() => order.push('outside written'))
    await expect(failing).rejects.toThrow('saving failed')
    await outside
    expect(order).toEqual(['rolling back', 'outside written'])
    expect((await store.codes.get(tokenHash('c1')))?.consumedAt).toBeUndefined()
    expect(await store.tokens.get(tokenHash('inside'))).toBeUndefined()
    expect(await store.consents.get('app', 'alice')).toBeUndefined()
    expect(await store.tokens.get(tokenHash('outside'))).toBeDefined()
  })

  it('a read outside a transaction sees only committed data; a read inside sees its own writes', async () => {
    const { store } = await openWithOwners()
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    let seenInside: CodeRecord | undefined
    const committing = store.transaction(async () => {
      await store.codes.insert(code('c1'))
      seenInside = await store.codes.get(tokenHash('c1'))
      await gate
    })
    await tick()
    const seenOutside = await store.codes.get(tokenHash('c1'))
    release()
    await committing
    expect(seenInside).toBeDefined()
    expect(seenOutside).toBeUndefined()
    expect(await store.codes.get(tokenHash('c1'))).toBeDefined()
  })

  it('a failed nested transaction undoes only its own writes', async () => {
    const { store } = await openWithOwners()
    await store.transaction(async () => {
      await store.tokens.insert([token('outer')])
      await expect(
        store.transaction(async () => {
          await store.tokens.insert([token('inner')])
          throw new Error('inner failed')
        }),
      ).rejects.toThrow('inner failed')
      await store.transaction(() => store.tokens.insert([token('inner-ok')]))
    })
    expect(await store.tokens.get(tokenHash('outer'))).toBeDefined()
    expect(await store.tokens.get(tokenHash('inner'))).toBeUndefined()
    expect(await store.tokens.get(tokenHash('inner-ok'))).toBeDefined()
  })

  it('transactions run one after another, and a write left behind by a finished one waits for the next to end', async () => {
    const { store } = await openWithOwners()
    const order: string[] = []
    let straggler: Promise<void> | undefined
    const first = store.transaction(async () => {
      order.push('first begins')
      // Not awaited: it would otherwise run after COMMIT, inside whatever transaction is open then.
      void tick(10).then(() => {
        straggler = store.tokens.insert([token('straggler')])
      })
      await tick()
      order.push('first ends')
    })
    const second = store.transaction(async () => {
      order.push('second begins')
      await tick(30)
      order.push('second fails')
      throw new Error('second failed')
    })
    await first
    await expect(second).rejects.toThrow('second failed')
    await straggler
    expect(order).toEqual(['first begins', 'first ends', 'second begins', 'second fails'])
    expect(await store.tokens.get(tokenHash('straggler'))).toBeDefined()
  })

  it('concurrent transactions share one COMMIT, and each settles only after it', async () => {
    const { store, file } = await openWithOwners()
    const count = committedTokenCount(file)
    // As concurrent requests do: each transaction begins when its request gets there, the last after a turn of the
    // event loop.
    const seen: number[] = []
    const transactions = Array.from({ length: 10 }, (_, i) =>
      (i < 9 ? Promise.resolve() : new Promise((resolve) => setImmediate(resolve)))
        .then(() => store.transaction(async () => void (await store.tokens.insert([token(`t${i}`, { grantId: `g${i}` })]))))
        .then(() => seen.push(count())),
    )
    await Promise.all(transactions)
    // Had any committed alone, the first to settle would have seen fewer than 10.
    expect(seen).toEqual(Array(10).fill(10))
  })

  it('a transaction that fails among others undoes only its own writes and rejects alone', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('c1'))
    const results = await Promise.allSettled([
      store.transaction(async () => void (await store.tokens.insert([token('before')]))),
      store.transaction(async () => {
        await store.codes.consume(tokenHash('c1'), NOW)
        await store.tokens.insert([token('failing')])
        throw new Error('saving failed')
      }),
      store.transaction(async () => void (await store.tokens.insert([token('after')]))),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toEqual(new Error('saving failed'))
    expect(await store.tokens.get(tokenHash('before'))).toBeDefined()
    expect(await store.tokens.get(tokenHash('after'))).toBeDefined()
    expect(await store.tokens.get(tokenHash('failing'))).toBeUndefined()
    expect((await store.codes.get(tokenHash('c1')))?.consumedAt).toBeUndefined()
  })

  it('sees, inside a transaction, the writes of the ones before it in its group: one code, one redemption', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('c1'))
    const redemptions = await Promise.all(Array.from({ length: 10 }, () => store.transaction(() => store.codes.consume(tokenHash('c1'), NOW))))
    expect(redemptions.filter(Boolean)).toHaveLength(1)
  })

  it('a COMMIT that fails rejects every transaction of its group and saves none of them', async () => {
    const { store, file } = await openWithOwners()
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, (_, i) =>
        store.transaction(async () => {
          await store.tokens.insert([token(`t${i}`)])
          // The last one moves the database file away: its group's COMMIT finds it gone.
          if (i === 2) renameSync(file, `${file}.away`)
        }),
      ),
    )
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/moved or removed/)
    renameSync(`${file}.away`, file)
    for (let i = 0; i < 3; i++) expect(await store.tokens.get(tokenHash(`t${i}`))).toBeUndefined()
    // The next transaction commits.
    await store.transaction(async () => void (await store.tokens.insert([token('next')])))
    expect(await store.tokens.get(tokenHash('next'))).toBeDefined()
  })

  it('one COMMIT holds at most 32 transactions', async () => {
    const { store, file } = await openWithOwners()
    const count = committedTokenCount(file)
    const seen: number[] = []
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.transaction(async () => void (await store.tokens.insert([token(`t${i}`)]))).then(() => seen.push(count()))))
    expect(seen[0]).toBe(32)
    expect(seen.at(-1)).toBe(40)
  })

  it('close waits for the transaction in progress', async () => {
    const { store, file } = await openWithOwners()
    const committing = store.transaction(async () => {
      await tick(10)
      await store.codes.insert(code('c1'))
    })
    await store.close()
    await committing
    const { store: reopened } = await open(file)
    expect(await reopened.codes.get(tokenHash('c1'))).toBeDefined()
  })
})

describe('SqliteStore group commit and per-turn reads', () => {
  /** The bytes SQLite has written to the WAL so far (no checkpoint runs for a few hundred pages). */
  function walBytes(file: string): number {
    return statSync(`${file}-wal`).size
  }

  it('concurrent token inserts outside a transaction are committed together, and each caller waits for the commit', async () => {
    const { store, file } = await openWithOwners()
    const count = committedTokenCount(file)
    const inserts = Array.from({ length: 50 }, (_, i) => store.tokens.insert([token(`t${i}`, { grantId: `g${i}` })]))
    // Nothing is committed before the group is: a caller's promise settles only after it.
    expect(count()).toBe(0)
    let settledEarly = false
    void Promise.race(inserts).then(() => (settledEarly = count() < 50))
    await Promise.all(inserts)
    expect(settledEarly).toBe(false)
    expect(count()).toBe(50)
    for (let i = 0; i < 50; i++) expect((await store.tokens.get(tokenHash(`t${i}`)))?.grantId).toBe(`g${i}`)
  })

  it('writes a third of the WAL or less for 50 tokens saved at once than for 50 saved one after another', async () => {
    const grouped = await openWithOwners()
    const before = walBytes(grouped.file)
    await Promise.all(Array.from({ length: 50 }, (_, i) => grouped.store.tokens.insert([token(`a${i}`, { grantId: `g${i}` })])))
    const groupedBytes = walBytes(grouped.file) - before
    const single = await openWithOwners()
    const start = walBytes(single.file)
    for (let i = 0; i < 50; i++) await single.store.tokens.insert([token(`a${i}`, { grantId: `g${i}` })])
    const singleBytes = walBytes(single.file) - start
    expect(groupedBytes).toBeGreaterThan(0)
    expect(groupedBytes * 3).toBeLessThan(singleBytes)
  })

  it('keys a row by the digest of the whole token alone, whatever its form', async () => {
    const { store, file } = await openWithOwners()
    const values = [generateTimeOrderedToken(), generateToken()]
    await Promise.all(values.map((value) => store.tokens.insert([token(value)])))
    const keys = raw(file, { readonly: true }).prepare('SELECT token_hash FROM tokens ORDER BY token_hash').pluck().all()
    expect(keys).toEqual(values.map((value) => createHash('sha256').update(value).digest('base64url')).sort())
  })

  it('an insert that fails in a group rejects alone; the others are saved', async () => {
    const { store } = await openWithOwners()
    await store.tokens.insert([token('taken')])
    const results = await Promise.allSettled([
      store.tokens.insert([token('ok1')]),
      store.tokens.insert([token('taken')]), // the same digest again
      store.tokens.insert([token('orphan', { clientId: 'nobody' })]), // a client that does not exist
      store.tokens.insert([token('pair-a'), token('pair-b', { type: 'refresh_token' })]),
      store.tokens.insert([token('pair-c'), token('taken')]), // half of it fails: none of it is saved
      store.tokens.insert([token('ok2')]),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    for (const saved of ['ok1', 'pair-a', 'pair-b', 'ok2']) expect(await store.tokens.get(tokenHash(saved))).toBeDefined()
    for (const missing of ['orphan', 'pair-c']) expect(await store.tokens.get(tokenHash(missing))).toBeUndefined()
  })

  it('the token inserts and transactions of one turn share one COMMIT, in the order they were made', async () => {
    const { store, file } = await openWithOwners()
    await store.codes.insert(code('c1'))
    const count = committedTokenCount(file)
    const seen: number[] = []
    const redeem = (value: string) =>
      store.transaction(async () => {
        if (!(await store.codes.consume(tokenHash('c1'), NOW))) throw new Error('consumed already')
        await store.tokens.insert([token(value)])
      })
    const results = await Promise.allSettled(
      [store.tokens.insert([token('w1')]), redeem('t1'), store.tokens.insert([token('w2')]), redeem('t2')].map((call) => call.finally(() => seen.push(count()))),
    )
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected'])
    expect(seen).toEqual([3, 3, 3, 3])
    expect(await store.tokens.get(tokenHash('t2'))).toBeUndefined()
  })

  it('a group that cannot take the write lock fails whole, as unavailable, and the next one succeeds', async () => {
    const { store, file } = await openWithOwners(undefined, { busyTimeoutMs: 0 })
    const other = raw(file)
    other.exec('BEGIN IMMEDIATE')
    const results = await Promise.allSettled([store.tokens.insert([token('x1')]), store.tokens.insert([token('x2')])])
    expect(results.every((result) => result.status === 'rejected' && store.isUnavailableError(result.reason))).toBe(true)
    other.exec('ROLLBACK')
    await Promise.all([store.tokens.insert([token('x1')]), store.tokens.insert([token('x2')])])
    expect(await store.tokens.get(tokenHash('x2'))).toBeDefined()
  })

  it('close saves the inserts still waiting for their group', async () => {
    const file = tempFile()
    const { store } = await openWithOwners(file)
    const pending = [store.tokens.insert([token('late1')]), store.tokens.insert([token('late2')])]
    await store.close()
    await Promise.all(pending)
    const reopened = await open(file)
    expect(await reopened.store.tokens.get(tokenHash('late2'))).toBeDefined()
  })

  it('a read after a write of this store sees it, even in the same turn of the event loop', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('c0'))
    // A read opens the turn's read transaction; the writes after it must still be seen by the reads after them.
    expect(await store.codes.get(tokenHash('c0'))).toBeDefined()
    expect(await store.codes.consume(tokenHash('c0'), NOW)).toBe(true)
    expect((await store.codes.get(tokenHash('c0')))?.consumedAt).toBe(NOW)
    await store.tokens.insert([token('t1')])
    expect(await store.tokens.get(tokenHash('t1'))).toBeDefined()
    await store.transaction(async () => store.tokens.revoke(tokenHash('t1'), NOW))
    expect((await store.tokens.get(tokenHash('t1')))?.revokedAt).toBe(NOW)
  })

  it('the client reads of one turn share one SELECT; each caller gets its own copy, and a change through the store is seen at once', async () => {
    const { store } = await openWithOwners()
    await store.clientTable.insert(client('other'))
    await new Promise(setImmediate)
    // White-box: count the executions of the reading connection's client statement.
    const reader = (store as unknown as { access: { reader: { sql: (text: string) => { get: (...args: unknown[]) => unknown } } } }).access.reader
    const statement = reader.sql('SELECT * FROM clients WHERE client_id = ?')
    const get = statement.get.bind(statement)
    let selects = 0
    statement.get = (...args: unknown[]) => {
      selects++
      return get(...args)
    }
    const [a, b, c, d] = await Promise.all([store.clientTable.get('app'), store.clientTable.get('app'), store.clientTable.get('other'), store.clientTable.get('app')])
    expect(selects).toBe(2)
    expect([a?.clientId, b?.clientId, c?.clientId, d?.clientId]).toEqual(['app', 'app', 'other', 'app'])
    expect(a).not.toBe(b)
    ;(a as { name: string }).name = 'changed by a caller'
    expect((await store.clientTable.get('app'))?.name).toBe('App')
    // Written through the store in the same turn: the next read sees it.
    await store.clientTable.updateSecretHash('app', hashGeneratedSecret('rotated'))
    expect((await store.clientTable.get('app'))?.secretHash).toBe(hashGeneratedSecret('rotated'))
    await store.clientTable.delete('other')
    expect(await store.clientTable.get('other')).toBeUndefined()
    // The next turn reads again.
    await new Promise(setImmediate)
    selects = 0
    await store.clientTable.get('app')
    expect(selects).toBe(1)
  })

  it('copies the WAL into the database file only past walCheckpointPages (default 10,000 pages)', { timeout: 60_000 }, async () => {
    /** Saves groups of tokens, as many rounds as given or until the WAL holds 1,500 pages; whether the file grew. */
    async function run(options: Parameters<typeof SqliteStore.open>[1], rounds?: number): Promise<{ rounds: number; grew: boolean }> {
      const { store, file } = await openWithOwners(undefined, options)
      const initial = statSync(file).size
      let round = 0
      while (rounds === undefined ? statSync(`${file}-wal`).size < 1500 * 4096 : round < rounds) {
        await Promise.all(Array.from({ length: 100 }, (_, i) => store.tokens.insert([token(`r${round}-${i}`, { grantId: `g${round}-${i}` })])))
        round++
      }
      return { rounds: round, grew: statSync(file).size > initial }
    }
    const byDefault = await run(undefined)
    expect(byDefault.grew).toBe(false)
    // The same writes with SQLite's own threshold: copied into the file on the way.
    expect((await run({ walCheckpointPages: 1000 }, byDefault.rounds)).grew).toBe(true)
    await expect(SqliteStore.open(tempFile(), { walCheckpointPages: -1 })).rejects.toThrow(TypeError)
  })

  it("another process's write is seen from the next turn of the event loop", async () => {
    const { store, file } = await openWithOwners()
    expect(await store.clientTable.get('app')).toBeDefined()
    raw(file).prepare('UPDATE clients SET secret_hash = ? WHERE client_id = ?').run(hashGeneratedSecret('rotated'), 'app')
    await new Promise(setImmediate)
    expect((await store.clientTable.get('app'))?.secretHash).toBe(hashGeneratedSecret('rotated'))
  })
})

describe('SqliteStore secrets at rest', () => {
  it('the database file holds no token, code, client secret or password in clear', async () => {
    const { store, file } = await open()
    const generated = await store.clients.create({ name: 'billing', redirectUris: ['https://client.example.com/cb'], scopes: ['read'] })
    const importedSecret = 'imported-secret-Zq8nT2vLr5XpW0cY'
    await store.clients.create({ name: 'legacy', clientId: 'legacy', clientSecret: importedSecret, grantTypes: ['client_credentials'], scopes: ['read'] })
    const password = 'correct-horse-battery-staple-4711'
    const alice = await store.users.create({ username: 'alice', password })
    const clearCode = 'code-Yh3kP9sQw2Lm6VbN8xRt'
    const clearAccess = 'access-Jf7dK1pZs4Gh9WqE3uVn'
    const clearRefresh = 'refresh-Bc5mT8rXy2Nk6LpQ0wSa'
    await store.codes.insert(code(clearCode, { clientId: generated.clientId, userId: alice.userId }))
    await store.tokens.insert([
      token(clearAccess, { clientId: generated.clientId, userId: alice.userId }),
      token(clearRefresh, { clientId: generated.clientId, userId: alice.userId, type: 'refresh_token' }),
    ])
    const initial = await store.initialAccessTokens.create({ uses: 2 })
    const registered = await registerClient(store, ['read'], SELF_REGISTERED)
    const clear = [generated.clientSecret as string, importedSecret, password, clearCode, clearAccess, clearRefresh, initial.token, registered.registrationAccessToken as string]

    const bytesOnDisk = (): Buffer => Buffer.concat([file, `${file}-wal`].filter(existsSync).map((path) => readFileSync(path)))
    const everyRow = (): string => {
      const db = new Database(file, { readonly: true })
      const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table'`).pluck().all() as string[]
      const dump = JSON.stringify(tables.map((table) => db.prepare(`SELECT * FROM "${table}"`).all()))
      db.close()
      return dump
    }
    const expectNoClearValue = (haystack: Buffer | string) => {
      for (const value of clear) expect(haystack.includes(value), `${value} found in clear`).toBe(false)
      // The digests are there, so the search did look at the stored data.
      expect(haystack.includes(tokenHash(clearAccess))).toBe(true)
    }
    expectNoClearValue(bytesOnDisk())
    expectNoClearValue(everyRow())
    await store.close()
    // Closing checkpoints the WAL into the main file.
    expectNoClearValue(bytesOnDisk())
  })
})

describe('SqliteStore.purgeExpired', () => {
  it('deletes codes and tokens expired more than an hour ago and keeps the rest', async () => {
    const { store } = await openWithOwners()
    await store.codes.insert(code('old', { expiresAt: NOW - 2 * HOUR }))
    await store.codes.insert(code('recent', { expiresAt: NOW - HOUR / 2 }))
    await store.tokens.insert([
      token('old', { expiresAt: NOW - HOUR - 1 }),
      token('recent', { expiresAt: NOW - HOUR }),
      token('valid', { expiresAt: NOW + HOUR }),
      token('forever', { type: 'refresh_token', expiresAt: undefined }),
    ])
    expect(await store.purgeExpired(NOW)).toBe(2)
    expect(await store.codes.get(tokenHash('old'))).toBeUndefined()
    expect(await store.tokens.get(tokenHash('old'))).toBeUndefined()
    for (const value of ['recent', 'valid', 'forever']) expect(await store.tokens.get(tokenHash(value))).toBeDefined()
    expect(await store.codes.get(tokenHash('recent'))).toBeDefined()
    expect(await store.purgeExpired(NOW)).toBe(0)
  })

  it('deletes in batches and lets other writes in between them', async () => {
    const { store, file } = await openWithOwners()
    await store.tokens.insert(Array.from({ length: 1200 }, (_, i) => token(`expired-${i}`, { expiresAt: NOW - 2 * HOUR })))
    const db = raw(file, { readonly: true })
    const expiredLeft = () => db.prepare('SELECT COUNT(*) FROM tokens WHERE expires_at < ?').pluck().get(NOW - HOUR) as number
    const purging = store.purgeExpired(NOW)
    const leftWhenWriteRan = store.tokens.insert([token('fresh')]).then(expiredLeft)
    expect(await purging).toBe(1200)
    const left = await leftWhenWriteRan
    expect(left).toBeGreaterThan(0)
    expect(left).toBeLessThan(1200)
    expect(expiredLeft()).toBe(0)
    expect(await store.tokens.get(tokenHash('fresh'))).toBeDefined()
  })
})

describe('SqliteStore.isUnavailableError', () => {
  it('classifies a file that cannot be opened as unavailable', async () => {
    const error = await SqliteStore.open(join(tmpdir(), 'oauthkit-no-such-dir-7f3a', 'sub', 'oauthkit.db')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(SqliteStore.isUnavailableError(error)).toBe(true)
    const { store } = await open()
    expect(store.isUnavailableError(error)).toBe(true)
    const dir = mkdtempSync(join(tmpdir(), 'oauthkit-sqlite-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    // A directory where the file should be: SQLITE_CANTOPEN.
    const cantOpen = await SqliteStore.open(dir).catch((e: unknown) => e)
    expect((cantOpen as { code?: string }).code).toMatch(/^SQLITE_CANTOPEN/)
    expect(store.isUnavailableError(cantOpen)).toBe(true)
  })

  it('classifies a database locked by another process as unavailable (SQLITE_BUSY), and recovers when it is released', async () => {
    const { store, file } = await openWithOwners(undefined, { busyTimeoutMs: 50 })
    const other = raw(file)
    other.exec('BEGIN EXCLUSIVE')
    const busy = await store.codes.insert(code('c1')).catch((e: unknown) => e)
    expect((busy as { code?: string }).code).toBe('SQLITE_BUSY')
    expect(store.isUnavailableError(busy)).toBe(true)
    const busyTransaction = await store.transaction(() => store.codes.insert(code('c2'))).catch((e: unknown) => e)
    expect(store.isUnavailableError(busyTransaction)).toBe(true)
    const busyOpen = await SqliteStore.open(file, { busyTimeoutMs: 50 }).catch((e: unknown) => e)
    expect(store.isUnavailableError(busyOpen)).toBe(true)
    other.exec('COMMIT')
    await store.transaction(() => store.codes.insert(code('c2')))
    await store.codes.insert(code('c1'))
    expect(await store.codes.get(tokenHash('c1'))).toBeDefined()
  })

  it('classifies a closed store as unavailable; close is idempotent', async () => {
    const { store } = await open()
    await store.close()
    await store.close()
    const error = await store.clientTable.get('app').catch((e: unknown) => e)
    expect((error as Error).message).toBe('The database connection is not open')
    expect(store.isUnavailableError(error)).toBe(true)
    expect(store.isUnavailableError(await store.codes.consume('x', NOW).catch((e: unknown) => e))).toBe(true)
  })

  it('classifies SQLite fault codes as unavailable and follows causes', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_FULL']) {
      expect(SqliteStore.isUnavailableError(new Database.SqliteError('fault', code)), code).toBe(true)
    }
    expect(SqliteStore.isUnavailableError(new Error('request failed', { cause: new Database.SqliteError('busy', 'SQLITE_BUSY') }))).toBe(true)
  })

  it('does not classify bugs as unavailable', async () => {
    const { store } = await openWithOwners()
    const duplicate = await store.clientTable.insert(client()).catch((e: unknown) => e)
    expect((duplicate as { code?: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY')
    expect(store.isUnavailableError(duplicate)).toBe(false)
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_ERROR', 'SQLITE_MISMATCH', 'SQLITE_FULLY_MADE_UP']) {
      expect(store.isUnavailableError(new Database.SqliteError('bug', code)), code).toBe(false)
    }
    for (const error of [new Error('boom'), new TypeError('x is not a function'), 'SQLITE_BUSY', undefined, null, { code: 'SQLITE_BUSY' }]) {
      expect(store.isUnavailableError(error)).toBe(false)
    }
  })
})
