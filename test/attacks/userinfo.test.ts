/**
 * The UserInfo endpoint (OpenID Connect Core §5.3) is a protected resource of the authorization server: an access
 * token meant for another resource server (RFC 8707 `resource`, its audience) must not read the user's claims there,
 * or that resource server, which receives the token, could replay it for the user's profile (RFC 9700 §4.10).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorizePath, obtainCode, pkce, redeem, startServer, type AttackServer, type TestClient, type TokenBody } from './support.js'

const RESOURCE = 'https://mcp.example.com/'
let server: AttackServer
let client: TestClient

beforeAll(async () => {
  server = await startServer({ resources: [RESOURCE] })
  client = await server.addClient({ scopes: ['openid', 'profile', 'read'] })
  await server.addUser('alice')
})

afterAll(() => server?.close())

async function accessToken(params: Record<string, string>, extra: Record<string, string> = {}): Promise<string> {
  const { verifier, challenge } = pkce()
  const code = await obtainCode(server.browser(), authorizePath(client.clientId, challenge, { scope: 'openid profile read', ...params }))
  const response = await redeem(server, client, code, verifier, extra)
  expect(response.status).toBe(200)
  return ((await response.json()) as TokenBody).access_token as string
}

function userInfo(token: string): Promise<Response> {
  return fetch(`${server.origin}/userinfo`, { headers: { Authorization: `Bearer ${token}` } })
}

describe('OpenID Connect Core §5.3 and RFC 8707: UserInfo answers only tokens meant for this server', () => {
  it('§5.3: a token obtained without resource (audience: this server) reads the claims', async () => {
    const response = await userInfo(await accessToken({}))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ sub: 'id-alice' })
  })

  it('RFC 8707 §2: a token for another resource server is refused with 401 invalid_token, though it has openid', async () => {
    for (const token of [await accessToken({ resource: RESOURCE }), await accessToken({ resource: RESOURCE }, { resource: RESOURCE })]) {
      const response = await userInfo(token)
      expect(response.status).toBe(401)
      expect(response.headers.get('WWW-Authenticate')).toMatch(/error="invalid_token"/)
      expect(await response.text()).not.toMatch(/id-alice/)
    }
  })
})
