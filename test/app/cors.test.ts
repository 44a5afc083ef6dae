/**
 * CORS on the ready server (the Fetch standard's CORS protocol): the endpoints a browser client calls from another
 * origin answer preflights and carry `Access-Control-Allow-Origin`; the pages, `/authorize` and `/introspect` do not,
 * and no answer ever allows credentials. The same through a real browser is in test/e2e/cors.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, type App } from '../../src/app/app.js'
import { createFetchHandler } from '../../src/adapters/fetch.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { basic } from '../support/memory-validator.js'

const ISSUER = 'http://127.0.0.1:3000'
const ORIGIN = 'https://spa.example.net'

let store: MemoryStore
let app: App
let client: { clientId: string; clientSecret: string }

beforeAll(async () => {
  store = await MemoryStore.open()
  app = await createApp({ store, issuer: ISSUER, log: () => {} })
  const created = await store.clients.create({ name: 'Service', grantTypes: ['client_credentials'], scopes: ['read'] })
  client = { clientId: created.clientId, clientSecret: created.clientSecret as string }
})

afterAll(async () => {
  await app.close()
  await store.close()
})

/** A preflight as a browser sends it before a cross-origin request with `method` and `headers`. */
function preflight(path: string, method: string, headers: string): Promise<Response> {
  return app.fetch(
    new Request(`${ISSUER}${path}`, {
      method: 'OPTIONS',
      headers: { Origin: ORIGIN, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers },
    }),
  )
}

describe('Fetch §3.2: the endpoints browser clients call', () => {
  it.each([
    ['/token', 'POST', 'authorization,content-type'],
    ['/revoke', 'POST', 'authorization,content-type'],
    ['/.well-known/oauth-authorization-server', 'GET', 'mcp-protocol-version'],
    ['/jwks.json', 'GET', 'mcp-protocol-version'],
  ])('answers a preflight to %s with 204, its method and the headers a client sends, and no credentials', async (path, method, headers) => {
    const response = await preflight(path, method, headers)
    expect(response.status).toBe(204)
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect(response.headers.get('Access-Control-Allow-Methods')?.split(', ')).toContain(method)
    const allowed = (response.headers.get('Access-Control-Allow-Headers') ?? '').toLowerCase().split(', ')
    for (const name of ['authorization', 'content-type', 'dpop', 'mcp-protocol-version']) expect(allowed).toContain(name)
    expect(Number(response.headers.get('Access-Control-Max-Age'))).toBeGreaterThan(0)
    expect(response.headers.get('Access-Control-Allow-Credentials')).toBeNull()
  })

  it('a token response, and a token error with its challenge, can be read by any origin, without credentials', async () => {
    const ok = await app.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { Origin: ORIGIN, Authorization: basic(client.clientId, client.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }),
    )
    expect(ok.status).toBe(200)
    expect(ok.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect(ok.headers.get('Access-Control-Allow-Credentials')).toBeNull()
    expect(ok.headers.get('Cache-Control')).toBe('no-store')
    const refused = await app.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { Origin: ORIGIN, Authorization: basic(client.clientId, 'wrong'), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      }),
    )
    expect(refused.status).toBe(401)
    expect(refused.headers.get('Access-Control-Allow-Origin')).toBe('*')
    expect(refused.headers.get('Access-Control-Expose-Headers')).toMatch(/WWW-Authenticate/i)
  })

  it('a body over the cap is answered 413 that a browser client can read', async () => {
    const response = await app.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&pad=${'x'.repeat(70_000)}`,
      }),
    )
    expect(response.status).toBe(413)
    expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*')
  })

  it('the metadata document and the JWKS can be read by any origin', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/jwks.json']) {
      const response = await app.fetch(new Request(`${ISSUER}${path}`, { headers: { Origin: ORIGIN } }))
      expect(response.status).toBe(200)
      expect(response.headers.get('Access-Control-Allow-Origin')).toBe('*')
    }
  })
})

describe('Fetch §3.2: what browsers of other origins may not call', () => {
  it.each(['/introspect', '/authorize', '/login', '/consent', '/logout', '/'])('%s answers no preflight and no answer of it allows another origin', async (path) => {
    const response = await preflight(path, 'POST', 'content-type')
    expect(response.status).not.toBe(204)
    expect(response.headers.get('Access-Control-Allow-Origin')).toBeNull()
    const answer = await app.fetch(new Request(`${ISSUER}${path}`, { headers: { Origin: ORIGIN } }))
    expect(answer.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })
})

describe('createFetchHandler({ cors })', () => {
  it('sends no CORS header unless asked, and with cors: true opens token and metadata but not introspection', async () => {
    const closed = createFetchHandler(app.server)
    expect((await closed(new Request(`${ISSUER}/token`, { method: 'OPTIONS', headers: { Origin: ORIGIN } }))).headers.get('Access-Control-Allow-Origin')).toBeNull()
    const open = createFetchHandler(app.server, { cors: true })
    expect((await open(new Request(`${ISSUER}/token`, { method: 'OPTIONS', headers: { Origin: ORIGIN } }))).status).toBe(204)
    const metadata = await open(new Request(`${ISSUER}/.well-known/oauth-authorization-server`, { headers: { Origin: ORIGIN } }))
    expect(metadata.headers.get('Access-Control-Allow-Origin')).toBe('*')
    const introspection = await open(new Request(`${ISSUER}/introspect`, { method: 'OPTIONS', headers: { Origin: ORIGIN } }))
    expect(introspection.status).toBe(405)
    expect(introspection.headers.get('Access-Control-Allow-Origin')).toBeNull()
  })
})
