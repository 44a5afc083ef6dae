/**
 * Attacks on registration by initial access token (RFC 7591 §3) and on client management (RFC 7592), against the
 * ready server over HTTP: guessed, stale, exhausted and expired tokens, one client's registration access token used on
 * another, and updates that try to smuggle in what registration refuses.
 */
import * as nodeCrypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { StoreRegistrations } from '../../src/store/registration.js'
import { tokenHash } from '../../src/store/secrets.js'
import { authorize, authorizePath, isActive, locationOf, obtainTokens, pkce, REDIRECT_URI, signIn, startServer, type AttackServer, type TestClient } from './support.js'

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) }
})

const LIMIT = 5

let server: AttackServer
let admin: TestClient
let addresses = 0

beforeAll(async () => {
  server = await startServer({ registration: { policy: 'token', scopes: ['read'] }, rateLimit: { registrationPerAddress: { maxFailures: LIMIT, windowSeconds: 3600 } } })
  // A resource server of the operator's, to ask introspection whether a registered client's tokens still live.
  admin = await server.addClient({ name: 'introspector', grantTypes: ['client_credentials'], protectedResources: [server.origin] })
  await server.addUser('alice')
})

afterAll(async () => {
  await server?.close()
})

/** An address no other request of this file uses, so that the registration limit of one test never holds another. */
function freshAddress(): string {
  return `198.51.100.${++addresses}`
}

const CLIENT = { redirect_uris: [REDIRECT_URI], client_name: 'Registered', grant_types: ['authorization_code', 'refresh_token'] }

function register(metadata: Record<string, unknown>, initialAccessToken: string | undefined, address = freshAddress()): Promise<Response> {
  return fetch(`${server.origin}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': address, ...(initialAccessToken === undefined ? {} : { Authorization: `Bearer ${initialAccessToken}` }) },
    body: JSON.stringify(metadata),
  })
}

function manage(uri: string, method: 'GET' | 'PUT' | 'DELETE', token: string, body?: Record<string, unknown>): Promise<Response> {
  return fetch(uri, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  })
}

interface Registered {
  readonly client_id: string
  readonly client_secret: string
  readonly registration_access_token: string
  readonly registration_client_uri: string
  readonly [member: string]: unknown
}

/** Registers a client with an initial access token of one use made for it. */
async function registered(metadata: Record<string, unknown> = CLIENT): Promise<Registered> {
  const { token } = await server.store.initialAccessTokens.create({ uses: 1 })
  const response = await register(metadata, token)
  expect(response.status).toBe(201)
  return (await response.json()) as Registered
}

async function expectInvalidToken(response: Response): Promise<void> {
  expect(response.status).toBe(401)
  expect(response.headers.get('WWW-Authenticate')).toBe('Bearer error="invalid_token"')
  expect(((await response.json()) as { error: string }).error).toBe('invalid_token')
}

async function expectError(response: Response, status: number, error: string): Promise<void> {
  expect(response.status).toBe(status)
  expect(((await response.json()) as { error: string }).error).toBe(error)
}

describe('RFC 7591 §3: initial access tokens', () => {
  it('RFC 7591 §3: 30 guessed initial access tokens sent at once from one address get invalid_token up to the limit, then 429; nothing registered', async () => {
    const before = (await server.store.clients.list()).length
    const { token } = await server.store.initialAccessTokens.create()
    // Guesses near the real one (one character off) and far from it; a lookup by digest treats both alike.
    const guesses = Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}` : `guess-${i}-${token.slice(6)}`))
    const address = freshAddress()
    const responses = await Promise.all(guesses.map((guess) => register(CLIENT, guess, address)))
    const statuses = responses.map((response) => response.status)
    expect(statuses.filter((status) => status === 401)).toHaveLength(LIMIT)
    expect(statuses.filter((status) => status === 429)).toHaveLength(30 - LIMIT)
    // A near miss and a far one get the same answer, byte for byte: nothing tells how close a guess came.
    const refused = responses.filter((response) => response.status === 401)
    expect(new Set(await Promise.all(refused.map((response) => response.text()))).size).toBe(1)
    expect((await server.store.clients.list()).length).toBe(before)
    // The real token still works, from another address.
    expect((await register(CLIENT, token)).status).toBe(201)
  })

  it('RFC 7591 §3: without a token, registration is 401 with a Bearer challenge', async () => {
    const response = await register(CLIENT, undefined)
    expect(response.status).toBe(401)
    expect(response.headers.get('WWW-Authenticate')).toBe('Bearer')
  })

  it('RFC 7591 §3: a token past its expiry is refused', async () => {
    const now = Math.floor(Date.now() / 1000)
    await server.store.initialAccessTokenTable.insert({ id: 'expired', tokenHash: tokenHash('an-expired-initial-token'), createdAt: now - 7200, expiresAt: now - 1 })
    await expectInvalidToken(await register(CLIENT, 'an-expired-initial-token'))
  })

  it('RFC 7591 §3: a token of one use, sent by two registrations at once, registers exactly one client, then is refused', async () => {
    const before = (await server.store.clients.list()).length
    const { token } = await server.store.initialAccessTokens.create({ uses: 1 })
    const responses = await Promise.all([register({ ...CLIENT, client_name: 'first' }, token), register({ ...CLIENT, client_name: 'second' }, token)])
    expect(responses.map((response) => response.status).sort()).toEqual([201, 401])
    expect((await server.store.clients.list()).length - before).toBe(1)
    await expectInvalidToken(await register(CLIENT, token))
  })

  it('RFC 7591 §3: a token removed by the operator stops working at once', async () => {
    const { token, record } = await server.store.initialAccessTokens.create()
    await server.store.initialAccessTokens.remove(record.id)
    await expectInvalidToken(await register(CLIENT, token))
  })
})

describe('RFC 7592 §2: registration access tokens', () => {
  it('RFC 7592 §2.2: after an update rotated the registration access token, the old one is refused for read, update and delete', async () => {
    const client = await registered()
    const updated = await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, client_name: 'Renamed' })
    expect(updated.status).toBe(200)
    const fresh = ((await updated.json()) as Registered).registration_access_token
    expect(fresh).not.toBe(client.registration_access_token)
    await expectInvalidToken(await manage(client.registration_client_uri, 'GET', client.registration_access_token))
    await expectInvalidToken(await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, client_name: 'Stale' }))
    await expectInvalidToken(await manage(client.registration_client_uri, 'DELETE', client.registration_access_token))
    expect((await server.store.clients.get(client.client_id))?.name).toBe('Renamed')
    expect((await manage(client.registration_client_uri, 'GET', fresh)).status).toBe(200)
  })

  it('RFC 7592 §2.2: two updates racing with one token: one wins, and only the token it returned works afterwards', async () => {
    const client = await registered()
    const responses = await Promise.all(
      ['A', 'B'].map((name) => manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, client_name: name })),
    )
    expect(responses.map((response) => response.status).sort()).toEqual([200, 401])
    const winner = (await (responses.find((response) => response.status === 200) as Response).json()) as Registered
    expect((await manage(client.registration_client_uri, 'GET', winner.registration_access_token)).status).toBe(200)
    await expectInvalidToken(await manage(client.registration_client_uri, 'GET', client.registration_access_token))
  })

  it('RFC 7592 §2: client A’s registration access token on client B’s registration_client_uri reads, changes and deletes nothing', async () => {
    const a = await registered()
    const b = await registered({ ...CLIENT, client_name: 'Victim' })
    const read = await manage(b.registration_client_uri, 'GET', a.registration_access_token)
    const text = await read.clone().text()
    await expectInvalidToken(read)
    expect(text).not.toContain(b.client_id)
    await expectInvalidToken(await manage(b.registration_client_uri, 'PUT', a.registration_access_token, { ...CLIENT, client_id: b.client_id, redirect_uris: ['https://attacker.example/cb'] }))
    // Naming B in A's own URI does not help either: the body must name the client of the URI.
    await expectError(await manage(a.registration_client_uri, 'PUT', a.registration_access_token, { ...CLIENT, client_id: b.client_id }), 400, 'invalid_client_metadata')
    await expectInvalidToken(await manage(b.registration_client_uri, 'DELETE', a.registration_access_token))
    expect(await server.store.clients.get(b.client_id)).toMatchObject({ name: 'Victim', redirectUris: [REDIRECT_URI] })
  })

  it('RFC 6749 §10.10: a registration access token is checked with crypto.timingSafeEqual over SHA-256 digests, for an unknown client too', async () => {
    const client = await registered()
    const compare = vi.mocked(nodeCrypto.timingSafeEqual)
    const sha256 = (value: string) => nodeCrypto.createHash('sha256').update(value).digest('base64url')
    const wrong = `${client.registration_access_token.slice(0, -1)}${client.registration_access_token.endsWith('A') ? 'B' : 'A'}`
    for (const uri of [client.registration_client_uri, `${server.origin}/register/nobody`]) {
      compare.mockClear()
      await expectInvalidToken(await manage(uri, 'GET', wrong))
      const calls = compare.mock.calls.map(([a, b]) => [Buffer.from(a as Uint8Array).toString(), Buffer.from(b as Uint8Array).toString()])
      // The presented token reaches the comparison as its digest, beside a stored digest of the same length.
      const expected = uri === client.registration_client_uri ? sha256(client.registration_access_token) : sha256('')
      expect(calls).toContainEqual([sha256(wrong), expected])
    }
  })

  it('RFC 7592 §2: an operator’s client has no registration access token: its URI answers 401 to any token, its secret included', async () => {
    const victim = await server.addClient({ name: 'Operator app' })
    const a = await registered()
    await expectInvalidToken(await manage(`${server.origin}/register/${victim.clientId}`, 'GET', a.registration_access_token))
    await expectInvalidToken(await manage(`${server.origin}/register/${victim.clientId}`, 'DELETE', victim.clientSecret as string))
    expect(await server.store.clients.get(victim.clientId)).toBeDefined()
  })
})

describe('RFC 7592 §2.2: what an update may not smuggle in', () => {
  it.each([
    ['a client_secret of its own choosing', { client_secret: 'chosen-by-the-attacker' }, 'invalid_client_metadata'],
    ['the client_credentials grant (tokens without a user)', { grant_types: ['client_credentials'], response_types: [] }, 'invalid_client_metadata'],
    ['plain http on a public host', { redirect_uris: ['http://attacker.example/cb'] }, 'invalid_redirect_uri'],
    ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(document.cookie)'] }, 'invalid_redirect_uri'],
    ['a scope it was never given', { scope: 'admin' }, 'invalid_client_metadata'],
  ])('RFC 7592 §2.2: %s is refused, and the registration is unchanged', async (_name, fields, error) => {
    const client = await registered()
    await expectError(await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, ...fields }), 400, error)
    expect(await server.store.clients.get(client.client_id)).toMatchObject({ redirectUris: [REDIRECT_URI], grantTypes: CLIENT.grant_types, scopes: ['read'], name: 'Registered' })
    // The token was not spent on the refused update.
    expect((await manage(client.registration_client_uri, 'GET', client.registration_access_token)).status).toBe(200)
  })

  it('RFC 9700 §4.1: a redirect URI refused at update is never redirected to by /authorize', async () => {
    const client = await registered({ ...CLIENT, token_endpoint_auth_method: 'none' })
    await expectError(
      await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, token_endpoint_auth_method: 'none', client_id: client.client_id, redirect_uris: ['http://attacker.example/cb'] }),
      400,
      'invalid_redirect_uri',
    )
    const browser = server.browser()
    const path = authorizePath(client.client_id, pkce().challenge, { redirect_uri: 'http://attacker.example/cb' })
    expect((await signIn(browser, path)).status).toBe(303)
    const response = await browser.get(path)
    expect(response.status).toBe(400)
    expect(response.headers.get('Location')).toBeNull()
  })
})

describe('RFC 7592 §2.2: an update does not carry a consent over to what the user never saw', () => {
  const ATTACKER_URI = 'https://attacker.example/cb'

  /** A confidential registered client, and a browser whose user allowed it (its consent is now remembered). */
  async function consented(): Promise<{ client: Registered; browser: ReturnType<AttackServer['browser']> }> {
    const client = await registered()
    const browser = server.browser()
    await obtainTokens(server, browser, { clientId: client.client_id, clientSecret: client.client_secret })
    // The baseline: the remembered consent approves the next request without a page.
    const again = await browser.get(authorizePath(client.client_id, pkce().challenge))
    expect(locationOf(again)?.origin).toBe(new URL(REDIRECT_URI).origin)
    return { client, browser }
  }

  /** The answer of the signed-in user's browser to an authorization request for `redirectUri`: never a silent code. */
  async function expectAskedAgain(browser: ReturnType<AttackServer['browser']>, clientId: string, redirectUri: string): Promise<void> {
    const response = await browser.get(authorizePath(clientId, pkce().challenge, { redirect_uri: redirectUri }))
    expect(response.status).toBe(303)
    expect(locationOf(response)?.origin).toBe(server.origin)
    expect(locationOf(response)?.pathname).toBe('/consent')
  }

  it('RFC 7592 §2.2: a consent given for the old redirect URIs does not approve a code for a redirect URI the update added', async () => {
    const { client, browser } = await consented()
    const updated = await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, redirect_uris: [REDIRECT_URI, ATTACKER_URI] })
    expect(updated.status).toBe(200)
    await expectAskedAgain(browser, client.client_id, ATTACKER_URI)
  })

  it('RFC 7592 §2.2: a confidential client cannot go public (its refresh tokens would work without the secret), so no flip mints a new secret', async () => {
    const { client, browser } = await consented()
    const uri = client.registration_client_uri
    const tokens = await obtainTokens(server, browser, { clientId: client.client_id, clientSecret: client.client_secret })
    const flipped = await manage(uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, token_endpoint_auth_method: 'none' })
    expect(flipped.status).toBe(400)
    expect(await flipped.json()).toMatchObject({ error: 'invalid_client_metadata' })
    // The stolen refresh token still needs the secret.
    const bare = await fetch(`${server.origin}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id }).toString(),
    })
    expect(bare.status).toBe(401)
  })

  it('RFC 7592 §2.2: an update that only renames the client keeps the consent of its unchanged redirect URIs', async () => {
    const { client, browser } = await consented()
    const updated = await manage(client.registration_client_uri, 'PUT', client.registration_access_token, { ...CLIENT, client_id: client.client_id, client_name: 'Renamed' })
    expect(updated.status).toBe(200)
    const response = await authorize(browser, authorizePath(client.client_id, pkce().challenge))
    expect(locationOf(response)?.origin).toBe(new URL(REDIRECT_URI).origin)
  })
})

describe('RFC 7592 §2.3: deletion', () => {
  it('RFC 7592 §2.3: deleting a registration revokes the tokens it obtained, and its refresh token stops working', async () => {
    const client = await registered()
    const tokens = await obtainTokens(server, server.browser(), { clientId: client.client_id, clientSecret: client.client_secret })
    expect(await isActive(server, admin, tokens.access_token)).toBe(true)
    expect((await manage(client.registration_client_uri, 'DELETE', client.registration_access_token)).status).toBe(204)
    expect(await isActive(server, admin, tokens.access_token)).toBe(false)
    const refreshed = await fetch(`${server.origin}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret}`)}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }).toString(),
    })
    expect(refreshed.status).toBe(401)
  })

  it('CORS: a browser client may call /register/{client_id} with GET, PUT and DELETE and its Authorization header', async () => {
    const client = await registered()
    const preflight = await fetch(client.registration_client_uri, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization, content-type' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('Access-Control-Allow-Methods')).toBe('GET, PUT, DELETE')
    expect(preflight.headers.get('Access-Control-Allow-Headers')).toMatch(/Authorization/)
    const read = await manage(client.registration_client_uri, 'GET', client.registration_access_token)
    expect(read.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect((await fetch(`${server.origin}/register/a/b`)).status).toBe(404)
  })
})

describe('RFC 7592 §2.3 (removal by the server): the purge never removes a client in use', () => {
  const DAY = 86_400
  const now = () => Math.floor(Date.now() / 1000)

  /** A server of its own with open registration under `inactiveTtl`, a client registered on it `age` seconds ago, and alice. */
  async function serverWithClient(inactiveTtl: number | undefined, age: number, metadata: Record<string, unknown> = CLIENT) {
    const own = await startServer({ registration: { policy: 'open', scopes: ['read'], inactiveTtl } })
    await own.addUser('alice')
    const response = await fetch(`${own.origin}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(metadata) })
    expect(response.status).toBe(201)
    const client = (await response.json()) as Registered
    // Registered `age` seconds ago: the record as the store would hold it then.
    const record = await own.store.clientTable.get(client.client_id)
    await own.store.clientTable.delete(client.client_id)
    await own.store.clientTable.insert({ ...(record as NonNullable<typeof record>), createdAt: now() - age })
    const purge = (at: number) => new StoreRegistrations(own.store, { policy: 'open', scopes: ['read'], inactiveTtl }).purge(at)
    return { own, client: { clientId: client.client_id, clientSecret: client.client_secret }, purge }
  }

  it('RFC 7592 §2.3: a client that obtained a token a moment ago survives the inactivity purge, even under an inactiveTtl shorter than an hour', async () => {
    const { own, client, purge } = await serverWithClient(1800, 50 * 60)
    try {
      await obtainTokens(own, own.browser(), client)
      await purge(now())
      expect(await own.store.clientTable.get(client.clientId)).toBeDefined()
    } finally {
      await own.close()
    }
  })

  it('RFC 7592 §2.3: a client whose tokens expired and were purged is kept for its inactiveTtl, not removed as never used', async () => {
    const { own, client, purge } = await serverWithClient(undefined, 10 * 60)
    try {
      await obtainTokens(own, own.browser(), client)
      // 32 days on: its refresh token (30 days) expired and was purged, but it used the service well within 90 days.
      await own.store.purgeExpired(now() + 31 * DAY)
      await purge(now() + 32 * DAY)
      expect(await own.store.clientTable.get(client.clientId)).toBeDefined()
    } finally {
      await own.close()
    }
  })
})
