/**
 * PostgresStore against a real PostgreSQL server (DATABASE_URL, or the throwaway cluster of
 * test/support/postgres-global-setup.ts): the shared contract and StoreValidator suites, then what only a real
 * database can show. Each test keeps
 * to a schema of its own, dropped afterwards, so test files run in parallel.
 */
import { randomBytes } from 'node:crypto'
import { createServer, Socket, type Server as NetServer } from 'node:net'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { tokenHash } from '../../src/store/secrets.js'
import { PostgresStore } from '../../src/store/postgres/index.js'
import { PURGE_LOCK_KEY } from '../../src/store/postgres/store.js'
import { type CodeRecord, type TokenRecord } from '../../src/store/store.js'
import { registerClient } from '../../src/store/registration.js'
import { describeStoreContract, SELF_REGISTERED } from './contract.js'
import { describeStoreValidator } from './validator-suite.js'

const DATABASE_URL = inject('databaseUrl')
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 4 })
admin.on('error', () => {})
afterAll(() => admin.end())

const NOW = 1_800_000_000

function freshSchema(): string {
  return `oauthkit_test_${randomBytes(8).toString('hex')}`
}

/** Opens a store on a schema of its own; `close` ends it and drops the schema. */
async function openStore(config: Omit<pg.PoolConfig, 'connectionString'> = {}, schema = freshSchema()) {
  const store = await PostgresStore.open({ connectionString: DATABASE_URL, ...config }, { schema })
  const close = async () => {
    await store.close()
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  }
  return { store, schema, close }
}

/** A client, a user, and a code issued to them; returns the code in clear. */
async function seed(store: PostgresStore, overrides: Partial<CodeRecord> = {}) {
  const { clientId, clientSecret } = await store.clients.create({ name: 'Web', redirectUris: ['https://client.example/cb'], scopes: ['read'] })
  const user = await store.users.create({ username: `alice-${randomBytes(4).toString('hex')}`, password: 'correct horse battery staple' })
  const code = randomBytes(32).toString('base64url')
  const record: CodeRecord = {
    codeHash: tokenHash(code),
    clientId,
    userId: user.userId,
    scopes: ['read'],
    redirectUri: 'https://client.example/cb',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    resources: [],
    expiresAt: NOW + 60,
    grantId: randomBytes(16).toString('base64url'),
    ...overrides,
  }
  await store.codes.insert(record)
  return { clientId, clientSecret: clientSecret as string, userId: user.userId, code, codeRecord: record }
}

function tokenRecord(value: string, fields: Partial<TokenRecord> & Pick<TokenRecord, 'clientId' | 'grantId'>): TokenRecord {
  return { tokenHash: tokenHash(value), type: 'access_token', scopes: ['read'], resources: [], issuedAt: NOW, expiresAt: NOW + 3600, ...fields }
}

async function count(schema: string, table: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${pg.escapeIdentifier(schema)}.${table}`)
  return Number(rows[0]?.n)
}

/** A fresh store for a shared suite: pool of 20 connections, so its concurrent requests really run side by side. */
async function openForSuite() {
  const { store, close } = await openStore({ max: 20 })
  return { store, cleanup: close }
}

describeStoreContract('postgres', openForSuite)
describeStoreValidator('postgres', openForSuite)

describe('PostgresStore migrations', () => {
  it('creates a fresh schema at the latest version, with every table', async () => {
    const { store, schema, close } = await openStore()
    try {
      const versions = await admin.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
      expect(versions.rows.map((row) => row.version)).toEqual(versions.rows.map((_, i) => i + 1))
      expect(versions.rows.length).toBeGreaterThanOrEqual(1)
      const tables = await admin.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`, [schema])
      expect(tables.rows.map((row) => row.table_name)).toEqual(['clients', 'codes', 'consents', 'initial_access_tokens', 'installation_secrets', 'rate_limits', 'schema_migrations', 'sessions', 'signing_keys', 'tokens', 'users'])
      expect(await store.clients.list()).toEqual([])
    } finally {
      await close()
    }
  })

  it('keeps the data and applies nothing twice when reopened', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, code } = await seed(store)
      await store.close()
      const reopened = await PostgresStore.open(DATABASE_URL, { schema })
      try {
        expect((await reopened.clients.get(clientId))?.name).toBe('Web')
        expect(await reopened.codes.consume(tokenHash(code), NOW)).toBe(true)
        const versions = await admin.query(`SELECT version FROM ${schema}.schema_migrations`)
        expect(versions.rowCount).toBe(new Set(versions.rows.map((row: { version: number }) => row.version)).size)
      } finally {
        await reopened.close()
      }
    } finally {
      await close()
    }
  })

  it('rekeys the tokens and codes of a database from before keys were digests alone, so they are still found', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, userId } = await seed(store)
      await store.close()
      const own = () => `${Date.now().toString(36).padStart(9, '0')}.${randomBytes(32).toString('base64url')}`
      const issued = [own(), own(), randomBytes(32).toString('base64url')]
      // The keys of version 4: the time of an own token and a ".", then the digest; the digest alone for other tokens.
      const oldKey = (value: string) => (value.length === 53 ? value.slice(0, 10) : '') + tokenHash(value)
      const quoted = pg.escapeIdentifier(schema)
      await admin.query(`INSERT INTO ${quoted}.codes (code_hash, client_id, user_id, scopes, resources, expires_at, grant_id) VALUES ($1, $2, $3, '{}', '{}', $4, 'g')`, [
        oldKey(issued[0] as string),
        clientId,
        userId,
        NOW + 60,
      ])
      for (const value of issued) {
        await admin.query(`INSERT INTO ${quoted}.tokens (token_hash, type, client_id, scopes, resources, issued_at, grant_id) VALUES ($1, 'refresh_token', $2, '{}', '{}', $3, 'g')`, [
          oldKey(value),
          clientId,
          NOW,
        ])
      }
      // Back to version 4, as a database of before the upgrade.
      await admin.query(`DELETE FROM ${quoted}.schema_migrations WHERE version > 4`)
      const reopened = await PostgresStore.open(DATABASE_URL, { schema })
      try {
        expect(await reopened.codes.consume(tokenHash(issued[0] as string), NOW)).toBe(true)
        for (const value of issued) expect((await reopened.tokens.get(tokenHash(value)))?.type, value).toBe('refresh_token')
        expect(await reopened.tokens.rotate(tokenHash(issued[1] as string), NOW)).toBe(true)
        const { rows } = await admin.query<{ key: string }>(`SELECT token_hash AS key FROM ${quoted}.tokens UNION ALL SELECT code_hash FROM ${quoted}.codes`)
        expect(rows.every((row) => /^[A-Za-z0-9_-]{43}$/.test(row.key))).toBe(true)
      } finally {
        await reopened.close()
      }
    } finally {
      await close()
    }
  })

  it('refuses a database whose schema is newer than this oauthkit, saying so', async () => {
    const { store, schema, close } = await openStore()
    await store.close()
    try {
      const { rows } = await admin.query<{ latest: number }>(`SELECT max(version) AS latest FROM ${schema}.schema_migrations`)
      const latest = rows[0]?.latest as number
      await admin.query(`INSERT INTO ${schema}.schema_migrations (version, applied_at) VALUES ($1, 0)`, [latest + 1])
      await expect(PostgresStore.open(DATABASE_URL, { schema })).rejects.toThrow(
        `database schema version ${latest + 1} is newer than this oauthkit (knows ${latest}): upgrade oauthkit`,
      )
    } finally {
      await close()
    }
  })

  it('lets many instances open the same fresh schema at once (advisory lock)', async () => {
    const schema = freshSchema()
    const stores = await Promise.all(Array.from({ length: 8 }, () => PostgresStore.open(DATABASE_URL, { schema })))
    try {
      const { rows } = await admin.query<{ version: number; n: string }>(`SELECT version, count(*) AS n FROM ${schema}.schema_migrations GROUP BY version`)
      expect(rows.every((row) => row.n === '1')).toBe(true)
      // Every instance works on the same tables.
      const { clientId } = await stores[0]!.clients.create({ name: 'Shared', grantTypes: ['client_credentials'], scopes: ['read'] })
      for (const store of stores) expect((await store.clients.get(clientId))?.name).toBe('Shared')
    } finally {
      await Promise.all(stores.map((store) => store.close()))
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    }
  })

  it('quotes the schema name, so any name works', async () => {
    const { store, schema, close } = await openStore({}, `oauthkit "odd"; name ${randomBytes(4).toString('hex')}`)
    try {
      await seed(store)
      expect(await count(schema, 'codes')).toBe(1)
    } finally {
      await close()
    }
  })

  it('uses the public schema by default', async () => {
    const database = `oauthkit_test_${randomBytes(8).toString('hex')}`
    await admin.query(`CREATE DATABASE ${database}`)
    const url = new URL(DATABASE_URL)
    url.pathname = `/${database}`
    const store = await PostgresStore.open(url.href)
    try {
      await seed(store)
      const check = new pg.Client({ connectionString: url.href })
      await check.connect()
      try {
        const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM public.codes')
        expect(rows[0]?.n).toBe('1')
      } finally {
        await check.end()
      }
    } finally {
      await store.close()
      await admin.query(`DROP DATABASE ${database} WITH (FORCE)`)
    }
  })
})

describe('PostgresStore under concurrency', () => {
  it('of 50 concurrent redemptions of one code, on a pool of 20 connections, exactly one wins', async () => {
    const applicationName = `oauthkit-consume-${randomBytes(4).toString('hex')}`
    const { store, schema, close } = await openStore({ max: 20, application_name: applicationName })
    try {
      const { code } = await seed(store)
      const results = await Promise.all(Array.from({ length: 50 }, () => store.codes.consume(tokenHash(code), NOW)))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await store.codes.get(tokenHash(code)))?.consumedAt).toBe(NOW)
      // They really ran side by side: the pool opened many connections.
      const { rows } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
      expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(10)
      expect(await count(schema, 'codes')).toBe(1)
    } finally {
      await close()
    }
  })

  it('of 50 concurrent token requests for one code, each consuming it and saving tokens in a transaction, exactly one saves tokens', async () => {
    const { store, schema, close } = await openStore({ max: 20 })
    try {
      const { code, codeRecord } = await seed(store)
      const redeem = (i: number) =>
        store.transaction(async () => {
          if (!(await store.codes.consume(tokenHash(code), NOW))) return false
          await store.tokens.insert([
            tokenRecord(`access-${i}`, { clientId: codeRecord.clientId, userId: codeRecord.userId, grantId: codeRecord.grantId }),
            tokenRecord(`refresh-${i}`, { type: 'refresh_token', clientId: codeRecord.clientId, userId: codeRecord.userId, grantId: codeRecord.grantId }),
          ])
          return true
        })
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => redeem(i)))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await count(schema, 'tokens')).toBe(2)
    } finally {
      await close()
    }
  })

  it('of 50 concurrent rotations of one refresh token exactly one wins', async () => {
    const { store, close } = await openStore({ max: 20 })
    try {
      const { clientId, userId, codeRecord } = await seed(store)
      await store.tokens.insert([tokenRecord('refresh', { type: 'refresh_token', clientId, userId, grantId: codeRecord.grantId, expiresAt: undefined })])
      const results = await Promise.all(Array.from({ length: 50 }, () => store.tokens.rotate(tokenHash('refresh'), NOW)))
      expect(results.filter(Boolean)).toHaveLength(1)
      expect((await store.tokens.get(tokenHash('refresh')))?.rotatedAt).toBe(NOW)
    } finally {
      await close()
    }
  })
})

describe('PostgresStore transactions', () => {
  it('leaves nothing half-written when the work throws, and rethrows its error', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, userId, code, codeRecord } = await seed(store)
      const failure = new Error('saving the tokens failed')
      await expect(
        store.transaction(async () => {
          expect(await store.codes.consume(tokenHash(code), NOW)).toBe(true)
          await store.tokens.insert([tokenRecord('access', { clientId, userId, grantId: codeRecord.grantId })])
          await store.consents.put({ clientId, userId, scopes: ['read'], grantedAt: NOW })
          await store.clients.create({ name: 'Other', grantTypes: ['client_credentials'], scopes: [] })
          throw failure
        }),
      ).rejects.toBe(failure)
      expect((await store.codes.get(tokenHash(code)))?.consumedAt).toBeUndefined()
      expect(await count(schema, 'tokens')).toBe(0)
      expect(await count(schema, 'consents')).toBe(0)
      expect(await store.clients.list()).toHaveLength(1)
      // The code is still redeemable.
      expect(await store.codes.consume(tokenHash(code), NOW)).toBe(true)
    } finally {
      await close()
    }
  })

  it('rolls back when a statement inside it fails, and the pool stays usable', async () => {
    const { store, schema, close } = await openStore({ max: 2 })
    try {
      const { clientId, userId, codeRecord } = await seed(store)
      await expect(
        store.transaction(async () => {
          await store.tokens.insert([tokenRecord('access', { clientId, userId, grantId: codeRecord.grantId })])
          await store.tokens.insert([tokenRecord('orphan', { clientId: 'no such client', grantId: codeRecord.grantId })])
        }),
      ).rejects.toThrow()
      expect(await count(schema, 'tokens')).toBe(0)
      for (let i = 0; i < 5; i++) expect(await store.transaction(() => store.clients.list())).toHaveLength(1)
    } finally {
      await close()
    }
  })

  it('commits together, unseen by other connections until then', async () => {
    const { store, schema, close } = await openStore()
    const other = await PostgresStore.open(DATABASE_URL, { schema })
    try {
      const { clientId, userId, codeRecord } = await seed(store)
      await store.transaction(async () => {
        await Promise.all([
          store.tokens.insert([tokenRecord('a', { clientId, userId, grantId: codeRecord.grantId })]),
          store.consents.put({ clientId, userId, scopes: ['read'], grantedAt: NOW }),
        ])
        expect(await store.tokens.get(tokenHash('a'))).toBeDefined()
        expect(await other.tokens.get(tokenHash('a'))).toBeUndefined()
        expect(await other.consents.get(clientId, userId)).toBeUndefined()
      })
      expect(await other.tokens.get(tokenHash('a'))).toBeDefined()
      expect(await other.consents.get(clientId, userId)).toBeDefined()
    } finally {
      await other.close()
      await close()
    }
  })

  it('undoes only a nested transaction that throws', async () => {
    const { store, close } = await openStore()
    try {
      const { clientId, userId, codeRecord } = await seed(store)
      await store.transaction(async () => {
        await store.tokens.insert([tokenRecord('outer', { clientId, userId, grantId: codeRecord.grantId })])
        await expect(
          store.transaction(async () => {
            await store.tokens.insert([tokenRecord('inner', { clientId, userId, grantId: codeRecord.grantId })])
            throw new Error('inner failed')
          }),
        ).rejects.toThrow('inner failed')
        await store.consents.put({ clientId, userId, scopes: ['read'], grantedAt: NOW })
      })
      expect(await store.tokens.get(tokenHash('outer'))).toBeDefined()
      expect(await store.tokens.get(tokenHash('inner'))).toBeUndefined()
      expect(await store.consents.get(clientId, userId)).toBeDefined()
    } finally {
      await close()
    }
  })
})

describe('PostgresStore at rest', () => {
  it('a dump of every table holds no token, code, secret or password in clear, only their digests', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, clientSecret, userId, code, codeRecord } = await seed(store)
      const imported = await store.clients.create({ name: 'Imported', grantTypes: ['client_credentials'], scopes: ['read'], clientSecret: 'an imported s3cret of unknown entropy' })
      const password = 'correct horse battery staple'
      const access = randomBytes(32).toString('base64url')
      const refresh = randomBytes(32).toString('base64url')
      await store.tokens.insert([
        tokenRecord(access, { clientId, userId, grantId: codeRecord.grantId }),
        tokenRecord(refresh, { type: 'refresh_token', clientId, userId, grantId: codeRecord.grantId, expiresAt: undefined }),
      ])
      await store.codes.consume(tokenHash(code), NOW)
      await store.consents.put({ clientId, userId, scopes: ['read'], grantedAt: NOW })
      const initial = await store.initialAccessTokens.create({ uses: 2 })
      const registered = await registerClient(store, ['read'], SELF_REGISTERED)

      // The text of every row of every table in the schema: what COPY … TO STDOUT or pg_dump would write.
      const tables = await admin.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema])
      let dump = ''
      for (const { table_name: table } of tables.rows) {
        const { rows } = await admin.query<{ row: string }>(`SELECT t::text AS row FROM ${schema}.${pg.escapeIdentifier(table)} t`)
        dump += `${table}\n${rows.map((row) => row.row).join('\n')}\n`
      }
      expect(tables.rows).toHaveLength(11)
      for (const secret of [code, access, refresh, clientSecret, imported.clientSecret as string, password, initial.token, registered.registrationAccessToken as string]) {
        expect(dump).not.toContain(secret)
      }
      // The dump is not empty: it holds the digests.
      for (const digest of [tokenHash(code), tokenHash(access), tokenHash(refresh), tokenHash(clientSecret), tokenHash(initial.token), tokenHash(registered.registrationAccessToken as string)]) {
        expect(dump).toContain(digest)
      }
      expect(dump).toContain('scrypt:')
    } finally {
      await close()
    }
  })
})

describe('PostgresStore.purgeExpired', () => {
  it('deletes, in batches, codes and tokens expired more than an hour ago, and keeps the rest', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, userId, codeRecord } = await seed(store, { expiresAt: NOW - 3601 })
      await seed(store, { expiresAt: NOW - 3599 })
      const family = { clientId, userId, grantId: codeRecord.grantId }
      const expired = Array.from({ length: 1200 }, (_, i) => tokenRecord(`expired-${i}`, { ...family, expiresAt: NOW - 3601 - i }))
      for (let i = 0; i < expired.length; i += 300) await store.tokens.insert(expired.slice(i, i + 300))
      await store.tokens.insert([
        tokenRecord('recent', { ...family, expiresAt: NOW - 10 }),
        tokenRecord('live', { ...family, expiresAt: NOW + 10 }),
        tokenRecord('refresh-live', { ...family, type: 'refresh_token', expiresAt: undefined }),
        tokenRecord('refresh-revoked-long-ago', { ...family, type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - 3601 }),
        tokenRecord('refresh-revoked-lately', { ...family, type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - 60 }),
      ])
      expect(await store.purgeExpired(NOW)).toBe(1 + 1200 + 1)
      expect(await count(schema, 'codes')).toBe(1)
      const { rows } = await admin.query<{ token_hash: string }>(`SELECT token_hash FROM ${schema}.tokens`)
      expect(rows.map((row) => row.token_hash).sort()).toEqual(['recent', 'live', 'refresh-live', 'refresh-revoked-lately'].map(tokenHash).sort())
      expect(await store.purgeExpired(NOW)).toBe(0)
    } finally {
      await close()
    }
  })
})

describe('PostgresStore.purgeExpired across instances', () => {
  it('runs on one instance at a time: while another holds the purge lock of the schema, it deletes nothing', async () => {
    const { store, schema, close } = await openStore()
    const other = await PostgresStore.open({ connectionString: DATABASE_URL }, { schema })
    const holder = await admin.connect()
    try {
      await seed(store, { expiresAt: NOW - 2 * 3600 })
      const lock = [PURGE_LOCK_KEY, `${pg.escapeIdentifier(schema)}.codes`]
      await holder.query('SELECT pg_advisory_lock($1, hashtext($2))', lock)
      expect(await store.purgeExpired(NOW)).toBe(0)
      expect(await other.purgeExpired(NOW)).toBe(0)
      expect(await count(schema, 'codes')).toBe(1)
      // Another schema's purge is not held up by this one's.
      const elsewhere = await openStore()
      try {
        await seed(elsewhere.store, { expiresAt: NOW - 2 * 3600 })
        expect(await elsewhere.store.purgeExpired(NOW)).toBe(1)
      } finally {
        await elsewhere.close()
      }
      await holder.query('SELECT pg_advisory_unlock($1, hashtext($2))', lock)
      expect(await other.purgeExpired(NOW)).toBe(1)
      expect(await count(schema, 'codes')).toBe(0)
    } finally {
      holder.release()
      await other.close()
      await close()
    }
  })
})

describe('PostgresStore.purgeExpired when a statement times out', () => {
  it('leaves no purge lock behind on a pooled connection: another instance purges once the database answers again', async () => {
    // One connection, answers awaited 300 ms: a purge held up by a table lock times out, its unlock too (queued behind
    // the DELETE still running on the server). The connection must not go back to the pool still holding the lock.
    const { store, schema, close } = await openStore({ max: 1, query_timeout: 300, idleTimeoutMillis: 60_000 })
    const other = await PostgresStore.open({ connectionString: DATABASE_URL }, { schema })
    const blocker = await admin.connect()
    try {
      await seed(store, { expiresAt: NOW - 2 * 3600 })
      await blocker.query('BEGIN')
      await blocker.query(`LOCK TABLE ${pg.escapeIdentifier(schema)}.codes IN ACCESS EXCLUSIVE MODE`)
      await expect(store.purgeExpired(NOW)).rejects.toThrow()
      await new Promise((resolve) => setTimeout(resolve, 400))
      await blocker.query('COMMIT')
      // The store's connection stays in its pool, idle; the other instance's purge must not find the lock taken.
      await seed(store, { expiresAt: NOW - 2 * 3600 })
      let purged = 0
      for (let attempt = 0; attempt < 20 && purged === 0; attempt++) {
        purged = await other.purgeExpired(NOW)
        if (purged === 0) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(purged).toBeGreaterThan(0)
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined)
      blocker.release()
      await other.close()
      await close()
    }
  })
})

describe('PostgresStore.isUnavailableError', () => {
  it('recognises a refused connection: opening a store on a closed port', async () => {
    const { store, close } = await openStore()
    try {
      const port = await closedPort()
      const error = await PostgresStore.open({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres`, connectionTimeoutMillis: 2000 }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
      expect(store.isUnavailableError(error)).toBe(true)
    } finally {
      await close()
    }
  })

  it('recognises a connection lost mid-transaction, and the store works again afterwards', async () => {
    const applicationName = `oauthkit-terminated-${randomBytes(4).toString('hex')}`
    const { store, close } = await openStore({ application_name: applicationName })
    try {
      const error = await store
        .transaction(async () => {
          await store.clients.list()
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName])
          await store.clients.list()
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(error).toBeInstanceOf(Error)
      expect(store.isUnavailableError(error)).toBe(true)
      expect(await store.clients.list()).toEqual([])
    } finally {
      await close()
    }
  })

  it('recognises a server that went away behind an open store', async () => {
    const proxy = await tcpProxy(new URL(DATABASE_URL))
    const url = new URL(DATABASE_URL)
    url.hostname = '127.0.0.1'
    url.port = String(proxy.port)
    const schema = freshSchema()
    const store = await PostgresStore.open({ connectionString: url.href, connectionTimeoutMillis: 2000 }, { schema })
    try {
      expect(await store.clients.list()).toEqual([])
      await proxy.close()
      const error = await store.clients.list().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
      expect(store.isUnavailableError(error)).toBe(true)
    } finally {
      await store.close()
      await admin.query(`DROP SCHEMA ${schema} CASCADE`)
    }
  })

  it('classifies SQLSTATEs: connection exceptions, shutdowns and too many connections, not bugs', async () => {
    const { store, close } = await openStore()
    try {
      const withCode = (code: string) => Object.assign(new pg.DatabaseError('simulated', 0, 'error'), { code })
      for (const code of ['08000', '08003', '08006', '08001', '08004', '57P01', '57P02', '57P03', '53300']) {
        expect(store.isUnavailableError(withCode(code)), code).toBe(true)
      }
      for (const code of ['23505', '23503', '42P01', '42601', '22P02', '40001', '53100']) {
        expect(store.isUnavailableError(withCode(code)), code).toBe(false)
      }
      expect(store.isUnavailableError(new Error('timeout exceeded when trying to connect'))).toBe(true)
      expect(store.isUnavailableError(new Error('something else'))).toBe(false)
      expect(store.isUnavailableError(undefined)).toBe(false)
      expect(store.isUnavailableError('ECONNREFUSED')).toBe(false)
      // A real bug: a unique violation.
      const { clientId } = await store.clients.create({ name: 'A', grantTypes: ['client_credentials'], scopes: [] })
      const duplicate = await store.clientTable.insert({ ...(await store.clients.get(clientId))! }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(duplicate).toBeInstanceOf(Error)
      expect(store.isUnavailableError(duplicate)).toBe(false)
    } finally {
      await close()
    }
  })
})

describe('PostgresStore.close', () => {
  it('can be called twice', async () => {
    const { store, close } = await openStore()
    await store.close()
    await close()
  })
})

/** A loopback port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 1))
    })
  })
}

/** A TCP proxy to the database; `close` stops it and cuts every connection through it, as a server going away would. */
async function tcpProxy(target: URL): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: NetServer = createServer((incoming) => {
    const outgoing = new Socket()
    outgoing.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [incoming, outgoing]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
    incoming.pipe(outgoing).pipe(incoming)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}
