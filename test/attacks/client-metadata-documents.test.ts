/**
 * Attacks through client ID metadata documents (draft-ietf-oauth-client-id-metadata-document §6) against the ready
 * server over HTTP: a `client_id` is a URL the server fetches, so anyone who can send a browser to `/authorize` can
 * make the server send requests. Server-side request forgery to private, link-local and loopback addresses (named
 * directly or through a DNS name), redirects out, a burst of authorization requests naming many documents at once, and
 * a document that passes itself off as a known client.
 *
 * The SSRF server runs as `oauthkit serve --client-metadata-documents` does, resolving names through a resolver the
 * test controls; a canary server on the loopback addresses counts every connection the server makes to them. The
 * burst server uses the development option (documents on loopback) to reach an attacker's document server run by the
 * test.
 */
import { createServer as createHttpsServer } from 'node:https'
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net'
import { type Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HostLookup } from '../../src/store/index.js'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'
import { authorizePath, pkce, REDIRECT_URI, signIn, startServer, type AttackServer } from './support.js'

const certificate = selfSignedCertificate(['*.attacker.test', 'localhost'], ['127.0.0.1'])

/** Names the servers resolve: every `*.attacker.test` and `rebind.test` to 127.0.0.1, the others as named. */
const NAMES: Record<string, readonly string[]> = {
  'internal.attacker.test': ['10.20.30.40'],
  'metadata.attacker.test': ['169.254.169.254'],
  'loopback.attacker.test': ['127.0.0.1'],
  'v6loopback.attacker.test': ['::1'],
  'mixed.attacker.test': ['93.184.215.14', '10.0.0.7'],
}
const lookups: string[] = []
const lookup: HostLookup = async (hostname) => {
  lookups.push(hostname)
  const addresses = NAMES[hostname] ?? (hostname.endsWith('.attacker.test') || hostname === 'client.example' ? ['127.0.0.1'] : undefined)
  if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
}

let ssrf: AttackServer
let dev: AttackServer
/** Counts every connection made to loopback (127.0.0.1 and ::1) on its port. */
let canary: NetServer
let canaryPort = 0
let canaryConnections = 0
/** The attacker's document server (https on 127.0.0.1): what each request gets, and how many are open at once. */
let documents: HttpServer
let documentsPort = 0
let open = 0
let mostOpen = 0
let received = 0
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(404).end()

beforeAll(async () => {
  canary = createNetServer((socket) => {
    canaryConnections++
    socket.destroy()
  })
  await new Promise<void>((resolve) => canary.listen(0, '::', resolve))
  canaryPort = (canary.address() as AddressInfo).port
  documents = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
    received++
    open++
    mostOpen = Math.max(mostOpen, open)
    res.on('close', () => open--)
    answer(req, res)
  })
  await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve))
  documentsPort = (documents.address() as AddressInfo).port
  ssrf = await startServer({ clientMetadataDocuments: { scopes: ['read'], lookup } })
  dev = await startServer({
    clientMetadataDocuments: { scopes: ['read'], lookup, allowLoopback: true, ca: certificate.cert, maxConcurrentFetches: 4, maxWaitingFetches: 8, cacheEntries: 10, timeoutMs: 3000 },
  })
  await dev.addUser('alice')
})

afterAll(async () => {
  await ssrf?.close()
  await dev?.close()
  documents?.closeAllConnections()
  await new Promise((resolve) => documents?.close(resolve))
  await new Promise((resolve) => canary?.close(resolve))
})

/** An authorization request naming `clientId`, from a browser of its own. */
function lure(server: AttackServer, clientId: string, params: Record<string, string | undefined> = {}): Promise<Response> {
  return server.browser().get(authorizePath(clientId, pkce().challenge, params))
}

/** The answer must be an error page, never a redirect, and say why. */
async function expectErrorPage(response: Response, status: number, description: RegExp): Promise<string> {
  expect(response.status).toBe(status)
  expect(response.headers.get('Location')).toBeNull()
  const html = await response.text()
  expect(html).toMatch(description)
  return html
}

/** A valid document for `clientId`, served as JSON. */
function serveDocument(res: ServerResponse, clientId: string, extra: Record<string, unknown> = {}): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=600' }).end(
    JSON.stringify({ client_id: clientId, client_name: 'Attacker', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none', ...extra }),
  )
}

/** The URL of the document server as https://NAME:PORT/PATH, NAME resolving to 127.0.0.1. */
function documentUrl(name: string, path = '/client.json'): string {
  return `https://${name}:${documentsPort}${path}`
}

describe('draft §6.5: server-side request forgery through the client_id', () => {
  it.each([
    ['a private address (10.0.0.0/8) literal', () => `https://10.0.0.1:${canaryPort}/client.json`, /10\.0\.0\.1, which is not a public address/],
    ['the cloud metadata address 169.254.169.254', () => 'https://169.254.169.254/latest/meta-data/iam/client.json', /169\.254\.169\.254, which is not a public address/],
    ['the IPv6 loopback [::1]', () => `https://[::1]:${canaryPort}/client.json`, /::1, which is not a public address/],
    ['the IPv4 loopback 127.0.0.1', () => `https://127.0.0.1:${canaryPort}/client.json`, /127\.0\.0\.1, which is not a public address/],
    ['0.0.0.0 (this host)', () => `https://0.0.0.0:${canaryPort}/client.json`, /0\.0\.0\.0, which is not a public address/],
    ['IPv4-mapped IPv6 loopback', () => `https://[::ffff:7f00:1]:${canaryPort}/client.json`, /::ffff:7f00:1, which is not a public address/],
    ['a DNS name resolving to 127.0.0.1', () => `https://loopback.attacker.test:${canaryPort}/client.json`, /127\.0\.0\.1, which is not a public address/],
    ['a DNS name resolving to ::1', () => `https://v6loopback.attacker.test:${canaryPort}/client.json`, /::1, which is not a public address/],
    ['a DNS name resolving to 10.20.30.40', () => `https://internal.attacker.test:${canaryPort}/client.json`, /10\.20\.30\.40/],
    ['a DNS name resolving to 169.254.169.254', () => 'https://metadata.attacker.test/client.json', /169\.254\.169\.254/],
    ['a DNS name with a private address among public ones', () => 'https://mixed.attacker.test/client.json', /10\.0\.0\.7/],
    ['plain http to loopback (no development option)', () => `http://127.0.0.1:${canaryPort}/client.json`, /must use https/],
  ])('draft §6.5: a document at %s is refused with an error page, and nothing connects to it', async (_name, clientId, description) => {
    const before = canaryConnections
    const started = Date.now()
    await expectErrorPage(await lure(ssrf, clientId()), 400, description)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(canaryConnections).toBe(before)
  })

  it('draft §6.5: the token endpoint refuses such a client_id with invalid_client, and connects nowhere either', async () => {
    const before = canaryConnections
    const response = await fetch(`${ssrf.origin}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: `https://loopback.attacker.test:${canaryPort}/client.json` }).toString(),
    })
    expect(response.status).toBe(401)
    expect((await response.json()) as Record<string, string>).toMatchObject({ error: 'invalid_client', error_description: expect.stringMatching(/not a public address/) })
    expect(canaryConnections).toBe(before)
  })

  it('draft §4: a document that redirects (to the metadata address, or to loopback) is refused; the redirect is not followed', async () => {
    const before = canaryConnections
    answer = (_req, res) => res.writeHead(302, { Location: `http://127.0.0.1:${canaryPort}/latest/meta-data` }).end()
    await expectErrorPage(await lure(dev, documentUrl('redirect.attacker.test')), 400, /redirect .*not followed/)
    answer = (_req, res) => res.writeHead(307, { Location: 'http://169.254.169.254/latest/meta-data' }).end()
    await expectErrorPage(await lure(dev, documentUrl('redirect2.attacker.test')), 400, /redirect .*not followed/)
    expect(canaryConnections).toBe(before)
  })

  it('draft §6.6: a document that never ends its body is cut at the size cap', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      const timer = setInterval(() => res.write(' '.repeat(1024)), 5)
      res.on('close', () => clearInterval(timer))
    }
    await expectErrorPage(await lure(dev, documentUrl('endless.attacker.test')), 400, /larger than 5120 bytes/)
  })
})

describe('draft §6.5: a burst of authorization requests naming documents', () => {
  it('draft §6.5: 120 requests with distinct attacker URLs at once: at most the concurrency limit of fetches run, the rest wait or are refused, none is redirected', async () => {
    received = 0
    mostOpen = 0
    // The attacker's server holds every request for a second, then answers a valid document.
    answer = (req, res) => {
      const timer = setTimeout(() => serveDocument(res, documentUrl((req.headers.host ?? '').split(':')[0] as string, req.url ?? '/')), 1000)
      res.on('close', () => clearTimeout(timer))
    }
    const responses = await Promise.all(Array.from({ length: 120 }, (_, i) => lure(dev, documentUrl(`burst${i}.attacker.test`), { redirect_uri: 'https://attacker.example/landing' })))
    const statuses = responses.map((response) => response.status)
    // 4 fetch at once and 8 wait (the server's limits); every other request is refused at once with 503.
    expect(mostOpen).toBeLessThanOrEqual(4)
    expect(received).toBeLessThanOrEqual(4 + 8)
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(120 - 12)
    expect(statuses.every((status) => status === 503 || status === 400 || status === 303)).toBe(true)
    for (const response of responses) expect(response.headers.get('Location') ?? '').not.toContain('attacker.example')
    const refused = responses.find((response) => response.status === 503) as Response
    expect(Number(refused.headers.get('Retry-After'))).toBeGreaterThan(0)
    expect(await refused.text()).toContain('too many client metadata documents')
    // The server still serves everyone else.
    expect((await fetch(`${dev.origin}/healthz`)).status).toBe(200)
  })

  it('draft §6.5: 50 requests naming one slow document at once share a single fetch', async () => {
    received = 0
    answer = (req, res) => {
      const timer = setTimeout(() => serveDocument(res, documentUrl('same.attacker.test', req.url ?? '/')), 300)
      res.on('close', () => clearTimeout(timer))
    }
    const url = documentUrl('same.attacker.test', '/shared.json')
    const responses = await Promise.all(Array.from({ length: 50 }, () => lure(dev, url)))
    expect(received).toBe(1)
    // Not signed in: every one of them is sent to sign in (the document was valid).
    expect(responses.every((response) => response.status === 303)).toBe(true)
  })

  it('draft §4.4: the cache of documents stays within its size, however many valid documents are named', async () => {
    answer = (req, res) => serveDocument(res, documentUrl((req.headers.host ?? '').split(':')[0] as string, req.url ?? '/'))
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 6 }, (_, i) => lure(dev, documentUrl(`cache${round}-${i}.attacker.test`))))
    }
    const fetcher = dev.app.validator.clientIdMetadataDocuments
    expect(fetcher?.cachedCount).toBeLessThanOrEqual(10)
    expect(fetcher?.activeFetches).toBe(0)
  })
})

describe('draft §6.4: a document that passes itself off as another client', () => {
  it('draft §6.4: the consent page names the host publishing the document and where the user will be sent, and says the name is not verified', async () => {
    const clientId = documentUrl('photo-printer.attacker.test', '/impostor.json')
    answer = (_req, res) => serveDocument(res, clientId, { client_name: 'Photo Printer', redirect_uris: ['https://attacker.example/cb'] })
    const browser = dev.browser()
    const path = authorizePath(clientId, pkce().challenge, { redirect_uri: 'https://attacker.example/cb' })
    expect((await signIn(browser, path)).status).toBe(303)
    const page = await (await browser.get(`/consent?return_to=${encodeURIComponent(path)}`)).text()
    expect(page).toContain('Allow Photo Printer')
    expect(page).toContain(`published at <strong>photo-printer.attacker.test:${documentsPort}</strong>`)
    expect(page).toContain('not verified by the operator')
    expect(page).toContain('<strong>attacker.example</strong>')
  })

  it('RFC 9700 §4.11.2: an error of a document’s client before the user took part is shown, never redirected to the URI the document chose', async () => {
    const clientId = documentUrl('lure.attacker.test', '/lure.json')
    answer = (_req, res) => serveDocument(res, clientId, { redirect_uris: ['https://attacker.example/landing'] })
    const browser = dev.browser()
    // No PKCE (invalid_request), then prompt=none without a session (login_required): both errors, both kept here.
    const noPkce = `/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'https://attacker.example/landing' }).toString()}`
    await expectErrorPage(await browser.get(noPkce), 400, /code_challenge/)
    await expectErrorPage(await lure(dev, clientId, { redirect_uri: 'https://attacker.example/landing', prompt: 'none' }), 400, /not signed in/)
  })
})
