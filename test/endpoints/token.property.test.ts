/**
 * Property tests of the token endpoint (RFC 6749 §3.2, §5): arbitrary methods, URIs, bodies and headers thrown at
 * `createTokenResponse` of the pre-configured servers. Whatever arrives, the answer is a well-formed RFC 6749 §5.1
 * or §5.2 response, and the promise never rejects.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BackendApplicationServer, LegacyApplicationServer, type OAuth2Response, type RequestBody, type RequestHeaders } from '../../src/index.js'
import {
  authorizationValueOf,
  bodyOf,
  headersOf,
  huge,
  methodOf,
  nasty,
  pairsOf,
  parameterNameOf,
  parameterValueOf,
  uriOf,
} from '../support/arbitraries.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const SEED = 20261123

// RFC 6749 §5.2: the error codes of a token error response.
const TOKEN_ERROR_CODES = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']
// RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/
const TOKEN_RESPONSE_MEMBERS = new Set(['access_token', 'token_type', 'expires_in', 'refresh_token', 'scope'])

type ServerName = 'backend' | 'legacy'

interface TokenRequest {
  readonly server: ServerName
  readonly method: string
  readonly uri: string
  readonly body: RequestBody | undefined
  readonly headers: RequestHeaders | undefined
}

function setUp() {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'client', secret: 'secret' })
  validator.addClient({ clientId: 'public' })
  validator.addClient({ clientId: 'limited', secret: 'limited-secret', grantTypes: ['password'] })
  validator.addClient({ clientId: 'my:client é', secret: 'p@ss word' })
  validator.addUser('alice', 'wonderland')
  validator.addRefreshToken('rt-known', { clientId: 'client', user: validator.users.get('alice'), scopes: ['read', 'write'] })
  validator.addRefreshToken('rt-public', { clientId: 'public', user: validator.users.get('alice'), scopes: ['read'] })
  const serverErrors: unknown[] = []
  const onError = (error: unknown) => {
    serverErrors.push(error)
  }
  const servers: Record<ServerName, BackendApplicationServer | LegacyApplicationServer> = {
    backend: new BackendApplicationServer(validator, { onError }),
    legacy: new LegacyApplicationServer(validator, { onError }),
  }
  const send = (request: TokenRequest): Promise<OAuth2Response> =>
    servers[request.server].createTokenResponse(request.uri, request.method, request.body, request.headers)
  return { validator, serverErrors, send }
}

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries

const parameterName = parameterNameOf(
  fc.constantFrom('grant_type', 'client_id', 'client_secret', 'username', 'password', 'scope', 'refresh_token', 'code', 'redirect_uri', 'code_verifier'),
)

const parameterValue = parameterValueOf(
  fc.constantFrom(
    'password', 'client_credentials', 'refresh_token', 'authorization_code', 'client', 'public', 'limited', 'secret', 'limited-secret',
    'alice', 'wonderland', 'read', 'write', 'read write', 'write read', 'admin', 'rt-known', 'rt-public', '', 'read  write', ' read', 'read"',
  ),
)

const pairs = pairsOf(parameterName, parameterValue)

const body = bodyOf(
  parameterName,
  parameterValue,
  fc.constantFrom('%zz', '%FF%FE', 'grant_type=%zz', 'grant_type=password&username=%FF%FE&password=%', '%', '=&=&', '&&&', 'grant_type', 'grant_type=', '=password', '+++'),
)

const authorizationValue = authorizationValueOf(
  fc.constantFrom(
    basic('client', 'secret'),
    basic('client', 'wrong'),
    basic('limited', 'limited-secret'),
    basic('my:client é', 'p@ss word'),
    basic('public', ''),
    basic('nobody', 'secret'),
    'Basic',
    'Basic ',
    'Basic !!!',
    'Basic ' + btoa('noColon'),
    'Basic ' + btoa(':secret'),
    'Basic ' + btoa('%zz:secret'),
    'Basic ' + btoa('client:%'),
    'Basic ' + btoa('\xff\xfe:\xff'), // not UTF-8
    'Basic abcde', // not a base64 length
    'Basic ====',
    'basic ' + btoa('client:secret'),
    'Basic    ' + btoa('client:secret') + '   ',
    'Basic ' + btoa('client:secret') + ', Basic ' + btoa('client:secret'),
    'Bearer abc',
    'Digest username="client"',
    '',
  ),
)

const headers = headersOf(authorizationValue)

const method = methodOf('POST', fc.constantFrom('post', 'Post', 'GET', 'get', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', ''))

const uri = uriOf(
  TOKEN_URI,
  fc.constantFrom(
    'https://as.example.com/token?client_secret=secret&client_id=client&grant_type=client_credentials',
    'http://as.example.com/token',
    'http://localhost:8080/token',
    '/token',
    'token',
    '',
    'https://[::1',
    'javascript:alert(1)',
    'https://as.example.com/%zz',
  ),
)

/** Complete, correct requests; each must get 200 while its client and grant are still valid. */
const validRequests: readonly TokenRequest[] = [
  { server: 'backend', method: 'POST', uri: TOKEN_URI, body: 'grant_type=client_credentials&scope=read', headers: { Authorization: basic('client', 'secret'), ...FORM } },
  { server: 'backend', method: 'POST', uri: TOKEN_URI, body: { grant_type: 'client_credentials', client_id: 'client', client_secret: 'secret' }, headers: undefined },
  {
    server: 'backend',
    method: 'POST',
    uri: TOKEN_URI,
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'write read' }),
    headers: new Headers({ authorization: basic('my:client é', 'p@ss word') }),
  },
  { server: 'legacy', method: 'POST', uri: TOKEN_URI, body: 'grant_type=password&username=alice&password=wonderland', headers: [['AUTHORIZATION', basic('client', 'secret')]] },
  { server: 'legacy', method: 'POST', uri: TOKEN_URI, body: 'grant_type=password&client_id=public&username=alice&password=wonderland&scope=read', headers: FORM },
  { server: 'legacy', method: 'POST', uri: TOKEN_URI, body: 'grant_type=refresh_token&refresh_token=rt-known', headers: { Authorization: basic('client', 'secret'), ...FORM } },
]

/** Well-formed requests the server must refuse: the client may not use the grant, or is unknown. */
const refusedRequests: readonly TokenRequest[] = [
  { server: 'backend', method: 'POST', uri: TOKEN_URI, body: 'grant_type=client_credentials', headers: { Authorization: basic('limited', 'limited-secret'), ...FORM } },
  { server: 'backend', method: 'POST', uri: TOKEN_URI, body: 'grant_type=password&username=alice&password=wonderland', headers: { Authorization: basic('client', 'secret') } },
  { server: 'legacy', method: 'POST', uri: TOKEN_URI, body: 'grant_type=password&client_id=nobody&username=alice&password=wonderland', headers: FORM },
]

const fuzzedRequest: fc.Arbitrary<TokenRequest> = fc.record({
  server: fc.constantFrom<ServerName>('backend', 'legacy'),
  method,
  uri,
  body,
  headers,
})

/** A valid request with arbitrary pairs appended to its form body: repeats and garbage of known parameters. */
const perturbedValidRequest: fc.Arbitrary<TokenRequest> = fc
  .tuple(fc.constantFrom(...validRequests.filter((request) => typeof request.body === 'string')), pairs)
  .map(([request, extra]) => ({ ...request, body: `${request.body as string}&${new URLSearchParams(extra).toString()}` }))

const tokenRequest = fc.oneof(
  { arbitrary: fuzzedRequest, weight: 6 },
  { arbitrary: perturbedValidRequest, weight: 2 },
  { arbitrary: fc.constantFrom(...validRequests, ...refusedRequests), weight: 1 },
)

// ---------------------------------------------------------------------------------------------------------------
// The properties of every answer

/** Asserts what RFC 6749 §5.1 and §5.2 require of any token endpoint answer, and returns its parsed body. */
function expectWellFormed(response: OAuth2Response): Record<string, unknown> {
  expect(response.status).toBeLessThan(500)
  expect([200, 400, 401, 405]).toContain(response.status)
  // RFC 6749 §5.1, §5.2: token responses and their errors must not be cached.
  expect(response.headers['Cache-Control']).toBe('no-store')
  expect(response.headers.Pragma).toBe('no-cache')
  expect(response.headers['Content-Type']).toMatch(/^application\/json/)
  const body = JSON.parse(response.body) as Record<string, unknown>
  if (response.status === 200) {
    expect(body.token_type).toBe('Bearer')
    expect(body.access_token).toEqual(expect.any(String))
    expect(body.access_token).not.toBe('')
    expect(Number.isInteger(body.expires_in) && (body.expires_in as number) > 0).toBe(true)
    expect(Object.keys(body).filter((member) => !TOKEN_RESPONSE_MEMBERS.has(member))).toEqual([])
    return body
  }
  expect(TOKEN_ERROR_CODES).toContain(body.error)
  expect(body.error_description).toEqual(expect.any(String))
  expect(body.error_description).toMatch(ERROR_DESCRIPTION)
  // RFC 6749 §5.2: invalid_client is the 401 answer, and a 401 carries a challenge (RFC 7235 §3.1).
  expect(response.status === 401).toBe(body.error === 'invalid_client')
  if (response.status === 401) expect(response.headers['WWW-Authenticate']).toMatch(/^Basic /)
  if (response.status === 405) expect(response.headers.Allow).toBe('POST')
  return body
}

function isHttpsUri(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:'
  } catch {
    return false
  }
}

describe('TokenEndpoint.createTokenResponse under arbitrary input (RFC 6749 §3.2, §5)', () => {
  const rejections: unknown[] = []
  const onUnhandledRejection = (reason: unknown) => {
    rejections.push(reason)
  }
  beforeEach(() => {
    rejections.length = 0
    process.on('unhandledRejection', onUnhandledRejection)
  })
  afterEach(() => {
    process.off('unhandledRejection', onUnhandledRejection)
  })

  /** Lets Node report any rejection left unhandled by the requests just made. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10))

  it('answers every request with an RFC 6749 §5.1 token or §5.2 error response, never a rejection or a 5xx', async () => {
    const { serverErrors, send } = setUp()
    const statuses = new Set<number>()
    const errors = new Set<unknown>()
    await fc.assert(
      fc.asyncProperty(tokenRequest, async (request) => {
        let response: OAuth2Response
        try {
          response = await send(request)
        } catch (rejection) {
          throw new Error(`createTokenResponse rejected: ${String(rejection)}`)
        }
        const body = expectWellFormed(response)
        statuses.add(response.status)
        errors.add(body.error)
      }),
      { seed: SEED, numRuns: 600 },
    )
    await settle()
    expect(rejections).toEqual([])
    expect(serverErrors).toEqual([])
    // The generators reach every outcome, so the properties above were checked on each of them.
    expect([...statuses].sort()).toEqual([200, 400, 401, 405])
    expect([...errors].filter((error) => error !== undefined).sort()).toEqual([...TOKEN_ERROR_CODES].sort())
  })

  it('answers a method other than POST with 405 and Allow: POST (RFC 6749 §3.2)', async () => {
    const { send } = setUp()
    const notPost = fc.oneof(fc.constantFrom('GET', 'get', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', ''), fc.stringMatching(/^[A-Za-z]{1,10}$/)).filter((m) => m.toUpperCase() !== 'POST')
    await fc.assert(
      fc.asyncProperty(fuzzedRequest, notPost, async (request, httpMethod) => {
        const response = await send({ ...request, method: httpMethod })
        expectWellFormed(response)
        expect(response.status).toBe(405)
        expect(response.headers.Allow).toBe('POST')
      }),
      { seed: SEED, numRuns: 100 },
    )
    await settle()
    expect(rejections).toEqual([])
  })

  it('answers a POST to anything but an absolute https URI with invalid_request (RFC 6749 §3.2 requires TLS)', async () => {
    const { send } = setUp()
    const notHttps = fc.oneof(uri, fc.webUrl({ validSchemes: ['http', 'ftp'] })).filter((value) => !isHttpsUri(value))
    await fc.assert(
      fc.asyncProperty(fc.oneof(fuzzedRequest, fc.constantFrom(...validRequests)), notHttps, async (request, requestUri) => {
        const response = await send({ ...request, method: 'POST', uri: requestUri })
        expect(response.status).toBe(400)
        expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request' })
        expectWellFormed(response)
      }),
      { seed: SEED, numRuns: 100 },
    )
    await settle()
    expect(rejections).toEqual([])
  })

  it('issues tokens for a valid request whatever unrecognized parameters and headers come with it (RFC 6749 §3.2)', async () => {
    const { validator, send } = setUp()
    const recognized = new Set(['grant_type', 'client_id', 'client_secret', 'username', 'password', 'scope', 'refresh_token'])
    const extraParameters = fc.array(fc.tuple(nasty.filter((name) => !recognized.has(name)), fc.oneof({ arbitrary: nasty, weight: 19 }, huge)), { maxLength: 6 })
    const extraHeaders = fc.array(fc.tuple(nasty.filter((name) => !['authorization', 'content-type'].includes(name.toLowerCase())), nasty), { maxLength: 4 })
    let refreshTokens = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...validRequests), extraParameters, extraHeaders, async (request, extra, extraHeaderEntries) => {
        // Each refresh needs a refresh token never used before: rotation invalidates the one presented (RFC 9700 §4.14.2).
        const refreshToken = `rt-${refreshTokens++}`
        validator.addRefreshToken(refreshToken, { clientId: 'client', user: validator.users.get('alice'), scopes: ['read'] })
        const baseBody = typeof request.body === 'string' ? request.body.replace('rt-known', refreshToken) : request.body
        const form = new URLSearchParams(baseBody as string | URLSearchParams | Record<string, string>)
        for (const [name, value] of extra) form.append(name, value)
        const requestHeaders = new Headers(request.headers as HeadersInit | undefined)
        for (const [name, value] of extraHeaderEntries) {
          try {
            requestHeaders.append(name, value)
          } catch {
            // not a header any HTTP stack would deliver
          }
        }
        const response = await send({ ...request, body: form.toString(), headers: Object.fromEntries(requestHeaders) })
        expect(response.status, response.body).toBe(200)
        expectWellFormed(response)
      }),
      { seed: SEED, numRuns: 100 },
    )
    await settle()
    expect(rejections).toEqual([])
  })

  it('answers a null body, as a Fetch Request without a body holds, with invalid_request', async () => {
    const { serverErrors, send } = setUp()
    const response = await send({ server: 'backend', method: 'POST', uri: TOKEN_URI, body: null as unknown as RequestBody, headers: { Authorization: basic('client', 'secret') } })
    expect(serverErrors).toEqual([])
    expect(response.status).toBe(400)
    expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request' })
    expectWellFormed(response)
  })

  it('answers an object body whose array holds a value with no string form with invalid_request', async () => {
    const { serverErrors, send } = setUp()
    const body = { grant_type: [Object.create(null)] } as unknown as RequestBody
    const response = await send({ server: 'backend', method: 'POST', uri: TOKEN_URI, body, headers: { Authorization: basic('client', 'secret') } })
    expect(serverErrors).toEqual([])
    expect(response.status).toBe(400)
    expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request' })
    expectWellFormed(response)
  })
})
