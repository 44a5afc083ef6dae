/**
 * What the end-to-end tests share: the `oauthkit` command run as a user runs it (`node dist/bin.js …`, built by
 * `npm test`), a callback server standing in for the client's redirect URI, and headless Chromium.
 *
 * Every server listens on 127.0.0.1 port 0 and every database lives in a temporary directory of its own, so the e2e
 * files run in parallel with each other and with the rest of the suite.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'

export const repoRoot = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const bin = join(repoRoot, 'dist', 'bin.js')

/** Where the screenshots of the pages are kept (ignored by git). */
export const artifactsDir = join(repoRoot, 'test-results', 'e2e')

/** A temporary directory, and the function that removes it. */
export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `oauthkit-e2e-${prefix}-`))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** How a process ended, and everything it printed. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (killed after `timeoutMs`, default 30 s). */
export function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd ?? repoRoot, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

function checkBuilt(): void {
  if (!existsSync(bin)) throw new Error('dist/bin.js is missing: run `npm run build` (npm test does)')
}

/** Runs `oauthkit ARGS --db DB --json` and returns its parsed output; fails unless it exits 0. */
export async function cliJson<T = Record<string, unknown>>(db: string, args: readonly string[]): Promise<T> {
  checkBuilt()
  const result = await run(process.execPath, [bin, ...args, '--db', db, '--json'])
  if (result.code !== 0) throw new Error(`oauthkit ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`)
  return JSON.parse(result.stdout) as T
}

/** A user added with `oauthkit users add`. */
export interface AddedUser {
  readonly user_id: string
  readonly username: string
  readonly password: string
}

export async function addUser(db: string, username: string, password: string): Promise<AddedUser> {
  const added = await cliJson<{ user_id: string; username: string }>(db, ['users', 'add', '--username', username, '--password', password])
  return { ...added, password }
}

/** A client as `oauthkit clients add --json` prints it (RFC 7591 names). */
export interface AddedClient {
  readonly client_id: string
  readonly client_secret: string
  readonly client_name: string
  readonly redirect_uris: string[]
  readonly grant_types: string[]
  readonly scope: string
  readonly token_endpoint_auth_method: string
}

export function addClient(db: string, client: { name: string; redirectUri?: string; grantTypes: readonly string[]; scope: string }): Promise<AddedClient> {
  return cliJson<AddedClient>(db, [
    'clients',
    'add',
    '--name',
    client.name,
    ...(client.redirectUri === undefined ? [] : ['--redirect-uri', client.redirectUri]),
    ...client.grantTypes.flatMap((grantType) => ['--grant-type', grantType]),
    '--scope',
    client.scope,
  ])
}

/** A server started in the foreground, as `oauthkit serve` or `npm start`. */
export interface RunningServer {
  /** Where it listens, from its "listening on" line. */
  readonly url: string
  readonly issuer: string
  /** Everything it printed so far. */
  output(): string
  /** Waits until what it printed matches `pattern` (lines after "listening on" may come in a later chunk). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>
  /**
   * Sends SIGTERM (to the whole process group when started with `group`, as a terminal or a process manager does)
   * and waits for the end.
   */
  stop(): Promise<Exit>
  /** Sends a signal to the server (or its group, as {@link RunningServer.stop} does), without waiting. */
  signal(name: NodeJS.Signals): void
  /** Resolves when the server has exited. */
  exited(): Promise<Exit>
}

const LISTENING = /^oauthkit: listening on (http:\/\/\S+), issuer (\S+)$/m

/**
 * Spawns a command that runs a server and waits for its "listening on" line. With `group`, the command gets a process
 * group of its own and {@link RunningServer.stop} signals the group (`npm start` runs the server under `sh -c`).
 */
export function spawnServer(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; group?: boolean; timeoutMs?: number } = {}): Promise<RunningServer> {
  const child: ChildProcess = spawn(command, [...args], {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  const signal = (name: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    try {
      if (options.group === true) process.kill(-child.pid, name)
      else child.kill(name)
    } catch {
      // already gone
    }
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal('SIGKILL')
      reject(new Error(`no "listening on" line within ${options.timeoutMs ?? 15_000} ms:\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 15_000)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    void exited.then(({ code, signal: killedBy }) => {
      clearTimeout(timer)
      reject(new Error(`${command} ${args.join(' ')} exited (${String(code ?? killedBy)}) before listening:\n${stdout}\n${stderr}`))
    })
    const onData = () => {
      const match = LISTENING.exec(stdout)
      if (match === null) return
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      resolve({
        url: match[1] as string,
        issuer: match[2] as string,
        output: () => stdout + stderr,
        async waitForOutput(pattern, timeoutMs = 5_000) {
          const deadline = Date.now() + timeoutMs
          while (!pattern.test(stdout + stderr)) {
            if (Date.now() > deadline) throw new Error(`no output matching ${String(pattern)} within ${timeoutMs} ms:\n${stdout}\n${stderr}`)
            await new Promise((resume) => setTimeout(resume, 25))
          }
        },
        signal,
        exited: () => exited,
        async stop() {
          signal('SIGTERM')
          const timeout = setTimeout(() => signal('SIGKILL'), 10_000)
          const exit = await exited
          clearTimeout(timeout)
          return exit
        },
      })
    }
    child.stdout?.on('data', onData)
  })
}

/**
 * `oauthkit serve --port 0 --db DB [ARGS]`, run with this Node as a user would run the package's bin, with `env` added
 * to the environment (e.g. `NODE_EXTRA_CA_CERTS`).
 */
export function startServer(db: string, args: readonly string[] = [], extraEnv: Readonly<Record<string, string>> = {}): Promise<RunningServer> {
  checkBuilt()
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OAUTHKIT_'))), ...extraEnv }
  return spawnServer(process.execPath, [bin, 'serve', '--port', '0', '--db', db, ...args], { env })
}

/** The client's redirect URI: a server on 127.0.0.1 that records each query it receives at `/callback`. */
export interface CallbackServer {
  /** `http://127.0.0.1:PORT/callback`, to register as the client's redirect URI. */
  readonly redirectUri: string
  /** Every callback received so far, oldest first. */
  readonly received: URL[]
  /** The callbacks that carried `state`, oldest first (tests that run at the same time use their own states). */
  withState(state: string): URL[]
  close(): Promise<void>
}

export async function startCallbackServer(): Promise<CallbackServer> {
  const received: URL[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (req.method === 'GET' && url.pathname === '/callback') {
      received.push(new URL(`${redirectUri}${url.search}`))
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end('<!DOCTYPE html><title>Callback</title><p>Received.</p>')
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the callback server has no port')
  const redirectUri = `http://127.0.0.1:${address.port}/callback`
  return {
    redirectUri,
    received,
    withState: (state) => received.filter((url) => url.searchParams.get('state') === state),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const CHROMIUM = '/usr/bin/chromium'

/**
 * Debian's Chromium, headless. The dead proxy keeps Chromium from calling hosts outside; loopback bypasses it.
 */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run does)`)
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--proxy-server=127.0.0.1:9',
    ],
  })
}

/** Saves a full-page screenshot under `test-results/e2e/NAME.png`. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true })
  const path = join(artifactsDir, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/** Fills the login form by its labels and clicks "Sign in". */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** An authorization request URL (code flow with PKCE S256). */
export function authorizationUrl(
  authorizationEndpoint: string,
  parameters: { clientId: string; redirectUri: string; scope: string; state: string; codeChallenge: string },
): string {
  const url = new URL(authorizationEndpoint)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: parameters.clientId,
    redirect_uri: parameters.redirectUri,
    scope: parameters.scope,
    state: parameters.state,
    code_challenge: parameters.codeChallenge,
    code_challenge_method: 'S256',
  }).toString()
  return url.href
}

/**
 * A cookie jar for plain `fetch`: keeps what `Set-Cookie` sets (name and value; removed at `Max-Age=0`) and sends it
 * back. Redirects are not followed, so each response can be checked.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>()

  async fetch(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0) headers.set('Cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '))
    if (init.form !== undefined) headers.set('Content-Type', 'application/x-www-form-urlencoded')
    const response = await fetch(url, {
      method: init.method ?? (init.form === undefined ? 'GET' : 'POST'),
      headers,
      redirect: 'manual',
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form).toString() }),
    })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      if (/;\s*Max-Age=0\b/i.test(cookie)) this.cookies.delete(name)
      else this.cookies.set(name, pair.slice(eq + 1).trim())
    }
    return response
  }
}

/** The value of a hidden form field in an HTML page. */
export function hiddenField(html: string, name: string): string | undefined {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1]
  // The pages escape every value as a numeric character reference.
  return value?.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
}
