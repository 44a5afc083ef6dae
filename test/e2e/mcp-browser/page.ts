/**
 * An MCP client application running in a web page (bundled by test/e2e/mcp-browser.test.ts with Vite): the official
 * MCP TypeScript SDK's client, with an `OAuthClientProvider` that keeps its registration, tokens, PKCE verifier and
 * state in `sessionStorage` and sends the user to the authorization server by navigating the page.
 *
 * `/?resource=URL` starts: the MCP server answers 401, the SDK discovers (RFC 9728, RFC 8414), registers (RFC 7591)
 * and the page navigates to `/authorize`. `/callback` finishes: the code is redeemed, the tools are listed and called,
 * the stored access token is made to expire so that the next call meets a 401 and the SDK refreshes and retries.
 * What happened is written as JSON into `#result`, and `#status` says `done` (or `error`), for the test to read.
 * Every request the SDK makes goes through {@link observed}, which records what the page could read of each answer.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'

const PREFIX = 'mcp-browser:'

function load<T>(name: string): T | undefined {
  const text = sessionStorage.getItem(PREFIX + name)
  return text === null ? undefined : (JSON.parse(text) as T)
}

function save(name: string, value: unknown): void {
  sessionStorage.setItem(PREFIX + name, JSON.stringify(value))
}

/** One request of the SDK, as the page saw its answer (what CORS lets a page read, and nothing more). */
interface Seen {
  readonly method: string
  readonly url: string
  /** 0 when the browser refused to show the answer (a CORS failure is a `TypeError`). */
  readonly status: number
  readonly wwwAuthenticate: string | null
}

/** `fetch`, recording each answer the page was allowed to read, kept across the navigation to the authorization server. */
const observed: typeof fetch = async (input, init) => {
  const url = input instanceof Request ? input.url : String(input)
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET')
  const record = (entry: Seen) => save('seen', [...(load<Seen[]>('seen') ?? []), entry])
  try {
    const response = await fetch(input, init)
    record({ method, url, status: response.status, wwwAuthenticate: response.headers.get('WWW-Authenticate') })
    return response
  } catch (error) {
    record({ method, url, status: 0, wwwAuthenticate: null })
    throw error
  }
}

/** What a browser MCP client keeps in `sessionStorage`: the SDK asks it for its registration, tokens and verifier. */
class SessionStorageProvider implements OAuthClientProvider {
  get redirectUrl(): string {
    return `${location.origin}/callback`
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP SDK client in a web page',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'mcp',
    }
  }

  state(): string {
    const state = crypto.randomUUID()
    save('state', state)
    return state
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return load('client')
  }

  saveClientInformation(information: OAuthClientInformationMixed): void {
    save('client', information)
  }

  tokens(): OAuthTokens | undefined {
    return load('tokens')
  }

  saveTokens(tokens: OAuthTokens): void {
    save('tokens', tokens)
  }

  redirectToAuthorization(url: URL): void {
    window.location.assign(url.href)
  }

  saveCodeVerifier(verifier: string): void {
    save('verifier', verifier)
  }

  codeVerifier(): string {
    const verifier = load<string>('verifier')
    if (verifier === undefined) throw new Error('no PKCE verifier stored')
    return verifier
  }
}

const provider = new SessionStorageProvider()
const transportTo = (resource: string) => new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider, fetch: observed })
const newClient = () => new Client({ name: 'oauthkit-browser-e2e', version: '1.0.0' })

function show(status: string, result: unknown): void {
  ;(document.getElementById('result') as HTMLElement).textContent = JSON.stringify(result)
  ;(document.getElementById('status') as HTMLElement).textContent = status
}

/** The first visit: the MCP server's 401 starts discovery and registration, and the page navigates away to sign in. */
async function start(): Promise<void> {
  const resource = new URLSearchParams(location.search).get('resource')
  if (resource === null) throw new Error('no ?resource=')
  save('resource', resource)
  try {
    await newClient().connect(transportTo(resource))
    show('error', { error: 'connected without authorization' })
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error
    ;(document.getElementById('status') as HTMLElement).textContent = 'redirecting'
  }
}

/** Back from the authorization server: redeem the code, use the tools, refresh, use them again. */
async function callback(): Promise<void> {
  const query = new URLSearchParams(location.search)
  const resource = load<string>('resource') as string
  if (query.get('state') !== load<string>('state')) throw new Error(`state mismatch: ${query.get('state') ?? '(none)'}`)
  const code = query.get('code')
  if (code === null) throw new Error(`no code: ${query.toString()}`)
  await transportTo(resource).finishAuth(code)
  const first = load<OAuthTokens>('tokens') as OAuthTokens

  const client = newClient()
  await client.connect(transportTo(resource))
  const tools = await client.listTools()
  const answer = await client.callTool({ name: 'whoami' })
  // The access token expires (here: is replaced by one the MCP server refuses): the next call meets a 401, and the SDK
  // refreshes with the stored refresh token and sends the call again with the new access token.
  save('tokens', { ...first, access_token: 'expired' })
  const again = await client.callTool({ name: 'whoami' })
  const second = load<OAuthTokens>('tokens') as OAuthTokens
  await client.close()

  const text = (result: Awaited<ReturnType<Client['callTool']>>) => JSON.parse((result.content as { text: string }[])[0]?.text ?? 'null') as unknown
  show('done', {
    iss: query.get('iss'),
    clientId: provider.clientInformation()?.client_id,
    tools: tools.tools.map((tool) => tool.name),
    answer: text(answer),
    answerAfterRefresh: text(again),
    first: { access: first.access_token, refresh: first.refresh_token },
    second: { access: second.access_token, refresh: second.refresh_token },
    seen: load<Seen[]>('seen') ?? [],
  })
}

;(location.pathname === '/callback' ? callback() : start()).catch((error: unknown) => {
  show('error', { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), seen: load<Seen[]>('seen') ?? [] })
})
