/**
 * RFC 7591 conformance of the client registration endpoint, over StoreValidator on each store: one `describe` per
 * section, one `it` per requirement. A registered client is then used at the token endpoint, to prove it was stored
 * as registered.
 */
import { describe, expect, it } from 'vitest'
import { RegistrationEndpoint, Server, type OAuth2Response } from '../../src/index.js'
import { StoreValidator, tokenHash, type Store, type StoreValidatorOptions } from '../../src/store/index.js'
import { CONFORMANCE_STORES } from '../support/conformance-backends.js'
import { basic, FORM } from '../support/memory-validator.js'

const ISSUER = 'https://server.example.com'
const REGISTER = `${ISSUER}/register`
const JSON_TYPE = { 'Content-Type': 'application/json' }
// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

type Body = Record<string, unknown>

function header(res: OAuth2Response, name: string): string | undefined {
  return Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1]
}

/** Asserts an RFC 7591 §3.2.2 error response and returns its body. */
function expectError(res: OAuth2Response, status: number, error: string, description?: RegExp): Body {
  expect(res.status, res.body).toBe(status)
  expect(header(res, 'Content-Type')).toMatch(/^application\/json/)
  expect(header(res, 'Cache-Control')).toBe('no-store')
  const body = JSON.parse(res.body) as Body
  expect(body).toEqual({ error, error_description: expect.stringMatching(DESCRIPTION_CHARSET) })
  if (description !== undefined) expect(body.error_description).toMatch(description)
  return body
}

describe.each(CONFORMANCE_STORES)('RFC 7591 over StoreValidator on $name', (backend) => {
  /** A registration endpoint, open for the scopes read and write unless `closed`. */
  async function setup(closed?: 'closed', grantTypes?: readonly string[]) {
    const store: Store = await backend.open()
    const registration: StoreValidatorOptions['registration'] = closed === undefined ? { policy: 'open', scopes: ['read', 'write'] } : undefined
    const validator = new StoreValidator(store, { issuer: ISSUER, registration })
    const errors: unknown[] = []
    const endpoint = new RegistrationEndpoint({ requestValidator: validator, grantTypes, onError: (error) => errors.push(error) })
    const server = new Server(validator, { issuer: ISSUER })
    const register = (metadata: unknown, headers: Record<string, string> = JSON_TYPE, method = 'POST', uri = REGISTER) =>
      endpoint.createRegistrationResponse(uri, method, typeof metadata === 'string' ? metadata : JSON.stringify(metadata), headers)
    return { store, validator, endpoint, server, register, errors }
  }

  describe('RFC 7591 §2 Client Metadata', () => {
    it('§2 defaults: token_endpoint_auth_method client_secret_basic, grant_types authorization_code, response_types code', async () => {
      const { register, store } = await setup()
      const res = await register({ redirect_uris: ['https://client.example.org/cb'] })
      expect(res.status, res.body).toBe(201)
      const body = JSON.parse(res.body) as Body
      expect(body).toMatchObject({
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['https://client.example.org/cb'],
      })
      const stored = await store.clients.get(body.client_id as string)
      expect(stored).toMatchObject({ tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['authorization_code'], responseTypes: ['code'] })
      expect(stored?.registration).toEqual({})
    })

    it.each([
      ['https', 'https://client.example.org/callback'],
      ['loopback http on any port (RFC 8252 §7.3)', 'http://127.0.0.1:53142/callback'],
      ['IPv6 loopback http', 'http://[::1]:8080/cb'],
      ['localhost http', 'http://localhost:3000/cb'],
      ['a private-use scheme (RFC 8252 §7.1)', 'com.example.app:/oauth2redirect'],
    ])('§2 accepts a redirect URI of %s', async (_name, uri) => {
      const { register } = await setup()
      const res = await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' })
      expect(res.status, res.body).toBe(201)
      expect((JSON.parse(res.body) as Body).redirect_uris).toEqual([uri])
    })

    it.each([
      ['plain http on a public host', 'http://client.example.org/cb'],
      ['a fragment', 'https://client.example.org/cb#frag'],
      ['a relative URI', '/cb'],
      ['javascript:', 'javascript:alert(1)'],
      ['data:', 'data:text/html,hi'],
      ['a scheme without a dot', 'myapp:/cb'],
      ['file:', 'file:///etc/passwd'],
      ['a leading space the URL parser would drop', ' https://client.example.org/cb'],
      ['a tab inside', 'https://client.example.org/c\tb'],
      ['a backslash', 'https:\\\\evil.example/cb'],
    ])('§2 refuses a redirect URI with %s as invalid_redirect_uri, and registers nothing', async (_name, uri) => {
      const { register, store } = await setup()
      expectError(await register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }), 400, 'invalid_redirect_uri')
      expect(await store.clients.list()).toEqual([])
    })

    it('§2 redirect_uris is required for the authorization_code grant', async () => {
      const { register } = await setup()
      expectError(await register({ token_endpoint_auth_method: 'none' }), 400, 'invalid_redirect_uri', /redirect_uris is required/)
      expectError(await register({ redirect_uris: [], token_endpoint_auth_method: 'none' }), 400, 'invalid_redirect_uri')
    })

    it.each([
      ['an unknown token_endpoint_auth_method', { token_endpoint_auth_method: 'private_key_jwt' }],
      ['a grant type the server does not register', { grant_types: ['password'] }],
      ['client_credentials, which registration does not give by default (tokens without a user)', { grant_types: ['client_credentials'], response_types: [] }],
      ['a client_name with a bidirectional override', { client_name: 'Photo\u202EPrinter' }],
      ['response_types without code for authorization_code', { response_types: [] }],
      ['response_types token', { response_types: ['code', 'token'] }],
      ['refresh_token without authorization_code', { grant_types: ['refresh_token'], response_types: [] }],
      ['a public client of client_credentials', { grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'none' }],
      ['grant_types that is not an array of strings', { grant_types: 'authorization_code' }],
      ['a client_name with a control character', { client_name: 'Evil\nApp' }],
      ['a client_name of 201 characters', { client_name: 'x'.repeat(201) }],
      ['a logo_uri over plain http', { logo_uri: 'http://cdn.example.org/logo.png' }],
      ['a client_uri that is not a URL', { client_uri: 'example' }],
      ['a malformed scope', { scope: 'read  write' }],
      ['an application_type other than web or native', { application_type: 'desktop' }],
    ])('§2 refuses %s as invalid_client_metadata', async (_name, metadata) => {
      const { register, store } = await setup()
      expectError(await register({ redirect_uris: ['https://client.example.org/cb'], ...metadata }), 400, 'invalid_client_metadata')
      expect(await store.clients.list()).toEqual([])
    })

    it('§2 unknown members are ignored: neither stored nor echoed', async () => {
      const { register, store } = await setup()
      const res = await register({ redirect_uris: ['https://client.example.org/cb'], jwks_uri: 'https://client.example.org/jwks', extension_field: 'x', 'client_name#fr': 'Nom' })
      expect(res.status).toBe(201)
      const body = JSON.parse(res.body) as Body
      for (const name of ['jwks_uri', 'extension_field', 'client_name#fr']) expect(body).not.toHaveProperty(name)
      expect(JSON.stringify(await store.clients.get(body.client_id as string))).not.toContain('extension_field')
    })

    it('§2 client_name, client_uri, logo_uri, scope, contacts, software_id, software_version and application_type are kept', async () => {
      const { register, store } = await setup()
      const metadata = {
        redirect_uris: ['https://client.example.org/cb'],
        client_name: 'Example Client',
        client_uri: 'https://client.example.org',
        logo_uri: 'https://client.example.org/logo.png',
        tos_uri: 'https://client.example.org/tos',
        policy_uri: 'https://client.example.org/policy',
        scope: 'read',
        contacts: ['ops@example.org'],
        software_id: '4NRB1-0XZABZI9E6-5SM3R',
        software_version: '2.1',
        application_type: 'web',
      }
      const body = JSON.parse((await register(metadata)).body) as Body
      expect(body).toMatchObject(metadata)
      const stored = await store.clients.get(body.client_id as string)
      expect(stored).toMatchObject({ name: 'Example Client', scopes: ['read'] })
      expect(stored?.registration).toEqual({
        clientUri: metadata.client_uri,
        logoUri: metadata.logo_uri,
        tosUri: metadata.tos_uri,
        policyUri: metadata.policy_uri,
        contacts: metadata.contacts,
        softwareId: metadata.software_id,
        softwareVersion: metadata.software_version,
        applicationType: 'web',
      })
    })

    it('§2 scope is narrowed to what the server lets self-registered clients have; none of it is invalid_client_metadata', async () => {
      const { register } = await setup()
      expect((JSON.parse((await register({ redirect_uris: ['https://client.example.org/cb'], scope: 'read admin' })).body) as Body).scope).toBe('read')
      expect((JSON.parse((await register({ redirect_uris: ['https://client.example.org/cb'] })).body) as Body).scope).toBe('read write')
      expectError(await register({ redirect_uris: ['https://client.example.org/cb'], scope: 'admin' }), 400, 'invalid_client_metadata', /scope/)
    })
  })

  describe('RFC 7591 §3.1 Client Registration Request', () => {
    it('§3.1 the request is a POST: another method is 405 with Allow: POST', async () => {
      const { register } = await setup()
      const res = await register({ redirect_uris: ['https://client.example.org/cb'] }, JSON_TYPE, 'GET')
      expectError(res, 405, 'invalid_request')
      expect(header(res, 'Allow')).toBe('POST')
    })

    it('§3.1 the body is application/json: a form is invalid_request, text that is not JSON or not an object invalid_client_metadata', async () => {
      const { register } = await setup()
      expectError(await register('redirect_uris=https://client.example.org/cb', FORM), 400, 'invalid_request', /application\/json/)
      expectError(await register('{not json'), 400, 'invalid_client_metadata')
      expectError(await register('["https://client.example.org/cb"]'), 400, 'invalid_client_metadata')
      expectError(await register('null'), 400, 'invalid_client_metadata')
    })

    it('§3 TLS is required: an http:// registration URI is invalid_request', async () => {
      const { register } = await setup()
      expectError(await register({ redirect_uris: ['https://client.example.org/cb'] }, JSON_TYPE, 'POST', 'http://server.example.com/register'), 400, 'invalid_request', /TLS/)
    })

    it('§3 with registration closed, a request without an initial access token is 401 invalid_token with a Bearer challenge', async () => {
      const { register, store } = await setup('closed')
      const res = await register({ redirect_uris: ['https://client.example.org/cb'] })
      expectError(res, 401, 'invalid_token')
      expect(header(res, 'WWW-Authenticate')).toBe('Bearer')
      const withToken = await register({ redirect_uris: ['https://client.example.org/cb'] }, { ...JSON_TYPE, Authorization: 'Bearer made-up' })
      expectError(withToken, 401, 'invalid_token')
      expect(header(withToken, 'WWW-Authenticate')).toBe('Bearer error="invalid_token"')
      expectError(await register({ redirect_uris: ['https://client.example.org/cb'] }, { ...JSON_TYPE, Authorization: 'Basic abc' }), 400, 'invalid_request')
      expect(await store.clients.list()).toEqual([])
    })
  })

  describe('RFC 7591 §3.2.1 Client Information Response', () => {
    it('§3.2.1 a confidential client: 201, client_id, client_id_issued_at, client_secret with client_secret_expires_at 0, not cached; the secret works', async () => {
      // client_credentials is registered only where the application allows it (never by default: see below).
      const { register, server } = await setup(undefined, ['authorization_code', 'refresh_token', 'client_credentials'])
      const before = Math.floor(Date.now() / 1000)
      const res = await register({ grant_types: ['client_credentials'], response_types: [], scope: 'read' })
      expect(res.status, res.body).toBe(201)
      expect(header(res, 'Cache-Control')).toBe('no-store')
      const body = JSON.parse(res.body) as Body
      expect(body).toMatchObject({ client_id: expect.any(String), client_secret: expect.any(String), client_secret_expires_at: 0, grant_types: ['client_credentials'] })
      expect(body.client_id_issued_at as number).toBeGreaterThanOrEqual(before)
      // The registered client authenticates with the secret it was given, by the method it registered.
      const token = await server.createTokenResponse(`${ISSUER}/token`, 'POST', 'grant_type=client_credentials', {
        ...FORM,
        Authorization: basic(body.client_id as string, body.client_secret as string),
      })
      expect(token.status, token.body).toBe(200)
    })

    it('§3.2.1 a public client (none) gets no client_secret and no client_secret_expires_at', async () => {
      const { register, store } = await setup()
      const body = JSON.parse((await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] })).body) as Body
      expect(body).not.toHaveProperty('client_secret')
      expect(body).not.toHaveProperty('client_secret_expires_at')
      expect((await store.clients.get(body.client_id as string))?.tokenEndpointAuthMethod).toBe('none')
    })

    it('§3.2.1 every registration gets a client_id of its own, and the secret is stored only as a digest', async () => {
      const { register, store } = await setup()
      const bodies = await Promise.all(Array.from({ length: 5 }, async () => JSON.parse((await register({ redirect_uris: ['https://client.example.org/cb'] })).body) as Body))
      expect(new Set(bodies.map((body) => body.client_id)).size).toBe(5)
      for (const body of bodies) {
        const stored = await store.clients.get(body.client_id as string)
        expect(JSON.stringify(stored)).not.toContain(body.client_secret as string)
      }
    })
  })

  describe('RFC 7591 §3 Initial access tokens (registration by token)', () => {
    const CLIENT = { redirect_uris: ['https://client.example.org/cb'] }

    async function byToken() {
      const store: Store = await backend.open()
      const validator = new StoreValidator(store, { issuer: ISSUER, registration: { policy: 'token', scopes: ['read'] } })
      const endpoint = new RegistrationEndpoint({ requestValidator: validator })
      const register = (token: string | undefined, metadata: unknown = CLIENT) =>
        endpoint.createRegistrationResponse(REGISTER, 'POST', JSON.stringify(metadata), token === undefined ? JSON_TYPE : { ...JSON_TYPE, Authorization: `Bearer ${token}` })
      return { store, register }
    }

    it('§3 without an initial access token: 401 invalid_token with a Bearer challenge, nothing registered', async () => {
      const { store, register } = await byToken()
      const res = await register(undefined)
      expectError(res, 401, 'invalid_token', /initial access token/)
      expect(header(res, 'WWW-Authenticate')).toBe('Bearer')
      expect(await store.clients.list()).toEqual([])
    })

    it('§3 with a valid token: 201; the token is stored only as a digest', async () => {
      const { store, register } = await byToken()
      const { token, record } = await store.initialAccessTokens.create({ expiresIn: 3600 })
      expect((await register(token)).status).toBe(201)
      expect(record.tokenHash).toBe(tokenHash(token))
      expect(JSON.stringify(await store.initialAccessTokens.list())).not.toContain(token)
    })

    it('§3 a made-up token, one character off, or one removed: 401 invalid_token with error="invalid_token"', async () => {
      const { store, register } = await byToken()
      const { token, record } = await store.initialAccessTokens.create()
      for (const wrong of ['made-up', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`]) {
        const res = await register(wrong)
        expectError(res, 401, 'invalid_token')
        expect(header(res, 'WWW-Authenticate')).toBe('Bearer error="invalid_token"')
      }
      await store.initialAccessTokens.remove(record.id)
      expectError(await register(token), 401, 'invalid_token')
      expect(await store.clients.list()).toEqual([])
    })

    it('§3 the token is checked before the metadata: a made-up token with malformed metadata is 401, not 400', async () => {
      const { register } = await byToken()
      expectError(await register('made-up', { redirect_uris: ['javascript:alert(1)'] }), 401, 'invalid_token')
      expectError(await register(undefined, { redirect_uris: ['javascript:alert(1)'] }), 401, 'invalid_token')
    })

    it('§3 a token past its expiry: 401 invalid_token', async () => {
      const { store, register } = await byToken()
      const now = Math.floor(Date.now() / 1000)
      await store.initialAccessTokenTable.insert({ id: 'expired', tokenHash: tokenHash('expired-token'), createdAt: now - 7200, expiresAt: now - 1 })
      expectError(await register('expired-token'), 401, 'invalid_token')
      expect(await store.clients.list()).toEqual([])
    })

    it('§3 a token of N uses registers N clients, then is refused; a refused registration spends no use', async () => {
      const { store, register } = await byToken()
      const { token, record } = await store.initialAccessTokens.create({ uses: 2 })
      expectError(await register(token, { redirect_uris: ['http://attacker.example/cb'] }), 400, 'invalid_redirect_uri')
      expect((await register(token)).status).toBe(201)
      expect((await register(token)).status).toBe(201)
      expectError(await register(token), 401, 'invalid_token')
      expect(await store.clients.list()).toHaveLength(2)
      expect((await store.initialAccessTokens.list()).find((listed) => listed.id === record.id)?.usesLeft).toBe(0)
    })

    it('§3 two parallel registrations with a one-use token: exactly one succeeds, the other is invalid_token', async () => {
      const { store, register } = await byToken()
      const { token } = await store.initialAccessTokens.create({ uses: 1 })
      const results = await Promise.all([register(token), register(token)])
      expect(results.map((res) => res.status).sort()).toEqual([201, 401])
      expect(await store.clients.list()).toHaveLength(1)
    })
  })
})
