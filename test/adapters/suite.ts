/**
 * The one suite every adapter passes: `describeAdapter('express', start)` in an adapter's test file drives a
 * `BackendApplicationServer` through that adapter with real HTTP requests on 127.0.0.1.
 *
 * `start` mounts the given Fetch API handler on every path and method (or, where the framework routes itself, on the
 * default endpoint paths plus `/api/me`) and listens on an ephemeral loopback port.
 */
import { type Server as HttpServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createFetchHandler, protectedResource, type FetchHandler } from '../../src/adapters/fetch.js'
import { BackendApplicationServer } from '../../src/index.js'
import { basic, MemoryValidator } from '../support/memory-validator.js'

/** A running adapter: its base URL (`http://127.0.0.1:PORT`) and how to stop it. */
export interface StartedAdapter {
  readonly url: string
  close(): Promise<void>
}

/** The body cap the suite configures, small so that the 413 cases stay cheap. */
export const SUITE_MAX_BODY_BYTES = 1024
/** The protected resource route the suite's handler serves. */
export const RESOURCE_PATH = '/api/me'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const OAUTH_ERROR_CODE = /^(invalid_|unauthorized_|unsupported_|access_denied|server_error|temporarily_unavailable|insufficient_scope)/

/** The suite's server: a client `svc` with secret `s3cret` and scopes `read write`, issuer `http://127.0.0.1`. */
export function suiteServer(onError: (error: unknown) => void = () => undefined): BackendApplicationServer {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'svc', secret: 's3cret', grantTypes: ['client_credentials'], scopes: ['read', 'write'], defaultScopes: ['read'] })
  return new BackendApplicationServer(validator, { issuer: 'http://127.0.0.1', allowInsecureTransport: true, onError })
}

/** The suite's handler: the OAuth endpoints (body cap 1 KiB), and a protected resource at {@link RESOURCE_PATH}. */
export function suiteHandler(onError: (error: unknown) => void): FetchHandler {
  const server = suiteServer(onError)
  const oauth = createFetchHandler(server, { maxBodyBytes: SUITE_MAX_BODY_BYTES, onError })
  const api = protectedResource(server, ['read'], (_request, token) => Response.json({ client_id: token.clientId, scope: token.scopes.join(' ') }), {
    onError,
  })
  return (request) => (new URL(request.url).pathname === RESOURCE_PATH ? api(request) : oauth(request))
}

/** Listens on an ephemeral loopback port; `close` also ends the keep-alive connections `fetch` left open. */
export async function listenOnLoopback(server: HttpServer): Promise<StartedAdapter> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
      }),
  }
}

/**
 * The suite's two handlers: `createFetchHandler`'s own (which the node:http adapter serves on its direct path, without
 * a Fetch `Request` and `Response`), and {@link suiteHandler}, a handler of the application's making around it (served
 * through `Request` and `Response` by every adapter), which adds the protected resource.
 */
export const HANDLERS: ReadonlyArray<{ name: string; make: (onError: (error: unknown) => void) => FetchHandler; resource: boolean }> = [
  { name: "createFetchHandler's own handler", make: (onError) => createFetchHandler(suiteServer(onError), { maxBodyBytes: SUITE_MAX_BODY_BYTES, onError }), resource: false },
  { name: 'a handler of the application wrapping it', make: suiteHandler, resource: true },
]

export function describeAdapter(name: string, start: (fetchHandler: FetchHandler) => Promise<StartedAdapter>): void {
  for (const handler of HANDLERS) describeAdapterWith(name, start, handler)
}

function describeAdapterWith(name: string, start: (fetchHandler: FetchHandler) => Promise<StartedAdapter>, handler: (typeof HANDLERS)[number]): void {
  describe(`${name} adapter, serving ${handler.name}`, () => {
    let started: StartedAdapter
    const errors: unknown[] = []

    beforeAll(async () => {
      started = await start(handler.make((error) => errors.push(error)))
    })
    afterAll(async () => {
      await started?.close()
    })
    beforeEach(() => {
      errors.length = 0
    })

    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(started.url + path, { method: 'POST', headers: { ...FORM, ...headers }, body })
    const issueToken = async (): Promise<string> => {
      const response = await post('/token', 'grant_type=client_credentials&scope=read', { Authorization: basic('svc', 's3cret') })
      expect(response.status).toBe(200)
      return ((await response.json()) as { access_token: string }).access_token
    }

    it('issues a client_credentials token with Cache-Control: no-store', async () => {
      const response = await post('/token', 'grant_type=client_credentials&scope=read', { Authorization: basic('svc', 's3cret') })
      expect(response.status).toBe(200)
      expect(response.headers.get('cache-control')).toBe('no-store')
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await response.json()).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), expires_in: expect.any(Number) })
    })

    it('passes the raw body: a repeated parameter is invalid_request', async () => {
      const response = await post('/token', 'grant_type=client_credentials&scope=read&scope=write', { Authorization: basic('svc', 's3cret') })
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/scope/) })
    })

    it('answers a wrong client secret with 401 invalid_client and WWW-Authenticate', async () => {
      const response = await post('/token', 'grant_type=client_credentials', { Authorization: basic('svc', 'wrong') })
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic/)
      expect(await response.json()).toMatchObject({ error: 'invalid_client' })
    })

    it('answers GET on the token endpoint with 405 and Allow: POST', async () => {
      const response = await fetch(started.url + '/token')
      expect(response.status).toBe(405)
      expect(response.headers.get('allow')).toBe('POST')
      expect(await response.json()).toMatchObject({ error: 'invalid_request' })
    })

    it('introspects a token, revokes it, and introspects it as inactive', async () => {
      const token = await issueToken()
      const auth = { Authorization: basic('svc', 's3cret') }
      const active = await post('/introspect', `token=${token}`, auth)
      expect(active.status).toBe(200)
      expect(await active.json()).toMatchObject({ active: true, client_id: 'svc', scope: 'read' })
      const revoked = await post('/revoke', `token=${token}`, auth)
      expect(revoked.status).toBe(200)
      const inactive = await post('/introspect', `token=${token}`, auth)
      expect(await inactive.json()).toEqual({ active: false })
    })

    it('serves the metadata document to GET, and its headers alone to HEAD', async () => {
      const get = await fetch(started.url + '/.well-known/oauth-authorization-server')
      expect(get.status).toBe(200)
      expect(get.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await get.json()).toMatchObject({ issuer: 'http://127.0.0.1', token_endpoint: 'http://127.0.0.1/token' })
      const head = await fetch(started.url + '/.well-known/oauth-authorization-server', { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-type')).toMatch(/^application\/json/)
      expect(await head.text()).toBe('')
    })

    it('answers a body over the cap with 413, declared or streamed, and keeps serving', async () => {
      const big = 'grant_type=client_credentials&pad=' + 'a'.repeat(4 * SUITE_MAX_BODY_BYTES)
      const declared = await post('/token', big, { Authorization: basic('svc', 's3cret') })
      expect(declared.status).toBe(413)
      expect(await declared.json()).toMatchObject({ status: 413 })
      const chunks = [big.slice(0, 600), big.slice(600)].map((part) => new TextEncoder().encode(part))
      const streamed = await fetch(started.url + '/token', {
        method: 'POST',
        headers: { ...FORM, Authorization: basic('svc', 's3cret') },
        body: new ReadableStream({
          pull(controller) {
            const chunk = chunks.shift()
            if (chunk === undefined) controller.close()
            else controller.enqueue(chunk)
          },
        }),
        duplex: 'half',
      } as RequestInit)
      expect(streamed.status).toBe(413)
      await streamed.body?.cancel()
      await issueToken()
      expect(errors).toEqual([])
    })

    it('answers an unknown path with 404, not an OAuth error', async () => {
      const response = await fetch(started.url + '/nowhere')
      expect(response.status).toBe(404)
      const text = await response.text()
      const body = text === '' ? {} : (JSON.parse(text) as { error?: unknown })
      expect(String(body.error ?? '')).not.toMatch(OAUTH_ERROR_CODE)
    })

    it('survives a client that disconnects mid-body', async () => {
      const { hostname, port } = new URL(started.url)
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write(
            `POST /token HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
              `Authorization: ${basic('svc', 's3cret')}\r\nContent-Length: 500\r\n\r\ngrant_type=client_`,
          )
          setTimeout(() => {
            socket.destroy()
            resolve()
          }, 30)
        })
        socket.on('error', reject)
      })
      await new Promise((resolve) => setTimeout(resolve, 30))
      await issueToken()
      expect(errors).toEqual([])
    })

    if (handler.resource) it('answers a protected resource without a token with the Bearer challenge, and with one with 200', async () => {
      const anonymous = await fetch(started.url + RESOURCE_PATH)
      expect(anonymous.status).toBe(401)
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer scope="read"')
      const token = await issueToken()
      const authorized = await fetch(started.url + RESOURCE_PATH, { headers: { Authorization: `Bearer ${token}` } })
      expect(authorized.status).toBe(200)
      expect(await authorized.json()).toEqual({ client_id: 'svc', scope: 'read' })
    })
  })
}
