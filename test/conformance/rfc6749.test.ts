/**
 * RFC 6749 conformance of the token and authorization endpoints: one `describe` per section, one `it` per requirement,
 * driven through the public API over each conformance backend: the test double and `StoreValidator` on the memory,
 * SQLite and PostgreSQL stores. Sample requests are the RFC's own where they fit.
 */
import { describe, expect, it } from 'vitest'
import {
  AccessDeniedError,
  AuthorizationCodeGrant,
  BackendApplicationServer,
  BearerToken,
  InvalidClientError,
  LegacyApplicationServer,
  OAuth2Error,
  OAuth2Request,
  RefreshTokenGrant,
  RequestValidator,
  Server,
  TemporarilyUnavailableError,
  TokenEndpoint,
  ValidatorNotImplementedError,
  type BackendApplicationServerOptions,
  type Client,
  type FullServerOptions,
  type OAuth2ErrorCode,
  type OAuth2Response,
  type RequestBody,
  type RequestHeaders,
  type ServerOptions,
} from '../../src/index.js'
import {
  CONFORMANCE_BACKENDS,
  doubleHarness,
  type ConformanceBackend,
  type ConformanceHarness,
  type ConformanceToken,
} from '../support/conformance-backends.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestClient, type TestUser } from '../support/memory-validator.js'
import {
  AUTHORIZE_URI,
  authorizationUri,
  DEFAULT_ISSUER,
  expectDelivered,
  expectDeliveredError,
  expectNotRedirected,
  headerOf,
} from '../support/expect-authorization-response.js'

// RFC 6749 §2.3.1, §4.1.3, §4.4.2, §6: the sample client and its Basic header (base64 of "s6BhdRkqt3:gX1fBat3bV").
const RFC_CLIENT_ID = 's6BhdRkqt3'
const RFC_CLIENT_SECRET = 'gX1fBat3bV'
const RFC_BASIC = 'Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW'
// RFC 6749 §4.1.3: the sample code and redirect URI (the body carries it as https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb).
const RFC_CODE = 'SplxlOBeZQQYbYS6WxSbIA'
const RFC_REDIRECT_URI = 'https://client.example.com/cb'
const RFC_CODE_BODY = 'grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb'
// RFC 6749 §4.3.2 and §6: the sample resource owner and refresh token.
const RFC_USERNAME = 'johndoe'
const RFC_PASSWORD = 'A3ddj3w'
const RFC_REFRESH_TOKEN = 'tGzv3JOkF0XG5Qx2TlKWIA'

const OTHER_CLIENT_ID = 'other-client'
const OTHER_CLIENT_SECRET = 'other-secret'
const PUBLIC_CLIENT_ID = 'public-app'
// A client registered for client_secret_post (RFC 7591 §2): a store accepts its secret in the body only.
const POST_CLIENT_ID = 'post-client'
const POST_CLIENT_SECRET = 'post-secret'

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

type Body = Record<string, unknown>

interface Reported {
  readonly error: unknown
  readonly request: OAuth2Request | undefined
}

/**
 * Everything a test needs, fresh per test: the validator with the RFC's sample data (its code and refresh token saved
 * through the harness, so over a store as the store keeps them), and the three servers.
 */
async function fixture(harness: ConformanceHarness, options: BackendApplicationServerOptions & ServerOptions = {}) {
  const validator = harness.validator
  const reported: Reported[] = []
  const onError = (error: unknown, request: OAuth2Request | undefined) => {
    reported.push({ error, request })
  }
  await harness.addClient({ clientId: RFC_CLIENT_ID, secret: RFC_CLIENT_SECRET })
  await harness.addClient({ clientId: OTHER_CLIENT_ID, secret: OTHER_CLIENT_SECRET })
  await harness.addClient({ clientId: PUBLIC_CLIENT_ID })
  await harness.addClient({ clientId: POST_CLIENT_ID, secret: POST_CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post' })
  const user = await harness.addUser(RFC_USERNAME, RFC_PASSWORD)
  await harness.addCode(RFC_CODE, { clientId: RFC_CLIENT_ID, user, scopes: ['read', 'write'], redirectUri: RFC_REDIRECT_URI })
  await harness.addRefreshToken(RFC_REFRESH_TOKEN, { clientId: RFC_CLIENT_ID, user, scopes: ['read', 'write'] })
  const backend = new BackendApplicationServer(validator, { onError, ...options })
  const legacy = new LegacyApplicationServer(validator, { onError, ...options })
  const code = new TokenEndpoint({
    grantTypes: [new AuthorizationCodeGrant(validator), new RefreshTokenGrant(validator)],
    bearerToken: new BearerToken(validator),
    onError,
    allowInsecureTransport: options.allowInsecureTransport,
  })
  return { validator, harness, reported, backend, legacy, code, user }
}

type Fixture = Awaited<ReturnType<typeof fixture>>

interface TokenServer {
  createTokenResponse(uri: string, httpMethod?: string, body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response>
}

/** A form POST to the token endpoint, with extra headers (e.g. `Authorization`). */
function post(server: TokenServer, body: RequestBody, headers: Record<string, string> = {}): Promise<OAuth2Response> {
  return server.createTokenResponse(TOKEN_URI, 'POST', body, { ...FORM, ...headers })
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString()
}

/** A header by name, in any case. */
function header(res: OAuth2Response, name: string): string | undefined {
  const found = Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())
  return found?.[1]
}

/** `Authorization: Basic` of `userPass` as given: no form-urlencoding (what a careless client sends). */
function rawBasic(userPass: string): string {
  return 'Basic ' + btoa(String.fromCharCode(...new TextEncoder().encode(userPass)))
}

/** Asserts the RFC 6749 §5.1 shape of a successful response and returns its body. */
function expectToken(res: OAuth2Response): Body {
  expect(res.status, res.body).toBe(200)
  expect(header(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('application/json')
  expect(header(res, 'Cache-Control')).toBe('no-store')
  expect(header(res, 'Pragma')).toBe('no-cache')
  const body = JSON.parse(res.body) as Body
  expect(body.access_token).toEqual(expect.any(String))
  expect(body.access_token).not.toBe('')
  expect(body.token_type).toBe('Bearer')
  expect(body.expires_in).toEqual(expect.any(Number))
  expect(Number.isSafeInteger(body.expires_in) && (body.expires_in as number) > 0).toBe(true)
  // §5.1: parameters with a null value SHOULD be omitted.
  expect(Object.values(body)).not.toContain(null)
  return body
}

/**
 * Asserts a whole RFC 6749 §5.2 error response: status, `error`, a useful `error_description` in the §5.2 character
 * set, JSON, no caching, and the `WWW-Authenticate` challenge on a 401.
 */
function expectError(res: OAuth2Response, status: number, error: string, description?: RegExp): Body {
  expect(res.status, res.body).toBe(status)
  expect(header(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('application/json')
  expect(header(res, 'Cache-Control')).toBe('no-store')
  expect(header(res, 'Pragma')).toBe('no-cache')
  const body = JSON.parse(res.body) as Body
  expect(body.error).toBe(error)
  expect(body.error_description).toEqual(expect.any(String))
  expect(body.error_description).toMatch(DESCRIPTION_CHARSET)
  if (description !== undefined) expect(body.error_description).toMatch(description)
  // Only the §5.2 members, never a token.
  for (const key of Object.keys(body)) expect(['error', 'error_description', 'error_uri']).toContain(key)
  if (status === 401) {
    // §5.2 and RFC 7235 §3.1: a 401 carries a challenge matching the scheme the client used (Basic).
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic( |$)/i)
  }
  return body
}

// The authorization endpoint (RFC 6749 §3.1, §4.1.1-§4.1.2.1, §4.2.1-§4.2.2.1), driven through `Server` with the
// implicit grant enabled so that both response types are served.

const WEB_CLIENT_ID = 'web-app'
const MULTI_CLIENT_ID = 'multi-app'
const MULTI_REDIRECT_URIS = ['https://client.example.com/one', 'https://client.example.com/two']
// RFC 7636 Appendix B.
const PKCE_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const PKCE_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
// RFC 6749 §4.1.1: the sample state.
const STATE = 'xyz'
// States a client may send: reserved and percent characters, non-ASCII, markup.
const AWKWARD_STATES = ['a b+c&d=e;f', '%20%2B%25 already-encoded', '#frag?q=1/2', 'é日本😀', `"'<>\\{}|^\``]

/** A server with both response types, three clients and a user, fresh per test; 5xx errors land in `reported`. */
async function authorizationFixture(harness: ConformanceHarness, options: FullServerOptions = {}) {
  const validator = harness.validator
  const reported: Reported[] = []
  const onError = (error: unknown, request: OAuth2Request | undefined) => {
    reported.push({ error, request })
  }
  // A public client with PKCE (RFC 9700 §2.1.1) and both response types, the RFC's confidential sample client
  // exempted from PKCE, and a client with two registered redirect URIs.
  await harness.addClient({ clientId: WEB_CLIENT_ID, responseTypes: ['code', 'token'] })
  await harness.addClient({ clientId: RFC_CLIENT_ID, secret: RFC_CLIENT_SECRET, pkceRequired: false })
  await harness.addClient({ clientId: MULTI_CLIENT_ID, redirectUris: MULTI_REDIRECT_URIS, responseTypes: ['code', 'token'] })
  const user = await harness.addUser(RFC_USERNAME, RFC_PASSWORD)
  const server = new Server(validator, { enableImplicitGrant: true, onError, ...options })
  /** The user allowed the request (granting `scopes`, default the requested ones). */
  const allow = (uri: string, scopes?: readonly string[]) => server.createAuthorizationResponse(uri, 'GET', undefined, undefined, scopes, user)
  /** The user refused the request. */
  const deny = (uri: string) =>
    server.createAuthorizationErrorResponse(uri, 'GET', undefined, undefined, new AccessDeniedError('The resource owner denied the request'))
  /** A token request of the public web client for `code`. */
  const redeem = (code: string, params: Record<string, string> = {}) =>
    server.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'authorization_code', code, client_id: WEB_CLIENT_ID, ...params }), FORM)
  return { validator, harness, server, reported, user, allow, deny, redeem }
}

type AuthorizationFixture = Awaited<ReturnType<typeof authorizationFixture>>

/** A code request of the web client with an S256 challenge; `undefined` leaves a parameter out. */
function codeRequest(overrides: Record<string, string | undefined> = {}, base = AUTHORIZE_URI): string {
  return authorizationUri(
    {
      response_type: 'code',
      client_id: WEB_CLIENT_ID,
      redirect_uri: RFC_REDIRECT_URI,
      state: STATE,
      code_challenge: PKCE_CHALLENGE,
      code_challenge_method: 'S256',
      ...overrides,
    },
    base,
  )
}

/** An implicit grant request of the web client. */
function implicitRequest(overrides: Record<string, string | undefined> = {}): string {
  return authorizationUri({ response_type: 'token', client_id: WEB_CLIENT_ID, redirect_uri: RFC_REDIRECT_URI, state: STATE, scope: 'read', ...overrides })
}

/** `uri` with parameter `name` sent a second time (with `fallback` twice when it was absent). */
function withRepeated(uri: string, name: string, fallback: string): string {
  const url = new URL(uri)
  const value = url.searchParams.get(name)
  if (value === null) url.searchParams.append(name, fallback)
  url.searchParams.append(name, value ?? fallback)
  return url.href
}

/** Asserts a code response delivered in the query to `redirectUri` and returns the code; `state: null` for none. */
function expectCode(res: OAuth2Response, redirectUri = RFC_REDIRECT_URI, state: string | null = STATE): string {
  const params = expectDelivered(res, redirectUri, 'query')
  expect(params).toEqual({ code: expect.any(String), ...(state === null ? {} : { state }), iss: DEFAULT_ISSUER })
  return params.code as string
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (error: unknown) => error,
  )
}

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store). A test that overrides one
 * of the double's hooks is declared for the double alone; one that builds its own validator runs once.
 */
/**
 * The record of the access token in a token response, read from the validator's storage: what a store kept, not what
 * the core asked it to save, so a store that loses the client, the user or the scopes fails here.
 */
async function stored(harness: ConformanceHarness, token: Body): Promise<ConformanceToken | undefined> {
  return harness.token(token.access_token as string)
}

/**
 * Asserts the token response was saved for `grantType`, and that the validator's storage holds its access token as
 * `expected` says (read back, as {@link stored}).
 */
async function expectStored(harness: ConformanceHarness, token: Body, expected: { readonly grantType?: string } & Partial<ConformanceToken>): Promise<void> {
  const { grantType, ...record } = expected
  const saved = harness.saved.find((entry) => entry.token.access_token === token.access_token)
  expect(saved, 'the token response was saved').toBeDefined()
  if (grantType !== undefined) expect(saved?.context.grantType).toBe(grantType)
  expect(await stored(harness, token)).toMatchObject({ tokenType: 'access_token', ...record })
}

describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  /** Declares a test for the double alone: it overrides one of the double's hooks. */
  const itOnTheDouble = backend.double ? it : (): void => undefined
  /** Declares a test that brings its own validator, so it runs once, not once per backend. */
  const itOnce = itOnTheDouble
  const setup = async (options: BackendApplicationServerOptions & ServerOptions = {}) => fixture(await backend.open(), options)
  const authorizationSetup = async (options: FullServerOptions = {}) => authorizationFixture(await backend.open(), options)

  describe('RFC 6749 §2.3.1 Client Password', () => {
    it('§2.3.1 authenticates with HTTP Basic (the RFC sample header)', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(await stored(harness, token)).toMatchObject({ tokenType: 'access_token', clientId: RFC_CLIENT_ID, userId: undefined })
    })

    it('§2.3.1 accepts the Basic scheme name in any case', async () => {
      const { backend } = await setup()
      const lower = RFC_BASIC.replace('Basic', 'basic')
      expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: lower }))
    })

    it('§2.3.1 form-urlencoded Basic id and secret with ":" "+" " " and non-ASCII characters', async () => {
      const { backend, harness } = await setup()
      const clientId = 'app:1+ø 日本'
      const secret = 'se:cr+et wörd%&=/'
      await harness.addClient({ clientId, secret })
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: basic(clientId, secret) }))
      expect((await stored(harness, token))?.clientId).toBe(clientId)
    })

    it('§2.3.1 a "+" in Basic credentials is form-decoded as a space, so an unencoded "+" fails', async () => {
      const { backend, harness } = await setup()
      await harness.addClient({ clientId: 'plus-client', secret: 'a+b' })
      expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: rawBasic('plus-client:a%2Bb') }))
      expectError(await post(backend, 'grant_type=client_credentials', { Authorization: rawBasic('plus-client:a+b') }), 401, 'invalid_client')
    })

    it('§2.3.1 authenticates with client_id and client_secret in the body (client_secret_post)', async () => {
      const { backend, harness } = await setup()
      const clientId = 'app:1+ø 日本'
      const secret = 'se:cr+et wörd%&=/'
      // Registered for client_secret_post: a store accepts the secret by the registered method only.
      await harness.addClient({ clientId, secret, tokenEndpointAuthMethod: 'client_secret_post' })
      const token = expectToken(await post(backend, form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret })))
      expect((await stored(harness, token))?.clientId).toBe(clientId)
    })

    it('§2.3.1 Basic and client_secret in the same request is invalid_request', async () => {
      const { backend, harness } = await setup()
      const res = await post(backend, `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}&client_secret=${RFC_CLIENT_SECRET}`, {
        Authorization: RFC_BASIC,
      })
      expectError(res, 400, 'invalid_request', /authentication method/)
      expect(harness.saved).toHaveLength(0)
    })

    it('§2.3.1 a client_id in the body that differs from the Basic client is invalid_request', async () => {
      const { backend } = await setup()
      const res = await post(backend, `grant_type=client_credentials&client_id=${OTHER_CLIENT_ID}`, { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_request', /client_id/)
    })

    // The client_secret_post client: read from the query, these credentials would be the method it is registered for.
    it('§2.3.1 credentials in the token URI query are never read', async () => {
      const { backend, harness } = await setup()
      const uri = `${TOKEN_URI}?client_id=${POST_CLIENT_ID}&client_secret=${POST_CLIENT_SECRET}`
      expectError(await backend.createTokenResponse(uri, 'POST', 'grant_type=client_credentials', FORM), 401, 'invalid_client')
      const secretOnly = `${TOKEN_URI}?client_secret=${POST_CLIENT_SECRET}`
      const body = `grant_type=client_credentials&client_id=${POST_CLIENT_ID}`
      expectError(await backend.createTokenResponse(secretOnly, 'POST', body, FORM), 401, 'invalid_client')
      expect(harness.saved).toHaveLength(0)
      // The same credentials in the body authenticate the client.
      expectToken(await post(backend, form({ grant_type: 'client_credentials', client_id: POST_CLIENT_ID, client_secret: POST_CLIENT_SECRET })))
    })

    it('§2.3.1 a wrong Basic secret is 401 invalid_client with WWW-Authenticate', async () => {
      const { backend } = await setup()
      const res = await post(backend, 'grant_type=client_credentials', { Authorization: basic(RFC_CLIENT_ID, 'wrong') })
      expectError(res, 401, 'invalid_client')
      expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic /)
    })

    it('§2.3.1 a wrong client_secret_post secret is 401 invalid_client', async () => {
      const { backend, harness } = await setup()
      const res = await post(backend, form({ grant_type: 'client_credentials', client_id: POST_CLIENT_ID, client_secret: 'wrong' }))
      expectError(res, 401, 'invalid_client')
      expect(harness.saved).toHaveLength(0)
      // The right secret, sent the same way, is accepted: the secret alone was refused.
      expectToken(await post(backend, form({ grant_type: 'client_credentials', client_id: POST_CLIENT_ID, client_secret: POST_CLIENT_SECRET })))
    })

    it('§2.3.1 an unknown client is 401 invalid_client', async () => {
      const { backend } = await setup()
      expectError(await post(backend, 'grant_type=client_credentials', { Authorization: basic('nobody', 'x') }), 401, 'invalid_client')
    })
  })

  describe('RFC 6749 §3.2.1 Client Authentication', () => {
    it('§3.2.1 a client that sends credentials is authenticated with them, even a public one', async () => {
      const { legacy } = await setup()
      const res = await post(legacy, form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD }), {
        Authorization: basic(PUBLIC_CLIENT_ID, 'made-up'),
      })
      expectError(res, 401, 'invalid_client')
    })

    it('§3.2.1 a request with neither credentials nor client_id is 401 invalid_client', async () => {
      const { legacy } = await setup()
      expectError(await post(legacy, form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD })), 401, 'invalid_client')
    })
  })

  describe('RFC 6749 §3.1 / §3.2 Token Endpoint', () => {
    it.each(['GET', 'PUT', 'DELETE', 'HEAD'])('§3.2 %s is refused with 405 and Allow: POST', async (method) => {
      const { backend, harness } = await setup()
      const res = await backend.createTokenResponse(TOKEN_URI, method, 'grant_type=client_credentials', { Authorization: RFC_BASIC, ...FORM })
      expectError(res, 405, 'invalid_request', /POST/)
      expect(header(res, 'Allow')).toBe('POST')
      expect(harness.saved).toHaveLength(0)
    })

    it('§3.2 an http:// token URI is invalid_request (TLS is required)', async () => {
      const { backend, harness } = await setup()
      const res = await backend.createTokenResponse('http://as.example.com/token', 'POST', 'grant_type=client_credentials', {
        Authorization: RFC_BASIC,
        ...FORM,
      })
      expectError(res, 400, 'invalid_request', /TLS|https/)
      expect(harness.saved).toHaveLength(0)
    })

    it('§3.2 an http:// token URI is served with allowInsecureTransport', async () => {
      const { backend } = await setup({ allowInsecureTransport: true })
      const res = await backend.createTokenResponse('http://localhost:8080/token', 'POST', 'grant_type=client_credentials', {
        Authorization: RFC_BASIC,
        ...FORM,
      })
      expectToken(res)
    })

    it('§3.2 a parameter without a value is treated as omitted (scope= falls back to the default scope)', async () => {
      const { backend, harness } = await setup()
      for (const body of ['grant_type=client_credentials&scope=', 'grant_type=client_credentials&scope']) {
        const token = expectToken(await post(backend, body, { Authorization: RFC_BASIC }))
        // No scope was requested, so the granted (default) scope is returned (§5.1).
        expect(token.scope).toBe('read')
        expect((await stored(harness, token))?.scopes).toEqual(['read'])
      }
      expect(harness.saved).toHaveLength(2)
    })

    it('§3.2 grant_type without a value is treated as omitted: invalid_request', async () => {
      const { backend } = await setup()
      expectError(await post(backend, 'grant_type=&scope=read', { Authorization: RFC_BASIC }), 400, 'invalid_request', /grant_type/)
    })

    it('§3.2 an empty client_secret next to Basic is omitted, not a second authentication method', async () => {
      const { backend } = await setup()
      expectToken(await post(backend, 'grant_type=client_credentials&client_secret=', { Authorization: RFC_BASIC }))
    })

    it.each([
      ['grant_type', 'grant_type=client_credentials&grant_type=client_credentials'],
      ['scope', 'grant_type=client_credentials&scope=read&scope=write'],
      ['scope', 'grant_type=client_credentials&scope=&scope=read'],
      ['client_id', `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}&client_id=${RFC_CLIENT_ID}`],
    ])('§3.2 repeated %s is invalid_request (%s)', async (name, body) => {
      const { backend, harness } = await setup()
      expectError(await post(backend, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
      expect(harness.saved).toHaveLength(0)
    })

    it.each([
      ['code', `${RFC_CODE_BODY}&code=${RFC_CODE}`],
      ['redirect_uri', `${RFC_CODE_BODY}&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb`],
    ])('§3.2 repeated %s in a code request is invalid_request', async (name, body) => {
      const { code, harness } = await setup()
      expectError(await post(code, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
      // The code was not spent by the refused request.
      expect((await harness.code(RFC_CODE))?.used).toBe(false)
    })

    it.each([
      ['username', `grant_type=password&username=${RFC_USERNAME}&username=${RFC_USERNAME}&password=${RFC_PASSWORD}`],
      ['password', `grant_type=password&username=${RFC_USERNAME}&password=${RFC_PASSWORD}&password=${RFC_PASSWORD}`],
      ['refresh_token', `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&refresh_token=${RFC_REFRESH_TOKEN}`],
    ])('§3.2 repeated %s is invalid_request', async (name, body) => {
      const { legacy } = await setup()
      expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
    })

    it('§3.2 unrecognized parameters are ignored, even repeated or empty', async () => {
      const { backend } = await setup()
      const body = 'grant_type=client_credentials&scope=read&foo=1&foo=2&bar=&x-vendor=%E2%9C%93'
      const token = expectToken(await post(backend, body, { Authorization: RFC_BASIC }))
      expect(token.scope).toBeUndefined()
    })

    it('§3.2 query parameters of the token URI are ignored', async () => {
      const { backend, harness } = await setup()
      const uri = `${TOKEN_URI}?scope=write&grant_type=password`
      const token = expectToken(await backend.createTokenResponse(uri, 'POST', 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC, ...FORM }))
      expect(token.scope).toBeUndefined()
      await expectStored(harness, token, { grantType: 'client_credentials', scopes: ['read'] })
    })

    it('§3.2 grant_type only in the token URI query is missing: invalid_request', async () => {
      const { backend } = await setup()
      const res = await backend.createTokenResponse(`${TOKEN_URI}?grant_type=client_credentials`, 'POST', 'scope=read', { Authorization: RFC_BASIC, ...FORM })
      expectError(res, 400, 'invalid_request', /grant_type/)
    })

    it.each(['application/json', 'text/plain', 'multipart/form-data; boundary=x'])(
      '§3.2 a string body sent as %s is invalid_request',
      async (contentType) => {
        const { backend, harness } = await setup()
        const res = await backend.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
          Authorization: RFC_BASIC,
          'Content-Type': contentType,
        })
        expectError(res, 400, 'invalid_request', /x-www-form-urlencoded/)
        expect(harness.saved).toHaveLength(0)
      },
    )

    it.each(['application/x-www-form-urlencoded;charset=UTF-8', 'Application/X-WWW-Form-URLEncoded'])(
      '§3.2 a form body sent as %s is accepted',
      async (contentType) => {
        const { backend } = await setup()
        const res = await backend.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
          Authorization: RFC_BASIC,
          'Content-Type': contentType,
        })
        expectToken(res)
      },
    )

    it.each([
      ['URLSearchParams', new URLSearchParams({ grant_type: 'client_credentials' })],
      ['plain object', { grant_type: 'client_credentials' }],
    ])('§3.2 a %s body with Content-Type application/json is invalid_request', async (_kind, body) => {
      const { backend, harness } = await setup()
      const res = await backend.createTokenResponse(TOKEN_URI, 'POST', body, { Authorization: RFC_BASIC, 'Content-Type': 'application/json' })
      expectError(res, 400, 'invalid_request', /x-www-form-urlencoded/)
      expect(harness.saved).toHaveLength(0)
    })

    it.each([
      ['string', `grant_type=password&username=${RFC_USERNAME}&password=${RFC_PASSWORD}&scope=read+write`],
      ['URLSearchParams', new URLSearchParams({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'read write' })],
      ['plain object', { grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'read write' }],
    ])('§3.2 the body may be a %s', async (_kind, body) => {
      const { legacy, harness } = await setup()
      const token = expectToken(await post(legacy, body, { Authorization: RFC_BASIC }))
      expect(token.scope).toBeUndefined()
      await expectStored(harness, token, { grantType: 'password', scopes: ['read', 'write'] })
    })

    it('§3.2 a plain object body with an array value is a repeated parameter: invalid_request', async () => {
      const { legacy } = await setup()
      const body = { grant_type: 'password', username: [RFC_USERNAME, 'mallory'], password: RFC_PASSWORD }
      expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', /username/)
    })
  })

  describe('RFC 6749 §3.3 Access Token Scope', () => {
    it('§3.3 scope is a space-delimited list: "read write" grants both', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials&scope=read%20write', { Authorization: RFC_BASIC }))
      expect(token.scope).toBeUndefined()
      expect((await stored(harness, token))?.scopes).toEqual(['read', 'write'])
    })

    it('§3.3 the order of scope tokens does not matter', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials&scope=write+read', { Authorization: RFC_BASIC }))
      expect(token.scope).toBeUndefined()
      expect([...((await stored(harness, token))?.scopes ?? [])].sort()).toEqual(['read', 'write'])
    })

    it('§3.3 scope tokens are case-sensitive: "READ" is not "read"', async () => {
      const { backend, harness } = await setup()
      expectError(await post(backend, 'grant_type=client_credentials&scope=READ', { Authorization: RFC_BASIC }), 400, 'invalid_scope')
      expect(harness.saved).toHaveLength(0)
    })

    it.each(['read  write', ' read', 'read ', 'read\twrite', 'read "write"', 'read\\write', 'réad', 'read\nwrite'])(
      '§3.3 malformed scope %j is invalid_scope',
      async (scope) => {
        const { backend, harness } = await setup()
        const res = await post(backend, form({ grant_type: 'client_credentials', scope }), { Authorization: RFC_BASIC })
        expectError(res, 400, 'invalid_scope', /scope/)
        expect(harness.saved).toHaveLength(0)
      },
    )

    it('§3.3 an omitted scope gets the default scope, which the response names', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(token.scope).toBe('read')
      expect((await stored(harness, token))?.scopes).toEqual(['read'])
    })

    it('§3.3 an omitted scope with no default scope is invalid_scope', async () => {
      const { backend, harness } = await setup()
      await harness.addClient({ clientId: 'no-default', secret: 'secret', defaultScopes: [] })
      expectError(await post(backend, 'grant_type=client_credentials', { Authorization: basic('no-default', 'secret') }), 400, 'invalid_scope', /scope/)
    })

    it('§3.3 a scope the client may not have is invalid_scope', async () => {
      const { backend, legacy, harness } = await setup()
      expectError(await post(backend, 'grant_type=client_credentials&scope=read+admin', { Authorization: RFC_BASIC }), 400, 'invalid_scope')
      const password = form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'admin' })
      expectError(await post(legacy, password, { Authorization: RFC_BASIC }), 400, 'invalid_scope')
      expect(harness.saved).toHaveLength(0)
    })
  })

  describe('RFC 6749 §4.1.3 Access Token Request (authorization code)', () => {
    it('§4.1.3 the RFC sample request gets a token', async () => {
      const { code, harness, user } = await setup()
      const token = expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
      // No scope parameter in a code request, so the granted scope is returned (§5.1).
      expect(token.scope).toBe('read write')
      await expectStored(harness, token, { grantType: 'authorization_code', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read', 'write'] })
      expect((await harness.code(RFC_CODE))?.used).toBe(true)
    })

    it('§4.1.3 a code issued to another client is invalid_grant', async () => {
      const { code, harness } = await setup()
      const res = await post(code, RFC_CODE_BODY, { Authorization: basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) })
      expectError(res, 400, 'invalid_grant', /client/)
      expect(harness.saved).toHaveLength(0)
      // The stranger did not spend the rightful client's code.
      expect((await harness.code(RFC_CODE))?.used).toBe(false)
    })

    it('§4.1.3 a public client cannot redeem a code issued to another public client', async () => {
      const { code, harness, user } = await setup()
      await harness.addClient({ clientId: 'public-2' })
      await harness.addCode('pub-code', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'] })
      const res = await post(code, form({ grant_type: 'authorization_code', code: 'pub-code', client_id: 'public-2' }))
      expectError(res, 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(0)
      // The code's own client still redeems it.
      expectToken(await post(code, form({ grant_type: 'authorization_code', code: 'pub-code', client_id: PUBLIC_CLIENT_ID })))
    })

    it.each([
      ['omitted', `grant_type=authorization_code&code=${RFC_CODE}`],
      ['empty', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=`],
      ['with a trailing slash', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent(`${RFC_REDIRECT_URI}/`)}`],
      ['in another case', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent('https://CLIENT.example.com/cb')}`],
      ['with a query', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent(`${RFC_REDIRECT_URI}?x=1`)}`],
      ['another URI', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent('https://attacker.example/cb')}`],
    ])('§4.1.3 redirect_uri %s when the authorization request had one is invalid_grant', async (_case, body) => {
      const { code, harness } = await setup()
      expectError(await post(code, body, { Authorization: RFC_BASIC }), 400, 'invalid_grant', /redirect_uri/)
      expect(harness.saved).toHaveLength(0)
    })

    it('§4.1.3 redirect_uri may be omitted when the authorization request had none', async () => {
      const { code, harness, user } = await setup()
      await harness.addCode('no-redirect', { clientId: RFC_CLIENT_ID, user, scopes: ['read'] })
      const token = expectToken(await post(code, 'grant_type=authorization_code&code=no-redirect', { Authorization: RFC_BASIC }))
      await expectStored(harness, token, { grantType: 'authorization_code', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
    })

    it('§4.1.3 a code is single use: the second redemption is invalid_grant', async () => {
      const { code, harness } = await setup()
      const first = expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
      expectError(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(1)
      // RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it, as StoreValidator does (the double
      // does not: it only refuses the second use).
      if (!backend.double) {
        expect(await harness.isRevoked(first.access_token as string)).toBe(true)
        expect(await harness.isRevoked(first.refresh_token as string)).toBe(true)
      }
    })

    it('§4.1.3 concurrent redemptions of one code: exactly one gets a token', async () => {
      const { code, harness } = await setup()
      const responses = await Promise.all(Array.from({ length: 5 }, () => post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC })))
      const ok = responses.filter((res) => res.status === 200)
      expect(ok).toHaveLength(1)
      for (const res of responses) if (res.status !== 200) expectError(res, 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(1)
      expect((await harness.code(RFC_CODE))?.used).toBe(true)
      // RFC 6749 §4.1.2: over a store the losing redemptions are second uses of the code, and revoke what it issued.
      if (!backend.double) expect(await harness.isRevoked(JSON.parse((ok[0] as OAuth2Response).body).access_token as string)).toBe(true)
    })

    it('§4.1.3 a public client redeems its code with client_id alone when authentication is not required', async () => {
      const { code, harness, user } = await setup()
      await harness.addCode('pub-code', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'], redirectUri: RFC_REDIRECT_URI })
      const body = form({ grant_type: 'authorization_code', code: 'pub-code', redirect_uri: RFC_REDIRECT_URI, client_id: PUBLIC_CLIENT_ID })
      const token = expectToken(await post(code, body))
      await expectStored(harness, token, { clientId: PUBLIC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
    })

    it('§4.1.3 a confidential client that does not authenticate is 401 invalid_client', async () => {
      const { code, harness } = await setup()
      const res = await post(code, `${RFC_CODE_BODY}&client_id=${RFC_CLIENT_ID}`)
      expectError(res, 401, 'invalid_client')
      expect(harness.saved).toHaveLength(0)
      expect((await harness.code(RFC_CODE))?.used).toBe(false)
    })

    it('§4.1.3 a missing code is invalid_request', async () => {
      const { code } = await setup()
      const res = await post(code, `grant_type=authorization_code&redirect_uri=${encodeURIComponent(RFC_REDIRECT_URI)}`, { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_request', /code/)
    })

    it('§4.1.3 an empty code is treated as missing: invalid_request', async () => {
      const { code } = await setup()
      const res = await post(code, `grant_type=authorization_code&code=&redirect_uri=${encodeURIComponent(RFC_REDIRECT_URI)}`, { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_request', /code/)
    })

    it('§4.1.3 an unknown code is invalid_grant', async () => {
      const { code } = await setup()
      const res = await post(code, RFC_CODE_BODY.replace(RFC_CODE, 'not-a-code'), { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_grant')
    })
  })

  describe('RFC 6749 §4.1.4 Access Token Response (authorization code)', () => {
    it('§4.1.4 the response carries a refresh token the client can use', async () => {
      const { code, harness, user } = await setup()
      const token = expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
      expect(token.refresh_token).toEqual(expect.any(String))
      expect(token.refresh_token).not.toBe(token.access_token)
      const refresh = { tokenType: 'refresh_token', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read', 'write'] }
      expect(await harness.token(token.refresh_token as string)).toMatchObject({ ...refresh, live: true })
      const body = form({ grant_type: 'refresh_token', refresh_token: token.refresh_token as string })
      const refreshed = expectToken(await post(code, body, { Authorization: RFC_BASIC }))
      await expectStored(harness, refreshed, { grantType: 'refresh_token', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read', 'write'] })
      // Rotated (RFC 6749 §6): the refresh token it replaced is spent.
      expect(await harness.token(token.refresh_token as string)).toMatchObject({ ...refresh, live: false })
    })
  })

  describe('RFC 6749 §4.3.2 Access Token Request (password)', () => {
    it('§4.3.2 the RFC sample request gets a token and a refresh token', async () => {
      const { legacy, harness, user } = await setup()
      const token = expectToken(await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }))
      expect(token.refresh_token).toEqual(expect.any(String))
      expect(token.scope).toBe('read')
      await expectStored(harness, token, { grantType: 'password', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
      expect(await harness.token(token.refresh_token as string)).toMatchObject({ tokenType: 'refresh_token', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
    })

    it.each([
      ['username', 'grant_type=password&password=A3ddj3w'],
      ['username', 'grant_type=password&username=&password=A3ddj3w'],
      ['password', 'grant_type=password&username=johndoe'],
      ['password', 'grant_type=password&username=johndoe&password='],
    ])('§4.3.2 a missing %s is invalid_request (%s)', async (name, body) => {
      const { legacy, harness } = await setup()
      expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
      expect(harness.saved).toHaveLength(0)
    })

    it.each([
      ['a wrong password', 'grant_type=password&username=johndoe&password=wrong'],
      ['a password in another case', 'grant_type=password&username=johndoe&password=a3ddj3w'],
      ['an unknown user', 'grant_type=password&username=janedoe&password=A3ddj3w'],
    ])('§4.3.2 %s is invalid_grant', async (_case, body) => {
      const { legacy, harness } = await setup()
      expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(0)
    })
  })

  describe('RFC 6749 §4.4.2 Access Token Request (client credentials)', () => {
    it('§4.4.2 the RFC sample request gets a token', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(harness.saved[0]?.context.user).toBeUndefined()
      await expectStored(harness, token, { grantType: 'client_credentials', clientId: RFC_CLIENT_ID, userId: undefined, scopes: ['read'] })
    })

    it('§4.4.2 a public client identified by client_id alone is 401 invalid_client', async () => {
      const { backend, harness } = await setup()
      expectError(await post(backend, `grant_type=client_credentials&client_id=${PUBLIC_CLIENT_ID}`), 401, 'invalid_client')
      expectError(await post(backend, `grant_type=client_credentials&client_id=${PUBLIC_CLIENT_ID}&client_secret=`), 401, 'invalid_client')
      expect(harness.saved).toHaveLength(0)
    })

    it('§4.4.2 a confidential client identified by client_id alone is 401 invalid_client', async () => {
      const { backend } = await setup()
      expectError(await post(backend, `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}`), 401, 'invalid_client')
    })
  })

  describe('RFC 6749 §4.4.3 Access Token Response (client credentials)', () => {
    it('§4.4.3 no refresh token is issued by default', async () => {
      const { backend, harness } = await setup()
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(token).not.toHaveProperty('refresh_token')
      expect(harness.saved[0]?.token).not.toHaveProperty('refresh_token')
      await expectStored(harness, token, { clientId: RFC_CLIENT_ID })
    })

    it('§4.4.3 refreshTokenForClientCredentials: true issues a refresh token', async () => {
      const { backend, harness } = await setup({ refreshTokenForClientCredentials: true })
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(token.refresh_token).toEqual(expect.any(String))
      expect(await harness.token(token.refresh_token as string)).toMatchObject({ tokenType: 'refresh_token', clientId: RFC_CLIENT_ID, userId: undefined, scopes: ['read'], live: true })
    })
  })

  describe('RFC 6749 §5.1 Successful Response', () => {
    it('§5.1 a token response is 200 JSON with no-store, no-cache, Bearer and expires_in', async () => {
      const { backend } = await setup()
      const res = await post(backend, 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC })
      const token = expectToken(res)
      expect(header(res, 'Content-Type')).toMatch(/^application\/json(;|$)/)
      expect(token.expires_in).toBe(3600)
      expect(Object.keys(token).sort()).toEqual(['access_token', 'expires_in', 'token_type'])
    })

    it('§5.1 expires_in follows the configured lifetime', async () => {
      const { backend, harness } = await setup({ tokenExpiresIn: 600 })
      const before = Math.floor(Date.now() / 1000)
      const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(token.expires_in).toBe(600)
      // The validator keeps the same expiry.
      const expiresAt = (await stored(harness, token))?.expiresAt
      expect(expiresAt).toBeGreaterThanOrEqual(before + 600)
      expect(expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 600)
    })

    it('§5.1 each response has a fresh access token', async () => {
      const { backend } = await setup()
      const first = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      const second = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
      expect(first.access_token).not.toBe(second.access_token)
    })

    it('§5.1 scope is omitted when identical to the requested scope', async () => {
      const { backend, legacy } = await setup()
      expect(expectToken(await post(backend, 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC }))).not.toHaveProperty('scope')
      const password = form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'write read' })
      expect(expectToken(await post(legacy, password, { Authorization: RFC_BASIC }))).not.toHaveProperty('scope')
    })

    it('§5.1 scope is present when the request named none', async () => {
      const { backend, legacy } = await setup()
      expect(expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })).scope).toBe('read')
      const password = form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD })
      expect(expectToken(await post(legacy, password, { Authorization: RFC_BASIC })).scope).toBe('read')
    })
  })

  describe('RFC 6749 §5.2 Error Response', () => {
    const cases = [
      {
        error: 'invalid_request',
        status: 400,
        description: /grant_type/,
        send: (f: Fixture) => post(f.backend, 'scope=read', { Authorization: RFC_BASIC }),
      },
      {
        error: 'invalid_client',
        status: 401,
        description: /[Cc]lient/,
        send: (f: Fixture) => post(f.backend, 'grant_type=client_credentials', { Authorization: basic(RFC_CLIENT_ID, 'wrong') }),
      },
      {
        error: 'invalid_grant',
        status: 400,
        description: /code/,
        send: (f: Fixture) => post(f.code, RFC_CODE_BODY.replace(RFC_CODE, 'expired-code'), { Authorization: RFC_BASIC }),
      },
      {
        error: 'unauthorized_client',
        status: 400,
        description: /client_credentials/,
        send: async (f: Fixture) => {
          await f.harness.addClient({ clientId: 'web-only', secret: 'secret', grantTypes: ['authorization_code'] })
          return post(f.backend, 'grant_type=client_credentials', { Authorization: basic('web-only', 'secret') })
        },
      },
      {
        error: 'unsupported_grant_type',
        status: 400,
        description: /grant_type/,
        send: (f: Fixture) =>
          post(f.backend, form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x' }), { Authorization: RFC_BASIC }),
      },
      {
        error: 'invalid_scope',
        status: 400,
        description: /scope/,
        send: (f: Fixture) => post(f.backend, 'grant_type=client_credentials&scope=admin', { Authorization: RFC_BASIC }),
      },
    ]

    it.each(cases)('§5.2 $error is HTTP $status with a description, JSON and no-store', async ({ error, status, description, send }) => {
      const f = await setup()
      expectError(await send(f), status, error, description)
      expect(f.harness.saved).toHaveLength(0)
      // Client mistakes are not server errors.
      expect(f.reported).toHaveLength(0)
    })

    it('§5.2 an unsupported grant_type is unsupported_grant_type, on every server', async () => {
      const { backend, legacy, code } = await setup()
      expectError(await post(backend, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
      expectError(await post(legacy, RFC_CODE_BODY, { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
      expectError(await post(code, 'grant_type=client_credentials', { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
    })

    it('§5.2 a missing grant_type is invalid_request', async () => {
      const { legacy } = await setup()
      expectError(await post(legacy, 'username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }), 400, 'invalid_request', /grant_type/)
    })

    it('§5.2 unauthorized_client when validateGrantType refuses the grant', async () => {
      const { legacy, harness } = await setup()
      await harness.addClient({ clientId: 'no-password', secret: 'secret', grantTypes: ['client_credentials'] })
      const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: basic('no-password', 'secret') })
      expectError(res, 400, 'unauthorized_client', /password/)
      expect(harness.saved).toHaveLength(0)
    })

    it('§5.2 invalid_client after Basic authentication is 401 with WWW-Authenticate: Basic', async () => {
      const { legacy } = await setup()
      const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: basic('nobody', 'nothing') })
      expectError(res, 401, 'invalid_client')
      expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic realm="[^"]*"/)
    })

    itOnTheDouble('§5.2 invalid_client raised by a validator hook is still 401 with WWW-Authenticate', async () => {
      class RejectingValidator extends MemoryValidator {
        override async authenticateClient(): Promise<TestClient | undefined> {
          throw new InvalidClientError('The client is suspended')
        }
      }
      const { backend } = await fixture(doubleHarness(new RejectingValidator()))
      const res = await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })
      expectError(res, 401, 'invalid_client')
    })

    itOnTheDouble('§5.2 a validator hook that throws is 500 server_error with a generic description, reported to onError', async () => {
      const failure = new Error('connect ECONNREFUSED postgres://admin:hunter2@10.0.0.5/tokens')
      class FailingValidator extends MemoryValidator {
        override async saveBearerToken(): Promise<void> {
          throw failure
        }
      }
      const { backend, reported } = await fixture(doubleHarness(new FailingValidator()))
      const res = await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })
      const body = expectError(res, 500, 'server_error')
      expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
      expect(res.body).not.toContain('hunter2')
      expect(res.body).not.toContain('ECONNREFUSED')
      expect(res.body).not.toContain('saveBearerToken')
      expect(res.body).not.toMatch(/\bat .*\.[jt]s:\d+/)
      expect(reported).toHaveLength(1)
      expect(reported[0]?.error).toBe(failure)
      expect(reported[0]?.request).toBeInstanceOf(OAuth2Request)
      expect(reported[0]?.request?.grantType).toBe('client_credentials')
    })

    itOnTheDouble('§5.2 a hook throwing a non-Error value is server_error too', async () => {
      class FailingValidator extends MemoryValidator {
        override async validateUser(): Promise<TestUser | undefined> {
          throw 'ldap down: bind cn=admin,password=hunter2'
        }
      }
      const { legacy, reported } = await fixture(doubleHarness(new FailingValidator()))
      const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC })
      expectError(res, 500, 'server_error')
      expect(res.body).not.toContain('hunter2')
      expect(reported.map((r) => r.error)).toEqual(['ldap down: bind cn=admin,password=hunter2'])
    })

    itOnce('§5.2 a bare RequestValidator answers server_error, never a token', async () => {
      const reported: unknown[] = []
      const onError = (error: unknown) => {
        reported.push(error)
      }
      const validator = new RequestValidator()
      const backend = new BackendApplicationServer(validator, { onError })
      const legacy = new LegacyApplicationServer(validator, { onError })
      const code = new TokenEndpoint({ grantTypes: [new AuthorizationCodeGrant(validator)], bearerToken: new BearerToken(validator), onError })
      expectError(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }), 500, 'server_error')
      expectError(await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }), 500, 'server_error')
      expectError(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC }), 500, 'server_error')
      expectError(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }), 500, 'server_error')
      expect(reported).toHaveLength(4)
      for (const error of reported) {
        expect(error).toBeInstanceOf(ValidatorNotImplementedError)
        expect((error as ValidatorNotImplementedError).hook).toBe('authenticateClient')
      }
      // Without credentials the default clientAuthenticationRequired (true) refuses the client: still no token.
      expectError(await post(code, `${RFC_CODE_BODY}&client_id=${PUBLIC_CLIENT_ID}`), 401, 'invalid_client')
      expectError(await post(backend, `grant_type=client_credentials&client_id=${PUBLIC_CLIENT_ID}`), 401, 'invalid_client')
    })

    itOnce('§5.2 a validator missing only saveBearerToken answers server_error, so no unsaved token leaves', async () => {
      class PartialValidator extends RequestValidator {
        override async authenticateClient(request: OAuth2Request): Promise<Client | undefined> {
          return request.clientCredentials?.clientSecret === RFC_CLIENT_SECRET ? { clientId: RFC_CLIENT_ID } : undefined
        }
        override async validateGrantType(): Promise<boolean> {
          return true
        }
        override async getDefaultScopes(): Promise<readonly string[]> {
          return ['read']
        }
        override async validateScopes(): Promise<boolean> {
          return true
        }
      }
      const reported: unknown[] = []
      const backend = new BackendApplicationServer(new PartialValidator(), { onError: (error) => reported.push(error) })
      const res = await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })
      expectError(res, 500, 'server_error')
      expect(res.body).not.toContain('access_token')
      expect(reported).toHaveLength(1)
      expect((reported[0] as ValidatorNotImplementedError).hook).toBe('saveBearerToken')
    })
  })

  describe('RFC 6749 §6 Refreshing an Access Token', () => {
    it('§6 the RFC sample request gets a new access token with the original scope', async () => {
      const { legacy, harness, user } = await setup()
      const token = expectToken(await post(legacy, 'grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA', { Authorization: RFC_BASIC }))
      // No scope requested: treated as the original scope, and named in the response.
      expect(token.scope).toBe('read write')
      await expectStored(harness, token, { grantType: 'refresh_token', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read', 'write'] })
    })

    it('§6 the scope may narrow', async () => {
      const { legacy, harness } = await setup()
      const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
      expect(token.scope).toBeUndefined()
      expect((await stored(harness, token))?.scopes).toEqual(['read'])
    })

    it.each(['read write admin', 'admin', 'READ'])('§6 a scope %j beyond the original grant is invalid_scope', async (scope) => {
      const { legacy, harness } = await setup()
      const res = await post(legacy, form({ grant_type: 'refresh_token', refresh_token: RFC_REFRESH_TOKEN, scope }), { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_scope', /scope/)
      expect(harness.saved).toHaveLength(0)
      // The refused request did not spend the refresh token.
      expect((await harness.token(RFC_REFRESH_TOKEN))?.live).toBe(true)
    })

    it('§6 a refresh token issued to another client is invalid_grant', async () => {
      const { legacy, harness } = await setup()
      const res = await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) })
      expectError(res, 400, 'invalid_grant', /client/)
      expect(harness.saved).toHaveLength(0)
      // Another client's attempt neither spends nor revokes the rightful client's refresh token.
      expect(await harness.token(RFC_REFRESH_TOKEN)).toMatchObject({ revoked: false, live: true })
    })

    it('§6 a confidential client must authenticate to refresh', async () => {
      const { legacy } = await setup()
      expectError(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&client_id=${RFC_CLIENT_ID}`), 401, 'invalid_client')
    })

    it('§6 a missing refresh_token is invalid_request, an unknown one invalid_grant', async () => {
      const { legacy } = await setup()
      expectError(await post(legacy, 'grant_type=refresh_token', { Authorization: RFC_BASIC }), 400, 'invalid_request', /refresh_token/)
      expectError(await post(legacy, 'grant_type=refresh_token&refresh_token=unknown', { Authorization: RFC_BASIC }), 400, 'invalid_grant')
    })

    it('§6 rotation issues a new refresh token and the old one is refused on replay', async () => {
      const { legacy, harness } = await setup()
      const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC }))
      expect(token.refresh_token).toEqual(expect.any(String))
      expect(token.refresh_token).not.toBe(RFC_REFRESH_TOKEN)
      expect((await harness.token(RFC_REFRESH_TOKEN))?.live).toBe(false)
      expect((await harness.token(token.refresh_token as string))?.live).toBe(true)
      expectError(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
      const next = post(legacy, form({ grant_type: 'refresh_token', refresh_token: token.refresh_token as string }), { Authorization: RFC_BASIC })
      if (backend.double) {
        // The double only refuses the replay: the new refresh token keeps working.
        expectToken(await next)
      } else {
        // RFC 9700 §4.14.2: StoreValidator takes the replay of a rotated refresh token for theft and ends the whole
        // family, the tokens the rotation issued included.
        expect(await harness.isRevoked(token.access_token as string)).toBe(true)
        expect(await harness.isRevoked(token.refresh_token as string)).toBe(true)
        expectError(await next, 400, 'invalid_grant')
      }
    })

    it('§6 concurrent refreshes with one rotating token: exactly one succeeds', async () => {
      const { legacy, harness } = await setup()
      const responses = await Promise.all(
        Array.from({ length: 5 }, () => post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC })),
      )
      const ok = responses.filter((res) => res.status === 200)
      expect(ok).toHaveLength(1)
      for (const res of responses) if (res.status !== 200) expectError(res, 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(1)
      expect((await harness.token(RFC_REFRESH_TOKEN))?.live).toBe(false)
      // RFC 9700 §4.14.2: over a store the losing presentations of the rotated token end its family.
      if (!backend.double) expect(await harness.isRevoked(JSON.parse((ok[0] as OAuth2Response).body).refresh_token as string)).toBe(true)
    })

    itOnTheDouble('§6 without rotation no new refresh token is issued and the old one keeps working', async () => {
      class NoRotation extends MemoryValidator {
        override async rotateRefreshToken(): Promise<boolean> {
          return false
        }
      }
      const validator = new NoRotation()
      const { legacy } = await fixture(doubleHarness(validator))
      for (let i = 0; i < 2; i++) {
        const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
        expect(token).not.toHaveProperty('refresh_token')
      }
      expect(validator.refreshTokens.size).toBe(1)
      expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read+write`, { Authorization: RFC_BASIC }))
    })

    it('§6 a rotated refresh token keeps the original scope after a narrowed refresh', async () => {
      const { legacy, harness } = await setup()
      const narrowed = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
      expect((await stored(harness, narrowed))?.scopes).toEqual(['read'])
      const rotated = narrowed.refresh_token as string
      expect(await harness.token(rotated)).toMatchObject({ tokenType: 'refresh_token', scopes: ['read', 'write'] })
      // The new refresh token can still obtain the scope the narrowed access token lacks.
      const widened = expectToken(await post(legacy, form({ grant_type: 'refresh_token', refresh_token: rotated, scope: 'read write' }), { Authorization: RFC_BASIC }))
      expect(widened.scope).toBeUndefined()
      expect((await stored(harness, widened))?.scopes).toEqual(['read', 'write'])
    })

    it('§6 a public client refreshes with client_id alone when authentication is not required', async () => {
      const { legacy, harness, user } = await setup()
      await harness.addRefreshToken('public-refresh', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'] })
      const token = expectToken(await post(legacy, form({ grant_type: 'refresh_token', refresh_token: 'public-refresh', client_id: PUBLIC_CLIENT_ID })))
      await expectStored(harness, token, { grantType: 'refresh_token', clientId: PUBLIC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
    })
  })

  describe('RFC 6749 §3.1 Authorization Endpoint', () => {
    it('§3.1 GET: the parameters are read from the query and a code is issued', async () => {
      const { allow, harness, user } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest()))
      expect(await harness.code(code)).toMatchObject({ clientId: WEB_CLIENT_ID, userId: user.userId, scopes: ['read'], redirectUri: RFC_REDIRECT_URI })
    })

    it('§3.1 POST: the parameters are read from a form body', async () => {
      const { server, user, harness } = await authorizationSetup()
      const body = new URL(codeRequest()).search.slice(1)
      const validated = await server.validateAuthorizationRequest(AUTHORIZE_URI, 'POST', body, FORM)
      expect(validated.scopes).toEqual(['read'])
      expect(validated.credentials).toMatchObject({ responseType: 'code', responseMode: 'query', redirectUri: RFC_REDIRECT_URI, state: STATE })
      const code = expectCode(await server.createAuthorizationResponse(AUTHORIZE_URI, 'POST', body, FORM, undefined, user))
      expect((await harness.code(code))?.clientId).toBe(WEB_CLIENT_ID)
    })

    it.each(['PUT', 'DELETE', 'PATCH', 'OPTIONS'])('§3.1 %s is refused with 405 and Allow: GET, POST, never redirected', async (method) => {
      const { server, user, harness } = await authorizationSetup()
      const res = await server.createAuthorizationResponse(codeRequest(), method, undefined, undefined, undefined, user)
      expectNotRedirected(res, 405, 'invalid_request', /GET/)
      expect(headerOf(res, 'Allow')?.split(',').map((m) => m.trim()).sort()).toEqual(['GET', 'POST'])
      expectNotRedirected(await server.createAuthorizationErrorResponse(codeRequest(), method, undefined, undefined, new AccessDeniedError('denied')), 405, 'invalid_request')
      expect(await rejection(server.validateAuthorizationRequest(codeRequest(), method))).toMatchObject({ error: 'invalid_request', status: 405, redirectable: false })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it.each([
      ['response_type', 'code'],
      ['scope', 'read'],
      ['response_mode', 'query'],
      ['code_challenge', PKCE_CHALLENGE],
      ['code_challenge_method', 'S256'],
    ])('§3.1 a repeated %s is invalid_request, redirected since the redirect URI is verified', async (name, fallback) => {
      const { allow, harness, reported } = await authorizationSetup()
      const res = await allow(withRepeated(codeRequest(), name, fallback))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description: new RegExp(name) })
      expect(harness.savedCodes).toHaveLength(0)
      expect(reported).toHaveLength(0)
    })

    it('§3.1 a repeated state is invalid_request, redirected without a state', async () => {
      const { allow } = await authorizationSetup()
      const res = await allow(withRepeated(codeRequest(), 'state', STATE))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_request', { iss: DEFAULT_ISSUER, description: /state/ })
    })

    it.each([
      ['client_id', WEB_CLIENT_ID],
      ['redirect_uri', RFC_REDIRECT_URI],
    ])('§3.1 a repeated %s is invalid_request shown to the user, never redirected', async (name, value) => {
      const { allow, deny, server, harness } = await authorizationSetup()
      const uri = withRepeated(codeRequest(), name, value)
      expectNotRedirected(await allow(uri), 400, 'invalid_request', new RegExp(name))
      expectNotRedirected(await deny(uri), 400, 'invalid_request', new RegExp(name))
      expect(await rejection(server.validateAuthorizationRequest(uri))).toMatchObject({ error: 'invalid_request', redirectable: false })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it.each([
      ['state=', codeRequest({ state: '' })],
      ['state without "="', `${codeRequest({ state: undefined })}&state`],
    ])('§3.1 a parameter without a value is treated as omitted: %s gets no state back', async (_case, uri) => {
      const { allow } = await authorizationSetup()
      expectCode(await allow(uri), RFC_REDIRECT_URI, null)
    })

    it('§3.1 scope= is treated as omitted: the default scope is granted', async () => {
      const { allow, server, harness } = await authorizationSetup()
      const uri = codeRequest({ scope: '' })
      expect((await server.validateAuthorizationRequest(uri)).scopes).toEqual(['read'])
      expect((await harness.code(expectCode(await allow(uri))))?.scopes).toEqual(['read'])
    })

    it('§3.1 redirect_uri= is treated as omitted: the only registered URI is used and not bound to the code', async () => {
      const { allow, harness, redeem } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest({ redirect_uri: '' })))
      expect((await harness.code(code))?.redirectUri).toBeUndefined()
      expectToken(await redeem(code, { code_verifier: PKCE_VERIFIER }))
    })

    it('§3.1 response_type= is treated as omitted: invalid_request, redirected', async () => {
      const { allow } = await authorizationSetup()
      const res = await allow(codeRequest({ response_type: '' }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description: /response_type/ })
    })

    it('§3.1 client_id= is treated as omitted: invalid_request shown, never redirected', async () => {
      const { allow, deny } = await authorizationSetup()
      expectNotRedirected(await allow(codeRequest({ client_id: '' })), 400, 'invalid_request', /client_id/)
      expectNotRedirected(await deny(codeRequest({ client_id: '' })), 400, 'invalid_request', /client_id/)
    })

    it('§3.1 unrecognized parameters are ignored, even repeated or empty, and so is the endpoint URI own query', async () => {
      const { allow, harness } = await authorizationSetup()
      const uri = `${codeRequest({}, `${AUTHORIZE_URI}?tenant=acme`)}&foo=1&foo=2&bar=&nonce=n-0S6_WzA2Mj&prompt=consent`
      const code = expectCode(await allow(uri))
      expect((await harness.code(code))?.scopes).toEqual(['read'])
    })
  })

  describe('RFC 6749 §3.1.1 Response Type', () => {
    it('§3.1.1 a missing response_type is invalid_request, redirected with state and iss', async () => {
      const { allow, harness } = await authorizationSetup()
      const res = await allow(codeRequest({ response_type: undefined }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description: /response_type/ })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it.each(['CODE', 'Token', 'authorization_code', 'foo'])('§3.1.1 response_type=%s is unsupported_response_type, redirected', async (responseType) => {
      const { allow, server, harness } = await authorizationSetup()
      const uri = codeRequest({ response_type: responseType })
      expectDeliveredError(await allow(uri), RFC_REDIRECT_URI, 'query', 'unsupported_response_type', { state: STATE, iss: DEFAULT_ISSUER })
      expect(await rejection(server.validateAuthorizationRequest(uri))).toMatchObject({ error: 'unsupported_response_type', redirectable: true })
      expect(harness.savedCodes).toHaveLength(0)
      expect(harness.saved).toHaveLength(0)
    })
  })

  describe('RFC 6749 §3.1.2 Redirection Endpoint', () => {
    it.each(['/cb', 'cb', '//client.example.com/cb', 'client.example.com/cb'])(
      '§3.1.2 a redirect URI that is not absolute (%s) is refused even when registered, never redirected',
      async (uri) => {
        const { allow, harness } = await authorizationSetup()
        await harness.addClient({ clientId: 'relative', redirectUris: [uri] })
        const res = await allow(codeRequest({ client_id: 'relative', redirect_uri: uri }))
        expectNotRedirected(res, 400, 'invalid_request', /absolute/)
        // Omitted, the registered URI is no better.
        expectNotRedirected(await allow(codeRequest({ client_id: 'relative', redirect_uri: undefined })), 400, 'invalid_request', /redirect_uri/)
        expect(harness.savedCodes).toHaveLength(0)
      },
    )

    it.each(['https://client.example.com/cb#', 'https://client.example.com/cb#frag'])(
      '§3.1.2 a redirect URI with a fragment (%s) is refused even when registered, never redirected',
      async (uri) => {
        const { allow, harness } = await authorizationSetup()
        await harness.addClient({ clientId: 'fragment', redirectUris: [uri] })
        expectNotRedirected(await allow(codeRequest({ client_id: 'fragment', redirect_uri: uri })), 400, 'invalid_request', /fragment/)
        expectNotRedirected(await allow(codeRequest({ client_id: 'fragment', redirect_uri: undefined })), 400, 'invalid_request', /redirect_uri/)
        expect(harness.savedCodes).toHaveLength(0)
      },
    )

    it('§3.1.2 the redirect URI query is retained when the code parameters are added', async () => {
      const { allow, harness } = await authorizationSetup()
      const registered = 'https://client.example.com/cb?tenant=acme&lang=en'
      await harness.addClient({ clientId: 'with-query', redirectUris: [registered] })
      const res = await allow(codeRequest({ client_id: 'with-query', redirect_uri: registered }))
      expect(headerOf(res, 'Location')?.startsWith(`${registered}&`)).toBe(true)
      const params = expectDelivered(res, registered, 'query')
      expect(params).toEqual({ code: expect.any(String), state: STATE, iss: DEFAULT_ISSUER })
    })

    it('§3.1.2 the redirect URI query is retained, values included, when an error is added', async () => {
      const { deny, harness } = await authorizationSetup()
      const registered = 'https://client.example.com/cb?next=%2Fhome%3Fa%3Db&mode=x+y'
      await harness.addClient({ clientId: 'with-query', redirectUris: [registered] })
      const res = await deny(codeRequest({ client_id: 'with-query', redirect_uri: undefined }))
      // expectDelivered compares the redirect URI own query parameters, in order, with those of the Location.
      expectDeliveredError(res, registered, 'query', 'access_denied', { state: STATE, iss: DEFAULT_ISSUER })
      expect(new URL(headerOf(res, 'Location') as string).searchParams.get('next')).toBe('/home?a=b')
    })

    it('§3.1.2 with a fragment response the redirect URI query is left as it is', async () => {
      const { allow, harness } = await authorizationSetup()
      const registered = 'https://client.example.com/cb?tenant=acme'
      await harness.addClient({ clientId: 'with-query', redirectUris: [registered], responseTypes: ['token'] })
      const res = await allow(implicitRequest({ client_id: 'with-query', redirect_uri: registered }))
      expect(new URL(headerOf(res, 'Location') as string).search).toBe('?tenant=acme')
      expect(expectDelivered(res, registered, 'fragment').access_token).toEqual(expect.any(String))
    })
  })

  describe('RFC 6749 §3.1.2.3 Dynamic Configuration', () => {
    it('§3.1.2.3 a client with one registered redirect URI may omit redirect_uri, and then need not send it to redeem', async () => {
      const { allow, harness, redeem } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest({ redirect_uri: undefined })))
      expect((await harness.code(code))?.redirectUri).toBeUndefined()
      expectToken(await redeem(code, { code_verifier: PKCE_VERIFIER }))
    })

    it('§3.1.2.3 a client with several registered redirect URIs must send redirect_uri: shown, never redirected', async () => {
      const { allow, deny, server, harness } = await authorizationSetup()
      const uri = codeRequest({ client_id: MULTI_CLIENT_ID, redirect_uri: undefined })
      expectNotRedirected(await allow(uri), 400, 'invalid_request', /redirect_uri/)
      expectNotRedirected(await deny(uri), 400, 'invalid_request', /redirect_uri/)
      expect(await rejection(server.validateAuthorizationRequest(uri))).toMatchObject({ redirectable: false })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it('§3.1.2.3 a client with several registered redirect URIs is redirected to the one it sends, which is bound to the code', async () => {
      const { allow, harness, server } = await authorizationSetup()
      const second = MULTI_REDIRECT_URIS[1] as string
      const code = expectCode(await allow(codeRequest({ client_id: MULTI_CLIENT_ID, redirect_uri: second })), second)
      expect((await harness.code(code))?.redirectUri).toBe(second)
      const redeemAt = (redirectUri: string) =>
        server.createTokenResponse(
          TOKEN_URI,
          'POST',
          form({ grant_type: 'authorization_code', code, client_id: MULTI_CLIENT_ID, redirect_uri: redirectUri, code_verifier: PKCE_VERIFIER }),
          FORM,
        )
      expectError(await redeemAt(MULTI_REDIRECT_URIS[0] as string), 400, 'invalid_grant', /redirect_uri/)
      expectToken(await redeemAt(second))
    })

    it('§3.1.2.3 a client with no registered redirect URI is refused, never redirected', async () => {
      const { allow, harness } = await authorizationSetup()
      await harness.addClient({ clientId: 'unregistered', redirectUris: [] })
      expectNotRedirected(await allow(codeRequest({ client_id: 'unregistered', redirect_uri: undefined })), 400, 'invalid_request', /redirect_uri/)
      expectNotRedirected(await allow(codeRequest({ client_id: 'unregistered' })), 400, 'invalid_request', /redirect_uri/)
    })
  })

  describe('RFC 6749 §3.1.2.4 / §4.1.2.1 Invalid Endpoint: client and redirect URI errors are never redirected', () => {
    it.each([
      ['unknown', 'nobody'],
      ['missing', undefined],
    ])('§4.1.2.1 an %s client_id is shown to the user, for allow, deny and validate alike', async (_case, clientId) => {
      const { allow, deny, server, harness } = await authorizationSetup()
      for (const uri of [codeRequest({ client_id: clientId }), implicitRequest({ client_id: clientId })]) {
        expectNotRedirected(await allow(uri), 400, 'invalid_request', /client_id/)
        expectNotRedirected(await deny(uri), 400, 'invalid_request', /client_id/)
        const error = await rejection(server.validateAuthorizationRequest(uri))
        expect(error).toBeInstanceOf(OAuth2Error)
        expect(error).toMatchObject({ error: 'invalid_request', redirectable: false })
      }
      expect(harness.savedCodes).toHaveLength(0)
      expect(harness.saved).toHaveLength(0)
    })

    it('§4.1.2.1 other errors of a request from an unknown client are not redirected either', async () => {
      const { allow } = await authorizationSetup()
      const uri = codeRequest({ client_id: 'nobody', response_type: undefined, scope: 'admin', code_challenge: undefined })
      expectNotRedirected(await allow(uri), 400, 'invalid_request', /client_id/)
    })

    // RFC 9700 §4.1.3: exact string matching; each presented URI differs from https://client.example.com/cb.
    it.each([
      ['a prefix of the registered URI', 'https://client.example.com/c'],
      ['the registered origin only', 'https://client.example.com/'],
      ['a longer path', 'https://client.example.com/cb/evil'],
      ['a suffix on the last segment', 'https://client.example.com/cbx'],
      ['path traversal', 'https://client.example.com/cb/../evil'],
      ['encoded path traversal', 'https://client.example.com/cb/%2e%2e/evil'],
      ['a percent-encoded equivalent', 'https://client.example.com/%63b'],
      ['userinfo before an attacker host', 'https://client.example.com@evil.example/cb'],
      ['userinfo before the registered host', 'https://evil.example@client.example.com/cb'],
      ['a backslash trick', 'https://client.example.com\\@evil.example/cb'],
      ['a host suffix', 'https://client.example.com.evil.example/cb'],
      ['a subdomain', 'https://evil.client.example.com/cb'],
      ['an upper-case host', 'https://CLIENT.example.com/cb'],
      ['an upper-case path', 'https://client.example.com/CB'],
      ['an upper-case scheme', 'HTTPS://client.example.com/cb'],
      ['a trailing slash', 'https://client.example.com/cb/'],
      ['an added query', 'https://client.example.com/cb?x=1'],
      ['an empty query', 'https://client.example.com/cb?'],
      ['a fragment', 'https://client.example.com/cb#x'],
      ['another port', 'https://client.example.com:8443/cb'],
      ['the default port written out', 'https://client.example.com:443/cb'],
      ['http instead of https', 'http://client.example.com/cb'],
      ['another host', 'https://evil.example/cb'],
      ['a URI registered for another client', 'https://client.example.com/one'],
    ])('§3.1.2.4 RFC 9700 §4.1.3: a redirect_uri with %s is refused, never redirected', async (_case, presented) => {
      const { allow, deny, server, harness } = await authorizationSetup()
      for (const uri of [codeRequest({ redirect_uri: presented }), implicitRequest({ redirect_uri: presented })]) {
        expectNotRedirected(await allow(uri), 400, 'invalid_request', /redirect_uri/)
        expectNotRedirected(await deny(uri), 400, 'invalid_request', /redirect_uri/)
        expect(await rejection(server.validateAuthorizationRequest(uri))).toMatchObject({ error: 'invalid_request', redirectable: false })
      }
      expect(harness.savedCodes).toHaveLength(0)
      expect(harness.saved).toHaveLength(0)
    })

    it.each([
      ['a non-loopback http host', 'http://app.example.com/cb', 'http://app.example.com:8080/cb'],
      ['localhost', 'http://localhost/cb', 'http://localhost:49152/cb'],
      ['an https loopback', 'https://127.0.0.1/cb', 'https://127.0.0.1:49152/cb'],
    ])('§3.1.2.4 another port on %s is refused, never redirected', async (_case, registered, presented) => {
      const { allow, harness } = await authorizationSetup()
      await harness.addClient({ clientId: 'native', redirectUris: [registered] })
      expectNotRedirected(await allow(codeRequest({ client_id: 'native', redirect_uri: presented })), 400, 'invalid_request', /redirect_uri/)
    })

    it.each([
      ['http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb'],
      ['http://[::1]:8080/cb', 'http://[::1]:49152/cb'],
    ])('§3.1.2.4 RFC 8252 §7.3: a loopback IP redirect URI %s may be presented with any port (%s)', async (registered, presented) => {
      const { allow, harness } = await authorizationSetup()
      await harness.addClient({ clientId: 'native', redirectUris: [registered] })
      const code = expectCode(await allow(codeRequest({ client_id: 'native', redirect_uri: presented })), presented)
      expect((await harness.code(code))?.redirectUri).toBe(presented)
    })
  })

  describe('RFC 6749 §3.3 Access Token Scope (authorization endpoint)', () => {
    it('§3.3 an omitted scope gets the client default scope, shown for consent and granted', async () => {
      const { allow, server, harness, redeem } = await authorizationSetup()
      const uri = codeRequest({ scope: undefined })
      expect((await server.validateAuthorizationRequest(uri)).scopes).toEqual(['read'])
      const code = expectCode(await allow(uri))
      expect((await harness.code(code))?.scopes).toEqual(['read'])
      expect(expectToken(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER })).scope).toBe('read')
    })

    it('§3.3 a space-delimited scope is requested, granted and returned at the token endpoint', async () => {
      const { allow, server, harness, redeem } = await authorizationSetup()
      const uri = codeRequest({ scope: 'read write' })
      expect((await server.validateAuthorizationRequest(uri)).scopes).toEqual(['read', 'write'])
      const code = expectCode(await allow(uri))
      expect((await harness.code(code))?.scopes).toEqual(['read', 'write'])
      expect(expectToken(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER })).scope).toBe('read write')
    })

    it('§3.3 the resource owner may grant less than requested', async () => {
      const { allow, harness, redeem } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest({ scope: 'read write' }), ['read']))
      expect((await harness.code(code))?.scopes).toEqual(['read'])
      expect(expectToken(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER })).scope).toBe('read')
    })

    it.each(['admin', 'read admin', 'READ'])('§3.3 a scope %j the client may not have is invalid_scope, redirected', async (scope) => {
      const { allow, server, harness, reported } = await authorizationSetup()
      const uri = codeRequest({ scope })
      expectDeliveredError(await allow(uri), RFC_REDIRECT_URI, 'query', 'invalid_scope', { state: STATE, iss: DEFAULT_ISSUER, description: /scope/ })
      expect(await rejection(server.validateAuthorizationRequest(uri))).toMatchObject({ error: 'invalid_scope', redirectable: true })
      expect(harness.savedCodes).toHaveLength(0)
      expect(reported).toHaveLength(0)
    })

    it.each(['read  write', ' read', 'read ', 'read\twrite', 'read "write"', 'réad'])('§3.3 a malformed scope %j is invalid_scope, redirected', async (scope) => {
      const { allow, harness } = await authorizationSetup()
      expectDeliveredError(await allow(codeRequest({ scope })), RFC_REDIRECT_URI, 'query', 'invalid_scope', { state: STATE, iss: DEFAULT_ISSUER, description: /scope/ })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it('§3.3 an omitted scope with no default scope is invalid_scope, redirected', async () => {
      const { allow, harness } = await authorizationSetup()
      await harness.addClient({ clientId: 'no-default', defaultScopes: [] })
      const res = await allow(codeRequest({ client_id: 'no-default', scope: undefined }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_scope', { state: STATE, iss: DEFAULT_ISSUER, description: /scope/ })
    })
  })

  describe('RFC 6749 §4.1.1 / §4.1.2 Authorization Request and Response (code)', () => {
    it('§4.1.1 the RFC sample request is answered as §4.1.2 shows, and §4.1.3 redeems the code', async () => {
      const { allow, server, harness, user } = await authorizationSetup()
      const uri = 'https://server.example.com/authorize?response_type=code&client_id=s6BhdRkqt3&state=xyz&redirect_uri=https%3A%2F%2Fclient%2Eexample%2Ecom%2Fcb'
      const params = expectDelivered(await allow(uri), RFC_REDIRECT_URI, 'query')
      expect(params).toEqual({ code: expect.any(String), state: 'xyz', iss: 'https://server.example.com' })
      const code = params.code as string
      expect(await harness.code(code)).toMatchObject({ clientId: RFC_CLIENT_ID, userId: user.userId, redirectUri: RFC_REDIRECT_URI, used: false })
      expect((await harness.code(code))?.codeChallenge).toBeUndefined()
      const body = form({ grant_type: 'authorization_code', code, redirect_uri: RFC_REDIRECT_URI })
      const token = expectToken(await post(server, body, { Authorization: RFC_BASIC }))
      expect(token.scope).toBe('read')
      await expectStored(harness, token, { grantType: 'authorization_code', clientId: RFC_CLIENT_ID, userId: user.userId, scopes: ['read'] })
      expect((await harness.code(code))?.used).toBe(true)
    })

    it('§4.1.2 each response carries a fresh, unguessable code bound to client, user, scopes, redirect URI and challenge, living minutes', async () => {
      const { allow, harness, user } = await authorizationSetup()
      const first = expectCode(await allow(codeRequest()))
      const second = expectCode(await allow(codeRequest()))
      expect(first).not.toBe(second)
      for (const code of [first, second]) {
        // RFC 6749 §10.10: at most a 2^-128 chance of guessing; VSCHAR (Appendix A.11).
        expect(code).toMatch(/^[\x20-\x7E]{22,}$/)
        const now = Date.now() / 1000
        const stored = await harness.code(code)
        expect(stored).toMatchObject({
          clientId: WEB_CLIENT_ID,
          userId: user.userId,
          scopes: ['read'],
          redirectUri: RFC_REDIRECT_URI,
          codeChallenge: PKCE_CHALLENGE,
          codeChallengeMethod: 'S256',
        })
        // RFC 6749 §4.1.2: a maximum lifetime of 10 minutes is recommended.
        expect(stored?.expiresAt).toBeGreaterThan(now)
        expect(stored?.expiresAt).toBeLessThanOrEqual(now + 600)
      }
    })

    it.each([STATE, ...AWKWARD_STATES])('§4.1.2 state %j is echoed exactly, in the response and in an error', async (state) => {
      const { allow, deny } = await authorizationSetup()
      expectCode(await allow(codeRequest({ state })), RFC_REDIRECT_URI, state)
      expectDeliveredError(await deny(codeRequest({ state })), RFC_REDIRECT_URI, 'query', 'access_denied', { state, iss: DEFAULT_ISSUER })
    })

    it('§4.1.2 the code is redeemed once with the verifier and redirect URI; a second redemption is invalid_grant', async () => {
      const { allow, harness, redeem } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest()))
      const token = expectToken(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER }))
      expect(token.refresh_token).toEqual(expect.any(String))
      expectError(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER }), 400, 'invalid_grant')
      expect(harness.saved).toHaveLength(1)
      // RFC 6749 §4.1.2: over a store, the second use of the code revokes the tokens issued from it.
      if (!backend.double) {
        expect(await harness.isRevoked(token.access_token as string)).toBe(true)
        expect(await harness.isRevoked(token.refresh_token as string)).toBe(true)
      }
    })

    it('§4.1.2 the code is refused with a wrong verifier or none, and is not spent by the refusal', async () => {
      const { allow, harness, redeem } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest()))
      expectError(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: `${PKCE_VERIFIER.slice(0, -1)}j` }), 400, 'invalid_grant', /code_verifier/)
      expectError(await redeem(code, { redirect_uri: RFC_REDIRECT_URI }), 400, 'invalid_request', /code_verifier/)
      expect((await harness.code(code))?.used).toBe(false)
      expectToken(await redeem(code, { redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER }))
    })

    it.each([
      ['omitted', undefined],
      ['with a trailing slash', `${RFC_REDIRECT_URI}/`],
      ['another registered URI of the client', 'https://client.example.com/other'],
    ])('§4.1.3 a redirect_uri sent at authorization must be repeated identically: %s is invalid_grant', async (_case, redirectUri) => {
      const { allow, redeem, harness } = await authorizationSetup()
      // The web client, registered with a second redirect URI.
      await harness.addClient({ clientId: 'web-two-uris', redirectUris: [RFC_REDIRECT_URI, 'https://client.example.com/other'] })
      const code = expectCode(await allow(codeRequest({ client_id: 'web-two-uris' })))
      const params = redirectUri === undefined ? { code_verifier: PKCE_VERIFIER } : { redirect_uri: redirectUri, code_verifier: PKCE_VERIFIER }
      expectError(await redeem(code, { client_id: 'web-two-uris', ...params }), 400, 'invalid_grant', /redirect_uri/)
      expect(harness.saved).toHaveLength(0)
      expectToken(await redeem(code, { client_id: 'web-two-uris', redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER }))
    })

    it('§4.1.3 a code cannot be redeemed by another client', async () => {
      const { allow, harness, server } = await authorizationSetup()
      const code = expectCode(await allow(codeRequest()))
      const body = form({ grant_type: 'authorization_code', code, client_id: MULTI_CLIENT_ID, redirect_uri: RFC_REDIRECT_URI, code_verifier: PKCE_VERIFIER })
      expectError(await post(server, body), 400, 'invalid_grant', /client/)
      expect(harness.saved).toHaveLength(0)
      expect((await harness.code(code))?.used).toBe(false)
    })
  })

  describe('RFC 6749 §4.1.2.1 Error Response (code)', () => {
    it('§4.1.2.1 access_denied through createAuthorizationErrorResponse is redirected with error, description, state and iss', async () => {
      const { deny, harness, reported } = await authorizationSetup()
      const res = await deny(codeRequest())
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'access_denied', { state: STATE, iss: DEFAULT_ISSUER, description: /denied/ })
      expect(harness.savedCodes).toHaveLength(0)
      expect(reported).toHaveLength(0)
    })

    it('§4.1.2.1 an error thrown by validateAuthorizationRequest is redirected by createAuthorizationErrorResponse', async () => {
      const { server } = await authorizationSetup()
      const uri = codeRequest({ scope: 'admin' })
      const error = await rejection(server.validateAuthorizationRequest(uri))
      expect(error).toBeInstanceOf(OAuth2Error)
      const res = await server.createAuthorizationErrorResponse(uri, 'GET', undefined, undefined, error as OAuth2Error)
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_scope', { state: STATE, iss: DEFAULT_ISSUER })
    })

    it('§4.1.2.1 unauthorized_client when the client may not use the response type, redirected', async () => {
      const { allow, harness } = await authorizationSetup()
      await harness.addClient({ clientId: 'token-only', responseTypes: ['token'] })
      const res = await allow(codeRequest({ client_id: 'token-only' }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'unauthorized_client', { state: STATE, iss: DEFAULT_ISSUER, description: /code/ })
      expect(harness.savedCodes).toHaveLength(0)
    })

    itOnTheDouble('§4.1.2.1 a validator exception after the redirect URI is verified is server_error, redirected and reported to onError', async () => {
      const failure = new Error('INSERT INTO codes failed: postgres://admin:hunter2@10.0.0.5')
      class FailingValidator extends MemoryValidator {
        override async saveAuthorizationCode(): Promise<void> {
          throw failure
        }
      }
      const { allow, reported } = await authorizationFixture(doubleHarness(new FailingValidator()))
      const res = await allow(codeRequest())
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'server_error', { state: STATE, iss: DEFAULT_ISSUER })
      expect(headerOf(res, 'Location')).not.toContain('hunter2')
      expect(reported).toHaveLength(1)
      expect(reported[0]?.error).toBe(failure)
      expect(reported[0]?.request).toBeInstanceOf(OAuth2Request)
      expect(reported[0]?.request?.clientId).toBe(WEB_CLIENT_ID)
    })

    itOnTheDouble('§4.1.2.1 temporarily_unavailable thrown by a hook is redirected and reported to onError', async () => {
      const outage = new TemporarilyUnavailableError('The scope service is unreachable')
      class UnavailableValidator extends MemoryValidator {
        override async validateScopes(): Promise<boolean> {
          throw outage
        }
      }
      const { allow, reported } = await authorizationFixture(doubleHarness(new UnavailableValidator()))
      const res = await allow(codeRequest())
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'temporarily_unavailable', { state: STATE, iss: DEFAULT_ISSUER, description: /unreachable/ })
      expect(reported.map((r) => r.error)).toEqual([outage])
    })

    itOnTheDouble('§4.1.2.1 a validator exception before the client is verified is a 500 shown, not redirected, and reported', async () => {
      const failure = new Error('clients table unavailable')
      class FailingValidator extends MemoryValidator {
        override async validateClientId(): Promise<TestClient | undefined> {
          throw failure
        }
      }
      const { allow, reported } = await authorizationFixture(doubleHarness(new FailingValidator()))
      const res = await allow(codeRequest())
      expectNotRedirected(res, 500, 'server_error')
      expect(res.body).not.toContain('clients table')
      expect(reported.map((r) => r.error)).toEqual([failure])
    })
  })

  describe('RFC 6749 §4.2.1 / §4.2.2 Implicit Grant: Access Token Response', () => {
    it('§4.2.2 the access token travels in the fragment with token_type, expires_in, state and iss, never a refresh token', async () => {
      const { allow, harness, user } = await authorizationSetup()
      const params = expectDelivered(await allow(implicitRequest()), RFC_REDIRECT_URI, 'fragment')
      expect(params).toEqual({
        access_token: expect.stringMatching(/^[\x20-\x7E]+$/),
        token_type: 'Bearer',
        expires_in: expect.stringMatching(/^[1-9][0-9]*$/),
        state: STATE,
        iss: DEFAULT_ISSUER,
      })
      expect(harness.saved).toHaveLength(1)
      // The one token saved has no refresh token beside it.
      expect(harness.saved[0]?.token).not.toHaveProperty('refresh_token')
      await expectStored(harness, params, { grantType: 'implicit', clientId: WEB_CLIENT_ID, userId: user.userId, scopes: ['read'] })
      expect(harness.savedCodes).toHaveLength(0)
    })

    it.each<[string, string | undefined, readonly string[] | undefined, string | undefined]>([
      ['the granted scope equals the requested one', 'read', undefined, undefined],
      ['the same scope in another order', 'write read', ['read', 'write'], undefined],
      ['the user granted less than requested', 'read write', ['read'], 'read'],
      ['no scope was requested, so the default was granted', undefined, undefined, 'read'],
    ])('§4.2.2 scope is returned only when it differs from the request: %s', async (_case, requested, granted, returned) => {
      const { allow, harness } = await authorizationSetup()
      const params = expectDelivered(await allow(implicitRequest({ scope: requested }), granted), RFC_REDIRECT_URI, 'fragment')
      expect(params.scope).toBe(returned)
      // What was granted is what the token is saved with.
      expect((await stored(harness, params))?.scopes).toEqual(granted ?? requested?.split(' ') ?? ['read'])
    })

    it.each([STATE, ...AWKWARD_STATES])('§4.2.2 state %j is echoed exactly in the fragment', async (state) => {
      const { allow } = await authorizationSetup()
      expect(expectDelivered(await allow(implicitRequest({ state })), RFC_REDIRECT_URI, 'fragment').state).toBe(state)
    })

    it('§4.2.2 a token response omits state when the request had none', async () => {
      const { allow } = await authorizationSetup()
      expect(expectDelivered(await allow(implicitRequest({ state: undefined })), RFC_REDIRECT_URI, 'fragment')).not.toHaveProperty('state')
    })

    it('§4.2.2 response_mode=query is refused for response_type=token: invalid_request in the fragment, no token issued', async () => {
      const { allow, harness } = await authorizationSetup()
      const res = await allow(implicitRequest({ response_mode: 'query' }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'fragment', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description: /response_mode/ })
      expect(harness.saved).toHaveLength(0)
    })
  })

  describe('RFC 6749 §4.2.2.1 Implicit Grant: Error Response', () => {
    const cases: Array<{ error: OAuth2ErrorCode; send: (f: AuthorizationFixture) => Promise<OAuth2Response> }> = [
      { error: 'access_denied', send: (f) => f.deny(implicitRequest()) },
      { error: 'invalid_scope', send: (f) => f.allow(implicitRequest({ scope: 'admin' })) },
      { error: 'invalid_request', send: (f) => f.allow(withRepeated(implicitRequest(), 'scope', 'read')) },
      {
        error: 'unauthorized_client',
        send: async (f) => {
          await f.harness.addClient({ clientId: 'code-only', responseTypes: ['code'] })
          return f.allow(implicitRequest({ client_id: 'code-only' }))
        },
      },
    ]

    it.each(cases)('§4.2.2.1 $error is delivered in the fragment with state and iss, the query untouched', async ({ error, send }) => {
      const f = await authorizationSetup()
      expectDeliveredError(await send(f), RFC_REDIRECT_URI, 'fragment', error, { state: STATE, iss: DEFAULT_ISSUER })
      expect(f.harness.saved).toHaveLength(0)
    })

    itOnTheDouble('§4.2.2.1 a validator exception is server_error in the fragment, reported to onError', async () => {
      const failure = new Error('token store down')
      class FailingValidator extends MemoryValidator {
        override async saveBearerToken(): Promise<void> {
          throw failure
        }
      }
      const { allow, reported } = await authorizationFixture(doubleHarness(new FailingValidator()))
      const res = await allow(implicitRequest())
      expectDeliveredError(res, RFC_REDIRECT_URI, 'fragment', 'server_error', { state: STATE, iss: DEFAULT_ISSUER })
      expect(headerOf(res, 'Location')).not.toContain('access_token')
      expect(reported.map((r) => r.error)).toEqual([failure])
    })

    it('§4.2.2.1 a client or redirect URI error of an implicit request is shown, never put in a fragment', async () => {
      const { allow } = await authorizationSetup()
      expectNotRedirected(await allow(implicitRequest({ redirect_uri: 'https://evil.example/cb' })), 400, 'invalid_request', /redirect_uri/)
    })
  })

  describe('OAuth 2.0 Form Post Response Mode (authorization endpoint)', () => {
    it('response_mode=form_post delivers the code by a 200 page that posts code, state and iss to the redirect URI, not cached', async () => {
      const { allow, harness } = await authorizationSetup()
      const res = await allow(codeRequest({ response_mode: 'form_post' }))
      const params = expectDelivered(res, RFC_REDIRECT_URI, 'form_post')
      expect(params).toEqual({ code: expect.any(String), state: STATE, iss: DEFAULT_ISSUER })
      expect(harness.savedCodes).toEqual([params.code])
      expect((await harness.code(params.code as string))?.clientId).toBe(WEB_CLIENT_ID)
      expect(headerOf(res, 'Pragma')).toBe('no-cache')
    })

    it('form_post HTML-escapes the values: a state with "><script> stays inside its attribute', async () => {
      const { allow, deny } = await authorizationSetup()
      const state = '"><script>alert(document.domain)</script><input value="'
      for (const res of [await allow(codeRequest({ response_mode: 'form_post', state })), await deny(codeRequest({ response_mode: 'form_post', state }))]) {
        expect(expectDelivered(res, RFC_REDIRECT_URI, 'form_post').state).toBe(state)
        expect(res.body).not.toContain('<script>alert')
        expect(res.body).not.toContain('"><script')
      }
    })

    it('form_post HTML-escapes the redirect URI in the form action', async () => {
      const { allow, harness } = await authorizationSetup()
      const registered = 'https://client.example.com/cb?a=1&b="x"'
      await harness.addClient({ clientId: 'quoted', redirectUris: [registered] })
      const res = await allow(codeRequest({ client_id: 'quoted', redirect_uri: registered, response_mode: 'form_post' }))
      expect(expectDelivered(res, registered, 'form_post').code).toEqual(expect.any(String))
      expect(res.body).not.toContain('b="x"')
    })

    it('form_post delivers errors the same way', async () => {
      const { deny } = await authorizationSetup()
      expectDeliveredError(await deny(codeRequest({ response_mode: 'form_post' })), RFC_REDIRECT_URI, 'form_post', 'access_denied', { state: STATE, iss: DEFAULT_ISSUER })
    })

    it('form_post delivers an implicit grant token, never a refresh token', async () => {
      const { allow } = await authorizationSetup()
      const params = expectDelivered(await allow(implicitRequest({ response_mode: 'form_post' })), RFC_REDIRECT_URI, 'form_post')
      expect(params).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.stringMatching(/^[1-9][0-9]*$/), state: STATE, iss: DEFAULT_ISSUER })
    })

    it('an unknown response_mode is invalid_request, delivered by the response type default mode', async () => {
      const { allow } = await authorizationSetup()
      const res = await allow(codeRequest({ response_mode: 'web_message' }))
      expectDeliveredError(res, RFC_REDIRECT_URI, 'query', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description: /response_mode/ })
    })
  })
})
