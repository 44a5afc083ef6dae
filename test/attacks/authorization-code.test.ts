/**
 * Attacks on the authorization code: injection of a stolen code (RFC 9700 §4.5), replay (RFC 6749 §10.5), PKCE
 * downgrade (RFC 9700 §4.8), and a code used by another client or with another redirect URI (RFC 6749 §10.6,
 * RFC 6819 §5.2.4.4, §5.2.4.5).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  PASSWORD,
  authorize,
  authorizePath,
  callApi,
  expectTokenError,
  isActive,
  locationOf,
  obtainCode,
  pkce,
  post,
  redeem,
  refresh,
  REDIRECT_URI,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
  type TokenBody,
} from './support.js'

let server: AttackServer
/** The victim's client, confidential. */
let client: TestClient
/** Another registered client, controlled by the attacker, with the same redirect URI. */
let attacker: TestClient
let alice: Browser

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
  attacker = await server.addClient({ name: 'Attacker' })
  await server.addUser('alice')
  alice = server.browser()
})

afterAll(() => server?.close())

/** A fresh code for `client`, with the verifier of its challenge. */
async function freshCode(): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce()
  return { code: await obtainCode(alice, authorizePath(client.clientId, challenge)), verifier }
}

describe('RFC 9700 §4.5: authorization code injection', () => {
  it('RFC 9700 §4.5.3.1: a stolen code redeemed with another PKCE verifier is refused with invalid_grant; the right verifier still works', async () => {
    const { code, verifier } = await freshCode()
    const injected = await redeem(server, client, code, pkce().verifier)
    expect((await expectTokenError(injected, 400, 'invalid_grant')).error_description).toMatch(/code_verifier/)
    // The refusal was the verifier's alone: the legitimate redemption goes through.
    expect((await redeem(server, client, code, verifier)).status).toBe(200)
  })
})

describe('RFC 6749 §10.5: authorization codes are single-use', () => {
  it('RFC 6749 §10.5: a replayed code is refused, and every token issued from it is revoked (RFC 6819 §5.2.1.1)', async () => {
    const { code, verifier } = await freshCode()
    const first = await redeem(server, client, code, verifier)
    expect(first.status).toBe(200)
    const tokens = (await first.json()) as Required<Pick<TokenBody, 'access_token' | 'refresh_token'>>
    expect((await callApi(server, tokens.access_token)).status).toBe(200)

    await expectTokenError(await redeem(server, client, code, verifier), 400, 'invalid_grant')

    expect(await isActive(server, client, tokens.access_token)).toBe(false)
    expect(await isActive(server, client, tokens.refresh_token)).toBe(false)
    expect((await callApi(server, tokens.access_token)).status).toBe(401)
    await expectTokenError(await refresh(server, client, tokens.refresh_token), 400, 'invalid_grant')
  })

  it('RFC 6749 §10.5: two redemptions of one code racing each other give tokens once, and those tokens are then revoked', async () => {
    const { code, verifier } = await freshCode()
    const answers = await Promise.all([redeem(server, client, code, verifier), redeem(server, client, code, verifier)])
    const statuses = answers.map((answer) => answer.status).sort()
    expect(statuses).toEqual([200, 400])
    const winner = answers.find((answer) => answer.status === 200) as Response
    const loser = answers.find((answer) => answer.status === 400) as Response
    await expectTokenError(loser, 400, 'invalid_grant')
    const { access_token } = (await winner.json()) as { access_token: string }
    expect(await isActive(server, client, access_token)).toBe(false)
  })
})

describe('RFC 9700 §4.8: PKCE downgrade', () => {
  it('RFC 9700 §4.8.2: a code issued with a code_challenge is refused without code_verifier', async () => {
    const { code, verifier } = await freshCode()
    expect((await expectTokenError(await redeem(server, client, code, undefined), 400, 'invalid_request')).error_description).toMatch(/code_verifier/)
    // Still bound to its challenge: only the verifier redeems it.
    expect((await redeem(server, client, code, verifier)).status).toBe(200)
  })

  it('RFC 9700 §2.1.1: an authorization request without code_challenge gets invalid_request, not a code', async () => {
    const response = await authorize(alice, authorizePath(client.clientId, '', { code_challenge: undefined, code_challenge_method: undefined }))
    expect(response.status).toBe(302)
    const callback = locationOf(response) as URL
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI)
    expect(callback.searchParams.get('error')).toBe('invalid_request')
    expect(callback.searchParams.has('code')).toBe(false)
  })

  it.each([
    ['code_challenge_method=plain', { code_challenge_method: 'plain' }],
    ['a code_challenge without code_challenge_method (plain by default, RFC 7636 §4.3)', { code_challenge_method: undefined }],
  ])('RFC 9700 §2.1.1: %s is refused when only S256 is allowed, and no code is issued', async (_, params) => {
    const { verifier } = pkce()
    // The plain "challenge" is the verifier itself: what an attacker who saw the request would need.
    const response = await authorize(alice, authorizePath(client.clientId, verifier, params))
    expect(response.status).toBe(302)
    const callback = locationOf(response) as URL
    expect(callback.searchParams.get('error')).toBe('invalid_request')
    expect(callback.searchParams.get('error_description')).toMatch(/S256/)
    expect(callback.searchParams.has('code')).toBe(false)
  })

  it('RFC 9700 §2.1.1: the metadata advertises S256 as the only code_challenge_method', async () => {
    const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(metadata.code_challenge_methods_supported).toEqual(['S256'])
  })
})

describe('RFC 6749 §10.6: a code is bound to its client and redirect URI', () => {
  it('RFC 6819 §5.2.4.4: another client redeeming the code, even with the right verifier, gets invalid_grant', async () => {
    const { code, verifier } = await freshCode()
    await expectTokenError(await redeem(server, attacker, code, verifier), 400, 'invalid_grant')
    expect((await redeem(server, client, code, verifier)).status).toBe(200)
  })

  it('RFC 6819 §5.2.4.4: another client replaying the victim’s used code gets invalid_grant and revokes nothing of the victim’s', async () => {
    const { code, verifier } = await freshCode()
    const issued = (await (await redeem(server, client, code, verifier)).json()) as TokenBody
    // The attacker saw the code (a log, a referrer) after it was used, and replays it as itself.
    await expectTokenError(await redeem(server, attacker, code, verifier), 400, 'invalid_grant')
    expect((await callApi(server, issued.access_token as string)).status).toBe(200)
    expect((await refresh(server, client, issued.refresh_token as string)).status).toBe(200)
  })

  it('RFC 6749 §10.2: redeeming under the victim client_id without its secret is refused with invalid_client', async () => {
    const { code, verifier } = await freshCode()
    const response = await redeem(server, { clientId: client.clientId, clientSecret: undefined }, code, verifier)
    await expectTokenError(response, 401, 'invalid_client')
    expect(response.headers.get('WWW-Authenticate')).toMatch(/^Basic/)
  })

  it.each([
    ['another redirect_uri than the authorization request’s', { redirect_uri: 'https://evil.example/cb' }],
    ['the authorization request’s redirect_uri plus a path segment', { redirect_uri: `${REDIRECT_URI}/evil` }],
  ])('RFC 6749 §10.6: the code redeemed with %s gets invalid_grant', async (_, extra) => {
    const { code, verifier } = await freshCode()
    await expectTokenError(await redeem(server, client, code, verifier, extra), 400, 'invalid_grant')
  })

  it('RFC 6749 §10.6: the code redeemed without the redirect_uri the authorization request carried gets invalid_grant', async () => {
    const { code, verifier } = await freshCode()
    const response = await post(server, '/token', { grant_type: 'authorization_code', code, code_verifier: verifier }, client)
    await expectTokenError(response, 400, 'invalid_grant')
    expect((await redeem(server, client, code, verifier)).status).toBe(200)
  })
})

describe('RFC 9700 §2.4: the resource owner password credentials grant is off unless enabled', () => {
  it('RFC 9700 §2.4: a password grant gets unsupported_grant_type without a password check, and the metadata does not offer it', async () => {
    await server.addUser('frank')
    const legacy = await server.addClient({ name: 'Legacy', grantTypes: ['password'], scopes: ['read'], redirectUris: [] })
    const checked = vi.spyOn(server.store.users, 'authenticate')
    await expectTokenError(await post(server, '/token', { grant_type: 'password', username: 'frank', password: PASSWORD, scope: 'read' }, legacy), 400, 'unsupported_grant_type')
    expect(checked).not.toHaveBeenCalled()
    checked.mockRestore()
    const metadata = (await (await fetch(`${server.origin}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] }
    expect(metadata.grant_types_supported).not.toContain('password')
    expect(metadata.grant_types_supported).toContain('authorization_code')
  })
})
