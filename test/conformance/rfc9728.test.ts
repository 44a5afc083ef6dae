/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata: the document a resource server built with oauthkit publishes, its
 * well-known path, and the `resource_metadata` its challenges name. One `describe` per section.
 */
import { describe, expect, it } from 'vitest'
import { protectedResource, protectedResourceMetadata } from '../../src/adapters/fetch.js'
import {
  BackendApplicationServer,
  protectedResourceMetadataPath,
  protectedResourceMetadataResponder,
  protectedResourceMetadataUrl,
  ResourceEndpoint,
} from '../../src/index.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const RESOURCE = 'https://api.example.com/mcp'
const METADATA_URL = 'https://api.example.com/.well-known/oauth-protected-resource/mcp'
const METADATA = { resource: RESOURCE, authorization_servers: ['https://as.example.com'], scopes_supported: ['read', 'write'] }

describe('RFC 9728 §2 Protected Resource Metadata', () => {
  it('§2 publishes resource, authorization_servers, scopes_supported, and bearer_methods_supported (header by default)', async () => {
    const response = protectedResourceMetadataResponder(METADATA)('GET')
    expect(JSON.parse(response.body)).toEqual({ ...METADATA, bearer_methods_supported: ['header'] })
    const named = protectedResourceMetadataResponder({ ...METADATA, resource_name: 'Example MCP', bearer_methods_supported: ['header', 'body'] })('GET')
    expect(JSON.parse(named.body)).toMatchObject({ resource_name: 'Example MCP', bearer_methods_supported: ['header', 'body'] })
  })

  it.each([
    ['plain http on a public host', 'http://api.example.com/mcp'],
    ['a fragment', 'https://api.example.com/mcp#x'],
    ['a relative URL', '/mcp'],
  ])('§2 refuses a resource identifier with %s (TypeError)', (_name, resource) => {
    expect(() => protectedResourceMetadataResponder({ resource })).toThrow(TypeError)
    expect(() => protectedResourceMetadataPath(resource)).toThrow(TypeError)
  })

  it('§2 refuses an authorization server that is not an issuer URL (TypeError)', () => {
    expect(() => protectedResourceMetadataResponder({ resource: RESOURCE, authorization_servers: ['https://as.example.com/?tenant=1'] })).toThrow(TypeError)
    expect(() => protectedResourceMetadataResponder({ resource: RESOURCE, authorization_servers: ['as.example.com'] })).toThrow(TypeError)
  })
})

describe('RFC 9728 §3 Obtaining Protected Resource Metadata', () => {
  it('§3.1 the well-known path goes between the host and the resource’s path', () => {
    expect(protectedResourceMetadataPath(RESOURCE)).toBe('/.well-known/oauth-protected-resource/mcp')
    expect(protectedResourceMetadataPath('https://api.example.com')).toBe('/.well-known/oauth-protected-resource')
    expect(protectedResourceMetadataPath('https://api.example.com/')).toBe('/.well-known/oauth-protected-resource')
    expect(protectedResourceMetadataUrl(RESOURCE)).toBe(METADATA_URL)
    expect(protectedResourceMetadataUrl('http://127.0.0.1:8080/v1/mcp')).toBe('http://127.0.0.1:8080/.well-known/oauth-protected-resource/v1/mcp')
  })

  it('§3.2 GET answers 200 application/json; HEAD the same without a body; any other method 405 with Allow', () => {
    const respond = protectedResourceMetadataResponder(METADATA)
    const get = respond('GET')
    expect(get.status).toBe(200)
    expect(get.headers['Content-Type']).toMatch(/^application\/json/)
    expect(JSON.parse(get.body)).toMatchObject({ resource: RESOURCE })
    expect(respond('HEAD')).toMatchObject({ status: 200, body: '' })
    expect(respond('POST')).toMatchObject({ status: 405, headers: { Allow: 'GET, HEAD' } })
  })

  it('§3.2 the Fetch handler serves the document at its well-known path only, to browsers of any origin', async () => {
    const handler = protectedResourceMetadata(METADATA)
    const response = await handler(new Request(METADATA_URL, { headers: { Origin: 'https://app.example.net' } }))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ resource: RESOURCE })
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*')
    const preflight = await handler(new Request(METADATA_URL, { method: 'OPTIONS', headers: { Origin: 'https://app.example.net', 'Access-Control-Request-Method': 'GET' } }))
    expect(preflight.status).toBe(204)
    expect((await handler(new Request('https://api.example.com/.well-known/oauth-protected-resource'))).status).toBe(404)
  })

  it('§3.3 the resource in the document is the resource identifier the client used to find it', async () => {
    const body = (await (await protectedResourceMetadata(METADATA)(new Request(METADATA_URL))).json()) as { resource: string }
    expect(protectedResourceMetadataUrl(body.resource)).toBe(METADATA_URL)
  })
})

describe('RFC 9728 §5.1 WWW-Authenticate Response', () => {
  async function setup() {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'svc', secret: 'svc-secret' })
    const server = new BackendApplicationServer(validator, { resource: { resourceMetadata: METADATA_URL } })
    const issued = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials&scope=read', { ...FORM, Authorization: basic('svc', 'svc-secret') })
    const token = (JSON.parse(issued.body) as { access_token: string }).access_token
    return { validator, server, token }
  }

  it('§5.1 a request without a token, with an invalid one, or with too little scope names resource_metadata in its challenge', async () => {
    const { server, token } = await setup()
    const api = protectedResource(server, ['write'], () => new Response('ok'))
    const none = await api(new Request(RESOURCE))
    expect(none.status).toBe(401)
    expect(none.headers.get('WWW-Authenticate')).toBe(`Bearer resource_metadata="${METADATA_URL}", scope="write"`)
    const invalid = await api(new Request(RESOURCE, { headers: { Authorization: 'Bearer not-a-token' } }))
    expect(invalid.headers.get('WWW-Authenticate')).toMatch(new RegExp(`^Bearer resource_metadata="${METADATA_URL}", scope="write", error="invalid_token"`))
    const scarce = await api(new Request(RESOURCE, { headers: { Authorization: `Bearer ${token}` } }))
    expect(scarce.status).toBe(403)
    expect(scarce.headers.get('WWW-Authenticate')).toMatch(/resource_metadata="[^"]+", scope="write", error="insufficient_scope"/)
  })

  it('§5.1 without the option, no resource_metadata; a URL that is not http(s) or needs escaping is a TypeError', () => {
    const validator = new MemoryValidator()
    expect(() => new ResourceEndpoint({ requestValidator: validator, resourceMetadata: 'ftp://x/meta' })).toThrow(TypeError)
    expect(() => new ResourceEndpoint({ requestValidator: validator, resourceMetadata: 'https://x/"meta' })).toThrow(TypeError)
    expect(() => new ResourceEndpoint({ requestValidator: validator, resourceMetadata: METADATA_URL })).not.toThrow()
  })
})
