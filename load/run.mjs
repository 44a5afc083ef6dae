#!/usr/bin/env node
/**
 * `npm run load`: the running server under mixed traffic for a bounded time (issue 8, part 4).
 *
 * Starts `oauthkit serve` as a user runs it (`node dist/bin.js serve`, a temporary SQLite database, a free loopback
 * port), seeds a confidential client and users, and drives it with keep-alive connections: client_credentials token
 * requests and introspection of issued tokens (the API connections), and the whole authorization code flow with PKCE
 * through the login and consent pages (the browser connections: /authorize, /login, /authorize, /consent, /token). A
 * warm-up comes first; memory is read after it and after the measured window. Every response is checked.
 *
 *   npm run load                                  20 s measured after 5 s of warm-up
 *   npm run load -- --duration 60 --warmup 10
 *   npm run load -- --connections 8 --flows 2     API connections, and browser connections running the code flow
 *   npm run load -- --token-format jwt            the server issues JWT access tokens
 *   npm run load -- --json FILE                   also write the report as JSON
 *   npm run load -- --no-build                    skip `npm run build` (the server runs from dist/)
 * Each numeric option can also be given as LOAD_<NAME> in the environment (LOAD_DURATION=60, LOAD_HEAP_GROWTH_MB=4).
 *
 * The bar, and the exit code (0 met, 1 missed, 2 bad usage):
 *   - zero errors: no connection error or timeout, every response with the expected status and body, no error in the
 *     server's log, and the server exits 0 on SIGTERM afterwards;
 *   - flat memory: between the end of the warm-up and the end of the run (both read with no request in flight, after a
 *     full garbage collection), the server's V8 heap plus external memory (Buffers) grew by at most --heap-growth-mb
 *     (default 8) and its RSS by at most --rss-growth-mb (default 48: each sign-in's scrypt takes 32 MiB, which the
 *     allocator may keep). A leak of 200 bytes a request shows in the heap after some 40,000 requests.
 * Memory is read over an IPC channel by load/memory-probe.mjs, which the server process preloads with --expose-gc;
 * the heap is also sampled every tenth of the run, for the trend.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Agent, request as httpRequest } from 'node:http'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const BIN = join(ROOT, 'dist', 'bin.js')
const PROBE = pathToFileURL(join(HERE, 'memory-probe.mjs')).href
const REDIRECT_URI = 'http://127.0.0.1:9/callback'
const PASSWORD = 'correct horse battery staple'
/** A request without an answer for this long is an error. */
const REQUEST_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------------------------------------------------------------
// Options

function usage(message) {
  console.error(`load: ${message} (see node load/run.mjs --help)`)
  process.exit(2)
}

let args
try {
  ;({ values: args } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      flows: { type: 'string' },
      users: { type: 'string' },
      'token-format': { type: 'string' },
      'heap-growth-mb': { type: 'string' },
      'rss-growth-mb': { type: 'string' },
      json: { type: 'string' },
      'no-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }))
} catch (error) {
  usage(error.message)
}
if (args.help) {
  const header = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n */')[0]
  console.log(header.split('\n').slice(2).map((line) => line.replace(/^ \* ?/, '')).join('\n'))
  process.exit(0)
}

function number(name, fallback, { integer = false, min = 0 } = {}) {
  const text = args[name] ?? process.env[`LOAD_${name.toUpperCase().replace(/-/g, '_')}`] ?? String(fallback)
  const value = Number(text)
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) usage(`--${name} must be a number ≥ ${min}, got ${text}`)
  return value
}

const settings = {
  duration_s: number('duration', 20, { min: 1 }),
  warmup_s: number('warmup', 5, { min: 0 }),
  connections: number('connections', 8, { integer: true, min: 1 }),
  flows: number('flows', 2, { integer: true, min: 0 }),
  users: number('users', 2000, { integer: true, min: 1 }),
  token_format: args['token-format'] ?? 'opaque',
  heap_growth_mb: number('heap-growth-mb', 8),
  rss_growth_mb: number('rss-growth-mb', 48),
}
if (!['opaque', 'jwt'].includes(settings.token_format)) usage(`--token-format must be opaque or jwt, got ${settings.token_format}`)

// ---------------------------------------------------------------------------------------------------------------------
// Main

async function main() {
  if (!args['no-build']) {
    console.log('load: npm run build')
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
    if (build.status !== 0) {
      console.error('load: npm run build failed')
      process.exit(1)
    }
  }
  const workdir = await mkdtemp(join(os.tmpdir(), 'oauthkit-load-'))
  let server
  try {
    const db = `sqlite:${join(workdir, 'oauthkit.db')}`
    const seeded = await seed(join(workdir, 'oauthkit.db'))
    server = await startServer(db)
    console.log(
      `load: oauthkit serve (pid ${server.pid}, ${settings.token_format} tokens, SQLite) at ${server.url}; ` +
        `${settings.connections} API connections, ${settings.flows} browser connections; ${settings.warmup_s} s warm-up, ${settings.duration_s} s measured`,
    )
    const traffic = new Traffic(server.url, seeded)
    // Checked like the run, but not measured: JIT, caches, SQLite's pages, scrypt's buffers settle here.
    const warmup = settings.warmup_s > 0 ? await traffic.run(settings.warmup_s) : undefined
    const before = await server.memory()
    const rssSamples = []
    const sampler = setInterval(() => {
      const rss = procRss(server.pid)
      if (rss !== undefined) rssSamples.push(rss)
    }, 500)
    // The heap after GC every tenth of the run, for the trend; the bar compares the quiet ends of the run.
    const samples = [{ at_s: 0, ...before }]
    const runStarted = performance.now()
    const every = (settings.duration_s * 1000) / 10
    let sampling = Promise.resolve()
    const memorySampler = setInterval(() => {
      sampling = sampling.then(async () => samples.push({ at_s: round((performance.now() - runStarted) / 1000, 1), ...(await server.memory()) }))
    }, every)
    const measured = await traffic.run(settings.duration_s)
    clearInterval(memorySampler)
    await sampling
    clearInterval(sampler)
    const after = await server.memory()
    samples.push({ at_s: round((performance.now() - runStarted) / 1000, 1), ...after })
    const exit = await server.stop()
    const report = buildReport({ measured, warmup, samples, rssSamples, exit, server })
    console.log(renderReport(report))
    if (args.json !== undefined) await writeFile(args.json, JSON.stringify(report, null, 2) + '\n')
    process.exitCode = report.bar.met ? 0 : 1
  } finally {
    await server?.kill()
    await rm(workdir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Data: a client and many users, written before the server starts (as `oauthkit clients add` and `users add` would)

async function seed(path) {
  const { SqliteStore } = await import('oauthkit/store/sqlite')
  const { hashPassword } = await import('oauthkit/store')
  const store = await SqliteStore.open(path)
  try {
    const { clientId, clientSecret } = await store.clients.create({
      name: 'Load',
      redirectUris: [REDIRECT_URI],
      grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
      scopes: ['read', 'write'],
    })
    // One scrypt hash for every user: the server verifies it on each sign-in all the same.
    const passwordHash = await hashPassword(PASSWORD)
    const createdAt = Math.floor(Date.now() / 1000)
    const usernames = []
    for (let i = 0; i < settings.users; i++) {
      const username = `user${i}`
      await store.userTable.insert({ userId: randomUUID(), username, passwordHash, createdAt })
      usernames.push(username)
    }
    return { clientId, clientSecret, usernames }
  } finally {
    await store.close()
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// The server process

function startServer(db) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OAUTHKIT_')))
  const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, BIN, 'serve', '--port', '0', '--db', db, '--token-format', settings.token_format], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let head = ''
  let stderr = ''
  const serverErrors = []
  let partial = ''
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    if (head.length < 4096) head += chunk
    // One JSON line per request; an error entry anywhere is an error of the run.
    const lines = (partial + chunk).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) {
      if (line.includes('"level":"error"') && serverErrors.length < 20) serverErrors.push(line)
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-20_000)
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const pending = []
  child.on('message', (message) => {
    if (message?.type === 'memory') pending.shift()?.(message)
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 30 s:\n${head}\n${stderr}`)), 30_000)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${head}\n${stderr}`))
    })
    const onData = () => {
      const match = /^oauthkit: listening on (http:\/\/\S+), issuer/m.exec(head)
      if (match === null) return
      clearTimeout(timer)
      child.stdout.off('data', onData)
      resolve({
        pid: child.pid,
        url: match[1],
        serverErrors,
        stderr: () => stderr,
        memory: () =>
          new Promise((answer, fail) => {
            const timeout = setTimeout(() => fail(new Error('the server did not report its memory')), 10_000)
            pending.push((message) => {
              clearTimeout(timeout)
              const rss = procRss(child.pid)
              answer({ ...message.usage, vmRss: rss, collected: message.collected })
            })
            child.send({ type: 'memory' })
          }),
        async stop() {
          child.kill('SIGTERM')
          const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000)
          const exit = await exited
          clearTimeout(timeout)
          return exit
        },
        async kill() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGKILL')
            await exited
          }
        },
      })
    }
    child.stdout.on('data', onData)
  })
}

/** The resident set size of a process, in bytes, from /proc (Linux); `undefined` elsewhere. */
function procRss(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Traffic

/** What one phase (warm-up or measured run) recorded. */
class Tally {
  constructor() {
    this.started = performance.now()
    this.ended = this.started
    /** Latencies in ms, per operation. */
    this.latencies = new Map()
    this.statuses = new Map()
    this.errors = []
    this.errorCount = 0
    this.flows = 0
    this.flowsWithConsent = 0
  }

  record(operation, ms, status) {
    let list = this.latencies.get(operation)
    if (list === undefined) this.latencies.set(operation, (list = []))
    list.push(ms)
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
  }

  fail(message) {
    this.errorCount++
    if (this.errors.length < 20) this.errors.push(message)
  }
}

class Traffic {
  constructor(base, seeded) {
    this.base = new URL(base)
    this.seeded = seeded
    this.basic = `Basic ${Buffer.from(`${encodeURIComponent(seeded.clientId)}:${encodeURIComponent(seeded.clientSecret)}`).toString('base64')}`
    /** Recently issued access tokens, introspected by the API connections. */
    this.tokens = []
    this.nextUser = 0
  }

  /** Runs every connection for `seconds`. */
  async run(seconds) {
    const tally = new Tally()
    const deadline = performance.now() + seconds * 1000
    const workers = []
    for (let i = 0; i < settings.connections; i++) workers.push(this.apiConnection(tally, deadline))
    for (let i = 0; i < settings.flows; i++) workers.push(this.browserConnection(tally, deadline))
    await Promise.all(workers)
    tally.ended = performance.now()
    return tally
  }

  /** One keep-alive connection: client_credentials token requests and introspection, half and half. */
  async apiConnection(tally, deadline) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      while (performance.now() < deadline) {
        if (this.tokens.length === 0 || Math.random() < 0.5) await this.clientCredentials(agent, tally)
        else await this.introspect(agent, tally)
      }
    } finally {
      agent.destroy()
    }
  }

  async clientCredentials(agent, tally) {
    const answer = await this.send(agent, tally, 'token', '/token', { form: { grant_type: 'client_credentials', scope: 'read' }, authorization: this.basic })
    if (answer === undefined) return
    const problem = checkTokenResponse(answer, 200)
    if (problem !== undefined) return tally.fail(`token: ${problem}`)
    this.keep(JSON.parse(answer.body).access_token)
  }

  async introspect(agent, tally) {
    const { token, clientOnly } = this.tokens[Math.floor(Math.random() * this.tokens.length)]
    const answer = await this.send(agent, tally, 'introspect', '/introspect', { form: { token }, authorization: this.basic })
    if (answer === undefined) return
    if (answer.status !== 200) return tally.fail(`introspect: HTTP ${answer.status} ${answer.body.slice(0, 200)}`)
    const json = parse(answer.body)
    if (json?.active !== true || json.client_id !== this.seeded.clientId || typeof json.scope !== 'string') {
      return tally.fail(`introspect: not an active token of the client: ${answer.body.slice(0, 200)}`)
    }
    if (!clientOnly && typeof json.username !== 'string') tally.fail(`introspect: no username for a code-flow token: ${answer.body.slice(0, 200)}`)
  }

  keep(token, clientOnly = true) {
    this.tokens.push({ token, clientOnly })
    if (this.tokens.length > 2_000) this.tokens.splice(0, 1_000)
  }

  /** One browser on one keep-alive connection: the authorization code flow with PKCE, again and again. */
  async browserConnection(tally, deadline) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      while (performance.now() < deadline) {
        const problem = await this.codeFlow(agent, tally)
        if (problem !== undefined) tally.fail(`code flow: ${problem}`)
      }
    } finally {
      agent.destroy()
    }
  }

  /** One flow, as a new browser (no cookies) and a user of its own while unused ones last; a problem, or undefined. */
  async codeFlow(agent, tally) {
    const cookies = new Map()
    const username = this.seeded.usernames[this.nextUser++ % this.seeded.usernames.length]
    const verifier = randomBytes(32).toString('base64url')
    const state = randomBytes(16).toString('base64url')
    const authorize = `/authorize?${new URLSearchParams({
      response_type: 'code',
      client_id: this.seeded.clientId,
      redirect_uri: REDIRECT_URI,
      scope: 'read write',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })}`
    const step = async (operation, path, init, expected) => {
      const answer = await this.send(agent, tally, operation, path, { ...init, cookies })
      if (answer === undefined) return undefined
      if (answer.status !== expected) {
        tally.fail(`code flow ${operation}: HTTP ${answer.status}, expected ${expected}: ${answer.body.slice(0, 200)}`)
        return undefined
      }
      return answer
    }

    let answer = await step('authorize', authorize, {}, 303)
    if (answer === undefined) return
    if (!answer.location?.startsWith('/login?')) return `/authorize sent a new browser to ${answer.location}, not /login`
    const loginPage = await step('login page', answer.location, {}, 200)
    if (loginPage === undefined) return
    const loginCsrf = hiddenField(loginPage.body, 'csrf_token')
    if (loginCsrf === undefined) return 'the login page has no csrf_token'
    answer = await step('login', '/login', { form: { csrf_token: loginCsrf, return_to: authorize, username, password: PASSWORD } }, 303)
    if (answer === undefined) return
    if (answer.location !== authorize) return `sign-in redirected to ${answer.location}, not back to /authorize`
    answer = await this.send(agent, tally, 'authorize', authorize, { cookies })
    if (answer === undefined) return
    if (answer.status === 303 && answer.location?.startsWith('/consent?')) {
      const consentPage = await step('consent page', answer.location, {}, 200)
      if (consentPage === undefined) return
      const consentCsrf = hiddenField(consentPage.body, 'csrf_token')
      if (consentCsrf === undefined) return 'the consent page has no csrf_token'
      answer = await step('consent', '/consent', { form: { csrf_token: consentCsrf, return_to: authorize, decision: 'allow' } }, 302)
      if (answer === undefined) return
      tally.flowsWithConsent++
    } else if (answer.status !== 302) return `/authorize answered a signed-in user ${answer.status}: ${answer.body.slice(0, 200)}`
    const callback = new URL(answer.location ?? '', 'http://invalid')
    if (`${callback.origin}${callback.pathname}` !== REDIRECT_URI) return `redirected to ${answer.location}, not the redirect URI`
    if (callback.searchParams.get('state') !== state) return 'the callback lost the state'
    if (callback.searchParams.get('iss') !== this.base.origin) return `the callback's iss is ${callback.searchParams.get('iss')} (RFC 9207)`
    const code = callback.searchParams.get('code')
    if (code === null) return `no code in ${answer.location}`
    const token = await this.send(agent, tally, 'token (code)', '/token', {
      form: { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      authorization: this.basic,
    })
    if (token === undefined) return
    const problem = checkTokenResponse(token, 200, true)
    if (problem !== undefined) return `token: ${problem}`
    this.keep(JSON.parse(token.body).access_token, false)
    tally.flows++
  }

  /** One request; its latency and status recorded; `undefined` (and an error counted) when no answer came. */
  send(agent, tally, operation, path, { form, authorization, cookies } = {}) {
    const body = form === undefined ? undefined : new URLSearchParams(form).toString()
    const headers = {}
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers['content-length'] = Buffer.byteLength(body)
    }
    if (authorization !== undefined) headers.authorization = authorization
    if (cookies !== undefined && cookies.size > 0) headers.cookie = [...cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const started = performance.now()
    return new Promise((resolve) => {
      const req = httpRequest(
        { host: this.base.hostname, port: this.base.port, path, method: body === undefined ? 'GET' : 'POST', headers, agent, timeout: REQUEST_TIMEOUT_MS },
        (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk))
          res.on('end', () => {
            tally.record(operation, performance.now() - started, res.statusCode)
            if (cookies !== undefined) {
              for (const cookie of res.headers['set-cookie'] ?? []) {
                const [pair = ''] = cookie.split(';')
                const eq = pair.indexOf('=')
                if (/;\s*Max-Age=0\b/i.test(cookie)) cookies.delete(pair.slice(0, eq))
                else cookies.set(pair.slice(0, eq), pair.slice(eq + 1))
              }
            }
            resolve({ status: res.statusCode, headers: res.headers, location: res.headers.location, body: text })
          })
          res.on('error', (error) => {
            tally.fail(`${operation}: ${error.message}`)
            resolve(undefined)
          })
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)))
      req.on('error', (error) => {
        tally.fail(`${operation}: ${error.message}`)
        resolve(undefined)
      })
      req.end(body)
    })
  }
}

/** What is wrong with a token response (RFC 6749 §5.1), or `undefined`. */
function checkTokenResponse(answer, status, withRefresh = false) {
  if (answer.status !== status) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`
  const json = parse(answer.body)
  if (typeof json?.access_token !== 'string' || json.token_type !== 'Bearer' || typeof json.expires_in !== 'number') return `not a token response: ${answer.body.slice(0, 200)}`
  if (withRefresh && typeof json.refresh_token !== 'string') return 'no refresh token from the code flow'
  if (answer.headers['cache-control'] !== 'no-store') return `Cache-Control: ${answer.headers['cache-control']}`
  return undefined
}

function parse(text) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function hiddenField(html, name) {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1]
  return value?.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
}

// ---------------------------------------------------------------------------------------------------------------------
// Report

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
}

function latencyOf(list) {
  const sorted = [...list].sort((a, b) => a - b)
  return { requests: sorted.length, p50_ms: round(percentile(sorted, 0.5), 2), p99_ms: round(percentile(sorted, 0.99), 2) }
}

function round(value, digits) {
  return value === null || value === undefined ? value : Math.round(value * 10 ** digits) / 10 ** digits
}

const MB = 1024 * 1024

function buildReport({ measured, warmup, samples, rssSamples, exit, server }) {
  const before = samples[0]
  const after = samples[samples.length - 1]
  const seconds = (measured.ended - measured.started) / 1000
  const all = [...measured.latencies.values()].flat()
  const operations = Object.fromEntries([...measured.latencies].map(([operation, list]) => [operation, latencyOf(list)]))
  const statuses = Object.fromEntries([...measured.statuses].sort(([a], [b]) => a - b))
  const non2xx = [...measured.statuses].filter(([status]) => status < 200 || status >= 300).reduce((sum, [, count]) => sum + count, 0)
  const memory = {
    heap_used_before_mb: round(before.heapUsed / MB, 1),
    heap_used_after_mb: round(after.heapUsed / MB, 1),
    heap_growth_mb: round((after.heapUsed - before.heapUsed) / MB, 2),
    // Buffers and other memory V8 objects hold outside the heap.
    external_growth_mb: round((after.external - before.external) / MB, 2),
    rss_before_mb: round(before.rss / MB, 1),
    rss_after_mb: round(after.rss / MB, 1),
    rss_growth_mb: round((after.rss - before.rss) / MB, 2),
    rss_max_during_run_mb: rssSamples.length === 0 ? null : round(Math.max(...rssSamples) / MB, 1),
    external_before_mb: round(before.external / MB, 1),
    external_after_mb: round(after.external / MB, 1),
    garbage_collected: samples.every((sample) => sample.collected),
    samples: samples.map((sample) => ({ at_s: sample.at_s, heap_used_mb: round(sample.heapUsed / MB, 2), rss_mb: round(sample.rss / MB, 1) })),
  }
  const errors = {
    during_run: measured.errorCount,
    during_warmup: warmup?.errorCount ?? 0,
    server_log: server.serverErrors.length,
    server_exit: exit.code === 0 ? 0 : 1,
  }
  const errorTotal = errors.during_run + errors.during_warmup + errors.server_log + errors.server_exit
  const flat =
    memory.garbage_collected && memory.heap_growth_mb + memory.external_growth_mb <= settings.heap_growth_mb && memory.rss_growth_mb <= settings.rss_growth_mb
  const problems = [
    ...measured.errors,
    ...(warmup?.errors ?? []).map((error) => `warm-up: ${error}`),
    ...server.serverErrors.map((line) => `server log: ${line}`),
    ...(exit.code === 0 ? [] : [`the server exited with ${exit.code ?? exit.signal} on SIGTERM: ${server.stderr().slice(-2000)}`]),
  ]
  return {
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    settings,
    requests: all.length,
    duration_s: round(seconds, 2),
    rps: round(all.length / seconds, 1),
    latency: latencyOf(all),
    operations,
    flows: measured.flows,
    flows_with_consent: measured.flowsWithConsent,
    statuses,
    // Redirects of the code flow (302, 303) are expected; anything else unexpected is an error.
    non2xx,
    errors: { ...errors, total: errorTotal },
    problems: problems.slice(0, 20),
    memory,
    bar: {
      zero_errors: errorTotal === 0,
      flat_memory: flat,
      rule: `errors 0; from the end of the warm-up to the end of the run, after GC: heap + external growth ≤ ${settings.heap_growth_mb} MB, RSS growth ≤ ${settings.rss_growth_mb} MB`,
      met: errorTotal === 0 && flat,
    },
  }
}

function renderReport(report) {
  const lines = []
  lines.push('')
  lines.push(`load: ${report.requests} requests in ${report.duration_s} s: ${report.rps} requests/s, p50 ${report.latency.p50_ms} ms, p99 ${report.latency.p99_ms} ms`)
  for (const [operation, figures] of Object.entries(report.operations)) {
    lines.push(`  ${operation.padEnd(14)} ${String(figures.requests).padStart(7)} requests  p50 ${String(figures.p50_ms).padStart(7)} ms  p99 ${String(figures.p99_ms).padStart(7)} ms`)
  }
  lines.push(`  code flows: ${report.flows} completed (${report.flows_with_consent} through the consent page)`)
  lines.push(`  statuses: ${JSON.stringify(report.statuses)}; non-2xx ${report.non2xx} (the flow's redirects)`)
  const e = report.errors
  lines.push(`  errors: ${e.total} (run ${e.during_run}, warm-up ${e.during_warmup}, server log ${e.server_log}, server exit ${e.server_exit})`)
  for (const problem of report.problems.slice(0, 5)) lines.push(`    ${problem}`)
  const m = report.memory
  lines.push(
    `  server memory after GC, warm-up end → run end: heap ${m.heap_used_before_mb} → ${m.heap_used_after_mb} MB (${sign(m.heap_growth_mb)} MB), ` +
      `external ${m.external_before_mb} → ${m.external_after_mb} MB (${sign(m.external_growth_mb)} MB), RSS ${m.rss_before_mb} → ${m.rss_after_mb} MB (${sign(m.rss_growth_mb)} MB)`,
  )
  lines.push(`  heap after GC during the run (s: MB): ${m.samples.map((sample) => `${sample.at_s}: ${sample.heap_used_mb}`).join(', ')}`)
  lines.push(`  RSS at most ${m.rss_max_during_run_mb} MB during the run (each sign-in's scrypt takes 32 MiB while it runs)`)
  lines.push(`load: bar (${report.bar.rule}): ${report.bar.met ? 'met' : `MISSED${report.bar.zero_errors ? '' : ' (errors)'}${report.bar.flat_memory ? '' : ' (memory)'}`}`)
  return lines.join('\n')
}

function sign(value) {
  return value >= 0 ? `+${value}` : String(value)
}

main().catch((error) => {
  console.error(`load: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
