/**
 * Conformance to OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP
 * authorization specification of 2025-11-25 uses it), over StoreValidator on each store: one `describe` per section,
 * one `it` per requirement, the refusals included. Sections are those of draft -01, which are -00's (the revision MCP
 * cites) for every section named here; -01 added the §4 rules that redirects are not followed and only 200 is a
 * document, and the §6.5 rule that no special-use address (RFC 6890) is fetched.
 *
 * The documents are served over https by a server on 127.0.0.1 with a certificate made in the test; the fetcher is
 * given that certificate (`ca`) and a resolver (`lookup`) that pretends `client.example` and the other names resolve
 * to the addresses a case needs. Only the development option (`allowLoopback`) lets it fetch from 127.0.0.1 at all:
 * the cases of the SSRF section run without it.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { type AddressInfo } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  InvalidClientMetadataError,
  OAuth2Error,
  parseClientIdMetadataDocument,
  parseClientIdUrl,
  Server,
  type OAuth2Response,
} from '../../src/index.js'
import { createApp } from '../../src/app/app.js'
import {
  classifyAddress,
  ClientIdMetadataDocuments,
  StoreValidator,
  type ClientIdMetadataDocumentsOptions,
  type HostLookup,
  type Store,
} from '../../src/store/index.js'
import { CONFORMANCE_STORES } from '../support/conformance-backends.js'
import { FORM } from '../support/memory-validator.js'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'

const ISSUER = 'https://server.example.com'
const REDIRECT_URI = 'https://client.example/callback'
const RESPONSE_JSON = { 'Content-Type': 'application/json' }

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** The https server of the documents: a handler per path, and how many requests each path received. */
const certificate = selfSignedCertificate(['client.example', 'other.example', 'localhost'], ['127.0.0.1'])
const routes = new Map<string, Handler>()
const hits = new Map<string, number>()
let documents: HttpServer
let plain: HttpServer
let port = 0
let plainPort = 0

function serve(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'https://client.example').pathname
  hits.set(path, (hits.get(path) ?? 0) + 1)
  const handler = routes.get(path)
  if (handler === undefined) res.writeHead(404).end()
  else handler(req, res)
}

beforeAll(async () => {
  documents = createHttpsServer({ cert: certificate.cert, key: certificate.key }, serve)
  plain = createHttpServer(serve)
  for (const server of [documents, plain]) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (documents.address() as AddressInfo).port
  plainPort = (plain.address() as AddressInfo).port
})

afterAll(async () => {
  for (const server of [documents, plain]) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

/** Pretends names resolve: `client.example` and `other.example` to 127.0.0.1, the others as each case says. */
const NAMES: Record<string, readonly string[]> = {
  'client.example': ['127.0.0.1'],
  'other.example': ['127.0.0.1'],
  'private.example': ['10.1.2.3'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.215.14', '192.168.1.20'],
  'mapped.example': ['::ffff:127.0.0.1'],
  'ula.example': ['fd00::1'],
}
const lookup: HostLookup = async (hostname) => {
  const addresses = NAMES[hostname]
  if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
}

/** A fresh path on the document server, and the https `client_id` that names it. */
function newDocument(
  body: (clientId: string) => unknown = (clientId) => validDocument(clientId),
  headers: Record<string, string> = RESPONSE_JSON,
  status = 200,
): { clientId: string; path: string } {
  const path = `/clients/${randomBytes(6).toString('hex')}.json`
  const clientId = `https://client.example:${port}${path}`
  routes.set(path, (_req, res) => {
    const value = body(clientId)
    res.writeHead(status, headers).end(typeof value === 'string' ? value : JSON.stringify(value))
  })
  return { clientId, path }
}

function validDocument(clientId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_id: clientId,
    client_name: 'Document Client',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    scope: 'read',
    ...extra,
  }
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

function authorizeUri(clientId: string, challenge: string, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'read',
    state: 'xyz',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  })
  return `${ISSUER}/authorize?${query.toString()}`
}

function tokenRequest(server: Server, form: Record<string, string>): Promise<OAuth2Response> {
  return server.createTokenResponse(`${ISSUER}/token`, 'POST', new URLSearchParams(form).toString(), FORM)
}

/** A StoreValidator with client metadata documents on, fetching from the test's server (development option on). */
function setup(store: Store, options: Partial<ClientIdMetadataDocumentsOptions> = {}) {
  const validator = new StoreValidator(store, {
    issuer: ISSUER,
    clientMetadataDocuments: { scopes: ['read', 'write'], allowLoopback: true, ca: certificate.cert, lookup, ...options },
  })
  const errors: unknown[] = []
  const server = new Server(validator, { issuer: ISSUER, onError: (error) => errors.push(error) })
  return { validator, server, errors, fetcher: validator.clientIdMetadataDocuments as ClientIdMetadataDocuments }
}

/** The error an authorization request is refused with: must not be redirectable (shown to the user). */
async function authorizationError(server: Server, uri: string): Promise<OAuth2Error> {
  const error = await server.validateAuthorizationRequest(uri, 'GET').then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(OAuth2Error)
  return error as OAuth2Error
}

async function expectRefused(server: Server, clientId: string, description: RegExp): Promise<void> {
  const error = await authorizationError(server, authorizeUri(clientId, pkce().challenge))
  expect(error.redirectable).toBe(false)
  expect(error.error).toBe('invalid_request')
  expect(error.description).toMatch(description)
  // And the response that the application would send: a 400, never a redirect to the document's redirect URI.
  const response = await server.createAuthorizationErrorResponse(authorizeUri(clientId, pkce().challenge), 'GET', undefined, {}, error)
  expect(response.status).toBe(400)
  expect(response.headers.Location).toBeUndefined()
}

async function addUser(store: Store): Promise<string> {
  const userId = `user-${randomBytes(4).toString('hex')}`
  await store.userTable.insert({ userId, username: userId, passwordHash: 'scrypt:1024:8:1:c2FsdA:a2V5', createdAt: Math.floor(Date.now() / 1000) })
  return userId
}

describe('draft §3 Client Identifier (parseClientIdUrl)', () => {
  it('§3 accepts an https URL with a path, a port and a query (a query is discouraged, not forbidden)', () => {
    for (const url of ['https://client.example.com/client.json', 'https://client.example.com:8443/oauth/client', 'https://client.example.com/c?v=1']) {
      expect(parseClientIdUrl(url).href).toBe(url)
    }
  })

  it.each([
    ['the http scheme', 'http://client.example.com/client.json', /must use https/],
    ['another scheme', 'ftp://client.example.com/client.json', /must use https/],
    ['no path', 'https://client.example.com', /must have a path/],
    ['the root path only', 'https://client.example.com/', /must have a path/],
    ['a fragment', 'https://client.example.com/client.json#x', /fragment/],
    ['an empty fragment', 'https://client.example.com/client.json#', /fragment/],
    ['a username', 'https://alice@client.example.com/client.json', /username or password/],
    ['a username and password', 'https://alice:secret@client.example.com/client.json', /username or password/],
    ['a double-dot segment', 'https://client.example.com/a/../client.json', /\. or \.\. path segments/],
    ['a single-dot segment', 'https://client.example.com/./client.json', /\. or \.\. path segments/],
    ['an encoded double-dot segment', 'https://client.example.com/a/%2e%2E/client.json', /\. or \.\. path segments/],
    ['a trailing dot segment', 'https://client.example.com/a/..', /\. or \.\. path segments/],
    ['an upper-case host (not the normal form)', 'https://Client.Example.com/client.json', /normal form/],
    ['the default port written out', 'https://client.example.com:443/client.json', /normal form/],
    ['white space', 'https://client.example.com/client .json', /normal form/],
    ['a backslash', 'https://client.example.com\\client.json', /normal form|must have a path/],
    ['more than 1000 characters', `https://client.example.com/${'a'.repeat(1000)}`, /longer than 1000/],
    ['no URL at all', 'https://', /not a URL/],
  ])('§3 refuses a client_id URL with %s', (_name, url, description) => {
    expect(() => parseClientIdUrl(url)).toThrow(InvalidClientMetadataError)
    expect(() => parseClientIdUrl(url)).toThrow(description)
  })

  it('§3 development option: http is accepted on a loopback host only', () => {
    expect(parseClientIdUrl('http://127.0.0.1:8080/client.json', { allowHttpLoopback: true }).href).toBe('http://127.0.0.1:8080/client.json')
    expect(parseClientIdUrl('http://localhost:8080/client.json', { allowHttpLoopback: true }).href).toBe('http://localhost:8080/client.json')
    expect(() => parseClientIdUrl('http://client.example.com/client.json', { allowHttpLoopback: true })).toThrow(/loopback development only/)
  })
})

describe('draft §4.1 Client Metadata Document (parseClientIdMetadataDocument)', () => {
  const URL = 'https://client.example.com/client.json'
  const policy = { grantTypes: ['authorization_code', 'refresh_token'] }

  it('§4.1 accepts a document whose client_id is its URL; an absent token_endpoint_auth_method means none', () => {
    const document = validDocument(URL)
    delete document.token_endpoint_auth_method
    expect(parseClientIdMetadataDocument(document, URL, policy)).toMatchObject({
      client_name: 'Document Client',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    })
  })

  it.each([
    ['not an object', [], /JSON object/],
    ['no client_id', { redirect_uris: [REDIRECT_URI] }, /no client_id/],
    ['a client_id that is another URL', validDocument('https://client.example.com/other.json'), /not the URL it was fetched from/],
    ['a client_id that differs only in case', validDocument('https://client.example.com/Client.json'), /not the URL it was fetched from/],
    ['a client_id with a trailing slash', validDocument(`${URL}/`), /not the URL it was fetched from/],
    ['client_secret', validDocument(URL, { client_secret: 'shh' }), /must not have client_secret/],
    ['client_secret_expires_at', validDocument(URL, { client_secret_expires_at: 0 }), /must not have client_secret_expires_at/],
    ['token_endpoint_auth_method client_secret_basic', validDocument(URL, { token_endpoint_auth_method: 'client_secret_basic' }), /shared-secret/],
    ['token_endpoint_auth_method client_secret_post', validDocument(URL, { token_endpoint_auth_method: 'client_secret_post' }), /shared-secret/],
    ['token_endpoint_auth_method client_secret_jwt', validDocument(URL, { token_endpoint_auth_method: 'client_secret_jwt' }), /shared-secret/],
    ['token_endpoint_auth_method private_key_jwt (not supported here)', validDocument(URL, { token_endpoint_auth_method: 'private_key_jwt' }), /must be none/],
    ['no redirect URI for the code grant', validDocument(URL, { redirect_uris: [] }), /redirect_uris is required/],
    ['an http redirect URI on a public host (RFC 7591 rules)', validDocument(URL, { redirect_uris: ['http://client.example.com/cb'] }), /loopback/],
    ['a javascript: redirect URI', validDocument(URL, { redirect_uris: ['javascript:alert(1)'] }), /redirect URI/],
    ['the client_credentials grant', validDocument(URL, { grant_types: ['client_credentials'], response_types: [] }), /grant_types may hold/],
  ])('§4.1 refuses a document with %s', (_name, document, description) => {
    expect(() => parseClientIdMetadataDocument(document, URL, policy)).toThrow(OAuth2Error)
    expect(() => parseClientIdMetadataDocument(document, URL, policy)).toThrow(description)
  })
})

describe.each(CONFORMANCE_STORES)('draft-ietf-oauth-client-id-metadata-document over StoreValidator on $name', (backend) => {
  describe('§3 Client Identifier', () => {
    it('§3 a client_id URL that breaks a rule is refused before anything is fetched, and not redirected', async () => {
      const { server } = setup(await backend.open())
      const { clientId, path } = newDocument()
      for (const bad of [`${clientId}#frag`, clientId.replace('https://', 'https://user@'), clientId.replace('/clients/', '/clients/../clients/')]) {
        await expectRefused(server, bad, /client_id URL/)
      }
      expect(hits.get(path)).toBeUndefined()
    })

    it('§3 http without the development option: refused, not fetched', async () => {
      const store = await backend.open()
      const { server } = setup(store, { allowLoopback: false })
      const path = `/clients/${randomBytes(6).toString('hex')}.json`
      routes.set(path, (_req, res) => res.writeHead(200, RESPONSE_JSON).end('{}'))
      const clientId = `http://127.0.0.1:${plainPort}${path}`
      await expectRefused(server, clientId, /client_id URL must use https/)
      expect(hits.get(path)).toBeUndefined()
    })

    it('§3 development option: an http document on loopback is fetched and used', async () => {
      const { server } = setup(await backend.open())
      const path = `/clients/${randomBytes(6).toString('hex')}.json`
      const clientId = `http://127.0.0.1:${plainPort}${path}`
      routes.set(path, (_req, res) => res.writeHead(200, RESPONSE_JSON).end(JSON.stringify(validDocument(clientId))))
      const validated = await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
      expect(validated.credentials.client.clientId).toBe(clientId)
    })

    it('§6.10 pre-registered document URL: an operator’s client stored under the URL is used as stored, nothing fetched', async () => {
      const store = await backend.open()
      const { server } = setup(store)
      const { clientId, path } = newDocument()
      await store.clients.create({ clientId, name: 'Known client', redirectUris: ['https://known.example/cb'], scopes: ['read'], public: true })
      const validated = await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge, { redirect_uri: 'https://known.example/cb' }), 'GET')
      expect(validated.credentials.client).toMatchObject({ clientId, name: 'Known client' })
      expect(hits.get(path)).toBeUndefined()
    })
  })

  describe('§4 Client Information Discovery', () => {
    it('§4 the whole flow: authorization request, code, token and refresh for a client known only by its document', async () => {
      const store = await backend.open()
      const { server, validator } = setup(store)
      const { clientId } = newDocument()
      const userId = await addUser(store)
      const { verifier, challenge } = pkce()
      const uri = authorizeUri(clientId, challenge)
      const validated = await server.validateAuthorizationRequest(uri, 'GET')
      expect(validated.credentials.client).toMatchObject({ clientId, name: 'Document Client', tokenEndpointAuthMethod: 'none' })
      expect(validated.scopes).toEqual(['read'])
      // A consent, a code, tokens: every store keeps them for a client row made from the document.
      await validator.saveConsent(clientId, userId, ['read'])
      expect(await validator.hasConsent(clientId, userId, ['read'])).toBe(true)
      const redirect = await server.createAuthorizationResponse(uri, 'GET', undefined, {}, ['read'], { userId })
      expect(redirect.status).toBe(302)
      const location = new URL(redirect.headers.Location as string)
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
      const code = location.searchParams.get('code') as string
      const row = await store.clients.get(clientId)
      expect(row).toMatchObject({ clientId, name: 'Document Client', tokenEndpointAuthMethod: 'none', registration: { metadataDocument: true } })
      expect(row?.secretHash).toBeUndefined()

      const token = await tokenRequest(server, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: clientId, code_verifier: verifier })
      expect(token.status, token.body).toBe(200)
      const tokens = JSON.parse(token.body) as { access_token: string; refresh_token: string }
      expect(tokens.refresh_token).toEqual(expect.any(String))
      const refreshed = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId })
      expect(refreshed.status, refreshed.body).toBe(200)
      const introspected = await validator.introspectToken((JSON.parse(refreshed.body) as { access_token: string }).access_token)
      expect(introspected).toMatchObject({ clientId, tokenType: 'access_token', scopes: ['read'] })
    })

    it('§4 a document is fetched once while it is cached, however many requests use it', async () => {
      const { server } = setup(await backend.open())
      const { clientId, path } = newDocument(undefined, { ...RESPONSE_JSON, 'Cache-Control': 'max-age=600' })
      await Promise.all(Array.from({ length: 5 }, () => server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')))
      await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
      expect(hits.get(path)).toBe(1)
    })

    it.each([
      [404, /answered HTTP 404, not 200/],
      [500, /answered HTTP 500, not 200/],
      [204, /answered HTTP 204, not 200/],
      [203, /answered HTTP 203, not 200/],
    ])('§4 a response with status %i is an error', async (status, description) => {
      const { server } = setup(await backend.open())
      const { clientId } = newDocument(undefined, RESPONSE_JSON, status)
      await expectRefused(server, clientId, description)
    })

    it.each([301, 302, 303, 307, 308])('§4 a redirect (%i) is not followed, even to the same origin', async (status) => {
      const { server } = setup(await backend.open())
      const target = newDocument()
      const { clientId } = newDocument(() => '', { Location: target.clientId }, status)
      await expectRefused(server, clientId, /redirect .*not followed/)
      expect(hits.get(target.path)).toBeUndefined()
    })
  })

  describe('§4.1 Client Metadata Document', () => {
    it('§4.1 a document whose client_id is not its URL is refused', async () => {
      const { server } = setup(await backend.open())
      const other = newDocument()
      const { clientId } = newDocument(() => validDocument(other.clientId))
      await expectRefused(server, clientId, /client_id of the document is not the URL/)
    })

    it('§4.1 a document with a client_secret, or a shared-secret method, is refused', async () => {
      const { server } = setup(await backend.open())
      await expectRefused(server, newDocument((id) => validDocument(id, { client_secret: 'x' })).clientId, /client_secret/)
      await expectRefused(server, newDocument((id) => validDocument(id, { token_endpoint_auth_method: 'client_secret_basic' })).clientId, /shared-secret/)
    })

    it.each([
      ['not JSON', () => 'not json', RESPONSE_JSON, /not JSON/],
      ['served as text/html', (id: string) => JSON.stringify(validDocument(id)), { 'Content-Type': 'text/html' }, /application\/json/],
      ['without a Content-Type', (id: string) => JSON.stringify(validDocument(id)), {}, /application\/json/],
      ['compressed', (id: string) => JSON.stringify(validDocument(id)), { ...RESPONSE_JSON, 'Content-Encoding': 'gzip' }, /compressed/],
      ['invalid UTF-8', () => Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'), RESPONSE_JSON, /not JSON/],
    ])('§4.1 a document %s is refused', async (_name, body, headers, description) => {
      const { server } = setup(await backend.open())
      await expectRefused(server, newDocument(body, headers as Record<string, string>).clientId, description)
    })

    it('§4.1 a document served as application/<something>+json is accepted', async () => {
      const { server } = setup(await backend.open())
      const { clientId } = newDocument(undefined, { 'Content-Type': 'application/oauth-client+json; charset=utf-8' })
      expect((await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')).credentials.client.clientId).toBe(clientId)
    })

    it('§4.1 the scopes a document asks for are narrowed to those allowed; asking only for others is refused', async () => {
      const { server } = setup(await backend.open())
      const narrowed = newDocument((id) => validDocument(id, { scope: 'read admin' })).clientId
      const validated = await server.validateAuthorizationRequest(authorizeUri(narrowed, pkce().challenge), 'GET')
      expect(validated.credentials.client).toMatchObject({ scopes: ['read'] })
      const error = await authorizationError(server, authorizeUri(narrowed, pkce().challenge, { scope: 'admin' }))
      expect(error.error).toBe('invalid_scope')
      await expectRefused(server, newDocument((id) => validDocument(id, { scope: 'admin' })).clientId, /scope may hold read write/)
    })
  })

  describe('§4.3 Metadata Discovery Errors', () => {
    it('§4.3 the authorization request is aborted with an error shown to the user, never redirected', async () => {
      const { server } = setup(await backend.open())
      await expectRefused(server, `https://client.example:${port}/clients/missing.json`, /^The client ID metadata document cannot be used: the document URL answered HTTP 404/)
    })

    it('§4.3 at the token endpoint, a document that cannot be used is invalid_client', async () => {
      const store = await backend.open()
      const { server } = setup(store)
      const { clientId, path } = newDocument()
      routes.delete(path)
      const token = await tokenRequest(server, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI, client_id: clientId, code_verifier: 'v'.repeat(43) })
      expect(token.status).toBe(401)
      expect(JSON.parse(token.body)).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/metadata document cannot be used/) })
    })

    it('§4.3 a client secret sent for a document’s client is invalid_client', async () => {
      const { server } = setup(await backend.open())
      const { clientId } = newDocument()
      const token = await server.createTokenResponse(`${ISSUER}/token`, 'POST', 'grant_type=authorization_code&code=x', {
        ...FORM,
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:secret`).toString('base64')}`,
      })
      expect(token.status).toBe(401)
      expect(JSON.parse(token.body)).toMatchObject({ error: 'invalid_client' })
    })
  })

  describe('§4.4 Metadata Caching', () => {
    it('§4.4 Cache-Control max-age is honoured within the bounds: refetched once it expired', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      try {
        const { server } = setup(await backend.open(), { minCacheSeconds: 10, maxCacheSeconds: 100 })
        const { clientId, path } = newDocument(undefined, { ...RESPONSE_JSON, 'Cache-Control': 'public, max-age=30' })
        const validate = () => server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
        await validate()
        vi.advanceTimersByTime(29_000)
        await validate()
        expect(hits.get(path)).toBe(1)
        vi.advanceTimersByTime(2_000)
        await validate()
        expect(hits.get(path)).toBe(2)
      } finally {
        vi.useRealTimers()
      }
    })

    it('§4.4 a max-age above the upper bound is cut to it; no-store is kept for the lower bound', async () => {
      vi.useFakeTimers({ toFake: ['Date'] })
      try {
        const { server } = setup(await backend.open(), { minCacheSeconds: 10, maxCacheSeconds: 100 })
        const long = newDocument(undefined, { ...RESPONSE_JSON, 'Cache-Control': 'max-age=31536000' })
        const none = newDocument(undefined, { ...RESPONSE_JSON, 'Cache-Control': 'no-store' })
        const validate = (clientId: string) => server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
        await validate(long.clientId)
        await validate(none.clientId)
        vi.advanceTimersByTime(9_000)
        await validate(none.clientId)
        expect(hits.get(none.path)).toBe(1)
        vi.advanceTimersByTime(2_000)
        await validate(none.clientId)
        expect(hits.get(none.path)).toBe(2)
        vi.advanceTimersByTime(90_000)
        await validate(long.clientId)
        expect(hits.get(long.path)).toBe(2)
      } finally {
        vi.useRealTimers()
      }
    })

    it('§4.4 error responses are not cached', async () => {
      const { server } = setup(await backend.open())
      let status = 503
      const { clientId, path } = newDocument()
      const serveValid = routes.get(path) as Handler
      routes.set(path, (req, res) => (status === 200 ? serveValid(req, res) : res.writeHead(status).end()))
      await expectRefused(server, clientId, /HTTP 503/)
      const refused = hits.get(path) as number
      status = 200
      expect((await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')).credentials.client.clientId).toBe(clientId)
      expect(hits.get(path)).toBe(refused + 1)
    })

    it('§4.4 invalid documents are not cached', async () => {
      const { server } = setup(await backend.open())
      let valid = false
      const { clientId, path } = newDocument((id) => (valid ? validDocument(id) : validDocument(id, { client_secret: 'x' })), { ...RESPONSE_JSON, 'Cache-Control': 'max-age=600' })
      await expectRefused(server, clientId, /client_secret/)
      const refused = hits.get(path) as number
      valid = true
      expect((await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')).credentials.client.clientId).toBe(clientId)
      expect(hits.get(path)).toBe(refused + 1)
    })
  })

  describe('§4.5 Redirect URL Registration', () => {
    it.each([
      ['another URI', 'https://attacker.example/callback'],
      ['a longer path', `${REDIRECT_URI}/more`],
      ['an added query', `${REDIRECT_URI}?next=https://attacker.example`],
      ['another case', REDIRECT_URI.toUpperCase()],
    ])('§4.5 the redirect_uri must be one of the document’s, exactly: %s is refused, not redirected', async (_name, redirectUri) => {
      const { server } = setup(await backend.open())
      const { clientId } = newDocument()
      const error = await authorizationError(server, authorizeUri(clientId, pkce().challenge, { redirect_uri: redirectUri }))
      expect(error.redirectable).toBe(false)
      expect(error.description).toBe('The redirect_uri is not registered for this client')
    })

    it('§4.5 what is matched is the document as fetched now: a redirect URI removed from it stops working once refetched', async () => {
      const store = await backend.open()
      const { server, fetcher } = setup(store)
      let redirectUris = [REDIRECT_URI, 'https://client.example/old']
      const { clientId } = newDocument((id) => validDocument(id, { redirect_uris: redirectUris }))
      const userId = await addUser(store)
      const uri = authorizeUri(clientId, pkce().challenge, { redirect_uri: 'https://client.example/old' })
      expect((await server.createAuthorizationResponse(uri, 'GET', undefined, {}, ['read'], { userId })).status).toBe(302)
      redirectUris = [REDIRECT_URI]
      fetcher.clear()
      expect((await authorizationError(server, uri)).description).toBe('The redirect_uri is not registered for this client')
      // The stored row still names the old URI: it is a record, never what a request is checked against.
      expect((await store.clients.get(clientId))?.redirectUris).toContain('https://client.example/old')
    })
  })

  describe('§5 Authorization Server Metadata', () => {
    it('§5 client_id_metadata_document_supported is true when documents are on, absent when they are off', async () => {
      const store = await backend.open()
      const on = await createApp({ store, issuer: 'http://127.0.0.1:1', clientMetadataDocuments: { scopes: ['read'] }, log: () => {} })
      const off = await createApp({ store, issuer: 'http://127.0.0.1:1', log: () => {} })
      try {
        const read = async (app: typeof on) =>
          (await (await app.fetch(new Request('http://127.0.0.1:1/.well-known/oauth-authorization-server'))).json()) as Record<string, unknown>
        expect((await read(on)).client_id_metadata_document_supported).toBe(true)
        expect((await read(off)).client_id_metadata_document_supported).toBeUndefined()
      } finally {
        await on.close()
        await off.close()
      }
    })

    it('§5 with documents off, a URL client_id is an unknown client, and a stored document row stands for nothing', async () => {
      const store = await backend.open()
      const { server: withDocuments, validator } = setup(store)
      const { clientId, path } = newDocument()
      const userId = await addUser(store)
      await validator.saveConsent(clientId, userId, ['read'])
      expect(await store.clients.get(clientId)).toMatchObject({ registration: { metadataDocument: true } })
      void withDocuments
      const off = new Server(new StoreValidator(store, { issuer: ISSUER }), { issuer: ISSUER })
      const before = hits.get(path)
      expect((await authorizationError(off, authorizeUri(clientId, pkce().challenge))).description).toBe('The client_id is unknown')
      expect(hits.get(path)).toBe(before)
    })
  })

  describe('§6.5 Server Side Request Forgery (SSRF) Attacks', () => {
    it.each([
      ['a name resolving to a private address (10.0.0.0/8)', 'private.example', /resolves to 10\.1\.2\.3, which is not a public address/],
      ['a name resolving to the cloud metadata address', 'metadata.example', /169\.254\.169\.254/],
      ['a name with one private address among public ones', 'mixed.example', /192\.168\.1\.20/],
      ['a name resolving to loopback (without the development option)', 'client.example', /127\.0\.0\.1, which is not a public address/],
      ['a name resolving to IPv4-mapped loopback', 'mapped.example', /::ffff:127\.0\.0\.1/],
      ['a name resolving to a unique local IPv6 address', 'ula.example', /fd00::1/],
      ['the private IP literal 10.0.0.1', '10.0.0.1', /10\.0\.0\.1/],
      ['the link-local IP literal 169.254.169.254', '169.254.169.254', /169\.254\.169\.254/],
      ['the IPv6 loopback literal [::1]', '[::1]', /::1/],
      ['the IPv4-mapped IPv6 literal of 127.0.0.1', '[::ffff:7f00:1]', /::ffff:7f00:1, which is not a public address/],
      ['a decimal IPv4 literal of 127.0.0.1 (an alias, not the normal form)', '2130706433', /normal form, https:\/\/127\.0\.0\.1/],
      ['the NAT64 form of 10.0.0.1', '[64:ff9b::a00:1]', /64:ff9b::a00:1/],
    ])('§6.5 %s is refused without connecting', async (_name, host, description) => {
      const { server } = setup(await backend.open(), { allowLoopback: false })
      await expectRefused(server, `https://${host}:${port}/clients/ssrf.json`, description)
      expect(hits.get('/clients/ssrf.json')).toBeUndefined()
    })

    it('§6.5 the development option allows loopback only: private and link-local addresses stay refused', async () => {
      const { server } = setup(await backend.open())
      await expectRefused(server, `https://private.example:${port}/clients/ssrf.json`, /not a public address/)
      await expectRefused(server, `https://169.254.169.254/clients/ssrf.json`, /not a public address/)
    })

    it('§6.5 a name that resolves differently later (DNS rebinding) is fetched from the address that was checked', async () => {
      const store = await backend.open()
      const answers: string[][] = [['127.0.0.1'], ['10.9.9.9']]
      const calls: string[] = []
      const { server } = setup(store, {
        lookup: async (hostname) => {
          calls.push(hostname)
          const answer = answers[Math.min(calls.length - 1, answers.length - 1)] as string[]
          return answer.map((address) => ({ address, family: 4 as const }))
        },
      })
      const { clientId, path } = newDocument()
      await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
      // Resolved once; the connection went to the vetted 127.0.0.1 (the server there answered), not to 10.9.9.9.
      expect(calls).toEqual(['client.example'])
      expect(hits.get(path)).toBe(1)
    })

    it('§6.5 a host that does not resolve is an error', async () => {
      const { server } = setup(await backend.open())
      await expectRefused(server, `https://nowhere.example/clients/x.json`, /could not be resolved/)
    })

    it('§6.5 a certificate that is not trusted is an error', async () => {
      const { server } = setup(await backend.open(), { ca: selfSignedCertificate(['client.example']).cert })
      await expectRefused(server, newDocument().clientId, /could not be fetched/)
    })

    it('§6.5 a document that does not answer in time is an error', async () => {
      const { server } = setup(await backend.open(), { timeoutMs: 300 })
      const path = `/clients/${randomBytes(6).toString('hex')}.json`
      routes.set(path, () => {})
      const started = Date.now()
      await expectRefused(server, `https://client.example:${port}${path}`, /did not answer within 0\.3 seconds/)
      expect(Date.now() - started).toBeLessThan(2000)
    })
  })

  describe('§6.6 Maximum Response Size', () => {
    it('§6.6 a document over the size cap is refused, with a Content-Length and without one (chunked)', async () => {
      const { server } = setup(await backend.open())
      const big = (id: string) => validDocument(id, { client_name: 'x'.repeat(200), contacts: Array.from({ length: 10 }, () => 'y'.repeat(600)) })
      await expectRefused(server, newDocument(big).clientId, /larger than 5120 bytes/)
      const chunked = newDocument()
      routes.set(chunked.path, (_req, res) => {
        res.writeHead(200, RESPONSE_JSON)
        for (let i = 0; i < 12; i++) res.write(' '.repeat(512))
        res.end(JSON.stringify(validDocument(chunked.clientId)))
      })
      await expectRefused(server, chunked.clientId, /larger than 5120 bytes/)
    })

    it('§6.6 a document within the cap is accepted', async () => {
      const { server } = setup(await backend.open())
      const { clientId } = newDocument((id) => validDocument(id, { client_name: 'x'.repeat(150), contacts: ['a'.repeat(300)] }))
      expect((await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')).credentials.client.clientId).toBe(clientId)
    })
  })
})

describe.each(CONFORMANCE_STORES)('the rows of metadata documents’ clients on $name', (backend) => {
  it('a stored row whose client obtained no code or token is purged like an unused self-registered client', async () => {
    const store = await backend.open()
    const { validator } = setup(store)
    const { clientId } = newDocument()
    const userId = await addUser(store)
    await validator.saveConsent(clientId, userId, ['read'])
    expect(await store.clients.get(clientId)).toMatchObject({ registration: { metadataDocument: true } })
    expect(await store.clientTable.deleteUnusedRegistrations(Math.floor(Date.now() / 1000) + 1)).toBe(1)
    expect(await store.clients.get(clientId)).toBeUndefined()
  })

  it('nothing is stored for a client whose request was only validated: rows come with a code or a consent', async () => {
    const store = await backend.open()
    const { server } = setup(store)
    const { clientId } = newDocument()
    await server.validateAuthorizationRequest(authorizeUri(clientId, pkce().challenge), 'GET')
    expect(await store.clients.list()).toEqual([])
  })
})

describe('draft §6.5 address classification (classifyAddress)', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['93.184.215.14', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['64:ff9b::808:808', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['0.0.0.0', 'not-public'],
    ['10.0.0.1', 'not-public'],
    ['100.64.0.1', 'not-public'],
    ['169.254.169.254', 'not-public'],
    ['172.16.0.1', 'not-public'],
    ['172.31.255.255', 'not-public'],
    ['192.0.0.8', 'not-public'],
    ['192.0.2.1', 'not-public'],
    ['192.168.0.1', 'not-public'],
    ['198.18.0.1', 'not-public'],
    ['198.51.100.1', 'not-public'],
    ['203.0.113.1', 'not-public'],
    ['224.0.0.1', 'not-public'],
    ['240.0.0.1', 'not-public'],
    ['255.255.255.255', 'not-public'],
    ['::', 'not-public'],
    ['::ffff:10.0.0.1', 'not-public'],
    ['::ffff:a00:1', 'not-public'],
    ['::ffff:169.254.169.254', 'not-public'],
    ['::127.0.0.1', 'not-public'],
    ['64:ff9b::127.0.0.1', 'not-public'],
    ['64:ff9b::a00:1', 'not-public'],
    ['64:ff9b:1::1', 'not-public'],
    ['fc00::1', 'not-public'],
    ['fd12:3456::1', 'not-public'],
    ['fe80::1', 'not-public'],
    ['fe80::1%eth0', 'not-public'],
    ['fec0::1', 'not-public'],
    ['ff02::1', 'not-public'],
    ['100::1', 'not-public'],
    ['2001::1', 'not-public'],
    ['2001:db8::1', 'not-public'],
    ['2002:a00:1::1', 'not-public'],
    ['3fff::1', 'not-public'],
    ['not an address', 'not-public'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind)
  })
})

describe('the fetcher (ClientIdMetadataDocuments) on its own', () => {
  it('§3 refuses an http document without the development option, before resolving or connecting', async () => {
    const asked: string[] = []
    const fetcher = new ClientIdMetadataDocuments({ lookup: async (name) => (asked.push(name), lookup(name)) })
    const path = `/clients/${randomBytes(6).toString('hex')}.json`
    routes.set(path, (_req, res) => res.writeHead(200, RESPONSE_JSON).end('{}'))
    for (const host of ['127.0.0.1', 'localhost']) {
      await expect(fetcher.resolve(`http://${host}:${plainPort}${path}`)).rejects.toMatchObject({ reason: 'invalid', description: expect.stringMatching(/must use https/) })
    }
    expect(asked).toEqual([])
    expect(hits.get(path)).toBeUndefined()
  })

  it('§3 with the development option, http is fetched from loopback only: a name resolving elsewhere is refused', async () => {
    const fetcher = new ClientIdMetadataDocuments({ allowLoopback: true, lookup: async () => [{ address: '93.184.215.14', family: 4 }] })
    await expect(fetcher.resolve(`http://localhost:${plainPort}/clients/x.json`)).rejects.toMatchObject({ description: expect.stringMatching(/plain http .*loopback/) })
  })

  it('refuses limits that are not positive whole numbers', () => {
    expect(() => new ClientIdMetadataDocuments({ maxBytes: 0 })).toThrow(TypeError)
    expect(() => new ClientIdMetadataDocuments({ maxConcurrentFetches: 1.5 })).toThrow(TypeError)
    expect(() => new ClientIdMetadataDocuments({ minCacheSeconds: 100, maxCacheSeconds: 10 })).toThrow(TypeError)
  })
})
