/**
 * A PostgreSQL server for the PostgreSQL-store cases, as the tests get one (test/support/postgres-global-setup.ts):
 * `DATABASE_URL` when set; otherwise a throwaway cluster from the machine's binaries (`initdb`, `pg_ctl` on the PATH
 * or in /usr/lib/postgresql/N/bin) in a temporary directory, trust authentication, loopback only, fsync off, run as
 * `postgres` (or `nobody`) when we are root. The throwaway cluster is pinned to the server core: the database is part
 * of the server under test. Its CPU time is read from /proc, so that a case can report it beside the Node process's.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

const HOW_TO =
  'The PostgreSQL cases need a server: set DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE (a user that may create ' +
  'schemas), or install the PostgreSQL server binaries (initdb, pg_ctl), or leave them out with --only.'

/** @returns {{ url: string, pinned: boolean, cpuMicros: () => number | undefined, stop: () => Promise<void> }} */
export async function startPostgres({ core }) {
  const given = process.env.DATABASE_URL
  if (given !== undefined && given !== '') {
    await checkConnection(given)
    return { url: given, pinned: false, cpuMicros: () => undefined, stop: async () => {} }
  }
  const binaries = findBinaries()
  if (binaries === undefined) throw new Error(`DATABASE_URL is not set and no PostgreSQL binaries were found. ${HOW_TO}`)
  const owner = unprivilegedOwner()
  const directory = await mkdtemp(join(tmpdir(), 'oauthkit-bench-pg-'))
  const data = join(directory, 'data')
  const run = (program, args) => runAs(owner, join(binaries, program), args, directory, core)
  if (owner !== undefined) await chown(directory, owner.uid, owner.gid)
  await run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'])
  await appendFile(
    join(data, 'postgresql.conf'),
    ["", "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${directory}'`, 'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 100', ''].join('\n'),
  )
  const port = await freePort()
  await run('pg_ctl', ['-D', data, '-l', join(directory, 'postgres.log'), '-o', `-p ${port}`, '-w', '-t', '60', 'start'])
  const stopNow = () => spawnSync(...command(owner, join(binaries, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']), { cwd: directory, stdio: 'ignore' })
  process.once('exit', stopNow)
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
  await checkConnection(url)
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
  return {
    url,
    pinned: true,
    cpuMicros: () => clusterCpuMicros(postmaster),
    stop: async () => {
      process.removeListener('exit', stopNow)
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await rm(directory, { recursive: true, force: true })
    },
  }
}

/** Drops a case's schema. */
export async function dropSchema(url, schema) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** User + system CPU time of the postmaster and its children (the backends), in microseconds. */
function clusterCpuMicros(postmaster) {
  let ticks = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the command name (which may hold spaces): state ppid … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pid = Number(name)
    if (pid !== postmaster && Number(fields[1]) !== postmaster) continue
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return (ticks / TICKS_PER_SECOND) * 1e6
}

async function checkConnection(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(`Cannot connect to PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} (${String(error)}). ${HOW_TO}`, { cause: error })
  } finally {
    await client.end().catch(() => {})
  }
}

function findBinaries() {
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((name) => /^\d+(\.\d+)?$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join(debian, version, 'bin'))
    : []
  const path = (process.env.PATH ?? '').split(':').filter((dir) => dir !== '')
  return [...path, ...versions, '/usr/local/pgsql/bin'].find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
}

function unprivilegedOwner() {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  throw new Error('Running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as.')
}

function command(owner, program, args) {
  if (owner === undefined) return [program, [...args]]
  const onPath = (name) => (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)))
  if (onPath('runuser')) return ['runuser', ['-u', owner.name, '--', program, ...args]]
  const quoted = [program, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ')
  return ['su', ['-s', '/bin/sh', owner.name, '-c', quoted]]
}

/** Runs a PostgreSQL program as `owner`, pinned to `core` (the server it starts inherits the affinity). */
function runAs(owner, program, args, cwd, core) {
  const [file, argv] = command(owner, program, args)
  return new Promise((resolve, reject) => {
    execFile('taskset', ['-c', String(core), file, ...argv], { cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error === null) resolve()
      else reject(new Error(`${file} ${argv.join(' ')} failed: ${error.message}\n${stdout}${stderr}`, { cause: error }))
    })
  })
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
