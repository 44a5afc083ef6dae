/**
 * Token scanning through introspection (RFC 7662 §4): the server decides whether the caller may learn about a token.
 * A client learns about the tokens issued to itself; a resource server registered with the resources it protects
 * (`protectedResources`) about the access tokens meant for them; nobody about anything else, answered exactly as an
 * unknown token is: `{"active": false}`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authorizePath, obtainCode, obtainTokens, pkce, post, redeem, startServer, type AttackServer, type Browser, type TestClient } from './support.js'

const API = 'https://api.example.com'

let server: AttackServer
let victim: TestClient
let stranger: TestClient
let api: TestClient
let otherApi: TestClient
let alice: Browser

beforeAll(async () => {
  server = await startServer()
  victim = await server.addClient({ name: 'Photo Printer', resources: [API] })
  stranger = await server.addClient({ name: 'Stranger', grantTypes: ['client_credentials'], scopes: ['read'] })
  api = await server.addClient({ name: 'API', grantTypes: ['client_credentials'], scopes: ['read'], protectedResources: [API] })
  otherApi = await server.addClient({ name: 'Other API', grantTypes: ['client_credentials'], scopes: ['read'], protectedResources: ['https://other.example.com'] })
  await server.addUser('alice')
  alice = server.browser()
})

afterAll(() => server?.close())

async function introspect(caller: TestClient, token: string): Promise<Record<string, unknown>> {
  const response = await post(server, '/introspect', { token }, caller)
  expect(response.status).toBe(200)
  expect(response.headers.get('Cache-Control')).toBe('no-store')
  return (await response.json()) as Record<string, unknown>
}

describe('RFC 7662 §4: a caller learns only about the tokens it may know of', () => {
  it('RFC 7662 §4: another client learns nothing of a token, access or refresh, exactly as of an unknown one', async () => {
    const tokens = await obtainTokens(server, alice, victim)
    expect(await introspect(stranger, tokens.access_token)).toEqual({ active: false })
    expect(await introspect(stranger, tokens.refresh_token)).toEqual({ active: false })
    expect(await introspect(stranger, 'never-issued')).toEqual({ active: false })
    // Its own client learns about both.
    expect(await introspect(victim, tokens.access_token)).toMatchObject({ active: true, client_id: victim.clientId })
    expect(await introspect(victim, tokens.refresh_token)).toMatchObject({ active: true, token_type: 'refresh_token' })
  })

  it('RFC 7662 §4: a resource server learns about the access tokens meant for what it protects, and not about others or refresh tokens', async () => {
    const tokens = await obtainTokens(server, alice, victim)
    // The code flow's tokens have the issuer as audience (no resource was asked): not the API's.
    expect(await introspect(api, tokens.access_token)).toEqual({ active: false })
    // A code flow that asked for the API as its resource (RFC 8707): its access token's audience is the API.
    const { verifier, challenge } = pkce()
    const code = await obtainCode(alice, authorizePath(victim.clientId, challenge, { resource: API }))
    const forApi = await redeem(server, victim, code, verifier, { resource: API })
    expect(forApi.status).toBe(200)
    const { access_token: apiToken, refresh_token: refreshToken } = (await forApi.json()) as { access_token: string; refresh_token: string }
    expect(await introspect(api, apiToken)).toMatchObject({ active: true, client_id: victim.clientId, aud: API })
    expect(await introspect(otherApi, apiToken)).toEqual({ active: false })
    expect(await introspect(api, refreshToken)).toEqual({ active: false })
  })
})
