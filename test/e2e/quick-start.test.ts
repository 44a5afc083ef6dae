/**
 * The README's quick start on a fresh copy of the repository (a `git clone` of HEAD into a temporary directory), run
 * as a user runs it: the install command exactly as written, then `npm start` on a free port, then the package's own
 * bin through `npx`. Slow: `npm ci` compiles better-sqlite3 (about two minutes).
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, run, spawnServer, tempDir, type Exit } from './support.js'

/** The commands of the first ```sh block under '## Quick start', comments dropped, `a && b` split. */
function quickStartCommands(readme: string): string[] {
  const section = readme.split(/^## /m).find((text) => text.startsWith('Quick start\n'))
  const block = section === undefined ? null : /^```sh\n([\s\S]*?)^```$/m.exec(section)
  if (block?.[1] === undefined) throw new Error("README.md has no ```sh block under '## Quick start'")
  return block[1]
    .split('\n')
    .map((line) => line.replace(/\s#.*$/, '').trim())
    .flatMap((line) => line.split('&&').map((command) => command.trim()))
    .filter((command) => command !== '')
}

/**
 * The environment of a fresh shell: without what `npm test` and vitest add (npm_* variables, node_modules/.bin on the
 * PATH, NODE_ENV) and without OAUTHKIT_* settings, so that the copy runs on its own.
 */
function freshShellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('npm_') || name.startsWith('OAUTHKIT_') || name.startsWith('VITEST') || ['NODE_ENV', 'INIT_CWD', 'NODE_OPTIONS'].includes(name)) continue
    env[name] = value
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => !/node_modules[\\/]\.bin$|node-gyp-bin$/.test(dir))
    .join(delimiter)
  return env
}

describe('the README quick start on a fresh clone', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let checkout: string
  let commands: string[]
  const env = freshShellEnv()

  beforeAll(async () => {
    dir = await tempDir('quick-start')
    checkout = join(dir.path, 'oauthkit')
    // HEAD of this repository: what a user who clones it gets (uncommitted changes are not part of it).
    const cloned = await run('git', ['clone', '--quiet', repoRoot, checkout], { env, timeoutMs: 60_000 })
    expect(cloned.code, cloned.stderr).toBe(0)
    // The README of the copy: the quick start the user reads is the one that ships with what they cloned.
    commands = quickStartCommands(await readFile(join(checkout, 'README.md'), 'utf8'))
  }, 90_000)

  afterAll(async () => {
    await dir?.remove()
  }, 60_000)

  it('starts with the install command, then npm start (issue 6: `npm ci && npm start`)', () => {
    expect(commands[0]).toBe('npm ci')
    expect(commands).toContain('npm start')
  })

  it('installs with the install command exactly as written, which also builds dist/', async () => {
    const install = commands[0] as string
    const result = await run('sh', ['-c', install], { cwd: checkout, env, timeoutMs: 360_000 })
    expect(result.code, `${install}:\n${result.stdout}\n${result.stderr}`).toBe(0)
    expect(existsSync(join(checkout, 'dist', 'bin.js'))).toBe(true)
    expect(existsSync(join(checkout, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true)
  }, 420_000)

  it('npm start serves on a free port: /healthz and the metadata answer, and SIGTERM stops it', async () => {
    expect(existsSync(join(checkout, 'dist', 'bin.js')), 'needs the install above').toBe(true)
    // OAUTHKIT_PORT=0: a free port, so that the test never fights over 3000. The data goes where the README says.
    const server = await spawnServer('npm', ['start'], { cwd: checkout, env: { ...env, OAUTHKIT_PORT: '0' }, group: true, timeoutMs: 30_000 })
    let exit: Exit
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(server.issuer).toBe(server.url)
      // issue 6: npm start prints where it listens, where the data lives, and the next step.
      await server.waitForOutput(/^oauthkit: next, add a user and a client:\n.*users add.*\n.*clients add/m)
      expect(server.output()).toMatch(/^oauthkit: data in SQLite \.\/oauthkit\.db$/m)

      const health = await fetch(`${server.url}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ status: 'ok' })
      const metadata = await fetch(`${server.url}/.well-known/oauth-authorization-server`)
      expect(metadata.status).toBe(200)
      expect(await metadata.json()).toMatchObject({
        issuer: server.issuer,
        authorization_endpoint: `${server.issuer}/authorize`,
        token_endpoint: `${server.issuer}/token`,
      })
      expect(existsSync(join(checkout, 'oauthkit.db'))).toBe(true)
    } finally {
      // SIGTERM to the process group, as a process manager does: npm runs the server under `sh -c`, which would not
      // pass a signal sent to npm alone on to it. npm's own exit status then reports the signal that ended `sh`.
      exit = await server.stop()
    }
    expect(exit.stdout).toContain('oauthkit: shutting down')
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow()
  }, 60_000)

  it("npx oauthkit --help, the package's own bin, exits 0", async () => {
    expect(existsSync(join(checkout, 'dist', 'bin.js')), 'needs the install above').toBe(true)
    const result = await run('npx', ['oauthkit', '--help'], { cwd: checkout, env, timeoutMs: 60_000 })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('Usage: oauthkit <command> [options]')
    const serveHelp = await run('npx', ['oauthkit', 'serve', '--help'], { cwd: checkout, env, timeoutMs: 60_000 })
    expect(serveHelp.code, serveHelp.stderr).toBe(0)
    expect(serveHelp.stdout).toContain('--port N')
  }, 120_000)
})
