/**
 * Refresh token replay and revoked grants (RFC 9700 §4.14; RFC 6749 §10.4; RFC 6819 §5.2.2): a rotated refresh token
 * presented again ends its whole family, whoever presents it first, and a revoked grant's tokens stop working at every
 * place that checks them: the API, introspection and the token endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  callApi,
  expectTokenError,
  isActive,
  obtainTokens,
  post,
  refresh,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
  type TokenBody,
} from './support.js'

let server: AttackServer
let client: TestClient
let attacker: TestClient
let alice: Browser

beforeAll(async () => {
  // Strict rotation: every reuse ends the grant at once. The retry window is tested at the end of the file.
  server = await startServer({ refreshTokenRetryWindow: 0 })
  client = await server.addClient()
  attacker = await server.addClient({ name: 'Attacker' })
  await server.addUser('alice')
  alice = server.browser()
})

afterAll(() => server?.close())

interface Tokens {
  access_token: string
  refresh_token: string
}

async function refreshed(response: Response): Promise<Tokens> {
  expect(response.status).toBe(200)
  const body = (await response.json()) as TokenBody
  expect(body.access_token).toEqual(expect.any(String))
  expect(body.refresh_token).toEqual(expect.any(String))
  return body as Tokens
}

/** The access token works nowhere: the API answers 401 invalid_token, introspection says inactive. */
async function expectDeadAccessToken(token: string): Promise<void> {
  const api = await callApi(server, token)
  expect(api.status).toBe(401)
  expect(api.headers.get('WWW-Authenticate')).toMatch(/error="invalid_token"/)
  expect(await isActive(server, client, token)).toBe(false)
}

/** The refresh token works nowhere: the token endpoint answers invalid_grant, introspection says inactive. */
async function expectDeadRefreshToken(token: string): Promise<void> {
  await expectTokenError(await refresh(server, client, token), 400, 'invalid_grant')
  expect(await isActive(server, client, token)).toBe(false)
}

describe('RFC 9700 §4.14.2: refresh token rotation with replay detection', () => {
  it('RFC 9700 §4.14.2: a refresh rotates the refresh token, and the old one replayed revokes the whole family', async () => {
    const first = await obtainTokens(server, alice, client)
    const second = await refreshed(await refresh(server, client, first.refresh_token))
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect((await callApi(server, second.access_token)).status).toBe(200)

    // The replay: whoever holds the old refresh token (an attacker, or the client after a theft) is refused ...
    await expectTokenError(await refresh(server, client, first.refresh_token), 400, 'invalid_grant')
    // ... and everything issued in this grant is revoked, the legitimate latest tokens included.
    await expectDeadRefreshToken(second.refresh_token)
    await expectDeadAccessToken(second.access_token)
    await expectDeadAccessToken(first.access_token)
  })

  it('RFC 9700 §4.14.2: when the attacker refreshes first, the legitimate client’s next refresh revokes the attacker’s tokens', async () => {
    const stolen = await obtainTokens(server, alice, client)
    // The attacker holds the client's credentials too (e.g. a public client or a leaked secret) and refreshes first.
    const attackers = await refreshed(await refresh(server, client, stolen.refresh_token))
    expect((await callApi(server, attackers.access_token)).status).toBe(200)

    await expectTokenError(await refresh(server, client, stolen.refresh_token), 400, 'invalid_grant')
    await expectDeadAccessToken(attackers.access_token)
    await expectDeadRefreshToken(attackers.refresh_token)
  })

  it('RFC 9700 §4.14.2: two refreshes with one refresh token racing each other rotate it once, then revoke the family', async () => {
    const tokens = await obtainTokens(server, alice, client)
    const answers = await Promise.all([refresh(server, client, tokens.refresh_token), refresh(server, client, tokens.refresh_token)])
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 400])
    const winner = await refreshed(answers.find((answer) => answer.status === 200) as Response)
    await expectTokenError(answers.find((answer) => answer.status === 400) as Response, 400, 'invalid_grant')
    await expectDeadRefreshToken(winner.refresh_token)
    await expectDeadAccessToken(winner.access_token)
  })

  it('RFC 6819 §5.2.2.2: a refresh token presented by another client is refused with invalid_grant and stays its owner’s', async () => {
    const tokens = await obtainTokens(server, alice, client)
    await expectTokenError(await refresh(server, attacker, tokens.refresh_token), 400, 'invalid_grant')
    expect((await refresh(server, client, tokens.refresh_token)).status).toBe(200)
  })

  it('RFC 6749 §6: another client replaying the victim’s rotated refresh token gets invalid_grant and revokes nothing of the victim’s', async () => {
    const tokens = await obtainTokens(server, alice, client)
    const next = await refreshed(await refresh(server, client, tokens.refresh_token))
    // The attacker saw the old refresh token and replays it as itself: no proof that the victim's family is stolen.
    await expectTokenError(await refresh(server, attacker, tokens.refresh_token), 400, 'invalid_grant')
    expect((await callApi(server, next.access_token)).status).toBe(200)
    expect((await refresh(server, client, next.refresh_token)).status).toBe(200)
  })
})

describe('RFC 6819 §5.2.2.4: tokens of a revoked grant stop working everywhere', () => {
  it('RFC 6819 §5.2.2.4: revoking the refresh token (RFC 7009) ends the access tokens of its grant at the API, introspection and the token endpoint', async () => {
    const first = await obtainTokens(server, alice, client)
    const second = await refreshed(await refresh(server, client, first.refresh_token))
    expect((await callApi(server, second.access_token)).status).toBe(200)

    const revoked = await post(server, '/revoke', { token: second.refresh_token, token_type_hint: 'refresh_token' }, client)
    expect(revoked.status).toBe(200)

    await expectDeadRefreshToken(second.refresh_token)
    await expectDeadAccessToken(second.access_token)
    await expectDeadAccessToken(first.access_token)
  })

  it('RFC 6819 §5.2.2.4: a revoked access token is refused by the API and introspection at once', async () => {
    const tokens = await obtainTokens(server, alice, client)
    expect((await callApi(server, tokens.access_token)).status).toBe(200)
    expect((await post(server, '/revoke', { token: tokens.access_token }, client)).status).toBe(200)
    await expectDeadAccessToken(tokens.access_token)
  })

  it('RFC 6819 §5.2.2.4: another client cannot revoke a token it was not issued (RFC 7009 §2.1), which keeps working', async () => {
    const tokens = await obtainTokens(server, alice, client)
    await post(server, '/revoke', { token: tokens.refresh_token }, attacker)
    expect((await callApi(server, tokens.access_token)).status).toBe(200)
    expect((await refresh(server, client, tokens.refresh_token)).status).toBe(200)
  })
})

describe('RFC 9700 §4.14.2 with the retry window (the default): a lost refresh answer is not reuse', () => {
  let lenient: AttackServer
  let app: TestClient
  let bob: Browser

  beforeAll(async () => {
    lenient = await startServer()
    app = await lenient.addClient()
    await lenient.addUser('alice')
    bob = lenient.browser()
  })

  afterAll(() => lenient?.close())

  it('RFC 9700 §4.14.2: the client retrying with the old refresh token gets a fresh pair; the lost refresh token is superseded', async () => {
    const first = await obtainTokens(lenient, bob, app)
    const lost = await refreshed(await refresh(lenient, app, first.refresh_token))
    const retried = await refreshed(await refresh(lenient, app, first.refresh_token))
    for (const token of [lost.access_token, retried.access_token]) expect((await callApi(lenient, token)).status).toBe(200)
    expect(await isActive(lenient, app, lost.refresh_token)).toBe(false)
    expect((await refresh(lenient, app, retried.refresh_token)).status).toBe(200)
  })

  it('RFC 9700 §4.14.2: a thief replaying the token inside the window forks nothing: the owner’s next refresh ends the whole family', async () => {
    const stolen = await obtainTokens(lenient, bob, app)
    // The owner refreshes; the thief replays the same token moments later, as a retry would.
    const owners = await refreshed(await refresh(lenient, app, stolen.refresh_token))
    const thiefs = await refreshed(await refresh(lenient, app, stolen.refresh_token))
    expect((await callApi(lenient, thiefs.access_token)).status).toBe(200)
    // The owner's refresh token was superseded: presenting it shows two holders, and the grant ends for both.
    await expectTokenError(await refresh(lenient, app, owners.refresh_token), 400, 'invalid_grant')
    expect((await callApi(lenient, thiefs.access_token)).status).toBe(401)
    await expectTokenError(await refresh(lenient, app, thiefs.refresh_token), 400, 'invalid_grant')
  })

  it('RFC 9700 §4.14.2: once the new refresh token was used, the old one is reuse: the whole family ends', async () => {
    const first = await obtainTokens(lenient, bob, app)
    const second = await refreshed(await refresh(lenient, app, first.refresh_token))
    const third = await refreshed(await refresh(lenient, app, second.refresh_token))
    await expectTokenError(await refresh(lenient, app, first.refresh_token), 400, 'invalid_grant')
    expect((await callApi(lenient, third.access_token)).status).toBe(401)
    await expectTokenError(await refresh(lenient, app, third.refresh_token), 400, 'invalid_grant')
  })

  it('RFC 6749 §6: another client presenting a just-rotated refresh token gets invalid_grant, and no pair', async () => {
    const first = await obtainTokens(lenient, bob, app)
    await refreshed(await refresh(lenient, app, first.refresh_token))
    const stranger = await lenient.addClient({ name: 'Stranger' })
    await expectTokenError(await refresh(lenient, stranger, first.refresh_token), 400, 'invalid_grant')
  })

  it('RFC 9700 §4.14.2: five refreshes racing with one refresh token are all answered, and only one refresh token of them lives on', async () => {
    const first = await obtainTokens(lenient, bob, app)
    const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(lenient, app, first.refresh_token)))
    const pairs = await Promise.all(answers.map((answer) => refreshed(answer)))
    expect(new Set(pairs.map((pair) => pair.refresh_token)).size).toBe(5)
    for (const pair of pairs) expect((await callApi(lenient, pair.access_token)).status).toBe(200)
    const live = await Promise.all(pairs.map((pair) => isActive(lenient, app, pair.refresh_token)))
    expect(live.filter((active) => active)).toHaveLength(1)
  })
})
