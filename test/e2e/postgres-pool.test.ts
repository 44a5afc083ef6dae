/**
 * `oauthkit serve` over PostgreSQL with its pool sized and timed by flags (issue 21, item 5): `--db-pool-size`,
 * `--db-connect-timeout`, `--db-statement-timeout`. A table lock taken from another connection makes the store's
 * statements wait, as a slow or overloaded database would.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { addClient, startServer, type AddedClient, type RunningServer } from './support.js'

const DATABASE_URL = inject('databaseUrl')
const TIMEOUT = 60_000

describe('oauthkit serve --db postgres://… with --db-pool-size, --db-connect-timeout, --db-statement-timeout', () => {
  const name = `oauthkit_pool_${randomBytes(6).toString('hex')}`
  const url = new URL(DATABASE_URL)
  url.pathname = `/${name}`
  const db = url.toString()
  let client: AddedClient
  const servers: RunningServer[] = []

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: DATABASE_URL })
    await admin.connect()
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    client = await addClient(db, { name: 'machine', grantTypes: ['client_credentials'], scope: 'read' })
  }, TIMEOUT)

  afterAll(async () => {
    for (const server of servers) await server.stop()
    const admin = new pg.Client({ connectionString: DATABASE_URL })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }, TIMEOUT)

  async function serve(args: readonly string[]): Promise<string> {
    const server = await startServer(db, args)
    servers.push(server)
    return server.url
  }

  const basic = () => `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}`
  const token = (base: string) =>
    fetch(`${base}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic() }, body: 'grant_type=client_credentials&scope=read' })
  const introspect = (base: string) =>
    fetch(`${base}/introspect`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic() }, body: 'token=unknown' })

  /** Holds a lock on the tokens table that lets reads through and makes inserts wait, until `release`. */
  async function lockTokens(): Promise<() => Promise<void>> {
    const locker = new pg.Client({ connectionString: db })
    await locker.connect()
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE public.tokens IN EXCLUSIVE MODE')
    return async () => {
      await locker.query('ROLLBACK')
      await locker.end()
    }
  }

  async function whileAnInsertWaits(base: string): Promise<{ waiting: Response; other: Response }> {
    const release = await lockTokens()
    try {
      const waiting = token(base)
      // The insert now holds a connection of the pool until the lock goes.
      await new Promise((resolve) => setTimeout(resolve, 300))
      const other = await introspect(base)
      await release()
      return { waiting: await waiting, other }
    } catch (error) {
      await release()
      throw error
    }
  }

  it('with one connection, a request finds none free within --db-connect-timeout and gets 503; with two it is served', async () => {
    const one = await whileAnInsertWaits(await serve(['--db-pool-size', '1', '--db-connect-timeout', '200']))
    expect(one.other.status).toBe(503)
    expect(await one.other.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(one.waiting.status).toBe(200)
    const two = await whileAnInsertWaits(await serve(['--db-pool-size', '2', '--db-connect-timeout', '200']))
    expect(two.other.status).toBe(200)
    expect(await two.other.json()).toEqual({ active: false })
    expect(two.waiting.status).toBe(200)
  }, TIMEOUT)

  it('a statement unanswered for --db-statement-timeout fails the request with 503; the default waits longer', async () => {
    const quick = await whileAnInsertWaits(await serve(['--db-statement-timeout', '100']))
    expect(quick.waiting.status).toBe(503)
    expect(quick.waiting.headers.get('retry-after')).toBe('5')
    const patient = await whileAnInsertWaits(await serve([]))
    expect(patient.waiting.status).toBe(200)
  }, TIMEOUT)
})
