/**
 * PostgresStore coalesces the calls of concurrent requests made outside transactions: token inserts, client reads and
 * token reads made in one turn of the event loop go to PostgreSQL as one statement each. These tests show that it
 * saves statements, and that it keeps the semantics of one statement per call: each insert settles once committed, one
 * faulty call fails alone, every read sees what was committed before it, and `close` leaves no call hanging.
 *
 * Statements are counted as they leave for the server, on every connection of the store's pool (`onConnect`).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { tokenHash } from '../../src/store/secrets.js'
import { PostgresStore } from '../../src/store/postgres/index.js'
import { type TokenRecord } from '../../src/store/store.js'

const DATABASE_URL = inject('databaseUrl')
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 4 })
admin.on('error', () => {})
afterAll(() => admin.end())

const NOW = 1_800_000_000

/** Opens a store on a schema of its own, recording the text (and prepared statement name) of every statement its pool sends. */
async function openStore(config: Omit<pg.PoolConfig, 'connectionString' | 'onConnect'> = {}, options: { preparedStatements?: boolean } = {}) {
  const schema = `oauthkit_test_${randomBytes(8).toString('hex')}`
  const statements: string[] = []
  const names: Array<string | undefined> = []
  const onConnect = (client: pg.ClientBase) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    client.query = ((...args: unknown[]) => {
      const [first] = args
      statements.push(typeof first === 'string' ? first : (first as pg.QueryConfig).text)
      names.push(typeof first === 'string' ? undefined : (first as pg.QueryConfig).name)
      return query(...args)
    }) as pg.ClientBase['query']
  }
  const store = await PostgresStore.open({ connectionString: DATABASE_URL, max: 10, ...config, onConnect }, { schema, ...options })
  const close = async () => {
    await store.close()
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  }
  /** How many statements since the last call (the first call: since the store opened) start with `prefix`. */
  let seen = 0
  const sent = (prefix: string) => {
    const since = statements.slice(seen)
    seen = statements.length
    return since.filter((text) => text.trimStart().startsWith(prefix)).length
  }
  return { store, schema, close, sent, statements, names }
}

async function client(store: PostgresStore, name = 'Service') {
  const { clientId, clientSecret } = await store.clients.create({ name, grantTypes: ['client_credentials'], scopes: ['read'] })
  return { clientId, clientSecret: clientSecret as string }
}

function token(value: string, clientId: string, fields: Partial<TokenRecord> = {}): TokenRecord {
  const [grantId, expiresAt] = [`grant-${value}`, NOW + 3600]
  return { tokenHash: tokenHash(value), type: 'access_token', clientId, scopes: ['read'], resources: [], issuedAt: NOW, expiresAt, grantId, ...fields }
}

async function stored(schema: string): Promise<string[]> {
  const { rows } = await admin.query<{ token_hash: string }>(`SELECT token_hash FROM ${pg.escapeIdentifier(schema)}.tokens ORDER BY token_hash`)
  return rows.map((row) => row.token_hash)
}

/** The outcome of each promise, without throwing: `true` when it resolved, its error otherwise. */
function outcomes(promises: readonly Promise<unknown>[]): Promise<(true | unknown)[]> {
  return Promise.all(promises.map((promise) => promise.then(() => true as const, (error: unknown) => error)))
}

describe('PostgresStore token inserts outside transactions', () => {
  it('sends 50 inserts of one turn as one INSERT; each has landed when its promise resolves', async () => {
    const { store, schema, close, sent } = await openStore()
    try {
      const { clientId } = await client(store)
      sent('')
      const records = Array.from({ length: 50 }, (_, i) => token(`token-${i}`, clientId))
      await Promise.all(
        records.map(async (record) => {
          await store.tokens.insert([record])
          // Committed: another connection sees it already.
          const { rowCount } = await admin.query(`SELECT 1 FROM ${pg.escapeIdentifier(schema)}.tokens WHERE token_hash = $1`, [record.tokenHash])
          expect(rowCount).toBe(1)
        }),
      )
      expect(sent('INSERT')).toBe(1)
      expect(await stored(schema)).toEqual(records.map((record) => record.tokenHash).sort())
      // And read back through the store, again in one statement.
      const read = await Promise.all(records.map((record) => store.tokens.get(record.tokenHash)))
      expect(read).toEqual(records.map((record) => ({ ...record, userId: undefined, revokedAt: undefined, rotatedAt: undefined })))
      expect(sent('SELECT')).toBe(1)
    } finally {
      await close()
    }
  })

  it('splits a turn of more than 100 rows into statements of at most 100 rows, and sends a larger call alone', async () => {
    const { store, schema, close, sent } = await openStore()
    try {
      const { clientId } = await client(store)
      sent('')
      const pairs = Array.from({ length: 75 }, (_, i) => [token(`a-${i}`, clientId), token(`r-${i}`, clientId, { type: 'refresh_token' })])
      const large = Array.from({ length: 150 }, (_, i) => token(`large-${i}`, clientId))
      await Promise.all([...pairs.map((pair) => store.tokens.insert(pair)), store.tokens.insert(large)])
      // 150 rows of pairs: 100 + 50; the call of 150 rows goes in a statement of its own.
      expect(sent('INSERT')).toBe(3)
      expect(await stored(schema)).toHaveLength(300)
    } finally {
      await close()
    }
  })

  it('fails only the call whose client does not exist; the others of its batch land', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId } = await client(store)
      const good = Array.from({ length: 9 }, (_, i) => token(`good-${i}`, clientId))
      const orphan = token('orphan', 'no such client')
      const results = await outcomes([...good.slice(0, 4), orphan, ...good.slice(4)].map((record) => store.tokens.insert([record])))
      expect(results.filter((result) => result === true)).toHaveLength(9)
      const error = results[4] as { code?: string }
      expect(error).toBeInstanceOf(Error)
      expect(error.code).toBe('23503') // foreign_key_violation
      expect(store.isUnavailableError(error)).toBe(false)
      expect(await stored(schema)).toEqual(good.map((record) => record.tokenHash).sort())
    } finally {
      await close()
    }
  })

  it('fails only the call whose client was deleted after the call was made', async () => {
    const { store, schema, close } = await openStore()
    const deleter = await admin.connect()
    try {
      const kept = await client(store, 'Kept')
      const deleted = await client(store, 'Deleted')
      // The client is deleted in a transaction that commits only after the calls were made: the batch's foreign-key
      // check waits for it and then finds the client gone, whichever reaches the server first.
      await deleter.query('BEGIN')
      await deleter.query(`DELETE FROM ${pg.escapeIdentifier(schema)}.clients WHERE client_id = $1`, [deleted.clientId])
      const pending = outcomes([store.tokens.insert([token('kept', kept.clientId)]), store.tokens.insert([token('deleted', deleted.clientId)])])
      await new Promise(setImmediate)
      await deleter.query('COMMIT')
      const [keptResult, deletedResult] = await pending
      expect(keptResult).toBe(true)
      expect((deletedResult as { code?: string }).code).toBe('23503')
      expect(await stored(schema)).toEqual([tokenHash('kept')])
    } finally {
      deleter.release()
      await close()
    }
  })

  it('fails only the call with a duplicate digest, whether stored before or in the same batch', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId } = await client(store)
      await store.tokens.insert([token('existing', clientId)])
      const results = await outcomes([
        store.tokens.insert([token('fresh-1', clientId)]),
        store.tokens.insert([token('existing', clientId)]),
        store.tokens.insert([token('twin', clientId)]),
        store.tokens.insert([token('twin', clientId, { grantId: 'another grant' })]),
        store.tokens.insert([token('fresh-2', clientId)]),
      ])
      expect(results[0]).toBe(true)
      expect((results[1] as { code?: string }).code).toBe('23505') // unique_violation
      // Of the two twins, exactly one lands.
      expect(results.slice(2, 4).filter((result) => result === true)).toHaveLength(1)
      expect((results.slice(2, 4).find((result) => result !== true) as { code?: string }).code).toBe('23505')
      expect(results[4]).toBe(true)
      expect(await stored(schema)).toEqual(['existing', 'fresh-1', 'fresh-2', 'twin'].map(tokenHash).sort())
    } finally {
      await close()
    }
  })

  it('keeps the tokens of one call all or nothing inside a batch that fails', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId } = await client(store)
      await store.tokens.insert([token('existing', clientId)])
      const results = await outcomes([
        store.tokens.insert([token('before', clientId)]),
        // Its access token is new, its refresh token a duplicate: neither lands.
        store.tokens.insert([token('access', clientId), token('existing', clientId, { type: 'refresh_token' })]),
        store.tokens.insert([token('after', clientId)]),
      ])
      expect(results[0]).toBe(true)
      expect(results[1]).toBeInstanceOf(Error)
      expect(results[2]).toBe(true)
      expect(await stored(schema)).toEqual(['after', 'before', 'existing'].map(tokenHash).sort())
    } finally {
      await close()
    }
  })

  it('fails every call of a batch at once, without retrying, when the database does not answer', async () => {
    const applicationName = `oauthkit-timeout-${randomBytes(4).toString('hex')}`
    const { store, schema, close, sent } = await openStore({ query_timeout: 300, application_name: applicationName })
    const locker = await admin.connect()
    try {
      const { clientId } = await client(store)
      // Hold the table: the batch's INSERT waits for the lock until its answer times out.
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE ${pg.escapeIdentifier(schema)}.tokens IN ACCESS EXCLUSIVE MODE`)
      sent('')
      const results = await outcomes(Array.from({ length: 5 }, (_, i) => store.tokens.insert([token(`waiting-${i}`, clientId)])))
      for (const result of results) {
        expect(result).toBeInstanceOf(Error)
        expect(store.isUnavailableError(result)).toBe(true)
      }
      expect(new Set(results).size).toBe(1)
      expect(sent('INSERT')).toBe(1)
    } finally {
      // The server still runs the INSERT the store stopped waiting for: end it while it waits, before it can take
      // locks that dropping the schema needs.
      await admin.query('SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1', [applicationName])
      await locker.query('ROLLBACK')
      locker.release()
      await close()
    }
  })

  it('inserts inside a transaction on its connection, apart from the batch of the calls outside it', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId } = await client(store)
      const failure = new Error('the work failed')
      const results = await outcomes([
        store.tokens.insert([token('outside-1', clientId)]),
        store.transaction(async () => {
          await store.tokens.insert([token('inside', clientId)])
          // Seen on the transaction's connection before it commits.
          expect(await store.tokens.get(tokenHash('inside'))).toBeDefined()
          throw failure
        }),
        store.tokens.insert([token('outside-2', clientId)]),
      ])
      expect(results).toEqual([true, failure, true])
      expect(await stored(schema)).toEqual(['outside-1', 'outside-2'].map(tokenHash).sort())
    } finally {
      await close()
    }
  })
})

describe('PostgresStore reads outside transactions', () => {
  it('answers concurrent gets of different clients with one SELECT, each with its own row, an unknown id with undefined', async () => {
    const { store, close, sent } = await openStore()
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => client(store, `Client ${i}`)))
      sent('')
      const ids = [...clients.map((c) => c.clientId), 'unknown', clients[3]!.clientId]
      const found = await Promise.all(ids.map((id) => store.clientTable.get(id)))
      expect(sent('SELECT')).toBe(1)
      expect(found.map((record) => record?.name)).toEqual([...clients.map((_, i) => `Client ${i}`), undefined, 'Client 3'])
      expect(found.map((record) => record?.clientId)).toEqual([...clients.map((c) => c.clientId), undefined, clients[3]!.clientId])
      // Two calls for one id get equal records, not one shared object.
      expect(found[11]).toEqual(found[3])
      expect(found[11]).not.toBe(found[3])
    } finally {
      await close()
    }
  })

  it('sees a secret rotated, or a client deleted, at the next get: nothing is cached', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId, clientSecret } = await client(store)
      const before = await store.clientTable.get(clientId)
      const rotated = (await store.clients.rotateSecret(clientId)) as string
      const after = await store.clientTable.get(clientId)
      expect(after?.secretHash).toBeDefined()
      expect(after?.secretHash).not.toBe(before?.secretHash)
      expect(await store.clients.authenticate(clientId, clientSecret)).toBeUndefined()
      expect((await store.clients.authenticate(clientId, rotated))?.clientId).toBe(clientId)
      // Changed by another connection (another instance) between two reads of one turn each.
      expect((await Promise.all(Array.from({ length: 5 }, () => store.clientTable.get(clientId)))).every((record) => record?.clientId === clientId)).toBe(true)
      await admin.query(`DELETE FROM ${pg.escapeIdentifier(schema)}.clients WHERE client_id = $1`, [clientId])
      const afterDeletion = await Promise.all(Array.from({ length: 5 }, () => store.clientTable.get(clientId)))
      expect(afterDeletion).toEqual([undefined, undefined, undefined, undefined, undefined])
    } finally {
      await close()
    }
  })

  it('sees a token revoked at the next get', async () => {
    const { store, close } = await openStore()
    try {
      const { clientId } = await client(store)
      await store.tokens.insert([token('a', clientId), token('b', clientId)])
      const [a, b] = await Promise.all([store.tokens.get(tokenHash('a')), store.tokens.get(tokenHash('b')), store.tokens.revoke(tokenHash('a'), NOW)])
      // The revocation and the reads ran side by side: either order may have won. The next reads see it.
      expect(a?.tokenHash).toBe(tokenHash('a'))
      expect(b?.revokedAt).toBeUndefined()
      const [again, unknown] = await Promise.all([store.tokens.get(tokenHash('a')), store.tokens.get(tokenHash('unknown'))])
      expect(again?.revokedAt).toBe(NOW)
      expect(unknown).toBeUndefined()
    } finally {
      await close()
    }
  })

  it('fails only the call whose key the server refuses (a NUL byte); the others of its batch get their rows', async () => {
    const { store, close } = await openStore()
    try {
      const { clientId } = await client(store)
      const results = await Promise.all(
        [clientId, 'nul\u0000id', 'unknown'].map((id) => store.clientTable.get(id).then((record) => record?.clientId ?? 'none', (error: unknown) => error)),
      )
      expect(results[0]).toBe(clientId)
      expect(results[1]).toBeInstanceOf(Error)
      expect(store.isUnavailableError(results[1])).toBe(false)
      expect(results[2]).toBe('none')
    } finally {
      await close()
    }
  })
})

describe('PostgresStore.close with calls waiting to be coalesced', () => {
  it('sends them before ending the pool, so none hangs and no write is lost; later calls reject', async () => {
    const { store, schema, close } = await openStore()
    const { clientId } = await client(store)
    const inserts = Array.from({ length: 10 }, (_, i) => store.tokens.insert([token(`late-${i}`, clientId)]))
    const reads = Array.from({ length: 10 }, () => store.clientTable.get(clientId))
    const closing = store.close()
    await Promise.all(inserts)
    expect((await Promise.all(reads)).every((record) => record?.clientId === clientId)).toBe(true)
    await closing
    expect(await stored(schema)).toHaveLength(10)
    await expect(store.tokens.insert([token('after', clientId)])).rejects.toThrow('closed')
    await expect(store.tokens.get(tokenHash('late-0'))).rejects.toThrow('closed')
    await expect(store.clientTable.get(clientId)).rejects.toThrow('closed')
    await expect(store.codes.get('x')).rejects.toThrow('closed')
    await expect(store.transaction(async () => 1)).rejects.toThrow('closed')
    await close()
  })
})

describe('PostgresStore prepared statements', () => {
  /** Inserts and reads a token and reads its client, as a token request and an introspection do. */
  async function tokenTraffic(store: PostgresStore, clientId: string, value: string) {
    await Promise.all([store.tokens.insert([token(`${value}-a`, clientId)]), store.tokens.insert([token(`${value}-b`, clientId)])])
    await Promise.all([store.tokens.get(tokenHash(`${value}-a`)), store.tokens.get(tokenHash(`${value}-b`)), store.clientTable.get(clientId)])
    await store.transaction(() => store.tokens.insert([token(`${value}-c`, clientId)]))
  }

  it('sends the table statements under one name per text, and none when preparedStatements is false', async () => {
    const prepared = await openStore()
    const plain = await openStore({}, { preparedStatements: false })
    try {
      for (const { store, statements, names } of [prepared, plain]) {
        const { clientId } = await client(store)
        statements.length = 0
        names.length = 0
        await tokenTraffic(store, clientId, 'first')
        await tokenTraffic(store, clientId, 'second')
      }
      const pairs = (opened: typeof prepared) => opened.statements.map((text, i) => [text, opened.names[i]] as const).filter(([text]) => /^\s*(INSERT|SELECT)/.test(text))
      const named = pairs(prepared)
      expect(named.length).toBeGreaterThanOrEqual(8)
      // Every insert and read is named, and a text keeps its name.
      expect(named.every(([, name]) => name !== undefined)).toBe(true)
      const byText = new Map<string, Set<string | undefined>>()
      for (const [text, name] of named) byText.set(text, (byText.get(text) ?? new Set()).add(name))
      expect([...byText.values()].every((set) => set.size === 1)).toBe(true)
      // Distinct texts, distinct names.
      expect(new Set(named.map(([, name]) => name)).size).toBe(byText.size)
      expect(pairs(plain).every(([, name]) => name === undefined)).toBe(true)
    } finally {
      await Promise.all([prepared.close(), plain.close()])
    }
  })

  it('keeps reading once another instance adds a column to the tables (no prepared statement reads *)', async () => {
    const { store, schema, close } = await openStore()
    try {
      const { clientId } = await client(store)
      await tokenTraffic(store, clientId, 'before')
      for (const table of ['clients', 'tokens', 'codes', 'users', 'consents']) {
        await admin.query(`ALTER TABLE ${pg.escapeIdentifier(schema)}.${table} ADD COLUMN added_later text`)
      }
      await tokenTraffic(store, clientId, 'after')
      expect((await store.tokens.get(tokenHash('after-c')))?.clientId).toBe(clientId)
      expect((await store.clientTable.get(clientId))?.clientId).toBe(clientId)
    } finally {
      await close()
    }
  })
})
