/**
 * RFC 7662 conformance of the introspection endpoint: one `describe` per section, one `it` per requirement. Tokens
 * are issued through the token endpoint first and revoked through the revocation endpoint, then introspected.
 */
import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  IntrospectEndpoint,
  LegacyApplicationServer,
  OAuth2Request,
  RevocationEndpoint,
  type IntrospectEndpointOptions,
  type OAuth2Response,
  type RequestBody,
  type StoredToken,
} from '../../src/index.js'
import { CONFORMANCE_BACKENDS, CONFORMANCE_ISSUER, doubleHarness, type ConformanceBackend, type ConformanceHarness } from '../support/conformance-backends.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestUser } from '../support/memory-validator.js'

const INTROSPECT_URI = 'https://server.example.com/introspect'
const REVOKE_URI = 'https://server.example.com/revoke'

// RFC 7662 §2.1: the sample request's protected resource (base64 of "s6BhdRkqt3:gX1fBat3bV") and access token.
const RS_CLIENT_ID = 's6BhdRkqt3'
const RS_CLIENT_SECRET = 'gX1fBat3bV'
const RS_BASIC = 'Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW'
// An ordinary confidential client, neither the tokens' client nor a resource server.
const OTHER_CLIENT_ID = 'other-client'
const OTHER_CLIENT_SECRET = 'other-secret'
// A protected resource registered for client_secret_post (RFC 7591 §2): a store accepts its secret in the body only.
const POST_RS_CLIENT_ID = 'post-resource-server'
const POST_RS_CLIENT_SECRET = 'post-resource-secret'
const RFC_ACCESS_TOKEN = 'mF_9.B5f-4.1JqM'
// RFC 7662 §2.2: the sample response's client, user and scope.
const RFC_TOKEN_CLIENT_ID = 'l238j323ds-23ij4'
const RFC_TOKEN_CLIENT_SECRET = 'l238-secret'
const RFC_USERNAME = 'jdoe'
const RFC_PASSWORD = 'jdoe-password'

const PUBLIC_CLIENT_ID = 'public-app'

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

type Body = Record<string, unknown>

interface Reported {
  readonly error: unknown
  readonly request: OAuth2Request | undefined
}

/** The validator with the RFC's resource server, client and user; the token servers; the endpoint under test. */
async function fixture(harness: ConformanceHarness, options: Partial<IntrospectEndpointOptions> = {}) {
  const validator = harness.validator
  const reported: Reported[] = []
  const onError = (error: unknown, request: OAuth2Request | undefined) => {
    reported.push({ error, request })
  }
  await harness.addClient({ clientId: RS_CLIENT_ID, secret: RS_CLIENT_SECRET, resourceServer: true })
  await harness.addClient({ clientId: RFC_TOKEN_CLIENT_ID, secret: RFC_TOKEN_CLIENT_SECRET, scopes: ['read', 'write', 'dolphin'] })
  await harness.addClient({ clientId: PUBLIC_CLIENT_ID })
  await harness.addClient({ clientId: OTHER_CLIENT_ID, secret: OTHER_CLIENT_SECRET })
  await harness.addClient({ clientId: POST_RS_CLIENT_ID, secret: POST_RS_CLIENT_SECRET, resourceServer: true, tokenEndpointAuthMethod: 'client_secret_post' })
  const user = await harness.addUser(RFC_USERNAME, RFC_PASSWORD)
  const clientBasic = basic(RFC_TOKEN_CLIENT_ID, RFC_TOKEN_CLIENT_SECRET)
  const legacy = new LegacyApplicationServer(validator, { onError })
  const backend = new BackendApplicationServer(validator, { onError })
  const introspection = new IntrospectEndpoint({ requestValidator: validator, onError, ...options })
  const revocation = new RevocationEndpoint({ requestValidator: validator, onError })

  /** Issues an access and a refresh token to the RFC's client for jdoe, through the password grant. */
  async function issue(scope = 'read write dolphin'): Promise<{ access: string; refresh: string }> {
    const res = await legacy.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope }), {
      ...FORM,
      Authorization: clientBasic,
    })
    expect(res.status, res.body).toBe(200)
    const body = JSON.parse(res.body) as Body
    return { access: body.access_token as string, refresh: body.refresh_token as string }
  }

  /** A form POST to the introspection endpoint, by default as the RFC's protected resource. */
  function introspect(body: RequestBody, headers: Record<string, string> = { Authorization: RS_BASIC }): Promise<OAuth2Response> {
    return introspection.createIntrospectResponse(INTROSPECT_URI, 'POST', body, { ...FORM, ...headers })
  }

  /** Revokes a token as the client it was issued to. */
  async function revoke(token: string): Promise<void> {
    const res = await revocation.createRevocationResponse(REVOKE_URI, 'POST', form({ token }), { ...FORM, Authorization: clientBasic })
    expect(res.status, res.body).toBe(200)
  }

  return { validator, harness, user, reported, legacy, backend, introspection, clientBasic, issue, introspect, revoke }
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString()
}

/** A header by name, in any case. */
function header(res: OAuth2Response, name: string): string | undefined {
  return Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1]
}

/** Asserts a 200 RFC 7662 §2.2 response: JSON, not to be cached; returns the parsed body. */
function expectIntrospection(res: OAuth2Response): Body {
  expect(res.status, res.body).toBe(200)
  expect(header(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('application/json')
  expect(header(res, 'Cache-Control')).toBe('no-store')
  return JSON.parse(res.body) as Body
}

/** Asserts the RFC 7662 §2.2 answer for an inactive token: exactly `{"active":false}`, nothing else. */
function expectInactive(res: OAuth2Response): void {
  expectIntrospection(res)
  expect(res.body).toBe('{"active":false}')
}

/**
 * Asserts a whole RFC 7662 §2.3 (RFC 6749 §5.2) error response: status, `error`, a useful `error_description`, JSON,
 * no caching, and the `WWW-Authenticate` challenge on a 401.
 */
function expectError(res: OAuth2Response, status: number, error: string, description?: RegExp): Body {
  expect(res.status, res.body).toBe(status)
  expect(header(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('application/json')
  expect(header(res, 'Cache-Control')).toBe('no-store')
  const body = JSON.parse(res.body) as Body
  expect(body).toEqual({ error, error_description: expect.stringMatching(DESCRIPTION_CHARSET) })
  if (description !== undefined) expect(body.error_description).toMatch(description)
  if (status === 401) expect(header(res, 'WWW-Authenticate')).toMatch(/^Basic( |$)/i)
  else expect(header(res, 'WWW-Authenticate')).toBeUndefined()
  // Never a hint of a token's state in an error.
  expect(body).not.toHaveProperty('active')
  return body
}

/** Replaces a stored token's entry with the given changes (expiry, audience). */
function amend(validator: unknown, token: string, changes: Partial<StoredToken<TestUser>>): void {
  if (!(validator instanceof MemoryValidator)) throw new TypeError('amend edits what the test double saved')
  const entry = validator.tokens.get(token)
  if (entry === undefined) throw new Error('no such token')
  validator.tokens.set(token, { ...entry, ...changes })
}

/** A MemoryValidator that records the hints and counts the lookups `introspectToken` receives. */
class RecordingValidator extends MemoryValidator {
  readonly hints: Array<string | undefined> = []

  override async introspectToken(token: string, tokenTypeHint?: string): Promise<StoredToken<TestUser> | undefined> {
    this.hints.push(tokenTypeHint)
    return super.introspectToken(token)
  }
}

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store); a test that overrides
 * one of the double's hooks, or edits a token it saved, is declared for the double alone. The double's resource
 * server may introspect every token; a store's tells a resource server of the access tokens meant for it only, and a
 * refresh token to its own client only (RFC 7662 §4).
 */
describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  async function setup(options: Partial<IntrospectEndpointOptions> = {}) {
    return fixture(await backend.open(), options)
  }
  /** Declares a test for the double alone: it overrides one of the double's hooks or edits what it saved. */
  const itOnTheDouble = backend.double ? it : (): void => undefined
  /** The audience a store gives a token asked for without a resource: its issuer. The double gives none. */
  const defaultAudience = backend.double ? {} : { aud: CONFORMANCE_ISSUER }

  describe('RFC 7662 §2.1 Introspection Request', () => {
    itOnTheDouble('§2.1 the RFC sample request: a protected resource with HTTP Basic introspects an access token', async () => {
      const validator = new MemoryValidator()
      const { introspect } = await fixture(doubleHarness(validator))
      // Issue the RFC's sample access token through the token endpoint.
      const legacy = new LegacyApplicationServer(validator, { tokenGenerator: () => RFC_ACCESS_TOKEN })
      const issued = await legacy.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD }), {
        ...FORM,
        Authorization: basic(RFC_TOKEN_CLIENT_ID, RFC_TOKEN_CLIENT_SECRET),
      })
      expect(JSON.parse(issued.body)).toMatchObject({ access_token: RFC_ACCESS_TOKEN })
      // RFC 7662 §2.1, verbatim: token=mF_9.B5f-4.1JqM&token_type_hint=access_token.
      const res = await introspect('token=mF_9.B5f-4.1JqM&token_type_hint=access_token', {
        Host: 'server.example.com',
        Accept: 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: RS_BASIC,
      })
      expect(expectIntrospection(res)).toMatchObject({ active: true, client_id: RFC_TOKEN_CLIENT_ID, username: RFC_USERNAME })
    })

    it('§2.1 client_secret_post authenticates the protected resource as well as HTTP Basic', async () => {
      const { issue, introspect } = await setup()
      const { access } = await issue()
      const res = await introspect(form({ token: access, client_id: POST_RS_CLIENT_ID, client_secret: POST_RS_CLIENT_SECRET }), {})
      expect(expectIntrospection(res).active).toBe(true)
    })

    it('§2 an http:// introspection URI is invalid_request (TLS is required)', async () => {
      const { introspection, issue } = await setup()
      const { access } = await issue()
      const res = await introspection.createIntrospectResponse('http://server.example.com/introspect', 'POST', form({ token: access }), {
        ...FORM,
        Authorization: RS_BASIC,
      })
      expectError(res, 400, 'invalid_request', /TLS/)
    })

    it('§2 an http:// introspection URI is served with allowInsecureTransport (loopback development)', async () => {
      const { introspection, issue } = await setup({ allowInsecureTransport: true })
      const { access } = await issue()
      const res = await introspection.createIntrospectResponse('http://127.0.0.1/introspect', 'POST', form({ token: access }), { ...FORM, Authorization: RS_BASIC })
      expect(expectIntrospection(res).active).toBe(true)
    })

    it('§2.1 the request is a POST: any other method is 405 with Allow: POST', async () => {
      const { introspection, issue } = await setup()
      const { access } = await issue()
      for (const method of ['GET', 'PUT', 'HEAD']) {
        const res = await introspection.createIntrospectResponse(`${INTROSPECT_URI}?token=${access}`, method, undefined, { Authorization: RS_BASIC })
        expectError(res, 405, 'invalid_request', /POST/)
        expect(header(res, 'Allow')).toBe('POST')
      }
    })

    it('§2.1 token is REQUIRED: missing or empty is invalid_request', async () => {
      const { introspect } = await setup()
      expectError(await introspect(''), 400, 'invalid_request', /token is required/)
      expectError(await introspect('token=&token_type_hint=access_token'), 400, 'invalid_request', /token is required/)
    })

    it('§2.1 a repeated token or token_type_hint is invalid_request', async () => {
      const { issue, introspect } = await setup()
      const { access, refresh } = await issue()
      expectError(await introspect(`token=${access}&token=${refresh}`), 400, 'invalid_request', /token is repeated/)
      expectError(await introspect(`token=${access}&token_type_hint=access_token&token_type_hint=refresh_token`), 400, 'invalid_request', /token_type_hint is repeated/)
    })

    it('§2.1 parameters come from the form body only: a token in the URI query is not read', async () => {
      const { introspection, issue } = await setup()
      const { access } = await issue()
      const res = await introspection.createIntrospectResponse(`${INTROSPECT_URI}?token=${access}`, 'POST', '', { ...FORM, Authorization: RS_BASIC })
      expectError(res, 400, 'invalid_request', /token is required/)
    })

    itOnTheDouble('§2.1 token_type_hint is only a hint: a token sent with the wrong hint is still found', async () => {
      const validator = new RecordingValidator()
      const { issue, introspect } = await fixture(doubleHarness(validator))
      const { access, refresh } = await issue()
      expect(expectIntrospection(await introspect(form({ token: access, token_type_hint: 'refresh_token' })))).toMatchObject({ active: true, token_type: 'Bearer' })
      expect(expectIntrospection(await introspect(form({ token: refresh, token_type_hint: 'access_token' })))).toMatchObject({
        active: true,
        token_type: 'refresh_token',
      })
      expect(validator.hints).toEqual(['refresh_token', 'access_token'])
    })

    itOnTheDouble('§2.1 an unknown token_type_hint value is ignored', async () => {
      const validator = new RecordingValidator()
      const { issue, introspect } = await fixture(doubleHarness(validator))
      const { access } = await issue()
      expect(expectIntrospection(await introspect(form({ token: access, token_type_hint: 'id_token' }))).active).toBe(true)
      expect(validator.hints).toEqual([undefined])
    })
  })

  describe('RFC 7662 §2.2 Introspection Response', () => {
    it('§2.2 an active access token: active, scope, client_id, username, token_type, exp, iat and sub, and nothing unknown', async () => {
      const { issue, introspect, user } = await setup()
      const before = Math.floor(Date.now() / 1000)
      const { access } = await issue()
      const body = expectIntrospection(await introspect(form({ token: access })))
      expect(body).toEqual({
        active: true,
        scope: 'read write dolphin',
        client_id: RFC_TOKEN_CLIENT_ID,
        username: RFC_USERNAME,
        token_type: 'Bearer',
        exp: expect.any(Number),
        iat: expect.any(Number),
        sub: user.userId,
        ...defaultAudience,
      })
      expect(Number.isInteger(body.exp) && Number.isInteger(body.iat)).toBe(true)
      expect(body.iat as number).toBeGreaterThanOrEqual(before)
      expect((body.exp as number) - (body.iat as number)).toBe(3600)
    })

    it('§2.2 an active refresh token has token_type refresh_token, so it is never taken for a Bearer access token', async () => {
      const { issue, introspect, user, clientBasic } = await setup()
      const { refresh } = await issue('read')
      expect(expectIntrospection(await introspect(form({ token: refresh }), { Authorization: clientBasic }))).toEqual({
        active: true,
        scope: 'read',
        client_id: RFC_TOKEN_CLIENT_ID,
        username: RFC_USERNAME,
        token_type: 'refresh_token',
        iat: expect.any(Number),
        sub: user.userId,
        // A store's refresh tokens expire (StoreValidator's refreshTokenExpiresIn); the double's do not.
        ...(backend.double ? {} : { exp: expect.any(Number) }),
      })
    })

    it('§2.2 a client credentials token has the client as sub and no username', async () => {
      const { backend, introspect } = await setup()
      const issued = await backend.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials&scope=dolphin', {
        ...FORM,
        Authorization: basic(RFC_TOKEN_CLIENT_ID, RFC_TOKEN_CLIENT_SECRET),
      })
      const access = (JSON.parse(issued.body) as Body).access_token as string
      expect(expectIntrospection(await introspect(form({ token: access })))).toEqual({
        active: true,
        scope: 'dolphin',
        client_id: RFC_TOKEN_CLIENT_ID,
        token_type: 'Bearer',
        exp: expect.any(Number),
        iat: expect.any(Number),
        sub: RFC_TOKEN_CLIENT_ID,
        ...defaultAudience,
      })
    })

    itOnTheDouble('§2.2 aud is a string for one audience, an array for several, and absent for none', async () => {
      const { issue, introspect, validator } = await setup()
      const { access } = await issue()
      amend(validator, access, { audience: ['https://protected.example.net/resource'] })
      expect(expectIntrospection(await introspect(form({ token: access }))).aud).toBe('https://protected.example.net/resource')
      amend(validator, access, { audience: ['https://a.example.net', 'https://b.example.net'] })
      expect(expectIntrospection(await introspect(form({ token: access }))).aud).toEqual(['https://a.example.net', 'https://b.example.net'])
      amend(validator, access, { audience: [] })
      expect(expectIntrospection(await introspect(form({ token: access })))).not.toHaveProperty('aud')
    })

    itOnTheDouble('§2.2 scope is omitted for a token with no scope, rather than sent empty', async () => {
      const { issue, introspect, validator } = await setup()
      const { access } = await issue()
      amend(validator, access, { scopes: [] })
      const body = expectIntrospection(await introspect(form({ token: access })))
      expect(body.active).toBe(true)
      expect(body).not.toHaveProperty('scope')
    })

    it('§2.2 iss is the configured issuer, and absent when none is configured', async () => {
      const configured = await setup({ issuer: 'https://server.example.com/' })
      const { access } = await configured.issue()
      expect(expectIntrospection(await configured.introspect(form({ token: access }))).iss).toBe('https://server.example.com/')
      const plain = await setup()
      const other = await plain.issue()
      expect(expectIntrospection(await plain.introspect(form({ token: other.access })))).not.toHaveProperty('iss')
    })

    it('§2.2 an issuer with a query or fragment, or not http(s), is a TypeError', () => {
      const requestValidator = new MemoryValidator()
      for (const issuer of ['https://server.example.com/?tenant=1', 'https://server.example.com/#x', 'server.example.com']) {
        expect(() => new IntrospectEndpoint({ requestValidator, issuer })).toThrow(TypeError)
      }
    })

    itOnTheDouble('§2.2 the RFC sample response: the members it shows, from a token with an audience, under an issuer', async () => {
      const validator = new MemoryValidator()
      const { introspect, user } = await fixture(doubleHarness(validator), { issuer: 'https://server.example.com/' })
      const legacy = new LegacyApplicationServer(validator, { tokenGenerator: () => RFC_ACCESS_TOKEN })
      await legacy.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'password', username: RFC_USERNAME, password: RFC_PASSWORD, scope: 'read write dolphin' }), {
        ...FORM,
        Authorization: basic(RFC_TOKEN_CLIENT_ID, RFC_TOKEN_CLIENT_SECRET),
      })
      amend(validator, RFC_ACCESS_TOKEN, { audience: ['https://protected.example.net/resource'], issuedAt: 1419350238, expiresAt: 4102444800 })
      expect(expectIntrospection(await introspect('token=mF_9.B5f-4.1JqM&token_type_hint=access_token'))).toEqual({
        active: true,
        client_id: RFC_TOKEN_CLIENT_ID,
        username: 'jdoe',
        scope: 'read write dolphin',
        sub: user.userId,
        aud: 'https://protected.example.net/resource',
        iss: 'https://server.example.com/',
        exp: 4102444800,
        iat: 1419350238,
        token_type: 'Bearer',
      })
    })

    it('§2.2 an unknown token is exactly {"active":false}', async () => {
      const { introspect } = await setup()
      expectInactive(await introspect(form({ token: 'never-issued' })))
    })

    itOnTheDouble('§2.2 an expired token is exactly {"active":false}', async () => {
      const { issue, introspect, validator } = await setup()
      const { access } = await issue()
      amend(validator, access, { expiresAt: Math.floor(Date.now() / 1000) - 1 })
      expectInactive(await introspect(form({ token: access })))
    })

    itOnTheDouble('§2.2 a token expiring this very second is already inactive', async () => {
      const { issue, introspect, validator } = await setup()
      const { access } = await issue()
      amend(validator, access, { expiresAt: Date.now() / 1000 })
      expectInactive(await introspect(form({ token: access })))
    })

    it('§2.2 an access token revoked at the revocation endpoint is exactly {"active":false}', async () => {
      const { issue, introspect, revoke, clientBasic } = await setup()
      const { access, refresh } = await issue()
      await revoke(access)
      expectInactive(await introspect(form({ token: access })))
      expect(expectIntrospection(await introspect(form({ token: refresh }), { Authorization: clientBasic })).active).toBe(true)
    })

    it('§2.2 after its refresh token is revoked, an access token is inactive and the refresh grant fails with invalid_grant', async () => {
      const { issue, introspect, revoke, legacy, clientBasic } = await setup()
      const { access, refresh } = await issue()
      await revoke(refresh)
      expectInactive(await introspect(form({ token: refresh })))
      expectInactive(await introspect(form({ token: access })))
      const res = await legacy.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'refresh_token', refresh_token: refresh }), {
        ...FORM,
        Authorization: clientBasic,
      })
      expectError(res, 400, 'invalid_grant')
    })

    itOnTheDouble('§2.2 the inactive answer never says why: unknown, expired and revoked tokens get identical responses', async () => {
      const { issue, introspect, revoke, validator } = await setup()
      const expired = await issue()
      amend(validator, expired.access, { expiresAt: 1 })
      const revoked = await issue()
      await revoke(revoked.access)
      const answers = await Promise.all(['never-issued', expired.access, revoked.access].map((token) => introspect(form({ token }))))
      for (const answer of answers) expect(answer).toEqual(answers[0])
      expectInactive(answers[0] as OAuth2Response)
    })

    it('§2.2 a protected resource introspects tokens issued to other clients (its callers)', async () => {
      const { issue, introspect, clientBasic } = await setup()
      const { access } = await issue()
      // The resource server is not the client the token was issued to; the client itself may introspect too.
      expect(expectIntrospection(await introspect(form({ token: access }))).client_id).toBe(RFC_TOKEN_CLIENT_ID)
      expect(expectIntrospection(await introspect(form({ token: access }), { Authorization: clientBasic })).active).toBe(true)
    })
  })

  describe('RFC 7662 §2.3 Error Response', () => {
    it('§2.3 invalid client credentials are 401 invalid_client with WWW-Authenticate', async () => {
      const { issue, introspect } = await setup()
      const { access } = await issue()
      expectError(await introspect(form({ token: access }), { Authorization: basic(RS_CLIENT_ID, 'wrong') }), 401, 'invalid_client')
      expectError(await introspect(form({ token: access }), { Authorization: basic('unknown-rs', RS_CLIENT_SECRET) }), 401, 'invalid_client')
    })

    it('§2.3 a missing token is 400 invalid_request', async () => {
      const { introspect } = await setup()
      expectError(await introspect('token_type_hint=access_token'), 400, 'invalid_request')
    })

    it('§2.3 an inactive token is not an error: 200 with active false', async () => {
      const { introspect } = await setup()
      expectInactive(await introspect(form({ token: 'garbage' })))
    })

    itOnTheDouble('§2.3 a validator hook that throws is 500 server_error, reported to onError, with nothing leaked', async () => {
      const failure = new Error('connect ECONNREFUSED postgres://admin:hunter2@10.0.0.5/tokens')
      class FailingValidator extends MemoryValidator {
        override async introspectToken(): Promise<StoredToken<TestUser> | undefined> {
          throw failure
        }
      }
      const { introspect, reported } = await fixture(doubleHarness(new FailingValidator()))
      const res = await introspect(form({ token: 'some-token-value' }))
      expectError(res, 500, 'server_error')
      expect(res.body).not.toContain('hunter2')
      expect(res.body).not.toContain('introspectToken')
      expect(reported).toHaveLength(1)
      expect(reported[0]?.error).toBe(failure)
      expect(reported[0]?.request).toBeInstanceOf(OAuth2Request)
      expect(JSON.stringify(reported[0]?.request)).not.toContain('some-token-value')
    })
  })

  describe('RFC 7662 §4 Security Considerations', () => {
    itOnTheDouble('§4 a caller without credentials is 401 invalid_client, and the token is not looked up (no token scanning)', async () => {
      const validator = new RecordingValidator()
      const { issue, introspect } = await fixture(doubleHarness(validator))
      const { access } = await issue()
      expectError(await introspect(form({ token: access }), {}), 401, 'invalid_client')
      expect(validator.hints).toEqual([])
    })

    itOnTheDouble('§4 a public client identified by client_id alone cannot introspect: 401 invalid_client', async () => {
      const validator = new RecordingValidator()
      const { issue, introspect } = await fixture(doubleHarness(validator))
      const { access } = await issue()
      expectError(await introspect(form({ token: access, client_id: PUBLIC_CLIENT_ID }), {}), 401, 'invalid_client')
      expectError(await introspect(form({ token: access }), { Authorization: basic(PUBLIC_CLIENT_ID, 'made-up') }), 401, 'invalid_client')
      expect(validator.hints).toEqual([])
    })

    it('§4 a confidential client identified by client_id alone cannot introspect: 401 invalid_client', async () => {
      const { issue, introspect } = await setup()
      const { access } = await issue()
      expectError(await introspect(form({ token: access, client_id: RS_CLIENT_ID }), {}), 401, 'invalid_client')
    })

    it('§4 a client that is not a resource server learns nothing of another client’s tokens', async () => {
      const { issue, introspect } = await setup()
      const { access, refresh } = await issue()
      for (const token of [access, refresh]) expectInactive(await introspect(form({ token }), { Authorization: basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) }))
      // Over a store, a refresh token is told of to its own client only, not even to a resource server.
      if (!backend.double) expectInactive(await introspect(form({ token: refresh })))
    })

    it('§4 an inactive token is reported as inactive, never with its former client, user or scope', async () => {
      const { issue, introspect, revoke } = await setup()
      const { access } = await issue()
      await revoke(access)
      const res = await introspect(form({ token: access }))
      expectInactive(res)
      for (const leaked of [RFC_TOKEN_CLIENT_ID, RFC_USERNAME, 'dolphin']) expect(res.body).not.toContain(leaked)
    })
  })
})
