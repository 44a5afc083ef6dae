/**
 * The SQLite file of `oauthkit serve --db sqlite:…` is locked by another process, or moved away, under load, and comes
 * back: every request is answered with a success or a 503 `temporarily_unavailable`, never a hang; the server
 * recovers without a restart; and afterwards every token it answered 200 is valid and nothing is half-written.
 *
 * What the server does, fault by fault:
 *
 * - **Locked** (another process holds the write lock, e.g. `BEGIN EXCLUSIVE` in the `sqlite3` shell): reads go on (WAL
 *   readers do not wait for the writer), so introspection keeps answering; every write fails with `SQLITE_BUSY` and is
 *   answered 503. Only the first write waits the busy timeout: the ones after it try the lock without waiting, so a
 *   lock held for long does not freeze the event loop a busy timeout per request.
 * - **Moved away or removed** (the database file, with its `-wal` and `-shm`): on Linux the open connections keep
 *   working on the files they opened, which no longer have that name, so whatever they wrote would be lost to the next
 *   start (a removed file is gone; `open` would create an empty database in its place). The store checks before each
 *   write that the file at its path is still the one it opened: reads go on, writes are answered 503
 *   (`SQLITE_READONLY_DBMOVED`), and when the same file is back at its path the server writes again. A different file
 *   put in its place (a restored copy) is not adopted: writes are refused until the server is restarted.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/cli.js'
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
  type Kind,
  type Outage,
  type RunningServer,
  type Seed,
  type TokenRow,
} from './support.js'

/** The requests that write: refused while the file is locked or away. Introspection only reads. */
const WRITES: readonly Kind[] = ['client_credentials', 'refresh_token', 'authorization_code']
const FILES = ['', '-wal', '-shm']

let directory: string
let path: string
let server: RunningServer
let seed: Seed
let load: Load | undefined
const outages: Outage[] = []

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'oauthkit-faults-sqlite-'))
  path = join(directory, 'oauthkit.db')
  // As `oauthkit serve --db sqlite:PATH` opens it.
  const store = await openStore(`sqlite:${path}`)
  seed = await seedStore(store, 2000)
  server = await serve(store)
}, 60_000)

afterAll(async () => {
  await load?.stop()
  await server?.close()
  rmSync(directory, { recursive: true, force: true })
}, 60_000)

describe('SQLite file locked, moved away and back, under load', () => {
  it('answers every request with a success or 503 temporarily_unavailable, never a hang, and recovers without a restart', async () => {
    const running = await Load.start(server.url, seed)
    load = running
    await running.until('successes of every kind before the fault', () => KINDS.every((kind) => running.count('success', 0, [kind]) >= 3))

    // Another process takes the write lock and keeps it, far beyond the busy timeout.
    {
      const locker = await lockInAnotherProcess(path)
      const began = performance.now()
      try {
        await sleep(1500)
        await running.until('503s of every writing kind while the file is locked', () => WRITES.every((kind) => running.count('unavailable', began, [kind]) >= 3))
        await running.until('introspection answered while the file is locked', () => running.count('success', began, ['introspection']) >= 3)
      } finally {
        await locker.release()
      }
      const ended = performance.now()
      outages.push({ name: 'locked', began, ended })
      await running.until('successes of every kind after the lock was released', () => KINDS.every((kind) => running.count('success', ended, [kind]) >= 3))
    }

    // The file and its -wal and -shm are moved away (renamed), then back.
    {
      const began = performance.now()
      const moved = moveAway(path)
      try {
        await sleep(1500)
        await running.until('503s of every writing kind while the file is away', () => WRITES.every((kind) => running.count('unavailable', began, [kind]) >= 3))
        await running.until('introspection answered while the file is away', () => running.count('success', began, ['introspection']) >= 3)
      } finally {
        moved.back()
      }
      const ended = performance.now()
      outages.push({ name: 'moved away', began, ended })
      await running.until('successes of every kind after the file came back', () => KINDS.every((kind) => running.count('success', ended, [kind]) >= 3))
    }
    await running.stop()
    console.log(
      `SQLite faults: ${summarize(running)}; ` +
        outages.map((outage) => `${outage.name}: ${Math.round(outage.ended - outage.began)} ms, first success after ${JSON.stringify(recoveryTimes(running, outage))} ms`).join('; '),
    )
    expectOnlySuccessesAndUnavailable(running)
    expect(serverFaults(server)).toEqual([])
  }, 90_000)

  it('leaves every token answered 200 valid, no code redeemed twice, and nothing half-written', async () => {
    if (load === undefined) throw new Error('the load test did not run')
    await load.stop()
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      const tokens = db.prepare('SELECT token_hash, type, grant_id, revoked_at, rotated_at FROM tokens').all() as TokenRow[]
      const codes = db.prepare('SELECT code_hash, grant_id, consumed_at FROM codes').all() as CodeRow[]
      const { committedDespite503 } = expectWholeData(load, tokens, codes)
      console.log(`SQLite faults: ${tokens.length} tokens and ${codes.length} codes checked; ${committedDespite503} commits answered 503 found whole`)
    } finally {
      db.close()
    }
    await expectTokensUsable(load)
  }, 60_000)

  it('refuses to write into a file that was removed for good, rather than answer 200 for tokens the next start would not know', async () => {
    if (load === undefined) throw new Error('the load test did not run')
    for (const suffix of FILES) if (existsSync(path + suffix)) unlinkSync(path + suffix)
    const token = await load.post('/token', { grant_type: 'client_credentials' })
    expect({ status: token.status, error: token.body?.['error'] }).toEqual({ status: 503, error: 'temporarily_unavailable' })
    // What was written before is still read from the open file, while the server runs.
    const introspection = await load.post('/introspect', { token: load.clientCredentialsTokens.at(-1) ?? '' })
    expect({ status: introspection.status, active: introspection.body?.['active'] }).toEqual({ status: 200, active: true })
  })
})

/** Renames the database file, its `-wal` and its `-shm`; `back` renames them back. */
function moveAway(file: string): { back: () => void } {
  const moved = FILES.filter((suffix) => existsSync(file + suffix))
  for (const suffix of moved) renameSync(file + suffix, `${file}${suffix}.away`)
  return { back: () => moved.forEach((suffix) => renameSync(`${file}${suffix}.away`, file + suffix)) }
}

/** Another process that opens the file and holds its write lock (`BEGIN EXCLUSIVE`) until `release`. */
async function lockInAnotherProcess(file: string): Promise<{ release: () => Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3')
    const db = new Database(process.env.LOCK_FILE, { timeout: 5000 })
    db.exec('BEGIN EXCLUSIVE')
    process.stdout.write('locked\\n')
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); process.exit(0) })
    process.stdin.resume()
  `
  const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, LOCK_FILE: file }, stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('locked') && resolve())
    void exited.then((code) => reject(new Error(`the locking process exited (${String(code)}) before it held the lock`)))
  })
  return {
    release: async () => {
      child.stdin.end()
      expect(await exited).toBe(0)
    },
  }
}
