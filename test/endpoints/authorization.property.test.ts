/**
 * Property tests of the authorization endpoint (RFC 6749 §3.1, §4.1.2.1): arbitrary requests thrown at
 * `createAuthorizationResponse` and `validateAuthorizationRequest`. Whatever arrives, nothing rejects, nothing is a
 * 5xx, and no response ever redirects anywhere but a URI registered for the client the request names.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AccessDeniedError, OAuth2Error, Server, type OAuth2Response, type RequestBody } from '../../src/index.js'
import { MemoryValidator } from '../support/memory-validator.js'

const SEED = 20261123
const AUTHORIZE = 'https://as.example.com/authorize'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const REGISTERED: Readonly<Record<string, readonly string[]>> = {
  web: ['https://client.example.com/cb'],
  multi: ['https://a.example.com/cb', 'https://b.example.com/cb?tenant=1'],
  native: ['http://127.0.0.1/callback', 'com.example.app:/oauth'],
}
const AUTHORIZATION_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'invalid_target',
])

function setUp() {
  const validator = new MemoryValidator()
  for (const [clientId, redirectUris] of Object.entries(REGISTERED)) {
    validator.addClient({ clientId, redirectUris, responseTypes: ['code', 'token'], resources: ['https://api.example.com/'] })
  }
  const serverErrors: unknown[] = []
  const server = new Server(validator, { enableImplicitGrant: true, issuer: 'https://as.example.com', onError: (e) => serverErrors.push(e) })
  return { server, serverErrors }
}

/** A client's registered URIs with variations an attacker would try (RFC 9700 §4.1.3), and foreign URIs. */
function redirectUriFor(registered: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...registered),
    fc.constantFrom(...registered).chain((uri) =>
      fc.constantFrom(
        `${uri}/`,
        `${uri}.evil.com`,
        `${uri}/../../evil`,
        `${uri}#frag`,
        `${uri}?x=1`,
        `${uri}&x=1`,
        uri.toUpperCase(),
        uri.replace('https://', 'https://user@'),
        uri.replace('https://', 'http://'),
        uri.replace('127.0.0.1', '127.0.0.1:51234'),
        uri.replace('127.0.0.1', 'localhost:51234'),
        uri.replace('127.0.0.1/', '127.0.0.1:80@evil.com/'),
        uri.replace('.com', '.com:444'),
        ` ${uri}`,
        encodeURI(uri),
      ),
    ),
    fc.constantFrom(...Object.values(REGISTERED).flat()),
    fc.constantFrom('https://evil.example/cb', 'javascript:alert(1)', 'data:text/html,hi', '//evil.example/cb', '/cb', 'evil', ''),
    fc.string({ maxLength: 30 }),
  )
}

const redirectUri = redirectUriFor(Object.values(REGISTERED).flat())

const param = fc.oneof(
  fc.tuple(fc.constant('client_id'), fc.oneof(fc.constantFrom('web', 'multi', 'native', 'unknown', ''), fc.string({ maxLength: 8 }))),
  fc.tuple(fc.constant('redirect_uri'), redirectUri),
  fc.tuple(fc.constant('response_type'), fc.constantFrom('code', 'token', 'code token', 'id_token', '', 'CODE')),
  fc.tuple(fc.constant('response_mode'), fc.constantFrom('query', 'fragment', 'form_post', 'jwt', '')),
  fc.tuple(fc.constant('scope'), fc.constantFrom('read', 'write read', 'admin', ' read', 'read  write', '"', '')),
  fc.tuple(fc.constant('state'), fc.string({ maxLength: 20 })),
  fc.tuple(fc.constant('code_challenge'), fc.constantFrom(CHALLENGE, 'short', CHALLENGE + '!', '')),
  fc.tuple(fc.constant('code_challenge_method'), fc.constantFrom('S256', 'plain', 's256', 'none', '')),
  fc.tuple(fc.constant('resource'), fc.constantFrom('https://api.example.com/', 'https://evil.example/', '/rel', 'https://a/#f')),
  fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })),
)

/** Mostly well-formed requests (so that success paths are exercised too), with arbitrary parameters mixed in. */
const request = fc.constantFrom(...Object.keys(REGISTERED)).chain((clientId) =>
  fc.record({
    base: fc.constantFrom<ReadonlyArray<readonly [string, string]>>(
      [['client_id', clientId], ['response_type', 'code'], ['code_challenge', CHALLENGE], ['code_challenge_method', 'S256']],
      [['client_id', clientId], ['response_type', 'token'], ['state', 'st']],
      [['client_id', clientId], ['response_type', 'code'], ['code_challenge', CHALLENGE], ['code_challenge_method', 'S256'], ['response_mode', 'form_post']],
      [],
    ),
    // Usually a redirect_uri of this client's, often manipulated: the case the endpoint must never get wrong.
    redirect: fc.option(redirectUriFor(REGISTERED[clientId] as readonly string[]), { freq: 4, nil: undefined }),
    extra: fc.array(param, { maxLength: 4 }),
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'get', 'PUT', 'DELETE'),
    garbageQuery: fc.option(fc.constantFrom('%zz', '%FF%FE=1', '&&', 'client_id=%E0%A4%A'), { nil: undefined }),
  }),
)

/** The client named by the request (its first client_id when it sends one once), and its registered URIs. */
function registeredFor(params: URLSearchParams): readonly string[] {
  const ids = params.getAll('client_id')
  return ids.length === 1 ? (REGISTERED[ids[0] as string] ?? []) : []
}

/** Whether `location` is one of `registered`, plus added parameters (and any port for http loopback, RFC 8252). */
function isRegisteredTarget(location: string, registered: readonly string[]): boolean {
  const target = location.split(/[?#]/, 1)[0] as string
  return registered.some((uri) => {
    const base = uri.split(/[?#]/, 1)[0] as string
    if (target === base) return true
    return base.startsWith('http://127.0.0.1/') && target.replace(/^http:\/\/127\.0\.0\.1:\d+\//, 'http://127.0.0.1/') === base
  })
}

/** What kinds of answer the run produced, so that each rule is known to have been exercised. */
const seen = new Set<string>()

function expectWellFormed(response: OAuth2Response, params: URLSearchParams): void {
  expect(response.status).toBeLessThan(500)
  const location = response.headers.Location
  if (response.status === 302) {
    expect(location).toBeTypeOf('string')
    // The heart of RFC 6749 §4.1.2.1 and RFC 9700 §4.1.3: never a redirect to a URI that was not verified.
    expect(isRegisteredTarget(location as string, registeredFor(params)), location).toBe(true)
    const url = new URL(location as string)
    const delivered = url.hash === '' ? url.searchParams : new URLSearchParams(url.hash.slice(1))
    expect(delivered.get('iss')).toBe('https://as.example.com')
    const error = delivered.get('error')
    if (error !== null) expect(AUTHORIZATION_ERRORS.has(error), error).toBe(true)
    else expect(delivered.has('code') || delivered.has('access_token')).toBe(true)
    seen.add(error === null ? (delivered.has('code') ? 'redirected code' : 'redirected token') : 'redirected error')
    return
  }
  expect(location).toBeUndefined()
  if (response.status === 200) {
    // form_post: the page posts only to a registered URI.
    const action = /<form method="post" action="([^"]*)"/.exec(response.body)?.[1]
    expect(action).toBeDefined()
    const decoded = (action as string).replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    expect(isRegisteredTarget(decoded, registeredFor(params))).toBe(true)
    seen.add('form_post')
    return
  }
  expect([400, 405]).toContain(response.status)
  const body = JSON.parse(response.body) as { error: string; error_description: string }
  expect(AUTHORIZATION_ERRORS.has(body.error), body.error).toBe(true)
  expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/)
  seen.add(`shown ${response.status}`)
}

describe('AuthorizationEndpoint under arbitrary input (RFC 6749 §3.1, §4.1.2.1, RFC 9700 §4.1.3)', () => {
  it('never rejects, never answers 5xx, and never redirects to a URI not registered for the client', async () => {
    const { server, serverErrors } = setUp()
    await fc.assert(
      fc.asyncProperty(request, async ({ base, redirect, extra, method, garbageQuery }) => {
        const redirectParam = redirect === undefined ? [] : [['redirect_uri', redirect] as const]
        const params = new URLSearchParams([...base, ...redirectParam, ...extra] as Array<[string, string]>)
        const query = garbageQuery === undefined ? params.toString() : `${params.toString()}&${garbageQuery}`
        const isPost = method.toUpperCase() === 'POST'
        const uri = isPost ? AUTHORIZE : `${AUTHORIZE}?${query}`
        const body: RequestBody | undefined = isPost ? query : undefined
        const headers = isPost ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {}
        const parsedParams = new URLSearchParams(query)
        const allowed = await server.createAuthorizationResponse(uri, method, body, headers, undefined, { userId: 'alice' })
        expectWellFormed(allowed, parsedParams)
        const denied = await server.createAuthorizationErrorResponse(uri, method, body, headers, new AccessDeniedError('The user denied the request'))
        expectWellFormed(denied, parsedParams)
        // validate-style: resolves or throws an OAuth2Error, nothing else
        await server.validateAuthorizationRequest(uri, method, body, headers).catch((error: unknown) => {
          expect(error).toBeInstanceOf(OAuth2Error)
        })
      }),
      { seed: SEED, numRuns: 400 },
    )
    expect(serverErrors).toEqual([])
    expect([...seen].sort()).toEqual(['form_post', 'redirected code', 'redirected error', 'redirected token', 'shown 400', 'shown 405'])
  })
})
