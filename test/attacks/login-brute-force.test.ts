/**
 * Online guessing of passwords at the login form (RFC 6819 §4.4.3.6, §5.1.4.2.3): after a few failures the form
 * answers 429 with Retry-After, and within the window not even the right password signs in. Failures count per
 * username (guessing from many addresses) and per address (spraying many usernames).
 *
 * The limits are the server's defaults; the tests only assume that they are reached within {@link MAX_ATTEMPTS}.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  authorizePath,
  expectTokenError,
  hiddenField,
  locationOf,
  PASSWORD,
  pkce,
  post,
  SESSION_COOKIE,
  setCookie,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
} from './support.js'

/** Failed attempts after which a throttle must have answered 429. */
const MAX_ATTEMPTS = 20

let server: AttackServer
let client: TestClient

beforeAll(async () => {
  server = await startServer({ enablePasswordGrant: true })
  client = await server.addClient()
  for (const username of ['alice', 'bob', 'carol', ...Array.from({ length: MAX_ATTEMPTS }, (_, i) => `user${i}`)]) await server.addUser(username)
})

afterAll(() => server?.close())

const csrfTokens = new WeakMap<Browser, string>()

/** One login attempt, with the CSRF token of the browser's login form. */
async function attempt(browser: Browser, username: string, password: string): Promise<Response> {
  let token = csrfTokens.get(browser)
  if (token === undefined) {
    token = hiddenField(await (await browser.get('/login')).text(), 'csrf_token')
    csrfTokens.set(browser, token)
  }
  return browser.post('/login', { csrf_token: token, return_to: '/', username, password })
}

/** Fails logins until one is throttled; every earlier one must be an ordinary 401. @returns the 429 */
async function guessUntilThrottled(next: (i: number) => Promise<Response>): Promise<Response> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const response = await next(i)
    if (response.status === 429) return response
    expect(response.status).toBe(401)
    expect(setCookie(response, SESSION_COOKIE)).toBeUndefined()
  }
  throw new Error(`no 429 after ${MAX_ATTEMPTS} failed logins`)
}

/** A throttled answer: 429, a Retry-After of whole seconds, and no session. */
function expectThrottled(response: Response): void {
  expect(response.status).toBe(429)
  const retryAfter = response.headers.get('Retry-After')
  expect(retryAfter).toMatch(/^\d+$/)
  expect(Number(retryAfter)).toBeGreaterThan(0)
  expect(setCookie(response, SESSION_COOKIE)).toBeUndefined()
  expect(response.headers.get('Location')).toBeNull()
}

/** The browser is not signed in: an authorization request is sent to the login page. */
async function expectSignedOut(browser: Browser): Promise<void> {
  expect(browser.cookies.has(SESSION_COOKIE)).toBe(false)
  expect(locationOf(await browser.get(authorizePath(client.clientId, pkce().challenge)))?.pathname).toBe('/login')
}

describe('RFC 6819 §4.4.3.6: online guessing of passwords at the login form', () => {
  it('RFC 6819 §5.1.4.2.3: repeated wrong passwords from one address get 429 with Retry-After, and then the right password signs in no one', async () => {
    const guesser = server.browser()
    expectThrottled(await guessUntilThrottled((i) => attempt(guesser, 'alice', `guess-${i}`)))
    expectThrottled(await attempt(guesser, 'alice', PASSWORD))
    await expectSignedOut(guesser)
  })

  it('RFC 6819 §5.1.4.2.3: guesses at one username from many addresses are throttled per username, the right password included', async () => {
    expectThrottled(await guessUntilThrottled((i) => attempt(server.browser(), 'bob', `guess-${i}`)))
    const owner = server.browser()
    expectThrottled(await attempt(owner, 'bob', PASSWORD))
    await expectSignedOut(owner)
  })

  it('RFC 6819 §5.1.4.2.3: one address spraying a password over many usernames is throttled, then refused for a username it has not tried', async () => {
    const sprayer = server.browser()
    expectThrottled(await guessUntilThrottled((i) => attempt(sprayer, `user${i}`, 'Summer2025!')))
    expectThrottled(await attempt(sprayer, 'carol', PASSWORD))
    await expectSignedOut(sprayer)
    // Another address is not affected: carol herself signs in.
    expect((await attempt(server.browser(), 'carol', PASSWORD)).status).toBe(303)
  })
})

/** The attempts the defaults let through per window (the login form's and the password grant's per-username limit). */
const LIMIT = 5

describe('RFC 6819 §4.4.3.6: a parallel burst gets no more password checks than the limit', () => {
  it('RFC 6819 §5.1.4.2.3: 50 wrong passwords sent at once, then the right one: at most the limit is checked, and no one signs in', async () => {
    await server.addUser('dave')
    const checked = vi.spyOn(server.store.users, 'authenticate')
    const burster = server.browser()
    await attempt(burster, 'nobody', 'warm-up')
    checked.mockClear()
    let refused = false
    const burst = Array.from({ length: 50 }, (_, i) =>
      attempt(burster, 'dave', `guess-${i}`).then((response) => {
        refused ||= response.status === 429
        return response
      }),
    )
    // The right password joins the burst once a limit is reached: it must be refused, not checked.
    await vi.waitFor(() => expect(refused).toBe(true))
    const right = attempt(burster, 'dave', PASSWORD)
    const answers = await Promise.all([...burst, right])
    const statuses = answers.map((response) => response.status)
    expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(LIMIT)
    expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([])
    expect(checked.mock.calls.filter(([username]) => username === 'dave').length).toBeLessThanOrEqual(LIMIT)
    expectThrottled(await right)
    await expectSignedOut(burster)
    checked.mockRestore()
  })

  it('RFC 6749 §4.3.2: 40 parallel password-grant guesses get at most the limit of checks, then even the right password waits', async () => {
    await server.addUser('erin')
    const legacy = await server.addClient({ name: 'Legacy', grantTypes: ['password'], redirectUris: [] })
    const checked = vi.spyOn(server.store.users, 'authenticate')
    const guess = (password: string) => post(server, '/token', { grant_type: 'password', username: 'erin', password, scope: 'read' }, legacy)
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => guess(`guess-${i}`)))
    const statuses = answers.map((response) => response.status)
    expect(statuses.filter((status) => status === 400).length).toBeLessThanOrEqual(LIMIT)
    expect(statuses.filter((status) => status !== 400 && status !== 429)).toEqual([])
    expect(checked.mock.calls.filter(([username]) => username === 'erin').length).toBeLessThanOrEqual(LIMIT)
    await expectTokenError(await guess(PASSWORD), 429, 'temporarily_unavailable')
    checked.mockRestore()
  })
})

describe('RFC 6819 §5.1.4.1.3: passwords are stored with current work factors', () => {
  it('RFC 6819 §5.1.4.1.3: a password hashed with less work than new ones get is hashed again at its next successful sign-in, and only then', async () => {
    await server.addUser('gina')
    const stored = async () => (await server.store.users.list()).find((user) => user.username === 'gina')?.passwordHash as string
    const weak = await stored()
    // The test server stores passwords with N = 2^10: far less than the current N = 2^15, r = 8, p = 3.
    expect(weak).toMatch(/^scrypt:1024:8:1:/)
    expect((await attempt(server.browser(), 'gina', 'wrong')).status).toBe(401)
    expect(await stored()).toBe(weak)
    expect((await attempt(server.browser(), 'gina', PASSWORD)).status).toBe(303)
    const strong = await stored()
    expect(strong).toMatch(/^scrypt:32768:8:3:/)
    // The same password still signs in, now against the new hash, which stays.
    expect((await attempt(server.browser(), 'gina', PASSWORD)).status).toBe(303)
    expect(await stored()).toBe(strong)
  })
})

describe('RFC 8265 §3.3: look-alike usernames are one account', () => {
  it('RFC 8265 §3.3: composed and decomposed, fullwidth and upper-case spellings sign in to one account, and cannot be registered beside it', async () => {
    const zoe = await server.store.users.create({ username: 'Zo\u00eb', password: PASSWORD })
    expect(zoe.username).toBe('zo\u00eb')
    for (const spelling of ['zo\u00eb', 'zoe\u0308', 'ZOË', '\uff5a\uff4f\u00eb']) {
      expect((await attempt(server.browser(), spelling, PASSWORD)).status, spelling).toBe(303)
    }
    for (const lookAlike of ['zoe\u0308', '\uff3a\uff4f\u00eb', 'ZOË']) {
      await expect(server.store.users.create({ username: lookAlike, password: 'another one' })).rejects.toThrow(/exists already/)
    }
  })

  it('RFC 6819 §5.1.4.2.3: failures under look-alike spellings count on the account’s one counter', async () => {
    await server.store.users.create({ username: 'hank', password: PASSWORD })
    const spellings = ['hank', 'Hank', 'HANK', '\uff48\uff41\uff4e\uff4b', 'hAnK']
    for (const spelling of spellings) expect((await attempt(server.browser(), spelling, 'wrong')).status).toBe(401)
    expectThrottled(await attempt(server.browser(), 'hank', PASSWORD))
  })
})
