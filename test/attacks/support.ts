/**
 * What the attack tests share: the ready server (`createApp` over a `MemoryStore`) running on node:http at 127.0.0.1,
 * port 0, wired as `oauthkit serve --trust-proxy` wires it; a small API beside it that checks access tokens through
 * the same server (as an application embedding oauthkit would); and the steps of the flows, all over real HTTP.
 *
 * The server takes the client's address from `X-Forwarded-For`, as behind a trusted proxy, so that each test's
 * browser comes from an address of its own and login throttling never carries over from one test to the next.
 * Browsers are test/app/browser.ts's cookie jars with a transport that goes over loopback instead of `app.fetch`.
 */
import { createHash, randomBytes, scrypt } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import { type AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { protectedResource } from '../../src/adapters/fetch.js'
import { toFetchRequest, writeResponse } from '../../src/adapters/node.js'
import { createApp, type App, type AppOptions } from '../../src/app/app.js'
import { type NewClient } from '../../src/store/clients.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { Browser, hiddenField } from '../app/browser.js'
import { basic } from '../support/memory-validator.js'

export { Browser, hiddenField, setCookie } from '../app/browser.js'
export { basic } from '../support/memory-validator.js'

/** The password of every user the tests add. */
export const PASSWORD = 'correct horse battery staple'
/** The redirect URI registered for the test clients. */
export const REDIRECT_URI = 'https://client.example.com/cb'
export const SESSION_COOKIE = 'oauthkit_session'
export const CSRF_COOKIE = 'oauthkit_csrf'

/** A client as registered, with its secret (`undefined` for a public client). */
export interface TestClient {
  readonly clientId: string
  readonly clientSecret: string | undefined
}

/** The running server of one test file. */
export interface AttackServer {
  /** `http://127.0.0.1:PORT`, which is also the issuer. */
  readonly origin: string
  readonly app: App
  readonly store: MemoryStore
  /** Every entry the app logged (request lines and errors), oldest first. */
  readonly logs: Record<string, unknown>[]
  /** A browser with its own cookie jar and, unless given, an address no other browser of this file has. */
  browser(address?: string): Browser
  /** Registers a client (default: confidential, code and refresh grants, scopes `read write`, {@link REDIRECT_URI}). */
  addClient(options?: Partial<NewClient>): Promise<TestClient>
  /** Adds a user with {@link PASSWORD}. */
  addUser(username: string): Promise<string>
  close(): Promise<void>
}

let passwordHash: Promise<string> | undefined
let addresses = 0

/**
 * Starts the ready server on 127.0.0.1 port 0 over a fresh `MemoryStore`, or over `shared.store` as a second instance.
 * `/api/me` answers the token's subject and client for an access token with scope `read` (RFC 6750), checked by
 * `app.server`.
 */
export async function startServer(options: Partial<Omit<AppOptions, 'store' | 'issuer'>> = {}, shared?: { store: MemoryStore }): Promise<AttackServer> {
  // Another instance over the same store, when `shared` names one: as two `serve` processes over one database.
  const store = shared?.store ?? (await MemoryStore.open())
  const logs: Record<string, unknown>[] = []
  let app: App | undefined
  let api: ((request: Request) => Promise<Response>) | undefined
  const http = createServer((req, res) => {
    void (async () => {
      const request = toFetchRequest(req, { trustProxy: true })
      const path = new URL(request.url).pathname
      const response =
        path.startsWith('/api/') && api !== undefined
          ? await api(request)
          : await (app as App).fetch(request, { remoteAddress: forwardedFor(req) ?? req.socket.remoteAddress })
      await writeResponse(res, response)
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(0, '127.0.0.1', () => resolve())
  })
  const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  app = await createApp({ log: (entry) => logs.push(entry), ...options, store, issuer: origin })
  api = protectedResource(app.server, ['read'], (_request, token) => Response.json({ sub: token.user?.userId, client_id: token.clientId }))
  const transport = overHttp(app)
  return {
    origin,
    app,
    store,
    logs,
    browser: (address) => new Browser(transport, origin, address ?? `10.0.${Math.floor(++addresses / 250)}.${(addresses % 250) + 1}`),
    async addClient(client = {}) {
      const created = await store.clients.create({ name: 'Photo Printer', redirectUris: [REDIRECT_URI], scopes: ['read', 'write'], ...client })
      return { clientId: created.clientId, clientSecret: created.clientSecret }
    },
    async addUser(username) {
      passwordHash ??= cheapPasswordHash(PASSWORD)
      const userId = `id-${username}`
      await store.userTable.insert({ userId, username, passwordHash: await passwordHash, createdAt: Math.floor(Date.now() / 1000) })
      return userId
    },
    async close() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      })
      await (app as App).close()
      if (shared === undefined) await store.close()
    },
  }
}

/**
 * A password hash in the store's own form (`scrypt:N:r:p:salt:key`, read by `verifySecret`), at a cost of N = 2^10
 * instead of 2^15: every sign-in still goes through scrypt and a constant-time compare, in milliseconds, so that the
 * brute-force tests can fail dozens of logins within the time budget. The cost travels with each hash (RFC 7914).
 */
function cheapPasswordHash(password: string): Promise<string> {
  const [N, r, p] = [2 ** 10, 8, 1]
  const salt = randomBytes(16)
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, 32, { N, r, p }, (error, key) =>
      error === null ? resolve(`scrypt:${N}:${r}:${p}:${salt.toString('base64url')}:${key.toString('base64url')}`) : reject(error),
    )
  })
}

/** The last address in `X-Forwarded-For`: the one a trusted proxy appended (as `oauthkit serve --trust-proxy`). */
function forwardedFor(req: IncomingMessage): string | undefined {
  return req.headers['x-forwarded-for']?.toString().split(',').at(-1)?.trim()
}

/** The app as test/app/browser.ts's `Browser` sees it, but every request goes over HTTP, from the browser's address. */
function overHttp(app: App): App {
  return {
    ...app,
    async fetch(request, connection) {
      const headers = new Headers(request.headers)
      if (connection?.remoteAddress !== undefined) headers.set('X-Forwarded-For', connection.remoteAddress)
      const body = request.body === null ? null : await request.text()
      return fetch(request.url, { method: request.method, headers, body, redirect: 'manual' })
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PKCE and the authorization request

/** A fresh PKCE pair: a 43-character verifier and its S256 challenge (RFC 7636 §4.1, §4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** `/authorize?…`: a code request with PKCE S256, `redirect_uri`, scope `read` and a random state, unless overridden. */
export function authorizePath(clientId: string, challenge: string, params: Record<string, string | undefined> = {}): string {
  const query: Record<string, string> = {}
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'read',
    state: randomBytes(8).toString('base64url'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...params,
  }
  for (const [name, value] of Object.entries(all)) if (value !== undefined) query[name] = value
  return `/authorize?${new URLSearchParams(query).toString()}`
}

/** Signs in through the login page, coming back to `returnTo`; returns the answer to the form. */
export async function signIn(browser: Browser, returnTo: string, username = 'alice', password = PASSWORD): Promise<Response> {
  const form = await browser.get(`/login?return_to=${encodeURIComponent(returnTo)}`)
  expect(form.status).toBe(200)
  const html = await form.text()
  return browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: hiddenField(html, 'return_to'), username, password })
}

/** Opens the consent page for `returnTo` and answers it. */
export async function decide(browser: Browser, returnTo: string, decision: 'allow' | 'deny'): Promise<Response> {
  const page = await browser.get(`/consent?return_to=${encodeURIComponent(returnTo)}`)
  expect(page.status).toBe(200)
  return browser.post('/consent', { csrf_token: hiddenField(await page.text(), 'csrf_token'), return_to: returnTo, decision })
}

/**
 * Runs an authorization request the way a user does: signs in and allows when asked, and returns the final answer
 * of the server (the redirect to the client, or whatever ended the flow).
 */
export async function authorize(browser: Browser, path: string, username = 'alice'): Promise<Response> {
  let response = await browser.get(path)
  if (locationOf(response)?.pathname === '/login') {
    expect((await signIn(browser, path, username)).status).toBe(303)
    response = await browser.get(path)
  }
  if (locationOf(response)?.pathname === '/consent') response = await decide(browser, path, 'allow')
  return response
}

/** Runs {@link authorize} and returns the code the client received at {@link REDIRECT_URI}. */
export async function obtainCode(browser: Browser, path: string): Promise<string> {
  const response = await authorize(browser, path)
  expect(response.status).toBe(302)
  const callback = locationOf(response) as URL
  expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI)
  const code = callback.searchParams.get('code')
  expect(code).toEqual(expect.any(String))
  return code as string
}

/** The `Location` of a response, resolved against the request it answered; `undefined` when there is none. */
export function locationOf(response: Response): URL | undefined {
  const value = response.headers.get('Location')
  return value === null ? undefined : new URL(value, response.url)
}

// ---------------------------------------------------------------------------------------------------------------
// The token, introspection and revocation endpoints, and the API

/** POSTs a form to an endpoint of the server, authenticating with HTTP Basic when `client` has a secret. */
export function post(server: AttackServer, path: string, form: Record<string, string>, client?: TestClient, headers: Record<string, string> = {}): Promise<Response> {
  const auth = client?.clientSecret === undefined ? {} : { Authorization: basic(client.clientId, client.clientSecret) }
  return fetch(`${server.origin}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...auth, ...headers },
    body: new URLSearchParams(form).toString(),
  })
}

/** The token response of RFC 6749 §5.1 (or an error body of §5.2). */
export interface TokenBody {
  readonly access_token?: string
  readonly refresh_token?: string
  readonly token_type?: string
  readonly error?: string
  readonly error_description?: string
}

/** Redeems a code at `/token` as `client` (a public client sends its `client_id`). */
export function redeem(server: AttackServer, client: TestClient, code: string, verifier: string | undefined, extra: Record<string, string> = {}): Promise<Response> {
  const form: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, ...extra }
  if (verifier !== undefined) form.code_verifier = verifier
  if (client.clientSecret === undefined) form.client_id = client.clientId
  return post(server, '/token', form, client)
}

/** Trades a refresh token at `/token` as `client`. */
export function refresh(server: AttackServer, client: TestClient, refreshToken: string): Promise<Response> {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken }
  if (client.clientSecret === undefined) form.client_id = client.clientId
  return post(server, '/token', form, client)
}

/** Gets tokens for `client` through the whole code flow in `browser`. */
export async function obtainTokens(server: AttackServer, browser: Browser, client: TestClient): Promise<{ access_token: string; refresh_token: string }> {
  const { verifier, challenge } = pkce()
  const code = await obtainCode(browser, authorizePath(client.clientId, challenge))
  const response = await redeem(server, client, code, verifier)
  expect(response.status).toBe(200)
  const body = (await response.json()) as TokenBody
  expect(body.access_token).toEqual(expect.any(String))
  expect(body.refresh_token).toEqual(expect.any(String))
  return { access_token: body.access_token as string, refresh_token: body.refresh_token as string }
}

/** Whether introspection (RFC 7662), asked by `client`, says the token is active. */
export async function isActive(server: AttackServer, client: TestClient, token: string): Promise<boolean> {
  const response = await post(server, '/introspect', { token }, client)
  expect(response.status).toBe(200)
  return ((await response.json()) as { active: boolean }).active
}

/** Calls the API with a Bearer token (RFC 6750 §2.1). */
export function callApi(server: AttackServer, accessToken: string): Promise<Response> {
  return fetch(`${server.origin}/api/me`, { headers: { Authorization: `Bearer ${accessToken}` } })
}

/** Expects an RFC 6749 §5.2 error response: status, `error`, no token, and `Cache-Control: no-store`. */
export async function expectTokenError(response: Response, status: number, error: string): Promise<TokenBody> {
  const body = (await response.json()) as TokenBody
  expect({ status: response.status, error: body.error }).toEqual({ status, error })
  expect(body.access_token).toBeUndefined()
  expect(response.headers.get('Cache-Control')).toBe('no-store')
  return body
}
