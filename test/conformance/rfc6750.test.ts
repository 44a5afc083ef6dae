/**
 * RFC 6750 conformance of Bearer token responses and of the resource endpoint, over each conformance backend: the
 * test double and `StoreValidator` on the memory, SQLite and PostgreSQL stores. Tokens are issued by the token
 * endpoint (or, for the RFC's sample tokens, saved through the harness), then presented to a resource.
 */
import { generateKeyPair } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  BackendApplicationServer,
  errorResponse,
  generateToken,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  LegacyApplicationServer,
  OAuth2Error,
  ResourceEndpoint,
  RevocationEndpoint,
  signedTokenGenerator,
  type OAuth2Response,
  type ProtectedResourceResult,
  type ResourceEndpointOptions,
  type StoredToken,
} from '../../src/index.js'
import { CONFORMANCE_BACKENDS, doubleHarness, type ConformanceBackend, type ConformanceHarness } from '../support/conformance-backends.js'
import { expectTokenResponse, NO_STORE } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

async function legacyServer(harness: ConformanceHarness, options: ConstructorParameters<typeof LegacyApplicationServer>[1] = {}) {
  const validator = harness.validator
  await harness.addClient({ clientId: 's6BhdRkqt3', secret: '7Fjfp0ZBr1KtDRbnfVdmIw' })
  await harness.addUser('johndoe', 'A3ddj3w')
  const server = new LegacyApplicationServer(validator, options)
  const request = () =>
    server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=johndoe&password=A3ddj3w', {
      Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'),
      ...FORM,
    })
  return { validator, request }
}

// The resource endpoint (RFC 6750 §2, §3): tokens issued by the token endpoint, then presented to a resource.

const RESOURCE_URI = 'https://server.example.com/resource'
const REALM = 'example'
// RFC 6750 §3: the challenge carries no error code when the request has no authentication information.
const UNAUTHENTICATED_HEADERS = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const

async function resourceSetUp(harness: ConformanceHarness, options: Partial<ResourceEndpointOptions> = {}) {
  const validator = harness.validator
  await harness.addClient({ clientId: 'backend', secret: 'backend-secret' })
  await harness.addClient({ clientId: 's6BhdRkqt3', secret: '7Fjfp0ZBr1KtDRbnfVdmIw' })
  await harness.addUser('johndoe', 'A3ddj3w')
  const serverErrors: unknown[] = []
  const endpoint = new ResourceEndpoint({
    requestValidator: validator,
    realm: REALM,
    onError: (error) => {
      serverErrors.push(error)
    },
    ...options,
  })
  /** A client credentials access token from a BackendApplicationServer (RFC 6749 §4.4). */
  const issue = async (scope = 'read write'): Promise<string> => {
    const response = await new BackendApplicationServer(validator).createTokenResponse(TOKEN_URI, 'POST', new URLSearchParams({ grant_type: 'client_credentials', scope }), {
      Authorization: basic('backend', 'backend-secret'),
      ...FORM,
    })
    return expectTokenResponse(response).access_token as string
  }
  /** Access and refresh tokens of the password grant, from a LegacyApplicationServer (RFC 6749 §4.3). */
  const issueForUser = async (): Promise<{ accessToken: string; refreshToken: string }> => {
    const response = await new LegacyApplicationServer(validator).createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=johndoe&password=A3ddj3w', {
      Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'),
      ...FORM,
    })
    const body = expectTokenResponse(response)
    return { accessToken: body.access_token as string, refreshToken: body.refresh_token as string }
  }
  return { validator, harness, endpoint, issue, issueForUser, serverErrors }
}

function grantedToken(result: ProtectedResourceResult): StoredToken {
  if (!result.valid) throw new Error(`refused: ${result.response.status} ${result.response.headers['WWW-Authenticate']} ${result.response.body}`)
  return result.token
}

function refusal(result: ProtectedResourceResult): OAuth2Response {
  if (result.valid) throw new Error('the request was not refused')
  return result.response
}

/** The whole response of an RFC 6750 §3 error: status, challenge, no-store headers and the JSON error body. */
function bearerError(status: number, challenge: string, error: string, description: string): OAuth2Response {
  return { status, headers: { ...NO_STORE, 'WWW-Authenticate': challenge }, body: JSON.stringify({ error, error_description: description }) }
}

function unauthenticated(challenge: string): OAuth2Response {
  return { status: 401, headers: { ...UNAUTHENTICATED_HEADERS, 'WWW-Authenticate': challenge }, body: '' }
}

const MALFORMED_HEADER = 'The Authorization header must be Bearer followed by one b64token (RFC 6750 section 2.1)'
const MORE_THAN_ONE_METHOD = 'The access token was sent by more than one method (RFC 6750 section 2)'
const UNKNOWN_TOKEN = 'The access token is unknown, revoked or malformed'

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store). A test that overrides one
 * of the double's hooks is declared for the double alone.
 */
describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  /** Declares a test for the double alone: it overrides one of the double's hooks. */
  const itOnTheDouble = backend.double ? it : (): void => undefined

  describe('RFC 6750 §4 Example Access Token Response', () => {
    it('answers with token_type Bearer, access_token, expires_in and refresh_token, not to be cached', async () => {
      const harness = await backend.open()
      const { request } = await legacyServer(harness)
      const response = await request()
      expect(response.status).toBe(200)
      expect(response.headers).toEqual({ 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' })
      const body = JSON.parse(response.body) as Record<string, unknown>
      expect(body).toEqual({
        access_token: expect.any(String),
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: expect.any(String),
        scope: 'read',
      })
      // Both tokens are kept as issued: the access token for the resource owner, the refresh token beside it.
      const owner = { clientId: 's6BhdRkqt3', userId: 'user-johndoe', scopes: ['read'] }
      expect(await harness.token(body.access_token as string)).toMatchObject({ tokenType: 'access_token', ...owner, live: true })
      expect(await harness.token(body.refresh_token as string)).toMatchObject({ tokenType: 'refresh_token', ...owner, live: true })
    })

    it('gives expires_in as a JSON number of seconds', async () => {
      const { request } = await legacyServer(await backend.open(), { tokenExpiresIn: 1800 })
      const response = await request()
      expect(response.body).toMatch(/"expires_in":1800[,}]/)
    })

    it('answers a client credentials request with a Bearer token and no refresh token', async () => {
      const harness = await backend.open()
      await harness.addClient({ clientId: 'backend', secret: 'backend-secret' })
      const server = new BackendApplicationServer(harness.validator)
      const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
        Authorization: basic('backend', 'backend-secret'),
        ...FORM,
      })
      const body = expectTokenResponse(response)
      expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'read' })
      expect(harness.saved.map((saved) => saved.token.refresh_token)).toEqual([undefined])
      expect(await harness.token(body.access_token as string)).toMatchObject({ tokenType: 'access_token', clientId: 'backend', userId: undefined, scopes: ['read'] })
    })
  })

  describe('RFC 6750 §3.1 Error Codes', () => {
    it.each([
      ['invalid_request', 400, InvalidRequestError],
      ['invalid_token', 401, InvalidTokenError],
      ['insufficient_scope', 403, InsufficientScopeError],
    ] as const)('has %s with HTTP status %i', (code, status, ErrorClass) => {
      const error = new ErrorClass('The access token does not allow this')
      expect(error).toBeInstanceOf(OAuth2Error)
      expect(error).toBeInstanceOf(Error)
      expect(error.error).toBe(code)
      expect(error.status).toBe(status)
      expect(error.name).toBe(ErrorClass.name)
      expect(errorResponse(error)).toEqual({
        status,
        headers: NO_STORE,
        body: JSON.stringify({ error: code, error_description: 'The access token does not allow this' }),
      })
    })

    it.each([
      ['invalid_request', InvalidRequestError],
      ['invalid_token', InvalidTokenError],
      ['insufficient_scope', InsufficientScopeError],
    ] as const)('serializes error_uri for %s when one is given', (code, ErrorClass) => {
      const error = new ErrorClass('Read the docs', { uri: 'https://as.example.com/errors#scope' })
      expect(error.toResponseBody()).toEqual({ error: code, error_description: 'Read the docs', error_uri: 'https://as.example.com/errors#scope' })
    })

    it.each([
      ['a double quote', 'the "read" scope is missing'],
      ['a backslash', 'path C:\\tokens'],
      ['a newline', 'line one\nline two'],
      ['a non-ASCII character', 'jeton expiré'],
    ])('refuses an error_description with %s, which §3 keeps out of the header', (_, description) => {
      expect(() => new InvalidTokenError(description)).toThrow(TypeError)
      expect(() => new InsufficientScopeError(description)).toThrow(TypeError)
      expect(() => new InvalidRequestError(description)).toThrow(TypeError)
    })

    it('refuses an error_uri with a space or a double quote', () => {
      expect(() => new InvalidTokenError('Expired', { uri: 'https://as.example.com/a b' })).toThrow(TypeError)
      expect(() => new InvalidTokenError('Expired', { uri: 'https://as.example.com/"x"' })).toThrow(TypeError)
    })
  })

  describe('RFC 6750 §2.1 Authorization Request Header Field: the token is a b64token', () => {
    it('generates random tokens in the b64token syntax', () => {
      for (let i = 0; i < 1000; i++) expect(generateToken()).toMatch(B64TOKEN)
    })

    it('issues random access tokens in the b64token syntax', async () => {
      const { request } = await legacyServer(await backend.open())
      for (let i = 0; i < 50; i++) {
        const body = expectTokenResponse(await request())
        expect(body.access_token).toMatch(B64TOKEN)
      }
    })

    it.each(['RS256', 'ES256', 'EdDSA'] as const)('issues %s signed JWT access tokens in the b64token syntax', async (alg) => {
      const { privateKey } = await generateKeyPair(alg)
      const { request } = await legacyServer(await backend.open(), { tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg }) })
      const body = expectTokenResponse(await request())
      expect(body.access_token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      expect(body.access_token).toMatch(B64TOKEN)
    })
  })

  describe('RFC 6750 §2.1 Authorization Request Header Field', () => {
    it('§2.1 grants access to a client credentials token sent as Authorization: Bearer', async () => {
      const { endpoint, issue, serverErrors } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` })
      expect(grantedToken(result)).toMatchObject({ tokenType: 'access_token', clientId: 'backend', scopes: ['read', 'write'] })
      expect(grantedToken(result).user).toBeUndefined()
      expect(result.request?.uri.href).toBe(RESOURCE_URI)
      expect(serverErrors).toEqual([])
    })

    it('§2.1 grants access to a password grant token, with its resource owner', async () => {
      const { endpoint, issueForUser } = await resourceSetUp(await backend.open())
      const { accessToken } = await issueForUser()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${accessToken}` }, ['read'])
      expect(grantedToken(result)).toMatchObject({ clientId: 's6BhdRkqt3', user: { userId: 'user-johndoe' }, scopes: ['read'] })
    })

    it("§2.1 accepts the RFC's example request, token mF_9.B5f-4.1JqM", async () => {
      const { endpoint, harness } = await resourceSetUp(await backend.open())
      await harness.addAccessToken('mF_9.B5f-4.1JqM', { clientId: 'backend', scopes: ['read'] })
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', null, { Host: 'server.example.com', Authorization: 'Bearer mF_9.B5f-4.1JqM' })
      expect(grantedToken(result)).toMatchObject({ clientId: 'backend', scopes: ['read'] })
    })

    it.each(['bearer', 'BEARER', 'BeArEr'])('§2.1 treats the scheme name case-insensitively: %s', async (scheme) => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { authorization: `${scheme} ${token}` })
      expect(grantedToken(result).clientId).toBe('backend')
    })

    it('§2.1 accepts every b64token character and trailing = padding', async () => {
      const { endpoint, harness } = await resourceSetUp(await backend.open())
      const token = 'AZaz09-._~+/=='
      await harness.addAccessToken(token, { clientId: 'backend', scopes: [] })
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` })
      expect(grantedToken(result).clientId).toBe('backend')
    })

    it.each([
      ['no token', 'Bearer'],
      ['only spaces after the scheme', 'Bearer    '],
      ['two tokens', 'Bearer abc def'],
      ['a double quote', 'Bearer abc"def'],
      ['a comma', 'Bearer abc,def'],
      ['= before the end', 'Bearer abc=def'],
      ['only padding', 'Bearer =='],
      ['a tab instead of a space', 'Bearer\tabc'],
      ['auth-params instead of a b64token', 'Bearer token="abc"'],
    ])('§2.1 answers 400 invalid_request to a Bearer header with %s', async (_, authorization) => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: authorization })
      expect(refusal(result)).toEqual(
        bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${MALFORMED_HEADER}"`, 'invalid_request', MALFORMED_HEADER),
      )
    })

    it('§2.1 answers 400 invalid_request to two Authorization headers', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, [
        ['Authorization', `Bearer ${token}`],
        ['Authorization', `Bearer ${token}`],
      ])
      const description = 'The authorization header is repeated'
      expect(refusal(result)).toEqual(bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${description}"`, 'invalid_request', description))
      expect(result.request).toBeUndefined()
    })
  })

  describe('RFC 6750 §2.2 Form-Encoded Body Parameter', () => {
    it("§2.2 accepts the RFC's example: POST with Content-Type application/x-www-form-urlencoded and access_token", async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'POST', `access_token=${token}`, {
        Host: 'server.example.com',
        'Content-Type': 'application/x-www-form-urlencoded',
      })
      expect(grantedToken(result)).toMatchObject({ clientId: 'backend', scopes: ['read', 'write'] })
    })

    it.each(['PUT', 'PATCH'])('§2.2 accepts the body parameter with %s, a method whose body has defined semantics', async (method) => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, method, new URLSearchParams({ name: 'x', access_token: token }), {
        'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
      })
      expect(grantedToken(result).clientId).toBe('backend')
      expect(result.request?.params.get('name')).toBe('x')
    })

    it.each([
      ['GET, whose body has no defined semantics', 'GET', FORM],
      ['a JSON body', 'POST', { 'Content-Type': 'application/json' }],
      ['a multipart body', 'POST', { 'Content-Type': 'multipart/form-data; boundary=x' }],
      ['no Content-Type', 'POST', {}],
    ] as const)('§2.2 does not read access_token from the body with %s', async (_, method, headers) => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, method, { access_token: token }, headers)
      expect(refusal(result)).toEqual(unauthenticated('Bearer realm="example"'))
    })

    it('§2.2 answers 400 invalid_request to a repeated access_token', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'POST', `access_token=${token}&access_token=${token}`, FORM)
      const description = 'access_token is repeated (RFC 6750 section 2.2)'
      expect(refusal(result)).toEqual(bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${description}"`, 'invalid_request', description))
    })

    it('§2 answers 400 invalid_request to a token in both the header and the body', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'POST', `access_token=${token}`, { ...FORM, Authorization: `Bearer ${token}` })
      expect(refusal(result)).toEqual(
        bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${MORE_THAN_ONE_METHOD}"`, 'invalid_request', MORE_THAN_ONE_METHOD),
      )
    })
  })

  describe('RFC 6750 §2.3 URI Query Parameter', () => {
    it('§2.3 refuses the query parameter unless allowQueryToken is set, with 400 invalid_request', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(`${RESOURCE_URI}?access_token=${token}`, 'GET')
      const description = 'This resource does not accept the access token in the URI query (RFC 6750 section 2.3)'
      expect(refusal(result)).toEqual(bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${description}"`, 'invalid_request', description))
    })

    it("§2.3 accepts the RFC's example GET /resource?access_token=mF_9.B5f-4.1JqM when allowQueryToken is set", async () => {
      const { endpoint, harness } = await resourceSetUp(await backend.open(), { allowQueryToken: true })
      await harness.addAccessToken('mF_9.B5f-4.1JqM', { clientId: 'backend', scopes: ['read'] })
      const result = await endpoint.validateProtectedResourceRequest('https://server.example.com/resource?access_token=mF_9.B5f-4.1JqM&p=q', 'GET')
      expect(grantedToken(result)).toMatchObject({ clientId: 'backend', scopes: ['read'] })
    })

    it('§2.3 accepts an issued token in the query when allowQueryToken is set', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open(), { allowQueryToken: true })
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(`${RESOURCE_URI}?${new URLSearchParams({ access_token: token })}`, 'GET', undefined, {}, ['read'])
      expect(grantedToken(result).clientId).toBe('backend')
    })

    it('§2.3 answers 400 invalid_request to a repeated access_token in the query', async () => {
      const { endpoint } = await resourceSetUp(await backend.open(), { allowQueryToken: true })
      const result = await endpoint.validateProtectedResourceRequest(`${RESOURCE_URI}?access_token=a&access_token=b`, 'GET')
      const description = 'access_token is repeated (RFC 6750 section 2.3)'
      expect(refusal(result)).toEqual(bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${description}"`, 'invalid_request', description))
    })

    it.each([
      ['the header', 'GET', undefined, (token: string) => ({ Authorization: `Bearer ${token}` })],
      ['the form body', 'POST', 'access_token=other', () => FORM],
    ] as const)('§2 answers 400 invalid_request to a token in both the query and %s', async (_, method, body, headers) => {
      const { endpoint, issue } = await resourceSetUp(await backend.open(), { allowQueryToken: true })
      const token = await issue()
      const result = await endpoint.validateProtectedResourceRequest(`${RESOURCE_URI}?access_token=${token}`, method, body, headers(token))
      expect(refusal(result)).toEqual(
        bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${MORE_THAN_ONE_METHOD}"`, 'invalid_request', MORE_THAN_ONE_METHOD),
      )
    })
  })

  describe('RFC 6750 §3 The WWW-Authenticate Response Header Field', () => {
    afterEach(() => {
      vi.useRealTimers()
    })

    it("§3 answers an expired token with the RFC's example challenge", async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 3600 * 1000)
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` })
      expect(refusal(result)).toEqual(
        bearerError(401, 'Bearer realm="example", error="invalid_token", error_description="The access token expired"', 'invalid_token', 'The access token expired'),
      )
    })

    it('§3 grants the same token a second before it expires', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue()
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 3598 * 1000)
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` })
      expect(grantedToken(result).clientId).toBe('backend')
    })

    it('§3 puts the required scope in the challenge as a space-delimited quoted string', async () => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer unknown' }, ['read', 'write'])
      expect(refusal(result)).toEqual(
        bearerError(401, `Bearer realm="example", scope="read write", error="invalid_token", error_description="${UNKNOWN_TOKEN}"`, 'invalid_token', UNKNOWN_TOKEN),
      )
    })

    it('§3 answers a token without the required scope with 403 insufficient_scope and the scope it needs', async () => {
      const { endpoint, issue } = await resourceSetUp(await backend.open())
      const token = await issue('read')
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'POST', 'x=1', { ...FORM, Authorization: `Bearer ${token}` }, ['write'])
      const description = 'The access token does not grant the scope this resource requires'
      expect(refusal(result)).toEqual(
        bearerError(403, `Bearer realm="example", scope="write", error="insufficient_scope", error_description="${description}"`, 'insufficient_scope', description),
      )
    })

    it('§3 leaves realm out of the challenge when none is configured', async () => {
      const { endpoint } = await resourceSetUp(await backend.open(), { realm: undefined })
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer unknown' })
      expect(refusal(result)).toEqual(bearerError(401, `Bearer error="invalid_token", error_description="${UNKNOWN_TOKEN}"`, 'invalid_token', UNKNOWN_TOKEN))
    })

    itOnTheDouble('§3 sends error_uri when the error has one', async () => {
      class RevokingValidator extends MemoryValidator {
        override async validateBearerToken(): Promise<never> {
          throw new InvalidTokenError('The access token was revoked', { uri: 'https://server.example.com/errors/revoked' })
        }
      }
      const endpoint = new ResourceEndpoint({ requestValidator: doubleHarness(new RevokingValidator()).validator, realm: REALM })
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer abc' })
      expect(refusal(result)).toEqual({
        status: 401,
        headers: {
          ...NO_STORE,
          'WWW-Authenticate': 'Bearer realm="example", error="invalid_token", error_description="The access token was revoked", error_uri="https://server.example.com/errors/revoked"',
        },
        body: JSON.stringify({ error: 'invalid_token', error_description: 'The access token was revoked', error_uri: 'https://server.example.com/errors/revoked' }),
      })
    })

    it.each(['say "hi"', 'back\\slash', 'line\nbreak', 'réalm'])('§3 refuses a realm that would need escaping in the quoted string: %j', async (realm) => {
      const validator = (await backend.open()).validator
      expect(() => new ResourceEndpoint({ requestValidator: validator, realm })).toThrow(TypeError)
    })
  })

  describe('RFC 6750 §3.1 Error Codes at the protected resource', () => {
    it("§3.1 answers a request without authentication with 401 and the RFC's example challenge, no error code", async () => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Host: 'server.example.com' })
      expect(refusal(result)).toEqual(unauthenticated('Bearer realm="example"'))
    })

    it('§3.1 treats credentials of another scheme as no Bearer authentication: 401 without an error code', async () => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: basic('backend', 'backend-secret') }, ['read'])
      expect(refusal(result)).toEqual(unauthenticated('Bearer realm="example", scope="read"'))
    })

    it('§3.1 answers a bare Bearer challenge when neither realm nor scope applies', async () => {
      const { endpoint } = await resourceSetUp(await backend.open(), { realm: undefined })
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI)
      expect(refusal(result)).toEqual(unauthenticated('Bearer'))
    })

    it('§3.1 invalid_request: 400 for a malformed request', async () => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer' })
      expect(refusal(result)).toEqual(
        bearerError(400, `Bearer realm="example", error="invalid_request", error_description="${MALFORMED_HEADER}"`, 'invalid_request', MALFORMED_HEADER),
      )
    })

    it('§3.1 invalid_token: 401 for a token the server never issued', async () => {
      const { endpoint } = await resourceSetUp(await backend.open())
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer mF_9.B5f-4.1JqM' })
      expect(refusal(result)).toEqual(bearerError(401, `Bearer realm="example", error="invalid_token", error_description="${UNKNOWN_TOKEN}"`, 'invalid_token', UNKNOWN_TOKEN))
    })

    it('§3.1 invalid_token: 401 for a revoked token', async () => {
      const { endpoint, validator, harness, issueForUser } = await resourceSetUp(await backend.open())
      const { accessToken, refreshToken } = await issueForUser()
      const before = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${accessToken}` })
      expect(grantedToken(before).clientId).toBe('s6BhdRkqt3')
      // RFC 7009 §2.1: revoking the refresh token revokes the access tokens issued with it.
      const revocation = new RevocationEndpoint({ requestValidator: validator })
      const revoked = await revocation.createRevocationResponse('https://server.example.com/revoke', 'POST', `token=${refreshToken}`, {
        Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'),
        ...FORM,
      })
      expect(revoked.status).toBe(200)
      expect(await harness.isRevoked(accessToken)).toBe(true)
      const after = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${accessToken}` })
      expect(refusal(after)).toEqual(bearerError(401, `Bearer realm="example", error="invalid_token", error_description="${UNKNOWN_TOKEN}"`, 'invalid_token', UNKNOWN_TOKEN))
    })

    it('§3.1 invalid_token: 401 for a refresh token presented as an access token', async () => {
      const { endpoint, issueForUser } = await resourceSetUp(await backend.open())
      const { refreshToken } = await issueForUser()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${refreshToken}` })
      expect(refusal(result)).toEqual(bearerError(401, `Bearer realm="example", error="invalid_token", error_description="${UNKNOWN_TOKEN}"`, 'invalid_token', UNKNOWN_TOKEN))
    })

    it('§3.1 insufficient_scope: 403 when one of several required scopes is missing', async () => {
      const { endpoint, issueForUser } = await resourceSetUp(await backend.open())
      const { accessToken } = await issueForUser()
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${accessToken}` }, ['read', 'write'])
      const description = 'The access token does not grant the scope this resource requires'
      expect(refusal(result)).toEqual(
        bearerError(403, `Bearer realm="example", scope="read write", error="insufficient_scope", error_description="${description}"`, 'insufficient_scope', description),
      )
      if (!result.valid) expect(result.error).toBeInstanceOf(InsufficientScopeError)
    })
  })
})
