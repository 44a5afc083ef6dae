#!/usr/bin/env node
/**
 * An MCP server protected by oauthkit: the official MCP TypeScript SDK's server, behind a Bearer check of JWT access
 * tokens issued by `oauthkit serve --token-format jwt`, and the RFC 9728 metadata that sends MCP clients there.
 *
 *   node examples/mcp-server/server.mjs --issuer http://127.0.0.1:3000 --port 3001
 *
 * An MCP client that meets its 401 reads /.well-known/oauth-protected-resource/mcp, then the authorization server's
 * metadata, registers itself, sends the user through sign-in and consent, and calls the tools with its token.
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { createRemoteJWKSet } from 'jose'
import { protectedResourceMetadataUrl, ResourceEndpoint } from 'oauthkit'
import { protectedResourceMetadata } from 'oauthkit/fetch'

/**
 * CORS of the MCP endpoint, for MCP clients running in a web page of another origin: any origin may call it, never
 * with credentials (no `Access-Control-Allow-Credentials`: the caller is who its Bearer token says, not its cookies).
 * The page may read the 401's challenge (where the RFC 9728 document is) and the session ID of a stateful server.
 */
const MCP_CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'WWW-Authenticate, Mcp-Session-Id' }
/** The answer to a preflight: the methods of the Streamable HTTP transport and the headers an MCP client sends. */
const MCP_PREFLIGHT = {
  ...MCP_CORS,
  'Access-Control-Allow-Methods': 'GET, POST, DELETE',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID',
  'Access-Control-Max-Age': '7200',
}

/**
 * Starts the MCP server at `http://HOST:PORT/mcp`.
 *
 * @param {{ issuer: string, port?: number, host?: string, scope?: string }} options - the authorization server's issuer, and the
 *   scope a token needs (default `mcp`)
 * @returns {Promise<{ resource: string, close(): Promise<void> }>}
 */
export async function startMcpServer({ issuer, port = 3001, host = '127.0.0.1', scope = 'mcp' }) {
  const http = createServer()
  await new Promise((resolve, reject) => {
    http.once('error', reject)
    http.listen(port, host, resolve)
  })
  const resource = `http://${host}:${http.address().port}/mcp`
  const metadataUrl = protectedResourceMetadataUrl(resource)
  const metadata = protectedResourceMetadata({ resource, authorization_servers: [issuer], scopes_supported: [scope], resource_name: 'oauthkit example' })
  // Tokens are JWTs checked here with the authorization server's published keys: their audience must be this resource.
  const bearer = new ResourceEndpoint({ jwt: { key: createRemoteJWKSet(new URL(`${issuer}/jwks.json`)), issuer, audience: resource }, resourceMetadata: metadataUrl })

  http.on('request', (req, res) => {
    handle(req, res).catch((error) => {
      console.error('mcp-server: request failed', error)
      if (!res.headersSent) res.writeHead(500).end()
    })
  })

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', resource)
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) {
      const answer = await metadata(new Request(url, { method: req.method, headers: /** @type {Record<string, string>} */ (req.headers) }))
      res.writeHead(answer.status, Object.fromEntries(answer.headers)).end(Buffer.from(await answer.arrayBuffer()))
      return
    }
    if (url.pathname !== '/mcp') return void res.writeHead(404).end()
    // Every answer of the endpoint, the 401 included, is readable by a page of another origin; a preflight is answered here.
    for (const [name, value] of Object.entries(MCP_CORS)) res.setHeader(name, value)
    if (req.method === 'OPTIONS') return void res.writeHead(204, MCP_PREFLIGHT).end()
    const checked = await bearer.validateProtectedResourceRequest(url, req.method ?? 'GET', undefined, /** @type {Record<string, string>} */ (req.headers), [scope])
    if (!checked.valid) return void res.writeHead(checked.response.status, checked.response.headers).end(checked.response.body)
    // What the tools see of the caller (the SDK passes it on as `extra.authInfo`).
    Object.assign(req, {
      auth: { token: 'verified', clientId: checked.token.clientId, scopes: [...checked.token.scopes], extra: { sub: checked.token.user?.userId } },
    })
    const server = new McpServer({ name: 'oauthkit-example', version: '1.0.0' })
    server.registerTool('whoami', { description: 'Who the access token was issued for' }, async (extra) => ({
      content: [{ type: 'text', text: JSON.stringify({ sub: extra.authInfo?.extra?.sub, client_id: extra.authInfo?.clientId }) }],
    }))
    // Stateless: one server and transport per request, as the SDK's stateless example does.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => {
      void transport.close()
      void server.close()
    })
    await server.connect(transport)
    await transport.handleRequest(req, res)
  }

  return {
    resource,
    close: () =>
      new Promise((resolve) => {
        http.close(() => resolve(undefined))
        http.closeAllConnections()
      }),
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { issuer: { type: 'string', default: 'http://127.0.0.1:3000' }, port: { type: 'string', default: '3001' }, scope: { type: 'string', default: 'mcp' } } })
  const { resource } = await startMcpServer({ issuer: values.issuer, port: Number(values.port), scope: values.scope })
  console.log(`mcp-server: listening at ${resource}, trusting tokens of ${values.issuer}`)
}
