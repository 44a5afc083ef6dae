import { createServer } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createFetchHandler, PayloadTooLargeError, protectedResource, readRequest, toResponse } from '../../src/adapters/fetch.js'
import { createNodeHandler } from '../../src/adapters/node.js'
import { BackendApplicationServer, MobileApplicationServer } from '../../src/index.js'
import { basic, FORM, MemoryValidator } from '../support/memory-validator.js'
import { describeAdapter, listenOnLoopback } from './suite.js'

function backend(): BackendApplicationServer {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'svc', secret: 's3cret', grantTypes: ['client_credentials'], scopes: ['read', 'write'], defaultScopes: ['read'] })
  return new BackendApplicationServer(validator, { issuer: 'http://127.0.0.1', allowInsecureTransport: true })
}

// The Fetch API handler itself, with oauthkit/node as nothing more than its transport: wrapped, so that the node:http
// adapter cannot take its direct path and every request goes through a Fetch Request and Response.
describeAdapter('fetch', async (fetchHandler) => listenOnLoopback(createServer(createNodeHandler((request) => fetchHandler(request)))))

describe('readRequest', () => {
  it('reads the raw body as text, repeated parameters kept', async () => {
    const request = new Request('https://as.example.com/token', { method: 'POST', headers: FORM, body: 'scope=a&scope=b' })
    const read = await readRequest(request)
    expect(read).toMatchObject({ uri: 'https://as.example.com/token', httpMethod: 'POST', body: 'scope=a&scope=b' })
    expect(read.headers.get('content-type')).toBe(FORM['Content-Type'])
  })

  it('gives no body for a request without one', async () => {
    expect((await readRequest(new Request('https://as.example.com/token'))).body).toBeUndefined()
  })

  it('refuses a body over the cap, declared or not, with PayloadTooLargeError', async () => {
    const declared = new Request('https://as.example.com/token', { method: 'POST', body: 'x'.repeat(11) })
    await expect(readRequest(declared, { maxBodyBytes: 10 })).rejects.toBeInstanceOf(PayloadTooLargeError)
    let cancelled = false
    const streamed = new Request('https://as.example.com/token', {
      method: 'POST',
      body: new ReadableStream({
        pull: (controller) => controller.enqueue(new Uint8Array(8)),
        cancel: () => {
          cancelled = true
        },
      }),
      duplex: 'half',
    } as RequestInit)
    const error = await readRequest(streamed, { maxBodyBytes: 10 }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ status: 413, code: 'ERR_PAYLOAD_TOO_LARGE', maxBodyBytes: 10 })
    expect(cancelled).toBe(true)
  })

  it('accepts a body of exactly the cap', async () => {
    const request = new Request('https://as.example.com/token', { method: 'POST', body: 'x'.repeat(10) })
    expect((await readRequest(request, { maxBodyBytes: 10 })).body).toBe('x'.repeat(10))
  })

  it('refuses a cap that is not a non-negative integer with TypeError', async () => {
    await expect(readRequest(new Request('https://as.example.com/'), { maxBodyBytes: -1 })).rejects.toBeInstanceOf(TypeError)
    expect(() => createFetchHandler(backend(), { maxBodyBytes: 1.5 })).toThrow(TypeError)
  })
})

describe('toResponse', () => {
  const core = { status: 200, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, body: '{"a":1}' }

  it('carries status, headers and body', async () => {
    const response = toResponse(core)
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(await response.text()).toBe('{"a":1}')
  })

  it.each([
    ['a HEAD request', 200, 'HEAD'],
    ['204', 204, 'POST'],
    ['304', 304, 'GET'],
  ])('sends no body for %s', (_case, status, method) => {
    expect(toResponse({ ...core, status }, method).body).toBeNull()
  })
})

describe('createFetchHandler', () => {
  it('serves endpoints at custom paths, and none at the default ones', async () => {
    const handler = createFetchHandler(backend(), { paths: { token: '/oauth/token', metadata: '/meta' } })
    const token = await handler(new Request('http://127.0.0.1/oauth/token', { method: 'POST', headers: { ...FORM, Authorization: basic('svc', 's3cret') }, body: 'grant_type=client_credentials' }))
    expect(token.status).toBe(200)
    expect((await handler(new Request('http://127.0.0.1/token', { method: 'POST' }))).status).toBe(404)
    expect((await handler(new Request('http://127.0.0.1/meta'))).status).toBe(200)
  })

  it('answers an unknown path with a 404 problem, not an OAuth error', async () => {
    const response = await createFetchHandler(backend())(new Request('http://127.0.0.1/nowhere'))
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await response.json()).toEqual({ title: 'Not Found', status: 404, detail: expect.any(String) })
  })

  it('serves no metadata without an issuer, and no token endpoint for a server without one', async () => {
    const validator = new MemoryValidator()
    const noIssuer = createFetchHandler(new BackendApplicationServer(validator, { allowInsecureTransport: true }))
    expect((await noIssuer(new Request('http://127.0.0.1/.well-known/oauth-authorization-server'))).status).toBe(404)
    const mobile = createFetchHandler(new MobileApplicationServer(validator, { issuer: 'http://127.0.0.1' }))
    expect((await mobile(new Request('http://127.0.0.1/token', { method: 'POST' }))).status).toBe(404)
    expect((await mobile(new Request('http://127.0.0.1/revoke', { method: 'GET' }))).status).toBe(405)
  })

  it("serves the metadata at the issuer's well-known URI when the issuer has a path (RFC 8414 §3.1)", async () => {
    const handler = createFetchHandler(new BackendApplicationServer(new MemoryValidator(), { issuer: 'http://127.0.0.1/tenant' }))
    const response = await handler(new Request('http://127.0.0.1/.well-known/oauth-authorization-server/tenant'))
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ issuer: 'http://127.0.0.1/tenant' })
  })

  it('never rejects: an unexpected failure is a 500 problem, reported to onError', async () => {
    const errors: unknown[] = []
    const failure = new Error('boom')
    const server = backend()
    const broken = Object.assign(Object.create(server) as BackendApplicationServer, {
      createRevocationResponse: () => Promise.reject(failure),
    })
    const response = await createFetchHandler(broken, { onError: (error) => errors.push(error) })(new Request('http://127.0.0.1/revoke', { method: 'POST' }))
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(await response.text()).not.toMatch(/boom/)
    expect(errors).toEqual([failure])
  })
})

describe('protectedResource', () => {
  it('reads a token from a form body (RFC 6750 §2.2) and hands the body on to the handler', async () => {
    const server = backend()
    const token = (await (await createFetchHandler(server)(new Request('http://127.0.0.1/token', { method: 'POST', headers: { ...FORM, Authorization: basic('svc', 's3cret') }, body: 'grant_type=client_credentials' }))).json()) as { access_token: string }
    const handler = protectedResource(server, ['read'], async (request, stored) => Response.json({ body: await request.text(), client: stored.clientId }))
    const response = await handler(new Request('http://127.0.0.1/api', { method: 'POST', headers: FORM, body: `access_token=${token.access_token}&note=hi` }))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ body: `access_token=${token.access_token}&note=hi`, client: 'svc' })
  })

  it('answers a token without the required scope with 403 insufficient_scope', async () => {
    const server = backend()
    const token = (await (await createFetchHandler(server)(new Request('http://127.0.0.1/token', { method: 'POST', headers: { ...FORM, Authorization: basic('svc', 's3cret') }, body: 'grant_type=client_credentials&scope=read' }))).json()) as { access_token: string }
    const handler = protectedResource(server, ['write'], () => new Response('secret'))
    const response = await handler(new Request('http://127.0.0.1/api', { headers: { Authorization: `Bearer ${token.access_token}` } }))
    expect(response.status).toBe(403)
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer scope="write", error="insufficient_scope"/)
  })

  it('answers a failing handler with a 500 problem, reported to onError', async () => {
    const errors: unknown[] = []
    const server = backend()
    const token = (await (await createFetchHandler(server)(new Request('http://127.0.0.1/token', { method: 'POST', headers: { ...FORM, Authorization: basic('svc', 's3cret') }, body: 'grant_type=client_credentials' }))).json()) as { access_token: string }
    const handler = protectedResource(server, [], () => Promise.reject(new Error('handler failed')), { onError: (error) => errors.push(error) })
    const response = await handler(new Request('http://127.0.0.1/api', { headers: { Authorization: `Bearer ${token.access_token}` } }))
    expect(response.status).toBe(500)
    expect(errors).toHaveLength(1)
  })
})
