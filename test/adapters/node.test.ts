import { once } from 'node:events'
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http'
import { connect as connectHttp2, createServer as createHttp2Server } from 'node:http2'
import { connect, type AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFetchHandler, type FetchHandler } from '../../src/adapters/fetch.js'
import { bearerGuard, createNodeHandler, type NodeHandlerOptions } from '../../src/adapters/node.js'
import { type BackendApplicationServer } from '../../src/index.js'
import { basic } from '../support/memory-validator.js'
import { describeAdapter, listenOnLoopback, SUITE_MAX_BODY_BYTES, suiteServer, type StartedAdapter } from './suite.js'

describeAdapter('node:http', async (fetchHandler) => listenOnLoopback(createServer(createNodeHandler(fetchHandler))))

/** Answers with what the handler received: URL, method, headers in order, body. */
const echo: FetchHandler = async (request) =>
  Response.json({ url: request.url, method: request.method, headers: [...request.headers], body: request.body === null ? null : await request.text() })

/** A raw request through node:http, where the Host header and the request target are ours to choose. */
async function rawRequest(
  url: string,
  path: string,
  headers: Record<string, string | string[]>,
  method = 'GET',
  requestBody?: string,
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  const { hostname, port } = new URL(url)
  const request = httpRequest({ host: hostname, port, path, method, headers, setHost: false, agent: false })
  request.end(requestBody)
  const [response] = (await once(request, 'response')) as [IncomingMessage]
  let body = ''
  for await (const chunk of response) body += String(chunk)
  return { status: response.statusCode ?? 0, body, headers: response.headers }
}

describe('createNodeHandler', () => {
  let plain: StartedAdapter
  let proxied: StartedAdapter
  const start = (options: NodeHandlerOptions = {}) => listenOnLoopback(createServer(createNodeHandler(echo, options)))
  beforeAll(async () => {
    ;[plain, proxied] = await Promise.all([start(), start({ trustProxy: true })])
  })
  afterAll(async () => {
    await Promise.all([plain.close(), proxied.close()])
  })

  it('builds the URL from Host, ignoring X-Forwarded-* without trustProxy', async () => {
    const response = await rawRequest(plain.url, '/token?a=1', { Host: 'as.example.com:8443', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example' })
    expect(JSON.parse(response.body)).toMatchObject({ url: 'http://as.example.com:8443/token?a=1' })
  })

  it('builds the URL from the first X-Forwarded-Proto and X-Forwarded-Host with trustProxy', async () => {
    const response = await rawRequest(proxied.url, '/token', { Host: '127.0.0.1', 'X-Forwarded-Proto': 'https, http', 'X-Forwarded-Host': 'as.example.com, inner' })
    expect(JSON.parse(response.body)).toMatchObject({ url: 'https://as.example.com/token' })
  })

  it('keeps a target starting with // as a path, never as another host', async () => {
    const response = await rawRequest(plain.url, '//evil.example/token', { Host: 'as.example.com' })
    expect(JSON.parse(response.body)).toMatchObject({ url: 'http://as.example.com//evil.example/token' })
  })

  it.each([
    ['a Host with a path', 'as.example.com/x'],
    ['a Host with userinfo', 'user@as.example.com'],
    ['an empty Host', ''],
  ])('answers %s with a 400 problem', async (_case, host) => {
    const response = await rawRequest(plain.url, '/token', { Host: host })
    expect(response.status).toBe(400)
    expect(response.headers['content-type']).toBe('application/problem+json')
  })

  it('answers a method a Fetch Request cannot carry with a 400 problem', async () => {
    const response = await rawRequest(plain.url, '/token', { Host: '127.0.0.1' }, 'TRACE')
    expect(response.status).toBe(400)
  })

  it('keeps a repeated header, so the core can see it', async () => {
    const response = await rawRequest(plain.url, '/token', { Host: '127.0.0.1', Authorization: ['Basic YTpi', 'Basic Yzpk'] })
    const headers = new Map(JSON.parse(response.body).headers as Array<[string, string]>)
    expect(headers.get('authorization')).toBe('Basic YTpi, Basic Yzpk')
  })

  it('writes every Set-Cookie header of the response apart', async () => {
    const cookies = new Headers()
    cookies.append('Set-Cookie', 'a=1')
    cookies.append('Set-Cookie', 'b=2')
    const started = await listenOnLoopback(createServer(createNodeHandler(() => new Response(null, { status: 204, headers: cookies }))))
    try {
      const response = await rawRequest(started.url, '/', { Host: '127.0.0.1' })
      expect(response.status).toBe(204)
      expect(response.headers['set-cookie']).toEqual(['a=1', 'b=2'])
    } finally {
      await started.close()
    }
  })

  it('answers a handler that throws with a 500 problem, reported to onError', async () => {
    const errors: unknown[] = []
    const started = await listenOnLoopback(
      createServer(createNodeHandler(() => Promise.reject(new Error('boom')), { onError: (error) => errors.push(error) })),
    )
    try {
      const response = await fetch(started.url)
      expect(response.status).toBe(500)
      expect(await response.text()).not.toMatch(/boom/)
      expect(errors).toHaveLength(1)
    } finally {
      await started.close()
    }
  })

  it('leaves out HTTP/2 pseudo-headers, taking the authority for the URL', async () => {
    // The compatibility API gives node:http-shaped objects; their types differ only in what the adapter does not use.
    const server = createHttp2Server(createNodeHandler(echo) as unknown as (req: unknown, res: unknown) => void)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    const client = connectHttp2(`http://127.0.0.1:${port}`)
    try {
      const stream = client.request({ ':method': 'POST', ':path': '/token', 'content-type': 'application/x-www-form-urlencoded' })
      stream.end('grant_type=client_credentials')
      let body = ''
      stream.setEncoding('utf8')
      for await (const chunk of stream) body += String(chunk)
      const received = JSON.parse(body) as { url: string; headers: Array<[string, string]>; body: string }
      expect(received.url).toBe(`http://127.0.0.1:${port}/token`)
      expect(received.headers.map(([name]) => name).filter((name) => name.startsWith(':'))).toEqual([])
      expect(received.body).toBe('grant_type=client_credentials')
    } finally {
      client.close()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})


describe("createNodeHandler with createFetchHandler's own handler (the direct path, without Request and Response)", () => {
  it('reports a failure of the core to the Fetch handler\'s onError with the request, and answers a 500 problem', async () => {
    const failure = new Error('boom')
    const server = suiteServer()
    const broken = Object.assign(Object.create(server) as BackendApplicationServer, { createRevocationResponse: () => Promise.reject(failure) })
    const reported: Array<[unknown, Request | undefined]> = []
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(broken, { onError: (error, request) => reported.push([error, request]) }))))
    try {
      const response = await fetch(`${started.url}/revoke?x=1`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'token=t' })
      expect(response.status).toBe(500)
      expect(response.headers.get('content-type')).toBe('application/problem+json')
      expect(response.headers.get('cache-control')).toBe('no-store')
      expect(await response.text()).not.toMatch(/boom/)
      expect(reported).toHaveLength(1)
      expect(reported[0]?.[0]).toBe(failure)
      expect(reported[0]?.[1]?.url).toBe(`${started.url}/revoke?x=1`)
      expect(reported[0]?.[1]?.method).toBe('POST')
    } finally {
      await started.close()
    }
  })

  it('gives the core every header as received: a second Authorization header is invalid_request, not merged', async () => {
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(suiteServer()))))
    try {
      const headers = { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: [basic('svc', 's3cret'), basic('svc', 'other')] }
      const response = await rawRequest(started.url, '/token', { ...headers, Host: new URL(started.url).host, 'Content-Length': '29' }, 'POST', 'grant_type=client_credentials')
      expect(response.status).toBe(400)
      expect(response.headers['cache-control']).toBe('no-store')
      expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/authorization/i) })
    } finally {
      await started.close()
    }
  })

  it('routes by the pathname the URL parser gives, dot segments and encodings included', async () => {
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(suiteServer()))))
    try {
      const host = new URL(started.url).host
      const body = 'grant_type=client_credentials'
      const headers = { Host: host, 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('svc', 's3cret'), 'Content-Length': String(body.length) }
      const targets = ['/token', '/token?x=1', '/token#x', '/a/../token', '/%2e/token', '/./token?y', '/tok%65n', '/token/', '/TOKEN', '/token;x', '\\token']
      for (const target of targets) {
        const response = await rawRequest(started.url, target, headers, 'POST', body)
        const expected = target.startsWith('/') ? (new URL(`http://${host}${target}`).pathname === '/token' ? 200 : 404) : 400
        expect([target, response.status]).toEqual([target, expected])
      }
    } finally {
      await started.close()
    }
  })

  it.each([
    ['a port past 65535', '127.0.0.1:99999'],
    ['an IPv4 address out of range', '1.2.3.999'],
  ])('answers a Host with %s, which no URL can hold, with a 400 problem', async (_case, host) => {
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(suiteServer()))))
    try {
      const response = await rawRequest(started.url, '/token', { Host: host, 'Content-Type': 'application/x-www-form-urlencoded' }, 'POST', 'grant_type=client_credentials')
      expect(response.status).toBe(400)
      expect(response.headers['content-type']).toBe('application/problem+json')
    } finally {
      await started.close()
    }
  })

  it('reads a body however it comes: with the headers, after them, chunked, pipelined, or past the cap', async () => {
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(suiteServer(), { maxBodyBytes: SUITE_MAX_BODY_BYTES }))))
    const { hostname, port } = new URL(started.url)
    const head = (length: number | 'chunked') =>
      `POST /token HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
      `Authorization: ${basic('svc', 's3cret')}\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`
    const form = 'grant_type=client_credentials'
    const chunked = (...parts: string[]) => parts.map((part) => `${part.length.toString(16)}\r\n${part}\r\n`).join('') + '0\r\n\r\n'
    /** Writes the pieces (a number waits that many ms), then reads every response until the server closes. */
    const exchange = (...pieces: Array<string | number>) =>
      new Promise<number[]>((resolve, reject) => {
        const socket = connect(Number(port), hostname, async () => {
          for (const piece of pieces) {
            if (typeof piece === 'number') await new Promise((done) => setTimeout(done, piece))
            else socket.write(piece)
          }
          // The last request asks to close: node:http answers it, then ends the connection.
        })
        let text = ''
        socket.on('data', (data: Buffer) => (text += data.toString('latin1')))
        socket.on('end', () => {
          const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]))
          // Every 200 carries a token.
          if (text.split('"access_token"').length - 1 === statuses.filter((status) => status === 200).length) resolve(statuses)
          else reject(new Error(`A 200 without a token: ${text}`))
        })
        socket.on('error', reject)
      })
    const last = (request: string) => request.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')
    try {
      // In the packet of the headers; then after them, in two pieces.
      expect(await exchange(last(head(form.length) + form))).toEqual([200])
      expect(await exchange(last(head(form.length)), 20, form.slice(0, 9), 20, form.slice(9))).toEqual([200])
      // Chunked, in one packet and across packets.
      expect(await exchange(last(head('chunked')) + chunked('grant_type=', 'client_', 'credentials'))).toEqual([200])
      const pieces = chunked('grant_type=client_', 'credentials')
      expect(await exchange(last(head('chunked')), 20, pieces.slice(0, 25), 20, pieces.slice(25, -5), 20, pieces.slice(-5))).toEqual([200])
      // Three requests in one packet: each gets its own body.
      expect(await exchange(head(form.length) + form + head(form.length + 11) + form + '&scope=read' + last(head(form.length) + form))).toEqual([200, 200, 200])
      // Undeclared bodies past the cap, in one packet and streamed: 413, and the connection goes on to the next request.
      const big = chunked(form + '&pad=' + 'a'.repeat(2 * SUITE_MAX_BODY_BYTES))
      expect(await exchange(head('chunked') + big + last(head(form.length) + form))).toEqual([413, 200])
      expect(await exchange(head('chunked'), 20, big.slice(0, 700), 20, big.slice(700) + last(head(form.length) + form))).toEqual([413, 200])
    } finally {
      await started.close()
    }
  })

  it('answers with Content-Length, the core\'s headers, and no body to HEAD', async () => {
    const started = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(suiteServer()))))
    try {
      const get = await rawRequest(started.url, '/.well-known/oauth-authorization-server', { Host: new URL(started.url).host })
      expect(get.status).toBe(200)
      expect(get.headers['content-length']).toBe(String(Buffer.byteLength(get.body)))
      expect(JSON.parse(get.body)).toMatchObject({ issuer: 'http://127.0.0.1' })
      const head = await rawRequest(started.url, '/.well-known/oauth-authorization-server', { Host: new URL(started.url).host }, 'HEAD')
      expect(head.status).toBe(200)
      expect(head.headers['content-type']).toBe(get.headers['content-type'])
      expect(head.body).toBe('')
    } finally {
      await started.close()
    }
  })
})

describe('bearerGuard', () => {
  async function guarded(server: BackendApplicationServer, scopes: readonly string[], onError?: (error: unknown) => void) {
    const guard = bearerGuard(server, scopes, onError === undefined ? {} : { onError })
    return listenOnLoopback(
      createServer(async (req, res) => {
        const token = await guard(req, res)
        if (token === undefined) return
        res.setHeader('Content-Type', 'application/json')
        res.end(JSON.stringify({ client_id: token.clientId, scope: token.scopes.join(' ') }))
      }),
    )
  }
  async function issue(server: BackendApplicationServer, scope: string): Promise<string> {
    const response = await server.createTokenResponse('http://127.0.0.1/token', 'POST', `grant_type=client_credentials&scope=${scope}`, {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: basic('svc', 's3cret'),
    })
    return (JSON.parse(response.body) as { access_token: string }).access_token
  }

  it('runs the handler with the token for a valid one, and answers the RFC 6750 §3 challenges itself otherwise', async () => {
    const server = suiteServer()
    const started = await guarded(server, ['write'])
    try {
      const writer = await issue(server, 'read write')
      const ok = await fetch(`${started.url}/api`, { headers: { Authorization: `Bearer ${writer}` } })
      expect(ok.status).toBe(200)
      expect(await ok.json()).toEqual({ client_id: 'svc', scope: 'read write' })

      const none = await fetch(`${started.url}/api`)
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Bearer scope="write"')

      const unknown = await fetch(`${started.url}/api`, { headers: { Authorization: 'Bearer not-a-token' } })
      expect(unknown.status).toBe(401)
      expect(unknown.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/)

      const reader = await issue(server, 'read')
      const narrow = await fetch(`${started.url}/api`, { headers: { Authorization: `Bearer ${reader}` } })
      expect(narrow.status).toBe(403)
      expect(narrow.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/)
    } finally {
      await started.close()
    }
  })

  it('answers a failing validator with a 500 problem reported to onError, never a rejection', async () => {
    const failure = new Error('database down')
    const server = suiteServer()
    const broken = Object.assign(Object.create(server) as BackendApplicationServer, { validateProtectedResourceRequest: () => Promise.reject(failure) })
    const errors: unknown[] = []
    const started = await guarded(broken, ['read'], (error) => errors.push(error))
    try {
      const response = await fetch(`${started.url}/api`, { headers: { Authorization: 'Bearer x' } })
      expect(response.status).toBe(500)
      expect(await response.text()).not.toMatch(/database down/)
      expect(errors).toEqual([failure])
    } finally {
      await started.close()
    }
  })
})
