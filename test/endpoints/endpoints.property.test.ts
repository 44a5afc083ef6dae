/**
 * Property tests of the endpoints around the token endpoint: revocation (RFC 7009), introspection (RFC 7662), the
 * protected-resource check (RFC 6750) and metadata (RFC 8414) of a `Server`, whose validator holds real clients and
 * real tokens issued beforehand through the token endpoint. Arbitrary methods, URIs, bodies and headers, with those
 * tokens among them: whatever arrives, nothing rejects, nothing is a 5xx, every answer is the one its RFC allows, and
 * the server still works afterwards.
 */
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Server, type OAuth2Response, type ProtectedResourceResult, type RequestBody, type RequestHeaders } from '../../src/index.js'
import {
  authorizationName,
  authorizationValueOf,
  bodyOf,
  contentTypeName,
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
const ISSUER = 'https://as.example.com'
const REVOKE_URI = `${ISSUER}/revoke`
const INTROSPECT_URI = `${ISSUER}/introspect`
const METADATA_URI = `${ISSUER}/.well-known/oauth-authorization-server`
const RESOURCE_URI = 'https://api.example.com/photos'

// RFC 6749 §5.2 codes, with RFC 7009 §2.2.1's unsupported_token_type: all a revocation or introspection error may be.
const ENDPOINT_ERRORS = new Set(['invalid_request', 'invalid_client', 'unauthorized_client', 'unsupported_token_type'])
// RFC 6750 §3.1: the error codes of a Bearer challenge.
const BEARER_ERRORS = new Set(['invalid_request', 'invalid_token', 'insufficient_scope'])
const BEARER_STATUS: Readonly<Record<string, number>> = { invalid_request: 400, invalid_token: 401, insufficient_scope: 403 }
// RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/
// RFC 6750 §3: "Bearer", then auth-params whose quoted values need no escaping (RFC 7235 §2.1).
const BEARER_CHALLENGE = /^Bearer(?: [a-z_]+="[\x20-\x21\x23-\x5B\x5D-\x7E]*"(?:, [a-z_]+="[\x20-\x21\x23-\x5B\x5D-\x7E]*")*)?$/
const REQUIRED_SCOPES = ['read', 'write', 'admin'] as const

/** The confidential clients and their secrets; `public` has none. */
const SECRETS: Readonly<Record<string, string>> = { client: 'secret', other: 'other-secret', 'my:client é': 'p@ss word' }

interface Sent {
  readonly method: string | undefined
  readonly uri: string
  readonly body: RequestBody | undefined
  readonly headers: RequestHeaders | undefined
}

/** A token issued through the token endpoint before the run. */
interface Issued {
  readonly value: string
  readonly tokenType: 'access_token' | 'refresh_token'
  readonly clientId: string
  /** For an access token, the refresh token issued with it: revoking that one revokes this one (RFC 7009 §2.1). */
  readonly refreshToken: string | undefined
}

/** The tokens of the current fixture; the arbitraries pick from them by index, at generation time. */
let pool: readonly Issued[] = []

/** Token requests made before each run: every client kind, both grants, both token types. */
const ISSUING_REQUESTS: ReadonlyArray<{ readonly clientId: string; readonly body: string; readonly headers: RequestHeaders }> = [
  { clientId: 'client', body: 'grant_type=client_credentials&scope=read', headers: { Authorization: basic('client', 'secret'), ...FORM } },
  { clientId: 'client', body: 'grant_type=client_credentials&scope=read+write', headers: { Authorization: basic('client', 'secret'), ...FORM } },
  { clientId: 'other', body: 'grant_type=client_credentials&scope=read+write+admin', headers: { Authorization: basic('other', 'other-secret'), ...FORM } },
  { clientId: 'my:client é', body: `grant_type=client_credentials&client_id=${encodeURIComponent('my:client é')}&client_secret=p%40ss+word`, headers: FORM },
  { clientId: 'client', body: 'grant_type=password&username=alice&password=wonderland&scope=read+write', headers: { Authorization: basic('client', 'secret'), ...FORM } },
  { clientId: 'public', body: 'grant_type=password&client_id=public&username=alice&password=wonderland&scope=read', headers: FORM },
  { clientId: 'other', body: 'grant_type=password&username=alice&password=wonderland&scope=write', headers: { Authorization: basic('other', 'other-secret'), ...FORM } },
]

async function setUp() {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'client', secret: 'secret' })
  validator.addClient({ clientId: 'other', secret: 'other-secret', scopes: ['read', 'write', 'admin'], resourceServer: true })
  validator.addClient({ clientId: 'my:client é', secret: 'p@ss word' })
  validator.addClient({ clientId: 'public' })
  validator.addUser('alice', 'wonderland')
  const serverErrors: unknown[] = []
  const server = new Server(validator, { issuer: ISSUER, onError: (error) => serverErrors.push(error) })
  const tokens: Issued[] = []
  for (const { clientId, body, headers } of ISSUING_REQUESTS) {
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', body, headers)
    expect(response.status, response.body).toBe(200)
    const { access_token: accessToken, refresh_token: refreshToken } = JSON.parse(response.body) as { access_token: string; refresh_token?: string }
    tokens.push({ value: accessToken, tokenType: 'access_token', clientId, refreshToken })
    if (refreshToken !== undefined) tokens.push({ value: refreshToken, tokenType: 'refresh_token', clientId, refreshToken: undefined })
  }
  pool = tokens
  return { validator, server, serverErrors }
}

type Fixture = Awaited<ReturnType<typeof setUp>>

// ---------------------------------------------------------------------------------------------------------------
// Arbitraries

/** One of the tokens issued before the run, by index. */
const issuedIndex = fc.nat({ max: 1000 })
const issuedToken = issuedIndex.map((index) => issuedAt(index).value)

function issuedAt(index: number): Issued {
  const issued = pool[index % pool.length]
  if (issued === undefined) throw new Error('No tokens issued yet: call setUp() before generating requests')
  return issued
}

const parameterName = parameterNameOf(
  fc.constantFrom('token', 'token_type_hint', 'client_id', 'client_secret', 'access_token', 'scope', 'grant_type', 'resource'),
)

const parameterValue = parameterValueOf(
  fc.oneof(
    { arbitrary: issuedToken, weight: 2 },
    {
      arbitrary: fc.constantFrom(
        'access_token', 'refresh_token', 'ACCESS_TOKEN', 'id_token', 'client', 'other', 'public', 'my:client é', 'nobody', 'secret', 'other-secret',
        'p@ss word', 'wrong', '', 'read', 'read write', 'unknown-token', 'Bearer', ' ', 'client_credentials',
      ),
      weight: 3,
    },
  ),
)

const pairs = pairsOf(parameterName, parameterValue)

const body = bodyOf(
  parameterName,
  parameterValue,
  fc.constantFrom('%zz', '%FF%FE', 'token=%zz', 'token=%FF%FE&token_type_hint=%', 'token=a&token=b', 'token', 'token=', '=x', '+++', 'access_token=%', '&&&'),
)

const authorizationValue = authorizationValueOf(
  fc.oneof(
    {
      arbitrary: fc.constantFrom(
        basic('client', 'secret'),
        basic('other', 'other-secret'),
        basic('my:client é', 'p@ss word'),
        basic('public', ''),
        basic('client', 'wrong'),
        basic('nobody', 'secret'),
        'Basic',
        'Basic ',
        'Basic !!!',
        'Basic ' + btoa('noColon'),
        'Basic ' + btoa(':secret'),
        'Basic ' + btoa('client:%'),
        'Basic ' + btoa('\xff\xfe:\xff'), // not UTF-8
        'Basic abcde', // not a base64 length
        'Basic ====',
        'Basic ' + btoa('client:secret') + ', Basic ' + btoa('client:secret'),
        'Bearer',
        'Bearer ',
        'Bearer !!!',
        'Bearer a b',
        'Bearer unknown-token',
        'Digest username="client"',
        '',
      ),
      weight: 3,
    },
    // Bearer with a real token, in odd spellings and with trailing garbage (RFC 6750 §2.1: "Bearer" 1*SP b64token).
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom('Bearer ', 'bearer ', 'BEARER ', 'Bearer   ', ' Bearer ', 'Bearer\t', 'Bearer:'),
          issuedToken,
          fc.constantFrom('', '', ' ', '=', '==', '!', ', Bearer x'),
        )
        .map(([scheme, token, suffix]) => scheme + token + suffix),
      weight: 3,
    },
    huge.map((value) => 'Bearer ' + value),
  ),
)

/** Headers in every shape, plus what JavaScript callers send beyond the type: `null`, and `null` values. */
const headers: fc.Arbitrary<RequestHeaders | undefined> = fc.oneof(
  { arbitrary: headersOf(authorizationValue), weight: 8 },
  fc.constant(null),
  fc
    .array(fc.tuple(fc.oneof(authorizationName, contentTypeName, nasty), fc.oneof(fc.constant(null), authorizationValue)), { maxLength: 4 })
    .map((entries) => Object.fromEntries(entries) as unknown as RequestHeaders),
  fc
    .array(fc.tuple(fc.oneof(authorizationName, contentTypeName), fc.constant(null)), { maxLength: 2 })
    .map((entries) => entries as unknown as RequestHeaders),
)

/** A method, or none at all (the endpoint's default). */
function methodOrDefault(usual: string, others: readonly string[]): fc.Arbitrary<string | undefined> {
  return fc.oneof({ arbitrary: methodOf(usual, fc.constantFrom(...others)), weight: 20 }, fc.constant(undefined))
}

const postMethod = methodOrDefault('POST', ['post', 'Post', 'GET', 'get', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', ''])

function fuzzed(uri: fc.Arbitrary<string>, method: fc.Arbitrary<string | undefined>): fc.Arbitrary<Sent> {
  return fc.record({ method, uri, body, headers })
}

/** How a client authenticates in a well-formed request: Basic, client_secret_post, or client_id alone if public. */
function authenticated(clientId: string, style: 'basic' | 'post', form: URLSearchParams): Record<string, string> {
  const secret = SECRETS[clientId]
  if (secret === undefined) {
    form.set('client_id', clientId)
    return { ...FORM }
  }
  if (style === 'post') {
    form.set('client_id', clientId)
    form.set('client_secret', secret)
    return { ...FORM }
  }
  return { Authorization: basic(clientId, secret), ...FORM }
}

/**
 * Revocation and introspection requests as a client sends them: a real token, by its owner or another client, with a
 * hint right, wrong or unknown, in every body shape, sometimes with extra pairs appended (repeats included).
 */
function wellFormed(uri: string): fc.Arbitrary<Sent> {
  return fc
    .record({
      index: issuedIndex,
      caller: fc.constantFrom('owner', 'owner', 'client', 'other', 'public', 'my:client é'),
      style: fc.constantFrom<'basic' | 'post'>('basic', 'post'),
      hint: fc.constantFrom(undefined, undefined, 'access_token', 'refresh_token', 'bogus'),
      shape: fc.constantFrom('string', 'string', 'params', 'object'),
      extra: fc.option(pairs, { freq: 3, nil: undefined }),
    })
    .map(({ index, caller, style, hint, shape, extra }): Sent => {
      const token = issuedAt(index)
      const form = new URLSearchParams({ token: token.value })
      if (hint !== undefined) form.set('token_type_hint', hint)
      const headers = authenticated(caller === 'owner' ? token.clientId : caller, style, form)
      for (const [name, value] of extra ?? []) form.append(name, value)
      const body = shape === 'string' ? form.toString() : shape === 'params' ? form : Object.fromEntries(form)
      return { method: 'POST', uri, body, headers }
    })
}

/** An endpoint's URI: mostly `usual`, else `others`, or `usual` with a real token as query parameter `name`. */
function uriCarrying(usual: string, name: string, others: readonly string[]): fc.Arbitrary<string> {
  return uriOf(usual, fc.oneof(fc.constantFrom(...others), issuedToken.map((token) => `${usual}?${name}=${token}&client_id=public`)))
}

const BROKEN_URIS = ['', 'https://[::1', 'javascript:alert(1)']

const revocationRequest = fc.oneof(
  {
    arbitrary: fuzzed(uriCarrying(REVOKE_URI, 'token', ['http://as.example.com/revoke', '/revoke', 'https://as.example.com/%zz', ...BROKEN_URIS]), postMethod),
    weight: 5,
  },
  { arbitrary: wellFormed(REVOKE_URI), weight: 3 },
)

const introspectionRequest = fc.oneof(
  {
    arbitrary: fuzzed(uriCarrying(INTROSPECT_URI, 'token', ['http://as.example.com/introspect', '/introspect', 'https://as.example.com/%zz', ...BROKEN_URIS]), postMethod),
    weight: 5,
  },
  { arbitrary: wellFormed(INTROSPECT_URI), weight: 3 },
)

/** Resource requests with a real token in the header, the form body, the query, or several of them. */
const wellFormedResourceRequest: fc.Arbitrary<Sent> = fc
  .record({
    token: issuedToken,
    placement: fc.constantFrom('header', 'header', 'body', 'query', 'header+body'),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
    extra: fc.option(pairs, { freq: 3, nil: undefined }),
  })
  .map(({ token, placement, method, extra }): Sent => {
    const form = new URLSearchParams(extra ?? [])
    if (placement.includes('body')) form.append('access_token', token)
    return {
      method,
      uri: placement === 'query' ? `${RESOURCE_URI}?access_token=${token}` : RESOURCE_URI,
      body: form.toString(),
      headers: placement.includes('header') ? { Authorization: `Bearer ${token}`, ...FORM } : FORM,
    }
  })

const resourceRequest = fc.record({
  sent: fc.oneof(
    {
      arbitrary: fuzzed(
        uriCarrying(RESOURCE_URI, 'access_token', ['http://api.example.com/photos', '/photos', 'https://api.example.com/%zz', ...BROKEN_URIS]),
        methodOrDefault('GET', ['get', 'POST', 'post', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', '']),
      ),
      weight: 5,
    },
    { arbitrary: wellFormedResourceRequest, weight: 3 },
  ),
  scopes: fc.shuffledSubarray([...REQUIRED_SCOPES]),
})

const metadataRequest = fuzzed(
  uriOf(METADATA_URI, fc.constantFrom(`${ISSUER}/.well-known/openid-configuration`, 'http://as.example.com/.well-known/oauth-authorization-server', '/', ...BROKEN_URIS)),
  methodOrDefault('GET', ['HEAD', 'head', 'get', 'Get', 'POST', 'post', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', '']),
)

// ---------------------------------------------------------------------------------------------------------------
// The properties of every answer

/** Every string a request value holds (keys, values, items), to find the tokens it carries. */
function stringsOf(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') {
    found.push(value)
  } else if (value instanceof URLSearchParams || value instanceof Headers) {
    for (const [name, item] of value) found.push(name, item)
  } else if (typeof value === 'object' && value !== null && Symbol.iterator in value) {
    for (const item of value as Iterable<unknown>) stringsOf(item, found)
  } else if (typeof value === 'object' && value !== null) {
    for (const [name, item] of Object.entries(value)) found.push(name, ...stringsOf(item))
  }
  return found
}

/** The issued tokens that occur anywhere in `parts`. */
function tokensIn(...parts: unknown[]): Issued[] {
  const strings = stringsOf(parts)
  return pool.filter((token) => strings.some((text) => text.includes(token.value)))
}

/** The client ids a request could authenticate as: the id of any Basic credentials, any value or name in its body. */
function callersOf(sent: Sent): Set<string> {
  const callers = new Set<string>()
  for (const text of stringsOf(sent.headers)) {
    const credentials = /^\s*basic\s+([A-Za-z0-9+/]+=*)/i.exec(text)?.[1]
    if (credentials === undefined) continue
    try {
      const decoded = new TextDecoder().decode(Uint8Array.from(atob(credentials), (c) => c.charCodeAt(0)))
      callers.add(decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, ' ')))
    } catch {
      // not credentials any server could read
    }
  }
  const form = typeof sent.body === 'string' ? [...new URLSearchParams(sent.body)] : sent.body
  for (const text of stringsOf(form)) callers.add(text)
  return callers
}

/** Asserts an RFC 6749 §5.2 error response, as RFC 7009 §2.2.1 and RFC 7662 §2.3 use it, and returns its code. */
function expectRfcError(response: OAuth2Response, allow: string): string {
  expect([400, 401, 405]).toContain(response.status)
  expect(response.headers['Content-Type']).toMatch(/^application\/json/)
  const body = JSON.parse(response.body) as Record<string, unknown>
  expect(ENDPOINT_ERRORS.has(body.error as string), String(body.error)).toBe(true)
  expect(body.error_description).toEqual(expect.any(String))
  expect(body.error_description).toMatch(ERROR_DESCRIPTION)
  // RFC 6749 §5.2: invalid_client is the 401, and a 401 carries a challenge (RFC 7235 §3.1).
  expect(response.status === 401).toBe(body.error === 'invalid_client')
  if (response.status === 401) expect(response.headers['WWW-Authenticate']).toMatch(/^Basic /)
  if (response.status === 405) {
    expect(body.error).toBe('invalid_request')
    expect(response.headers.Allow).toBe(allow)
  }
  return `${response.status} ${body.error as string}`
}

/** The issued tokens the validator holds as revoked. */
function revokedNow(validator: MemoryValidator): Set<string> {
  return new Set(pool.filter((token) => validator.tokens.get(token.value)?.revoked === true).map((token) => token.value))
}

/**
 * Revokes, through the revocation endpoint, the public client's refresh token (its access token goes with it, RFC 7009
 * §2.1) and one client credentials access token, so that revoked tokens are among the inputs. Returns all three.
 */
async function revokeSome({ server, validator }: Fixture): Promise<ReadonlySet<string>> {
  const publicRefresh = pool.find((token) => token.clientId === 'public' && token.tokenType === 'refresh_token') as Issued
  const firstAccess = pool[0] as Issued
  const responses = [
    await server.createRevocationResponse(REVOKE_URI, 'POST', `token=${publicRefresh.value}&client_id=public`, FORM),
    await server.createRevocationResponse(REVOKE_URI, 'POST', `token=${firstAccess.value}`, { Authorization: basic('client', 'secret'), ...FORM }),
  ]
  expect(responses.map((response) => response.status)).toEqual([200, 200])
  const revoked = revokedNow(validator)
  expect(revoked.size).toBe(3)
  return revoked
}

/**
 * The server still works: a new token is issued, and every pre-issued token not `revoked` by a successful revocation
 * still introspects as active and, if an access token, still opens the resource.
 */
async function expectStillWorking({ server, validator }: Fixture, revoked: ReadonlySet<string>): Promise<void> {
  const fresh = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials&scope=read', { Authorization: basic('client', 'secret'), ...FORM })
  expect(fresh.status, fresh.body).toBe(200)
  const freshToken = (JSON.parse(fresh.body) as { access_token: string }).access_token
  const tokens = [...pool.filter((token) => !revoked.has(token.value)), { value: freshToken, tokenType: 'access_token', clientId: 'client', refreshToken: undefined } as const]
  for (const token of tokens) {
    const introspected = await server.createIntrospectResponse(INTROSPECT_URI, 'POST', `token=${token.value}`, { Authorization: basic('other', 'other-secret'), ...FORM })
    expect(introspected.status).toBe(200)
    expect(JSON.parse(introspected.body), token.value).toMatchObject({
      active: true,
      client_id: token.clientId,
      token_type: token.tokenType === 'access_token' ? 'Bearer' : 'refresh_token',
    })
    if (token.tokenType === 'access_token') {
      const checked = await server.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token.value}` })
      expect(checked.valid).toBe(true)
      if (checked.valid) expect(checked.token).toBe(validator.tokens.get(token.value))
    }
  }
}

describe('Revocation, introspection, resource and metadata endpoints of a Server under arbitrary input', () => {
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
    pool = []
  })

  /** Lets Node report any rejection left unhandled by the requests just made. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10))

  it('revocation answers 200 with an empty body or an RFC error, and revokes only what a 200 was asked to (RFC 7009 §2.1, §2.2)', async () => {
    const fixture = await setUp()
    const { server, validator, serverErrors } = fixture
    const seen = new Set<string>()
    // The issued tokens a successful revocation named in its body, and the access tokens of a refresh token named.
    const revokedByRequest = new Set<string>()
    await fc.assert(
      fc.asyncProperty(revocationRequest, async (sent) => {
        const before = revokedNow(validator)
        let response: OAuth2Response
        try {
          response = await server.createRevocationResponse(sent.uri, sent.method, sent.body, sent.headers)
        } catch (rejection) {
          throw new Error(`createRevocationResponse rejected: ${String(rejection)}`)
        }
        expect(response.status).toBeLessThan(500)
        // RFC 7009 §2.2, RFC 6749 §5.1: answers about tokens are never cached, errors included.
        expect(response.headers['Cache-Control']).toBe('no-store')
        const newlyRevoked = [...revokedNow(validator)].filter((token) => !before.has(token))
        if (response.status === 200) {
          expect(response.body).toBe('')
          // RFC 7009 §2.1: the token is in the body; a token in the URI or a header is not the one to revoke.
          const named = tokensIn(sent.body).map((token) => token.value)
          const family = pool.filter((token) => token.refreshToken !== undefined && named.includes(token.refreshToken)).map((token) => token.value)
          for (const token of [...named, ...family]) revokedByRequest.add(token)
          expect(newlyRevoked.filter((token) => !revokedByRequest.has(token))).toEqual([])
          // RFC 7009 §2.1: only the client the token was issued to may revoke it.
          const callers = callersOf(sent)
          expect(pool.filter((token) => newlyRevoked.includes(token.value) && !callers.has(token.clientId))).toEqual([])
          seen.add(newlyRevoked.length > 0 ? '200 revoked' : '200 nothing to revoke')
        } else {
          // An error answer revokes nothing (RFC 7009 §2.1: a token of another client "is not revoked").
          expect(newlyRevoked).toEqual([])
          seen.add(expectRfcError(response, 'POST'))
        }
      }),
      { seed: SEED, numRuns: 400 },
    )
    await expectStillWorking(fixture, revokedByRequest)
    await settle()
    expect(rejections).toEqual([])
    expect(serverErrors).toEqual([])
    // unsupported_token_type cannot occur: a Server revokes both token types.
    expect([...seen].sort()).toEqual([
      '200 nothing to revoke',
      '200 revoked',
      '400 invalid_request',
      '400 unauthorized_client',
      '401 invalid_client',
      '405 invalid_request',
    ])
  })

  it('introspection answers 200 with a boolean active, exactly {"active":false} when inactive, or an RFC error (RFC 7662 §2.2, §2.3)', async () => {
    const fixture = await setUp()
    const { server, validator, serverErrors } = fixture
    const revoked = await revokeSome(fixture)
    const seen = new Set<string>()
    await fc.assert(
      fc.asyncProperty(introspectionRequest, async (sent) => {
        let response: OAuth2Response
        try {
          response = await server.createIntrospectResponse(sent.uri, sent.method, sent.body, sent.headers)
        } catch (rejection) {
          throw new Error(`createIntrospectResponse rejected: ${String(rejection)}`)
        }
        expect(response.status).toBeLessThan(500)
        expect(response.headers['Cache-Control']).toBe('no-store')
        if (response.status !== 200) {
          seen.add(expectRfcError(response, 'POST'))
          return
        }
        expect(response.headers['Content-Type']).toMatch(/^application\/json/)
        const body = JSON.parse(response.body) as Record<string, unknown>
        expect(body.active).toBeTypeOf('boolean')
        if (body.active === false) {
          // RFC 7662 §2.2: nothing but active, not even why.
          expect(body).toEqual({ active: false })
          seen.add('inactive')
          return
        }
        // Active only for a live token issued beforehand, named in the body, and described as it was issued.
        const matching = tokensIn(sent.body).filter(
          (token) =>
            validator.tokens.get(token.value)?.revoked === false &&
            body.client_id === token.clientId &&
            body.token_type === (token.tokenType === 'access_token' ? 'Bearer' : 'refresh_token'),
        )
        expect(matching.length, response.body).toBeGreaterThan(0)
        expect(body.iss).toBe(ISSUER)
        seen.add(`active ${body.token_type as string}`)
      }),
      { seed: SEED, numRuns: 400 },
    )
    await expectStillWorking(fixture, revoked)
    await settle()
    expect(rejections).toEqual([])
    expect(serverErrors).toEqual([])
    expect([...seen].sort()).toEqual(['400 invalid_request', '401 invalid_client', '405 invalid_request', 'active Bearer', 'active refresh_token', 'inactive'])
  })

  it('the resource check grants only a live access token with the scopes, and otherwise answers with a Bearer challenge (RFC 6750 §2, §3)', async () => {
    const fixture = await setUp()
    const { server, validator, serverErrors } = fixture
    const revoked = await revokeSome(fixture)
    const seen = new Set<string>()
    await fc.assert(
      fc.asyncProperty(resourceRequest, async ({ sent, scopes }) => {
        let result: ProtectedResourceResult
        try {
          result = await server.validateProtectedResourceRequest(sent.uri, sent.method, sent.body, sent.headers, scopes)
        } catch (rejection) {
          throw new Error(`validateProtectedResourceRequest rejected: ${String(rejection)}`)
        }
        if (result.valid) {
          // The token the request presents (header or body; the query is refused) among the live access tokens.
          const granted = tokensIn(sent.headers, sent.body).find(
            (token) => token.tokenType === 'access_token' && validator.tokens.get(token.value) === result.token,
          )
          expect(granted, 'the token granted is not one the request presents').toBeDefined()
          expect(validator.tokens.get(granted?.value as string)?.revoked).toBe(false)
          expect(scopes.filter((scope) => !result.token.scopes.includes(scope))).toEqual([])
          seen.add('valid')
          return
        }
        const { response } = result
        expect([400, 401, 403]).toContain(response.status)
        expect(response.headers['Cache-Control']).toBe('no-store')
        const challenge = response.headers['WWW-Authenticate']
        expect(challenge).toMatch(/^Bearer/)
        expect(challenge).toMatch(BEARER_CHALLENGE)
        const error = /(?:^Bearer |, )error="([^"]*)"/.exec(challenge as string)?.[1]
        if (error === undefined) {
          // RFC 6750 §3.1: a request without a token gets the challenge but no error code.
          expect(response.status).toBe(401)
          expect(response.body).toBe('')
          seen.add('401 no token')
          return
        }
        expect(BEARER_ERRORS.has(error), error).toBe(true)
        expect(response.status).toBe(BEARER_STATUS[error])
        expect(challenge).toMatch(/error_description="[^"]+"/)
        const body = JSON.parse(response.body) as Record<string, unknown>
        expect(body.error).toBe(error)
        expect(body.error_description).toMatch(ERROR_DESCRIPTION)
        seen.add(`${response.status} ${error}`)
      }),
      { seed: SEED, numRuns: 400 },
    )
    await expectStillWorking(fixture, revoked)
    await settle()
    expect(rejections).toEqual([])
    expect(serverErrors).toEqual([])
    expect([...seen].sort()).toEqual(['400 invalid_request', '401 invalid_token', '401 no token', '403 insufficient_scope', 'valid'])
  })

  it('metadata answers GET and HEAD with the same document, anything else with 405 (RFC 8414 §3.1, §3.2)', async () => {
    const fixture = await setUp()
    const { server, serverErrors } = fixture
    const get = await server.createMetadataResponse(METADATA_URI, 'GET')
    const document = JSON.parse(get.body) as Record<string, unknown>
    expect(document).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/token`,
      revocation_endpoint: REVOKE_URI,
      introspection_endpoint: INTROSPECT_URI,
    })
    const seen = new Set<string>()
    await fc.assert(
      fc.asyncProperty(metadataRequest, async (sent) => {
        let response: OAuth2Response
        try {
          response = await server.createMetadataResponse(sent.uri, sent.method, sent.body, sent.headers)
        } catch (rejection) {
          throw new Error(`createMetadataResponse rejected: ${String(rejection)}`)
        }
        const method = (sent.method ?? 'GET').toUpperCase()
        if (method === 'GET' || method === 'HEAD') {
          expect(response.status).toBe(200)
          // RFC 9110 §9.3.2: HEAD gets GET's headers and no content.
          expect(response.headers).toEqual(get.headers)
          expect(response.body).toBe(method === 'HEAD' ? '' : get.body)
          seen.add(`200 ${method}`)
          return
        }
        expect(response.status).toBe(405)
        expect(response.headers.Allow).toBe('GET, HEAD')
        expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(ERROR_DESCRIPTION) })
        seen.add('405')
      }),
      { seed: SEED, numRuns: 200 },
    )
    expect(JSON.parse(get.body)).toEqual(document)
    await expectStillWorking(fixture, new Set())
    await settle()
    expect(rejections).toEqual([])
    expect(serverErrors).toEqual([])
    expect([...seen].sort()).toEqual(['200 GET', '200 HEAD', '405'])
  })
})
