/**
 * RFC 9207 conformance: the authorization server names itself with `iss` in every authorization response it sends to
 * the client, successes and errors, whatever the response mode, so that a client can detect a mix-up.
 */
import { describe, expect, it } from 'vitest'
import {
  AccessDeniedError,
  AuthorizationEndpoint,
  BearerToken,
  ImplicitGrant,
  MobileApplicationServer,
  Server,
  WebApplicationServer,
  type AuthorizationServerOptions,
  type OAuth2Response,
} from '../../src/index.js'
import {
  AUTHORIZE_URI,
  authorizationUri,
  DEFAULT_ISSUER,
  expectDelivered,
  expectDeliveredError,
  expectNotRedirected,
  type Delivery,
} from '../support/expect-authorization-response.js'
import { MemoryValidator } from '../support/memory-validator.js'

const CLIENT_ID = 'web-app'
const REDIRECT_URI = 'https://client.example.com/cb'
const STATE = 'af0ifjsldkj'
// RFC 7636 Appendix B.
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
// An issuer under a path, as RFC 8414 §2 allows; it differs from the origin of the endpoint.
const PATH_ISSUER = 'https://as.example.com/tenants/acme'

function setup(options: AuthorizationServerOptions = {}) {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI], responseTypes: ['code', 'token'] })
  const user = validator.addUser('alice', 'wonderland')
  const server = new Server(validator, { enableImplicitGrant: true, onError: () => {}, ...options })
  const allow = (uri: string) => server.createAuthorizationResponse(uri, 'GET', undefined, undefined, undefined, user)
  const deny = (uri: string) =>
    server.createAuthorizationErrorResponse(uri, 'GET', undefined, undefined, new AccessDeniedError('The resource owner denied the request'))
  return { validator, server, user, allow, deny }
}

function codeRequest(overrides: Record<string, string | undefined> = {}, base = AUTHORIZE_URI): string {
  return authorizationUri(
    { response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: STATE, code_challenge: CHALLENGE, code_challenge_method: 'S256', ...overrides },
    base,
  )
}

function tokenRequest(overrides: Record<string, string | undefined> = {}): string {
  return authorizationUri({ response_type: 'token', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: STATE, ...overrides })
}

const successes: Array<[string, Delivery, string]> = [
  ['a code in the query', 'query', codeRequest()],
  ['a code in the fragment', 'fragment', codeRequest({ response_mode: 'fragment' })],
  ['a code by form post', 'form_post', codeRequest({ response_mode: 'form_post' })],
  ['a token in the fragment', 'fragment', tokenRequest()],
  ['a token by form post', 'form_post', tokenRequest({ response_mode: 'form_post' })],
]

describe('RFC 9207 §2 Response Parameter iss', () => {
  it.each(successes)('§2 a successful response with %s carries iss, by default the origin of the request URI', async (_case, delivery, uri) => {
    const { allow } = setup()
    const params = expectDelivered(await allow(uri), REDIRECT_URI, delivery)
    expect(params.iss).toBe(DEFAULT_ISSUER)
    expect(params.state).toBe(STATE)
    expect(params.code ?? params.access_token).toEqual(expect.any(String))
  })

  it.each(successes)('§2 a successful response with %s carries the configured issuer', async (_case, delivery, uri) => {
    const { allow } = setup({ issuer: PATH_ISSUER })
    expect(expectDelivered(await allow(uri), REDIRECT_URI, delivery).iss).toBe(PATH_ISSUER)
  })

  it('§2 the default issuer is the origin of the request URI, its port included and its path and query left out', async () => {
    const { allow } = setup()
    const uri = codeRequest({}, 'https://login.example.net:8443/oauth2/v1/authorize?tenant=acme')
    expect(expectDelivered(await allow(uri), REDIRECT_URI, 'query').iss).toBe('https://login.example.net:8443')
  })

  it.each<[string, Delivery, (f: ReturnType<typeof setup>) => Promise<OAuth2Response>]>([
    ['access_denied in the query', 'query', (f) => f.deny(codeRequest())],
    ['access_denied in the fragment', 'fragment', (f) => f.deny(tokenRequest())],
    ['access_denied by form post', 'form_post', (f) => f.deny(codeRequest({ response_mode: 'form_post' }))],
    ['invalid_scope in the query', 'query', (f) => f.allow(codeRequest({ scope: 'admin' }))],
    ['invalid_request (no PKCE) in the query', 'query', (f) => f.allow(codeRequest({ code_challenge: undefined, code_challenge_method: undefined }))],
    ['unsupported_response_type in the query', 'query', (f) => f.allow(codeRequest({ response_type: 'foo' }))],
    ['invalid_scope in the fragment', 'fragment', (f) => f.allow(tokenRequest({ scope: 'admin' }))],
  ])('§2 an error response with %s carries iss', async (_case, delivery, send) => {
    const f = setup({ issuer: PATH_ISSUER })
    const params = expectDelivered(await send(f), REDIRECT_URI, delivery)
    expect(params).toMatchObject({ error: expect.any(String), state: STATE, iss: PATH_ISSUER })
  })

  it('§2 a server_error redirected to the client carries iss', async () => {
    class FailingValidator extends MemoryValidator {
      override async saveAuthorizationCode(): Promise<void> {
        throw new Error('database down')
      }
    }
    const validator = new FailingValidator()
    validator.addClient({ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI] })
    const server = new WebApplicationServer(validator, { issuer: PATH_ISSUER, onError: () => {} })
    const res = await server.createAuthorizationResponse(codeRequest(), 'GET', undefined, undefined, undefined, { userId: 'alice' })
    expectDeliveredError(res, REDIRECT_URI, 'query', 'server_error', { state: STATE, iss: PATH_ISSUER })
  })

  it('§2 every pre-configured server with an authorization endpoint sends iss', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI], responseTypes: ['code', 'token'] })
    const user = validator.addUser('alice', 'wonderland')
    const web = new WebApplicationServer(validator, { issuer: PATH_ISSUER })
    const mobile = new MobileApplicationServer(validator, { issuer: PATH_ISSUER })
    const full = new Server(validator, { issuer: PATH_ISSUER })
    const code = await web.createAuthorizationResponse(codeRequest(), 'GET', undefined, undefined, undefined, user)
    expect(expectDelivered(code, REDIRECT_URI, 'query').iss).toBe(PATH_ISSUER)
    const token = await mobile.createAuthorizationResponse(tokenRequest(), 'GET', undefined, undefined, undefined, user)
    expect(expectDelivered(token, REDIRECT_URI, 'fragment').iss).toBe(PATH_ISSUER)
    const fullCode = await full.createAuthorizationResponse(codeRequest(), 'GET', undefined, undefined, undefined, user)
    expect(expectDelivered(fullCode, REDIRECT_URI, 'query').iss).toBe(PATH_ISSUER)
  })

  it('§2 a response carries one iss, whatever the request or redirect URI send as iss', async () => {
    const { allow, validator } = setup()
    const registered = 'https://client.example.com/cb2?client=1'
    validator.addClient({ clientId: 'other', redirectUris: [registered] })
    const res = await allow(`${codeRequest({ client_id: 'other', redirect_uri: registered })}&iss=https%3A%2F%2Fevil.example`)
    // expectDelivered refuses a repeated response parameter.
    expect(expectDelivered(res, registered, 'query').iss).toBe(DEFAULT_ISSUER)
  })

  it('§2 an issuer with a query or fragment is refused when the endpoint is built (RFC 8414 §2)', () => {
    const validator = new MemoryValidator()
    const make = (issuer: string) =>
      new AuthorizationEndpoint({ requestValidator: validator, responseTypes: [new ImplicitGrant()], bearerToken: new BearerToken(validator), issuer })
    expect(() => make('https://as.example.com?tenant=acme')).toThrow(TypeError)
    expect(() => make('https://as.example.com#x')).toThrow(TypeError)
    expect(make(PATH_ISSUER).responseTypesSupported).toEqual(['token'])
  })
})

// RFC 9207 defines iss for authorization responses to the client (§2); a response that is shown to the user instead
// of being sent to the redirect URI is not an authorization response and has no iss.
describe('RFC 9207 §2 iss only in responses sent to the client', () => {
  it.each([
    ['an unknown client_id', codeRequest({ client_id: 'nobody' })],
    ['a missing client_id', codeRequest({ client_id: undefined })],
    ['an unregistered redirect_uri', codeRequest({ redirect_uri: 'https://evil.example/cb' })],
    ['a repeated redirect_uri', `${codeRequest()}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`],
  ])('§2 an error shown to the user for %s has no iss and no Location', async (_case, uri) => {
    const { allow, deny } = setup({ issuer: PATH_ISSUER })
    for (const res of [await allow(uri), await deny(uri)]) {
      // expectNotRedirected allows only error and error_description in the body.
      expectNotRedirected(res, 400, 'invalid_request')
      expect(res.body).not.toContain(PATH_ISSUER)
    }
  })

  it('§2 a 405 for a wrong method has no iss and no Location', async () => {
    const { server, user } = setup({ issuer: PATH_ISSUER })
    const res = await server.createAuthorizationResponse(codeRequest(), 'PUT', undefined, undefined, undefined, user)
    expectNotRedirected(res, 405, 'invalid_request')
    expect(res.body).not.toContain(PATH_ISSUER)
  })
})
