#!/usr/bin/env node
/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, or `npm run bench -- --cpu-prof`): where the server's CPU went.
 *
 *   node bench/profile.mjs bench/profiles/cc-opaque--oauthkit--memory.cpuprofile [--top 25]
 *
 * Prints the functions with the most self time (time spent in the function's own code), then self time by file
 * (oauthkit's dist/ files, each node_modules package, Node's internals), then the inclusive time of oauthkit's
 * functions (time with everything they call), each as a share of the non-idle samples.
 */
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { parseArgs } from 'node:util'

const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true })
const top = Number(values.top ?? 25)
if (positionals.length === 0) {
  console.error('usage: node bench/profile.mjs FILE.cpuprofile [--top N]')
  process.exit(1)
}

function summarize(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  // Sample durations: timeDeltas[i] is the time before sample i.
  const selfTime = new Map()
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0
    selfTime.set(profile.samples[i], (selfTime.get(profile.samples[i]) ?? 0) + delta)
  }
  const idle = new Set(['(idle)', '(program)'])
  let busy = 0
  let idleTime = 0
  for (const [id, time] of selfTime) {
    if (idle.has(nodes.get(id).callFrame.functionName)) idleTime += time
    else busy += time
  }

  const byFunction = new Map()
  const byFile = new Map()
  const byGroup = new Map()
  const inclusive = new Map()
  for (const [id, time] of selfTime) {
    const node = nodes.get(id)
    if (idle.has(node.callFrame.functionName)) continue
    const key = describe(node.callFrame)
    byFunction.set(key, (byFunction.get(key) ?? 0) + time)
    const area = areaOf(node.callFrame)
    byFile.set(area, (byFile.get(area) ?? 0) + time)
    const group = groupOf(node.callFrame)
    byGroup.set(group, (byGroup.get(group) ?? 0) + time)
    // Inclusive time of oauthkit's own functions: each function counted once per sample, however deep the recursion.
    const seen = new Set()
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at).callFrame
      if (!/\/dist\//.test(frame.url)) continue
      const name = describe(frame)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + time)
    }
  }

  const pct = (time) => `${((100 * time) / busy).toFixed(1).padStart(5)}%`
  const ms = (time) => `${(time / 1000).toFixed(0).padStart(6)} ms`
  console.log(`\n${file}`)
  console.log(`busy ${(busy / 1e6).toFixed(2)} s, idle ${(idleTime / 1e6).toFixed(2)} s; shares are of busy time\n`)
  console.log(`top ${top} functions by self time:`)
  for (const [key, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(time)} ${ms(time)}  ${key}`)
  console.log('\nself time by group:')
  for (const [key, time] of [...byGroup].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(time)} ${ms(time)}  ${key}`)
  console.log('\nself time by area:')
  for (const [key, time] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(time)} ${ms(time)}  ${key}`)
  console.log(`\noauthkit functions by inclusive time (with what they call):`)
  for (const [key, time] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(time)} ${ms(time)}  ${key}`)
}

function describe({ functionName, url, lineNumber }) {
  const name = functionName === '' ? '(anonymous)' : functionName
  if (url === '') return name
  return `${name}  ${shorten(url)}:${lineNumber + 1}`
}

function shorten(url) {
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) return path.slice(modules + 1)
  return path.startsWith('/') ? relative(process.cwd(), path) : path
}

function areaOf({ url, functionName }) {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)'
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const rest = path.slice(modules + '/node_modules/'.length).split('/')
    return `node_modules/${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`
  }
  if (path.startsWith('node:')) return path
  if (path.includes('/dist/')) return shorten(path)
  if (path.includes('/bench/')) return shorten(path)
  return path
}

/** Coarse groups of self time, to see at a glance what a request pays for. */
const GROUPS = [
  [/^node:internal\/deps\/undici/, 'Fetch API objects (undici Request, Response, Headers, body mixins)'],
  [/^node:internal\/(webstreams|worker\/js_transferable)/, 'web streams (ReadableStream; makeTransferable on each one)'],
  [/^node:internal\/(abort_controller|event_target)/, 'AbortController / EventTarget'],
  [/^node:(internal\/)?async_hooks/, 'async_hooks (AsyncLocalStorage promise hooks)'],
  [/^node:internal\/crypto\/random/, 'random bytes (crypto)'],
  [/^node:internal\/crypto\/(hash|keys|sig|webcrypto|util|ec|keygen)|^node:internal\/crypto\//, 'crypto (hash, sign, keys)'],
  [/^node:internal\/encoding/, 'TextEncoder / TextDecoder'],
  [/^node:internal\/url/, 'URL'],
  [/^node:internal\/process\/task_queues/, 'promise jobs / nextTick'],
  [/^node:(_http_|internal\/http|net|internal\/stream_base_commons|internal\/streams|stream|events|internal\/timers|timers|buffer)/, 'node:http, net, streams, events'],
  [/\/dist\/adapters\//, 'oauthkit adapters (dist/adapters)'],
  [/\/dist\/store\//, 'oauthkit stores + StoreValidator (dist/store)'],
  [/\/dist\/app\//, 'oauthkit ready server (dist/app)'],
  [/\/dist\//, 'oauthkit core (dist/core, endpoints, grants, tokens)'],
  [/\/node_modules\/better-sqlite3\//, 'better-sqlite3'],
  [/\/node_modules\/(pg|pg-[a-z-]+|pgpass|postgres-[a-z-]+)\//, 'pg driver'],
  [/\/node_modules\/jose\//, 'jose'],
  [/\/node_modules\//, 'other packages'],
  [/\/bench\//, 'bench glue'],
]
const NATIVE_IO = new Set(['writev', 'writeUtf8String', 'writeBuffer', 'writeLatin1String', 'writeAsciiString', 'readStart', 'close', 'shutdown'])

function groupOf({ url, functionName }) {
  if (functionName === '(garbage collector)') return 'garbage collector'
  if (functionName === 'runMicrotasks') return 'promise jobs / nextTick'
  if (url === '') return NATIVE_IO.has(functionName) ? 'socket syscalls (writev, …)' : 'V8 / native builtins (JSON, regexps, …)'
  const path = url.replace(/^file:\/\//, '')
  for (const [pattern, group] of GROUPS) if (pattern.test(path)) return group
  return 'other'
}

for (const file of positionals) summarize(file)
