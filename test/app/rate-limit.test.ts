/**
 * Rate limiting of the ready server, over HTTP through `app.fetch`: failed token requests per client and per address,
 * failed sign-ins per username and per address (the login page and the password grant share the username's count),
 * 429 with a decreasing `Retry-After` that ends with the window, no work done for a blocked attempt, nothing issued
 * ever lost, and two instances over one PostgreSQL database sharing the counts. A fake clock moves the windows.
 */
import { randomBytes, scryptSync } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, describe, expect, inject, it, vi } from 'vitest'
import { createApp, type App, type AppOptions } from '../../src/app/app.js'
import { addressBucket, type RateLimitOptions } from '../../src/app/rate-limit.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { PostgresStore } from '../../src/store/postgres/index.js'
import { type Store } from '../../src/store/store.js'
import { basic, FORM } from '../support/memory-validator.js'
import { Browser, hiddenField } from './browser.js'

const ISSUER = 'http://127.0.0.1:3000'
const REDIRECT = 'https://client.example.com/cb'
const PASSWORD = 'correct horse battery staple'
// RFC 7636 Appendix B
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const START = 1_800_000_000

/**
 * The stored form of {@link PASSWORD} with scrypt at N = 2^10 instead of 2^15: the stored form carries its
 * parameters, and a sign-in then costs a millisecond instead of some 100 ms. Attempts name existing users, since an
 * unknown username is checked at full cost.
 */
const salt = randomBytes(16)
const PASSWORD_HASH = `scrypt:1024:8:1:${salt.toString('base64url')}:${scryptSync(PASSWORD, salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64url')}`

async function addUser(store: Store, username: string): Promise<string> {
  const userId = `id-${username}`
  await store.userTable.insert({ userId, username, passwordHash: PASSWORD_HASH, createdAt: START })
  return userId
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

interface Setup {
  app: App
  store: Store
  /** The rate limiter's clock, in seconds: tests move it. */
  clock: { now: number }
  clientId: string
  clientSecret: string
}

/**
 * An app whose limits run on a fake clock, with a confidential client allowed every grant the tests use and the user
 * alice. `rateLimit` overrides the limits (the clock is added).
 */
async function setUp(rateLimit: RateLimitOptions | false = {}, given?: Store): Promise<Setup> {
  const store = given ?? (await MemoryStore.open())
  const clock = { now: START }
  const options: AppOptions = {
    store,
    issuer: ISSUER,
    log: () => {},
    enablePasswordGrant: true,
    rateLimit: rateLimit === false ? false : { now: () => clock.now, ...rateLimit },
  }
  const app = await createApp(options)
  cleanups.push(async () => {
    await app.close()
    if (given === undefined) await store.close()
  })
  const { clientId, clientSecret } = await store.clients.create({
    name: 'Photo Printer',
    redirectUris: [REDIRECT],
    grantTypes: ['authorization_code', 'client_credentials', 'password', 'refresh_token'],
    scopes: ['read'],
  })
  if ((await store.users.getByUsername('alice')) === undefined) await addUser(store, 'alice')
  return { app, store, clock, clientId, clientSecret: clientSecret as string }
}

/** A token request: form `params`, client credentials by HTTP Basic when `secret` is given, from `address`. */
function token(app: App, params: Record<string, string>, options: { clientId?: string | undefined; secret?: string | undefined; address?: string | undefined } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...FORM }
  if (options.clientId !== undefined && options.secret !== undefined) headers.Authorization = basic(options.clientId, options.secret)
  const request = new Request(`${ISSUER}/token`, { method: 'POST', headers, body: new URLSearchParams(params).toString() })
  return app.fetch(request, { remoteAddress: options.address ?? '192.0.2.1' })
}

function clientCredentials(setup: Setup, secret: string, address?: string): Promise<Response> {
  return token(setup.app, { grant_type: 'client_credentials' }, { clientId: setup.clientId, secret, address })
}

/** Signs in through the login page, as a browser at `address` does. */
async function signIn(app: App, username: string, password: string, address = '192.0.2.1'): Promise<Response> {
  const browser = new Browser(app, ISSUER, address)
  const html = await (await browser.get('/login')).text()
  return browser.post('/login', { csrf_token: hiddenField(html, 'csrf_token'), return_to: '/', username, password })
}

/** Asserts a 429 of the token endpoint in full, and returns its Retry-After. */
async function expectTokenLimited(response: Response): Promise<number> {
  expect(response.status).toBe(429)
  expect(response.headers.get('Cache-Control')).toBe('no-store')
  expect(response.headers.get('Content-Type')).toMatch(/^application\/json/)
  const body = (await response.json()) as Record<string, unknown>
  expect(body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/Too many failed requests: retry after \d+ seconds/) })
  const retryAfter = Number(response.headers.get('Retry-After'))
  expect(Number.isInteger(retryAfter) && retryAfter > 0).toBe(true)
  expect(body.error_description).toContain(`${retryAfter} seconds`)
  return retryAfter
}

describe('rate limits at the token endpoint', () => {
  it('counts failed client authentications per client_id, by Basic or client_id alike, from any address; then 429 even for the right secret', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 3, windowSeconds: 60 } })
    expect((await clientCredentials(setup, 'wrong', '192.0.2.1')).status).toBe(401)
    expect((await clientCredentials(setup, 'wrong', '192.0.2.2')).status).toBe(401)
    // client_secret_post names the same client.
    const posted = await token(setup.app, { grant_type: 'client_credentials', client_id: setup.clientId, client_secret: 'wrong' }, { address: '192.0.2.3' })
    expect(posted.status).toBe(401)
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret, '192.0.2.4'))).toBe(60)
    // Another client goes on.
    const other = await setup.store.clients.create({ name: 'Other', grantTypes: ['client_credentials'], scopes: ['read'] })
    expect((await token(setup.app, { grant_type: 'client_credentials' }, { clientId: other.clientId, secret: other.clientSecret as string })).status).toBe(200)
  })

  it('counts a client_id that needs form-decoding in Basic on the same counter as the client_id parameter', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 2, windowSeconds: 60 } })
    const clientId = 'printer 2%+b'
    // Basic carries it form-urlencoded (RFC 6749 §2.3.1): printer+2%25%2Bb.
    expect((await token(setup.app, { grant_type: 'client_credentials' }, { clientId, secret: 'wrong', address: '192.0.2.1' })).status).toBe(401)
    expect((await token(setup.app, { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' }, { address: '192.0.2.2' })).status).toBe(401)
    await expectTokenLimited(await token(setup.app, { grant_type: 'client_credentials' }, { clientId, secret: 'wrong', address: '192.0.2.3' }))
    await expectTokenLimited(await token(setup.app, { grant_type: 'client_credentials', client_id: clientId, client_secret: 'wrong' }, { address: '192.0.2.4' }))
    // Another client_id, or the same one not decoded, counts apart.
    expect((await token(setup.app, { grant_type: 'client_credentials', client_id: 'printer+2%25%2Bb', client_secret: 'wrong' }, { address: '192.0.2.5' })).status).toBe(401)
  })

  it('counts a client_id too long to be remembered like any other', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 2, windowSeconds: 60 } })
    const long = 'x'.repeat(300)
    for (const address of ['192.0.2.1', '192.0.2.2']) {
      expect((await token(setup.app, { grant_type: 'client_credentials', client_id: long, client_secret: 'wrong' }, { address })).status).toBe(401)
    }
    await expectTokenLimited(await token(setup.app, { grant_type: 'client_credentials', client_id: long, client_secret: 'wrong' }, { address: '192.0.2.3' }))
    expect((await token(setup.app, { grant_type: 'client_credentials', client_id: `${long}y`, client_secret: 'wrong' }, { address: '192.0.2.4' })).status).toBe(401)
  })

  it('counts every failed request per address, whatever the client or error; other addresses go on', async () => {
    const setup = await setUp({ tokenPerAddress: { maxFailures: 3, windowSeconds: 120 } })
    const attacker = '198.51.100.7'
    expect((await token(setup.app, { grant_type: 'client_credentials' }, { clientId: 'nobody', secret: 'x', address: attacker })).status).toBe(401)
    expect((await token(setup.app, { grant_type: 'authorization_code', code: 'guess', redirect_uri: REDIRECT, code_verifier: VERIFIER }, { clientId: setup.clientId, secret: setup.clientSecret, address: attacker })).status).toBe(400)
    expect((await token(setup.app, {}, { clientId: setup.clientId, secret: setup.clientSecret, address: attacker })).status).toBe(400)
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret, attacker))).toBe(120)
    expect((await clientCredentials(setup, setup.clientSecret, '198.51.100.8')).status).toBe(200)
  })

  it('counts an IPv6 address by its /64 and an IPv4-mapped address as the IPv4 one', async () => {
    expect(addressBucket('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64')
    expect(addressBucket('2001:DB8:1:2::1')).toBe('2001:db8:1:2::/64')
    expect(addressBucket('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressBucket('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(addressBucket('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64')
    expect(addressBucket('192.0.2.1')).toBe('192.0.2.1')
    const setup = await setUp({ tokenPerAddress: { maxFailures: 2, windowSeconds: 60 } })
    expect((await clientCredentials(setup, 'wrong', '2001:db8:0:7::1')).status).toBe(401)
    expect((await clientCredentials(setup, 'wrong', '2001:db8:0:7:ffff::2')).status).toBe(401)
    await expectTokenLimited(await clientCredentials(setup, setup.clientSecret, '2001:db8:0:7::99'))
    expect((await clientCredentials(setup, setup.clientSecret, '2001:db8:0:8::1')).status).toBe(200)
  })

  it('never counts a success: a client gets tokens at any rate', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 1, windowSeconds: 60 }, tokenPerAddress: { maxFailures: 1, windowSeconds: 60 } })
    for (let i = 0; i < 20; i++) expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
  })

  it('gives a Retry-After that decreases with time, and works again once the window ended', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 2, windowSeconds: 300 } })
    await clientCredentials(setup, 'wrong')
    setup.clock.now += 10
    await clientCredentials(setup, 'wrong')
    // The window started at the first failure.
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))).toBe(290)
    setup.clock.now += 100
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))).toBe(190)
    setup.clock.now += 189
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))).toBe(1)
    setup.clock.now += 1
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    // A fresh window: one failure is allowed again before the limit.
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
  })

  it('answers before any work: no secret is checked and the code is not touched, so it still redeems after the window', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 1, windowSeconds: 60 } })
    const authorize = `${ISSUER}/authorize?response_type=code&client_id=${setup.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=read&code_challenge=${CHALLENGE}&code_challenge_method=S256`
    const authorization = await setup.app.server.createAuthorizationResponse(authorize, 'GET', undefined, {}, ['read'], { userId: 'id-alice' })
    const code = new URL(authorization.headers.Location as string).searchParams.get('code') as string
    const redeem = () =>
      token(setup.app, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER }, { clientId: setup.clientId, secret: setup.clientSecret })

    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    const authenticate = vi.spyOn(setup.store.clients, 'authenticate')
    const consume = vi.spyOn(setup.store.codes, 'consume')
    await expectTokenLimited(await redeem())
    expect(authenticate).not.toHaveBeenCalled()
    expect(consume).not.toHaveBeenCalled()
    setup.clock.now += 60
    const redeemed = await redeem()
    expect(redeemed.status).toBe(200)
    expect(await redeemed.json()).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) })
  })

  it('counts wrong passwords of the password grant per username, with the login page: each blocks the other', async () => {
    const setup = await setUp({ loginPerUsername: { maxFailures: 2, windowSeconds: 900 } })
    await addUser(setup.store, 'bob')
    const password = (username: string, value: string, address: string) =>
      token(setup.app, { grant_type: 'password', username, password: value, scope: 'read' }, { clientId: setup.clientId, secret: setup.clientSecret, address })
    expect((await password('alice', 'wrong', '192.0.2.1')).status).toBe(400)
    expect((await signIn(setup.app, 'alice', 'wrong', '192.0.2.2')).status).toBe(401)
    const authenticate = vi.spyOn(setup.store.users, 'authenticate')
    await expectTokenLimited(await password('alice', PASSWORD, '192.0.2.3'))
    expect((await signIn(setup.app, 'alice', PASSWORD, '192.0.2.4')).status).toBe(429)
    expect(authenticate).not.toHaveBeenCalled()
    expect((await password('bob', PASSWORD, '192.0.2.3')).status).toBe(200)
  })

  it('keeps short digests as keys whatever a client sends: no client_id, username or address in clear', async () => {
    const setup = await setUp()
    const hit = vi.spyOn(setup.store.rateLimits, 'hit')
    const long = 'x'.repeat(20_000)
    expect((await token(setup.app, { grant_type: 'client_credentials' }, { clientId: long, secret: 'wrong' })).status).toBe(401)
    expect((await token(setup.app, { grant_type: 'password', username: 'alice', password: 'wrong' }, { clientId: setup.clientId, secret: setup.clientSecret })).status).toBe(400)
    expect((await signIn(setup.app, 'alice', 'wrong')).status).toBe(401)
    const keys = hit.mock.calls.map(([key]) => key)
    // The address twice at /token; alice's count twice, shared by the password grant and the login page; the login
    // address twice, since a password grant's guesses count on the login page's per-address budget too.
    expect(keys).toHaveLength(7)
    expect(new Set(keys).size).toBe(4)
    for (const key of keys) expect(key).toMatch(/^(token:client|token:addr|login:user|login:addr):[A-Za-z0-9_-]{43}$/)
    expect(keys.join()).not.toMatch(/alice|192\.0\.2|xxx/)
  })

  it('reads a counter at most once a second, and learns it from every failure it counts', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 3, windowSeconds: 60 }, tokenPerAddress: { maxFailures: 50, windowSeconds: 60 } })
    const peek = vi.spyOn(setup.store.rateLimits, 'peek')
    for (let i = 0; i < 20; i++) expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    expect(peek).toHaveBeenCalledTimes(1)
    setup.clock.now += 1
    for (let i = 0; i < 20; i++) expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    expect(peek).toHaveBeenCalledTimes(2)
    // Failures in this same second: each count tells the new figure, and the third reaches the limit without a lookup.
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))).toBe(60)
    expect(peek).toHaveBeenCalledTimes(2)
    setup.clock.now += 1
    expect(await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))).toBe(59)
    expect(peek).toHaveBeenCalledTimes(3)
  })

  it('keeps nothing of a lookup that a count overlapped', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 1, windowSeconds: 60 } })
    const peek = setup.store.rateLimits.peek.bind(setup.store.rateLimits)
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const spy = vi.spyOn(setup.store.rateLimits, 'peek').mockImplementationOnce(async (keys, now) => {
      const windows = await peek(keys, now)
      await gate
      return windows
    })
    // The first request reads a clean counter, slowly; meanwhile a failure reaches the limit.
    const slow = clientCredentials(setup, setup.clientSecret)
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    release()
    expect((await slow).status).toBe(200)
    // Within the same second, the limit holds: the slow lookup's clean answer did not replace the count.
    await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))
    expect(spy).toHaveBeenCalledTimes(2)
  })

  it('lets at most one more attempt through an instance that read a counter this second, while another reaches the limit', async () => {
    const setup = await setUp({ tokenPerClient: { maxFailures: 3, windowSeconds: 60 } })
    const other = await createApp({ store: setup.store, issuer: ISSUER, log: () => {}, rateLimit: { tokenPerClient: { maxFailures: 3, windowSeconds: 60 }, now: () => setup.clock.now } })
    cleanups.push(() => other.close())
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await token(other, { grant_type: 'client_credentials' }, { clientId: setup.clientId, secret: 'wrong' })).status).toBe(401)
    await expectTokenLimited(await token(other, { grant_type: 'client_credentials' }, { clientId: setup.clientId, secret: setup.clientSecret }))
    // The first instance still takes the counter for clean within this second: one more guess goes through, and counts.
    expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))
    setup.clock.now += 1
    await expectTokenLimited(await clientCredentials(setup, setup.clientSecret))
  })

  it('applies no per-address limit to a request without an address', async () => {
    const setup = await setUp({ tokenPerAddress: { maxFailures: 1, windowSeconds: 60 } })
    const anonymous = () => setup.app.fetch(new Request(`${ISSUER}/token`, { method: 'POST', headers: { ...FORM, Authorization: basic(setup.clientId, 'wrong') }, body: 'grant_type=client_credentials' }))
    expect((await anonymous()).status).toBe(401)
    expect((await anonymous()).status).toBe(401)
  })

  it('does nothing at all with rateLimit: false: no counter read or written, no 429', async () => {
    const setup = await setUp(false)
    const peek = vi.spyOn(setup.store.rateLimits, 'peek')
    const hit = vi.spyOn(setup.store.rateLimits, 'hit')
    for (let i = 0; i < 25; i++) expect((await clientCredentials(setup, 'wrong')).status).toBe(401)
    for (let i = 0; i < 6; i++) expect((await signIn(setup.app, 'alice', 'wrong')).status).toBe(401)
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
    expect(peek).not.toHaveBeenCalled()
    expect(hit).not.toHaveBeenCalled()
  })

  it('answers 503 at once when the database cannot be reached, without waiting for it a second time at the endpoint', async () => {
    const setup = await setUp()
    const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    vi.spyOn(setup.store, 'isUnavailableError').mockImplementation((error) => error === outage)
    // The database is gone: every statement fails, a lookup as much as a count.
    vi.spyOn(setup.store.rateLimits, 'peek').mockRejectedValue(outage)
    vi.spyOn(setup.store.rateLimits, 'hit').mockRejectedValue(outage)
    const authenticate = vi.spyOn(setup.store.clients, 'authenticate')
    const response = await clientCredentials(setup, setup.clientSecret)
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
    expect(authenticate).not.toHaveBeenCalled()
    const login = await signIn(setup.app, 'alice', PASSWORD)
    expect(login.status).toBe(503)
    expect(login.headers.get('retry-after')).toBe('5')
  })

  it('fails open on any other failure of the counters: the request goes ahead', async () => {
    const setup = await setUp()
    vi.spyOn(setup.store.rateLimits, 'peek').mockRejectedValue(new Error('a bug in a counter'))
    expect((await clientCredentials(setup, setup.clientSecret)).status).toBe(200)
  })

  it('refuses a limit that is not two positive whole numbers', async () => {
    const store = await MemoryStore.open()
    cleanups.push(() => store.close())
    await expect(createApp({ store, issuer: ISSUER, log: () => {}, rateLimit: { tokenPerClient: { maxFailures: 0, windowSeconds: 60 } } })).rejects.toThrow(
      new TypeError('rateLimit.tokenPerClient.maxFailures must be a positive whole number, got 0'),
    )
    await expect(createApp({ store, issuer: ISSUER, log: () => {}, rateLimit: { loginPerAddress: { maxFailures: 5, windowSeconds: 1.5 } } })).rejects.toThrow(TypeError)
  })
})

describe('rate limits of the login page', () => {
  it('counts failures per username from any address; past the limit 429 with the page and Retry-After, and no password hashed', async () => {
    const setup = await setUp({ loginPerUsername: { maxFailures: 3, windowSeconds: 600 } })
    for (let i = 0; i < 3; i++) expect((await signIn(setup.app, 'alice', 'wrong', `192.0.2.${i + 1}`)).status).toBe(401)
    const authenticate = vi.spyOn(setup.store.users, 'authenticate')
    const blocked = await signIn(setup.app, 'alice', PASSWORD, '192.0.2.50')
    expect(blocked.status).toBe(429)
    expect(blocked.headers.get('Retry-After')).toBe('600')
    expect(blocked.headers.get('Cache-Control')).toBe('no-store')
    expect(await blocked.text()).toContain('Too many failed attempts. Try again in 600 seconds.')
    expect(authenticate).not.toHaveBeenCalled()
  })

  it('counts failures per address across usernames; other addresses go on', async () => {
    const setup = await setUp({ loginPerAddress: { maxFailures: 3, windowSeconds: 600 } })
    for (const username of ['bob', 'carol', 'dave']) await addUser(setup.store, username)
    for (const username of ['bob', 'carol', 'dave']) expect((await signIn(setup.app, username, 'wrong', '198.51.100.7')).status).toBe(401)
    expect((await signIn(setup.app, 'alice', PASSWORD, '198.51.100.7')).status).toBe(429)
    expect((await signIn(setup.app, 'alice', PASSWORD, '198.51.100.8')).status).toBe(303)
  })

  it('gives a decreasing Retry-After, works again after the window, and a success forgets the username', async () => {
    const setup = await setUp({ loginPerUsername: { maxFailures: 2, windowSeconds: 900 } })
    await signIn(setup.app, 'alice', 'wrong', '192.0.2.1')
    await signIn(setup.app, 'alice', 'wrong', '192.0.2.2')
    setup.clock.now += 300
    expect((await signIn(setup.app, 'alice', PASSWORD, '192.0.2.3')).headers.get('Retry-After')).toBe('600')
    setup.clock.now += 600
    expect((await signIn(setup.app, 'alice', PASSWORD, '192.0.2.3')).status).toBe(303)
    // One failure, a success, one failure: without the reset that would be two, and the limit.
    await signIn(setup.app, 'alice', 'wrong', '192.0.2.4')
    expect((await signIn(setup.app, 'alice', PASSWORD, '192.0.2.5')).status).toBe(303)
    expect((await signIn(setup.app, 'alice', 'wrong', '192.0.2.6')).status).toBe(401)
    expect((await signIn(setup.app, 'alice', PASSWORD, '192.0.2.7')).status).toBe(303)
  })
})

describe('rate limits across instances over one PostgreSQL database', () => {
  const DATABASE_URL = inject('databaseUrl')
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 })
  admin.on('error', () => {})
  afterAll(() => admin.end())

  it('two app instances share the counts of the token endpoint and of the login page, each within a second', async () => {
    const schema = `oauthkit_test_${randomBytes(8).toString('hex')}`
    const first = await PostgresStore.open(DATABASE_URL, { schema })
    const second = await PostgresStore.open(DATABASE_URL, { schema })
    cleanups.push(async () => {
      await first.close()
      await second.close()
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
    })
    const limits: RateLimitOptions = { tokenPerClient: { maxFailures: 4, windowSeconds: 60 }, loginPerUsername: { maxFailures: 2, windowSeconds: 60 } }
    const one = await setUp(limits, first)
    const two = await createApp({ store: second, issuer: ISSUER, log: () => {}, rateLimit: { ...limits, now: () => one.clock.now } })
    cleanups.push(() => two.close())
    const instances = [one.app, two] as const

    for (let i = 0; i < 4; i++) {
      const app = instances[i % 2] as App
      expect((await token(app, { grant_type: 'client_credentials' }, { clientId: one.clientId, secret: 'wrong', address: `192.0.2.${i}` })).status).toBe(401)
    }
    // The instance that counted the last failure refuses at once; the other one from the next second on (it reads a
    // counter at most once a second).
    await expectTokenLimited(await token(two, { grant_type: 'client_credentials' }, { clientId: one.clientId, secret: one.clientSecret }))
    one.clock.now += 1
    for (const app of instances) {
      await expectTokenLimited(await token(app, { grant_type: 'client_credentials' }, { clientId: one.clientId, secret: one.clientSecret }))
    }

    expect((await signIn(one.app, 'alice', 'wrong', '192.0.2.10')).status).toBe(401)
    expect((await signIn(two, 'alice', 'wrong', '192.0.2.11')).status).toBe(401)
    expect((await signIn(two, 'alice', PASSWORD, '192.0.2.12')).status).toBe(429)
    one.clock.now += 1
    expect((await signIn(one.app, 'alice', PASSWORD, '192.0.2.12')).status).toBe(429)
    expect((await signIn(two, 'alice', PASSWORD, '192.0.2.12')).status).toBe(429)

    one.clock.now += 60
    expect((await token(two, { grant_type: 'client_credentials' }, { clientId: one.clientId, secret: one.clientSecret })).status).toBe(200)
    expect((await signIn(two, 'alice', PASSWORD, '192.0.2.12')).status).toBe(303)
  })
})
