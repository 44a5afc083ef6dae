/**
 * Fuzzing the running server (issue 8, part 2): the node:http server `oauthkit serve` runs (`createServeServer`, the
 * same function the CLI calls) around `createApp` over SQLite, listening on loopback, fed raw bytes over TCP. Every
 * route, with arbitrary methods, targets, headers (malformed lines included), bodies (invalid UTF-8, huge and deeply
 * repeated parameters, bodies over the 64 KiB cap) and framings (`Content-Length` too short, too long, absurd;
 * chunked, broken chunked; requests pipelined on one connection).
 *
 * Whatever arrives: an answer below 500 within seconds, never an unhandled rejection, never an error in the server's
 * log; a body over the cap answered 413 by every route that reads one; the OAuth endpoints answer JSON on a 4xx; a
 * client that never finishes its request gets 408. Afterwards the server still works, and the tokens and the session
 * from before the run are intact. (The fuzz connects from 127.0.0.1 as a client of its own; the checks afterwards come
 * from 127.0.0.2 as another client, since the fuzz may wear out the rate limits of its own address and client, as it
 * should.)
 *
 * `npm test` runs a fixed seed and a bounded number of cases; `npm run fuzz` (`OAUTHKIT_FUZZ=long`) many more with a
 * random seed, printed. `FUZZ_RUNS=N` and `FUZZ_SEED=S` override either, e.g. to replay a failure.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest, type Server as HttpServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, type App } from '../../src/app/app.js'
import { createServeServer, SERVE_TIMEOUTS } from '../../src/cli.js'
import { DEFAULT_MAX_BODY_BYTES } from '../../src/adapters/fetch.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { contentTypeValue, formBodyOf, nasty, parameterNameOf, parameterValueOf } from '../support/arbitraries.js'
import { exchange, type RawExchange, type RawResponse } from './raw-http.js'

const LONG = process.env.OAUTHKIT_FUZZ === 'long'
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : LONG ? Math.floor(Math.random() * 2 ** 31) : 20261124
/** Cases of the single-request property; the pipelined property runs a quarter as many. */
const RUNS = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : LONG ? 20_000 : 300
/** An answer later than this is a hang. Generous: the machine may be busy with other test files. */
const HANG_MS = 8_000
const CAP = DEFAULT_MAX_BODY_BYTES
/** Short, so that the slow-client cases take a second or two; the defaults are checked on their own. */
const TIMEOUTS = { headersMs: 1_000, requestMs: 1_500, checkIntervalMs: 200 }

const REDIRECT = 'http://127.0.0.1:9/callback'
const PASSWORD = 'correct horse battery staple'
const OAUTH_PATHS = new Set(['/token', '/introspect', '/revoke', '/register'])
/** The protocol endpoints: {@link OAUTH_PATHS}, and a client's configuration endpoint (RFC 7592) under /register. */
function isOAuthPath(pathname: string): boolean {
  return OAUTH_PATHS.has(pathname) || /^\/register\/[^/]+$/.test(pathname)
}
// RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2 and RFC 7591 §3.2.2: the error codes these endpoints may
// answer.
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_token',
  'unsupported_token_type',
  'invalid_client_metadata',
  'invalid_redirect_uri',
])

if (!Number.isSafeInteger(SEED) || !Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error('FUZZ_SEED and FUZZ_RUNS must be integers')
console.log(`fuzz: seed ${SEED}, ${RUNS} single requests and ${Math.ceil(RUNS / 4)} pipelined connections (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS})`)

// -----------------------------------------------------------------------------------------------------------------
// The server, and what a client knows of it

let dir: string
let store: SqliteStore
let app: App | undefined
let server: HttpServer
let port: number
const errorLogs: Record<string, unknown>[] = []
let requestsLogged = 0
/** Requests the app is handling. */
let inFlight = 0
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason)
}

interface Client {
  readonly clientId: string
  readonly clientSecret: string
}
/** The client the fuzz knows: it may fail to authenticate as it, past the per-client rate limit. */
let client: Client
/** A client the fuzz never sees, for the checks afterwards. */
let keptClient: Client

/**
 * Where the setup and the checks afterwards connect from. The fuzz connects from 127.0.0.1 and fails often enough to
 * reach the per-address rate limits (429 by design): another loopback address is another client.
 */
const CHECK_ADDRESS = '127.0.0.2'

/** Tokens and a session the fuzz never sees: they must survive it. */
interface Kept {
  readonly ccToken: string
  readonly accessToken: string
  readonly refreshToken: string
  readonly cookies: Map<string, string>
}
let kept: Kept

/** Tokens, a session and a CSRF pair the fuzz may use (and spend, revoke, sign out). */
interface Known {
  readonly ccToken: string
  readonly accessToken: string
  readonly refreshToken: string
  readonly sessionCookie: string
  readonly csrfCookie: string
  readonly csrfToken: string
  readonly authorizeQuery: string
}
let known: Known

function basic(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** An answer to {@link send}. */
interface Answer {
  readonly status: number
  readonly location: string | undefined
  readonly setCookies: readonly string[]
  readonly text: string
}

/** One request with node:http from {@link CHECK_ADDRESS}; a form is sent urlencoded. */
function send(path: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = init.form === undefined ? undefined : new URLSearchParams(init.form).toString()
  const headers: Record<string, string> = { ...init.headers }
  if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded'
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, localAddress: CHECK_ADDRESS, path, method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers },
      (res) => {
        let text = ''
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookies: res.headers['set-cookie'] ?? [], text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** A cookie jar over {@link send}, redirects not followed: the client of the setup and of the checks afterwards. */
class Browser {
  readonly cookies = new Map<string, string>()

  async request(path: string, form?: Record<string, string>): Promise<Answer> {
    const headers: Record<string, string> = {}
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
    const answer = await send(path, form === undefined ? { headers } : { form, headers })
    for (const cookie of answer.setCookies) {
      const [pair = ''] = cookie.split(';')
      const eq = pair.indexOf('=')
      if (/;\s*Max-Age=0\b/i.test(cookie)) this.cookies.delete(pair.slice(0, eq))
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    return answer
  }
}

function hiddenField(html: string, name: string): string {
  const value = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(html)?.[1]
  if (value === undefined) throw new Error(`no hidden field ${name} in:\n${html}`)
  return value.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
}

function authorizeQuery(of: Client, challenge: string, state: string): string {
  return new URLSearchParams({
    response_type: 'code',
    client_id: of.clientId,
    redirect_uri: REDIRECT,
    scope: 'read write',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
}

function tokenRequest(of: Client, form: Record<string, string>): Promise<Answer> {
  return send('/token', { form, headers: { Authorization: basic(of.clientId, of.clientSecret) } })
}

async function clientCredentialsToken(of: Client): Promise<string> {
  const answer = await tokenRequest(of, { grant_type: 'client_credentials', scope: 'read' })
  expect(answer.status, answer.text).toBe(200)
  return (JSON.parse(answer.text) as { access_token: string }).access_token
}

async function introspect(token: string): Promise<Record<string, unknown>> {
  const answer = await send('/introspect', { form: { token }, headers: { Authorization: basic(keptClient.clientId, keptClient.clientSecret) } })
  expect(answer.status, answer.text).toBe(200)
  return JSON.parse(answer.text) as Record<string, unknown>
}

/**
 * Follows /authorize for `of` with a browser, signing in and consenting when asked (unless `signedIn` says the
 * browser must go straight to the code), and redeems the code.
 */
async function codeFlow(of: Client, browser: Browser, signedIn = false): Promise<{ access_token: string; refresh_token: string }> {
  const { verifier, challenge } = pkce()
  const state = randomBytes(8).toString('hex')
  const authorize = `/authorize?${authorizeQuery(of, challenge, state)}`
  let answer = await browser.request(authorize)
  if (!signedIn && answer.location?.startsWith('/login') === true) {
    const login = await browser.request(answer.location)
    answer = await browser.request('/login', { csrf_token: hiddenField(login.text, 'csrf_token'), return_to: authorize, username: 'alice', password: PASSWORD })
    expect(answer.status, answer.text).toBe(303)
    answer = await browser.request(authorize)
  }
  if (!signedIn && answer.location?.startsWith('/consent') === true) {
    const page = await browser.request(answer.location)
    expect(page.status).toBe(200)
    answer = await browser.request('/consent', { csrf_token: hiddenField(page.text, 'csrf_token'), return_to: authorize, decision: 'allow' })
  }
  expect(answer.status, `${answer.location ?? ''} ${answer.text}`).toBe(302)
  const callback = new URL(answer.location as string)
  expect(callback.searchParams.get('state')).toBe(state)
  const code = callback.searchParams.get('code')
  expect(code).toBeTypeOf('string')
  const token = await tokenRequest(of, { grant_type: 'authorization_code', code: code as string, redirect_uri: REDIRECT, code_verifier: verifier })
  expect(token.status, token.text).toBe(200)
  return JSON.parse(token.text) as { access_token: string; refresh_token: string }
}

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled)
  dir = await mkdtemp(join(tmpdir(), 'oauthkit-fuzz-'))
  store = await SqliteStore.open(join(dir, 'oauthkit.db'))
  const register = async (name: string): Promise<Client> => {
    const created = await store.clients.create({
      name,
      redirectUris: [REDIRECT],
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'],
      scopes: ['read', 'write'],
    })
    return { clientId: created.clientId, clientSecret: created.clientSecret as string }
  }
  client = await register('Fuzzed')
  keptClient = await register('Kept')
  await store.users.create({ username: 'alice', password: PASSWORD })
  // As `oauthkit serve` does: listen first (answering 503 until the app is ready), so that the issuer has the port.
  // The app as the CLI serves it, counting the requests in flight (see checkQuiet).
  let counted: App | undefined
  server = createServeServer({ app: () => counted, trustProxy: false, timeouts: TIMEOUTS })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the server has no port')
  port = address.port
  const created = await createApp({
    store,
    issuer: `http://127.0.0.1:${port}`,
    enablePasswordGrant: true,
    // The rate limiter counts every failure as usual, but refuses the token endpoint only far beyond the defaults:
    // the fuzz fails from one address and as one client thousands of times, and must keep reaching the grants.
    rateLimit: {
      tokenPerClient: { maxFailures: 100_000, windowSeconds: 300 },
      tokenPerAddress: { maxFailures: 100_000, windowSeconds: 300 },
      registrationPerAddress: { maxFailures: 100_000, windowSeconds: 300 },
    },
    registration: { scopes: ['read'] },
    log: (entry) => {
      if (entry.level === 'error') errorLogs.push(entry)
      else requestsLogged++
    },
  })
  app = created
  counted = {
    ...created,
    async fetch(request, connection) {
      inFlight++
      try {
        return await created.fetch(request, connection)
      } finally {
        inFlight--
      }
    },
  }

  // Kept: tokens of another client and a session from before the fuzz, which it never sees.
  const keptBrowser = new Browser()
  const keptFlow = await codeFlow(keptClient, keptBrowser)
  kept = { ccToken: await clientCredentialsToken(keptClient), accessToken: keptFlow.access_token, refreshToken: keptFlow.refresh_token, cookies: keptBrowser.cookies }

  // Known to the fuzz: its own session (consent is already given), tokens and a CSRF pair.
  const fuzzBrowser = new Browser()
  const fuzzFlow = await codeFlow(client, fuzzBrowser)
  const loginPage = await fuzzBrowser.request('/login')
  known = {
    ccToken: await clientCredentialsToken(client),
    accessToken: fuzzFlow.access_token,
    refreshToken: fuzzFlow.refresh_token,
    sessionCookie: fuzzBrowser.cookies.get('oauthkit_session') as string,
    csrfCookie: fuzzBrowser.cookies.get('oauthkit_csrf') as string,
    csrfToken: hiddenField(loginPage.text, 'csrf_token'),
    authorizeQuery: authorizeQuery(client, pkce().challenge, 'fuzz'),
  }
  expect(known.sessionCookie).toBeTypeOf('string')
  expect(known.csrfCookie).toBeTypeOf('string')
}, 60_000)

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await new Promise<void>((resolve) => {
    server?.close(() => resolve())
    server?.closeAllConnections()
  })
  await app?.close()
  await store?.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

// -----------------------------------------------------------------------------------------------------------------
// Requests as bytes

/** How the body is framed on the wire. */
type Framing =
  /** `Content-Length` of the body. */
  | 'length'
  /** `Transfer-Encoding: chunked`, the body cut in a few chunks. */
  | 'chunked'
  /** No framing header: a body, if any, is read as the start of the next request. */
  | 'none'
  /** `Content-Length` shorter than the body: the rest is read as the next request. */
  | 'length-short'
  /** `Content-Length` longer than the body, then the client half-closes. */
  | 'length-long-fin'
  /** `Content-Length` of 100 MB, only the given body sent, the connection kept open. */
  | 'declared-huge'
  /** A chunk size that is not hexadecimal. */
  | 'chunked-bad'
  /** Both `Content-Length` and `Transfer-Encoding: chunked` (request smuggling). */
  | 'both'

type HostChoice = 'valid' | 'localhost' | 'other' | 'missing' | 'twice' | 'port-out-of-range' | 'garbage'

interface FuzzRequest {
  readonly method: string
  readonly target: string
  readonly host: HostChoice
  readonly garbageHost: string
  readonly headers: readonly (readonly [string, string])[]
  /** Lines that are not `name: value` headers at all. */
  readonly malformedLines: readonly string[]
  readonly body: Buffer
  readonly framing: Framing
  readonly chunkCuts: readonly number[]
  readonly close: boolean
}

const VALID_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'])
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function hostValue(request: FuzzRequest): string[] {
  switch (request.host) {
    case 'valid':
      return [`127.0.0.1:${port}`]
    case 'localhost':
      return [`localhost:${port}`]
    case 'other':
      return ['as.example.com']
    case 'missing':
      return []
    case 'twice':
      return [`127.0.0.1:${port}`, 'evil.example']
    case 'port-out-of-range':
      return ['127.0.0.1:99999']
    case 'garbage':
      return [request.garbageHost]
  }
}

function encode(request: FuzzRequest): { bytes: Buffer; halfClose: boolean } {
  const lines: string[] = [`${request.method} ${request.target} HTTP/1.1`]
  for (const host of hostValue(request)) lines.push(`Host: ${host}`)
  for (const [name, value] of request.headers) lines.push(`${name}: ${value}`)
  lines.push(...request.malformedLines)
  if (request.close) lines.push('Connection: close')
  const body = request.body
  let payload: Buffer = Buffer.alloc(0)
  switch (request.framing) {
    case 'length':
      lines.push(`Content-Length: ${body.length}`)
      payload = body
      break
    case 'chunked':
      lines.push('Transfer-Encoding: chunked')
      payload = chunked(body, request.chunkCuts)
      break
    case 'none':
      payload = body
      break
    case 'length-short':
      lines.push(`Content-Length: ${Math.floor(body.length / 2)}`)
      payload = body
      break
    case 'length-long-fin':
      lines.push(`Content-Length: ${body.length + 10}`)
      payload = body
      break
    case 'declared-huge':
      lines.push('Content-Length: 100000000')
      payload = body.subarray(0, 4096)
      break
    case 'chunked-bad':
      lines.push('Transfer-Encoding: chunked')
      payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')])
      break
    case 'both':
      lines.push(`Content-Length: ${body.length}`, 'Transfer-Encoding: chunked')
      payload = chunked(body, request.chunkCuts)
      break
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')
  return { bytes: Buffer.concat([head, payload]), halfClose: request.framing === 'length-long-fin' }
}

function chunked(body: Buffer, cuts: readonly number[]): Buffer {
  const points = [...new Set(cuts.map((cut) => cut % (body.length + 1)))].sort((a, b) => a - b)
  const parts: Buffer[] = []
  let at = 0
  for (const point of [...points, body.length]) {
    if (point <= at) continue
    parts.push(Buffer.from(`${(point - at).toString(16)}\r\n`), body.subarray(at, point), Buffer.from('\r\n'))
    at = point
  }
  parts.push(Buffer.from('0\r\n\r\n'))
  return Buffer.concat(parts)
}

/** The pathname the server routes on, as `new URL(request.url)` gives it; `undefined` for a target it refuses. */
function pathnameOf(target: string): string | undefined {
  // RFC 9112 §3.2.1: origin-form, visible ASCII, no fragment.
  if (!target.startsWith('/') || !/^[\x21-\x7e]*$/.test(target) || target.includes('#')) return undefined
  try {
    return new URL(`http://127.0.0.1${target}`).pathname
  } catch {
    return undefined
  }
}

/** The value of the first header named `name` (any case) the request carries. */
function headerOf(request: FuzzRequest, name: string): string | undefined {
  return request.headers.find(([headerName]) => headerName.toLowerCase() === name)?.[1]
}

/**
 * Whether node:http and the app accept the request as HTTP (and the app, not node:http, answers it): a method the
 * Fetch API takes, an origin-form target, one well-formed Host, well-formed header lines, sane framing.
 */
function wellFormed(request: FuzzRequest): boolean {
  return (
    VALID_METHODS.has(request.method) &&
    pathnameOf(request.target) !== undefined &&
    ['valid', 'localhost', 'other'].includes(request.host) &&
    request.malformedLines.length === 0 &&
    request.headers.every(validHeader) &&
    // node:http answers 431 past 16 KiB of request line and headers.
    Buffer.byteLength(request.target) + headerBytes(request.headers) < 12_000 &&
    // Bytes past the framed body are the start of another request, which node:http may refuse (400) first.
    (['length', 'chunked', 'declared-huge'].includes(request.framing) || (request.framing === 'none' && request.body.length === 0))
  )
}

/** A header node:http and the app take as it is, leaving the framing alone (the request sets that itself). */
function validHeader([name, value]: readonly [string, string]): boolean {
  const lower = name.toLowerCase()
  if (lower === 'expect' && value !== '100-continue') return false
  return TOKEN.test(name) && !/[\x00-\x08\x0a-\x1f\x7f]/.test(value) && !['upgrade', 'transfer-encoding', 'content-length'].includes(lower)
}

function headerBytes(headers: FuzzRequest['headers']): number {
  return headers.reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value) + 4, 0)
}

/**
 * Whether the route reads the body of this request, and so must refuse one over the cap with 413: the protocol
 * endpoints and /authorize for any method with a body, a CORS preflight to /jwks.json, the pages' forms only for a
 * form content type.
 */
function readsBody(request: FuzzRequest): boolean {
  const pathname = pathnameOf(request.target)
  if (pathname === undefined || request.method === 'GET' || request.method === 'HEAD') return false
  if (isOAuthPath(pathname) || ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/userinfo', '/authorize'].includes(pathname)) return true
  // A CORS preflight reads its (normally empty) body too, on every route open to browsers.
  if (request.method === 'OPTIONS' && pathname === '/jwks.json') return true
  const form = (headerOf(request, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
  return request.method === 'POST' && form && ['/login', '/consent', '/logout'].includes(pathname)
}

function overCap(request: FuzzRequest): boolean {
  return request.framing === 'declared-huge' || ((request.framing === 'length' || request.framing === 'chunked') && request.body.length > CAP)
}

// -----------------------------------------------------------------------------------------------------------------
// Arbitraries

/** `text` as a client would put it in a request target: bytes outside visible ASCII percent-encoded, the rest as is. */
function visible(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (byte > 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('')
}

function arbitraries() {
  const parameterNames = fc.constantFrom(
    'grant_type',
    'code',
    'redirect_uri',
    'client_id',
    'client_secret',
    'code_verifier',
    'refresh_token',
    'scope',
    'username',
    'password',
    'token',
    'token_type_hint',
    'response_type',
    'response_mode',
    'state',
    'code_challenge',
    'code_challenge_method',
    'resource',
    'csrf_token',
    'return_to',
    'decision',
  )
  const parameterValues = fc.constantFrom(
    'client_credentials',
    'authorization_code',
    'refresh_token',
    'password',
    'read',
    'write',
    'read write',
    'code',
    'token',
    'S256',
    'plain',
    'allow',
    'deny',
    'alice',
    PASSWORD,
    'access_token',
    'form_post',
    'fragment',
    REDIRECT,
    client.clientId,
    client.clientSecret,
    known.ccToken,
    known.accessToken,
    known.refreshToken,
    known.csrfToken,
    `/authorize?${known.authorizeQuery}`,
    '/',
    '//evil.example',
  )
  const name = parameterNameOf(parameterNames)
  const value = parameterValueOf(parameterValues)
  const formText = formBodyOf(name, value, nasty).map((body) => (typeof body === 'string' ? body : (body?.toString() ?? '')))
  const bytes = (text: string) => Buffer.from(text, 'utf8')
  // Mostly what a client could send (control characters left out, non-ASCII percent-encoded), now and then raw.
  const headerText = fc.oneof({ arbitrary: nasty.map((text) => text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '')), weight: 5 }, { arbitrary: nasty, weight: 1 })
  const targetText = fc.oneof({ arbitrary: nasty.map(visible), weight: 5 }, { arbitrary: nasty.map((text) => text.replace(/[\r\n ]/g, '')), weight: 1 })

  const invalidUtf8 = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((array) => Buffer.from(array)),
    fc
      .tuple(formText, fc.constantFrom([0xff], [0xfe, 0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82]), formText)
      .map(([before, invalid, after]) => Buffer.concat([bytes(before), Buffer.from(invalid), bytes(after)])),
  )
  // The same parameter again and again, up to some 2 MB.
  const repeated = fc.tuple(name, value, fc.constantFrom(2, 50, 1_000, 3_000, 20_000)).map(([repeatedName, repeatedValue, times]) => {
    const pair = `${new URLSearchParams([[repeatedName, repeatedValue]]).toString()}&`
    return bytes(pair.repeat(Math.min(times, Math.ceil(2_000_000 / pair.length))))
  })
  // Around the cap: exactly at it must pass, one byte over must not.
  const sized = fc.constantFrom(CAP - 1, CAP, CAP + 1, 100_000, 1_000_000).map((size) => bytes(`grant_type=client_credentials&scope=${'r'.repeat(size)}`.slice(0, size)))
  // A request each endpoint would take, sometimes with more (repeated, unknown, garbage) parameters after it.
  const csrf = `csrf_token=${encodeURIComponent(known.csrfToken)}`
  const returnTo = `return_to=${encodeURIComponent(`/authorize?${known.authorizeQuery}`)}`
  const validForm = fc.constantFrom(
    'grant_type=client_credentials&scope=read',
    `grant_type=authorization_code&code=${randomBytes(32).toString('base64url')}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_verifier=${pkce().verifier}`,
    `grant_type=refresh_token&refresh_token=${known.refreshToken}`,
    `grant_type=password&username=alice&password=${encodeURIComponent(PASSWORD)}`,
    `token=${known.ccToken}`,
    `token=${known.accessToken}&token_type_hint=access_token`,
    `token=${known.refreshToken}&token_type_hint=refresh_token`,
    `client_id=${client.clientId}&client_secret=${client.clientSecret}&token=${known.ccToken}`,
    `${csrf}&${returnTo}&username=alice&password=wrong`,
    `${csrf}&${returnTo}&username=alice&password=${encodeURIComponent(PASSWORD)}`,
    `${csrf}&${returnTo}&decision=allow`,
    `${csrf}&${returnTo}&decision=deny`,
    csrf,
    known.authorizeQuery,
  )
  const nearValid = fc.tuple(validForm, fc.oneof(fc.constant(''), formText)).map(([form, more]) => bytes(more === '' ? form : `${form}&${more}`))
  const body = fc.oneof(
    { arbitrary: nearValid, weight: 5 },
    { arbitrary: formText.map(bytes), weight: 4 },
    { arbitrary: invalidUtf8, weight: 2 },
    { arbitrary: repeated, weight: 2 },
    { arbitrary: sized, weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json) => bytes(JSON.stringify(json) ?? '')), weight: 1 },
    { arbitrary: fc.constant(Buffer.alloc(0)), weight: 2 },
  )

  const method = fc.oneof(
    { arbitrary: fc.constantFrom('POST', 'POST', 'GET'), weight: 10 },
    { arbitrary: fc.constantFrom('HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'), weight: 3 },
    { arbitrary: fc.constantFrom('post', 'Get', 'TRACE', 'CONNECT', 'PROPFIND', 'FOO', 'GET /x', ''), weight: 1 },
    { arbitrary: nasty.map((text) => text.replace(/[\r\n]/g, '')), weight: 1 },
  )
  const path = fc.oneof(
    {
      arbitrary: fc.constantFrom(
        '/token',
        '/authorize',
        '/introspect',
        '/revoke',
        '/.well-known/oauth-authorization-server',
        '/.well-known/openid-configuration',
        '/userinfo',
        '/jwks.json',
        '/login',
        '/consent',
        '/logout',
        '/healthz',
        '/register',
        '/register/fuzzed-client',
        '/',
      ),
      weight: 6,
    },
    { arbitrary: fc.constantFrom('/jwks', '/userinfo/', '/nope', '/token/', '/TOKEN', '//token', '/a/../token', '/%74oken'), weight: 1 },
  )
  const query = fc.oneof(
    { arbitrary: fc.constant(''), weight: 4 },
    { arbitrary: fc.constant(`?${known.authorizeQuery}`), weight: 3 },
    { arbitrary: fc.constant(`?return_to=${encodeURIComponent(`/authorize?${known.authorizeQuery}`)}`), weight: 1 },
    { arbitrary: fc.array(fc.tuple(name, value.filter((text) => text.length < 2_000)), { maxLength: 6 }).map((pairs) => `?${new URLSearchParams(pairs).toString()}`), weight: 3 },
    { arbitrary: targetText.map((text) => `?${text}`), weight: 3 },
    // Beyond node:http's 16 KiB header limit: 431.
    { arbitrary: fc.constant(`?state=${'x'.repeat(20_000)}`), weight: 1 },
  )
  const target = fc.oneof(
    { arbitrary: fc.tuple(path, query).map(([targetPath, targetQuery]) => `${targetPath}${targetQuery}`), weight: 16 },
    { arbitrary: fc.constantFrom('*', `http://127.0.0.1:${port}/token`, 'token', '/token#frag', '/tok en', '/\u00e9'), weight: 1 },
    { arbitrary: targetText.map((text) => `/${text}`), weight: 1 },
  )

  const cookie = fc.oneof(
    fc.constant(`oauthkit_session=${known.sessionCookie}`),
    fc.constant(`oauthkit_csrf=${known.csrfCookie}`),
    fc.constant(`oauthkit_session=${known.sessionCookie}; oauthkit_csrf=${known.csrfCookie}`),
    fc.constant(`oauthkit_session=${known.sessionCookie.slice(0, -3)}abc; oauthkit_csrf=${known.csrfCookie}`),
    headerText.map((text) => `oauthkit_session=${text}`),
    headerText.map((text) => `oauthkit_csrf=${text}; oauthkit_session=${text}.${text}`),
    fc.constant(`${'a=b; '.repeat(500)}oauthkit_csrf=${known.csrfCookie}`),
    headerText,
  )
  const authorization = fc.oneof(
    fc.constant(basic(client.clientId, client.clientSecret)),
    fc.constant(basic(client.clientId, 'wrong')),
    fc.constant(`Bearer ${known.ccToken}`),
    fc.constant('Basic'),
    fc.constant('Basic !!!'),
    fc.constantFrom('Bearer', 'Digest x', 'basic ' + Buffer.from(':').toString('base64')),
    nasty.map((text) => `Basic ${Buffer.from(text).toString('base64')}`),
    headerText,
  )
  const header: fc.Arbitrary<readonly [string, string]> = fc.oneof(
    { arbitrary: fc.tuple(fc.constantFrom('Content-Type', 'content-type'), contentTypeValue), weight: 5 },
    { arbitrary: fc.tuple(fc.constantFrom('Authorization', 'authorization'), authorization), weight: 4 },
    { arbitrary: fc.tuple(fc.constant('Cookie'), cookie), weight: 3 },
    { arbitrary: fc.tuple(fc.constantFrom('Accept', 'Accept-Encoding', 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Origin', 'Referer'), headerText), weight: 2 },
    { arbitrary: fc.constant(['Expect', '100-continue'] as const), weight: 1 },
    { arbitrary: fc.constantFrom(['Expect', 'teapot'] as const, ['Upgrade', 'websocket'] as const, ['Transfer-Encoding', 'gzip'] as const, ['Content-Encoding', 'gzip'] as const), weight: 1 },
    { arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((text) => TOKEN.test(text)), headerText.map((text) => text.replace(/[\r\n]/g, ''))), weight: 2 },
    // Beyond node:http's header limit: 431.
    { arbitrary: fc.constant(['X-Big', 'y'.repeat(20_000)] as const), weight: 1 },
  )
  const malformedLine = fc.constantFrom('NoColonHere', ' folded: continuation', 'Space-Before-Colon : x', 'X-Nul: a\u0000b', 'X-CR: a\rb', ': empty-name', '\u00e9: non-ascii-name')

  const raw: fc.Arbitrary<FuzzRequest> = fc
    .record({
      method,
      target,
      host: fc.oneof(
        { arbitrary: fc.constant<HostChoice>('valid'), weight: 12 },
        { arbitrary: fc.constantFrom<HostChoice>('localhost', 'other', 'missing', 'twice', 'port-out-of-range', 'garbage'), weight: 2 },
      ),
      garbageHost: nasty.map((text) => text.replace(/[\r\n]/g, '')),
      // Mostly a form content type and the client's credentials, then anything.
      headers: fc
        .tuple(
          fc.option(fc.constantFrom('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=UTF-8'), { freq: 3 }),
          fc.option(authorization, { freq: 2 }),
          fc.option(cookie, { freq: 2 }),
          fc.array(header, { maxLength: 4 }),
        )
        .map(([type, credentials, cookies, more]) => [
          ...(type === null ? [] : [['Content-Type', type] as const]),
          ...(credentials === null ? [] : [['Authorization', credentials] as const]),
          ...(cookies === null ? [] : [['Cookie', cookies] as const]),
          ...more,
        ]),
      malformedLines: fc.oneof({ arbitrary: fc.constant([]), weight: 12 }, { arbitrary: fc.array(malformedLine, { minLength: 1, maxLength: 2 }), weight: 1 }),
      body,
      framing: fc.oneof(
        { arbitrary: fc.constant<Framing>('length'), weight: 10 },
        { arbitrary: fc.constant<Framing>('chunked'), weight: 3 },
        { arbitrary: fc.constantFrom<Framing>('none', 'length-short', 'length-long-fin', 'declared-huge', 'chunked-bad', 'both'), weight: 3 },
      ),
      chunkCuts: fc.array(fc.nat(), { maxLength: 4 }),
      close: fc.boolean(),
    })
    .map(described)

  /** The same request made well-formed (see {@link wellFormed}), so that most cases reach the app. */
  const tidy = (one: FuzzRequest, framings: readonly Framing[]): FuzzRequest => {
    const fixed: FuzzRequest = {
      ...one,
      method: VALID_METHODS.has(one.method) ? one.method : 'POST',
      target: pathnameOf(one.target) === undefined || one.target.length > 8_000 ? '/token' : one.target,
      host: 'valid',
      headers: one.headers.filter((entry) => validHeader(entry) && headerBytes([entry]) < 4_000),
      malformedLines: [],
      framing: framings.includes(one.framing) ? one.framing : 'length',
    }
    return described(fixed)
  }
  const request = fc.oneof(
    { arbitrary: raw.map((one) => tidy(one, ['length', 'chunked', 'none', 'length-short', 'declared-huge'])), weight: 2 },
    { arbitrary: raw, weight: 1 },
  )
  // For one keep-alive connection: well-formed requests only, so that every one of them is answered in turn.
  const pipelined = fc.array(
    raw.map((one) => tidy({ ...one, close: false }, ['length', 'chunked'])),
    { minLength: 2, maxLength: 4 },
  )
  return { request, pipelined }
}

// -----------------------------------------------------------------------------------------------------------------
// What every answer must be

/** A counterexample is printed short: the huge bodies and values would drown it. */
function described(request: FuzzRequest): FuzzRequest {
  return Object.assign({ ...request }, { [fc.toStringMethod]: () => describeRequest(request) })
}

function describeRequest(request: FuzzRequest): string {
  return `${JSON.stringify(request.method)} ${JSON.stringify(request.target.slice(0, 200))} host=${request.host} framing=${request.framing} body=${request.body.length}B headers=${JSON.stringify(request.headers.map(([name, value]) => [name, value.slice(0, 80)]))}${request.malformedLines.length > 0 ? ` malformed=${JSON.stringify(request.malformedLines)}` : ''}`
}

function header(response: RawResponse, name: string): string | undefined {
  return response.headers.get(name)?.[0]
}

/** The checks of one answer to one request. */
function checkAnswer(request: FuzzRequest, response: RawResponse, context: string): void {
  expect(response.status, context).toBeGreaterThanOrEqual(200)
  expect(response.status, `a 5xx: ${context}\n${response.body.toString('utf8').slice(0, 500)}`).toBeLessThan(500)
  if (!wellFormed(request)) return
  if (overCap(request) && readsBody(request)) expect(response.status, `a body over the cap must be refused with 413: ${context}`).toBe(413)
  else expect(response.status, `only a body over the cap is 413: ${context}`).not.toBe(413)
  const pathname = pathnameOf(request.target) as string
  if (request.method === 'HEAD' || response.status < 400) return
  const type = header(response, 'content-type') ?? ''
  if (isOAuthPath(pathname)) {
    // RFC 6749 §5.2: an error is JSON with `error`; a failure outside OAuth (413) is RFC 9457 problem details, which a
    // client cannot mistake for an answer of the protocol.
    let json: Record<string, unknown>
    try {
      json = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>
    } catch {
      throw new Error(`a ${response.status} that is not JSON (${type}): ${JSON.stringify(response.body.toString('utf8').slice(0, 300))}: ${context}`)
    }
    if (type.startsWith('application/problem+json')) expect(json.status, context).toBe(response.status)
    else if (response.status === 429) {
      // The ready server's rate limits (src/app/rate-limit.ts): the fuzz fails often enough from one address.
      expect(pathname, context).toBe('/token')
      expect(json.error, context).toBe('temporarily_unavailable')
      expect(Number(header(response, 'retry-after')), context).toBeGreaterThan(0)
    } else {
      expect(type, context).toMatch(/^application\/json/)
      expect(OAUTH_ERRORS.has(json.error as string), `an RFC error code, got ${JSON.stringify(json)}: ${context}`).toBe(true)
    }
    expect(header(response, 'cache-control'), context).toBe('no-store')
  }
}

/**
 * After each case, once the app has finished every request it started (those the client or node:http gave up on
 * included): nothing unhandled, nothing logged as an error. Both lists are emptied, so that a failure is blamed on the
 * case that caused it.
 */
async function checkQuiet(context: string): Promise<void> {
  const deadline = performance.now() + HANG_MS
  while (inFlight > 0) {
    if (performance.now() > deadline) throw new Error(`the app still handles ${inFlight} requests ${HANG_MS} ms later (a hang): ${context}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const rejections = unhandled.splice(0)
  const logged = errorLogs.splice(0)
  expect(rejections, `unhandled rejection after ${context}`).toEqual([])
  expect(logged, `the server logged an error after ${context}: ${JSON.stringify(logged).slice(0, 500)}`).toEqual([])
}

/** Forgets what a failed case (which threw before {@link checkQuiet}) left behind, so that the next is judged alone. */
function newCase(): void {
  unhandled.length = 0
  errorLogs.length = 0
}

async function sendOne(request: FuzzRequest): Promise<RawExchange> {
  const { bytes, halfClose } = encode(request)
  return exchange(port, bytes, { heads: [request.method === 'HEAD'], halfClose, timeoutMs: HANG_MS })
}

// -----------------------------------------------------------------------------------------------------------------
// The properties

describe('oauthkit serve under fuzzing', () => {
  it(`answers every request below 500, in time, without unhandled rejections (${RUNS} cases, seed ${SEED})`, async () => {
    const { request } = arbitraries()
    const seen: Record<string, number> = {}
    const count = (key: string) => (seen[key] = (seen[key] ?? 0) + 1)
    await fc.assert(
      fc.asyncProperty(request, async (fuzzed) => {
        newCase()
        const result = await sendOne(fuzzed)
        const context = describeRequest(fuzzed)
        count(result.ending)
        count(`${wellFormed(fuzzed) ? 'well-formed' : 'malformed'} ${result.responses[0]?.status ?? 'none'}`)
        expect(result.malformed, context).toBeUndefined()
        expect(result.ending, `no answer within ${HANG_MS} ms (a hang): ${context}`).not.toBe('timeout')
        const [response] = result.responses
        if (response === undefined) {
          // node:http closes a CONNECT nobody handles; otherwise only a connection the server refused as HTTP may end
          // without an answer, when the server's 400 was lost to a reset while the client was still sending.
          expect(wellFormed(fuzzed) && fuzzed.method !== 'CONNECT', `closed without an answer (${result.error ?? 'no error'}): ${context}`).toBe(false)
        } else checkAnswer(fuzzed, response, context)
        await checkQuiet(context)
      }),
      { seed: SEED, numRuns: RUNS },
    )
    console.log(`fuzz: ${requestsLogged} requests reached the app; ${JSON.stringify(seen)}`)
  }, 60_000 + RUNS * 200)

  it(`answers every request pipelined on one keep-alive connection, in order (${Math.ceil(RUNS / 4)} connections)`, async () => {
    const { pipelined } = arbitraries()
    await fc.assert(
      fc.asyncProperty(pipelined, async (requests) => {
        newCase()
        const bytes = Buffer.concat(requests.map((one) => encode(one).bytes))
        const result = await exchange(port, bytes, { heads: requests.map((one) => one.method === 'HEAD'), timeoutMs: HANG_MS })
        const context = requests.map(describeRequest).join('\n  ')
        expect(result.malformed, context).toBeUndefined()
        expect(result.ending, `not every request was answered (${result.error ?? 'no error'}, ${result.responses.length} answers):\n  ${context}`).toBe('answered')
        result.responses.forEach((response, index) => checkAnswer(requests[index] as FuzzRequest, response, `request ${index + 1} of:\n  ${context}`))
        await checkQuiet(context)
      }),
      { seed: SEED + 1, numRuns: Math.ceil(RUNS / 4) },
    )
  }, 60_000 + RUNS * 200)
})

describe('oauthkit serve and the body cap', () => {
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' }
  const routes: [string, string, Record<string, string>][] = [
    ['POST', '/token', form],
    ['POST', '/introspect', form],
    ['POST', '/revoke', form],
    ['POST', '/authorize', form],
    ['POST', '/login', form],
    ['POST', '/consent', form],
    ['POST', '/logout', form],
    ['PUT', '/token', {}],
  ]
  it.each(routes)('%s %s: 413 one byte over the cap, with Content-Length or chunked; not at the cap', async (method, path, headers) => {
    const request = (size: number, framing: Framing): FuzzRequest => ({
      method,
      target: path,
      host: 'valid',
      garbageHost: '',
      headers: Object.entries(headers),
      malformedLines: [],
      body: Buffer.from(`scope=${'r'.repeat(size)}`.slice(0, size)),
      framing,
      chunkCuts: [1_000, 40_000],
      close: false,
    })
    for (const framing of ['length', 'chunked'] as const) {
      const over = await sendOne(request(CAP + 1, framing))
      expect(over.responses[0]?.status, framing).toBe(413)
      expect(JSON.parse(over.responses[0]?.body.toString('utf8') ?? '')).toMatchObject({ status: 413 })
      const at = await sendOne(request(CAP, framing))
      // Refused for what it says (400, 401, 403; 429 once the fuzz has worn out the rate limits), never for its size.
      expect(at.responses[0]?.status, framing).toBeGreaterThanOrEqual(200)
      expect(at.responses[0]?.status, framing).toBeLessThan(500)
      expect(at.responses[0]?.status, framing).not.toBe(413)
    }
    const declared = await sendOne(request(10, 'declared-huge'))
    expect(declared.responses[0]?.status).toBe(413)
    await checkQuiet(`${method} ${path}`)
  })
})

// Concurrently: each waits out the server's timeouts.
describe.concurrent('oauthkit serve and clients that never finish', () => {
  const partial = (text: string, halfClose = false) => exchange(port, Buffer.from(text), { heads: [false], halfClose, timeoutMs: HANG_MS })
  const head = (path: string, extra = '') => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n${extra}`

  const expectTimedOut = (result: RawExchange) => {
    expect(result.ending).toBe('answered')
    expect(result.responses[0]?.status).toBe(408)
    expect(result.responses[0]?.headers.get('connection')).toEqual(['close'])
  }

  it('gives up on headers that never end: 408, then closes', async () => {
    expectTimedOut(await partial(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `))
  })

  it.each(['/token', '/authorize', '/login', '/logout'])('gives up on a body that never ends at %s: 408, then closes', async (path) => {
    const [lengthy, chunky] = await Promise.all([partial(`${head(path, 'Content-Length: 100\r\n')}\r\nscope=read`), partial(`${head(path, 'Transfer-Encoding: chunked\r\n')}\r\n5\r\nscope\r\n`)])
    expectTimedOut(lengthy)
    expectTimedOut(chunky)
    await checkQuiet(path)
  })

  it('answers 400 to a body cut short by the client (Content-Length larger than what was sent)', async () => {
    const result = await partial(`${head('/token', 'Content-Length: 100\r\n')}\r\ngrant_type=client_credentials`, true)
    expect(result.responses[0]?.status).toBe(400)
    await checkQuiet('a body cut short')
  })

  it('closes a connection that never sends a byte', async () => {
    const result = await partial('')
    expect(result.ending).not.toBe('timeout')
    expect(result.responses.every((response) => response.status === 408)).toBe(true)
  })

  it('waits 10 s for headers, 30 s for a whole request and 30 s of silence when not told otherwise (node:http: 60 s, 5 min, never)', () => {
    const plain = createServeServer({ app: () => undefined, trustProxy: false })
    expect(SERVE_TIMEOUTS).toEqual({ headersMs: 10_000, requestMs: 30_000, checkIntervalMs: 1_000, idleMs: 30_000 })
    expect(plain.headersTimeout).toBe(SERVE_TIMEOUTS.headersMs)
    expect(plain.requestTimeout).toBe(SERVE_TIMEOUTS.requestMs)
    // A connection that sends nothing is closed after 30 s of silence (node's default: never), and at most 10,000
    // are open at once (issue 16, item 6).
    expect(plain.timeout).toBe(30_000)
    expect(plain.maxConnections).toBe(10_000)
  })
})

describe('oauthkit serve after the fuzzing', () => {
  it('still issues and introspects tokens, and kept the tokens and the session from before', async () => {
    const token = await clientCredentialsToken(keptClient)
    expect(await introspect(token)).toMatchObject({ active: true, client_id: keptClient.clientId, scope: 'read' })
    for (const before of [kept.ccToken, kept.accessToken]) expect(await introspect(before)).toMatchObject({ active: true, client_id: keptClient.clientId })
    const refreshed = await tokenRequest(keptClient, { grant_type: 'refresh_token', refresh_token: kept.refreshToken })
    expect(refreshed.status, refreshed.text).toBe(200)
    // The session from before still signs the user in, consent remembered: straight to the code.
    const browser = new Browser()
    for (const [name, value] of kept.cookies) browser.cookies.set(name, value)
    const flow = await codeFlow(keptClient, browser, true)
    expect(await introspect(flow.access_token)).toMatchObject({ active: true, username: 'alice' })
    expect((await send('/healthz')).status).toBe(200)
    await checkQuiet('the checks afterwards')
  })
})
