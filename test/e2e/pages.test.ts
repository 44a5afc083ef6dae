/**
 * The login, consent and sign-out pages of `oauthkit serve`, checked in headless Chromium and with plain fetch: CSRF
 * tokens, protective headers, cookie attributes, a new session at sign-in, Deny, remembered consent, login throttling
 * and signing out.
 */
import { join } from 'node:path'
import { type Browser, type BrowserContext, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addClient,
  addUser,
  authorizationUrl,
  cliJson,
  CookieJar,
  hiddenField,
  launchBrowser,
  screenshot,
  signIn,
  startCallbackServer,
  startServer,
  tempDir,
  type AddedClient,
  type AddedUser,
  type CallbackServer,
  type RunningServer,
} from './support.js'

/** A test takes a second or two; the margin is for a loaded machine (npm test runs every file at once). */
const TIMEOUT = 60_000
const PASSWORD = 'correct horse battery staple'
/** Any valid S256 challenge: these tests never redeem the code. */
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

/** The headers every page must carry (RFC 9700 §4.16 clickjacking, §4.2.4 referrer). */
function expectPageHeaders(headers: Record<string, string>): void {
  expect(headers['content-security-policy']).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/)
  expect(headers['x-frame-options']).toBe('DENY')
  expect(headers['referrer-policy']).toBe('no-referrer')
  expect(headers['cache-control']).toBe('no-store')
}

describe('the pages of oauthkit serve, in Chromium and with plain fetch', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let db: string
  let server: RunningServer
  let callback: CallbackServer | undefined
  let browser: Browser | undefined
  let registered: AddedClient
  const users: Record<string, AddedUser> = {}
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    dir = await tempDir('pages')
    db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    callback = await startCallbackServer()
    server = await startServer(db)
    // One user per test that leaves a session or a consent behind, so that the tests do not depend on each other.
    const names = ['alice', 'bob', 'carol', 'dave', 'erin', 'gina', 'hank', 'ivan', 'judy', 'mallory']
    const redirectUri = callback.redirectUri
    ;[registered, browser] = await Promise.all([
      addClient(db, { name: 'Photo Printer', redirectUri, grantTypes: ['authorization_code'], scope: 'read write' }),
      launchBrowser(),
      // Several `oauthkit users add` at once on the database the server has open, as several operators might.
      ...names.map(async (name) => (users[name] = await addUser(db, name, PASSWORD))),
    ])
  }, 60_000)

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined)
    await browser?.close()
    await callback?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  function authorize(scope: string, state: string): string {
    return authorizationUrl(`${server.issuer}/authorize`, { clientId: registered.client_id, redirectUri: callback!.redirectUri, scope, state, codeChallenge: CHALLENGE })
  }

  /** The same request as a path of the server, as `return_to` carries it. */
  function authorizePath(scope: string, state: string): string {
    const url = new URL(authorize(scope, state))
    return `${url.pathname}${url.search}`
  }

  async function newPage(options: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser!.newContext(options.viewport === undefined ? {} : { viewport: options.viewport, isMobile: true })
    contexts.push(context)
    return { context, page: await context.newPage() }
  }

  async function cookie(context: BrowserContext, name: string) {
    return (await context.cookies(server.url)).find((c) => c.name === name)
  }

  /** Signs in in the browser and waits for the consent page; returns its response. */
  async function signInToConsent(page: Page, user: AddedUser) {
    const consent = page.waitForResponse((response) => new URL(response.url()).pathname === '/consent' && response.request().method() === 'GET')
    await signIn(page, user.username, user.password)
    const response = await consent
    await page.waitForURL((url) => url.pathname === '/consent')
    return response
  }

  /** A fetch client signed in as `user`, through GET and POST /login with the form's CSRF token. */
  async function signedInJar(user: AddedUser): Promise<CookieJar> {
    const jar = new CookieJar()
    const form = await (await jar.fetch(`${server.url}/login`)).text()
    const response = await jar.fetch(`${server.url}/login`, {
      form: { csrf_token: hiddenField(form, 'csrf_token') ?? '', return_to: '/', username: user.username, password: user.password },
    })
    expect(response.status).toBe(303)
    expect(jar.cookies.has('oauthkit_session')).toBe(true)
    return jar
  }

  // Each test has its own browser context, user and state: they run at the same time.
  describe.concurrent('CSRF tokens and headers', () => {
    it('the login page has a csrf_token bound to an HttpOnly, SameSite=Lax cookie, and the protective headers', async () => {
      const { context, page } = await newPage()
      const response = await page.goto(authorize('read', 'login-headers'))
      expect(new URL(page.url()).pathname).toBe('/login')
      expect(response?.status()).toBe(200)
      expectPageHeaders(await response!.allHeaders())
      expect(await page.locator('form input[type=hidden][name=csrf_token]').getAttribute('value')).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(await cookie(context, 'oauthkit_csrf')).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false })
    }, TIMEOUT)

    it('the consent page has a csrf_token and the protective headers', async () => {
      const { page } = await newPage()
      await page.goto(authorize('read', 'consent-headers'))
      const response = await signInToConsent(page, users.alice!)
      expect(response.status()).toBe(200)
      expectPageHeaders(await response.allHeaders())
      expect(await page.locator('form input[type=hidden][name=csrf_token]').getAttribute('value')).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(await page.getByRole('button', { name: 'Allow' }).count()).toBe(1)
      expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(1)
    }, TIMEOUT)

    it('the sign-out page has a csrf_token and the protective headers', async () => {
      const { page } = await newPage()
      const response = await page.goto(`${server.url}/logout`)
      expect(response?.status()).toBe(200)
      expectPageHeaders(await response!.allHeaders())
      expect(await page.locator('form input[type=hidden][name=csrf_token]').getAttribute('value')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }, TIMEOUT)

    it('Chromium refuses to show the login page in a frame (frame-ancestors, X-Frame-Options)', async () => {
      const { page } = await newPage()
      await page.setContent(`<iframe src="${server.url}/login" width="400" height="300"></iframe>`)
      // setContent waits for the load event, which waits for the frame (blocked or not).
      const frame = await (await page.locator('iframe').elementHandle())!.contentFrame()
      expect(frame?.url()).not.toBe(`${server.url}/login`)
      expect(await frame?.locator('input[name=password]').count()).toBe(0)
    }, TIMEOUT)

    it('a login form posted with a forged csrf_token is refused with 403 and signs nobody in', async () => {
      const { context, page } = await newPage()
      await page.goto(authorize('read', 'forged-csrf'))
      await page.locator('input[name=csrf_token]').evaluate((input: HTMLInputElement) => (input.value = 'forged'))
      const posted = page.waitForResponse((response) => new URL(response.url()).pathname === '/login' && response.request().method() === 'POST')
      await signIn(page, users.alice!.username, users.alice!.password)
      const response = await posted
      expect(response.status()).toBe(403)
      expect(new URL(page.url()).pathname).toBe('/login')
      expect(await page.getByRole('alert').textContent()).toBe('Your session expired. Please try again.')
      expect(await cookie(context, 'oauthkit_session')).toBeUndefined()
    }, TIMEOUT)

    it('POST /login without a csrf_token, or with one for another browser, is 403 and signs nobody in', async () => {
      const jar = new CookieJar()
      const returnTo = authorizePath('read', 'fetch-csrf')
      const form = await (await jar.fetch(`${server.url}/login?return_to=${encodeURIComponent(returnTo)}`)).text()
      const token = hiddenField(form, 'csrf_token')
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(hiddenField(form, 'return_to')).toBe(returnTo)
      const credentials = { return_to: returnTo, username: users.alice!.username, password: users.alice!.password }

      const missing = await jar.fetch(`${server.url}/login`, { form: credentials })
      expect(missing.status).toBe(403)
      expect(missing.headers.getSetCookie().filter((c) => c.startsWith('oauthkit_session='))).toEqual([])

      const other = new CookieJar()
      const othersToken = hiddenField(await (await other.fetch(`${server.url}/login`)).text(), 'csrf_token') as string
      expect(othersToken).not.toBe(token)
      const wrong = await jar.fetch(`${server.url}/login`, { form: { ...credentials, csrf_token: othersToken } })
      expect(wrong.status).toBe(403)
      expect(jar.cookies.has('oauthkit_session')).toBe(false)

      // Still signed out: the authorization request asks for a sign-in.
      const authorizeResponse = await jar.fetch(`${server.url}${returnTo}`)
      expect(authorizeResponse.status).toBe(303)
      expect(authorizeResponse.headers.get('location')).toBe(`/login?return_to=${encodeURIComponent(returnTo)}`)

      // The same form with its own token signs in.
      const right = await jar.fetch(`${server.url}/login`, { form: { ...credentials, csrf_token: token as string } })
      expect(right.status).toBe(303)
      expect(right.headers.get('location')).toBe(returnTo)
      expect(jar.cookies.has('oauthkit_session')).toBe(true)
    }, TIMEOUT)

    it('POST /consent without a csrf_token, or with a wrong one, is 403 and sends no code', async () => {
      const jar = await signedInJar(users.ivan!)
      const returnTo = authorizePath('read', 'consent-csrf')
      const page = await jar.fetch(`${server.url}/consent?return_to=${encodeURIComponent(returnTo)}`)
      expect(page.status).toBe(200)
      const token = hiddenField(await page.text(), 'csrf_token')
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      const missing = await jar.fetch(`${server.url}/consent`, { form: { return_to: returnTo, decision: 'allow' } })
      expect(missing.status).toBe(403)
      expect(missing.headers.get('location')).toBeNull()
      const wrong = await jar.fetch(`${server.url}/consent`, { form: { return_to: returnTo, decision: 'allow', csrf_token: `${token as string}x` } })
      expect(wrong.status).toBe(403)
      expect(wrong.headers.get('location')).toBeNull()
      expect(callback!.withState('consent-csrf')).toEqual([])

      // Nothing was consented to: the authorization request still asks.
      const again = await jar.fetch(`${server.url}${returnTo}`)
      expect(again.headers.get('location')).toBe(`/consent?return_to=${encodeURIComponent(returnTo)}`)
    }, TIMEOUT)
  })

  describe.concurrent('the session', () => {
    it('the session cookie is HttpOnly, SameSite=Lax and, on loopback, not Secure', async () => {
      const { context, page } = await newPage()
      await page.goto(authorize('read', 'session-cookie'))
      await signInToConsent(page, users.alice!)
      const session = await cookie(context, 'oauthkit_session')
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' })

      // The header itself, as the server sent it.
      const jar = new CookieJar()
      const form = await (await jar.fetch(`${server.url}/login`)).text()
      const response = await jar.fetch(`${server.url}/login`, {
        form: { csrf_token: hiddenField(form, 'csrf_token') ?? '', return_to: '/', username: 'alice', password: PASSWORD },
      })
      const setCookie = response.headers.getSetCookie().find((c) => c.startsWith('oauthkit_session='))
      expect(setCookie).toMatch(/;\s*HttpOnly(;|$)/)
      expect(setCookie).toMatch(/;\s*SameSite=Lax(;|$)/)
      expect(setCookie).not.toMatch(/;\s*Secure(;|$)/i)
    }, TIMEOUT)

    it('signing in starts a new session: a session cookie planted before login is not the one after (session fixation)', async () => {
      // The attacker signs in as mallory and plants that session cookie in the victim's browser.
      const planted = (await signedInJar(users.mallory!)).cookies.get('oauthkit_session') as string
      const { context, page } = await newPage()
      await context.addCookies([{ name: 'oauthkit_session', value: planted, url: server.url }])
      const returnTo = authorizePath('read', 'fixation')
      await page.goto(`${server.url}/login?return_to=${encodeURIComponent(returnTo)}`)
      const csrfBefore = (await cookie(context, 'oauthkit_csrf'))?.value
      expect(csrfBefore).toEqual(expect.any(String))

      await signInToConsent(page, users.carol!)
      const after = await cookie(context, 'oauthkit_session')
      expect(after?.value).toEqual(expect.any(String))
      expect(after?.value).not.toBe(planted)
      expect((await cookie(context, 'oauthkit_csrf'))?.value).not.toBe(csrfBefore)
      expect(await page.getByText('Signed in as carol.').count()).toBe(1)

      // Two sign-ins of the same user get two different sessions.
      const first = (await signedInJar(users.carol!)).cookies.get('oauthkit_session')
      const second = (await signedInJar(users.carol!)).cookies.get('oauthkit_session')
      expect(first).not.toBe(second)
    }, TIMEOUT)

    it('/logout signs out: the form posts with its csrf_token, and the next authorization asks for a sign-in', async () => {
      const { context, page } = await newPage()
      await page.goto(authorize('read', 'logout-1'))
      await signInToConsent(page, users.dave!)
      expect(await cookie(context, 'oauthkit_session')).toBeDefined()

      await page.goto(`${server.url}/logout`)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign out?')
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('heading', { name: 'You are signed out' }).waitFor()
      expect(await cookie(context, 'oauthkit_session')).toBeUndefined()

      await page.goto(authorize('read', 'logout-2'))
      expect(new URL(page.url()).pathname).toBe('/login')
    }, TIMEOUT)

    it('a session cookie kept from before /logout does not resume the session (OWASP ASVS 3.3.1)', async () => {
      const jar = await signedInJar(users.gina!)
      const kept = jar.cookies.get('oauthkit_session') as string
      const form = await (await jar.fetch(`${server.url}/logout`)).text()
      expect((await jar.fetch(`${server.url}/logout`, { form: { csrf_token: hiddenField(form, 'csrf_token') ?? '' } })).status).toBe(200)
      expect(jar.cookies.has('oauthkit_session')).toBe(false)

      // Whoever copied the cookie before (a shared computer, a leaked log) replays it.
      const replay = new CookieJar()
      replay.cookies.set('oauthkit_session', kept)
      const response = await replay.fetch(authorize('read', 'replayed'))
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toMatch(/^\/login\?return_to=/)
    }, TIMEOUT)

    it('the session of a user removed with `oauthkit users remove` ends: the next authorization asks for a sign-in', async () => {
      const jar = await signedInJar(users.hank!)
      expect(await cliJson(db, ['users', 'remove', 'hank'])).toEqual({ removed: 'hank' })
      const response = await jar.fetch(authorize('read', 'removed-user'))
      expect(response.status).toBe(303)
      expect(response.headers.get('location')).toMatch(/^\/login\?return_to=/)
    }, TIMEOUT)

    it('POST /logout without a csrf_token is 403 and keeps the session', async () => {
      const jar = await signedInJar(users.judy!)
      const response = await jar.fetch(`${server.url}/logout`, { form: {} })
      expect(response.status).toBe(403)
      expect(jar.cookies.has('oauthkit_session')).toBe(true)
      const authorizeResponse = await jar.fetch(`${server.url}${authorizePath('read', 'still-signed-in')}`)
      expect(authorizeResponse.headers.get('location')).toMatch(/^\/consent\?/)
    }, TIMEOUT)
  })

  describe.concurrent('consent', () => {
    it('Deny sends the browser to the redirect URI with error=access_denied and the state (RFC 6749 §4.1.2.1)', async () => {
      const { page } = await newPage()
      await page.goto(authorize('read write', 'deny-state'))
      await signInToConsent(page, users.erin!)
      await page.getByRole('button', { name: 'Deny' }).click()
      await page.waitForURL((url) => url.href.startsWith(`${callback!.redirectUri}?`))
      expect(callback!.withState('deny-state')).toHaveLength(1)
      const received = callback!.withState('deny-state')[0] as URL
      expect(received.searchParams.get('error')).toBe('access_denied')
      expect(received.searchParams.get('state')).toBe('deny-state')
      expect(received.searchParams.get('iss')).toBe(server.issuer)
      expect(received.searchParams.has('code')).toBe(false)

      // Nothing was remembered: the next request asks again.
      await page.goto(authorize('read write', 'deny-again'))
      expect(new URL(page.url()).pathname).toBe('/consent')
    }, TIMEOUT)

    it('is remembered per client and scope set: a second authorization skips the consent page', async () => {
      const { page } = await newPage()
      const visited: string[] = []
      page.on('response', (response) => {
        if (response.request().isNavigationRequest()) visited.push(new URL(response.url()).pathname)
      })
      await page.goto(authorize('read', 'first'))
      await signInToConsent(page, users.bob!)
      await page.getByRole('button', { name: 'Allow' }).click()
      await page.waitForURL((url) => url.href.startsWith(`${callback!.redirectUri}?`))
      expect(callback!.withState('first').map((url) => url.searchParams.get('code'))).toEqual([expect.any(String)])

      visited.length = 0
      await page.goto(authorize('read', 'second'))
      await page.waitForURL((url) => url.href.startsWith(`${callback!.redirectUri}?`))
      expect(visited).toEqual(['/authorize', '/callback'])
      expect(callback!.withState('second').map((url) => url.searchParams.get('code'))).toEqual([expect.any(String)])

      // A scope not consented to yet is asked for.
      await page.goto(authorize('read write', 'third'))
      expect(new URL(page.url()).pathname).toBe('/consent')
      expect(await page.getByRole('listitem').allTextContents()).toEqual(['read', 'write'])
    }, TIMEOUT)
  })

  it('the login page fits a phone screen', async () => {
    const { page } = await newPage({ viewport: { width: 360, height: 640 } })
    await page.goto(`${server.url}/login`)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360)
    expect(await page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true)
    await screenshot(page, 'login-phone')
  }, TIMEOUT)

  it('shuts down on SIGTERM with exit code 0 and its shutdown line', async () => {
    for (const context of contexts.splice(0)) await context.close()
    const exit = await server.stop()
    expect(exit.stdout).toContain('oauthkit: shutting down')
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
  }, TIMEOUT)
})

describe('login throttling of oauthkit serve', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined

  beforeAll(async () => {
    // A server of its own: throttling per address would lock every other test out of 127.0.0.1.
    dir = await tempDir('throttle')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    server = await startServer(db)
    await addUser(db, 'alice', PASSWORD)
    await addUser(db, 'bob', PASSWORD)
  }, TIMEOUT)

  afterAll(async () => {
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it('answers repeated wrong passwords with 429 and Retry-After, for the user and for the address', async () => {
    const jar = new CookieJar()
    const token = hiddenField(await (await jar.fetch(`${server!.url}/login`)).text(), 'csrf_token') as string
    const attempt = (username: string, password: string) => jar.fetch(`${server!.url}/login`, { form: { csrf_token: token, return_to: '/', username, password } })

    for (let i = 0; i < 5; i++) expect((await attempt('alice', `wrong-${i}`)).status).toBe(401)
    const throttled = await attempt('alice', 'wrong-again')
    expect(throttled.status).toBe(429)
    const retryAfter = Number(throttled.headers.get('retry-after'))
    expect(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 900).toBe(true)
    expect(await throttled.text()).toContain('Too many failed attempts')

    // While throttled, even the right password is refused, and so is another user from the same address.
    expect((await attempt('alice', PASSWORD)).status).toBe(429)
    expect((await attempt('bob', PASSWORD)).status).toBe(429)
    expect(jar.cookies.has('oauthkit_session')).toBe(false)

    const exit = await server!.stop()
    expect(exit.stdout).toContain('oauthkit: shutting down')
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
  }, TIMEOUT)
})

describe('oauthkit serve behind a TLS-terminating proxy (--issuer https://… --trust-proxy)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined
  /** What the proxy adds to a request it received over https from `address`. */
  const via = (address: string) => ({ 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'as.example.test', 'X-Forwarded-For': address })

  beforeAll(async () => {
    dir = await tempDir('proxy')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    server = await startServer(db, ['--issuer', 'https://as.example.test', '--trust-proxy'])
    await addUser(db, 'alice', PASSWORD)
    await addUser(db, 'bob', PASSWORD)
  }, TIMEOUT)

  afterAll(async () => {
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it('sets the CSRF and session cookies Secure, HttpOnly and SameSite=Lax', async () => {
    const jar = new CookieJar()
    const page = await jar.fetch(`${server!.url}/login`, { headers: via('203.0.113.1') })
    const csrfCookie = page.headers.getSetCookie().find((c) => c.startsWith('__Host-oauthkit_csrf='))
    expect(csrfCookie).toMatch(/;\s*Secure(;|$)/)
    const token = hiddenField(await page.text(), 'csrf_token') ?? ''
    const response = await jar.fetch(`${server!.url}/login`, { headers: via('203.0.113.1'), form: { csrf_token: token, return_to: '/', username: 'alice', password: PASSWORD } })
    expect(response.status).toBe(303)
    const sessionCookie = response.headers.getSetCookie().find((c) => c.startsWith('__Host-oauthkit_session='))
    for (const attribute of [/;\s*Secure(;|$)/, /;\s*HttpOnly(;|$)/, /;\s*SameSite=Lax(;|$)/]) expect(sessionCookie).toMatch(attribute)
  }, TIMEOUT)

  it('throttles a user whose failures come from many addresses, and an address whose failures name many users', async () => {
    // Each attempt from a browser of its own: a sign-in replaces the CSRF cookie.
    const attempt = async (address: string, username: string, password: string) => {
      const jar = new CookieJar()
      const token = hiddenField(await (await jar.fetch(`${server!.url}/login`, { headers: via(address) })).text(), 'csrf_token') ?? ''
      return jar.fetch(`${server!.url}/login`, { headers: via(address), form: { csrf_token: token, return_to: '/', username, password } })
    }

    // Per user: one failure from each of five addresses.
    for (let i = 0; i < 5; i++) expect((await attempt(`198.51.100.${10 + i}`, 'alice', `wrong-${i}`)).status).toBe(401)
    const perUser = await attempt('198.51.100.20', 'alice', PASSWORD)
    expect(perUser.status).toBe(429)
    expect(Number(perUser.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await attempt('198.51.100.20', 'bob', PASSWORD)).status).toBe(303)

    // Per address: five failures naming five users.
    for (let i = 0; i < 5; i++) expect((await attempt('192.0.2.1', `nobody-${i}`, 'wrong')).status).toBe(401)
    const perAddress = await attempt('192.0.2.1', 'bob', PASSWORD)
    expect(perAddress.status).toBe(429)
    expect(Number(perAddress.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await attempt('192.0.2.2', 'bob', PASSWORD)).status).toBe(303)
  }, TIMEOUT)
})
