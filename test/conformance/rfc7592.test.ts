/**
 * RFC 7592 conformance of the client configuration endpoint (read, update, delete a registration with its registration
 * access token), over StoreValidator on each store: one `describe` per section, one `it` per requirement. What an
 * update or a deletion changed is checked at the token endpoint and in the store.
 */
import { describe, expect, it } from 'vitest'
import { ClientConfigurationEndpoint, RegistrationEndpoint, Server, type OAuth2Response } from '../../src/index.js'
import { StoreValidator, tokenHash, type Store } from '../../src/store/index.js'
import { CONFORMANCE_STORES } from '../support/conformance-backends.js'
import { basic, FORM } from '../support/memory-validator.js'

const ISSUER = 'https://server.example.com'
const REGISTER = `${ISSUER}/register`
const JSON_TYPE = { 'Content-Type': 'application/json' }
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials']
const WEB_CLIENT = { redirect_uris: ['https://client.example.org/cb'], client_name: 'Example', logo_uri: 'https://client.example.org/logo.png', scope: 'read' }
const SERVICE = { grant_types: ['client_credentials'], response_types: [], scope: 'read' }

type Body = Record<string, unknown>

function header(res: OAuth2Response, name: string): string | undefined {
  return Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1]
}

/** Asserts an error response (RFC 6750 §3, RFC 7591 §3.2.2) and returns its body. */
function expectError(res: OAuth2Response, status: number, error: string, description?: RegExp): Body {
  expect(res.status, res.body).toBe(status)
  expect(header(res, 'Cache-Control')).toBe('no-store')
  const body = JSON.parse(res.body) as Body
  expect(body).toEqual({ error, error_description: expect.stringMatching(DESCRIPTION_CHARSET) })
  if (description !== undefined) expect(body.error_description).toMatch(description)
  return body
}

/** A bad registration access token: 401 invalid_token with a Bearer challenge naming the error (RFC 6750 §3.1). */
function expectInvalidToken(res: OAuth2Response): void {
  expectError(res, 401, 'invalid_token')
  expect(header(res, 'WWW-Authenticate')).toBe('Bearer error="invalid_token"')
}

describe.each(CONFORMANCE_STORES)('RFC 7592 over StoreValidator on $name', (backend) => {
  async function setup() {
    const store: Store = await backend.open()
    const validator = new StoreValidator(store, { issuer: ISSUER, registration: { policy: 'open', scopes: ['read', 'write'] } })
    const errors: unknown[] = []
    const options = { requestValidator: validator, grantTypes: GRANT_TYPES, onError: (error: unknown) => errors.push(error) }
    const registration = new RegistrationEndpoint(options)
    const configuration = new ClientConfigurationEndpoint(options)
    const server = new Server(validator, { issuer: ISSUER })
    /** Registers a client; returns the registration response's body. */
    const register = async (metadata: Body): Promise<Body> => {
      const res = await registration.createRegistrationResponse(REGISTER, 'POST', JSON.stringify(metadata), JSON_TYPE)
      expect(res.status, res.body).toBe(201)
      return JSON.parse(res.body) as Body
    }
    const manage = (uri: string, method: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) =>
      configuration.createClientConfigurationResponse(uri, method, body === undefined ? undefined : JSON.stringify(body), {
        ...(body === undefined ? {} : JSON_TYPE),
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        ...headers,
      })
    /** A client_credentials token request with a client's secret; returns the response. */
    const tokenRequest = (clientId: string, secret: string) =>
      server.createTokenResponse(`${ISSUER}/token`, 'POST', 'grant_type=client_credentials', { ...FORM, Authorization: basic(clientId, secret) })
    return { store, register, manage, tokenRequest, errors }
  }

  describe('RFC 7592 §3 Client Information Response', () => {
    it('§3 the registration response carries a registration_access_token and the registration_client_uri under /register', async () => {
      const { register, store } = await setup()
      const body = await register(WEB_CLIENT)
      expect(body.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(body.registration_client_uri).toBe(`${REGISTER}/${body.client_id as string}`)
      // Stored as a digest only.
      const stored = await store.clientTable.get(body.client_id as string)
      expect(stored?.registrationTokenHash).toBe(tokenHash(body.registration_access_token as string))
      expect(JSON.stringify(stored)).not.toContain(body.registration_access_token as string)
    })

    it('§3 every registration gets a registration access token of its own', async () => {
      const { register } = await setup()
      const tokens = await Promise.all([1, 2, 3].map(async () => (await register(WEB_CLIENT)).registration_access_token))
      expect(new Set(tokens).size).toBe(3)
    })
  })

  describe('RFC 7592 §2.1 Client Read Request', () => {
    it('§2.1 GET with the registration access token: 200, not cached, the metadata as registered, the same token and URI, no secret', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const res = await manage(registered.registration_client_uri as string, 'GET', registered.registration_access_token as string)
      expect(res.status, res.body).toBe(200)
      expect(header(res, 'Cache-Control')).toBe('no-store')
      const body = JSON.parse(res.body) as Body
      expect(body).toEqual({
        client_id: registered.client_id,
        client_id_issued_at: registered.client_id_issued_at,
        client_secret_expires_at: 0,
        redirect_uris: WEB_CLIENT.redirect_uris,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        client_name: 'Example',
        logo_uri: WEB_CLIENT.logo_uri,
        scope: 'read',
        registration_access_token: registered.registration_access_token,
        registration_client_uri: registered.registration_client_uri,
      })
    })

    it('§2.1 without a token: 401 invalid_token with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const res = await manage(registered.registration_client_uri as string, 'GET', undefined)
      expectError(res, 401, 'invalid_token')
      expect(header(res, 'WWW-Authenticate')).toBe('Bearer')
    })

    it('§2.1 a made-up token, a token one character off, or the client secret instead: 401 invalid_token', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const token = registered.registration_access_token as string
      const uri = registered.registration_client_uri as string
      for (const wrong of ['made-up', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, registered.client_secret as string]) expectInvalidToken(await manage(uri, 'GET', wrong))
    })

    it('§2.1 another client’s registration access token: 401 invalid_token, nothing of that client shown', async () => {
      const { register, manage } = await setup()
      const a = await register(WEB_CLIENT)
      const b = await register({ ...WEB_CLIENT, client_name: 'Other' })
      const res = await manage(b.registration_client_uri as string, 'GET', a.registration_access_token as string)
      expectInvalidToken(res)
      expect(res.body).not.toContain(b.client_id as string)
    })

    it('§2.1 a client the operator registered has no registration access token: not manageable', async () => {
      const { store, register, manage } = await setup()
      const operator = await store.clients.create({ name: 'operator', redirectUris: ['https://op.example/cb'], scopes: ['read'] })
      const registered = await register(WEB_CLIENT)
      expectInvalidToken(await manage(`${REGISTER}/${operator.clientId}`, 'GET', registered.registration_access_token as string))
      expectInvalidToken(await manage(`${REGISTER}/${operator.clientId}`, 'GET', operator.clientSecret as string))
    })

    it('§2.1 an unknown client_id: 401 invalid_token', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      expectInvalidToken(await manage(`${REGISTER}/nobody`, 'GET', registered.registration_access_token as string))
    })

    it('§2 the token is a Bearer token: another scheme is invalid_request', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const res = await manage(registered.registration_client_uri as string, 'GET', undefined, undefined, { Authorization: basic(registered.client_id as string, registered.client_secret as string) })
      expectError(res, 400, 'invalid_request', /Bearer/)
    })

    it('§2 TLS is required, and only GET, PUT and DELETE are served (405 with Allow)', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const token = registered.registration_access_token as string
      expectError(await manage((registered.registration_client_uri as string).replace('https:', 'http:'), 'GET', token), 400, 'invalid_request', /TLS/)
      const post = await manage(registered.registration_client_uri as string, 'POST', token)
      expectError(post, 405, 'invalid_request')
      expect(header(post, 'Allow')).toBe('GET, PUT, DELETE')
    })
  })

  describe('RFC 7592 §2.2 Client Update Request', () => {
    it('§2.2 PUT replaces the metadata (members left out are removed) and rotates the registration access token; the old one is refused', async () => {
      const { register, manage, store } = await setup()
      const registered = await register(WEB_CLIENT)
      const uri = registered.registration_client_uri as string
      const old = registered.registration_access_token as string
      const update = { client_id: registered.client_id, redirect_uris: ['https://client.example.org/new'], client_name: 'Renamed', scope: 'read write' }
      const res = await manage(uri, 'PUT', old, update)
      expect(res.status, res.body).toBe(200)
      expect(header(res, 'Cache-Control')).toBe('no-store')
      const body = JSON.parse(res.body) as Body
      expect(body).toMatchObject({ client_id: registered.client_id, client_id_issued_at: registered.client_id_issued_at, redirect_uris: update.redirect_uris, client_name: 'Renamed', scope: 'read write', registration_client_uri: uri })
      expect(body).not.toHaveProperty('logo_uri')
      expect(body).not.toHaveProperty('client_secret')
      expect(body.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(body.registration_access_token).not.toBe(old)
      expect(await store.clientTable.get(registered.client_id as string)).toMatchObject({ name: 'Renamed', redirectUris: update.redirect_uris, scopes: ['read', 'write'], registration: {} })
      expectInvalidToken(await manage(uri, 'GET', old))
      expectInvalidToken(await manage(uri, 'PUT', old, update))
      expectInvalidToken(await manage(uri, 'DELETE', old))
      expect((await manage(uri, 'GET', body.registration_access_token as string)).status).toBe(200)
    })

    it('§2.2 the secret is kept: the client goes on authenticating with it, and may send it back when it is the current one', async () => {
      const { register, manage, tokenRequest } = await setup()
      const registered = await register(SERVICE)
      const res = await manage(registered.registration_client_uri as string, 'PUT', registered.registration_access_token as string, {
        ...SERVICE,
        client_id: registered.client_id,
        client_secret: registered.client_secret,
        client_name: 'Service',
      })
      expect(res.status, res.body).toBe(200)
      expect(JSON.parse(res.body)).not.toHaveProperty('client_secret')
      expect((await tokenRequest(registered.client_id as string, registered.client_secret as string)).status).toBe(200)
    })

    it('§2.2 a client_secret that is not the current one is refused as invalid_client_metadata, and nothing changes', async () => {
      const { register, manage, store } = await setup()
      const registered = await register(SERVICE)
      const token = registered.registration_access_token as string
      const res = await manage(registered.registration_client_uri as string, 'PUT', token, { ...SERVICE, client_id: registered.client_id, client_secret: 'chosen-by-the-client', client_name: 'Hijacked' })
      expectError(res, 400, 'invalid_client_metadata', /client_secret/)
      expect((await store.clientTable.get(registered.client_id as string))?.name).toBe('Unnamed client')
      expect((await manage(registered.registration_client_uri as string, 'GET', token)).status).toBe(200)
    })

    it.each([
      ['a missing client_id', {}],
      ['another client_id', { client_id: 'someone-else' }],
    ])('§2.2 %s is invalid_client_metadata, and the token is not rotated', async (_name, fields) => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const token = registered.registration_access_token as string
      expectError(await manage(registered.registration_client_uri as string, 'PUT', token, { ...WEB_CLIENT, ...fields }), 400, 'invalid_client_metadata', /client_id/)
      expect((await manage(registered.registration_client_uri as string, 'GET', token)).status).toBe(200)
    })

    it('§2.2 an update is checked as a registration: a redirect URI the server does not accept is invalid_redirect_uri', async () => {
      const { register, manage, store } = await setup()
      const registered = await register(WEB_CLIENT)
      for (const uri of ['http://attacker.example/cb', 'javascript:alert(1)', 'https://client.example.org/cb#x']) {
        const res = await manage(registered.registration_client_uri as string, 'PUT', registered.registration_access_token as string, { ...WEB_CLIENT, client_id: registered.client_id, redirect_uris: [uri] })
        expectError(res, 400, 'invalid_redirect_uri')
      }
      expect((await store.clientTable.get(registered.client_id as string))?.redirectUris).toEqual(WEB_CLIENT.redirect_uris)
    })

    it('§2.2 scopes the server does not give self-registered clients are narrowed, and none of them is invalid_client_metadata', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const uri = registered.registration_client_uri as string
      const res = await manage(uri, 'PUT', registered.registration_access_token as string, { ...WEB_CLIENT, client_id: registered.client_id, scope: 'read admin' })
      expect(res.status).toBe(200)
      const body = JSON.parse(res.body) as Body
      expect(body.scope).toBe('read')
      expectError(await manage(uri, 'PUT', body.registration_access_token as string, { ...WEB_CLIENT, client_id: registered.client_id, scope: 'admin' }), 400, 'invalid_client_metadata', /scope/)
    })

    it('§2.2 a public client that becomes confidential is issued a secret, shown once, which works; a confidential one cannot become public', async () => {
      const { register, manage, tokenRequest, store } = await setup()
      const registered = await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' })
      expect(registered).not.toHaveProperty('client_secret')
      const uri = registered.registration_client_uri as string
      const res = await manage(uri, 'PUT', registered.registration_access_token as string, { ...SERVICE, client_id: registered.client_id })
      expect(res.status, res.body).toBe(200)
      const body = JSON.parse(res.body) as Body
      expect(body).toMatchObject({ client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), client_secret_expires_at: 0, token_endpoint_auth_method: 'client_secret_basic' })
      expect((await tokenRequest(registered.client_id as string, body.client_secret as string)).status).toBe(200)
      // Back to public is refused: its refresh tokens would then work without the secret.
      const back = await manage(uri, 'PUT', body.registration_access_token as string, { redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', client_id: registered.client_id })
      expectError(back, 400, 'invalid_client_metadata', /cannot become public/)
      expect((await store.clientTable.get(registered.client_id as string))?.secretHash).toBeDefined()
      expect((await tokenRequest(registered.client_id as string, body.client_secret as string)).status).toBe(200)
    })

    it('§2.2 members the client may not set (registration_access_token, registration_client_uri, client_id_issued_at, client_secret_expires_at) are ignored', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const res = await manage(registered.registration_client_uri as string, 'PUT', registered.registration_access_token as string, {
        ...registered,
        registration_client_uri: `${REGISTER}/someone-else`,
        client_id_issued_at: 1,
      })
      expect(res.status, res.body).toBe(200)
      const body = JSON.parse(res.body) as Body
      expect(body).toMatchObject({ client_id_issued_at: registered.client_id_issued_at, registration_client_uri: registered.registration_client_uri })
      expect(body.registration_access_token).not.toBe(registered.registration_access_token)
    })

    it('§2.2 of concurrent updates with one token exactly one succeeds; the others find it rotated (401)', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const results = await Promise.all(
        ['A', 'B', 'C', 'D'].map((name) =>
          manage(registered.registration_client_uri as string, 'PUT', registered.registration_access_token as string, { ...WEB_CLIENT, client_id: registered.client_id, client_name: name }),
        ),
      )
      expect(results.map((res) => res.status).sort()).toEqual([200, 401, 401, 401])
    })

    it('§2.2 a body that is not JSON, or not an object, is refused and changes nothing', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const uri = registered.registration_client_uri as string
      const token = registered.registration_access_token as string
      expectError(await manage(uri, 'PUT', token, ['not', 'an', 'object']), 400, 'invalid_client_metadata')
      const form = await manage(uri, 'PUT', token, undefined, FORM)
      expectError(form, 400, 'invalid_request', /application\/json/)
      expect((await manage(uri, 'GET', token)).status).toBe(200)
    })
  })

  describe('RFC 7592 §2.3 Client Delete Request', () => {
    it('§2.3 DELETE: 204 without a body; the client, its tokens and its registration are gone, and the token no longer works', async () => {
      const { register, manage, tokenRequest, store } = await setup()
      const registered = await register(SERVICE)
      const clientId = registered.client_id as string
      const issued = JSON.parse((await tokenRequest(clientId, registered.client_secret as string)).body) as Body
      const uri = registered.registration_client_uri as string
      const token = registered.registration_access_token as string
      const res = await manage(uri, 'DELETE', token)
      expect(res.status).toBe(204)
      expect(res.body).toBe('')
      expect(header(res, 'Cache-Control')).toBe('no-store')
      expect(await store.clientTable.get(clientId)).toBeUndefined()
      expect(await store.tokens.get(tokenHash(issued.access_token as string))).toBeUndefined()
      expect((await tokenRequest(clientId, registered.client_secret as string)).status).toBe(401)
      // RFC 7592 §2.3: a client that does not exist is 401, whatever is asked.
      expectInvalidToken(await manage(uri, 'DELETE', token))
      expectInvalidToken(await manage(uri, 'GET', token))
    })

    it('§2.3 two deletions at once: one is 204, the other finds no client (401)', async () => {
      const { register, manage } = await setup()
      const registered = await register(WEB_CLIENT)
      const results = await Promise.all([1, 2].map(() => manage(registered.registration_client_uri as string, 'DELETE', registered.registration_access_token as string)))
      expect(results.map((res) => res.status).sort()).toEqual([204, 401])
    })

    it('§2.3 another client’s token cannot delete a registration', async () => {
      const { register, manage, store } = await setup()
      const a = await register(WEB_CLIENT)
      const b = await register(WEB_CLIENT)
      expectInvalidToken(await manage(b.registration_client_uri as string, 'DELETE', a.registration_access_token as string))
      expect(await store.clientTable.get(b.client_id as string)).toBeDefined()
    })
  })
})
