/**
 * RFC 6749 conformance of the token endpoint: one `describe` per section, one `it` per requirement, driven through
 * the public API with the in-memory validator. Sample requests are the RFC's own where they fit.
 */
import { describe, expect, it } from 'vitest'
import {
  AuthorizationCodeGrant,
  BackendApplicationServer,
  BearerToken,
  InvalidClientError,
  LegacyApplicationServer,
  OAuth2Request,
  RefreshTokenGrant,
  RequestValidator,
  TokenEndpoint,
  ValidatorNotImplementedError,
  type BackendApplicationServerOptions,
  type Client,
  type OAuth2Response,
  type RequestBody,
  type RequestHeaders,
  type ServerOptions,
} from '../../src/index.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestClient, type TestUser } from '../support/memory-validator.js'

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

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

type Body = Record<string, unknown>

interface Reported {
  readonly error: unknown
  readonly request: OAuth2Request | undefined
}

/** Everything a test needs, fresh per test: the validator with the RFC's sample data, and the three servers. */
function fixture<V extends MemoryValidator>(validator: V, options: BackendApplicationServerOptions & ServerOptions = {}) {
  const reported: Reported[] = []
  const onError = (error: unknown, request: OAuth2Request | undefined) => {
    reported.push({ error, request })
  }
  const confidential = validator.addClient({ clientId: RFC_CLIENT_ID, secret: RFC_CLIENT_SECRET })
  validator.addClient({ clientId: OTHER_CLIENT_ID, secret: OTHER_CLIENT_SECRET })
  validator.addClient({ clientId: PUBLIC_CLIENT_ID })
  const user = validator.addUser(RFC_USERNAME, RFC_PASSWORD)
  validator.addCode(RFC_CODE, { clientId: RFC_CLIENT_ID, user, scopes: ['read', 'write'], redirectUri: RFC_REDIRECT_URI })
  validator.addRefreshToken(RFC_REFRESH_TOKEN, { clientId: RFC_CLIENT_ID, user, scopes: ['read', 'write'] })
  const backend = new BackendApplicationServer(validator, { onError, ...options })
  const legacy = new LegacyApplicationServer(validator, { onError, ...options })
  const code = new TokenEndpoint({
    grantTypes: [new AuthorizationCodeGrant(validator), new RefreshTokenGrant(validator)],
    bearerToken: new BearerToken(validator),
    onError,
    allowInsecureTransport: options.allowInsecureTransport,
  })
  return { validator, reported, backend, legacy, code, confidential, user }
}

function setup(options: BackendApplicationServerOptions & ServerOptions = {}) {
  return fixture(new MemoryValidator(), options)
}

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

describe('RFC 6749 §2.3.1 Client Password', () => {
  it('§2.3.1 authenticates with HTTP Basic (the RFC sample header)', async () => {
    const { backend, validator } = setup()
    expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(validator.saved[0]?.context.client.clientId).toBe(RFC_CLIENT_ID)
  })

  it('§2.3.1 accepts the Basic scheme name in any case', async () => {
    const { backend } = setup()
    const lower = RFC_BASIC.replace('Basic', 'basic')
    expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: lower }))
  })

  it('§2.3.1 form-urlencoded Basic id and secret with ":" "+" " " and non-ASCII characters', async () => {
    const { backend, validator } = setup()
    const clientId = 'app:1+ø 日本'
    const secret = 'se:cr+et wörd%&=/'
    validator.addClient({ clientId, secret })
    expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: basic(clientId, secret) }))
    expect(validator.saved[0]?.context.client.clientId).toBe(clientId)
  })

  it('§2.3.1 a "+" in Basic credentials is form-decoded as a space, so an unencoded "+" fails', async () => {
    const { backend, validator } = setup()
    validator.addClient({ clientId: 'plus-client', secret: 'a+b' })
    expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: rawBasic('plus-client:a%2Bb') }))
    expectError(await post(backend, 'grant_type=client_credentials', { Authorization: rawBasic('plus-client:a+b') }), 401, 'invalid_client')
  })

  it('§2.3.1 authenticates with client_id and client_secret in the body (client_secret_post)', async () => {
    const { backend, validator } = setup()
    const clientId = 'app:1+ø 日本'
    const secret = 'se:cr+et wörd%&=/'
    validator.addClient({ clientId, secret })
    expectToken(await post(backend, form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret })))
    expect(validator.saved[0]?.context.client.clientId).toBe(clientId)
  })

  it('§2.3.1 Basic and client_secret in the same request is invalid_request', async () => {
    const { backend, validator } = setup()
    const res = await post(backend, `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}&client_secret=${RFC_CLIENT_SECRET}`, {
      Authorization: RFC_BASIC,
    })
    expectError(res, 400, 'invalid_request', /authentication method/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§2.3.1 a client_id in the body that differs from the Basic client is invalid_request', async () => {
    const { backend } = setup()
    const res = await post(backend, `grant_type=client_credentials&client_id=${OTHER_CLIENT_ID}`, { Authorization: RFC_BASIC })
    expectError(res, 400, 'invalid_request', /client_id/)
  })

  it('§2.3.1 credentials in the token URI query are never read', async () => {
    const { backend, validator } = setup()
    const uri = `${TOKEN_URI}?client_id=${RFC_CLIENT_ID}&client_secret=${RFC_CLIENT_SECRET}`
    expectError(await backend.createTokenResponse(uri, 'POST', 'grant_type=client_credentials', FORM), 401, 'invalid_client')
    const secretOnly = `${TOKEN_URI}?client_secret=${RFC_CLIENT_SECRET}`
    const body = `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}`
    expectError(await backend.createTokenResponse(secretOnly, 'POST', body, FORM), 401, 'invalid_client')
    expect(validator.saved).toHaveLength(0)
  })

  it('§2.3.1 a wrong Basic secret is 401 invalid_client with WWW-Authenticate', async () => {
    const { backend } = setup()
    const res = await post(backend, 'grant_type=client_credentials', { Authorization: basic(RFC_CLIENT_ID, 'wrong') })
    expectError(res, 401, 'invalid_client')
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic /)
  })

  it('§2.3.1 a wrong client_secret_post secret is 401 invalid_client', async () => {
    const { backend } = setup()
    const res = await post(backend, form({ grant_type: 'client_credentials', client_id: RFC_CLIENT_ID, client_secret: 'wrong' }))
    expectError(res, 401, 'invalid_client')
  })

  it('§2.3.1 an unknown client is 401 invalid_client', async () => {
    const { backend } = setup()
    expectError(await post(backend, 'grant_type=client_credentials', { Authorization: basic('nobody', 'x') }), 401, 'invalid_client')
  })
})

describe('RFC 6749 §3.2.1 Client Authentication', () => {
  it('§3.2.1 a client that sends credentials is authenticated with them, even a public one', async () => {
    const { legacy } = setup()
    const res = await post(legacy, form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD }), {
      Authorization: basic(PUBLIC_CLIENT_ID, 'made-up'),
    })
    expectError(res, 401, 'invalid_client')
  })

  it('§3.2.1 a request with neither credentials nor client_id is 401 invalid_client', async () => {
    const { legacy } = setup()
    expectError(await post(legacy, form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD })), 401, 'invalid_client')
  })
})

describe('RFC 6749 §3.1 / §3.2 Token Endpoint', () => {
  it.each(['GET', 'PUT', 'DELETE', 'HEAD'])('§3.2 %s is refused with 405 and Allow: POST', async (method) => {
    const { backend, validator } = setup()
    const res = await backend.createTokenResponse(TOKEN_URI, method, 'grant_type=client_credentials', { Authorization: RFC_BASIC, ...FORM })
    expectError(res, 405, 'invalid_request', /POST/)
    expect(header(res, 'Allow')).toBe('POST')
    expect(validator.saved).toHaveLength(0)
  })

  it('§3.2 an http:// token URI is invalid_request (TLS is required)', async () => {
    const { backend, validator } = setup()
    const res = await backend.createTokenResponse('http://as.example.com/token', 'POST', 'grant_type=client_credentials', {
      Authorization: RFC_BASIC,
      ...FORM,
    })
    expectError(res, 400, 'invalid_request', /TLS|https/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§3.2 an http:// token URI is served with allowInsecureTransport', async () => {
    const { backend } = setup({ allowInsecureTransport: true })
    const res = await backend.createTokenResponse('http://localhost:8080/token', 'POST', 'grant_type=client_credentials', {
      Authorization: RFC_BASIC,
      ...FORM,
    })
    expectToken(res)
  })

  it('§3.2 a parameter without a value is treated as omitted (scope= falls back to the default scope)', async () => {
    const { backend, validator } = setup()
    for (const body of ['grant_type=client_credentials&scope=', 'grant_type=client_credentials&scope']) {
      const token = expectToken(await post(backend, body, { Authorization: RFC_BASIC }))
      // No scope was requested, so the granted (default) scope is returned (§5.1).
      expect(token.scope).toBe('read')
    }
    expect(validator.saved.map((saved) => saved.context.scopes)).toEqual([['read'], ['read']])
  })

  it('§3.2 grant_type without a value is treated as omitted: invalid_request', async () => {
    const { backend } = setup()
    expectError(await post(backend, 'grant_type=&scope=read', { Authorization: RFC_BASIC }), 400, 'invalid_request', /grant_type/)
  })

  it('§3.2 an empty client_secret next to Basic is omitted, not a second authentication method', async () => {
    const { backend } = setup()
    expectToken(await post(backend, 'grant_type=client_credentials&client_secret=', { Authorization: RFC_BASIC }))
  })

  it.each([
    ['grant_type', 'grant_type=client_credentials&grant_type=client_credentials'],
    ['scope', 'grant_type=client_credentials&scope=read&scope=write'],
    ['scope', 'grant_type=client_credentials&scope=&scope=read'],
    ['client_id', `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}&client_id=${RFC_CLIENT_ID}`],
  ])('§3.2 repeated %s is invalid_request (%s)', async (name, body) => {
    const { backend, validator } = setup()
    expectError(await post(backend, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
    expect(validator.saved).toHaveLength(0)
  })

  it.each([
    ['code', `${RFC_CODE_BODY}&code=${RFC_CODE}`],
    ['redirect_uri', `${RFC_CODE_BODY}&redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb`],
  ])('§3.2 repeated %s in a code request is invalid_request', async (name, body) => {
    const { code, validator } = setup()
    expectError(await post(code, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
    // The code was not spent by the refused request.
    expect(validator.codes.get(RFC_CODE)?.used).toBe(false)
  })

  it.each([
    ['username', `grant_type=password&username=${RFC_USERNAME}&username=${RFC_USERNAME}&password=${RFC_PASSWORD}`],
    ['password', `grant_type=password&username=${RFC_USERNAME}&password=${RFC_PASSWORD}&password=${RFC_PASSWORD}`],
    ['refresh_token', `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&refresh_token=${RFC_REFRESH_TOKEN}`],
  ])('§3.2 repeated %s is invalid_request', async (name, body) => {
    const { legacy } = setup()
    expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
  })

  it('§3.2 unrecognized parameters are ignored, even repeated or empty', async () => {
    const { backend } = setup()
    const body = 'grant_type=client_credentials&scope=read&foo=1&foo=2&bar=&x-vendor=%E2%9C%93'
    const token = expectToken(await post(backend, body, { Authorization: RFC_BASIC }))
    expect(token.scope).toBeUndefined()
  })

  it('§3.2 query parameters of the token URI are ignored', async () => {
    const { backend, validator } = setup()
    const uri = `${TOKEN_URI}?scope=write&grant_type=password`
    const token = expectToken(await backend.createTokenResponse(uri, 'POST', 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC, ...FORM }))
    expect(token.scope).toBeUndefined()
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'client_credentials', scopes: ['read'] })
  })

  it('§3.2 grant_type only in the token URI query is missing: invalid_request', async () => {
    const { backend } = setup()
    const res = await backend.createTokenResponse(`${TOKEN_URI}?grant_type=client_credentials`, 'POST', 'scope=read', { Authorization: RFC_BASIC, ...FORM })
    expectError(res, 400, 'invalid_request', /grant_type/)
  })

  it.each(['application/json', 'text/plain', 'multipart/form-data; boundary=x'])(
    '§3.2 a string body sent as %s is invalid_request',
    async (contentType) => {
      const { backend, validator } = setup()
      const res = await backend.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
        Authorization: RFC_BASIC,
        'Content-Type': contentType,
      })
      expectError(res, 400, 'invalid_request', /x-www-form-urlencoded/)
      expect(validator.saved).toHaveLength(0)
    },
  )

  it.each(['application/x-www-form-urlencoded;charset=UTF-8', 'Application/X-WWW-Form-URLEncoded'])(
    '§3.2 a form body sent as %s is accepted',
    async (contentType) => {
      const { backend } = setup()
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
    const { backend, validator } = setup()
    const res = await backend.createTokenResponse(TOKEN_URI, 'POST', body, { Authorization: RFC_BASIC, 'Content-Type': 'application/json' })
    expectError(res, 400, 'invalid_request', /x-www-form-urlencoded/)
    expect(validator.saved).toHaveLength(0)
  })

  it.each([
    ['string', `grant_type=password&username=${RFC_USERNAME}&password=${RFC_PASSWORD}&scope=read+write`],
    ['URLSearchParams', new URLSearchParams({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'read write' })],
    ['plain object', { grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'read write' }],
  ])('§3.2 the body may be a %s', async (_kind, body) => {
    const { legacy, validator } = setup()
    const token = expectToken(await post(legacy, body, { Authorization: RFC_BASIC }))
    expect(token.scope).toBeUndefined()
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'password', scopes: ['read', 'write'] })
  })

  it('§3.2 a plain object body with an array value is a repeated parameter: invalid_request', async () => {
    const { legacy } = setup()
    const body = { grant_type: 'password', username: [RFC_USERNAME, 'mallory'], password: RFC_PASSWORD }
    expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', /username/)
  })
})

describe('RFC 6749 §3.3 Access Token Scope', () => {
  it('§3.3 scope is a space-delimited list: "read write" grants both', async () => {
    const { backend, validator } = setup()
    const token = expectToken(await post(backend, 'grant_type=client_credentials&scope=read%20write', { Authorization: RFC_BASIC }))
    expect(token.scope).toBeUndefined()
    expect(validator.saved[0]?.context.scopes).toEqual(['read', 'write'])
  })

  it('§3.3 the order of scope tokens does not matter', async () => {
    const { backend, validator } = setup()
    const token = expectToken(await post(backend, 'grant_type=client_credentials&scope=write+read', { Authorization: RFC_BASIC }))
    expect(token.scope).toBeUndefined()
    expect([...(validator.saved[0]?.context.scopes ?? [])].sort()).toEqual(['read', 'write'])
  })

  it('§3.3 scope tokens are case-sensitive: "READ" is not "read"', async () => {
    const { backend, validator } = setup()
    expectError(await post(backend, 'grant_type=client_credentials&scope=READ', { Authorization: RFC_BASIC }), 400, 'invalid_scope')
    expect(validator.saved).toHaveLength(0)
  })

  it.each(['read  write', ' read', 'read ', 'read\twrite', 'read "write"', 'read\\write', 'réad', 'read\nwrite'])(
    '§3.3 malformed scope %j is invalid_scope',
    async (scope) => {
      const { backend, validator } = setup()
      const res = await post(backend, form({ grant_type: 'client_credentials', scope }), { Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_scope', /scope/)
      expect(validator.saved).toHaveLength(0)
    },
  )

  it('§3.3 an omitted scope gets the default scope, which the response names', async () => {
    const { backend, validator } = setup()
    const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(token.scope).toBe('read')
    expect(validator.saved[0]?.context.scopes).toEqual(['read'])
  })

  it('§3.3 an omitted scope with no default scope is invalid_scope', async () => {
    const { backend, validator } = setup()
    validator.addClient({ clientId: 'no-default', secret: 'secret', defaultScopes: [] })
    expectError(await post(backend, 'grant_type=client_credentials', { Authorization: basic('no-default', 'secret') }), 400, 'invalid_scope', /scope/)
  })

  it('§3.3 a scope the client may not have is invalid_scope', async () => {
    const { backend, legacy, validator } = setup()
    expectError(await post(backend, 'grant_type=client_credentials&scope=read+admin', { Authorization: RFC_BASIC }), 400, 'invalid_scope')
    const password = form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'admin' })
    expectError(await post(legacy, password, { Authorization: RFC_BASIC }), 400, 'invalid_scope')
    expect(validator.saved).toHaveLength(0)
  })
})

describe('RFC 6749 §4.1.3 Access Token Request (authorization code)', () => {
  it('§4.1.3 the RFC sample request gets a token', async () => {
    const { code, validator, user } = setup()
    const token = expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
    // No scope parameter in a code request, so the granted scope is returned (§5.1).
    expect(token.scope).toBe('read write')
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'authorization_code', user, scopes: ['read', 'write'] })
    expect(validator.saved[0]?.context.client.clientId).toBe(RFC_CLIENT_ID)
  })

  it('§4.1.3 a code issued to another client is invalid_grant', async () => {
    const { code, validator } = setup()
    const res = await post(code, RFC_CODE_BODY, { Authorization: basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) })
    expectError(res, 400, 'invalid_grant', /client/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§4.1.3 a public client cannot redeem a code issued to another public client', async () => {
    const { code, validator, user } = setup()
    validator.addClient({ clientId: 'public-2' })
    validator.addCode('pub-code', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'] })
    const res = await post(code, form({ grant_type: 'authorization_code', code: 'pub-code', client_id: 'public-2' }))
    expectError(res, 400, 'invalid_grant')
  })

  it.each([
    ['omitted', `grant_type=authorization_code&code=${RFC_CODE}`],
    ['empty', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=`],
    ['with a trailing slash', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent(`${RFC_REDIRECT_URI}/`)}`],
    ['in another case', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent('https://CLIENT.example.com/cb')}`],
    ['with a query', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent(`${RFC_REDIRECT_URI}?x=1`)}`],
    ['another URI', `grant_type=authorization_code&code=${RFC_CODE}&redirect_uri=${encodeURIComponent('https://attacker.example/cb')}`],
  ])('§4.1.3 redirect_uri %s when the authorization request had one is invalid_grant', async (_case, body) => {
    const { code, validator } = setup()
    expectError(await post(code, body, { Authorization: RFC_BASIC }), 400, 'invalid_grant', /redirect_uri/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§4.1.3 redirect_uri may be omitted when the authorization request had none', async () => {
    const { code, validator, user } = setup()
    validator.addCode('no-redirect', { clientId: RFC_CLIENT_ID, user, scopes: ['read'] })
    expectToken(await post(code, 'grant_type=authorization_code&code=no-redirect', { Authorization: RFC_BASIC }))
  })

  it('§4.1.3 a code is single use: the second redemption is invalid_grant', async () => {
    const { code, validator } = setup()
    expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
    expectError(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
    expect(validator.saved).toHaveLength(1)
  })

  it('§4.1.3 concurrent redemptions of one code: exactly one gets a token', async () => {
    const { code, validator } = setup()
    const responses = await Promise.all(Array.from({ length: 5 }, () => post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC })))
    const ok = responses.filter((res) => res.status === 200)
    expect(ok).toHaveLength(1)
    for (const res of responses) if (res.status !== 200) expectError(res, 400, 'invalid_grant')
    expect(validator.saved).toHaveLength(1)
  })

  it('§4.1.3 a public client redeems its code with client_id alone when authentication is not required', async () => {
    const { code, validator, user } = setup()
    validator.addCode('pub-code', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'], redirectUri: RFC_REDIRECT_URI })
    const body = form({ grant_type: 'authorization_code', code: 'pub-code', redirect_uri: RFC_REDIRECT_URI, client_id: PUBLIC_CLIENT_ID })
    expectToken(await post(code, body))
    expect(validator.saved[0]?.context.client.clientId).toBe(PUBLIC_CLIENT_ID)
  })

  it('§4.1.3 a confidential client that does not authenticate is 401 invalid_client', async () => {
    const { code, validator } = setup()
    const res = await post(code, `${RFC_CODE_BODY}&client_id=${RFC_CLIENT_ID}`)
    expectError(res, 401, 'invalid_client')
    expect(validator.saved).toHaveLength(0)
    expect(validator.codes.get(RFC_CODE)?.used).toBe(false)
  })

  it('§4.1.3 a missing code is invalid_request', async () => {
    const { code } = setup()
    const res = await post(code, `grant_type=authorization_code&redirect_uri=${encodeURIComponent(RFC_REDIRECT_URI)}`, { Authorization: RFC_BASIC })
    expectError(res, 400, 'invalid_request', /code/)
  })

  it('§4.1.3 an empty code is treated as missing: invalid_request', async () => {
    const { code } = setup()
    const res = await post(code, `grant_type=authorization_code&code=&redirect_uri=${encodeURIComponent(RFC_REDIRECT_URI)}`, { Authorization: RFC_BASIC })
    expectError(res, 400, 'invalid_request', /code/)
  })

  it('§4.1.3 an unknown code is invalid_grant', async () => {
    const { code } = setup()
    const res = await post(code, RFC_CODE_BODY.replace(RFC_CODE, 'not-a-code'), { Authorization: RFC_BASIC })
    expectError(res, 400, 'invalid_grant')
  })
})

describe('RFC 6749 §4.1.4 Access Token Response (authorization code)', () => {
  it('§4.1.4 the response carries a refresh token the client can use', async () => {
    const { code } = setup()
    const token = expectToken(await post(code, RFC_CODE_BODY, { Authorization: RFC_BASIC }))
    expect(token.refresh_token).toEqual(expect.any(String))
    expect(token.refresh_token).not.toBe(token.access_token)
    const body = form({ grant_type: 'refresh_token', refresh_token: token.refresh_token as string })
    expectToken(await post(code, body, { Authorization: RFC_BASIC }))
  })
})

describe('RFC 6749 §4.3.2 Access Token Request (password)', () => {
  it('§4.3.2 the RFC sample request gets a token and a refresh token', async () => {
    const { legacy, validator, user } = setup()
    const token = expectToken(await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }))
    expect(token.refresh_token).toEqual(expect.any(String))
    expect(token.scope).toBe('read')
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'password', user })
  })

  it.each([
    ['username', 'grant_type=password&password=A3ddj3w'],
    ['username', 'grant_type=password&username=&password=A3ddj3w'],
    ['password', 'grant_type=password&username=johndoe'],
    ['password', 'grant_type=password&username=johndoe&password='],
  ])('§4.3.2 a missing %s is invalid_request (%s)', async (name, body) => {
    const { legacy, validator } = setup()
    expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_request', new RegExp(name))
    expect(validator.saved).toHaveLength(0)
  })

  it.each([
    ['a wrong password', 'grant_type=password&username=johndoe&password=wrong'],
    ['a password in another case', 'grant_type=password&username=johndoe&password=a3ddj3w'],
    ['an unknown user', 'grant_type=password&username=janedoe&password=A3ddj3w'],
  ])('§4.3.2 %s is invalid_grant', async (_case, body) => {
    const { legacy, validator } = setup()
    expectError(await post(legacy, body, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
    expect(validator.saved).toHaveLength(0)
  })
})

describe('RFC 6749 §4.4.2 Access Token Request (client credentials)', () => {
  it('§4.4.2 the RFC sample request gets a token', async () => {
    const { backend, validator } = setup()
    expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'client_credentials', user: undefined })
  })

  it('§4.4.2 a public client identified by client_id alone is 401 invalid_client', async () => {
    const { backend, validator } = setup()
    expectError(await post(backend, `grant_type=client_credentials&client_id=${PUBLIC_CLIENT_ID}`), 401, 'invalid_client')
    expectError(await post(backend, `grant_type=client_credentials&client_id=${PUBLIC_CLIENT_ID}&client_secret=`), 401, 'invalid_client')
    expect(validator.saved).toHaveLength(0)
  })

  it('§4.4.2 a confidential client identified by client_id alone is 401 invalid_client', async () => {
    const { backend } = setup()
    expectError(await post(backend, `grant_type=client_credentials&client_id=${RFC_CLIENT_ID}`), 401, 'invalid_client')
  })
})

describe('RFC 6749 §4.4.3 Access Token Response (client credentials)', () => {
  it('§4.4.3 no refresh token is issued by default', async () => {
    const { backend, validator } = setup()
    const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(token).not.toHaveProperty('refresh_token')
    expect(validator.saved[0]?.token).not.toHaveProperty('refresh_token')
  })

  it('§4.4.3 refreshTokenForClientCredentials: true issues a refresh token', async () => {
    const { backend, validator } = setup({ refreshTokenForClientCredentials: true })
    const token = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(token.refresh_token).toEqual(expect.any(String))
    expect(validator.refreshTokens.get(token.refresh_token as string)).toMatchObject({ clientId: RFC_CLIENT_ID, scopes: ['read'] })
  })
})

describe('RFC 6749 §5.1 Successful Response', () => {
  it('§5.1 a token response is 200 JSON with no-store, no-cache, Bearer and expires_in', async () => {
    const { backend } = setup()
    const res = await post(backend, 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC })
    const token = expectToken(res)
    expect(header(res, 'Content-Type')).toMatch(/^application\/json(;|$)/)
    expect(token.expires_in).toBe(3600)
    expect(Object.keys(token).sort()).toEqual(['access_token', 'expires_in', 'token_type'])
  })

  it('§5.1 expires_in follows the configured lifetime', async () => {
    const { backend } = setup({ tokenExpiresIn: 600 })
    expect(expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })).expires_in).toBe(600)
  })

  it('§5.1 each response has a fresh access token', async () => {
    const { backend } = setup()
    const first = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    const second = expectToken(await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC }))
    expect(first.access_token).not.toBe(second.access_token)
  })

  it('§5.1 scope is omitted when identical to the requested scope', async () => {
    const { backend, legacy } = setup()
    expect(expectToken(await post(backend, 'grant_type=client_credentials&scope=read', { Authorization: RFC_BASIC }))).not.toHaveProperty('scope')
    const password = form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'write read' })
    expect(expectToken(await post(legacy, password, { Authorization: RFC_BASIC }))).not.toHaveProperty('scope')
  })

  it('§5.1 scope is present when the request named none', async () => {
    const { backend, legacy } = setup()
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
      send: (f: ReturnType<typeof setup>) => post(f.backend, 'scope=read', { Authorization: RFC_BASIC }),
    },
    {
      error: 'invalid_client',
      status: 401,
      description: /[Cc]lient/,
      send: (f: ReturnType<typeof setup>) => post(f.backend, 'grant_type=client_credentials', { Authorization: basic(RFC_CLIENT_ID, 'wrong') }),
    },
    {
      error: 'invalid_grant',
      status: 400,
      description: /code/,
      send: (f: ReturnType<typeof setup>) => post(f.code, RFC_CODE_BODY.replace(RFC_CODE, 'expired-code'), { Authorization: RFC_BASIC }),
    },
    {
      error: 'unauthorized_client',
      status: 400,
      description: /client_credentials/,
      send: (f: ReturnType<typeof setup>) => {
        f.validator.addClient({ clientId: 'web-only', secret: 'secret', grantTypes: ['authorization_code'] })
        return post(f.backend, 'grant_type=client_credentials', { Authorization: basic('web-only', 'secret') })
      },
    },
    {
      error: 'unsupported_grant_type',
      status: 400,
      description: /grant_type/,
      send: (f: ReturnType<typeof setup>) =>
        post(f.backend, form({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x' }), { Authorization: RFC_BASIC }),
    },
    {
      error: 'invalid_scope',
      status: 400,
      description: /scope/,
      send: (f: ReturnType<typeof setup>) => post(f.backend, 'grant_type=client_credentials&scope=admin', { Authorization: RFC_BASIC }),
    },
  ]

  it.each(cases)('§5.2 $error is HTTP $status with a description, JSON and no-store', async ({ error, status, description, send }) => {
    const f = setup()
    expectError(await send(f), status, error, description)
    expect(f.validator.saved).toHaveLength(0)
    // Client mistakes are not server errors.
    expect(f.reported).toHaveLength(0)
  })

  it('§5.2 an unsupported grant_type is unsupported_grant_type, on every server', async () => {
    const { backend, legacy, code } = setup()
    expectError(await post(backend, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
    expectError(await post(legacy, RFC_CODE_BODY, { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
    expectError(await post(code, 'grant_type=client_credentials', { Authorization: RFC_BASIC }), 400, 'unsupported_grant_type')
  })

  it('§5.2 a missing grant_type is invalid_request', async () => {
    const { legacy } = setup()
    expectError(await post(legacy, 'username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC }), 400, 'invalid_request', /grant_type/)
  })

  it('§5.2 unauthorized_client when validateGrantType refuses the grant', async () => {
    const { legacy, validator } = setup()
    validator.addClient({ clientId: 'no-password', secret: 'secret', grantTypes: ['client_credentials'] })
    const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: basic('no-password', 'secret') })
    expectError(res, 400, 'unauthorized_client', /password/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§5.2 invalid_client after Basic authentication is 401 with WWW-Authenticate: Basic', async () => {
    const { legacy } = setup()
    const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: basic('nobody', 'nothing') })
    expectError(res, 401, 'invalid_client')
    expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic realm="[^"]*"/)
  })

  it('§5.2 invalid_client raised by a validator hook is still 401 with WWW-Authenticate', async () => {
    class RejectingValidator extends MemoryValidator {
      override async authenticateClient(): Promise<TestClient | undefined> {
        throw new InvalidClientError('The client is suspended')
      }
    }
    const { backend } = fixture(new RejectingValidator())
    const res = await post(backend, 'grant_type=client_credentials', { Authorization: RFC_BASIC })
    expectError(res, 401, 'invalid_client')
  })

  it('§5.2 a validator hook that throws is 500 server_error with a generic description, reported to onError', async () => {
    const failure = new Error('connect ECONNREFUSED postgres://admin:hunter2@10.0.0.5/tokens')
    class FailingValidator extends MemoryValidator {
      override async saveBearerToken(): Promise<void> {
        throw failure
      }
    }
    const { backend, reported } = fixture(new FailingValidator())
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

  it('§5.2 a hook throwing a non-Error value is server_error too', async () => {
    class FailingValidator extends MemoryValidator {
      override async validateUser(): Promise<TestUser | undefined> {
        throw 'ldap down: bind cn=admin,password=hunter2'
      }
    }
    const { legacy, reported } = fixture(new FailingValidator())
    const res = await post(legacy, 'grant_type=password&username=johndoe&password=A3ddj3w', { Authorization: RFC_BASIC })
    expectError(res, 500, 'server_error')
    expect(res.body).not.toContain('hunter2')
    expect(reported.map((r) => r.error)).toEqual(['ldap down: bind cn=admin,password=hunter2'])
  })

  it('§5.2 a bare RequestValidator answers server_error, never a token', async () => {
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

  it('§5.2 a validator missing only saveBearerToken answers server_error, so no unsaved token leaves', async () => {
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
    const { legacy, validator } = setup()
    const token = expectToken(await post(legacy, 'grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA', { Authorization: RFC_BASIC }))
    // No scope requested: treated as the original scope, and named in the response.
    expect(token.scope).toBe('read write')
    expect(validator.saved[0]?.context).toMatchObject({ grantType: 'refresh_token', scopes: ['read', 'write'] })
  })

  it('§6 the scope may narrow', async () => {
    const { legacy, validator } = setup()
    const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
    expect(token.scope).toBeUndefined()
    expect(validator.saved[0]?.context.scopes).toEqual(['read'])
  })

  it.each(['read write admin', 'admin', 'READ'])('§6 a scope %j beyond the original grant is invalid_scope', async (scope) => {
    const { legacy, validator } = setup()
    const res = await post(legacy, form({ grant_type: 'refresh_token', refresh_token: RFC_REFRESH_TOKEN, scope }), { Authorization: RFC_BASIC })
    expectError(res, 400, 'invalid_scope', /scope/)
    expect(validator.saved).toHaveLength(0)
    // The refused request did not spend the refresh token.
    expect(validator.refreshTokens.get(RFC_REFRESH_TOKEN)?.revoked).toBe(false)
  })

  it('§6 a refresh token issued to another client is invalid_grant', async () => {
    const { legacy, validator } = setup()
    const res = await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) })
    expectError(res, 400, 'invalid_grant', /client/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§6 a confidential client must authenticate to refresh', async () => {
    const { legacy } = setup()
    expectError(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&client_id=${RFC_CLIENT_ID}`), 401, 'invalid_client')
  })

  it('§6 a missing refresh_token is invalid_request, an unknown one invalid_grant', async () => {
    const { legacy } = setup()
    expectError(await post(legacy, 'grant_type=refresh_token', { Authorization: RFC_BASIC }), 400, 'invalid_request', /refresh_token/)
    expectError(await post(legacy, 'grant_type=refresh_token&refresh_token=unknown', { Authorization: RFC_BASIC }), 400, 'invalid_grant')
  })

  it('§6 rotation issues a new refresh token and the old one is refused on replay', async () => {
    const { legacy } = setup()
    const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC }))
    expect(token.refresh_token).toEqual(expect.any(String))
    expect(token.refresh_token).not.toBe(RFC_REFRESH_TOKEN)
    expectError(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC }), 400, 'invalid_grant')
    expectToken(await post(legacy, form({ grant_type: 'refresh_token', refresh_token: token.refresh_token as string }), { Authorization: RFC_BASIC }))
  })

  it('§6 concurrent refreshes with one rotating token: exactly one succeeds', async () => {
    const { legacy, validator } = setup()
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}`, { Authorization: RFC_BASIC })),
    )
    expect(responses.filter((res) => res.status === 200)).toHaveLength(1)
    for (const res of responses) if (res.status !== 200) expectError(res, 400, 'invalid_grant')
    expect(validator.saved).toHaveLength(1)
  })

  it('§6 without rotation no new refresh token is issued and the old one keeps working', async () => {
    class NoRotation extends MemoryValidator {
      override async rotateRefreshToken(): Promise<boolean> {
        return false
      }
    }
    const { legacy, validator } = fixture(new NoRotation())
    for (let i = 0; i < 2; i++) {
      const token = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
      expect(token).not.toHaveProperty('refresh_token')
    }
    expect(validator.refreshTokens.size).toBe(1)
    expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read+write`, { Authorization: RFC_BASIC }))
  })

  it('§6 a rotated refresh token keeps the original scope after a narrowed refresh', async () => {
    const { legacy, validator } = setup()
    const narrowed = expectToken(await post(legacy, `grant_type=refresh_token&refresh_token=${RFC_REFRESH_TOKEN}&scope=read`, { Authorization: RFC_BASIC }))
    expect(validator.saved[0]?.context.scopes).toEqual(['read'])
    const rotated = narrowed.refresh_token as string
    expect(validator.refreshTokens.get(rotated)?.scopes).toEqual(['read', 'write'])
    // The new refresh token can still obtain the scope the narrowed access token lacks.
    const widened = expectToken(await post(legacy, form({ grant_type: 'refresh_token', refresh_token: rotated, scope: 'read write' }), { Authorization: RFC_BASIC }))
    expect(widened.scope).toBeUndefined()
    expect(validator.saved[1]?.context.scopes).toEqual(['read', 'write'])
  })

  it('§6 a public client refreshes with client_id alone when authentication is not required', async () => {
    const { legacy, validator, user } = setup()
    validator.addRefreshToken('public-refresh', { clientId: PUBLIC_CLIENT_ID, user, scopes: ['read'] })
    expectToken(await post(legacy, form({ grant_type: 'refresh_token', refresh_token: 'public-refresh', client_id: PUBLIC_CLIENT_ID })))
  })
})
