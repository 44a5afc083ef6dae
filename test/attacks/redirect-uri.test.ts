/**
 * Redirect URI manipulation (RFC 9700 §4.1, §4.11; RFC 6749 §10.6, §10.15; RFC 6819 §5.2.3.5): a redirect_uri that
 * is not exactly a registered one is shown to the user as an error and never redirected to, even for a signed-in user
 * who already consented, and even when the request has another error that would otherwise go to the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorize,
  authorizePath,
  hiddenField,
  locationOf,
  PASSWORD,
  pkce,
  REDIRECT_URI,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
} from './support.js'

const LOOPBACK = 'http://127.0.0.1/callback'

let server: AttackServer
let client: TestClient
let native: TestClient
/** alice, signed in, who already allowed `client` and `native` scope `read`: a redirect needs no further step. */
let alice: Browser
const { challenge } = pkce()

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
  native = await server.addClient({ name: 'Native App', redirectUris: [LOOPBACK] })
  await server.addUser('alice')
  alice = server.browser()
  for (const [registered, redirectUri] of [
    [client, REDIRECT_URI],
    [native, 'http://127.0.0.1:50000/callback'],
  ] as const) {
    const answer = await authorize(alice, authorizePath(registered.clientId, challenge, { redirect_uri: redirectUri }))
    expect(answer.status).toBe(302)
  }
})

afterAll(() => server?.close())

/** The answer is the error page of the server itself: 400, no Location, no code anywhere in it. */
async function expectShownNotRedirected(response: Response): Promise<void> {
  expect(response.status).toBe(400)
  expect(response.headers.get('Location')).toBeNull()
  expect(response.headers.get('Content-Type')).toMatch(/^text\/html/)
  const html = await response.text()
  expect(html).toContain('This request cannot be completed')
  expect(html).not.toMatch(/code=|evil/)
}

describe('RFC 9700 §4.1.3: exact redirect URI matching', () => {
  it('RFC 9700 §4.1.3: the registered redirect_uri itself is redirected to, with a code (the baseline every other case departs from)', async () => {
    const response = await alice.get(authorizePath(client.clientId, challenge))
    expect(response.status).toBe(302)
    const callback = locationOf(response) as URL
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI)
    expect(callback.searchParams.get('code')).toEqual(expect.any(String))
  })

  it.each([
    ['an extra path segment (the registered URI as a prefix)', `${REDIRECT_URI}/evil`],
    ['a trailing slash', `${REDIRECT_URI}/`],
    ['the registered host as a prefix of the attacker’s host', 'https://client.example.com.evil.example/cb'],
    ['the registered host as a suffix of the attacker’s host', 'https://evilclient.example.com/cb'],
    ['a subdomain of the registered host', 'https://evil.client.example.com/cb'],
    ['path traversal out of the registered path', `${REDIRECT_URI}/../../evil`],
    ['percent-encoded path traversal', `${REDIRECT_URI}/%2e%2e/%2e%2e/evil`],
    ['the registered host as userinfo before the attacker’s host', 'https://client.example.com@evil.example/cb'],
    ['userinfo added before the registered host', 'https://evil@client.example.com/cb'],
    ['an added query pointing onwards (client as open redirector)', `${REDIRECT_URI}?next=https://evil.example/`],
    ['a fragment', `${REDIRECT_URI}#@evil.example`],
    ['an empty fragment', `${REDIRECT_URI}#`],
    ['http instead of https', 'http://client.example.com/cb'],
    ['another case in the host (no normalization)', 'https://CLIENT.example.com/cb'],
    ['an explicit default port (no normalization)', 'https://client.example.com:443/cb'],
    ['a javascript: URI in its place', 'javascript:alert(document.domain)//evil'],
  ])('RFC 9700 §4.1.3: a redirect_uri with %s is refused and never redirected', async (_, redirectUri) => {
    await expectShownNotRedirected(await alice.get(authorizePath(client.clientId, challenge, { redirect_uri: redirectUri })))
  })
})

describe('RFC 9700 §4.1.3, RFC 8252 §7.3: loopback redirect URIs of native apps', () => {
  it('RFC 9700 §4.1.3: a loopback redirect_uri may differ in its port only, and is then redirected to', async () => {
    const response = await alice.get(authorizePath(native.clientId, challenge, { redirect_uri: 'http://127.0.0.1:49152/callback' }))
    expect(response.status).toBe(302)
    expect((locationOf(response) as URL).href).toMatch(/^http:\/\/127\.0\.0\.1:49152\/callback\?code=/)
  })

  it.each([
    ['another path', 'http://127.0.0.1:49152/other'],
    ['path traversal', 'http://127.0.0.1:49152/callback/../evil'],
    ['a host that starts with the loopback address', 'http://127.0.0.1.evil.example:49152/callback'],
    ['localhost for the IP literal', 'http://localhost:49152/callback'],
    ['https for http', 'https://127.0.0.1:49152/callback'],
  ])('RFC 9700 §4.1.3: a loopback redirect_uri that differs in more than the port (%s) is refused and never redirected', async (_, redirectUri) => {
    await expectShownNotRedirected(await alice.get(authorizePath(native.clientId, challenge, { redirect_uri: redirectUri })))
  })
})

describe('RFC 9700 §4.11.2: the authorization server is no open redirector', () => {
  it('RFC 9700 §4.11.2: an unknown client_id with an attacker’s redirect_uri is shown, not redirected', async () => {
    await expectShownNotRedirected(await alice.get(authorizePath('no-such-client', challenge, { redirect_uri: 'https://evil.example/cb' })))
  })

  it('RFC 9700 §4.11.2: an error that would go to the client (invalid scope) is not sent to an unregistered redirect_uri', async () => {
    const path = authorizePath(client.clientId, challenge, { redirect_uri: 'https://evil.example/cb', scope: 'admin' })
    await expectShownNotRedirected(await alice.get(path))
    // The same error with the registered URI does go to the client: the refusal above is the redirect URI's doing.
    const registered = await alice.get(authorizePath(client.clientId, challenge, { scope: 'admin' }))
    expect(registered.status).toBe(302)
    expect(locationOf(registered)?.searchParams.get('error')).toBe('invalid_scope')
  })

  it('RFC 9700 §4.11.2: an access_denied from the consent form is not sent to an unregistered redirect_uri', async () => {
    const page = await alice.get(`/consent?return_to=${encodeURIComponent(authorizePath(client.clientId, challenge))}`)
    const csrf = hiddenField(await page.text(), 'csrf_token')
    for (const decision of ['allow', 'deny']) {
      const forged = authorizePath(client.clientId, challenge, { redirect_uri: 'https://evil.example/cb' })
      await expectShownNotRedirected(await alice.post('/consent', { csrf_token: csrf, return_to: forged, decision }))
    }
  })

  it.each(['https://evil.example/', '//evil.example/authorize?x', '/\\evil.example', 'https:evil.example'])(
    'RFC 9700 §4.11.2: the sign-in page returns only to a path of this server, never to return_to=%s',
    async (returnTo) => {
      const browser = server.browser()
      const form = await browser.get(`/login?return_to=${encodeURIComponent(returnTo)}`)
      const html = await form.text()
      const signedIn = await browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: returnTo, username: 'alice', password: PASSWORD })
      expect(signedIn.status).toBe(303)
      expect(signedIn.headers.get('Location')).toBe('/')
    },
  )
})
