/**
 * The ready server (`createApp`) over a MemoryStore, driven request by request through `app.fetch`: its routes, the
 * authorization code flow through the login and consent pages, CSRF, login throttling, open redirects, the headers
 * and cookies of the pages, issuer checks, JWT access tokens, health and the request log.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, type App, type AppOptions } from '../../src/app/app.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { hashPassword } from '../../src/store/secrets.js'
import { type Store } from '../../src/store/store.js'
import { faulty } from '../store/validator-suite.js'
import { basic } from '../support/memory-validator.js'
import { Browser, hiddenField, setCookie } from './browser.js'

const ISSUER = 'http://127.0.0.1:3000'
const REDIRECT = 'https://client.example.com/cb'
// RFC 7636 Appendix B
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const PASSWORD = 'correct horse battery staple'
const SESSION = 'oauthkit_session'
const CSRF = 'oauthkit_csrf'

/** scrypt once for the whole file: each user gets this hash through the user table. */
let passwordHash: Promise<string> | undefined

async function addUser(store: Store, username: string): Promise<void> {
  passwordHash ??= hashPassword(PASSWORD)
  await store.userTable.insert({ userId: `id-${username}`, username, passwordHash: await passwordHash, createdAt: Math.floor(Date.now() / 1000) })
}

/** Everything a test opened, closed after it, newest first. */
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Setup {
  app: App
  store: Store
  clientId: string
  clientSecret: string
  /** Every entry the app logged. */
  logs: Record<string, unknown>[]
  browser: (remoteAddress?: string) => Browser
}

/** An app with one confidential client ("Photo Printer", scopes read and write) and one user, alice. */
async function setUp(options: Partial<AppOptions> = {}, given?: Store): Promise<Setup> {
  const store = given ?? (await MemoryStore.open())
  const logs: Record<string, unknown>[] = []
  const app = await createApp({ store, issuer: ISSUER, log: (entry) => logs.push(entry), ...options })
  cleanups.push(async () => {
    await app.close()
    await store.close()
  })
  const { clientId, clientSecret } = await store.clients.create({ name: 'Photo Printer', redirectUris: [REDIRECT], scopes: ['read', 'write'] })
  await addUser(store, 'alice')
  const origin = options.issuer ?? ISSUER
  return { app, store, clientId, clientSecret: clientSecret as string, logs, browser: (address) => new Browser(app, origin, address) }
}

function authorizePath(clientId: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'read write',
    state: 'xyz',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...params,
  })
  return `/authorize?${query.toString()}`
}

/** The Location of a redirect, resolved against the issuer. */
function location(response: Response): URL {
  const value = response.headers.get('Location')
  if (value === null) throw new Error(`no Location on a ${response.status}`)
  return new URL(value, ISSUER)
}

/** Opens the login page for `returnTo` and signs in; returns the answer to the form. */
async function signIn(browser: Browser, returnTo: string, username = 'alice', password = PASSWORD): Promise<Response> {
  const form = await browser.get(`/login?return_to=${encodeURIComponent(returnTo)}`)
  expect(form.status).toBe(200)
  const html = await form.text()
  return browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: hiddenField(html, 'return_to'), username, password })
}

/** A login attempt with a valid CSRF token (fetched once per browser). */
async function attempt(browser: Browser, username: string, password: string): Promise<Response> {
  const html = await (await browser.get('/login')).text()
  return browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: '/', username, password })
}

/** Answers the consent page of `returnTo` with `decision`. */
async function decide(browser: Browser, returnTo: string, decision: 'allow' | 'deny'): Promise<Response> {
  const page = await browser.get(`/consent?return_to=${encodeURIComponent(returnTo)}`)
  expect(page.status).toBe(200)
  return browser.post('/consent', { csrf_token: hiddenField(await page.text(), 'csrf_token'), return_to: returnTo, decision })
}

/** Signs alice in and allows the client: the browser then has a session and the client a remembered consent. */
async function signedInWithConsent(setup: Setup, browser: Browser): Promise<void> {
  const path = authorizePath(setup.clientId)
  expect((await signIn(browser, path)).status).toBe(303)
  expect((await decide(browser, path, 'allow')).status).toBe(302)
}

function redeem(setup: Setup, code: string): Promise<Response> {
  return setup.app.fetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { Authorization: basic(setup.clientId, setup.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER }).toString(),
    }),
  )
}

function expectPageHeaders(response: Response): void {
  expect(response.headers.get('Content-Type')).toBe('text/html; charset=utf-8')
  expect(response.headers.get('Content-Security-Policy')).toContain("frame-ancestors 'none'")
  expect(response.headers.get('X-Frame-Options')).toBe('DENY')
  expect(response.headers.get('Referrer-Policy')).toBe('no-referrer')
  expect(response.headers.get('Cache-Control')).toBe('no-store')
}

describe('routes', () => {
  it('serves every route of the issue, and 404 for any other path', async () => {
    const { app } = await setUp()
    const fetch = (path: string, method = 'GET') =>
      app.fetch(new Request(`${ISSUER}${path}`, { method, ...(method === 'POST' ? { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' } : {}) }))
    const statuses = {
      authorize: (await fetch('/authorize')).status,
      token: (await fetch('/token', 'POST')).status,
      revoke: (await fetch('/revoke', 'POST')).status,
      introspect: (await fetch('/introspect', 'POST')).status,
      jwks: (await fetch('/jwks.json')).status,
      metadata: (await fetch('/.well-known/oauth-authorization-server')).status,
      login: (await fetch('/login')).status,
      consent: (await fetch('/consent')).status,
      logout: (await fetch('/logout')).status,
      healthz: (await fetch('/healthz')).status,
      // OpenID Connect (issue 18).
      userinfo: (await fetch('/userinfo')).status,
      openidConfiguration: (await fetch('/.well-known/openid-configuration')).status,
    }
    expect(statuses).toEqual({
      authorize: 400,
      token: 400,
      revoke: 401,
      introspect: 401,
      jwks: 200,
      metadata: 200,
      login: 200,
      consent: 303,
      logout: 200,
      healthz: 200,
      userinfo: 401,
      openidConfiguration: 200,
    })
    // '/' is the home page a sign-in without an authorization request lands on.
    expect((await fetch('/')).status).toBe(200)
    for (const path of ['/nope', '/authorize/', '/login/x', '/.well-known/openid-configuration/x', '/userinfo/']) {
      expect((await fetch(path)).status, path).toBe(404)
    }
  })

  it('publishes every URL in the metadata document, under the issuer (RFC 8414)', async () => {
    const { app } = await setUp()
    const metadata = (await (await app.fetch(new Request(`${ISSUER}/.well-known/oauth-authorization-server`))).json()) as Record<string, unknown>
    expect(metadata).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      revocation_endpoint: `${ISSUER}/revoke`,
      introspection_endpoint: `${ISSUER}/introspect`,
      jwks_uri: `${ISSUER}/jwks.json`,
    })
  })
})

describe('the authorization code flow through the login and consent pages', () => {
  it('signs in, asks consent, redirects with code, state and iss, and the code is redeemed at /token', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const path = authorizePath(setup.clientId)

    const first = await browser.get(path)
    expect(first.status).toBe(303)
    expect(location(first).pathname).toBe('/login')
    expect(location(first).searchParams.get('return_to')).toBe(path)

    const login = await browser.get(`${location(first).pathname}${location(first).search}`)
    expect(login.status).toBe(200)
    expect(setCookie(login, CSRF)).toBeDefined()
    const loginHtml = await login.text()
    expect(loginHtml).toContain('<label for="username">Username</label>')
    expect(loginHtml).toContain('<label for="password">Password</label>')
    expect(hiddenField(loginHtml, 'return_to')).toBe(path)

    const signedIn = await browser.post('/login', { csrf_token: hiddenField(loginHtml, 'csrf_token'), return_to: path, username: 'alice', password: PASSWORD })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('Location')).toBe(path)
    expect(setCookie(signedIn, SESSION)).toBeDefined()

    const again = await browser.get(path)
    expect(again.status).toBe(303)
    expect(location(again).pathname).toBe('/consent')
    expect(location(again).searchParams.get('return_to')).toBe(path)

    const consent = await browser.get(`${location(again).pathname}${location(again).search}`)
    expect(consent.status).toBe(200)
    const consentHtml = await consent.text()
    expect(consentHtml).toContain('Allow Photo Printer to access your account?')
    expect(consentHtml).toContain('<ul><li>read</li><li>write</li></ul>')
    expect(consentHtml).toContain('Signed in as alice.')
    expect(consentHtml).toMatch(/<button[^>]*value="allow">Allow<\/button>/)
    expect(consentHtml).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/)

    const allowed = await browser.post('/consent', { csrf_token: hiddenField(consentHtml, 'csrf_token'), return_to: hiddenField(consentHtml, 'return_to'), decision: 'allow' })
    expect(allowed.status).toBe(302)
    const callback = location(allowed)
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT)
    expect(callback.searchParams.get('state')).toBe('xyz')
    expect(callback.searchParams.get('iss')).toBe(ISSUER)
    const code = callback.searchParams.get('code')
    expect(code).toEqual(expect.any(String))

    const token = await redeem(setup, code as string)
    expect(token.status).toBe(200)
    expect(token.headers.get('Cache-Control')).toBe('no-store')
    const body = (await token.json()) as Record<string, unknown>
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) })

    const introspection = await setup.app.fetch(
      new Request(`${ISSUER}/introspect`, {
        method: 'POST',
        headers: { Authorization: basic(setup.clientId, setup.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: body.access_token as string }).toString(),
      }),
    )
    expect(await introspection.json()).toMatchObject({ active: true, client_id: setup.clientId, username: 'alice', scope: 'read write' })
  })

  it('starts a new session id on every sign-in', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    expect((await signIn(browser, '/')).status).toBe(303)
    const firstCookie = browser.cookies.get(SESSION)
    expect(firstCookie).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await signIn(browser, '/')).status).toBe(303)
    expect(browser.cookies.get(SESSION)).not.toBe(firstCookie)
  })

  it('returns access_denied with the state and iss to the client when the user denies', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const path = authorizePath(setup.clientId)
    await signIn(browser, path)
    const denied = await decide(browser, path, 'deny')
    expect(denied.status).toBe(302)
    const callback = location(denied)
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT)
    expect(callback.searchParams.get('error')).toBe('access_denied')
    expect(callback.searchParams.get('state')).toBe('xyz')
    expect(callback.searchParams.get('iss')).toBe(ISSUER)
    expect(callback.searchParams.has('code')).toBe(false)
    // Nothing remembered: the next request asks again.
    expect(location(await browser.get(path)).pathname).toBe('/consent')
  })

  it('remembers consent per client and scope set: the same request goes straight to the client, a new scope asks again', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const readOnly = authorizePath(setup.clientId, { scope: 'read', state: 'one' })
    await signIn(browser, readOnly)
    expect((await decide(browser, readOnly, 'allow')).status).toBe(302)

    const second = await browser.get(authorizePath(setup.clientId, { scope: 'read', state: 'two' }))
    expect(second.status).toBe(302)
    expect(location(second).searchParams.get('state')).toBe('two')
    expect(location(second).searchParams.get('code')).toEqual(expect.any(String))
    expect((await redeem(setup, location(second).searchParams.get('code') as string)).status).toBe(200)

    const wider = await browser.get(authorizePath(setup.clientId, { scope: 'read write' }))
    expect(wider.status).toBe(303)
    expect(location(wider).pathname).toBe('/consent')

    // Another client is asked on its own.
    const other = await setup.store.clients.create({ name: 'Other', redirectUris: [REDIRECT], scopes: ['read'] })
    const otherPath = authorizePath(other.clientId, { scope: 'read' })
    expect(location(await browser.get(otherPath)).pathname).toBe('/consent')
  })

  it('signs out with the form: the session cookie is cleared and /authorize asks to sign in again', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    await signedInWithConsent(setup, browser)
    const form = await browser.get('/logout')
    expect(form.status).toBe(200)
    const out = await browser.post('/logout', { csrf_token: hiddenField(await form.text(), 'csrf_token') })
    expect(out.status).toBe(200)
    expect(setCookie(out, SESSION)).toMatch(/Max-Age=0/)
    expect(browser.cookies.has(SESSION)).toBe(false)
    expect(location(await browser.get(authorizePath(setup.clientId))).pathname).toBe('/login')
  })
})

describe('CSRF protection', () => {
  it('refuses a login without a valid CSRF token (403), and no session starts', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    await browser.get('/login')
    const forged = [{}, { csrf_token: 'forged' }]
    for (const token of forged) {
      const response = await browser.post('/login', { ...token, return_to: '/', username: 'alice', password: PASSWORD })
      expect(response.status).toBe(403)
      expect(response.headers.get('Location')).toBeNull()
      expect(setCookie(response, SESSION)).toBeUndefined()
    }
    // A token minted for another browser's cookie is refused too.
    const other = setup.browser()
    const otherToken = hiddenField(await (await other.get('/login')).text(), 'csrf_token')
    const crossed = await browser.post('/login', { csrf_token: otherToken, return_to: '/', username: 'alice', password: PASSWORD })
    expect(crossed.status).toBe(403)
    expect(browser.cookies.has(SESSION)).toBe(false)
    expect(location(await browser.get(authorizePath(setup.clientId))).pathname).toBe('/login')
  })

  it('refuses a consent without a valid CSRF token (403): no redirect, nothing remembered', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const path = authorizePath(setup.clientId)
    await signIn(browser, path)
    for (const token of [{}, { csrf_token: 'forged' }]) {
      const response = await browser.post('/consent', { ...token, return_to: path, decision: 'allow' })
      expect(response.status).toBe(403)
      expect(response.headers.get('Location')).toBeNull()
    }
    expect(location(await browser.get(path)).pathname).toBe('/consent')
  })

  it('refuses a sign-out without a valid CSRF token (403): the session goes on', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    await signedInWithConsent(setup, browser)
    const response = await browser.post('/logout', { csrf_token: 'forged' })
    expect(response.status).toBe(403)
    expect(setCookie(response, SESSION)).toBeUndefined()
    expect((await browser.get(authorizePath(setup.clientId))).status).toBe(302)
  })
})

describe('login throttling', () => {
  it('answers 429 with Retry-After after 5 failures for a username, even with the right password', async () => {
    const setup = await setUp()
    for (let i = 0; i < 5; i++) {
      // From different addresses, so that only the username's count grows.
      expect((await attempt(setup.browser(`192.0.2.${i + 1}`), 'alice', 'wrong')).status).toBe(401)
    }
    const blocked = await attempt(setup.browser('192.0.2.100'), 'alice', PASSWORD)
    expect(blocked.status).toBe(429)
    const wait = Number(blocked.headers.get('Retry-After'))
    expect(wait).toBeGreaterThan(0)
    expect(wait).toBeLessThanOrEqual(900)
    expect(setCookie(blocked, SESSION)).toBeUndefined()
    expectPageHeaders(blocked)
    expect(await blocked.text()).toContain('Too many failed attempts')
  })

  it('answers 429 after 5 failures from one address across usernames; other addresses and users go on', async () => {
    const setup = await setUp()
    await addUser(setup.store, 'bob')
    const attacker = setup.browser('198.51.100.7')
    for (let i = 0; i < 5; i++) expect((await attempt(attacker, `user${i}`, 'wrong')).status).toBe(401)
    const blocked = await attempt(attacker, 'bob', PASSWORD)
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect((await attempt(setup.browser('198.51.100.8'), 'bob', PASSWORD)).status).toBe(303)
  })

  it("forgets the username's failures after a successful login", async () => {
    const setup = await setUp()
    for (let i = 0; i < 4; i++) expect((await attempt(setup.browser(`192.0.2.${i + 1}`), 'alice', 'wrong')).status).toBe(401)
    expect((await attempt(setup.browser('192.0.2.50'), 'alice', PASSWORD)).status).toBe(303)
    // Four more failures: eight in the window without the reset, four with it.
    for (let i = 0; i < 4; i++) expect((await attempt(setup.browser(`192.0.2.${i + 60}`), 'alice', 'wrong')).status).toBe(401)
    expect((await attempt(setup.browser('192.0.2.99'), 'alice', PASSWORD)).status).toBe(303)
  })
})

describe('no open redirect through return_to', () => {
  const foreign = ['https://evil.example/', '//evil.example', '//evil.example/authorize?x', '/\\evil.example', 'javascript:alert(1)', 'evil.example', '/authorize']

  it.each(foreign)('falls back to / for return_to=%s on the login page and after signing in', async (returnTo) => {
    const setup = await setUp()
    const browser = setup.browser()
    const form = await browser.get(`/login?return_to=${encodeURIComponent(returnTo)}`)
    const html = await form.text()
    expect(hiddenField(html, 'return_to')).toBe('/')
    const signedIn = await browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: returnTo, username: 'alice', password: PASSWORD })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('Location')).toBe('/')
  })

  it('shows a 400 page on /consent for a return_to that is not an authorization request', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    await signIn(browser, '/')
    for (const returnTo of ['https://evil.example/authorize?x', '//evil.example', '/']) {
      const response = await browser.get(`/consent?return_to=${encodeURIComponent(returnTo)}`)
      expect(response.status, returnTo).toBe(400)
      expect(response.headers.get('Location')).toBeNull()
    }
  })
})

describe('errors shown to the user, never redirected', () => {
  it.each([
    ['an unknown client', (clientId: string) => authorizePath(clientId, { client_id: 'no-such-client' })],
    ['an unregistered redirect_uri', (clientId: string) => authorizePath(clientId, { redirect_uri: 'https://evil.example/cb' })],
    ['a redirect_uri with another path', (clientId: string) => authorizePath(clientId, { redirect_uri: `${REDIRECT}/more` })],
  ])('shows a 400 page for %s at /authorize, with no Location', async (_, path) => {
    const setup = await setUp()
    const browser = setup.browser()
    for (const signedIn of [false, true]) {
      if (signedIn) await signedInWithConsent(setup, browser)
      const response = await browser.get(path(setup.clientId))
      expect(response.status).toBe(400)
      expect(response.headers.get('Location')).toBeNull()
      expectPageHeaders(response)
      expect(await response.text()).toContain('This request cannot be completed')
    }
  })

  it('answers an exception inside a route with a 500 page and logs it, never a rejection', async () => {
    const { store, faults } = faulty(await MemoryStore.open())
    const setup = await setUp({}, store)
    const browser = setup.browser()
    const html = await (await browser.get('/login')).text()
    faults.mode = 'bug'
    faults.only = ['userTable.getByUsername']
    const response = await browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: '/', username: 'alice', password: PASSWORD })
    expect(response.status).toBe(500)
    expectPageHeaders(response)
    const text = await response.text()
    expect(text).toContain('Something went wrong')
    expect(text).not.toContain('simulated')
    expect(setup.logs).toContainEqual(expect.objectContaining({ level: 'error', error: expect.stringContaining('bug in userTable.getByUsername') }))
  })
})

describe('page headers and cookies', () => {
  it('escapes the client name, the scopes and the typed username on the pages', async () => {
    const setup = await setUp()
    const evil = await setup.store.clients.create({ name: '<img src=x onerror=alert(1)>', redirectUris: [REDIRECT], scopes: ['<b>', "a'b"] })
    const browser = setup.browser()
    const failed = await attempt(browser, '"><script>alert(1)</script>', 'wrong')
    expect(failed.status).toBe(401)
    const failedHtml = await failed.text()
    expect(failedHtml).not.toContain('<script>')
    expect(failedHtml).toContain('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"')
    const path = authorizePath(evil.clientId, { scope: "<b> a'b" })
    await signIn(browser, path)
    const html = await (await browser.get(`/consent?return_to=${encodeURIComponent(path)}`)).text()
    expect(html).not.toContain('<img')
    expect(html).not.toContain('<b>')
    expect(html).toContain('Allow &#60;img src=x onerror=alert(1)&#62; to access your account?')
    expect(html).toContain('<li>&#60;b&#62;</li><li>a&#39;b</li>')
  })

  it("sends CSP frame-ancestors 'none', X-Frame-Options, Referrer-Policy no-referrer and no-store on every page", async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const path = authorizePath(setup.clientId)
    expectPageHeaders(await browser.get('/login'))
    expectPageHeaders(await browser.get('/logout'))
    expectPageHeaders(await browser.get(authorizePath('nobody')))
    await signIn(browser, path)
    expectPageHeaders(await browser.get(`/consent?return_to=${encodeURIComponent(path)}`))
    expectPageHeaders(await browser.post('/consent', { return_to: path, decision: 'allow' }))
  })

  it('sets HttpOnly, SameSite=Lax cookies, without Secure on a loopback http issuer', async () => {
    const setup = await setUp()
    const browser = setup.browser()
    const csrf = setCookie(await browser.get('/login'), CSRF) as string
    const signedIn = await signIn(browser, '/')
    const cookies = [csrf, setCookie(signedIn, SESSION) as string, setCookie(signedIn, CSRF) as string]
    for (const cookie of cookies) {
      expect(cookie).toMatch(/; HttpOnly(;|$)/)
      expect(cookie).toMatch(/; SameSite=Lax(;|$)/)
      expect(cookie).not.toMatch(/Secure/i)
    }
  })

  it('adds Secure to every cookie when the issuer is https', async () => {
    const setup = await setUp({ issuer: 'https://as.example.com' })
    const browser = setup.browser()
    // With Secure, the names carry the __Host- prefix (issue 16, item 4): no sibling host can set a cookie of that name.
    const [hostSession, hostCsrf] = [`__Host-${SESSION}`, `__Host-${CSRF}`]
    const csrf = setCookie(await browser.get('/login'), hostCsrf) as string
    const signedIn = await signIn(browser, '/')
    expect(signedIn.status).toBe(303)
    const form = await browser.get('/logout')
    const out = await browser.post('/logout', { csrf_token: hiddenField(await form.text(), 'csrf_token') })
    const cookies = [csrf, setCookie(signedIn, hostSession), setCookie(signedIn, hostCsrf), setCookie(out, hostSession)]
    for (const cookie of cookies) expect(cookie).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax; Secure$/)
    for (const cookie of cookies) expect(cookie).not.toMatch(/Domain=/i)
  })
})

describe('createApp options', () => {
  it.each([
    ['plain http beyond loopback', 'http://as.example.com'],
    ['a path', 'https://as.example.com/oauth'],
    ['a trailing slash', 'https://as.example.com/'],
    ['a query', 'https://as.example.com?x=1'],
    ['a fragment', 'https://as.example.com#x'],
    ['not a URL', 'as.example.com'],
  ])('refuses an issuer with %s with a TypeError', async (_, issuer) => {
    const store = await MemoryStore.open()
    cleanups.push(() => store.close())
    await expect(createApp({ store, issuer, log: () => {} })).rejects.toThrow(TypeError)
  })

  it.each(['https://as.example.com', 'http://127.0.0.1:3000', 'http://localhost:8080', 'http://[::1]:3000'])('accepts the issuer %s', async (issuer) => {
    const store = await MemoryStore.open()
    const app = await createApp({ store, issuer, log: () => {} })
    cleanups.push(async () => {
      await app.close()
      await store.close()
    })
    expect(app.server).toBeDefined()
  })

  it("with tokenFormat 'jwt' issues access tokens that verify against /jwks.json", async () => {
    const store = await MemoryStore.open()
    const logs: Record<string, unknown>[] = []
    const app = await createApp({ store, issuer: ISSUER, tokenFormat: 'jwt', log: (entry) => logs.push(entry) })
    cleanups.push(async () => {
      await app.close()
      await store.close()
    })
    const { clientId, clientSecret } = await store.clients.create({ name: 'Backend', grantTypes: ['client_credentials'], scopes: ['read'] })
    const response = await app.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { Authorization: basic(clientId, clientSecret as string), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=read',
      }),
    )
    expect(response.status).toBe(200)
    const { access_token: token } = (await response.json()) as { access_token: string }
    expect(token.split('.')).toHaveLength(3)
    const jwksResponse = await app.fetch(new Request(`${ISSUER}/jwks.json`))
    expect(jwksResponse.headers.get('Content-Type')).toBe('application/jwk-set+json')
    const jwks = (await jwksResponse.json()) as { keys: Record<string, unknown>[] }
    expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid)
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d')
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER })
    expect(protectedHeader.typ).toBe('at+jwt')
    expect(payload).toMatchObject({ client_id: clientId, scope: 'read' })
  })
})

describe('health and the request log', () => {
  it('answers /healthz 200 while the store works, 503 when it is unreachable, 500 on any other failure', async () => {
    const { store, faults } = faulty(await MemoryStore.open())
    const { app } = await setUp({}, store)
    const health = async () => {
      const response = await app.fetch(new Request(`${ISSUER}/healthz`))
      expect(response.headers.get('Cache-Control')).toBe('no-store')
      return { status: response.status, body: (await response.json()) as unknown }
    }
    expect(await health()).toEqual({ status: 200, body: { status: 'ok' } })
    faults.only = ['clientTable.get']
    faults.mode = 'unavailable'
    expect(await health()).toEqual({ status: 503, body: { status: 'unavailable' } })
    faults.mode = 'bug'
    expect((await health()).status).toBe(500)
    faults.mode = undefined
    expect((await health()).status).toBe(200)
  })

  it('logs one entry per request with the path only, never the query string', async () => {
    const setup = await setUp()
    const browser = setup.browser('203.0.113.5')
    setup.logs.length = 0
    const path = authorizePath(setup.clientId, { state: 'secret-state-value' })
    const before = Date.now()
    await browser.get(path)
    await browser.get(`/login?return_to=${encodeURIComponent(path)}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
    await browser.get('/healthz?probe=secret-probe')
    const after = Date.now()
    const requests = setup.logs.filter((entry) => entry.method !== undefined)
    // Each entry has the time of its request, in ISO 8601, to the millisecond: a later request, a later time.
    const times = requests.map((entry) => Date.parse(String(entry.time)))
    for (const entry of requests) expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(times[0]).toBeGreaterThanOrEqual(before)
    expect(times[2]).toBeGreaterThan(times[0] as number)
    expect(times[2]).toBeLessThanOrEqual(after)
    expect(requests).toEqual([
      expect.objectContaining({ method: 'GET', path: '/authorize', status: 303, remote: '203.0.113.5', time: expect.any(String), ms: expect.any(Number) }),
      expect.objectContaining({ method: 'GET', path: '/login', status: 200 }),
      expect.objectContaining({ method: 'GET', path: '/healthz', status: 200 }),
    ])
    const text = JSON.stringify(setup.logs)
    expect(text).not.toContain('?')
    expect(text).not.toContain('secret')
    expect(text).not.toContain(CHALLENGE)
  })
})
