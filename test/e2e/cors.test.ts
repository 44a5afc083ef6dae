/**
 * CORS of `oauthkit serve` seen by a real browser: a page of another origin (another loopback port) in headless
 * Chromium reads the metadata with MCP's `MCP-Protocol-Version` header and gets a token with HTTP Basic, both after a
 * preflight; its call to `/introspect` is blocked by the browser.
 */
import { createServer, type Server } from 'node:http'
import { type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addClient, launchBrowser, startServer, tempDir, type AddedClient, type RunningServer } from './support.js'

const TIMEOUT = 60_000

describe('CORS of oauthkit serve, from a page of another origin in Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined
  let site: Server | undefined
  let siteOrigin: string
  let browser: Browser | undefined
  let client: AddedClient

  beforeAll(async () => {
    dir = await tempDir('cors')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    server = await startServer(db)
    client = await addClient(db, { name: 'Browser service', grantTypes: ['client_credentials'], scope: 'read' })
    // The single-page app's own origin: one empty page.
    site = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><title>SPA</title>'))
    await new Promise<void>((resolve) => (site as Server).listen(0, '127.0.0.1', resolve))
    siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`
    browser = await launchBrowser()
  }, TIMEOUT)

  afterAll(async () => {
    await browser?.close()
    await new Promise<void>((resolve) => (site === undefined ? resolve() : site.close(() => resolve())))
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it(
    'reads the metadata and obtains a token across origins, and cannot read /introspect',
    async () => {
      const page = await (browser as Browser).newPage()
      await page.goto(siteOrigin)
      const issuer = (server as RunningServer).issuer
      expect(new URL(issuer).origin).not.toBe(siteOrigin)
      const result = await page.evaluate(
        async ({ issuer, clientId, clientSecret }) => {
          const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`, { headers: { 'MCP-Protocol-Version': '2025-06-18' } })).json()) as {
            token_endpoint: string
          }
          const token = await fetch(metadata.token_endpoint, {
            method: 'POST',
            headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`, 'Content-Type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials&scope=read',
          })
          const body = (await token.json()) as { access_token?: string; token_type?: string }
          let introspection: string
          try {
            await fetch(`${issuer}/introspect`, {
              method: 'POST',
              headers: { Authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`, 'Content-Type': 'application/x-www-form-urlencoded' },
              body: `token=${body.access_token ?? ''}`,
            })
            introspection = 'readable'
          } catch (error) {
            introspection = (error as Error).name
          }
          return { tokenEndpoint: metadata.token_endpoint, status: token.status, tokenType: body.token_type, hasToken: typeof body.access_token === 'string', introspection }
        },
        { issuer, clientId: client.client_id, clientSecret: client.client_secret as string },
      )
      expect(result).toEqual({ tokenEndpoint: `${issuer}/token`, status: 200, tokenType: 'Bearer', hasToken: true, introspection: 'TypeError' })
      // The browser asked first each time (a custom header, then Authorization twice), as the server's log shows. The
      // log is written a turn after each answer, and reaches this process through a pipe: it is waited for.
      const preflights = () =>
        (server as RunningServer)
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { method?: string; path?: string; status?: number })
          .filter((entry) => entry.method === 'OPTIONS')
          .map((entry) => `${entry.path} ${entry.status}`)
      await expect.poll(preflights).toEqual(expect.arrayContaining(['/.well-known/oauth-authorization-server 204', '/token 204', '/introspect 405']))
    },
    TIMEOUT,
  )
})
