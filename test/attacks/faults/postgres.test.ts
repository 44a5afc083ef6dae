/**
 * PostgreSQL goes away under load, and comes back: the server of `oauthkit serve --db postgresql://…` keeps answering
 * every request with a success or a 503 `temporarily_unavailable`, never a hang; it recovers without a restart; and
 * afterwards every token it answered 200 is valid and nothing is half-written.
 *
 * Three faults, one after the other under one steady load: the server frozen (SIGSTOP to the postmaster and its
 * backends: nothing answers, nothing is refused, as behind a cut cable), stopped with `pg_ctl stop -m fast` (sessions
 * terminated, 57P01, then connections refused) and with `-m immediate` (a crash: crash recovery on restart, 57P03
 * meanwhile). A COMMIT whose answer is lost (the server froze or died after receiving it) is answered 503 though it
 * may take effect: see `support.ts` for how the load and the checks account for it.
 *
 * The test stops and starts its server, so it runs a throwaway cluster of its own (the one every other test file
 * shares must stay up). Linux only: it finds the backends in /proc.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/cli.js'
import { PostgresStore } from '../../../src/store/postgres/index.js'
import { startThrowawayCluster, type Cluster } from '../../support/postgres-global-setup.js'
import {
  expectOnlySuccessesAndUnavailable,
  expectTokensUsable,
  expectWholeData,
  KINDS,
  Load,
  recoveryTimes,
  seedStore,
  serve,
  serverFaults,
  sleep,
  summarize,
  type CodeRow,
  type Outage,
  type RunningServer,
  type Seed,
  type TokenRow,
} from './support.js'

/**
 * The server's store is opened as `oauthkit serve` opens it, with shorter timeouts so that a frozen server outlasts
 * them quickly: a new connection may take 1 s, a statement's answer 1.5 s.
 */
const CONNECTION_TIMEOUT_MS = 1000
const QUERY_TIMEOUT_MS = 1500
/**
 * A request without an answer after this long is a hang. A request fails at the first statement that times out (the
 * rate limiter's lookup answers 503 at once when the database cannot be reached), so one query timeout is the bound
 * in principle; twice that plus a margin keeps a loaded 2-core machine from reading slowness as a hang.
 */
const REQUEST_TIMEOUT_MS = 2 * QUERY_TIMEOUT_MS + 2000
/** How long `PostgresStore` waits for a statement's answer when not told. */
const DEFAULT_QUERY_TIMEOUT_MS = 5000

let cluster: Cluster
let server: RunningServer
let seed: Seed
let load: Load | undefined
const outages: Outage[] = []

beforeAll(async () => {
  cluster = await startThrowawayCluster()
  // The throwaway cluster acknowledges commits before their WAL is written (synchronous_commit off, for speed): a
  // crash (`-m immediate`) would then lose acknowledged commits, as it would on any server so configured. PostgreSQL's
  // default, on, is what this test is about.
  const admin = new pg.Client({ connectionString: cluster.url })
  await admin.connect()
  try {
    await admin.query('ALTER SYSTEM SET synchronous_commit = on')
    await admin.query('SELECT pg_reload_conf()')
  } finally {
    await admin.end()
  }
  const store = await PostgresStore.open({ connectionString: cluster.url, connectionTimeoutMillis: CONNECTION_TIMEOUT_MS, query_timeout: QUERY_TIMEOUT_MS })
  seed = await seedStore(store, 2000)
  server = await serve(store)
}, 60_000)

afterAll(async () => {
  await load?.stop()
  await server?.close()
  await cluster?.stop()
}, 60_000)

describe('PostgreSQL stopped and restarted under load', () => {
  it('answers every request with a success or 503 temporarily_unavailable, never a hang, and recovers without a restart', async () => {
    const running = await Load.start(server.url, seed, { requestTimeoutMs: REQUEST_TIMEOUT_MS })
    load = running
    await running.until('successes of every kind before the fault', () => KINDS.every((kind) => running.count('success', 0, [kind]) >= 3))
    {
      // Frozen (SIGSTOP): the kernel still accepts connections, nothing answers, as with a server cut off without a
      // reset. It lasts longer than a request may take, so a request waiting for it would be a hang. Beside the load,
      // a store opened exactly as `serve` opens it (no timeout given) must give up on its own, by its default.
      const cliStore = await openStore(cluster.url)
      try {
        await cliStore.clients.list()
        const pids = clusterProcesses()
        const began = performance.now()
        let frozenCall: unknown = 'no answer yet'
        let beforeResuming: unknown
        // Never leave the cluster frozen, even when the run is cut short: it could not be stopped then. First of the
        // exit handlers, before the one that stops the cluster.
        const resume = () => signal([...pids].reverse(), 'SIGCONT')
        process.prependOnceListener('exit', resume)
        try {
          signal(pids, 'SIGSTOP')
          void cliStore.clients.list().then(
            () => (frozenCall = 'answered'),
            (error: unknown) => (frozenCall = error),
          )
          await sleep(Math.max(REQUEST_TIMEOUT_MS, DEFAULT_QUERY_TIMEOUT_MS) + 2000)
          await running.until('503s of every kind while PostgreSQL is frozen', () => KINDS.every((kind) => running.count('unavailable', began, [kind]) >= 1))
          beforeResuming = frozenCall
        } finally {
          resume()
          process.removeListener('exit', resume)
        }
        const ended = performance.now()
        outages.push({ name: 'SIGSTOP', began, ended })
        expect(beforeResuming).toBeInstanceOf(Error)
        expect(cliStore.isUnavailableError(beforeResuming)).toBe(true)
        await running.until('successes of every kind after PostgreSQL resumed', () => KINDS.every((kind) => running.count('success', ended, [kind]) >= 3))
      } finally {
        await cliStore.close()
      }
    }
    for (const mode of ['fast', 'immediate'] as const) {
      const began = performance.now()
      await cluster.stopServer(mode)
      const stopped = performance.now()
      // Keep loading while it is down, until every kind of request was refused with a 503 at least once.
      await sleep(1500)
      await running.until(`503s of every kind while PostgreSQL is stopped (-m ${mode})`, () => KINDS.every((kind) => running.count('unavailable', stopped, [kind]) >= 1))
      await cluster.startServer()
      const ended = performance.now()
      outages.push({ name: `pg_ctl stop -m ${mode}`, began, ended })
      await running.until(`successes of every kind after PostgreSQL restarted (-m ${mode})`, () => KINDS.every((kind) => running.count('success', ended, [kind]) >= 3))
    }
    await running.stop()
    console.log(
      `PostgreSQL faults: ${summarize(running)}; ` +
        outages.map((outage) => `${outage.name}: down ${Math.round(outage.ended - outage.began)} ms, first success after it was back ${JSON.stringify(recoveryTimes(running, outage))} ms`).join('; '),
    )
    expectOnlySuccessesAndUnavailable(running)
    expect(serverFaults(server)).toEqual([])
  }, 90_000)

  it('leaves every token answered 200 valid, no code redeemed twice, and nothing half-written', async () => {
    if (load === undefined) throw new Error('the load test did not run')
    await load.stop()
    const client = new pg.Client({ connectionString: cluster.url })
    await client.connect()
    try {
      const tokens = (await client.query<TokenRow>('SELECT token_hash, type, grant_id, revoked_at, rotated_at FROM tokens')).rows
      const codes = (await client.query<CodeRow>('SELECT code_hash, grant_id, consumed_at FROM codes')).rows
      const { committedDespite503 } = expectWholeData(load, tokens, codes)
      console.log(`PostgreSQL faults: ${tokens.length} tokens and ${codes.length} codes checked; ${committedDespite503} commits answered 503 found whole`)
    } finally {
      await client.end()
    }
    await expectTokensUsable(load)
  }, 60_000)
})

/** Signals each process; one that has ended meanwhile (a backend whose connection closed) is skipped. */
function signal(pids: readonly number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
}

/** The postmaster and its children, postmaster first (stopped first, it starts no new backend meanwhile). */
function clusterProcesses(): number[] {
  const postmaster = Number(readFileSync(join(cluster.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0])
  const children = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster
      } catch {
        return false
      }
    })
    .map(Number)
  return [postmaster, ...children]
}
