/**
 * OpenID Connect Discovery 1.0 conformance: the OpenID Provider metadata (§3), served at
 * `/.well-known/openid-configuration` under the issuer (§4), is the server's RFC 8414 document plus what a relying
 * party needs for OpenID Connect, and names the issuer the ID tokens carry (§4.3).
 */
import { describe, expect, it } from 'vitest'
import { decodeJwt } from 'jose'
import { createFetchHandler } from '../../src/adapters/fetch.js'
import {
  idTokenSigner,
  Server,
  STANDARD_CLAIMS,
  WebApplicationServer,
  type AuthorizationServerOptions,
} from '../../src/index.js'
import { CONFORMANCE_BACKENDS } from '../support/conformance-backends.js'
import { basic, FORM, MemoryValidator } from '../support/memory-validator.js'
import { ISSUER, JWKS_URI, keyPair, openProvider, RP, RP_SECRET } from '../support/openid.js'

const DOUBLE = CONFORMANCE_BACKENDS[0] as (typeof CONFORMANCE_BACKENDS)[number]

async function signer(issuer = ISSUER) {
  return idTokenSigner((await keyPair('ES256')).privateKey, { issuer, alg: 'ES256', kid: 'k1' })
}

async function provider(options: AuthorizationServerOptions = {}) {
  return new WebApplicationServer(new MemoryValidator(), { issuer: ISSUER, idTokenSigner: await signer(), metadata: { jwks_uri: JWKS_URI }, ...options })
}

describe('OpenID Connect Discovery §3 OpenID Provider Metadata', () => {
  it('has every REQUIRED claim and the RECOMMENDED ones oauthkit supports, with their values', async () => {
    const server = await provider({ metadata: { jwks_uri: JWKS_URI, scopes_supported: ['profile', 'email'] } })
    const document = JSON.parse((await server.createOpenIDConfigurationResponse(`${ISSUER}/.well-known/openid-configuration`)).body) as Record<string, unknown>
    expect(document).toMatchObject({
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      userinfo_endpoint: `${ISSUER}/userinfo`,
      jwks_uri: JWKS_URI,
      scopes_supported: ['openid', 'profile', 'email'],
      response_types_supported: ['code'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      claims_supported: [...STANDARD_CLAIMS],
      code_challenge_methods_supported: ['S256'],
      // Its default is true; oauthkit takes no request_uri.
      request_uri_parameter_supported: false,
    })
    expect(document.claims_supported).toEqual(expect.arrayContaining(['sub', 'name', 'given_name', 'family_name', 'email', 'email_verified', 'locale']))
    // Parameters oauthkit does not take are not claimed (their defaults are false).
    for (const name of ['claims_parameter_supported', 'request_parameter_supported']) expect(document).not.toHaveProperty(name)
  })

  it('adds openid to scopes_supported when the application leaves it out, and lists it alone when none are given', async () => {
    expect((await provider()).openIdConfigurationEndpoint?.claims.scopes_supported).toEqual(['openid'])
  })

  it('lists the algorithm of the signer: RS256 for an RS256 key', async () => {
    const rs = idTokenSigner((await keyPair('RS256')).privateKey, { issuer: ISSUER, alg: 'RS256' })
    const server = await provider({ idTokenSigner: rs })
    expect(server.openIdConfigurationEndpoint?.claims.id_token_signing_alg_values_supported).toEqual(['RS256'])
  })

  it('is the RFC 8414 document too: both well-known URIs serve the same claims', async () => {
    const server = await provider()
    const oauth = await server.createMetadataResponse(`${ISSUER}/.well-known/oauth-authorization-server`)
    const openid = await server.createOpenIDConfigurationResponse(`${ISSUER}/.well-known/openid-configuration`)
    expect(openid.body).toBe(oauth.body)
  })

  it('refuses to build a provider without issuer, without jwks_uri, or whose signer names another issuer', async () => {
    const validator = new MemoryValidator()
    expect(() => new WebApplicationServer(validator, { idTokenSigner: idTokenSigner(new Uint8Array() as never, { issuer: ISSUER, alg: 'ES256' }) })).toThrow(/issuer/)
    await expect(async () => new WebApplicationServer(validator, { issuer: ISSUER, idTokenSigner: await signer() })).rejects.toThrow(/jwks_uri/)
    await expect(async () => provider({ idTokenSigner: await signer('https://other.example.com') })).rejects.toThrow(/differs/)
  })

  it('a server without an ID token signer is no OpenID Provider: no UserInfo, no openid-configuration', () => {
    const server = new WebApplicationServer(new MemoryValidator(), { issuer: ISSUER })
    expect(server.userInfoEndpoint).toBeUndefined()
    expect(server.openIdConfigurationEndpoint).toBeUndefined()
    expect(server.metadataEndpoint?.claims).not.toHaveProperty('userinfo_endpoint')
    expect(() => server.createOpenIDConfigurationResponse(ISSUER)).toThrow(TypeError)
    expect(() => server.createUserInfoResponse(ISSUER)).toThrow(TypeError)
  })
})

describe('OpenID Connect Discovery §4 Obtaining OpenID Provider Configuration Information', () => {
  it('§4.1 the document lives at the issuer + /.well-known/openid-configuration, after any path of the issuer', async () => {
    expect((await provider()).openIdConfigurationEndpoint?.wellKnownUri).toBe(`${ISSUER}/.well-known/openid-configuration`)
    const tenant = `${ISSUER}/tenants/acme`
    const server = new WebApplicationServer(new MemoryValidator(), { issuer: tenant, idTokenSigner: await signer(tenant), metadata: { jwks_uri: JWKS_URI } })
    expect(server.openIdConfigurationEndpoint?.wellKnownUri).toBe(`${tenant}/.well-known/openid-configuration`)
  })

  it('§4.2 answers GET with 200 JSON, HEAD with its headers alone, other methods with 405', async () => {
    const server = await provider()
    const uri = `${ISSUER}/.well-known/openid-configuration`
    const get = await server.createOpenIDConfigurationResponse(uri, 'GET')
    expect(get.status).toBe(200)
    expect(get.headers['Content-Type']).toBe('application/json')
    expect((await server.createOpenIDConfigurationResponse(uri, 'HEAD')).body).toBe('')
    const post = await server.createOpenIDConfigurationResponse(uri, 'POST')
    expect(post.status).toBe(405)
  })

  it('§4.3 the issuer of the document is the iss of the ID tokens', async () => {
    const rp = await openProvider(DOUBLE)
    const issuer = rp.server.openIdConfigurationEndpoint?.claims.issuer
    expect(decodeJwt((await rp.signIn()).id_token as string).iss).toBe(issuer)
  })

  it('the fetch adapter serves the document and UserInfo at their paths, open to browsers', async () => {
    const rp = await openProvider(DOUBLE)
    const handler = createFetchHandler(rp.server, { cors: true })
    const document = await handler(new Request(`${ISSUER}/.well-known/openid-configuration`))
    expect(document.status).toBe(200)
    expect(document.headers.get('access-control-allow-origin')).toBe('*')
    const { access_token } = await rp.signIn()
    const info = await handler(new Request(`${ISSUER}/userinfo`, { headers: { Authorization: `Bearer ${access_token as string}` } }))
    expect(info.status).toBe(200)
    expect(await info.json()).toEqual({ sub: rp.user.userId })
    const preflight = await handler(new Request(`${ISSUER}/userinfo`, { method: 'OPTIONS', headers: { Origin: 'https://spa.example', 'Access-Control-Request-Method': 'GET' } }))
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST')
  })
})

describe('Server as an OpenID Provider', () => {
  it('a client credentials token, which has no user, is refused at UserInfo with 401 invalid_token even with openid', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: RP, secret: RP_SECRET, scopes: ['openid'], defaultScopes: ['openid'] })
    const server = new Server(validator, { issuer: ISSUER, idTokenSigner: await signer(), metadata: { jwks_uri: JWKS_URI } })
    const token = await server.createTokenResponse(`${ISSUER}/token`, 'POST', 'grant_type=client_credentials&scope=openid', { ...FORM, Authorization: basic(RP, RP_SECRET) })
    const body = JSON.parse(token.body) as Record<string, unknown>
    expect(body).not.toHaveProperty('id_token')
    const response = await server.createUserInfoResponse(`${ISSUER}/userinfo`, 'GET', undefined, { Authorization: `Bearer ${body.access_token as string}` })
    expect(response.status).toBe(401)
    expect(response.headers['WWW-Authenticate']).toMatch(/error="invalid_token"/)
  })
})
