/**
 * The one router and its translators: what the node:http and Fetch adapters tell the routes (the client's address
 * behind a trusted proxy), a body read after the client went away, and an answer Fetch cannot carry.
 */
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createFetchHandler, fetchHandlerOf, Router } from '../../src/adapters/fetch.js'
import { createNodeHandler } from '../../src/adapters/node.js'
import { BackendApplicationServer, type TokenRequestOutcome } from '../../src/index.js'
import { basic, FORM, MemoryValidator } from '../support/memory-validator.js'
import { listenOnLoopback, type StartedAdapter } from './suite.js'

const started: StartedAdapter[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()))
})

describe('node:http adapter: the client address the token endpoint is told', () => {
  async function addressesSeen(trustProxy: boolean): Promise<unknown[]> {
    const outcomes: TokenRequestOutcome[] = []
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'svc', secret: 's3cret' })
    const server = new BackendApplicationServer(validator, { allowInsecureTransport: true, tokenRequestHooks: { afterResponse: (outcome) => void outcomes.push(outcome) } })
    const listening = await listenOnLoopback(createServer(createNodeHandler(createFetchHandler(server), { trustProxy })))
    started.push(listening)
    for (const forwarded of ['203.0.113.7', '192.0.2.1, 198.51.100.9']) {
      await fetch(`${listening.url}/token`, {
        method: 'POST',
        headers: { ...FORM, Authorization: basic('svc', 's3cret'), 'X-Forwarded-For': forwarded },
        body: 'grant_type=client_credentials',
      })
    }
    return outcomes.map((outcome) => outcome.credentials.remoteAddress)
  }

  it('is the last X-Forwarded-For entry (the one the proxy appended) behind a trusted proxy', async () => {
    expect(await addressesSeen(true)).toEqual(['203.0.113.7', '198.51.100.9'])
  })

  it('is the connection’s address otherwise, whatever X-Forwarded-For says', async () => {
    expect(await addressesSeen(false)).toEqual(['127.0.0.1', '127.0.0.1'])
  })
})

describe('Router over node:http', () => {
  it('answers (and logs) a request whose client left before the route read its body, instead of waiting forever', async () => {
    const answered: number[] = []
    const router = new Router(
      [
        [
          '/slow',
          async (request) => {
            // Something the route waits for first (a store lookup), during which the client goes away.
            await new Promise((resolve) => setTimeout(resolve, 100))
            return { status: 200, headers: {}, body: (await request.body()) ?? '' }
          },
        ],
      ],
      { onError: () => {}, onResponse: (_request, response) => void answered.push(response.status) },
    )
    const listening = await listenOnLoopback(createServer(createNodeHandler(fetchHandlerOf(router))))
    started.push(listening)
    const { port } = new URL(listening.url)
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write('POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\npartial')
    await new Promise((resolve) => setTimeout(resolve, 20))
    socket.destroy()
    await expect.poll(() => answered, { timeout: 2000 }).toEqual([500])
  })
})

describe('fetchHandlerOf', () => {
  it('never rejects: a route answer Fetch cannot carry (a header value outside ByteString) becomes a reported 500', async () => {
    const errors: unknown[] = []
    const router = new Router([['/bad', () => ({ status: 200, headers: { 'X-Name': 'zoë ☃' }, body: 'x' })]], { onError: (error) => errors.push(error) })
    const response = await fetchHandlerOf(router)(new Request('http://127.0.0.1/bad'))
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(errors).toHaveLength(1)
  })
})

describe('Router: a path ending in /*', () => {
  it('serves one more non-empty segment under it, after the exact paths, and nothing deeper or empty', async () => {
    const router = new Router([
      ['/register', () => ({ status: 200, headers: {}, body: 'exact' })],
      ['/register/*', (request) => ({ status: 200, headers: {}, body: `one ${request.url.pathname}` })],
      ['/register/special', () => ({ status: 200, headers: {}, body: 'special' })],
    ])
    const handle = fetchHandlerOf(router)
    const body = async (path: string) => {
      const response = await handle(new Request(`http://127.0.0.1${path}`))
      return `${response.status} ${await response.text()}`
    }
    expect(await body('/register')).toBe('200 exact')
    expect(await body('/register/abc')).toBe('200 one /register/abc')
    expect(await body('/register/special')).toBe('200 special')
    // The pattern itself is no path: a literal * is one more segment like any other.
    expect(await body('/register/*')).toBe('200 one /register/*')
    for (const path of ['/register/', '/register/a/b', '/registered', '/register*']) expect(await body(path)).toMatch(/^404 /)
  })
})
