/**
 * Attacks on open client registration (RFC 7591 §5 Security Considerations) against the ready server over HTTP:
 * a flood of registrations from one address, a registered redirect URI tried with another client, and a client
 * that names itself after another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorizePath, hiddenField, pkce, signIn, startServer, type AttackServer, type TestClient } from './support.js'

const LIMIT = 5

let server: AttackServer
let closed: AttackServer
let victim: TestClient

beforeAll(async () => {
  server = await startServer({ registration: { scopes: ['read'] }, rateLimit: { registrationPerAddress: { maxFailures: LIMIT, windowSeconds: 3600 } } })
  closed = await startServer()
  victim = await server.addClient({ name: 'Photo Printer' })
  await server.addUser('alice')
})

afterAll(async () => {
  await closed?.close()
  await server?.close()
})

/** A registration request from `address` (the server trusts X-Forwarded-For, as behind its proxy). */
function register(target: AttackServer, metadata: Record<string, unknown>, address: string): Promise<Response> {
  return fetch(`${target.origin}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': address },
    body: JSON.stringify(metadata),
  })
}

const PUBLIC_CLIENT = { redirect_uris: ['http://127.0.0.1:8123/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] }

describe('RFC 7591 §5: registration flooding', () => {
  it('RFC 7591 §5: 30 registrations sent at once from one address register exactly the limit; the rest get 429 with Retry-After', async () => {
    const before = (await server.store.clients.list()).length
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => register(server, { ...PUBLIC_CLIENT, client_name: `flood ${i}` }, '203.0.113.7')))
    const statuses = responses.map((response) => response.status)
    expect(statuses.filter((status) => status === 201)).toHaveLength(LIMIT)
    expect(statuses.filter((status) => status === 429)).toHaveLength(30 - LIMIT)
    const refused = responses.find((response) => response.status === 429) as Response
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect(((await refused.json()) as { error: string }).error).toBe('temporarily_unavailable')
    expect((await server.store.clients.list()).length - before).toBe(LIMIT)
    // Another address is not held back by the flood.
    expect((await register(server, PUBLIC_CLIENT, '198.51.100.9')).status).toBe(201)
  })
})

describe('RFC 7591 §5: what a registered client may not do', () => {
  it('RFC 7591 §5: a client cannot register itself for client_credentials, which would give it tokens without any user', async () => {
    const response = await register(server, { grant_types: ['client_credentials'], response_types: [], scope: 'read' }, '198.51.100.19')
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: string }).error).toBe('invalid_client_metadata')
  })

  it('RFC 7591 §5: a redirect URI an attacker registered for their own client is refused for the victim’s client, with no redirect', async () => {
    const registered = await register(server, { redirect_uris: ['https://attacker.example/cb'], client_name: 'Photo Printer' }, '198.51.100.20')
    expect(registered.status).toBe(201)
    const browser = server.browser()
    const path = authorizePath(victim.clientId, pkce().challenge, { redirect_uri: 'https://attacker.example/cb' })
    expect((await signIn(browser, path)).status).toBe(303)
    const response = await browser.get(path)
    expect(response.status).toBe(400)
    expect(response.headers.get('Location')).toBeNull()
    expect(await response.text()).not.toContain('attacker.example')
  })

  it('RFC 9700 §4.11.2: an error of a self-registered client is shown on a page, never redirected to the URI its registrant chose', async () => {
    const registered = (await (
      await register(server, { redirect_uris: ['https://attacker.example/landing'], token_endpoint_auth_method: 'none' }, '198.51.100.22')
    ).json()) as { client_id: string }
    const lure = (params: Record<string, string>) =>
      `/authorize?${new URLSearchParams({ response_type: 'code', client_id: registered.client_id, redirect_uri: 'https://attacker.example/landing', ...params }).toString()}`
    const browser = server.browser()
    // No PKCE (invalid_request), and prompt=none without a session (login_required): both errors, both kept here.
    for (const path of [lure({}), lure({ code_challenge: pkce().challenge, code_challenge_method: 'S256', prompt: 'none' })]) {
      const response = await browser.get(path)
      expect(response.status).toBe(400)
      expect(response.headers.get('Location')).toBeNull()
    }
    // An operator's client still gets its errors at its redirect URI (RFC 6749 §4.1.2.1).
    const operator = await browser.get(`/authorize?response_type=code&client_id=${victim.clientId}&redirect_uri=${encodeURIComponent('https://client.example.com/cb')}`)
    expect(operator.status).toBe(302)
    expect(operator.headers.get('Location')).toMatch(/^https:\/\/client\.example\.com\/cb\?error=invalid_request/)
  })

  it('RFC 7591 §5: a client that registered itself under another’s name is marked unverified on the consent page, with the host it sends the user to', async () => {
    const registered = (await (
      await register(server, { redirect_uris: ['https://attacker.example/cb'], client_name: 'Photo Printer', token_endpoint_auth_method: 'none' }, '198.51.100.21')
    ).json()) as { client_id: string }
    const browser = server.browser()
    const impostor = authorizePath(registered.client_id, pkce().challenge, { redirect_uri: 'https://attacker.example/cb' })
    expect((await signIn(browser, impostor)).status).toBe(303)
    const page = await (await browser.get(`/consent?return_to=${encodeURIComponent(impostor)}`)).text()
    expect(page).toContain('registered itself')
    expect(page).toContain('<strong>attacker.example</strong>')
    expect(hiddenField(page, 'csrf_token')).toEqual(expect.any(String))
    // The operator's own client of the same name carries no such mark.
    const genuine = authorizePath(victim.clientId, pkce().challenge)
    expect(await (await browser.get(`/consent?return_to=${encodeURIComponent(genuine)}`)).text()).not.toContain('registered itself')
  })
})

describe('RFC 7591 §3: registration is off unless the operator opens it', () => {
  it('RFC 7591 §3: a server without --registration has no /register and advertises no registration_endpoint', async () => {
    expect((await register(closed, PUBLIC_CLIENT, '198.51.100.30')).status).toBe(404)
    const metadata = (await (await fetch(`${closed.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(metadata).not.toHaveProperty('registration_endpoint')
    const open = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(open.registration_endpoint).toBe(`${server.origin}/register`)
  })
})
