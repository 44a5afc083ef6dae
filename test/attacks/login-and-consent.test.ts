/**
 * Attacks on the login and consent pages: cross-site request forgery (RFC 6749 §10.12), clickjacking (RFC 9700 §4.16,
 * RFC 6749 §10.13) and session fixation. A forged form changes nothing, no page may be framed, and signing in starts
 * a new session with a new CSRF secret, so nothing an attacker planted before survives it.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorize,
  authorizePath,
  CSRF_COOKIE,
  decide,
  hiddenField,
  locationOf,
  PASSWORD,
  pkce,
  SESSION_COOKIE,
  setCookie,
  signIn,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
} from './support.js'

let server: AttackServer
let client: TestClient
const { challenge } = pkce()

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
  await server.addUser('alice')
  await server.addUser('mallory')
})

afterAll(() => server?.close())

let users = 0

/**
 * A browser signed in as a new user (named after `name`, so that no consent given in another test applies), on an
 * authorization request that user has not consented to.
 */
async function signedIn(name: string): Promise<{ browser: Browser; path: string; username: string }> {
  const username = `${name}-${++users}`
  await server.addUser(username)
  const browser = server.browser()
  const path = authorizePath(client.clientId, challenge)
  expect((await signIn(browser, path, username)).status).toBe(303)
  return { browser, path, username }
}

/** The session id inside a session cookie value (base64url JSON, then a MAC). */
describe('RFC 6749 §10.12: cross-site request forgery on the login form', () => {
  it('RFC 6749 §10.12: a login without a valid CSRF token (none, forged, or the attacker’s own) is refused with 403 and starts no session', async () => {
    const attacker = server.browser()
    const attackerToken = hiddenField(await (await attacker.get('/login')).text(), 'csrf_token')
    const victim = server.browser()
    await victim.get('/login')
    for (const token of [{}, { csrf_token: 'forged' }, { csrf_token: attackerToken }]) {
      // Login CSRF: the attacker's form signs the victim's browser in to the attacker's account.
      const response = await victim.post('/login', { ...token, return_to: '/', username: 'mallory', password: PASSWORD })
      expect(response.status).toBe(403)
      expect(response.headers.get('Location')).toBeNull()
      expect(setCookie(response, SESSION_COOKIE)).toBeUndefined()
    }
    expect(victim.cookies.has(SESSION_COOKIE)).toBe(false)
    expect(locationOf(await victim.get(authorizePath(client.clientId, challenge)))?.pathname).toBe('/login')
  })

  it('RFC 6749 §10.12: a login form posted by a browser that never loaded the form (no CSRF cookie) is refused with 403', async () => {
    const attacker = server.browser()
    const attackerToken = hiddenField(await (await attacker.get('/login')).text(), 'csrf_token')
    const fresh = server.browser()
    const response = await fresh.post('/login', { csrf_token: attackerToken, return_to: '/', username: 'mallory', password: PASSWORD })
    expect(response.status).toBe(403)
    expect(setCookie(response, SESSION_COOKIE)).toBeUndefined()
  })
})

describe('RFC 6749 §10.12: cross-site request forgery on the consent form', () => {
  it('RFC 6749 §10.12: an Allow posted without a valid CSRF token is refused with 403: no code, no redirect, no consent remembered', async () => {
    const { browser, path } = await signedIn('alice')
    const attacker = await signedIn('mallory')
    const attackerToken = hiddenField(await (await attacker.browser.get(`/consent?return_to=${encodeURIComponent(attacker.path)}`)).text(), 'csrf_token')
    for (const token of [{}, { csrf_token: 'forged' }, { csrf_token: attackerToken }]) {
      const response = await browser.post('/consent', { ...token, return_to: path, decision: 'allow' })
      expect(response.status).toBe(403)
      expect(response.headers.get('Location')).toBeNull()
    }
    // Nothing was granted: the same request still asks alice.
    expect(locationOf(await browser.get(path))?.pathname).toBe('/consent')
  })

  it('RFC 6749 §10.12: a GET of the consent page with decision=allow only shows the form; it grants nothing', async () => {
    const { browser, path } = await signedIn('alice')
    const response = await browser.get(`/consent?return_to=${encodeURIComponent(path)}&decision=allow`)
    expect(response.status).toBe(200)
    expect(response.headers.get('Location')).toBeNull()
    expect(locationOf(await browser.get(path))?.pathname).toBe('/consent')
  })

  it('RFC 6749 §10.12: the authorization endpoint never grants a client the user has not allowed, even for a signed-in user', async () => {
    const { browser, path } = await signedIn('alice')
    const response = await browser.get(path)
    expect(response.status).toBe(303)
    expect(locationOf(response)?.pathname).toBe('/consent')
    // Allowing through the real form does grant it: the refusals above are the CSRF defence's doing.
    expect((await decide(browser, path, 'allow')).status).toBe(302)
  })

  it('RFC 6749 §10.12: the session and CSRF cookies are HttpOnly and SameSite=Lax', async () => {
    const browser = server.browser()
    const form = await browser.get('/login')
    const html = await form.text()
    expect(setCookie(form, CSRF_COOKIE)).toMatch(/; HttpOnly; SameSite=Lax/)
    const response = await browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: '/', username: 'alice', password: PASSWORD })
    expect(setCookie(response, SESSION_COOKIE)).toMatch(/; HttpOnly; SameSite=Lax/)
  })
})

describe('RFC 9700 §4.16: clickjacking', () => {
  it.each([
    ['the login page', async () => server.browser().get('/login')],
    ['the consent page', async () => {
      const { browser, path } = await signedIn('alice')
      return browser.get(`/consent?return_to=${encodeURIComponent(path)}`)
    }],
    ['the sign-out page', async () => server.browser().get('/logout')],
    ['the error page of an unknown client', async () => server.browser().get(authorizePath('no-such-client', challenge))],
  ])('RFC 9700 §4.16: %s may not be framed (X-Frame-Options DENY, CSP frame-ancestors none; RFC 6749 §10.13)', async (_, open) => {
    const response = await open()
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/)
    expect(response.headers.get('X-Frame-Options')).toBe('DENY')
    expect(response.headers.get('Content-Security-Policy')).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/)
  })
})

describe('RFC 6749 §10.12: session fixation', () => {
  it('RFC 6749 §10.12: a session cookie planted before sign-in is replaced by a new session id, and the planted one stays the attacker’s', async () => {
    const attacker = await signedIn('mallory')
    const planted = attacker.browser.cookies.get(SESSION_COOKIE) as string
    const victim = server.browser()
    victim.cookies.set(SESSION_COOKIE, planted)
    expect((await signIn(victim, attacker.path, 'alice')).status).toBe(303)
    const fresh = victim.cookies.get(SESSION_COOKIE) as string
    expect(fresh).not.toBe(planted)
    // The attacker's copy did not become alice's session.
    const page = await attacker.browser.get(`/consent?return_to=${encodeURIComponent(attacker.path)}`)
    expect(await page.text()).toContain(`Signed in as ${attacker.username}.`)
  })

  it('RFC 6749 §10.12: a forged session cookie never authenticates', async () => {
    const browser = server.browser()
    const payload = Buffer.from(JSON.stringify({ sid: 'fixed', userId: 'id-alice', expiresAt: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')
    browser.cookies.set(SESSION_COOKIE, `${payload}.forged-mac`)
    expect(locationOf(await browser.get(authorizePath(client.clientId, challenge)))?.pathname).toBe('/login')
    // A well-formed session id that the server never issued is no session either.
    browser.cookies.set(SESSION_COOKIE, randomBytes(32).toString('base64url'))
    expect(locationOf(await browser.get(authorizePath(client.clientId, challenge)))?.pathname).toBe('/login')
  })

  it('RFC 6749 §10.12: a CSRF cookie planted before sign-in is replaced at sign-in, so the attacker’s token cannot post the consent form', async () => {
    const attacker = server.browser()
    const attackerToken = hiddenField(await (await attacker.get('/login')).text(), 'csrf_token')
    const victim = server.browser()
    victim.cookies.set(CSRF_COOKIE, attacker.cookies.get(CSRF_COOKIE) as string)
    await server.addUser('victim')
    const path = authorizePath(client.clientId, challenge)
    expect((await signIn(victim, path, 'victim')).status).toBe(303)
    expect(victim.cookies.get(CSRF_COOKIE)).not.toBe(attacker.cookies.get(CSRF_COOKIE))
    const forged = await victim.post('/consent', { csrf_token: attackerToken, return_to: path, decision: 'allow' })
    expect(forged.status).toBe(403)
    expect(forged.headers.get('Location')).toBeNull()
    // The victim's own form still works after sign-in.
    expect((await authorize(victim, path, 'victim')).status).toBe(302)
  })
})

describe('RFC 6749 §10.12: CSRF tokens are bound to the session, and a cookie name sent twice counts for nothing', () => {
  it('RFC 6749 §10.12: a CSRF cookie tossed in after sign-in, with the token the attacker got for it, cannot post the victim’s consent', async () => {
    // The attacker, signed in or not, loads a form: a CSRF cookie value of its own and the token for it.
    const attacker = server.browser()
    const attackerToken = hiddenField(await (await attacker.get('/login')).text(), 'csrf_token')
    const attackerCookie = attacker.cookies.get(CSRF_COOKIE) as string
    const { browser: victim, path } = await signedIn('tossed')
    // A sibling host (or, in development, another loopback port) overwrites the victim's CSRF cookie.
    victim.cookies.set(CSRF_COOKIE, attackerCookie)
    const forged = await victim.post('/consent', { csrf_token: attackerToken, return_to: path, decision: 'allow' })
    expect(forged.status).toBe(403)
    expect(forged.headers.get('Location')).toBeNull()
    expect(locationOf(await victim.get(path))?.pathname).toBe('/consent')
    // A token the attacker got in a session of its own, with that session's CSRF cookie, is no help either.
    const signedInAttacker = await signedIn('tossing-attacker')
    const boundToAttacker = hiddenField(await (await signedInAttacker.browser.get(`/consent?return_to=${encodeURIComponent(signedInAttacker.path)}`)).text(), 'csrf_token')
    victim.cookies.set(CSRF_COOKIE, signedInAttacker.browser.cookies.get(CSRF_COOKIE) as string)
    expect((await victim.post('/consent', { csrf_token: boundToAttacker, return_to: path, decision: 'allow' })).status).toBe(403)
  })

  it('RFC 6749 §10.12: a request carrying the session or CSRF cookie twice is treated as having neither', async () => {
    const { browser, path } = await signedIn('doubled')
    const session = browser.cookies.get(SESSION_COOKIE) as string
    const csrf = browser.cookies.get(CSRF_COOKIE) as string
    const token = hiddenField(await (await browser.get(`/consent?return_to=${encodeURIComponent(path)}`)).text(), 'csrf_token')
    const post = (cookie: string) =>
      server.browser().request('/consent', { form: { csrf_token: token, return_to: path, decision: 'allow' }, headers: { Cookie: cookie } })
    // The CSRF cookie twice: the form is refused, whichever of the two is the real one.
    expect((await post(`${SESSION_COOKIE}=${session}; ${CSRF_COOKIE}=attacker-value-0000000; ${CSRF_COOKIE}=${csrf}`)).status).toBe(403)
    // The session cookie twice: signed out.
    const doubled = await post(`${SESSION_COOKIE}=${session}; ${SESSION_COOKIE}=${session}; ${CSRF_COOKIE}=${csrf}`)
    expect(locationOf(doubled)?.pathname).toBe('/login')
    // Once each, the same form goes through.
    expect((await post(`${SESSION_COOKIE}=${session}; ${CSRF_COOKIE}=${csrf}`)).status).toBe(302)
  })
})

describe('RFC 6749 §10.2, RFC 8252 §8.6: remembered consent is never applied to a client that cannot authenticate', () => {
  it('RFC 8252 §8.6: a public client gets the consent page on every request, even after the user allowed it once; a confidential client does not', async () => {
    const native = await server.addClient({ name: 'Native App', public: true, redirectUris: ['http://127.0.0.1/cb'] })
    const { browser } = await signedIn('public-consent')
    const first = authorizePath(native.clientId, challenge, { redirect_uri: 'http://127.0.0.1/cb' })
    expect(locationOf(await browser.get(first))?.pathname).toBe('/consent')
    const allowed = await decide(browser, first, 'allow')
    expect(allowed.status).toBe(302)
    expect(locationOf(allowed)?.searchParams.get('code')).toEqual(expect.any(String))
    // Any local program can open the user's browser with the public client_id, another loopback port (RFC 8252 §7.3
    // lets the port vary) and a PKCE pair of its own: it gets the page, never a code at once.
    const attacker = pkce()
    const replayed = await browser.get(authorizePath(native.clientId, attacker.challenge, { redirect_uri: 'http://127.0.0.1:4444/cb' }))
    expect(replayed.status).toBe(303)
    expect(locationOf(replayed)?.pathname).toBe('/consent')
    expect(locationOf(replayed)?.searchParams.get('code')).toBeNull()
    // The same user's consent to a confidential client is remembered: its second request needs no page.
    const path = authorizePath(client.clientId, challenge)
    expect(locationOf(await browser.get(path))?.pathname).toBe('/consent')
    expect((await decide(browser, path, 'allow')).status).toBe(302)
    const again = await browser.get(authorizePath(client.clientId, challenge))
    expect(again.status).toBe(302)
    expect(locationOf(again)?.searchParams.get('code')).toEqual(expect.any(String))
  })
  it('RFC 8252 §8.6: a consent to a public client remembered in the store (e.g. from before an upgrade) is not applied', async () => {
    const native = await server.addClient({ name: 'Old Native App', public: true, redirectUris: ['http://127.0.0.1/cb'] })
    const { browser, username } = await signedIn('public-remembered')
    await server.app.validator.saveConsent(native.clientId, `id-${username}`, ['read'])
    const response = await browser.get(authorizePath(native.clientId, pkce().challenge, { redirect_uri: 'http://127.0.0.1:4444/cb' }))
    expect(locationOf(response)?.pathname).toBe('/consent')
  })
})

describe('RFC 9700 §4.11: the page a sign-in returns to is a path of this server, whatever the form says', () => {
  it('RFC 9700 §4.11: a return_to with CR/LF, NUL, non-ASCII, another origin or a backslash signs in and lands on this server, never a 500 or an injected header', async () => {
    const authorizeAt = authorizePath(client.clientId, challenge)
    const crafted = [
      `${authorizeAt}\r\nSet-Cookie: injected=1`,
      `${authorizeAt}\u0000`,
      `${authorizeAt}&state=zoë\u2028`,
      '/\r\n/evil.example',
      '//evil.example/authorize?x=1',
      '/\\evil.example/authorize?x=1',
      'https://evil.example/authorize?x=1',
      '/authorize?\u0000',
      '/logout',
      '\u00e9',
    ]
    for (const returnTo of crafted) {
      await server.addUser(`return-${++users}`)
      const browser = server.browser()
      const form = await browser.get('/login')
      const response = await browser.post('/login', { csrf_token: hiddenField(await form.text(), 'csrf_token'), return_to: returnTo, username: `return-${users}`, password: PASSWORD })
      expect(response.status, JSON.stringify(returnTo)).toBe(303)
      const location = locationOf(response) as URL
      expect(location.origin).toBe(server.origin)
      expect(['/', '/authorize']).toContain(location.pathname)
      expect(response.headers.get('Location')).toMatch(/^\/[\x21-\x7e]*$/)
      expect(setCookie(response, 'injected')).toBeUndefined()
    }
  })
})
