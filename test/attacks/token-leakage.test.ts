/**
 * Token leakage (RFC 6819 §4.6.7, §4.4.1.1; RFC 6749 §10.3; RFC 9700 §4.2, §4.3): after a session of ordinary and
 * failing traffic (sign-in, the code flow, refresh, introspection, revocation, the password and client credentials
 * grants, attacks, and a token request that fails inside the server), nothing the server logged holds a secret; every
 * token endpoint response forbids caching; every page and redirect of the browser flow sends no Referer onwards.
 *
 * "Logged" is everything the app gives its `log` hook (the request lines and errors `oauthkit serve` prints) and
 * everything written through `console`, where the adapters' default error hooks write.
 */
import { inspect } from 'node:util'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  authorize,
  authorizePath,
  callApi,
  decide,
  hiddenField,
  PASSWORD,
  pkce,
  post,
  redeem,
  REDIRECT_URI,
  refresh,
  SESSION_COOKIE,
  signIn,
  startServer,
  type AttackServer,
  type TestClient,
  type TokenBody,
} from './support.js'

let server: AttackServer
/** What went through `console` while the traffic ran. */
const consoleOutput: string[] = []
/** Every secret that travelled, by kind. */
const secrets = new Map<string, Set<string>>()
/** Every response of the token endpoint, by what it answered. */
const tokenResponses: Array<[string, Response]> = []
/** The pages of the login and consent flow and the redirects between them, by what they are. */
const pages: Array<[string, Response]> = []
/** The redirect that takes the code to the client. */
let codeRedirect: Response

function remember(kind: string, value: string | null | undefined): void {
  expect(value).toEqual(expect.any(String))
  const set = secrets.get(kind) ?? new Set<string>()
  set.add(value as string)
  secrets.set(kind, set)
}

async function tokens(label: string, response: Response): Promise<TokenBody> {
  tokenResponses.push([label, response])
  const body = (await response.clone().json()) as TokenBody
  if (body.access_token !== undefined) remember('access token', body.access_token)
  if (body.refresh_token !== undefined) remember('refresh token', body.refresh_token)
  return body
}

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleOutput.push(args.map((arg) => (typeof arg === 'string' ? arg : inspect(arg, { depth: 10 }))).join(' '))
    })
  }
  // Strict rotation, so that the replayed refresh token below is reuse (400), as its label says.
  server = await startServer({ enablePasswordGrant: true, refreshTokenRetryWindow: 0 })
  const client = await server.addClient()
  const poster = await server.addClient({ name: 'Poster', tokenEndpointAuthMethod: 'client_secret_post' })
  const legacy = await server.addClient({ name: 'Legacy', grantTypes: ['password', 'refresh_token'], scopes: ['read'] })
  const machine = await server.addClient({ name: 'Billing', grantTypes: ['client_credentials'], scopes: ['read'] })
  for (const registered of [client, poster, legacy, machine]) remember('client secret', registered.clientSecret)
  remember('password', PASSWORD)
  await server.addUser('alice')

  // Sign-in, consent and the code, through the pages.
  const alice = server.browser()
  const first = pkce()
  remember('code verifier', first.verifier)
  const path = authorizePath(client.clientId, first.challenge)
  const toLogin = await alice.get(path)
  pages.push(['the redirect to the login page (303)', toLogin])
  const loginForm = await alice.get(`/login?return_to=${encodeURIComponent(path)}`)
  pages.push(['the login page', loginForm])
  const csrf = hiddenField(await loginForm.clone().text(), 'csrf_token')
  pages.push(['the login page after a wrong password (401)', await alice.post('/login', { csrf_token: csrf, return_to: path, username: 'alice', password: `${PASSWORD}!` })])
  remember('password', `${PASSWORD}!`)
  pages.push(['the login page refusing a forged form (403)', await alice.post('/login', { csrf_token: 'forged', return_to: path, username: 'alice', password: PASSWORD })])
  const signedIn = await signIn(alice, path)
  pages.push(['the redirect after signing in (303)', signedIn])
  remember('session cookie', alice.cookies.get(SESSION_COOKIE))
  pages.push(['the consent page', await alice.get(`/consent?return_to=${encodeURIComponent(path)}`)])
  const allowed = await decide(alice, path, 'allow')
  codeRedirect = allowed
  const code = new URL(allowed.headers.get('Location') as string).searchParams.get('code')
  remember('code', code)
  pages.push(['the home page', await alice.get('/')])
  pages.push(['the sign-out page', await alice.get('/logout')])
  pages.push(['the error page of an unknown client', await alice.get(authorizePath('no-such-client', first.challenge))])
  const formPost = pkce()
  const formPostPage = await alice.get(authorizePath(client.clientId, formPost.challenge, { response_mode: 'form_post' }))
  pages.push(['the form_post page carrying the code', formPostPage])
  remember('code', hiddenField(await formPostPage.clone().text(), 'code'))

  // The code at the token endpoint, refresh, introspection, the API, revocation.
  const issued = await tokens('authorization_code grant (200)', await redeem(server, client, code as string, first.verifier))
  await tokens('replayed code: invalid_grant (400)', await redeem(server, client, code as string, first.verifier))
  const second = await obtainFreshTokens(client)
  const rotated = await tokens('refresh_token grant (200)', await refresh(server, client, second.refresh_token as string))
  await tokens('replayed refresh token: invalid_grant (400)', await refresh(server, client, second.refresh_token as string))
  await post(server, '/introspect', { token: rotated.access_token as string }, client)
  await callApi(server, rotated.access_token as string)
  await callApi(server, issued.access_token as string)
  await post(server, '/revoke', { token: rotated.refresh_token as string }, client)

  // client_secret_post, the password grant, client credentials, and failures.
  const posted = pkce()
  remember('code verifier', posted.verifier)
  const postedCode = new URL((await authorize(alice, authorizePath(poster.clientId, posted.challenge))).headers.get('Location') as string).searchParams.get('code')
  remember('code', postedCode)
  await tokens(
    'authorization_code grant with client_secret_post (200)',
    await post(server, '/token', {
      grant_type: 'authorization_code',
      code: postedCode as string,
      redirect_uri: REDIRECT_URI,
      code_verifier: posted.verifier,
      client_id: poster.clientId,
      client_secret: poster.clientSecret as string,
    }),
  )
  await tokens('password grant (200)', await post(server, '/token', { grant_type: 'password', username: 'alice', password: PASSWORD, scope: 'read' }, legacy))
  await tokens('password grant with a wrong password: invalid_grant (400)', await post(server, '/token', { grant_type: 'password', username: 'alice', password: `${PASSWORD}!`, scope: 'read' }, legacy))
  await tokens('client_credentials grant (200)', await post(server, '/token', { grant_type: 'client_credentials', scope: 'read' }, machine))
  remember('client secret', `${machine.clientSecret as string}x`)
  await tokens('wrong client secret: invalid_client (401)', await post(server, '/token', { grant_type: 'client_credentials' }, { clientId: machine.clientId, clientSecret: `${machine.clientSecret as string}x` }))
  await tokens('unknown grant type: unsupported_grant_type (400)', await post(server, '/token', { grant_type: 'urn:example:nope' }, machine))
  await tokens('Basic and client_secret at once: invalid_request (400)', await post(server, '/token', { grant_type: 'client_credentials', client_id: machine.clientId, client_secret: machine.clientSecret as string }, machine))
  tokenResponses.push(['a GET: invalid_request (405)', await fetch(`${server.origin}/token?code=${encodeURIComponent(code as string)}&client_secret=${encodeURIComponent(client.clientSecret as string)}`)])

  // A token request that fails inside the server, with a code, a verifier and a secret in it.
  const failing = pkce()
  remember('code verifier', failing.verifier)
  const failingCode = new URL((await authorize(alice, authorizePath(client.clientId, failing.challenge))).headers.get('Location') as string).searchParams.get('code')
  remember('code', failingCode)
  vi.spyOn(server.store.tokens, 'insert').mockRejectedValueOnce(new Error('disk I/O error'))
  await tokens('a failure inside the server: server_error (500)', await redeem(server, client, failingCode as string, failing.verifier))
})

afterAll(async () => {
  vi.restoreAllMocks()
  await server?.close()
})

async function obtainFreshTokens(client: TestClient): Promise<TokenBody> {
  const { verifier, challenge } = pkce()
  remember('code verifier', verifier)
  const response = await authorize(server.browser(), authorizePath(client.clientId, challenge))
  const code = new URL(response.headers.get('Location') as string).searchParams.get('code')
  remember('code', code)
  return tokens('authorization_code grant (200)', await redeem(server, client, code as string, verifier))
}

describe('RFC 6819 §4.6.7: token leakage via log files', () => {
  it('RFC 6819 §4.6.7: the log saw the traffic: a line per request, and the failure inside the server', () => {
    const paths = new Set(server.logs.map((entry) => entry.path))
    for (const path of ['/authorize', '/login', '/consent', '/token', '/introspect', '/revoke']) expect(paths).toContain(path)
    expect(server.logs).toContainEqual(expect.objectContaining({ path: '/token', status: 500 }))
    expect(server.logs).toContainEqual(expect.objectContaining({ level: 'error', error: expect.stringContaining('disk I/O error') }))
    // Each token request answered as its label says, so the traffic above is what it claims to be.
    const expected = tokenResponses.map(([label]) => [label, Number(/\((\d{3})\)$/.exec(label)?.[1])])
    expect(tokenResponses.map(([label, response]) => [label, response.status])).toEqual(expected)
  })

  it.each(['password', 'client secret', 'code', 'code verifier', 'access token', 'refresh token', 'session cookie'])(
    'RFC 6819 §4.6.7: no %s appears in anything the server logged',
    (kind) => {
      const logged = [JSON.stringify(server.logs), ...consoleOutput].join('\n')
      const values = [...(secrets.get(kind) ?? [])]
      expect(values.length).toBeGreaterThan(0)
      for (const value of values) {
        expect(logged).not.toContain(value)
        expect(logged).not.toContain(encodeURIComponent(value))
      }
    },
  )
})

describe('RFC 6749 §10.3: no token response is cached', () => {
  it('RFC 6749 §10.3: every response of the token endpoint, errors included, has Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1)', () => {
    expect(tokenResponses.length).toBeGreaterThanOrEqual(12)
    const headers = tokenResponses.map(([label, response]) => [label, response.headers.get('Cache-Control'), response.headers.get('Pragma')])
    expect(headers).toEqual(tokenResponses.map(([label]) => [label, 'no-store', 'no-cache']))
  })

  it('RFC 9700 §4.3.1: the authorization response carrying the code is not cached either', () => {
    expect(codeRedirect.status).toBe(302)
    expect(codeRedirect.headers.get('Cache-Control')).toBe('no-store')
  })
})

describe('RFC 9700 §4.2.4: no credentials leak through the Referer header', () => {
  it('RFC 9700 §4.2.4: every page of the login and consent flow, and each redirect between them, has Referrer-Policy: no-referrer', () => {
    expect(pages.length).toBeGreaterThanOrEqual(10)
    const policies = pages.map(([label, response]) => [label, response.headers.get('Referrer-Policy')])
    expect(policies).toEqual(pages.map(([label]) => [label, 'no-referrer']))
  })
})
