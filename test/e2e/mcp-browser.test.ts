/**
 * The official MCP TypeScript SDK's client running inside a web page (CORS), against `oauthkit serve` and the example
 * MCP server (examples/mcp-server/): the page (test/e2e/mcp-browser/, bundled here with Vite into a temporary
 * directory) is served from an origin of its own, so discovery (RFC 9728, RFC 8414), registration (RFC 7591), the
 * token and refresh requests and the MCP requests are all cross-origin fetches that the browser lets through only with
 * the servers' CORS answers. Chromium navigates to `/authorize`, the user signs in and allows, the page redeems the
 * code, lists and calls the tools, has its access token expire, refreshes through the SDK and calls again.
 */
import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import { type Browser, type Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error the example is plain JavaScript, run as a user would run it
import { startMcpServer } from '../../examples/mcp-server/server.mjs'
import { addUser, launchBrowser, screenshot, signIn, startServer, tempDir, type RunningServer } from './support.js'

const TIMEOUT = 120_000
const PASSWORD = 'correct horse battery staple'
const pageSource = join(dirname(fileURLToPath(import.meta.url)), 'mcp-browser')

/** A port free on loopback right now, for the MCP server whose URL the authorization server must know first. */
async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** Bundles the page and its SDK client with Vite into `outDir` (nothing is written into the repository). */
async function bundlePage(outDir: string, cacheDir: string): Promise<void> {
  await build({ root: pageSource, configFile: false, cacheDir, logLevel: 'warn', build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false } })
}

/** The page's own origin: the bundle at `/` (the start) and `/callback` (the redirect URI), its script under `/assets/`. */
async function servePage(outDir: string): Promise<{ origin: string; close(): Promise<void> }> {
  const site: Server = createHttpServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const file = path === '/' || path === '/callback' ? 'index.html' : /^\/assets\/[\w.-]+\.js$/.test(path) ? path.slice(1) : undefined
    if (file === undefined) return void res.writeHead(404).end()
    readFile(join(outDir, file)).then(
      (body) => res.writeHead(200, { 'Content-Type': file.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(body),
      () => res.writeHead(404).end(),
    )
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(site.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        site.close(() => resolve())
        site.closeAllConnections()
      }),
  }
}

/** One request of the SDK in the page, as the page could read its answer (status 0: the browser hid it). */
interface Seen {
  method: string
  url: string
  status: number
  wwwAuthenticate: string | null
}

/** What the page wrote into `#result` once done. */
interface PageResult {
  iss: string | null
  clientId: string
  tools: string[]
  answer: unknown
  answerAfterRefresh: unknown
  first: { access: string; refresh: string }
  second: { access: string; refresh: string }
  seen: Seen[]
}

/** A response the browser received for a fetch of the page, with its headers as they came over the wire. */
interface Received {
  url: string
  status: number
  headers: Record<string, string>
}

/** Records the answers to the page's cross-origin fetches, headers included, as the network saw them. */
function recordFetches(page: Page, siteOrigin: string): Promise<Received>[] {
  const received: Promise<Received>[] = []
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'fetch' || new URL(response.url()).origin === siteOrigin) return
    received.push(response.allHeaders().then((headers) => ({ url: response.url(), status: response.status(), headers })))
  })
  return received
}

/** What the page says it did (`#status` and `#result`), to show why it stopped where it did. */
async function pageSays(page: Page): Promise<string> {
  try {
    return `the page says ${await page.locator('#status').textContent({ timeout: 1_000 })}: ${await page.locator('#result').textContent({ timeout: 1_000 })}`
  } catch {
    return `no status on ${page.url()}`
  }
}

describe('the MCP SDK client in a web page of its own origin, against oauthkit serve and the MCP server (CORS)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined
  let mcp: { resource: string; close(): Promise<void> } | undefined
  let site: { origin: string; close(): Promise<void> } | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    dir = await tempDir('mcp-browser')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    const outDir = join(dir.path, 'page')
    await bundlePage(outDir, join(dir.path, 'vite-cache'))
    site = await servePage(outDir)
    const resource = `http://127.0.0.1:${await freePort()}/mcp`
    server = await startServer(db, ['--token-format', 'jwt', '--registration', 'open', '--registration-scope', 'mcp', '--resource', resource])
    mcp = (await startMcpServer({ issuer: server.issuer, port: Number(new URL(resource).port) })) as { resource: string; close(): Promise<void> }
    await addUser(db, 'alice', PASSWORD)
    browser = await launchBrowser()
  }, TIMEOUT)

  afterAll(async () => {
    await browser?.close()
    await site?.close()
    await mcp?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it(
    'discovers, registers, signs the user in, lists and calls the tools, and refreshes its token, all across origins',
    async () => {
      const running = server as RunningServer
      const resource = (mcp as { resource: string }).resource
      const siteOrigin = (site as { origin: string }).origin
      expect(new Set([siteOrigin, new URL(running.issuer).origin, new URL(resource).origin]).size).toBe(3)
      const page = await (browser as Browser).newPage()
      const received = recordFetches(page, siteOrigin)
      const navigations: URL[] = []
      page.on('request', (request) => {
        if (request.isNavigationRequest()) navigations.push(new URL(request.url()))
      })

      // 1. The page's SDK meets the 401, discovers and registers across origins, and navigates to the authorization server.
      await page.goto(`${siteOrigin}/?resource=${encodeURIComponent(resource)}`)
      await page.waitForURL((url) => url.origin === new URL(running.issuer).origin, { timeout: 30_000 }).catch(() => undefined)
      expect(new URL(page.url()).origin, await pageSays(page)).toBe(new URL(running.issuer).origin)
      const authorize = navigations.find((url) => url.href.startsWith(`${running.issuer}/authorize?`)) as URL
      expect(authorize.searchParams.get('resource')).toBe(resource)
      expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${siteOrigin}/callback`)

      // 2. The user signs in and allows; the consent page says the client registered itself.
      await signIn(page, 'alice', PASSWORD)
      await page.waitForURL(/\/consent\?/)
      expect(await page.locator('#unverified').textContent()).toContain('registered itself')
      await page.getByRole('button', { name: 'Allow' }).click()

      // 3. Back on its own origin, the page redeems the code, uses the tools, refreshes and uses them again.
      await page.waitForURL((url) => url.href.startsWith(`${siteOrigin}/callback?`))
      await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')?.textContent ?? ''), undefined, { timeout: 60_000 })
      await screenshot(page, 'mcp-browser-done')
      const status = await page.locator('#status').textContent()
      const text = (await page.locator('#result').textContent()) ?? '{}'
      expect(status, text).toBe('done')
      const result = JSON.parse(text) as PageResult
      expect(result.iss).toBe(running.issuer)

      // The tools were listed, and the tool answered for the user and the client the token was issued to.
      expect(result.tools).toContain('whoami')
      const first = decodeJwt(result.first.access)
      expect(first).toMatchObject({ aud: [resource], client_id: result.clientId, scope: 'mcp' })
      expect(result.answer).toEqual({ sub: first.sub, client_id: result.clientId })

      // The expired token was refreshed (a new pair, the refresh token rotated) and the call went through with the new one.
      expect(result.second.access).not.toBe(result.first.access)
      expect(result.second.refresh).not.toBe(result.first.refresh)
      expect(decodeJwt(result.second.access)).toMatchObject({ aud: [resource], client_id: result.clientId, sub: first.sub })
      expect(result.answerAfterRefresh).toEqual(result.answer)

      // Every answer the SDK asked for was readable by the page, the 401's challenge included (exposed by CORS).
      expect(result.seen.filter((seen) => seen.status === 0)).toEqual([])
      const calls = result.seen.map((seen) => `${seen.method} ${seen.url.replace(running.issuer, 'AS').replace(new URL(resource).origin, 'RS')} ${seen.status}`)
      expect(calls).toEqual(
        expect.arrayContaining([
          'POST RS/mcp 401',
          'GET RS/.well-known/oauth-protected-resource/mcp 200',
          'GET AS/.well-known/oauth-authorization-server 200',
          'POST AS/register 201',
          'POST AS/token 200',
          'POST RS/mcp 200',
        ]),
      )
      expect(calls.filter((call) => call === 'POST AS/token 200')).toHaveLength(2)
      const challenges = result.seen.filter((seen) => seen.status === 401).map((seen) => seen.wwwAuthenticate)
      expect(challenges.length).toBeGreaterThanOrEqual(2)
      for (const challenge of challenges) expect(challenge ?? '(the page could not read WWW-Authenticate)').toContain(`resource_metadata="${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp"`)

      // On the wire: every cross-origin answer allowed any origin, and none allowed credentials.
      const answers = await Promise.all(received)
      expect(new Set(answers.map((answer) => new URL(answer.url).origin))).toEqual(new Set([new URL(running.issuer).origin, new URL(resource).origin]))
      for (const answer of answers) {
        expect(answer.headers['access-control-allow-origin'], answer.url).toBe('*')
        expect(answer.headers, answer.url).not.toHaveProperty('access-control-allow-credentials')
      }
      await page.close()
    },
    TIMEOUT,
  )

  it('answers the MCP endpoint’s preflights for what an MCP client sends and lets the page read the challenge and session', async () => {
    const resource = (mcp as { resource: string }).resource
    const origin = (site as { origin: string }).origin
    for (const method of ['POST', 'GET', 'DELETE']) {
      const preflight = await fetch(resource, {
        method: 'OPTIONS',
        headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': 'authorization,content-type,mcp-protocol-version,mcp-session-id,last-event-id' },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
      expect(preflight.headers.get('access-control-allow-methods')?.split(/,\s*/)).toContain(method)
      const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/)
      expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id']))
      expect(preflight.headers.has('access-control-allow-credentials')).toBe(false)
    }
    const challenge = await fetch(resource, { method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json' }, body: '{}' })
    expect(challenge.status).toBe(401)
    expect(challenge.headers.get('access-control-allow-origin')).toBe('*')
    expect((challenge.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/)).toEqual(expect.arrayContaining(['www-authenticate', 'mcp-session-id']))
    expect(challenge.headers.has('access-control-allow-credentials')).toBe(false)
    // The RFC 9728 document, asked for with MCP's version header, after a preflight.
    const document = `${new URL(resource).origin}/.well-known/oauth-protected-resource/mcp`
    const documentPreflight = await fetch(document, { method: 'OPTIONS', headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'mcp-protocol-version' } })
    expect(documentPreflight.status).toBe(204)
    expect((documentPreflight.headers.get('access-control-allow-headers') ?? '').toLowerCase()).toContain('mcp-protocol-version')
    expect(documentPreflight.headers.has('access-control-allow-credentials')).toBe(false)
  })
})
