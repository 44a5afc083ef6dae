/**
 * What a client may ask of the interaction with the user (OpenID Connect Core §3.1.2.1, which OAuth clients send too):
 * `prompt=none` never shows a page and says why to the client instead, `prompt=login` and `max_age` make the user sign
 * in again, `prompt=consent` asks again. A client can neither skip a step nor loop the user through one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorize, authorizePath, decide, hiddenField, locationOf, pkce, REDIRECT_URI, signIn, startServer, type AttackServer, type Browser, type TestClient } from './support.js'

let server: AttackServer
let client: TestClient
let users = 0
const { challenge } = pkce()

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
})

afterAll(() => server?.close())

/** A browser signed in as a new user who has allowed `client` once (consent remembered). */
async function consented(): Promise<Browser> {
  const username = `interaction-${++users}`
  await server.addUser(username)
  const browser = server.browser()
  expect((await authorize(browser, authorizePath(client.clientId, challenge), username)).status).toBe(302)
  return browser
}

/** The error a redirect to the client carries, with its state and iss. */
function clientError(response: Response, state: string): string | null {
  expect(response.status).toBe(302)
  const location = locationOf(response) as URL
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
  expect(location.searchParams.get('code')).toBeNull()
  expect(location.searchParams.get('state')).toBe(state)
  expect(location.searchParams.get('iss')).toBe(server.origin)
  return location.searchParams.get('error')
}

describe('OpenID Connect Core §3.1.2.1: prompt=none shows no page', () => {
  it('§3.1.2.1: without a session, prompt=none answers the client login_required instead of the login page', async () => {
    const response = await server.browser().get(authorizePath(client.clientId, challenge, { prompt: 'none', state: 's1' }))
    expect(clientError(response, 's1')).toBe('login_required')
  })

  it('§3.1.2.1: signed in but never consented, prompt=none answers consent_required; with the consent remembered, the code', async () => {
    const username = `interaction-${++users}`
    await server.addUser(username)
    const browser = server.browser()
    expect((await signIn(browser, '/', username)).status).toBe(303)
    expect(clientError(await browser.get(authorizePath(client.clientId, challenge, { prompt: 'none', state: 's2' })), 's2')).toBe('consent_required')
    const path = authorizePath(client.clientId, challenge)
    expect((await decide(browser, path, 'allow')).status).toBe(302)
    const silent = await browser.get(authorizePath(client.clientId, challenge, { prompt: 'none' }))
    expect(silent.status).toBe(302)
    expect(locationOf(silent)?.searchParams.get('code')).toEqual(expect.any(String))
  })

  it('§3.1.2.1: prompt=none with a public client is consent_required, since its consent is asked every time', async () => {
    const native = await server.addClient({ name: 'Native', public: true, redirectUris: [REDIRECT_URI] })
    const browser = await consented()
    expect(clientError(await browser.get(authorizePath(native.clientId, challenge, { prompt: 'none', state: 's3' })), 's3')).toBe('consent_required')
  })

  it('§3.1.2.1: prompt=none with another value, an unknown prompt, or a malformed max_age is invalid_request to the client', async () => {
    const browser = await consented()
    for (const params of [{ prompt: 'none login' }, { prompt: 'bogus' }, { max_age: '-1' }, { max_age: 'soon' }]) {
      expect(clientError(await browser.get(authorizePath(client.clientId, challenge, { ...params, state: 's4' })), 's4')).toBe('invalid_request')
    }
  })
})

describe('OpenID Connect Core §3.1.2.1: prompt=login, max_age and prompt=consent', () => {
  it('§3.1.2.1: prompt=login sends a signed-in user to sign in again; signed in, the request is answered once, not looped', async () => {
    const browser = await consented()
    const path = authorizePath(client.clientId, challenge, { prompt: 'login' })
    const first = await browser.get(path)
    expect(locationOf(first)?.pathname).toBe('/login')
    const returnTo = locationOf(first)?.searchParams.get('return_to') as string
    expect(returnTo).not.toMatch(/prompt=login/)
    expect((await signIn(browser, returnTo, `interaction-${users}`)).status).toBe(303)
    const answered = await browser.get(returnTo)
    expect(answered.status).toBe(302)
    expect(locationOf(answered)?.searchParams.get('code')).toEqual(expect.any(String))
  })

  it('§3.1.2.1: max_age=0 asks a user signed in this very second to sign in again; a generous max_age does not', async () => {
    const browser = await consented()
    expect(locationOf(await browser.get(authorizePath(client.clientId, challenge, { max_age: '0' })))?.pathname).toBe('/login')
    const generous = await browser.get(authorizePath(client.clientId, challenge, { max_age: '3600' }))
    expect(generous.status).toBe(302)
    expect(locationOf(generous)?.searchParams.get('code')).toEqual(expect.any(String))
  })

  it('§3.1.2.1: a sign-in that grows older than max_age while the consent page is open is sent to sign in again, not a server error', async () => {
    const openid = await server.addClient({ scopes: ['openid', 'read'] })
    const username = `interaction-${++users}`
    await server.addUser(username)
    const browser = server.browser()
    expect((await signIn(browser, '/', username)).status).toBe(303)
    const path = authorizePath(openid.clientId, challenge, { scope: 'openid read', max_age: '1' })
    const consent = await browser.get(path)
    expect(locationOf(consent)?.pathname).toBe('/consent')
    const page = await browser.get(`${locationOf(consent)?.pathname}${locationOf(consent)?.search}`)
    expect(page.status).toBe(200)
    const html = await page.text()
    // The user reads the page for longer than max_age: the sign-in no longer meets it when they allow.
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const allowed = await browser.post('/consent', { csrf_token: hiddenField(html, 'csrf_token'), return_to: path, decision: 'allow' })
    expect(allowed.status).toBe(303)
    expect(locationOf(allowed)?.origin).toBe(server.origin)
    expect(locationOf(allowed)?.searchParams.get('code')).toBeNull()
    // Back to the authorization request, which asks for a fresh sign-in.
    const again = await browser.get(`${locationOf(allowed)?.pathname}${locationOf(allowed)?.search}`)
    expect(locationOf(again)?.pathname).toBe('/login')
    expect(server.logs.filter((entry) => entry.level === 'error')).toEqual([])
  })

  it('§3.1.2.1: prompt=consent shows the consent page although the consent is remembered', async () => {
    const browser = await consented()
    expect(locationOf(await browser.get(authorizePath(client.clientId, challenge, { prompt: 'consent' })))?.pathname).toBe('/consent')
    expect((await browser.get(authorizePath(client.clientId, challenge))).status).toBe(302)
  })
})
