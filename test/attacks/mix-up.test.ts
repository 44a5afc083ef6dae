/**
 * Mix-up defence (RFC 9700 §4.4.2.1, RFC 9207): every authorization response, errors included and in every response
 * mode, carries `iss`, the issuer identifier of the metadata document, so that a client talking to several
 * authorization servers can tell which one answered before it sends the code anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorize,
  authorizePath,
  decide,
  hiddenField,
  locationOf,
  pkce,
  REDIRECT_URI,
  signIn,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
} from './support.js'

let server: AttackServer
let client: TestClient
/** alice, signed in, who allowed `client` scope `read`. */
let alice: Browser
/** The issuer the metadata document announces. */
let issuer: string
const { challenge } = pkce()

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
  await server.addUser('alice')
  alice = server.browser()
  expect((await authorize(alice, authorizePath(client.clientId, challenge))).status).toBe(302)
  const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
  issuer = metadata.issuer as string
})

afterAll(() => server?.close())

/** The parameters delivered to the client by a redirect in the query. */
function callback(response: Response): URLSearchParams {
  expect(response.status).toBe(302)
  const location = locationOf(response) as URL
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
  return location.searchParams
}

describe('RFC 9700 §4.4.2.1: mix-up defence through issuer identification (RFC 9207)', () => {
  it('RFC 9700 §4.4.2.1: the metadata announces iss in authorization responses, under the server’s own issuer', async () => {
    const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true)
    expect(issuer).toBe(server.origin)
  })

  it('RFC 9700 §4.4.2.1: a code response carries iss, identical to the metadata issuer (RFC 9207 §2)', async () => {
    const params = callback(await alice.get(authorizePath(client.clientId, challenge, { state: 'st' })))
    expect(params.get('code')).toEqual(expect.any(String))
    expect(params.get('state')).toBe('st')
    expect(params.get('iss')).toBe(issuer)
  })

  it('RFC 9700 §4.4.2.1: an error response carries iss too (invalid_scope, RFC 9207 §2)', async () => {
    const params = callback(await alice.get(authorizePath(client.clientId, challenge, { scope: 'admin' })))
    expect(params.get('error')).toBe('invalid_scope')
    expect(params.get('iss')).toBe(issuer)
  })

  it('RFC 9700 §4.4.2.1: the user’s refusal (access_denied) carries iss', async () => {
    const browser = server.browser()
    const path = authorizePath(client.clientId, challenge, { scope: 'read write' })
    expect((await signIn(browser, path)).status).toBe(303)
    const params = callback(await decide(browser, path, 'deny'))
    expect(params.get('error')).toBe('access_denied')
    expect(params.get('iss')).toBe(issuer)
  })

  it('RFC 9700 §4.4.2.1: a fragment response carries iss in the fragment', async () => {
    const response = await alice.get(authorizePath(client.clientId, challenge, { response_mode: 'fragment' }))
    expect(response.status).toBe(302)
    const fragment = new URLSearchParams((locationOf(response) as URL).hash.slice(1))
    expect(fragment.get('code')).toEqual(expect.any(String))
    expect(fragment.get('iss')).toBe(issuer)
  })

  it('RFC 9700 §4.4.2.1: a form_post response carries iss as a form field', async () => {
    const response = await alice.get(authorizePath(client.clientId, challenge, { response_mode: 'form_post' }))
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).toContain(`<form method="post" action="${REDIRECT_URI}">`)
    expect(hiddenField(html, 'code')).toEqual(expect.any(String))
    expect(hiddenField(html, 'iss')).toBe(issuer)
  })

  it('RFC 9700 §4.4.2.1: iss is the configured issuer, whatever host the request claims to be for', async () => {
    const response = await alice.request(authorizePath(client.clientId, challenge), { headers: { 'X-Forwarded-Host': 'as.evil.example' } })
    expect(callback(response).get('iss')).toBe(issuer)
  })
})
