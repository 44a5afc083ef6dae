/**
 * `app.nodeListener()`, what `oauthkit serve` serves: the protocol endpoints answered straight from node:http (no
 * Fetch Request and Response), under the same rate limits and with the same request log as through `app.fetch`; the
 * pages through `app.fetch`.
 */
import { createServer } from 'node:http'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp, type AppOptions } from '../../src/app/app.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { listenOnLoopback, type StartedAdapter } from '../adapters/suite.js'
import { basic, FORM } from '../support/memory-validator.js'

const started: StartedAdapter[] = []
afterEach(async () => {
  for (const server of started.splice(0)) await server.close()
})

async function serve(options: Partial<AppOptions> = {}, trustProxy = false) {
  const store = await MemoryStore.open()
  const created = await store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], redirectUris: [], scopes: ['read'] })
  const { clientId } = created
  const clientSecret = created.clientSecret as string
  const logs: Array<Record<string, unknown>> = []
  // The issuer is fixed before the port is known: the token endpoint does not check the Host.
  const app = await createApp({ store, issuer: 'http://127.0.0.1:3000', log: (entry) => logs.push(entry), ...options })
  const server = await listenOnLoopback(createServer(app.nodeListener({ trustProxy })))
  started.push(server, { url: '', close: async () => { await app.close(); await store.close() } })
  const token = (secret = clientSecret, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/token`, { method: 'POST', headers: { ...FORM, Authorization: basic(clientId, secret), ...headers }, body: 'grant_type=client_credentials&scope=read' })
  return { app, url: server.url, logs, token, clientId, clientSecret }
}

describe('App.nodeListener', () => {
  it('issues tokens at /token that introspect as active, and logs one line per request without the token', async () => {
    const { url, logs, token, clientId, clientSecret } = await serve()
    const response = await token()
    expect(response.status).toBe(200)
    expect(response.headers.get('cache-control')).toBe('no-store')
    const issued = (await response.json()) as { access_token: string }
    const introspection = await fetch(`${url}/introspect`, { method: 'POST', headers: { ...FORM, Authorization: basic(clientId, clientSecret) }, body: `token=${issued.access_token}` })
    expect(await introspection.json()).toMatchObject({ active: true, client_id: clientId, scope: 'read' })
    const lines = logs.filter((entry) => entry.path !== undefined)
    expect(lines).toEqual([
      expect.objectContaining({ method: 'POST', path: '/token', status: 200, remote: '127.0.0.1' }),
      expect.objectContaining({ method: 'POST', path: '/introspect', status: 200, remote: '127.0.0.1' }),
    ])
    expect(JSON.stringify(logs)).not.toContain(issued.access_token)
  })

  it('limits failed client authentication at /token: 429 with Retry-After, then even the right secret waits', async () => {
    const { token } = await serve({ rateLimit: { tokenPerClient: { maxFailures: 3, windowSeconds: 60 } } })
    for (let i = 0; i < 3; i++) expect((await token('wrong')).status).toBe(401)
    const limited = await token()
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(limited.headers.get('cache-control')).toBe('no-store')
    expect(await limited.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })

  it('counts per address the one the trusted proxy appended, and ignores X-Forwarded-For otherwise', async () => {
    const limits = { rateLimit: { tokenPerAddress: { maxFailures: 2, windowSeconds: 60 }, tokenPerClient: false as const } }
    const behindProxy = await serve(limits, true)
    for (let i = 0; i < 2; i++) expect((await behindProxy.token('wrong', { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' })).status).toBe(401)
    expect((await behindProxy.token(undefined, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' })).status).toBe(429)
    // Another address the proxy saw is not held back, whatever the client wrote before it.
    expect((await behindProxy.token(undefined, { 'X-Forwarded-For': '203.0.113.9, 198.51.100.8' })).status).toBe(200)
    expect(behindProxy.logs.filter((entry) => entry.path === '/token').map((entry) => entry.remote)).toContain('198.51.100.8')

    const direct = await serve(limits, false)
    expect((await direct.token(undefined, { 'X-Forwarded-For': '198.51.100.7' })).status).toBe(200)
    expect(direct.logs.find((entry) => entry.path === '/token')?.remote).toBe('127.0.0.1')
  })

  it('answers a body over the cap with 413 at /token, and keeps serving', async () => {
    const { url, token, clientId, clientSecret } = await serve()
    const big = await fetch(`${url}/token`, { method: 'POST', headers: { ...FORM, Authorization: basic(clientId, clientSecret) }, body: 'grant_type=client_credentials&pad=' + 'a'.repeat(70_000) })
    expect(big.status).toBe(413)
    expect((await token()).status).toBe(200)
  })

  it('serves the metadata (headers only to HEAD) and the pages, which go through fetch', async () => {
    const { url } = await serve()
    const metadata = await fetch(`${url}/.well-known/oauth-authorization-server`)
    expect(await metadata.json()).toMatchObject({ issuer: 'http://127.0.0.1:3000', token_endpoint: 'http://127.0.0.1:3000/token' })
    const head = await fetch(`${url}/.well-known/oauth-authorization-server`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const home = await fetch(`${url}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get('content-type')).toMatch(/^text\/html/)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
  })
})

describe('the default request log', () => {
  it('writes one JSON line per request to stdout, batched into one write per turn of the event loop, and flushes on close', async () => {
    const store = await MemoryStore.open()
    const writes: string[] = []
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk))
      return true
    })
    try {
      const app = await createApp({ store, issuer: 'http://127.0.0.1:3000' })
      const paths = ['/healthz', '/', '/jwks.json', '/.well-known/oauth-authorization-server', '/nowhere']
      // Answered in one turn of the event loop: their lines go out together.
      await Promise.all(paths.map((path) => app.fetch(new Request(`http://127.0.0.1:3000${path}`))))
      expect(writes).toEqual([])
      await new Promise((resolve) => setImmediate(resolve))
      expect(writes).toHaveLength(1)
      const lines = (writes[0] as string).trimEnd().split('\n').map((line) => JSON.parse(line) as { path: string; status: number })
      expect(lines.map((line) => line.path).sort()).toEqual([...paths].sort())
      await app.fetch(new Request('http://127.0.0.1:3000/healthz'))
      await app.close()
      expect(writes).toHaveLength(2)
      expect(JSON.parse(writes[1] as string)).toMatchObject({ path: '/healthz', status: 200 })
    } finally {
      write.mockRestore()
      await store.close()
    }
  })
})
