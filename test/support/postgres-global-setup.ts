/**
 * Vitest global setup: a PostgreSQL server for the store tests, found or started once per run.
 *
 * - `DATABASE_URL` set: that server is used (checked first). Its user must be allowed to create schemas and databases.
 * - Otherwise a throwaway cluster is made from the machine's PostgreSQL binaries (`initdb`, `pg_ctl`): in a temporary
 *   directory, trust authentication, listening on a free loopback port and a socket in that directory only, fsync off.
 *   Run as root, it runs as the `postgres` user (or `nobody`), since PostgreSQL refuses to run as root. It is stopped
 *   and deleted when the run ends.
 * - Neither possible: the run fails, saying how to provide a server. PostgreSQL tests are never skipped.
 *
 * Tests read the connection string with `inject('databaseUrl')`, and keep to a schema (or database) of their own.
 */
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { appendFile, chown, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL connection string whose user may create schemas and databases. */
    databaseUrl: string
  }
}

const HOW_TO = [
  'The PostgreSQL store tests need a PostgreSQL server they can reach; they are never skipped. Either',
  '  - set DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE (a user that may create schemas and databases), or',
  '  - install the PostgreSQL server binaries (initdb, pg_ctl; e.g. `apt-get install postgresql`), from which the tests',
  '    start a throwaway cluster themselves.',
  'See DEVELOPERS.md.',
].join('\n')

/** Finds or starts the server, provides its URL, and returns the teardown that stops a cluster it started. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env['DATABASE_URL']
  if (given !== undefined && given !== '') {
    await checkConnection(given, 'DATABASE_URL')
    project.provide('databaseUrl', given)
    return undefined
  }
  const cluster = await startThrowawayCluster()
  project.provide('databaseUrl', cluster.url)
  return cluster.stop
}

async function checkConnection(url: string, source: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    throw new Error(`Cannot connect to the PostgreSQL server of ${source} (${String(error)}).\n${HOW_TO}`, { cause: error })
  } finally {
    await client.end().catch(() => {})
  }
}

/** A throwaway PostgreSQL cluster started by {@link startThrowawayCluster}. */
export interface Cluster {
  readonly url: string
  /** Stops the server and deletes the cluster. */
  readonly stop: () => Promise<void>
  /** Stops the server (`pg_ctl stop -m MODE`) and keeps the cluster, for {@link Cluster.startServer} to bring back. */
  readonly stopServer: (mode: 'smart' | 'fast' | 'immediate') => Promise<void>
  /** Starts the server again on the same port (after a crash, PostgreSQL recovers first) and waits until it is up. */
  readonly startServer: () => Promise<void>
  /** The cluster's data directory (where `postmaster.pid` is). */
  readonly dataDirectory: string
}

/**
 * Starts a throwaway cluster from the machine's PostgreSQL binaries (see the module's comment). Exported for tests
 * that must stop and start a server of their own, which they cannot do to the one every test file shares.
 */
export async function startThrowawayCluster(): Promise<Cluster> {
  const binaries = findBinaries()
  if (binaries === undefined) throw new Error(`DATABASE_URL is not set, and no PostgreSQL binaries (initdb, pg_ctl) were found.\n${HOW_TO}`)
  const owner = unprivilegedOwner()
  const directory = await mkdtemp(join(tmpdir(), 'oauthkit-pg-'))
  const data = join(directory, 'data')
  const log = join(directory, 'postgres.log')
  const run = (command: string, args: readonly string[]) => runAs(owner, join(binaries, command), args, directory)
  const remove = () => rm(directory, { recursive: true, force: true })
  try {
    if (owner !== undefined) await chown(directory, owner.uid, owner.gid)
    await run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'])
    // Loopback and a socket in our directory only; durability is worthless for a cluster deleted at the end.
    await appendFile(
      join(data, 'postgresql.conf'),
      [
        '',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${directory}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 300',
        '',
      ].join('\n'),
    )
  } catch (error) {
    await remove()
    throw new Error(`Could not create a throwaway PostgreSQL cluster with ${binaries}/initdb: ${String(error)}\n${HOW_TO}`, { cause: error })
  }

  let lastError: unknown
  // A free port may be taken between finding it and binding it: try another.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const startServer = () => run('pg_ctl', ['-D', data, '-l', log, '-o', `-p ${port}`, '-w', '-t', '60', 'start'])
    try {
      await startServer()
    } catch (error) {
      lastError = error
      continue
    }
    const stopNow = () => spawnSync(...command(owner, join(binaries, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']), { cwd: directory, stdio: 'ignore' })
    // Should the run end without the teardown (a crash), do not leave the server behind.
    process.once('exit', stopNow)
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`
    const stop = async () => {
      process.removeListener('exit', stopNow)
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {})
      await remove()
    }
    const stopServer = (mode: 'smart' | 'fast' | 'immediate') => run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])
    try {
      await checkConnection(url, 'the throwaway cluster')
    } catch (error) {
      await stop()
      throw error
    }
    return { url, stop, stopServer, startServer, dataDirectory: data }
  }
  const serverLog = await readFile(log, 'utf8').catch(() => '')
  await remove()
  throw new Error(`Could not start a throwaway PostgreSQL cluster: ${String(lastError)}\n${serverLog}\n${HOW_TO}`, { cause: lastError })
}

/** A directory holding both `initdb` and `pg_ctl`: on the PATH, else the newest of Debian's /usr/lib/postgresql/N/bin. */
function findBinaries(): string | undefined {
  const debian = '/usr/lib/postgresql'
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((name) => /^\d+(\.\d+)?$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join(debian, version, 'bin'))
    : []
  const path = (process.env['PATH'] ?? '').split(':').filter((dir) => dir !== '')
  const candidates = [...path, ...versions, '/usr/local/pgsql/bin', '/opt/homebrew/bin', '/usr/local/bin']
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')))
}

interface Owner {
  readonly name: string
  readonly uid: number
  readonly gid: number
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`, or else `nobody`. */
function unprivilegedOwner(): Owner | undefined {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' })
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' })
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  throw new Error(`Running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as.\n${HOW_TO}`)
}

/** The command line that runs `program` as `owner` (with `runuser`, else `su`), or as ourselves. */
function command(owner: Owner | undefined, program: string, args: readonly string[]): [string, string[]] {
  if (owner === undefined) return [program, [...args]]
  if (findOnPath('runuser')) return ['runuser', ['-u', owner.name, '--', program, ...args]]
  const quoted = [program, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ')
  return ['su', ['-s', '/bin/sh', owner.name, '-c', quoted]]
}

function findOnPath(program: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, program)))
}

function runAs(owner: Owner | undefined, program: string, args: readonly string[], cwd: string): Promise<void> {
  const [file, argv] = command(owner, program, args)
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error === null) resolve()
      else reject(new Error(`${file} ${argv.join(' ')} failed: ${error.message}\n${stdout}${stderr}`, { cause: error }))
    })
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
