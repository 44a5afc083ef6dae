#!/usr/bin/env node
/**
 * `npm run bench`: oauthkit side by side with the peers (issue 7).
 *
 * Each case (scenario × server × store) gets a fresh server process pinned to core 1 (`taskset -c 1`); this process,
 * which runs autocannon, pins itself to core 0. The servers of a scenario run side by side: each first proves it
 * answers correctly and is warmed up, then the measured time is taken in rounds, one server after another, reading the
 * server's `process.cpuUsage()` over IPC just before and after each round. Every response body under load is checked;
 * any failure stops the run with a non-zero exit.
 *
 *   npm run bench                         the full run (a few minutes), writes bench/results.json
 *   npm run bench -- --only cc-opaque     a subset of scenarios (comma-separated, or repeat --only)
 *   npm run bench -- --server oauthkit    only servers whose "server:store" contains the text (repeatable)
 *   npm run bench -- --quick              1 s warm-up, 3 s measured (3 rounds)
 *   npm run bench -- --warmup 2 --duration 8 --rounds 4 --connections 10
 *   npm run bench -- --cpu-prof           children run under `node --cpu-prof` (profiles in bench/profiles/)
 *   npm run bench -- --no-build           skip `npm run build` (the servers import oauthkit from dist/)
 *   npm run bench -- --all                also cc-jwt over the SQLite and PostgreSQL stores (left out by default)
 *   npm run bench -- --out FILE           write the results elsewhere than bench/results.json
 *   npm run bench -- --before DIR         also oauthkit as built in another checkout DIR (its own bench/ and dist/),
 *                                         as `oauthkit-before` and `oauthkit-app-before`, side by side with this one
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { basicAuth, REDIRECT_URI, SCOPE } from './lib/common.mjs'
import { dropSchema, startPostgres } from './lib/postgres.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..')
const LOAD_CORE = 0
const SERVER_CORE = 1

// ---------------------------------------------------------------------------------------------------------------------
// What runs

const SCENARIOS = ['cc-opaque', 'cc-jwt', 'introspection', 'resource', 'code', 'refresh']

const SCENARIO_TITLES = {
  'cc-opaque': 'client_credentials, opaque token',
  'cc-jwt': 'client_credentials, ES256 JWT access token',
  introspection: 'RFC 7662 introspection of a live token',
  resource: 'RFC 6750 Bearer check of a protected resource',
  code: 'authorization_code + PKCE redemption (pre-issued codes)',
  refresh: 'refresh_token with rotation (tokens chained)',
}

/** `true`: the server runs the scenario; a string: why it is n/a. */
const SERVERS = [
  {
    server: 'baseline-fixed',
    store: '-',
    module: 'baseline-fixed',
    kind: 'baseline',
    scenarios: { 'cc-opaque': true },
    otherwise: 'a fixed token response only',
  },
  {
    server: 'baseline-minimal',
    store: 'memory',
    module: 'baseline-minimal',
    kind: 'baseline',
    scenarios: { 'cc-opaque': true },
    otherwise: 'the minimal client_credentials path only',
  },
  {
    server: 'oidc-provider',
    store: 'memory',
    module: 'oidc-provider',
    kind: 'peer',
    scenarios: { 'cc-opaque': true, 'cc-jwt': true, introspection: true, resource: 'no RFC 6750 resource check of its own', code: true, refresh: true },
  },
  {
    server: '@node-oauth/oauth2-server',
    store: 'memory',
    module: 'node-oauth',
    kind: 'peer',
    scenarios: { 'cc-opaque': true, 'cc-jwt': 'no JWT access tokens', introspection: 'no introspection endpoint', resource: true, code: true, refresh: true },
  },
  {
    server: 'oauth2orize',
    store: 'memory',
    module: 'oauth2orize',
    kind: 'peer',
    scenarios: {
      'cc-opaque': true,
      'cc-jwt': 'no JWT access tokens',
      introspection: 'no introspection endpoint',
      resource: 'no resource check (left to Passport)',
      code: true,
      refresh: true,
    },
  },
  ...['memory', 'sqlite', 'postgres'].map((store) => ({
    server: 'oauthkit',
    store,
    module: 'oauthkit',
    kind: 'oauthkit',
    scenarios: Object.fromEntries(SCENARIOS.map((s) => [s, true])),
    // Signing does not depend on the store, whose cost cc-opaque shows: kept out of the default run to bound it.
    extra: store === 'memory' ? [] : ['cc-jwt'],
  })),
  {
    server: 'oauthkit-app',
    store: 'sqlite',
    module: 'oauthkit-app',
    kind: 'oauthkit',
    scenarios: { 'cc-opaque': true, 'cc-jwt': true, introspection: true, resource: 'the ready server serves no protected resource', code: true, refresh: true },
  },
]

const PEERS = SERVERS.filter((s) => s.kind === 'peer').map((s) => s.server)

// ---------------------------------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    server: { type: 'string', multiple: true },
    quick: { type: 'boolean' },
    warmup: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    rounds: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    'no-build': { type: 'boolean' },
    all: { type: 'boolean' },
    out: { type: 'string' },
    before: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (args.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(2, 20).filter((l) => l !== ' */').map((l) => l.replace(/^ \* ?/, '')).join('\n'))
  process.exit(0)
}
const settings = {
  connections: positive('connections', args.connections ?? '10'),
  warmup_s: positive('warmup', args.warmup ?? (args.quick ? '1' : '2')),
  duration_s: positive('duration', args.duration ?? (args.quick ? '3' : '8')),
  rounds: Math.ceil(positive('rounds', args.rounds ?? (args.quick ? '3' : '4'))),
  pipelining: 1,
  load_core: LOAD_CORE,
  server_core: SERVER_CORE,
}
// --before DIR: the oauthkit servers once more, from another checkout (its bench/child.mjs, its dist/), so that a
// change is measured against the code before it in the same minutes.
if (args.before !== undefined) {
  const dir = resolve(args.before)
  if (!existsSync(join(dir, 'bench', 'child.mjs')) || !existsSync(join(dir, 'dist', 'index.js'))) {
    fail(`--before ${args.before}: no bench/child.mjs and built dist/ there (run npm run build in it first)`)
  }
  for (const spec of SERVERS.filter((s) => s.kind === 'oauthkit')) SERVERS.push({ ...spec, server: `${spec.server}-before`, kind: 'before', dir })
}
const only = (args.only ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
for (const scenario of only) if (!SCENARIOS.includes(scenario)) fail(`--only ${scenario}: not a scenario (${SCENARIOS.join(', ')})`)
const profileDir = args['cpu-prof'] ? join(HERE, 'profiles') : undefined
const outFile = args.out ?? join(HERE, 'results.json')

function positive(name, text) {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a positive number, got ${text}`)
  return value
}

// ---------------------------------------------------------------------------------------------------------------------
// Main

class BenchFailure extends Error {}

function fail(message) {
  console.error(`\nbench: ${message}`)
  process.exit(1)
}

async function main() {
  if (os.cpus().length < 2) fail('the benchmark needs two cores: one for the server, one for the load generator')
  if (spawnSync('taskset', ['-V']).status !== 0) fail('taskset (util-linux) is needed to pin the processes to cores')
  if (!args['no-build']) {
    console.log('bench: npm run build')
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
    if (build.status !== 0) fail('npm run build failed')
  }
  // This process (and the threads it already has) runs on the load core; threads created later inherit it.
  const pin = spawnSync('taskset', ['-a', '-cp', String(LOAD_CORE), String(process.pid)], { encoding: 'utf8' })
  if (pin.status !== 0) fail(`cannot pin the load generator: ${pin.stderr}`)

  const cases = []
  for (const scenario of SCENARIOS) {
    if (only.length > 0 && !only.includes(scenario)) continue
    for (const spec of SERVERS) {
      const id = `${spec.server}:${spec.store}`
      if (args.server !== undefined && !args.server.some((text) => id.includes(text))) continue
      if (spec.extra?.includes(scenario) && !args.all && !args.server?.length && !only.length) continue
      const support = spec.scenarios[scenario] ?? spec.otherwise ?? 'not supported'
      cases.push({ scenario, spec, na: support === true ? undefined : support })
    }
  }
  const runnable = cases.filter((c) => c.na === undefined)
  if (runnable.length === 0) fail('nothing to run: check --only and --server')
  const machine = machineInfo()
  console.log(
    `bench: ${runnable.length} cases on ${machine.cpu_model} (${machine.cores} cores), Node ${machine.node}; ` +
      `${settings.connections} connections, ${settings.warmup_s} s warm-up, ${settings.duration_s} s measured; ` +
      `server on core ${SERVER_CORE}, autocannon on core ${LOAD_CORE}`,
  )

  const busyAtStart = await machineBusy()
  if (busyAtStart !== undefined) machine.cpu_busy_before_start_pct = round(busyAtStart, 1)
  if (busyAtStart !== undefined && busyAtStart > 10) {
    console.log(`bench: warning: the machine is busy (${busyAtStart.toFixed(0)}% of the CPU in use before starting); other work skews requests/s, less so µs/req`)
  }

  let postgres
  if (runnable.some((c) => c.spec.store === 'postgres')) {
    postgres = await startPostgres({ core: SERVER_CORE })
    console.log(`bench: PostgreSQL ${postgres.pinned ? `throwaway cluster, pinned to core ${SERVER_CORE}` : 'from DATABASE_URL (not pinned)'}`)
  }
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })

  // Interrupted: exit through 'exit' handlers, which stop the throwaway PostgreSQL cluster.
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130))

  const started = Date.now()
  const results = []
  let failure
  try {
    for (const scenario of SCENARIOS) {
      const group = cases.filter((c) => c.scenario === scenario)
      const loaded = group.filter((c) => c.na === undefined)
      if (loaded.length > 0) console.log(`  ${scenario}: ${loaded.length} servers, ${settings.rounds} rounds of ${fmt(settings.duration_s / settings.rounds, 1)} s each`)
      const figures = await runScenario(loaded, postgres)
      for (const c of group) {
        if (c.na !== undefined) {
          results.push({ scenario: c.scenario, server: c.spec.server, store: c.spec.store, status: 'n/a', note: c.na, ...NULL_FIGURES })
          continue
        }
        const f = figures.get(c)
        results.push({ scenario: c.scenario, server: c.spec.server, store: c.spec.store, status: 'ok', ...f })
        console.log(
          `  ${c.scenario.padEnd(13)} ${`${c.spec.server} (${c.spec.store})`.padEnd(38)} ` +
            `${fmt(f.rps, 0).padStart(7)} rps  p50 ${fmt(f.p50_ms, 2)} ms  p99 ${fmt(f.p99_ms, 2)} ms  ` +
            `${fmt(f.server_us_per_req, 0)} µs/req${f.db_us_per_req === undefined ? '' : ` (+${fmt(f.db_us_per_req, 0)} µs in PostgreSQL)`}` +
            `  [rounds: ${f.rounds_us_per_req.map((us) => fmt(us, 0)).join(' ')}]` +
            (f.foreign_on_server_core_pct > 10 ? `  [other work used ${f.foreign_on_server_core_pct}% of the server core]` : ''),
        )
      }
    }
  } catch (error) {
    console.log('FAILED')
    failure = error
  } finally {
    await postgres?.stop()
  }
  if (failure instanceof BenchFailure) fail(failure.message)
  if (failure !== undefined) throw failure

  const bar = evaluateBar(results)
  const report = {
    machine,
    settings: { ...settings, scenarios: only.length > 0 ? only : SCENARIOS, elapsed_s: Math.round((Date.now() - started) / 1000), profiled: profileDir !== undefined },
    cases: results,
    bar,
  }
  console.log('')
  console.log(renderTable(results))
  console.log('')
  console.log(renderBar(bar))
  await writeFile(outFile, JSON.stringify(report, null, 2) + '\n')
  console.log(`\nbench: wrote ${relative(process.cwd(), outFile)} (${report.settings.elapsed_s} s)`)
  if (profileDir !== undefined) console.log(`bench: CPU profiles in ${relative(process.cwd(), profileDir)}; summarize one with node bench/profile.mjs FILE`)
}

const NULL_FIGURES = { rps: null, p50_ms: null, p99_ms: null, server_us_per_req: null, errors: null, non2xx: null }

// ---------------------------------------------------------------------------------------------------------------------
// One scenario: its servers side by side

/**
 * Runs the cases of one scenario side by side. Each server is started, proved correct and warmed up; then the measured
 * time of each is taken in `settings.rounds` rounds, one round of every server after another (each round starting one
 * server further on), so that every server of the scenario is measured across the same minutes: a slower spell of the
 * machine falls on all of them rather than on whichever ran during it. Figures are the sums over the rounds.
 */
async function runScenario(group, postgres) {
  const opened = []
  try {
    for (const c of group) opened.push(await openCase(c, postgres))
    for (let turn = 0; turn < settings.rounds; turn++) {
      for (let i = 0; i < opened.length; i++) {
        const o = opened[(i + turn) % opened.length]
        await withServerLog(o, () => measureRound(o, postgres))
      }
    }
    return new Map(opened.map((o) => [o.c, caseFigures(o)]))
  } finally {
    for (const o of opened) await closeCase(o, postgres)
  }
}

/** Starts a case's server, proves it correct and warms it up; on failure, stops it again. */
async function openCase(c, postgres) {
  const workdir = await mkdtemp(join(os.tmpdir(), 'oauthkit-bench-'))
  const schema = `bench_${Math.random().toString(36).slice(2, 10)}`
  const o = { c, workdir, schema, child: undefined, rounds: [], latencies: [] }
  try {
    const child = await startChild(c, { workdir, databaseUrl: postgres?.url, schema })
    o.child = child
    await withServerLog(o, async () => {
      const ctx = {
        ...child.info,
        base: `http://127.0.0.1:${child.info.port}`,
        auth: basicAuth(child.info.clientId, child.info.clientSecret),
        wrongAuth: basicAuth(child.info.clientId, `${child.info.clientSecret}x`),
        child,
        settings,
      }
      const scenario = SCENARIO_IMPL[c.scenario]
      const state = (await scenario.prepare?.(ctx)) ?? {}
      await scenario.prove(ctx, state)
      const load = scenario.load(ctx, state)
      // Warm-up: JIT, caches, connection setup. Its figures are thrown away; its bodies are checked all the same.
      const warm = await (scenario.warmup ?? durationWarmup)(ctx, state, load)
      Object.assign(o, { ctx, state, load, warmRps: warm.rps })
    })
    return o
  } catch (error) {
    await closeCase(o, postgres)
    throw error
  }
}

/** One measured round of a case: `settings.duration_s / settings.rounds` seconds under load. */
async function measureRound(o, postgres) {
  const seconds = settings.duration_s / settings.rounds
  // The fastest rate seen so far (warm-up or rounds) sizes what a round may use up (pre-issued codes).
  const rps = Math.max(o.warmRps, ...o.rounds.map((r) => r.responses / r.duration))
  await SCENARIO_IMPL[o.c.scenario].beforeRound?.(o.ctx, o.state, rps, seconds)
  const coresBefore = coreTimes()
  const cpuBefore = await o.child.call('cpu')
  const dbBefore = o.c.spec.store === 'postgres' ? postgres.cpuMicros() : undefined
  const run = await drive(o.ctx, o.load, { duration: seconds, phase: 'measured run' })
  // Work the last requests left for the next turns (a SQLite group commit, a log flush) belongs to this round.
  await new Promise((resolve) => setTimeout(resolve, 20))
  const cpuAfter = await o.child.call('cpu')
  const dbAfter = o.c.spec.store === 'postgres' ? postgres.cpuMicros() : undefined
  const coresAfter = coreTimes()
  const { result } = run
  for (const latency of run.latencies) o.latencies.push(latency)
  o.rounds.push({
    responses: result['2xx'] + result.non2xx,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts + run.failures.length,
    duration: result.duration,
    user: cpuAfter.user - cpuBefore.user,
    system: cpuAfter.system - cpuBefore.system,
    db: dbBefore !== undefined && dbAfter !== undefined ? dbAfter - dbBefore : undefined,
    cores: coresBefore !== undefined && coresAfter !== undefined ? { before: coresBefore, after: coresAfter } : undefined,
  })
}

/** A case's figures: sums over its rounds. */
function caseFigures(o) {
  const sum = (pick) => o.rounds.reduce((total, round) => total + pick(round), 0)
  const responses = sum((r) => r.responses)
  const duration = sum((r) => r.duration)
  const cpuMicros = sum((r) => r.user + r.system)
  const withDb = o.rounds.every((r) => r.db !== undefined)
  o.latencies.sort((a, b) => a - b)
  const figures = {
    rps: responses / duration,
    p50_ms: percentile(o.latencies, 0.5),
    p99_ms: percentile(o.latencies, 0.99),
    server_us_per_req: responses > 0 ? cpuMicros / responses : null,
    errors: sum((r) => r.errors),
    non2xx: sum((r) => r.non2xx),
    responses,
    duration_s: round(duration, 2),
    warmup_rps: round(o.warmRps, 0),
    rounds_us_per_req: o.rounds.map((r) => round((r.user + r.system + (r.db ?? 0)) / Math.max(r.responses, 1), 1)),
  }
  if (responses > 0) figures.server_sys_us_per_req = sum((r) => r.system) / responses
  if (withDb && responses > 0) figures.db_us_per_req = sum((r) => r.db) / responses
  // How busy each core was over the rounds (/proc/stat), and how much of the server core went to neither the server
  // nor its database: other work on the machine, which makes the case's rps (not its µs/req) unreliable.
  if (o.rounds.every((r) => r.cores !== undefined)) {
    const busy = (core) => {
      let used = 0
      let total = 0
      for (const { cores } of o.rounds) {
        const b = cores.before[core]
        const a = cores.after[core]
        if (a === undefined || b === undefined) return undefined
        used += a.busy - b.busy
        total += a.total - b.total
      }
      return used / Math.max(total, 1)
    }
    const serverCore = busy(SERVER_CORE)
    const loadCore = busy(LOAD_CORE)
    if (serverCore !== undefined && loadCore !== undefined) {
      const ours = (cpuMicros + (withDb ? sum((r) => r.db) : 0)) / (duration * 1e6)
      figures.server_core_busy_pct = round(100 * serverCore, 1)
      figures.load_core_busy_pct = round(100 * loadCore, 1)
      figures.foreign_on_server_core_pct = round(Math.max(0, 100 * (serverCore - ours)), 1)
    }
  }
  return figures
}

/** Runs `fn`, naming the case in a failure and adding the last lines of its server's stderr. */
async function withServerLog(o, fn) {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof BenchFailure) {
      const stderr = o.child?.stderr().trim() ?? ''
      error.message = `${o.c.scenario}, ${o.c.spec.server} (${o.c.spec.store}): ${error.message}`
      if (stderr !== '') error.message += `\n--- server stderr (last lines) ---\n${stderr.split('\n').slice(-30).join('\n')}`
    }
    throw error
  }
}

async function closeCase(o, postgres) {
  await o.child?.stop()
  if (o.c.spec.store === 'postgres') await dropSchema(postgres.url, o.schema).catch(() => {})
  await rm(o.workdir, { recursive: true, force: true })
}

/** Warm-up for scenarios that can run on for a fixed time. */
async function durationWarmup(ctx, _state, load) {
  const run = await drive(ctx, load, { duration: settings.warmup_s, phase: 'warm-up' })
  return { rps: (run.result['2xx'] + run.result.non2xx) / run.result.duration }
}

/**
 * Drives the server with autocannon. `load` gives the request (`method`, `path`, `headers`, `body`, or `nextBody()`
 * for one that changes each time) and `check(body, headers)`, which returns a problem or `undefined`. Any response
 * that is not the expected status or fails the check, any connection error or timeout, fails the case.
 */
function drive(ctx, load, { duration, amount, phase }) {
  return new Promise((resolve, reject) => {
    const failures = []
    let instance
    const request = { method: load.method, path: load.path, headers: load.headers, body: load.body }
    if (load.nextBody !== undefined) request.setupRequest = (req) => ({ ...req, body: load.nextBody() })
    let lastResponse = 0
    request.onResponse = (status, body, _context, headers) => {
      lastResponse = performance.now()
      const problem = status === (load.status ?? 200) ? load.check(body, headers) : `HTTP ${status}: ${body.slice(0, 300)}`
      if (problem !== undefined) {
        if (failures.length < 100) failures.push(problem)
        if (failures.length === 1) instance?.stop()
      }
    }
    // autocannon's own histogram keeps whole milliseconds; the clients report each response time as a float.
    const latencies = []
    const setupClient = (client) => client.on('response', (_status, _bytes, responseTime) => latencies.push(responseTime))
    const options = { url: ctx.base, connections: settings.connections, pipelining: settings.pipelining, requests: [request], setupClient }
    if (amount !== undefined) {
      options.amount = Math.max(amount, settings.connections)
      // A run ends at autocannon's next sample tick: tick often, so that short rounds do not idle.
      options.sampleInt = 50
    } else options.duration = duration
    const started = performance.now()
    instance = autocannon(options, (error, result) => {
      if (error) return reject(error)
      const problems = load.exhausted?.() ? [`ran out of pre-issued ${load.exhausted()} (the pool is sized from the warm-up rate)`] : []
      problems.push(...failures)
      if (result.errors > 0) problems.push(`${result.errors} connection errors`)
      if (result.timeouts > 0) problems.push(`${result.timeouts} timeouts`)
      if (result.non2xx > 0 && failures.length === 0) problems.push(`${result.non2xx} non-2xx responses`)
      if (problems.length > 0) {
        return reject(new BenchFailure(`${phase}: ${problems.length} failures under load, first: ${problems[0]}`))
      }
      const responses = result['2xx'] + result.non2xx
      const activeSeconds = Math.max((lastResponse - started) / 1000, 0.001)
      resolve({ result, failures, responses, activeSeconds, latencies })
    })
  })
}

/** Percentage of all cores in use over one second, before anything of ours runs. */
async function machineBusy() {
  const before = coreTimes()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const after = coreTimes()
  if (before === undefined || after === undefined) return undefined
  let busy = 0
  let total = 0
  for (let i = 0; i < after.length; i++) {
    if (before[i] === undefined || after[i] === undefined) continue
    busy += after[i].busy - before[i].busy
    total += after[i].total - before[i].total
  }
  return total === 0 ? undefined : (100 * busy) / total
}

/** Busy and total jiffies of each core, from /proc/stat (Linux); `undefined` elsewhere. */
function coreTimes() {
  let text
  try {
    text = readFileSync('/proc/stat', 'utf8')
  } catch {
    return undefined
  }
  const cores = []
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+) (.*)$/.exec(line)
    if (match === null) continue
    // user nice system idle iowait irq softirq steal …
    const [user, nice, system, idle, iowait, irq, softirq, steal] = match[2].trim().split(/\s+/).map(Number)
    const busy = user + nice + system + irq + softirq + steal
    cores[Number(match[1])] = { busy, total: busy + idle + iowait }
  }
  return cores
}

/** The nearest-rank percentile of sorted values. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
}

// ---------------------------------------------------------------------------------------------------------------------
// The server process

async function startChild(c, options) {
  const nodeArgs = []
  if (profileDir !== undefined) {
    const name = `${c.scenario}--${c.spec.server}--${c.spec.store}`.replace(/[^A-Za-z0-9.-]+/g, '_')
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`)
  }
  const childDir = c.spec.dir === undefined ? HERE : join(c.spec.dir, 'bench')
  const proc = spawn('taskset', ['-c', String(SERVER_CORE), process.execPath, ...nodeArgs, join(childDir, 'child.mjs'), c.spec.module, c.spec.store, c.scenario], {
    cwd: c.spec.dir ?? ROOT,
    // stdout is the ready server's request log: discarded, as a log shipper would take it away.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, BENCH_OPTIONS: JSON.stringify(options), NODE_ENV: 'production' },
  })
  let stderr = ''
  proc.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-16_384)
  })
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
  const pending = new Map()
  let nextId = 1
  let onReady
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    exited.then(({ code, signal }) => reject(new BenchFailure(`${c.spec.server} (${c.spec.store}) exited before it was ready (${signal ?? code})\n${stderr}`)))
    setTimeout(() => reject(new BenchFailure(`${c.spec.server} (${c.spec.store}) did not start within 60 s\n${stderr}`)), 60_000).unref()
  })
  proc.on('message', (message) => {
    if (message.type === 'ready') return onReady(message)
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.error !== undefined) waiter.reject(new BenchFailure(`server: ${message.error}`))
    else waiter.resolve(message.value)
  })
  exited.then(({ code, signal }) => {
    for (const waiter of pending.values()) waiter.reject(new BenchFailure(`the server exited (${signal ?? code})\n${stderr}`))
    pending.clear()
  })
  let info
  try {
    info = await ready
  } catch (error) {
    if (proc.exitCode === null) proc.kill('SIGKILL')
    throw error
  }
  return {
    info,
    stderr: () => stderr,
    call(type, extra = {}) {
      return new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        proc.send({ id, type, ...extra })
      })
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.send({ type: 'stop' })
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Scenarios: prove, then load

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const CC_BODY = `grant_type=client_credentials&scope=${SCOPE}`

function expect(condition, message) {
  if (!condition) throw new BenchFailure(`correctness: ${message}`)
}

async function post(ctx, path, body, auth = ctx.auth) {
  const response = await fetch(ctx.base + path, { method: 'POST', headers: { ...FORM, Authorization: auth }, body })
  return parsed(response)
}

async function get(ctx, path, headers) {
  return parsed(await fetch(ctx.base + path, { headers }))
}

async function parsed(response) {
  const text = await response.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: response.status, headers: response.headers, text, json }
}

/** A successful token response: 200, JSON, no-store, Bearer, the scope (RFC 6749 §5.1), a token. */
function expectTokenResponse(what, r, { refresh = false } = {}) {
  expect(r.status === 200, `${what}: HTTP ${r.status}, expected 200: ${r.text.slice(0, 300)}`)
  expect(/^application\/json\b/i.test(r.headers.get('content-type') ?? ''), `${what}: Content-Type ${r.headers.get('content-type')}, expected application/json`)
  expect(/\bno-store\b/i.test(r.headers.get('cache-control') ?? ''), `${what}: Cache-Control ${r.headers.get('cache-control')}, expected no-store`)
  expect(r.json !== undefined, `${what}: the body is not JSON`)
  expect(typeof r.json.access_token === 'string' && r.json.access_token.length >= 20, `${what}: no access_token`)
  expect(/^bearer$/i.test(r.json.token_type ?? ''), `${what}: token_type ${r.json.token_type}, expected Bearer`)
  // RFC 6749 §5.1: scope may be left out when it is the one requested; when present it must be read.
  expect(r.json.scope === undefined || r.json.scope === SCOPE, `${what}: scope ${r.json.scope}, expected ${SCOPE}`)
  if (refresh) expect(typeof r.json.refresh_token === 'string' && r.json.refresh_token.length >= 20, `${what}: no refresh_token`)
}

async function expectInvalidClient(ctx, what, body) {
  const r = await post(ctx, ctx.paths.token, body, ctx.wrongAuth)
  expect(r.status === 401, `${what} with a wrong client secret: HTTP ${r.status}, expected 401: ${r.text.slice(0, 300)}`)
  expect(r.json?.error === 'invalid_client', `${what} with a wrong client secret: error ${r.json?.error}, expected invalid_client`)
}

async function expectInvalidGrant(ctx, what, body) {
  const r = await post(ctx, ctx.paths.token, body)
  expect(r.status === 400 && r.json?.error === 'invalid_grant', `${what}: HTTP ${r.status} ${r.text.slice(0, 200)}, expected 400 invalid_grant`)
}

/** When the server can introspect, the token's scope is checked there too (the response may leave scope out). */
async function expectIntrospectedScope(ctx, what, token) {
  if (ctx.paths.introspect === undefined) return
  const r = await post(ctx, ctx.paths.introspect, `token=${encodeURIComponent(token)}`)
  expect(r.status === 200 && r.json?.active === true, `${what}: introspection says ${r.text.slice(0, 200)}`)
  expect(r.json.scope === SCOPE, `${what}: introspected scope ${r.json.scope}, expected ${SCOPE}`)
}

/** Header lookup in autocannon's header object, whose names keep the case they were sent in. */
function header(headers, name) {
  for (const key in headers) if (key.length === name.length && key.toLowerCase() === name) return String(headers[key])
  return undefined
}

/** The under-load check of a token response, with tokens required unique (but for the fixed baseline). */
function tokenCheck(ctx, { jwtHeader, refreshPool } = {}) {
  const seen = new Set()
  return (body, headers) => {
    let json
    try {
      json = JSON.parse(body)
    } catch {
      return `not JSON: ${body.slice(0, 200)}`
    }
    if (typeof json.access_token !== 'string' || json.access_token.length < 20) return `no access_token: ${body.slice(0, 200)}`
    if (json.token_type !== 'Bearer' && !/^bearer$/i.test(json.token_type ?? '')) return `token_type ${json.token_type}`
    if (json.scope !== undefined && json.scope !== SCOPE) return `scope ${json.scope}`
    if (!/\bno-store\b/i.test(header(headers, 'cache-control') ?? '')) return 'no Cache-Control: no-store'
    if (jwtHeader !== undefined && !json.access_token.startsWith(jwtHeader)) return `not an ES256 JWT of this server: ${json.access_token.slice(0, 60)}`
    if (!ctx.fixed) {
      if (seen.has(json.access_token)) return `access token issued twice: ${json.access_token}`
      seen.add(json.access_token)
    }
    if (refreshPool !== undefined) {
      if (typeof json.refresh_token !== 'string') return `no refresh_token: ${body.slice(0, 200)}`
      refreshPool.push(json.refresh_token)
    }
    return undefined
  }
}

function tokenLoad(ctx, body, options) {
  return { method: 'POST', path: ctx.paths.token, headers: { ...FORM, Authorization: ctx.auth }, body, check: tokenCheck(ctx, options) }
}

async function liveToken(ctx) {
  const r = await post(ctx, ctx.paths.token, CC_BODY)
  expectTokenResponse('client_credentials token for the case', r)
  return r.json.access_token
}

/** A FIFO of pre-issued values with an O(1) take. */
class Pool {
  items = []
  head = 0
  push(value) {
    this.items.push(value)
  }
  pushAll(values) {
    for (const value of values) this.items.push(value)
  }
  take() {
    if (this.head >= this.items.length) return undefined
    const value = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 65_536) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return value
  }
  get size() {
    return this.items.length - this.head
  }
}

const codeBody = ({ code, verifier }) =>
  `grant_type=authorization_code&code=${encodeURIComponent(code)}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${encodeURIComponent(verifier)}`
const refreshBody = (token) => `grant_type=refresh_token&refresh_token=${encodeURIComponent(token)}`

const SCENARIO_IMPL = {
  'cc-opaque': {
    async prove(ctx) {
      const first = await post(ctx, ctx.paths.token, CC_BODY)
      expectTokenResponse('client_credentials', first)
      if (ctx.fixed) return // the ceiling: one token for everyone, no authentication
      const second = await post(ctx, ctx.paths.token, CC_BODY)
      expectTokenResponse('client_credentials', second)
      expect(first.json.access_token !== second.json.access_token, 'two token requests got the same access token')
      await expectIntrospectedScope(ctx, 'client_credentials token', first.json.access_token)
      await expectInvalidClient(ctx, 'client_credentials', CC_BODY)
    },
    load: (ctx) => tokenLoad(ctx, CC_BODY),
  },

  'cc-jwt': {
    async prepare(ctx) {
      const jwks = await ctx.child.call('jwks')
      expect(jwks !== null && Array.isArray(jwks.keys), 'the server published no JWKS')
      return { jwks }
    },
    async prove(ctx, state) {
      const first = await post(ctx, ctx.paths.token, CC_BODY)
      expectTokenResponse('client_credentials (JWT)', first)
      const second = await post(ctx, ctx.paths.token, CC_BODY)
      expectTokenResponse('client_credentials (JWT)', second)
      expect(first.json.access_token !== second.json.access_token, 'two token requests got the same access token')
      for (const { json } of [first, second]) {
        const { alg, typ } = decodeProtectedHeader(json.access_token)
        expect(alg === 'ES256', `JWT alg ${alg}, expected ES256`)
        expect(typ === 'at+jwt', `JWT typ ${typ}, expected at+jwt (RFC 9068)`)
        let payload
        try {
          ;({ payload } = await jwtVerify(json.access_token, createLocalJWKSet(state.jwks), { algorithms: ['ES256'] }))
        } catch (error) {
          expect(false, `the JWT does not verify with the server's key: ${error}`)
        }
        expect(payload.scope === SCOPE, `JWT scope ${payload.scope}, expected ${SCOPE}`)
        expect(payload.client_id === ctx.clientId, `JWT client_id ${payload.client_id}`)
        expect(typeof payload.exp === 'number' && typeof payload.jti === 'string', 'JWT without exp or jti')
      }
      state.header = first.json.access_token.slice(0, first.json.access_token.indexOf('.') + 1)
      await expectInvalidClient(ctx, 'client_credentials (JWT)', CC_BODY)
    },
    load: (ctx, state) => tokenLoad(ctx, CC_BODY, { jwtHeader: state.header }),
  },

  introspection: {
    async prepare(ctx) {
      return { token: await liveToken(ctx) }
    },
    async prove(ctx, state) {
      const r = await post(ctx, ctx.paths.introspect, `token=${encodeURIComponent(state.token)}`)
      expect(r.status === 200, `introspection: HTTP ${r.status}: ${r.text.slice(0, 300)}`)
      expect(/^application\/json\b/i.test(r.headers.get('content-type') ?? ''), 'introspection: not application/json')
      expect(/\bno-store\b/i.test(r.headers.get('cache-control') ?? ''), 'introspection: no Cache-Control: no-store')
      expect(r.json?.active === true, `introspection of a live token: ${r.text.slice(0, 300)}`)
      expect(r.json.scope === SCOPE && r.json.client_id === ctx.clientId, `introspection: scope ${r.json.scope}, client_id ${r.json.client_id}`)
      const unknown = await post(ctx, ctx.paths.introspect, 'token=not-a-token-of-this-server')
      expect(unknown.status === 200 && unknown.json?.active === false, `introspection of an unknown token: ${unknown.text.slice(0, 200)}`)
      const wrong = await post(ctx, ctx.paths.introspect, `token=${encodeURIComponent(state.token)}`, ctx.wrongAuth)
      expect(wrong.status === 401 && wrong.json?.error === 'invalid_client', `introspection with a wrong client secret: HTTP ${wrong.status} ${wrong.text.slice(0, 200)}`)
    },
    load(ctx, state) {
      const clientId = JSON.stringify(ctx.clientId)
      return {
        method: 'POST',
        path: ctx.paths.introspect,
        headers: { ...FORM, Authorization: ctx.auth },
        body: `token=${encodeURIComponent(state.token)}`,
        check(body) {
          let json
          try {
            json = JSON.parse(body)
          } catch {
            return `not JSON: ${body.slice(0, 200)}`
          }
          if (json.active !== true || json.scope !== SCOPE || JSON.stringify(json.client_id) !== clientId) return `not the live token: ${body.slice(0, 200)}`
          return undefined
        },
      }
    },
  },

  resource: {
    async prepare(ctx) {
      return { token: await liveToken(ctx) }
    },
    async prove(ctx, state) {
      const r = await get(ctx, ctx.paths.resource, { Authorization: `Bearer ${state.token}` })
      expect(r.status === 200 && r.json?.client_id === ctx.clientId && r.json.scope === SCOPE, `resource with a live token: HTTP ${r.status} ${r.text.slice(0, 200)}`)
      const none = await get(ctx, ctx.paths.resource, {})
      expect(none.status === 401 && /^bearer\b/i.test(none.headers.get('www-authenticate') ?? ''), `resource without a token: HTTP ${none.status}, WWW-Authenticate ${none.headers.get('www-authenticate')}`)
      const bad = await get(ctx, ctx.paths.resource, { Authorization: 'Bearer not-a-token-of-this-server' })
      expect(bad.status === 401 && /invalid_token/.test(bad.headers.get('www-authenticate') ?? ''), `resource with an unknown token: HTTP ${bad.status}, WWW-Authenticate ${bad.headers.get('www-authenticate')}`)
    },
    load(ctx, state) {
      return {
        method: 'GET',
        path: ctx.paths.resource,
        headers: { Authorization: `Bearer ${state.token}` },
        check(body) {
          let json
          try {
            json = JSON.parse(body)
          } catch {
            return `not JSON: ${body.slice(0, 200)}`
          }
          return json.client_id === ctx.clientId && json.scope === SCOPE ? undefined : `unexpected body: ${body.slice(0, 200)}`
        },
      }
    },
  },

  code: {
    async prove(ctx) {
      const [a, b, c, d] = await ctx.child.call('codes', { count: 4 })
      const first = await post(ctx, ctx.paths.token, codeBody(a))
      expectTokenResponse('authorization_code', first)
      const second = await post(ctx, ctx.paths.token, codeBody(b))
      expectTokenResponse('authorization_code', second)
      expect(first.json.access_token !== second.json.access_token, 'two codes gave the same access token')
      await expectIntrospectedScope(ctx, 'authorization_code token', first.json.access_token)
      await expectInvalidGrant(ctx, 'a code redeemed twice', codeBody(a))
      await expectInvalidGrant(ctx, 'a code with the wrong PKCE verifier', codeBody({ code: c.code, verifier: d.verifier }))
      await expectInvalidClient(ctx, 'authorization_code', codeBody(d))
    },
    load(ctx, state) {
      state.codes = new Pool()
      return {
        ...tokenLoad(ctx, undefined),
        nextBody() {
          const code = state.codes.take()
          if (code !== undefined) return codeBody(code)
          // Out of codes: send one that cannot work, so that the run fails loudly rather than quietly slows down.
          state.exhausted = true
          return codeBody({ code: 'exhausted-pre-issued-codes', verifier: 'x'.repeat(43) })
        },
        exhausted: () => (state.exhausted ? 'authorization codes' : undefined),
      }
    },
    /** In rounds of exactly as many requests as codes were issued, sized from the rate of the round before. */
    async warmup(ctx, state, load) {
      let elapsed = 0
      let count = 200
      let rps = 0
      while (elapsed < settings.warmup_s - 0.1) {
        state.codes.pushAll(await ctx.child.call('codes', { count }))
        const run = await drive(ctx, load, { amount: count, phase: 'warm-up' })
        elapsed += run.activeSeconds
        // The best round: a short one is mostly connection setup and understates the rate.
        rps = Math.max(rps, run.responses / run.activeSeconds)
        count = Math.max(200, Math.ceil(rps * (settings.warmup_s - elapsed) * 1.2))
      }
      return { rps }
    },
    async beforeRound(ctx, state, rps, seconds) {
      // Enough for 4 times the fastest rate seen so far (a server still warming up can run 2.5 times faster once warm)
      // over the round, at least 1,000 a second: running out fails the run.
      const count = Math.ceil(Math.max(4 * rps, 1000) * seconds) + 10 * settings.connections - state.codes.size
      if (count > 0) state.codes.pushAll(await ctx.child.call('codes', { count }))
    },
  },

  refresh: {
    async prepare(ctx) {
      // Each connection chains its refresh tokens; a run leaves the tokens in flight at its end behind, so the pool
      // starts with enough for the warm-up and every measured round, and some more. They come from real code
      // redemptions.
      const codes = await ctx.child.call('codes', { count: (settings.rounds + 4) * settings.connections + 4 })
      const pool = new Pool()
      for (const code of codes) {
        const r = await post(ctx, ctx.paths.token, codeBody(code))
        expectTokenResponse('authorization_code (to get refresh tokens)', r, { refresh: true })
        pool.push(r.json.refresh_token)
      }
      return { pool }
    },
    async prove(ctx, state) {
      const original = state.pool.take()
      const first = await post(ctx, ctx.paths.token, refreshBody(original))
      expectTokenResponse('refresh_token', first, { refresh: true })
      expect(first.json.refresh_token !== original, 'the refresh token was not rotated')
      const second = await post(ctx, ctx.paths.token, refreshBody(first.json.refresh_token))
      expectTokenResponse('refresh_token (chained)', second, { refresh: true })
      expect(second.json.access_token !== first.json.access_token, 'two refreshes gave the same access token')
      await expectIntrospectedScope(ctx, 'refreshed token', second.json.access_token)
      await expectInvalidGrant(ctx, 'a rotated refresh token used again', refreshBody(original))
      await expectInvalidClient(ctx, 'refresh_token', refreshBody(state.pool.take()))
    },
    load(ctx, state) {
      return {
        ...tokenLoad(ctx, undefined, { refreshPool: state.pool }),
        nextBody() {
          const token = state.pool.take()
          if (token !== undefined) return refreshBody(token)
          state.exhausted = true
          return refreshBody('exhausted-refresh-tokens')
        },
        exhausted: () => (state.exhausted ? 'refresh tokens' : undefined),
      }
    },
  },
}

// ---------------------------------------------------------------------------------------------------------------------
// Ratios and the bar of issue 7

/** CPU per response of the whole server: the Node process, plus PostgreSQL's backends when the store is there. */
function totalMicros(row) {
  return row.server_us_per_req + (row.db_us_per_req ?? 0)
}

function find(results, scenario, server, store) {
  return results.find((r) => r.status === 'ok' && r.scenario === scenario && r.server === server && (store === undefined || r.store === store))
}

function bestPeer(results, scenario, by) {
  const peers = results.filter((r) => r.status === 'ok' && r.scenario === scenario && PEERS.includes(r.server))
  if (peers.length === 0) return undefined
  return by === 'rps' ? peers.reduce((a, b) => (b.rps > a.rps ? b : a)) : peers.reduce((a, b) => (totalMicros(b) < totalMicros(a) ? b : a))
}

function evaluateBar(results) {
  const bar = []
  const add = (what, need, row, reference, referenceLabel) => {
    if (row === undefined || reference === undefined) return
    const cpu = totalMicros(reference) / totalMicros(row)
    const rps = row.rps / reference.rps
    bar.push({
      what,
      need,
      oauthkit: `${row.server} (${row.store})`,
      against: referenceLabel ?? `${reference.server} (${reference.store})`,
      cpu_ratio: round(cpu, 2),
      rps_ratio: round(rps, 2),
      met: cpu >= need,
    })
  }
  const cc = (store, server = 'oauthkit') => find(results, 'cc-opaque', server, store)
  const fastestCpu = bestPeer(results, 'cc-opaque', 'cpu')
  add('client_credentials, opaque, memory store ≥ 3× the fastest peer', 3, cc('memory'), fastestCpu)
  add('client_credentials, opaque, memory store ≥ 0.8× the minimal baseline', 0.8, cc('memory'), find(results, 'cc-opaque', 'baseline-minimal'))
  add('client_credentials, SQLite store ≥ 2× the fastest peer', 2, cc('sqlite'), fastestCpu)
  add('client_credentials, SQLite store (ready server) ≥ 2× the fastest peer', 2, cc('sqlite', 'oauthkit-app'), fastestCpu)
  add('client_credentials, PostgreSQL store ≥ 1× the fastest peer (memory)', 1, cc('postgres'), fastestCpu)
  add('ES256 JWT tokens ≥ 2× oidc-provider JWT', 2, find(results, 'cc-jwt', 'oauthkit', 'memory'), find(results, 'cc-jwt', 'oidc-provider'))
  add('ES256 JWT tokens (ready server) ≥ 2× oidc-provider JWT', 2, find(results, 'cc-jwt', 'oauthkit-app'), find(results, 'cc-jwt', 'oidc-provider'))
  add('introspection ≥ 4× oidc-provider introspection', 4, find(results, 'introspection', 'oauthkit', 'memory'), find(results, 'introspection', 'oidc-provider'))
  add('resource check ≥ 4× @node-oauth authenticate()', 4, find(results, 'resource', 'oauthkit', 'memory'), find(results, 'resource', '@node-oauth/oauth2-server'))
  return bar
}

// ---------------------------------------------------------------------------------------------------------------------
// Output

function renderTable(results) {
  const head = ['scenario', 'server', 'store', 'rps', 'p50 ms', 'p99 ms', 'µs/req', 'errors', 'non2xx', '× best peer rps', '× best peer CPU', 'note']
  const rows = results.map((r) => {
    if (r.status !== 'ok') return [r.scenario, r.server, r.store, 'n/a', '', '', '', '', '', '', '', r.note]
    const rpsPeer = bestPeer(results, r.scenario, 'rps')
    const cpuPeer = bestPeer(results, r.scenario, 'cpu')
    const micros = r.db_us_per_req === undefined ? fmt(r.server_us_per_req, 0) : `${fmt(r.server_us_per_req, 0)}+${fmt(r.db_us_per_req, 0)}db`
    return [
      r.scenario,
      r.server,
      r.store,
      fmt(r.rps, 0),
      fmt(r.p50_ms, 2),
      fmt(r.p99_ms, 2),
      micros,
      String(r.errors),
      String(r.non2xx),
      rpsPeer === undefined ? '' : `${fmt(r.rps / rpsPeer.rps, 2)}×`,
      cpuPeer === undefined ? '' : `${fmt(totalMicros(cpuPeer) / totalMicros(r), 2)}×`,
      r.db_us_per_req === undefined ? '' : 'µs/req: Node + PostgreSQL backends',
    ]
  })
  return markdownTable(head, rows, [3, 4, 5, 6, 7, 8, 9, 10])
}

function renderBar(bar) {
  const head = ['the bar (issue 7)', 'oauthkit', 'against', 'CPU ratio', 'rps ratio', 'met']
  const rows = bar.map((b) => [b.what, b.oauthkit, b.against, `${fmt(b.cpu_ratio, 2)}×`, `${fmt(b.rps_ratio, 2)}×`, b.met ? 'yes' : 'NO'])
  return markdownTable(head, rows, [3, 4])
}

function markdownTable(head, rows, rightAligned) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells) => `| ${cells.map((c, i) => (rightAligned.includes(i) ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]))).join(' | ')} |`
  const rule = `| ${widths.map((w, i) => (rightAligned.includes(i) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`
  return [line(head), rule, ...rows.map(line)].join('\n')
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return ''
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function round(value, digits) {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

function git(argv) {
  const result = spawnSync('git', argv, { cwd: ROOT, encoding: 'utf8' })
  return result.status === 0 ? result.stdout.trim() : undefined
}

function machineInfo() {
  const cpus = os.cpus()
  const version = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
    } catch {
      return undefined
    }
  }
  return {
    cpu_model: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    date: new Date().toISOString(),
    load_average_at_start: os.loadavg().map((l) => round(l, 2)),
    oauthkit: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    oauthkit_commit: git(['rev-parse', 'HEAD']),
    src_modified: git(['status', '--porcelain', '--', 'src']) !== '',
    peers: Object.fromEntries(['oidc-provider', '@node-oauth/oauth2-server', 'oauth2orize', 'express', 'autocannon'].map((name) => [name, version(name)])),
  }
}

await main()
