/**
 * The ready-to-run authorization server: a `Server` over a `Store`, with login and consent pages, served as one
 * Fetch API handler (`(Request) => Promise<Response>`) built on the `oauthkit/fetch` adapter.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import {
  AccessDeniedError,
  OAuth2Error,
  randomTokenGenerator,
  Server,
  signedTokenGenerator,
  type TokenGenerator,
} from '../index.js'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { directHandlerOf, type DirectHandler, type DirectRequest } from '../adapters/direct.js'
import { createFetchHandler, DEFAULT_MAX_BODY_BYTES, DEFAULT_PATHS, HttpError, readRequest, toResponse } from '../adapters/fetch.js'
import { serveNodeRequest } from '../adapters/node.js'
import { nodeSigner } from '../adapters/node-signer.js'
import { type RequestHeaders } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type Store } from '../store/store.js'
import { StoreValidator } from '../store/validator.js'
import { SigningKeys } from './keys.js'
import { consentPage, errorPage, homePage, loginPage, logoutPage, PAGE_HEADERS } from './pages.js'
import { Sessions } from './session.js'
import { RateLimiter, type RateLimitOptions } from './rate-limit.js'

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Where clients, users, codes, tokens, consents and signing keys live. */
  readonly store: Store
  /**
   * The issuer identifier and public origin, e.g. `https://as.example.com`: every URL of the metadata is under it.
   * Plain `http` only on loopback (development).
   */
  readonly issuer: string
  /** `opaque` (default): random tokens checked through the store; `jwt`: RFC 9068 tokens signed with the store's keys. */
  readonly tokenFormat?: 'opaque' | 'jwt' | undefined
  /** Access token lifetime in seconds; default one hour. */
  readonly tokenExpiresIn?: number | undefined
  /**
   * Signs session cookies and CSRF tokens (at least 32 bytes). Give every instance behind a load balancer the same
   * one; default a random secret per process, so sessions end with a restart.
   */
  readonly sessionSecret?: Uint8Array | undefined
  /**
   * Rate limiting of failed sign-ins and failed token requests, counted in the store (shared by every instance over
   * one database): past a limit, 429 with `Retry-After`. Defaults: sign-ins 5 failures per 15 minutes per username
   * and per address; token requests 20 failed client authentications per 5 minutes per client and 100 failures per
   * 5 minutes per address (see {@link RateLimitOptions}). `false` turns it off: no counter is read or written.
   */
  readonly rateLimit?: RateLimitOptions | false | undefined
  /**
   * Receives one structured entry per request (never a query string, which may hold a code) and every server error.
   * Default: one JSON line each on stdout, written in batches once per turn of the event loop.
   */
  readonly log?: ((entry: Record<string, unknown>) => void) | undefined
}

/** What the handler knows of the connection, which a `Request` does not carry. */
export interface ConnectionInfo {
  /**
   * The client's address, for the per-address rate limits (without it they do not apply). Behind a proxy, the address
   * the proxy saw, never one the client could forge.
   */
  readonly remoteAddress?: string | undefined
}

/** The running application. */
export interface App {
  /** Handles one HTTP request. Never rejects. */
  fetch(request: Request, connection?: ConnectionInfo): Promise<Response>
  /**
   * A node:http request listener serving this app, as `oauthkit serve` does: the protocol endpoints (`/token`,
   * `/revoke`, `/introspect`, the metadata) answered straight from node:http, without a Fetch `Request` and
   * `Response`; the pages through {@link App.fetch}. The client's address is the connection's or, with `trustProxy`,
   * the last `X-Forwarded-For` entry (the one the proxy appended; earlier ones are the client's to forge).
   *
   * @param options - `trustProxy`: the request is rebuilt from `X-Forwarded-Proto`/`-Host`/`-For`; set it only behind
   *   a proxy that overwrites them
   * @example
   * ```ts
   * createServer(app.nodeListener()).listen(3000, '127.0.0.1')
   * ```
   */
  nodeListener(options?: { readonly trustProxy?: boolean | undefined }): (req: IncomingMessage, res: ServerResponse) => void
  /** The OAuth server inside, for embedding. */
  readonly server: Server
  readonly validator: StoreValidator
  readonly keys: SigningKeys
  /** Stops background work (purging); the store is the caller's to close. */
  close(): Promise<void>
}

/** The access token lifetime of the ready server, in seconds, unless `tokenExpiresIn` says otherwise. */
export const DEFAULT_TOKEN_EXPIRES_IN = 3600

/**
 * Builds the ready-to-run server: `/authorize`, `/token`, `/revoke`, `/introspect`, `/jwks.json`,
 * `/.well-known/oauth-authorization-server`, `/login`, `/consent`, `/logout`, `/healthz` and a home page at `/`.
 *
 * @throws TypeError when the issuer is not an https URL (or http on loopback) without path, query or fragment
 */
export async function createApp(options: AppOptions): Promise<App> {
  const issuer = checkIssuer(options.issuer)
  const secure = new URL(issuer).protocol === 'https:'
  const stdout = options.log === undefined ? stdoutLines() : undefined
  const log = options.log ?? ((entry) => stdout?.write(JSON.stringify(entry)))
  const tokenExpiresIn = options.tokenExpiresIn ?? DEFAULT_TOKEN_EXPIRES_IN
  const keys = await SigningKeys.load(options.store, { maxTokenLifetime: tokenExpiresIn })
  const validator = new StoreValidator(options.store, { issuer })
  const server = new Server(validator, {
    issuer,
    tokenExpiresIn,
    tokenGenerator: options.tokenFormat === 'jwt' ? jwtGenerator(keys, issuer) : randomTokenGenerator,
    // Behind a TLS-terminating proxy the request URL is rebuilt as https (trustProxy); plain http is loopback only.
    allowInsecureTransport: !secure,
    metadata: { jwks_uri: `${issuer}/jwks.json` },
    onError: (error) => log({ level: 'error', message: 'server error', error: describe(error) }),
  })
  const sessions = new Sessions({ secret: options.sessionSecret ?? randomBytes(32), secure })
  const limiter = RateLimiter.create(options.store.rateLimits, options.rateLimit, log, (error) => options.store.isUnavailableError(error))
  const protocol = createFetchHandler(server)
  const stopPurging = validator.startPurging(600, (error) => log({ level: 'error', message: 'purge failed', error: describe(error) }))

  const pages = new Pages(server, validator, options.store, sessions, limiter, issuer)

  const protocolDirect = directHandlerOf(protocol) as DirectHandler
  /** The protocol endpoints, for {@link App.nodeListener}: the same answers as through `fetch`, logged the same way. */
  const direct: DirectHandler = async (request) => {
    const path = request.pathname
    if (!PROTOCOL_PATHS.has(path)) return undefined
    const started = performance.now()
    let response: OAuth2Response
    if (path === '/token' && limiter !== undefined) {
      // The body is read once: the limiter looks at the client_id and username in it, then the endpoint gets it.
      let body: Promise<string | undefined> | undefined
      // Named fields: V8 builds `{ ...request, readBody }` on a slow path.
      const once: DirectRequest = {
        href: request.href,
        pathname: request.pathname,
        method: request.method,
        remoteAddress: request.remoteAddress,
        headers: request.headers,
        readBody: (cap) => (body ??= request.readBody(cap)),
        toRequest: () => request.toRequest(),
        aborted: () => request.aborted(),
      }
      const issue = async () => (await protocolDirect(once)) as OAuth2Response
      const text = await once.readBody(DEFAULT_MAX_BODY_BYTES).then(
        (body) => ({ body }),
        () => undefined,
      )
      // A body over the cap or cut short gets the endpoint's own answer to it (413, or none for a client gone).
      response = text === undefined ? await issue() : await limiter.token(text.body, firstHeader(request.headers, 'authorization'), request.remoteAddress, issue)
    } else response = (await protocolDirect(request)) as OAuth2Response
    logRequest(request.method, path, response.status, started, request.remoteAddress)
    return response
  }

  function logRequest(method: string, path: string, status: number, started: number, remote: string | undefined): void {
    // One line per request; the path only, since a query may carry a code or state.
    log({ time: isoNow(), method, path, status, ms: Math.round((performance.now() - started) * 10) / 10, remote })
  }

  /** `/token` under the rate limits: counters checked before the endpoint runs, failures counted after. */
  async function limitedToken(request: Request, connection: ConnectionInfo, rateLimiter: RateLimiter): Promise<Response> {
    const { uri, httpMethod, body, headers } = await readRequest(request)
    const issue = () => server.createTokenResponse(uri, httpMethod, body, headers)
    return toResponse(await rateLimiter.token(body, headers.get('authorization'), connection.remoteAddress, issue), httpMethod)
  }

  async function route(request: Request, connection: ConnectionInfo): Promise<Response> {
    const { pathname } = new URL(request.url)
    switch (pathname) {
      case '/authorize':
        return pages.authorize(request)
      case '/login':
        return pages.login(request, connection)
      case '/consent':
        return pages.consent(request)
      case '/logout':
        return pages.logout(request)
      case '/jwks.json':
        return toResponse(keys.jwksResponse())
      case '/healthz':
        return health(options.store)
      case '/token':
        return limiter === undefined ? protocol(request) : limitedToken(request, connection, limiter)
      case '/':
        return pages.home(request)
      default:
        return protocol(request)
    }
  }

  const app: App = {
    server,
    validator,
    keys,
    async fetch(request, connection = {}) {
      const started = performance.now()
      let response: Response
      try {
        response = await route(request, connection)
      } catch (error) {
        // A page's form body over the cap is the client's fault (413), as at the protocol endpoints.
        if (error instanceof HttpError) response = error.toResponse()
        else {
          // The client went away while its body was read: nobody sees the answer, and nothing failed here.
          if (!request.signal.aborted) log({ level: 'error', message: 'request failed', error: describe(error) })
          response = page(500, errorPage('Something went wrong', 'The server could not complete the request. Please try again.'))
        }
      }
      logRequest(request.method, new URL(request.url).pathname, response.status, started, connection.remoteAddress)
      return response
    },
    nodeListener({ trustProxy = false } = {}) {
      const onError = (error: unknown) => log({ level: 'error', message: 'request failed', error: describe(error) })
      return (req, res) => {
        const remoteAddress = clientAddress(req, trustProxy)
        void serveNodeRequest(direct, (request) => app.fetch(request, { remoteAddress }), req, res, { trustProxy, remoteAddress, onError })
      }
    },
    async close() {
      stopPurging()
      keys.stop()
      stdout?.close()
    },
  }
  return app
}

/**
 * The current time as ISO 8601 text, formatted once per millisecond: under load, many log lines share one (building
 * it took a third of a log line's CPU).
 */
function isoNow(): string {
  const ms = Date.now()
  if (ms !== isoMs) {
    isoMs = ms
    isoText = new Date(ms).toISOString()
  }
  return isoText
}
let isoMs = Number.NaN
let isoText = ''

/**
 * Lines for stdout, written once per turn of the event loop (or every 64 KiB) instead of once each: on Node a write to
 * stdout is a system call, made synchronously for a file or a pipe, and one per request cost more than most of the
 * request. Whatever is pending is written when the process exits and by `close`.
 */
function stdoutLines(): { write(line: string): void; close(): void } {
  let pending = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === '') return
    const chunk = pending
    pending = ''
    process.stdout.write(chunk)
  }
  if (!exitHooked) {
    exitHooked = true
    process.once('exit', () => pendingAtExit.forEach((flushOne) => flushOne()))
  }
  pendingAtExit.add(flush)
  return {
    write(line) {
      pending += `${line}\n`
      if (pending.length >= 65_536) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    close() {
      flush()
      pendingAtExit.delete(flush)
    },
  }
}
/** The flushes of the apps not closed yet, run by one `exit` listener. */
const pendingAtExit = new Set<() => void>()
let exitHooked = false

/** The login, consent and sign-out flow around the authorization endpoint. */
class Pages {
  constructor(
    private readonly server: Server,
    private readonly validator: StoreValidator,
    private readonly store: Store,
    private readonly sessions: Sessions,
    private readonly limiter: RateLimiter | undefined,
    private readonly issuer: string,
  ) {}

  /**
   * `/authorize`: verifies the request, sends the user to sign in and to consent when needed, then redirects to the
   * client with the code (or the error).
   */
  async authorize(request: Request): Promise<Response> {
    const { uri, httpMethod, body, headers } = await readRequest(request)
    let validated
    try {
      validated = await this.server.validateAuthorizationRequest(uri, httpMethod, body, headers)
    } catch (error) {
      if (error instanceof OAuth2Error && error.redirectable) {
        return toResponse(await this.server.createAuthorizationErrorResponse(uri, httpMethod, body, headers, error))
      }
      return this.shownError(error)
    }
    // Sign-in and consent come back to the same request as a GET, whatever its method was (RFC 6749 §3.1).
    const returnTo = `/authorize?${httpMethod === 'POST' ? (body ?? '') : new URL(uri).search.slice(1)}`
    const session = await this.signedIn(request)
    if (session === undefined) return redirect(`/login?return_to=${encodeURIComponent(returnTo)}`)
    const { client } = validated.credentials
    if (!(await this.validator.hasConsent(client.clientId, session.userId, validated.scopes))) {
      return redirect(`/consent?return_to=${encodeURIComponent(returnTo)}`)
    }
    return toResponse(await this.server.createAuthorizationResponse(uri, httpMethod, body, headers, validated.scopes, { userId: session.userId }))
  }

  /** `/login`: the form, and signing in under the rate limits per username and per address. */
  async login(request: Request, connection: ConnectionInfo): Promise<Response> {
    if (request.method === 'GET') {
      const returnTo = localReturnTo(new URL(request.url).searchParams.get('return_to'))
      const csrf = this.sessions.csrf(request)
      return page(200, loginPage({ csrf: csrf.token, returnTo }), csrf.setCookie)
    }
    if (request.method !== 'POST') return methodNotAllowed('GET, POST')
    const form = await formOf(request)
    const returnTo = localReturnTo(form.get('return_to'))
    const csrf = this.sessions.csrf(request)
    if (!this.sessions.checkCsrf(request, form.get('csrf_token'))) {
      return page(403, loginPage({ csrf: csrf.token, returnTo, error: 'Your session expired. Please try again.' }), csrf.setCookie)
    }
    const username = form.get('username') ?? ''
    const address = connection.remoteAddress
    // Checked before the password is hashed: a blocked attempt costs no scrypt.
    let wait: number
    try {
      wait = (await this.limiter?.loginWait(username, address)) ?? 0
    } catch {
      // The database cannot be reached (the limiter rethrows nothing else): no sign-in can succeed now.
      return page(503, errorPage('Temporarily unavailable', 'The server cannot sign you in right now. Please try again in a moment.'), undefined, { 'Retry-After': '5' })
    }
    if (wait > 0) {
      return page(429, loginPage({ csrf: csrf.token, returnTo, username, error: `Too many failed attempts. Try again in ${wait} seconds.` }), undefined, {
        'Retry-After': String(wait),
      })
    }
    const user = username === '' ? undefined : await this.store.users.authenticate(username, form.get('password') ?? '')
    if (user === undefined) {
      await this.limiter?.loginFailed(username, address)
      return page(401, loginPage({ csrf: csrf.token, returnTo, username, error: 'The username or password is incorrect.' }))
    }
    await this.limiter?.loginSucceeded(username)
    // A new session id (and CSRF cookie) on every sign-in: a session fixed before login is worthless.
    return redirect(returnTo, this.sessions.start(user.userId))
  }

  /** `/consent`: names the client and the scopes, and answers Allow or Deny. */
  async consent(request: Request): Promise<Response> {
    const session = await this.signedIn(request)
    const isPost = request.method === 'POST'
    if (!isPost && request.method !== 'GET') return methodNotAllowed('GET, POST')
    const form = isPost ? await formOf(request) : new URL(request.url).searchParams
    const returnTo = localReturnTo(form.get('return_to'))
    if (session === undefined) return redirect(`/login?return_to=${encodeURIComponent(returnTo)}`)
    if (!returnTo.startsWith('/authorize?')) return page(400, errorPage('Nothing to consent to', 'This page is reached from an authorization request.'))
    const authorizeUri = `${this.issuer}${returnTo}`
    let validated
    try {
      validated = await this.server.validateAuthorizationRequest(authorizeUri, 'GET')
    } catch (error) {
      if (error instanceof OAuth2Error && error.redirectable) {
        return toResponse(await this.server.createAuthorizationErrorResponse(authorizeUri, 'GET', undefined, {}, error))
      }
      return this.shownError(error)
    }
    const { client } = validated.credentials
    const csrf = this.sessions.csrf(request)
    if (!isPost) {
      const registered = await this.store.clients.get(client.clientId)
      return page(
        200,
        consentPage({ csrf: csrf.token, returnTo, clientName: registered?.name ?? client.clientId, scopes: validated.scopes, username: session.username }),
        csrf.setCookie,
      )
    }
    if (!this.sessions.checkCsrf(request, form.get('csrf_token'))) {
      return page(403, errorPage('Your session expired', 'Go back to the application and try again.'))
    }
    if (form.get('decision') !== 'allow') {
      // RFC 6749 §4.1.2.1: the resource owner denied the request.
      const denied = new AccessDeniedError('The user denied the request')
      return toResponse(await this.server.createAuthorizationErrorResponse(authorizeUri, 'GET', undefined, {}, denied))
    }
    await this.validator.saveConsent(client.clientId, session.userId, validated.scopes)
    return toResponse(await this.server.createAuthorizationResponse(authorizeUri, 'GET', undefined, {}, validated.scopes, { userId: session.userId }))
  }

  /** `/`: where a sign-in without an authorization request lands. */
  async home(request: Request): Promise<Response> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET')
    return page(200, homePage({ username: (await this.signedIn(request))?.username }))
  }

  /** `/logout`: a confirmation form (GET) and signing out (POST). */
  async logout(request: Request): Promise<Response> {
    const csrf = this.sessions.csrf(request)
    if (request.method === 'GET') return page(200, logoutPage({ csrf: csrf.token, signedOut: false }), csrf.setCookie)
    if (request.method !== 'POST') return methodNotAllowed('GET, POST')
    const form = await formOf(request)
    if (!this.sessions.checkCsrf(request, form.get('csrf_token'))) return page(403, logoutPage({ csrf: csrf.token, signedOut: false }))
    return page(200, logoutPage({ csrf: '', signedOut: true }), this.sessions.end(request))
  }

  /** The signed-in user of a request: a live session of a user who still exists (a removed user is signed out). */
  private async signedIn(request: Request): Promise<{ userId: string; username: string } | undefined> {
    const session = this.sessions.read(request)
    if (session === undefined) return undefined
    const user = await this.store.users.get(session.userId)
    return user === undefined ? undefined : { userId: user.userId, username: user.username }
  }

  private shownError(error: unknown): Response {
    if (error instanceof OAuth2Error && error.status < 500) return page(error.status === 405 ? 405 : 400, errorPage('This request cannot be completed', error.description))
    throw error
  }
}

/** A signed-token generator that always signs with the store's current key, so a rotation takes effect at once. */
/** The paths of the protocol endpoints (`createFetchHandler`'s defaults), which {@link App.nodeListener} serves directly. */
const PROTOCOL_PATHS: ReadonlySet<string> = new Set(Object.values(DEFAULT_PATHS))

/** The first value of a header among the request's name/value pairs. */
function firstHeader(headers: RequestHeaders, name: string): string | undefined {
  for (const [key, value] of headers as Iterable<readonly [string, string]>) if (key.toLowerCase() === name) return value
  return undefined
}

/** The client's address: the connection's, or behind a trusted proxy the last `X-Forwarded-For` entry. */
function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? req.headers['x-forwarded-for']?.toString().split(',').at(-1)?.trim() : undefined
  return forwarded === undefined || forwarded === '' ? req.socket.remoteAddress : forwarded
}

function jwtGenerator(keys: SigningKeys, issuer: string): TokenGenerator {
  const generators = new Map<string, TokenGenerator>()
  return (context) => {
    const { kid, alg, privateKey } = keys.current()
    let generator = generators.get(kid)
    if (generator === undefined) {
      // Signed with node:crypto: in the calling thread, about half the CPU of crypto.subtle.sign on Node.
      generator = signedTokenGenerator(nodeSigner(privateKey, alg), { issuer, alg, kid })
      generators.set(kid, generator)
    }
    return generator(context)
  }
}

async function health(store: Store): Promise<Response> {
  try {
    await store.clientTable.get('healthz')
    return Response.json({ status: 'ok' }, { headers: { 'Cache-Control': 'no-store' } })
  } catch (error) {
    const status = store.isUnavailableError(error) ? 503 : 500
    return Response.json({ status: 'unavailable' }, { status, headers: { 'Cache-Control': 'no-store' } })
  }
}

/** Only a path of this server may be returned to after sign-in: never another origin (no open redirect). */
function localReturnTo(value: string | null): string {
  return value !== null && /^\/(authorize\?|$)/.test(value) && !value.startsWith('//') ? value : '/'
}

async function formOf(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? ''
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return new URLSearchParams()
  const { body } = await readRequest(request)
  return new URLSearchParams(body ?? '')
}

function page(status: number, html: string, setCookie?: string | readonly string[], extra: Record<string, string> = {}): Response {
  const headers = new Headers({ ...PAGE_HEADERS, ...extra })
  for (const cookie of typeof setCookie === 'string' ? [setCookie] : (setCookie ?? [])) headers.append('Set-Cookie', cookie)
  return new Response(html, { status, headers })
}

function redirect(location: string, setCookie: readonly string[] = []): Response {
  const headers = new Headers({ Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' })
  for (const cookie of setCookie) headers.append('Set-Cookie', cookie)
  return new Response(null, { status: 303, headers })
}

function methodNotAllowed(allow: string): Response {
  return page(405, errorPage('Method not allowed', `Use ${allow}.`), undefined, { Allow: allow })
}

/**
 * Checks the ready server's issuer: an `https` origin (plain `http` only on loopback), without path, query,
 * fragment or trailing slash.
 *
 * @returns the issuer
 * @throws TypeError saying what is wrong
 */
export function checkIssuer(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw new TypeError(`The issuer ${issuer} is not a URL`)
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError(`The issuer must be https: plain http is accepted only for a loopback issuer, got ${issuer}`)
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || issuer.endsWith('/')) {
    throw new TypeError(`The issuer must be an origin without path, query, fragment or trailing slash: ${issuer}`)
  }
  return issuer
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
