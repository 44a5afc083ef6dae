/**
 * The official MCP TypeScript SDK's client against `oauthkit serve` and the example MCP server (examples/mcp-server/),
 * with Chromium at the sign-in and consent pages: 401 → RFC 9728 → RFC 8414 → the client introduces itself →
 * authorization with PKCE and `resource` → token → `tools/list` and `tools/call` → refresh. Twice: once registering
 * itself (`--registration open`, RFC 7591), once with a client ID metadata document (`--client-metadata-documents`,
 * the SDK's `clientMetadataUrl`), served over https by a server on loopback in the test, which `oauthkit serve` trusts
 * through `NODE_EXTRA_CA_CERTS` and reaches with the development option `--client-metadata-documents-allow-loopback`.
 */
import { writeFile } from 'node:fs/promises'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { refreshAuthorization, UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { decodeJwt } from 'jose'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error the example is plain JavaScript, run as a user would run it
import { startMcpServer } from '../../examples/mcp-server/server.mjs'
import { selfSignedCertificate } from '../support/self-signed-certificate.js'
import { addUser, launchBrowser, screenshot, signIn, startCallbackServer, startServer, tempDir, type CallbackServer, type RunningServer } from './support.js'

const TIMEOUT = 90_000
const PASSWORD = 'correct horse battery staple'

/** A port free on loopback right now, for the MCP server whose URL the authorization server must know first. */
async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** What an MCP client application keeps: the SDK asks it for its registration, tokens and PKCE verifier. */
class InMemoryProvider implements OAuthClientProvider {
  information: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  authorizationUrl: URL | undefined

  constructor(private readonly callback: string) {}

  get redirectUrl(): string {
    return this.callback
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK end-to-end client',
      redirect_uris: [this.callback],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'mcp',
    }
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.information
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.information = information
  }

  tokens(): OAuthTokens | undefined {
    return this.saved
  }

  saveTokens(tokens: OAuthTokens): void {
    this.saved = tokens
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier
  }

  codeVerifier(): string {
    return this.verifier
  }
}

describe('the MCP SDK client against oauthkit serve and an MCP server it protects', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined
  let mcp: { resource: string; close(): Promise<void> } | undefined
  let callback: CallbackServer | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    dir = await tempDir('mcp')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    const resource = `http://127.0.0.1:${await freePort()}/mcp`
    server = await startServer(db, ['--token-format', 'jwt', '--registration', 'open', '--registration-scope', 'mcp', '--resource', resource])
    mcp = (await startMcpServer({ issuer: server.issuer, port: Number(new URL(resource).port) })) as { resource: string; close(): Promise<void> }
    expect(mcp.resource).toBe(resource)
    await addUser(db, 'alice', PASSWORD)
    callback = await startCallbackServer()
    browser = await launchBrowser()
  }, TIMEOUT)

  afterAll(async () => {
    await browser?.close()
    await callback?.close()
    await mcp?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it(
    'registers itself, signs the user in through the pages, lists and calls the tools, and refreshes its token',
    async () => {
      const resource = (mcp as { resource: string }).resource
      const provider = new InMemoryProvider((callback as CallbackServer).redirectUri)
      const client = new Client({ name: 'oauthkit-e2e', version: '1.0.0' })

      // 1. The MCP server answers 401; the SDK follows RFC 9728 and RFC 8414, registers (RFC 7591) and asks the user.
      await expect(client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError)
      expect(provider.information?.client_id).toEqual(expect.any(String))
      const authorizationUrl = provider.authorizationUrl as URL
      expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(`${(server as RunningServer).issuer}/authorize`)
      expect(authorizationUrl.searchParams.get('resource')).toBe(resource)
      expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256')

      // 2. The user signs in and allows, in a real browser; the consent page says the client registered itself.
      const page = await (browser as Browser).newPage()
      await page.goto(authorizationUrl.href)
      await signIn(page, 'alice', PASSWORD)
      await page.waitForURL(/\/consent\?/)
      expect(await page.locator('#unverified').textContent()).toContain('registered itself')
      await screenshot(page, 'mcp-consent')
      await page.getByRole('button', { name: 'Allow' }).click()
      await page.waitForURL((url) => url.href.startsWith((callback as CallbackServer).redirectUri))
      const returned = (callback as CallbackServer).received.at(-1) as URL
      expect(returned.searchParams.get('iss')).toBe((server as RunningServer).issuer)
      const code = returned.searchParams.get('code') as string

      // 3. The SDK redeems the code with its verifier and the resource: a JWT for this MCP server.
      const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider })
      await transport.finishAuth(code)
      const access = decodeJwt(provider.saved?.access_token as string)
      expect(access).toMatchObject({ aud: [resource], client_id: provider.information?.client_id, scope: 'mcp' })

      // 4. Connected, the tools work, and the server sees who the token was issued for.
      const connected = new Client({ name: 'oauthkit-e2e', version: '1.0.0' })
      await connected.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }))
      const tools = await connected.listTools()
      expect(tools.tools.map((tool) => tool.name)).toContain('whoami')
      const called = await connected.callTool({ name: 'whoami' })
      expect(JSON.parse((called.content as { text: string }[])[0]?.text ?? '{}')).toEqual({ sub: access.sub, client_id: provider.information?.client_id })
      await connected.close()

      // 5. The SDK refreshes: a new pair, the old refresh token rotated away.
      const refreshed = await refreshAuthorization((server as RunningServer).issuer, {
        clientInformation: provider.information as OAuthClientInformationMixed,
        refreshToken: provider.saved?.refresh_token as string,
        resource: new URL(resource),
      })
      expect(refreshed.access_token).not.toBe(provider.saved?.access_token)
      expect(refreshed.refresh_token).not.toBe(provider.saved?.refresh_token)
      expect(decodeJwt(refreshed.access_token).aud).toEqual([resource])
    },
    TIMEOUT,
  )
})

/** The same application, with the https URL of its metadata document, used as its client_id where the server supports it. */
class DocumentProvider extends InMemoryProvider {
  constructor(
    callback: string,
    readonly clientMetadataUrl: string,
  ) {
    super(callback)
  }
}

describe('the MCP SDK client with a client ID metadata document, against oauthkit serve and the MCP server', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer | undefined
  let mcp: { resource: string; close(): Promise<void> } | undefined
  let callback: CallbackServer | undefined
  let browser: Browser | undefined
  let documents: HttpsServer | undefined
  let documentUrl = ''
  let fetched = 0

  beforeAll(async () => {
    dir = await tempDir('mcp-cimd')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    callback = await startCallbackServer()
    // The client's metadata document, at an https URL with a path (the SDK accepts no other clientMetadataUrl).
    const certificate = selfSignedCertificate(['localhost'], ['127.0.0.1'])
    const caFile = join(dir.path, 'document-ca.pem')
    await writeFile(caFile, certificate.cert)
    documents = createHttpsServer({ cert: certificate.cert, key: certificate.key }, (req, res) => {
      if (req.url !== '/oauth/client.json') return void res.writeHead(404).end()
      fetched++
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'max-age=300' }).end(
        JSON.stringify({
          client_id: documentUrl,
          client_name: 'MCP SDK document client',
          redirect_uris: [(callback as CallbackServer).redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
          scope: 'mcp',
        }),
      )
    })
    await new Promise<void>((resolve) => (documents as HttpsServer).listen(0, '127.0.0.1', resolve))
    documentUrl = `https://127.0.0.1:${((documents as HttpsServer).address() as AddressInfo).port}/oauth/client.json`
    const resource = `http://127.0.0.1:${await freePort()}/mcp`
    server = await startServer(
      db,
      [
        '--token-format',
        'jwt',
        '--client-metadata-documents',
        '--client-metadata-documents-scope',
        'mcp',
        '--client-metadata-documents-allow-loopback',
        '--resource',
        resource,
      ],
      { NODE_EXTRA_CA_CERTS: caFile },
    )
    mcp = (await startMcpServer({ issuer: server.issuer, port: Number(new URL(resource).port) })) as { resource: string; close(): Promise<void> }
    await addUser(db, 'alice', PASSWORD)
    browser = await launchBrowser()
  }, TIMEOUT)

  afterAll(async () => {
    await browser?.close()
    await callback?.close()
    await mcp?.close()
    await server?.stop()
    documents?.closeAllConnections()
    await new Promise((resolve) => (documents === undefined ? resolve(undefined) : documents.close(resolve)))
    await dir?.remove()
  }, TIMEOUT)

  it(
    'uses its document URL as client_id, signs the user in through the pages, lists and calls the tools, and refreshes its token',
    async () => {
      const running = server as RunningServer
      // The development option says so loudly at start-up.
      expect(running.output()).toMatch(/WARNING: --client-metadata-documents-allow-loopback is on/)
      const resource = (mcp as { resource: string }).resource
      const provider = new DocumentProvider((callback as CallbackServer).redirectUri, documentUrl)
      const client = new Client({ name: 'oauthkit-e2e', version: '1.0.0' })

      // 1. 401 → RFC 9728 → RFC 8414, which says client_id_metadata_document_supported: no registration, the URL is the client_id.
      await expect(client.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError)
      expect(provider.information?.client_id).toBe(documentUrl)
      const authorizationUrl = provider.authorizationUrl as URL
      expect(`${authorizationUrl.origin}${authorizationUrl.pathname}`).toBe(`${running.issuer}/authorize`)
      expect(authorizationUrl.searchParams.get('client_id')).toBe(documentUrl)
      expect(authorizationUrl.searchParams.get('resource')).toBe(resource)
      expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256')

      // 2. The user signs in and allows; the consent page says where the document is and that its name is unverified.
      const page = await (browser as Browser).newPage()
      await page.goto(authorizationUrl.href)
      await signIn(page, 'alice', PASSWORD)
      await page.waitForURL(/\/consent\?/)
      const unverified = await page.locator('#unverified').textContent()
      expect(unverified).toContain(`published at ${new URL(documentUrl).host}`)
      expect(unverified).toContain('not verified by the operator')
      expect(await page.locator('h1').textContent()).toContain('MCP SDK document client')
      await screenshot(page, 'mcp-cimd-consent')
      await page.getByRole('button', { name: 'Allow' }).click()
      await page.waitForURL((url) => url.href.startsWith((callback as CallbackServer).redirectUri))
      const returned = (callback as CallbackServer).received.at(-1) as URL
      expect(returned.searchParams.get('iss')).toBe(running.issuer)
      const code = returned.searchParams.get('code') as string

      // 3. The SDK redeems the code, identified by the document URL alone: a JWT for this MCP server, naming that client.
      const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider })
      await transport.finishAuth(code)
      const access = decodeJwt(provider.saved?.access_token as string)
      expect(access).toMatchObject({ aud: [resource], client_id: documentUrl, scope: 'mcp' })

      // 4. Connected, the tools work, and the server sees the document's client.
      const connected = new Client({ name: 'oauthkit-e2e', version: '1.0.0' })
      await connected.connect(new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider }))
      const tools = await connected.listTools()
      expect(tools.tools.map((tool) => tool.name)).toContain('whoami')
      const called = await connected.callTool({ name: 'whoami' })
      expect(JSON.parse((called.content as { text: string }[])[0]?.text ?? '{}')).toEqual({ sub: access.sub, client_id: documentUrl })
      await connected.close()

      // 5. The SDK refreshes: a new pair, the old refresh token rotated away.
      const refreshed = await refreshAuthorization(running.issuer, {
        clientInformation: provider.information as OAuthClientInformationMixed,
        refreshToken: provider.saved?.refresh_token as string,
        resource: new URL(resource),
      })
      expect(refreshed.access_token).not.toBe(provider.saved?.access_token)
      expect(refreshed.refresh_token).not.toBe(provider.saved?.refresh_token)
      expect(decodeJwt(refreshed.access_token)).toMatchObject({ aud: [resource], client_id: documentUrl })
      // Fetched by the server, and kept in its cache (max-age=300) across the pages, the code and the refresh.
      expect(fetched).toBeGreaterThanOrEqual(1)
      expect(fetched).toBeLessThanOrEqual(2)
    },
    TIMEOUT,
  )
})
