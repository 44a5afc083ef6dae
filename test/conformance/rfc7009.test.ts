/**
 * RFC 7009 conformance of the revocation endpoint: one `describe` per section, one `it` per requirement. Tokens are
 * issued through the token endpoint first, then revoked, and the effect is proved through the introspection endpoint
 * and the refresh grant.
 */
import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  IntrospectEndpoint,
  LegacyApplicationServer,
  OAuth2Request,
  RequestValidator,
  RevocationEndpoint,
  ValidatorNotImplementedError,
  type OAuth2Response,
  type RequestBody,
  type RevocationEndpointOptions,
  type StoredToken,
} from '../../src/index.js'
import { CONFORMANCE_BACKENDS, doubleHarness, type ConformanceBackend, type ConformanceHarness } from '../support/conformance-backends.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestUser } from '../support/memory-validator.js'

const REVOKE_URI = 'https://server.example.com/revoke'
const INTROSPECT_URI = 'https://server.example.com/introspect'

// RFC 7009 §2.1: the sample request's client (base64 of "s6BhdRkqt3:gX1fBat3bV") and refresh token.
const RFC_CLIENT_ID = 's6BhdRkqt3'
const RFC_CLIENT_SECRET = 'gX1fBat3bV'
const RFC_BASIC = 'Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW'
const RFC_REFRESH_TOKEN = '45ghiukldjahdnhzdauz'

const OTHER_CLIENT_ID = 'other-client'
const OTHER_BASIC = basic(OTHER_CLIENT_ID, 'other-secret')
const PUBLIC_CLIENT_ID = 'public-app'
// A client registered for client_secret_post (RFC 7591 §2): a store accepts its secret in the body only.
const POST_CLIENT_ID = 'post-client'
const POST_CLIENT_SECRET = 'post-secret'
const OTHER_PUBLIC_CLIENT_ID = 'other-public-app'
// The protected resource that introspects tokens to prove what revocation did.
const RESOURCE_BASIC = basic('resource-server', 'resource-secret')

// RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

type Body = Record<string, unknown>

interface Reported {
  readonly error: unknown
  readonly request: OAuth2Request | undefined
}

/** The validator with three clients and a user, the token servers, and the revocation endpoint under test. */
async function fixture(harness: ConformanceHarness, options: Partial<RevocationEndpointOptions> = {}) {
  const validator = harness.validator
  const reported: Reported[] = []
  const onError = (error: unknown, request: OAuth2Request | undefined) => {
    reported.push({ error, request })
  }
  await harness.addClient({ clientId: RFC_CLIENT_ID, secret: RFC_CLIENT_SECRET })
  await harness.addClient({ clientId: OTHER_CLIENT_ID, secret: 'other-secret' })
  await harness.addClient({ clientId: PUBLIC_CLIENT_ID })
  await harness.addClient({ clientId: OTHER_PUBLIC_CLIENT_ID })
  await harness.addClient({ clientId: 'resource-server', secret: 'resource-secret', resourceServer: true })
  await harness.addClient({ clientId: POST_CLIENT_ID, secret: POST_CLIENT_SECRET, tokenEndpointAuthMethod: 'client_secret_post' })
  await harness.addUser('johndoe', 'A3ddj3w')
  const legacy = new LegacyApplicationServer(validator, { onError })
  const backend = new BackendApplicationServer(validator, { onError })
  const revocation = new RevocationEndpoint({ requestValidator: validator, onError, ...options })
  const introspection = new IntrospectEndpoint({ requestValidator: validator, onError })

  /** Issues an access and a refresh token to `client` through the password grant. */
  async function issue(client: 'rfc' | 'other' | 'public' | 'other-public' | 'post' = 'rfc'): Promise<{ access: string; refresh: string }> {
    const auth: Record<string, string> =
      client === 'rfc' ? { Authorization: RFC_BASIC } : client === 'other' ? { Authorization: OTHER_BASIC } : {}
    const clientId =
      client === 'public'
        ? `&client_id=${PUBLIC_CLIENT_ID}`
        : client === 'other-public'
          ? `&client_id=${OTHER_PUBLIC_CLIENT_ID}`
          : client === 'post'
            ? `&client_id=${POST_CLIENT_ID}&client_secret=${POST_CLIENT_SECRET}`
            : ''
    const res = await legacy.createTokenResponse(TOKEN_URI, 'POST', `grant_type=password&username=johndoe&password=A3ddj3w${clientId}`, {
      ...FORM,
      ...auth,
    })
    expect(res.status, res.body).toBe(200)
    const body = JSON.parse(res.body) as Body
    return { access: body.access_token as string, refresh: body.refresh_token as string }
  }

  /** A form POST to the revocation endpoint. */
  function revoke(body: RequestBody, headers: Record<string, string> = { Authorization: RFC_BASIC }): Promise<OAuth2Response> {
    return revocation.createRevocationResponse(REVOKE_URI, 'POST', body, { ...FORM, ...headers })
  }

  /**
   * Whether the introspection endpoint calls the token active to a client allowed to learn of it: the resource
   * server, or the confidential client it was issued to (RFC 7662 §4: a store tells of a refresh token to its own
   * client only).
   */
  async function isActive(token: string): Promise<boolean> {
    for (const Authorization of [RESOURCE_BASIC, RFC_BASIC, OTHER_BASIC]) {
      const res = await introspection.createIntrospectResponse(INTROSPECT_URI, 'POST', form({ token }), { ...FORM, Authorization })
      expect(res.status, res.body).toBe(200)
      if ((JSON.parse(res.body) as Body).active === true) return true
    }
    return false
  }

  /** A refresh grant with `refreshToken` for the RFC client. */
  function refresh(refreshToken: string, headers: Record<string, string> = { Authorization: RFC_BASIC }): Promise<OAuth2Response> {
    return legacy.createTokenResponse(TOKEN_URI, 'POST', form({ grant_type: 'refresh_token', refresh_token: refreshToken }), { ...FORM, ...headers })
  }

  return { validator, harness, reported, legacy, backend, revocation, issue, revoke, isActive, refresh }
}

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString()
}

/** A header by name, in any case. */
function header(res: OAuth2Response, name: string): string | undefined {
  return Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1]
}

/** Asserts the RFC 7009 §2.2 success response: 200, an empty body, not to be cached. */
function expectRevoked(res: OAuth2Response): void {
  expect(res.status, res.body).toBe(200)
  expect(res.body).toBe('')
  expect(header(res, 'Cache-Control')).toBe('no-store')
  expect(header(res, 'Content-Type')).toBeUndefined()
}

/**
 * Asserts a whole RFC 7009 §2.2.1 (RFC 6749 §5.2) error response: status, `error`, a useful `error_description`, JSON,
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
  return body
}

/** A MemoryValidator that records the hints `introspectToken` receives and the tokens `revokeToken` revokes. */
class RecordingValidator extends MemoryValidator {
  readonly hints: Array<string | undefined> = []
  readonly revoked: Array<[string, StoredToken['tokenType']]> = []

  override async introspectToken(token: string, tokenTypeHint?: string): Promise<StoredToken<TestUser> | undefined> {
    this.hints.push(tokenTypeHint)
    return super.introspectToken(token)
  }

  override async revokeToken(token: string, tokenType: StoredToken['tokenType']): Promise<void> {
    this.revoked.push([token, tokenType])
    return super.revokeToken(token, tokenType)
  }
}

/** Moves a stored token's expiry into the past. */
function expire(validator: MemoryValidator, token: string): void {
  const entry = validator.tokens.get(token)
  if (entry === undefined) throw new Error('no such token')
  validator.tokens.set(token, { ...entry, expiresAt: Math.floor(Date.now() / 1000) - 10 })
}

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store); a test that overrides
 * one of the double's hooks to record or fail is declared for the double alone.
 */
describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  async function setup(options: Partial<RevocationEndpointOptions> = {}) {
    return fixture(await backend.open(), options)
  }
  /** Declares a test for the double alone: it overrides one of the double's hooks. */
  const itOnTheDouble = backend.double ? it : (): void => undefined

  describe('RFC 7009 §2 Token Revocation', () => {
    it('§2 an http:// revocation URI is invalid_request (TLS is required), and nothing is revoked', async () => {
      const { revocation, issue, isActive, harness } = await setup()
      const { access } = await issue()
      const res = await revocation.createRevocationResponse('http://server.example.com/revoke', 'POST', form({ token: access }), {
        ...FORM,
        Authorization: RFC_BASIC,
      })
      expectError(res, 400, 'invalid_request', /TLS/)
      expect(await isActive(access)).toBe(true)
      expect(await harness.isRevoked(access)).toBe(false)
    })

    it('§2 an http:// revocation URI is served with allowInsecureTransport (loopback development)', async () => {
      const { revocation, issue, isActive } = await setup({ allowInsecureTransport: true })
      const { access } = await issue()
      expectRevoked(await revocation.createRevocationResponse('http://127.0.0.1/revoke', 'POST', form({ token: access }), { ...FORM, Authorization: RFC_BASIC }))
      expect(await isActive(access)).toBe(false)
    })

    it('§2 refresh tokens MUST be revocable: revocableTokenTypes without refresh_token, or with an unknown type, is a TypeError', () => {
      const requestValidator = new MemoryValidator()
      expect(() => new RevocationEndpoint({ requestValidator, revocableTokenTypes: ['access_token'] })).toThrow(TypeError)
      expect(() => new RevocationEndpoint({ requestValidator, revocableTokenTypes: [] })).toThrow(TypeError)
      const unknown = ['refresh_token', 'id_token'] as unknown as StoredToken['tokenType'][]
      expect(() => new RevocationEndpoint({ requestValidator, revocableTokenTypes: unknown })).toThrow(TypeError)
      expect(() => new RevocationEndpoint({ requestValidator, revocableTokenTypes: ['refresh_token'] })).not.toThrow()
    })
  })

  describe('RFC 7009 §2.1 Revocation Request', () => {
    it('§2.1 the RFC sample request revokes the refresh token', async () => {
      const { validator, revocation, isActive, refresh } = await setup()
      // Issue the RFC's sample refresh token through the token endpoint.
      const legacy = new LegacyApplicationServer(validator, { refreshTokenGenerator: () => RFC_REFRESH_TOKEN })
      const issued = await legacy.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=johndoe&password=A3ddj3w', {
        ...FORM,
        Authorization: RFC_BASIC,
      })
      expect(JSON.parse(issued.body)).toMatchObject({ refresh_token: RFC_REFRESH_TOKEN })
      expect(await isActive(RFC_REFRESH_TOKEN)).toBe(true)
      // RFC 7009 §2.1, verbatim: POST /revoke, Basic, token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token.
      const res = await revocation.createRevocationResponse(REVOKE_URI, 'POST', 'token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token', {
        Host: 'server.example.com',
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: RFC_BASIC,
      })
      expectRevoked(res)
      expect(await isActive(RFC_REFRESH_TOKEN)).toBe(false)
      expectError(await refresh(RFC_REFRESH_TOKEN), 400, 'invalid_grant')
    })

    it('§2.1 a revoked access token introspects as inactive, while its refresh token still works', async () => {
      const { issue, revoke, isActive, refresh } = await setup()
      const { access, refresh: refreshToken } = await issue()
      expect(await isActive(access)).toBe(true)
      expectRevoked(await revoke(form({ token: access, token_type_hint: 'access_token' })))
      expect(await isActive(access)).toBe(false)
      expect(await isActive(refreshToken)).toBe(true)
      expect((await refresh(refreshToken)).status).toBe(200)
    })

    it('§2.1 revoking a refresh token revokes the access tokens issued with it, and the refresh grant fails with invalid_grant', async () => {
      const { issue, revoke, isActive, refresh } = await setup()
      const first = await issue()
      const second = await issue()
      expectRevoked(await revoke(form({ token: first.refresh })))
      expect(await isActive(first.refresh)).toBe(false)
      expect(await isActive(first.access)).toBe(false)
      expectError(await refresh(first.refresh), 400, 'invalid_grant')
      // Another grant of the same client and user is untouched.
      expect(await isActive(second.access)).toBe(true)
      expect(await isActive(second.refresh)).toBe(true)
    })

    it('§2.1 client_secret_post authenticates the client as well as HTTP Basic', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access } = await issue('post')
      expectRevoked(await revoke(form({ token: access, client_id: POST_CLIENT_ID, client_secret: POST_CLIENT_SECRET }), {}))
      expect(await isActive(access)).toBe(false)
    })

    it('§2.1 a public client revokes its own token with its client_id alone', async () => {
      const { issue, revoke, isActive, harness } = await setup()
      const { access, refresh } = await issue('public')
      expect(await isActive(access)).toBe(true)
      expectRevoked(await revoke(form({ token: refresh, client_id: PUBLIC_CLIENT_ID }), {}))
      // No confidential client may learn of a public client's refresh token: its record tells.
      expect(await harness.isRevoked(refresh)).toBe(true)
      expect(await isActive(access)).toBe(false)
    })

    it('§2.1 a token issued to another client is refused with unauthorized_client and is not revoked', async () => {
      const { issue, revoke, isActive, harness } = await setup()
      const theirs = await issue('other')
      for (const token of [theirs.access, theirs.refresh]) {
        expectError(await revoke(form({ token })), 400, 'unauthorized_client', /another client|not issued to this client/)
        expect(await isActive(token)).toBe(true)
        expect(await harness.isRevoked(token)).toBe(false)
      }
      // Its owner can still revoke it.
      expectRevoked(await revoke(form({ token: theirs.refresh }), { Authorization: OTHER_BASIC }))
      expect(await isActive(theirs.refresh)).toBe(false)
    })

    it('§2.1 a public client cannot revoke the token of another public client', async () => {
      const { issue, revoke, isActive } = await setup()
      const theirs = await issue('other-public')
      expectError(await revoke(form({ token: theirs.access, client_id: PUBLIC_CLIENT_ID }), {}), 400, 'unauthorized_client')
      expect(await isActive(theirs.access)).toBe(true)
    })

    it('§2.1 a confidential client that sends only its client_id is 401 invalid_client, and nothing is revoked', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access } = await issue()
      expectError(await revoke(form({ token: access, client_id: RFC_CLIENT_ID }), {}), 401, 'invalid_client')
      expect(await isActive(access)).toBe(true)
    })

    it('§2.1 a wrong secret is 401 invalid_client with WWW-Authenticate, and nothing is revoked', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access } = await issue()
      expectError(await revoke(form({ token: access }), { Authorization: basic(RFC_CLIENT_ID, 'wrong') }), 401, 'invalid_client')
      expect(await isActive(access)).toBe(true)
    })

    it('§2.1 a request with neither credentials nor client_id is 401 invalid_client', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access } = await issue()
      expectError(await revoke(form({ token: access }), {}), 401, 'invalid_client')
      expect(await isActive(access)).toBe(true)
    })

    it('§2.1 token is REQUIRED: missing or empty is invalid_request', async () => {
      const { revoke } = await setup()
      expectError(await revoke(''), 400, 'invalid_request', /token is required/)
      expectError(await revoke('token=&token_type_hint=access_token'), 400, 'invalid_request', /token is required/)
    })

    it('§2.1 a repeated token or token_type_hint is invalid_request, and nothing is revoked', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access, refresh } = await issue()
      expectError(await revoke(`token=${access}&token=${refresh}`), 400, 'invalid_request', /token is repeated/)
      expectError(await revoke(`token=${access}&token_type_hint=access_token&token_type_hint=refresh_token`), 400, 'invalid_request', /token_type_hint is repeated/)
      expect(await isActive(access)).toBe(true)
      expect(await isActive(refresh)).toBe(true)
    })

    it('§2.1 parameters come from the form body only: a token in the URI query is not read', async () => {
      const { revocation, issue, isActive } = await setup()
      const { access } = await issue()
      const res = await revocation.createRevocationResponse(`${REVOKE_URI}?token=${access}`, 'POST', '', { ...FORM, Authorization: RFC_BASIC })
      expectError(res, 400, 'invalid_request', /token is required/)
      expect(await isActive(access)).toBe(true)
    })

    it('§2.1 the body must be application/x-www-form-urlencoded: a JSON body is invalid_request', async () => {
      const { revocation, issue } = await setup()
      const { access } = await issue()
      const res = await revocation.createRevocationResponse(REVOKE_URI, 'POST', JSON.stringify({ token: access }), {
        'Content-Type': 'application/json',
        Authorization: RFC_BASIC,
      })
      expectError(res, 400, 'invalid_request')
    })

    it('§2.1 the request is a POST: any other method is 405 with Allow: POST, and nothing is revoked', async () => {
      const { revocation, issue, isActive } = await setup()
      const { access } = await issue()
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await revocation.createRevocationResponse(`${REVOKE_URI}?token=${access}`, method, form({ token: access }), { ...FORM, Authorization: RFC_BASIC })
        expectError(res, 405, 'invalid_request', /POST/)
        expect(header(res, 'Allow')).toBe('POST')
      }
      expect(await isActive(access)).toBe(true)
    })

    itOnTheDouble('§2.1 token_type_hint is only a hint: a token sent with the wrong hint is still found by its real type', async () => {
      const validator = new RecordingValidator()
      const { issue, revoke, isActive } = await fixture(doubleHarness(validator))
      const { access, refresh } = await issue()
      expectRevoked(await revoke(form({ token: access, token_type_hint: 'refresh_token' })))
      expectRevoked(await revoke(form({ token: refresh, token_type_hint: 'access_token' })))
      expect(validator.hints).toEqual(['refresh_token', 'access_token'])
      // The found token decides the type handed to revokeToken, so the refresh token's family is revoked too.
      expect(validator.revoked).toEqual([
        [access, 'access_token'],
        [refresh, 'refresh_token'],
      ])
      expect(await isActive(access)).toBe(false)
      expect(await isActive(refresh)).toBe(false)
    })

    it('§2.1 no JSONP: a callback parameter is ignored and the answer is never a script', async () => {
      const { issue, revoke } = await setup()
      const { access } = await issue()
      const res = await revoke(form({ token: access, callback: 'package.myCallback' }))
      expectRevoked(res)
      expect(res.body).not.toContain('myCallback')
    })
  })

  describe('RFC 7009 §2.2 Revocation Response', () => {
    it('§2.2 a revoked token is answered 200 with an empty body and Cache-Control: no-store', async () => {
      const { issue, revoke } = await setup()
      const { access } = await issue()
      const res = await revoke(form({ token: access }))
      expect(res).toEqual({ status: 200, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' }, body: '' })
    })

    itOnTheDouble('§2.2 an unknown token is answered 200, and nothing is revoked', async () => {
      const validator = new RecordingValidator()
      const { revoke } = await fixture(doubleHarness(validator))
      expectRevoked(await revoke(form({ token: 'never-issued' })))
      expect(validator.revoked).toEqual([])
    })

    it('§2.2 revocation is idempotent: a second revocation of the same token is 200 too', async () => {
      const { issue, revoke, isActive } = await setup()
      const { access, refresh } = await issue()
      for (const token of [refresh, refresh, access, access]) expectRevoked(await revoke(form({ token })))
      expect(await isActive(access)).toBe(false)
      expect(await isActive(refresh)).toBe(false)
    })

    it('§2.2 an already revoked token of another client is 200: it is invalid, so there is nothing to refuse', async () => {
      const { issue, revoke } = await setup()
      const theirs = await issue('other')
      expectRevoked(await revoke(form({ token: theirs.access }), { Authorization: OTHER_BASIC }))
      expectRevoked(await revoke(form({ token: theirs.access })))
    })

    itOnTheDouble('§2.2 an expired token is answered 200; the client’s own still ends the live access tokens of its family', async () => {
      const validator = new RecordingValidator()
      const { issue, revoke, isActive } = await fixture(doubleHarness(validator))
      const { access, refresh } = await issue()
      expire(validator, refresh)
      expectRevoked(await revoke(form({ token: refresh })))
      expect(validator.revoked).toEqual([[refresh, 'refresh_token']])
      expect(await isActive(access)).toBe(false)
    })

    itOnTheDouble('§2.2 an expired token of another client is answered 200 and left alone', async () => {
      const validator = new RecordingValidator()
      const { issue, revoke } = await fixture(doubleHarness(validator))
      const theirs = await issue('other')
      expire(validator, theirs.access)
      expectRevoked(await revoke(form({ token: theirs.access })))
      expect(validator.revoked).toEqual([])
      expect(validator.tokens.get(theirs.access)?.revoked).toBe(false)
    })

    itOnTheDouble('§2.2 an invalid token_type_hint is ignored and does not influence the response', async () => {
      const validator = new RecordingValidator()
      const { issue, revoke, isActive } = await fixture(doubleHarness(validator))
      const { access } = await issue()
      expectRevoked(await revoke(form({ token: access, token_type_hint: 'id_token' })))
      expectRevoked(await revoke(form({ token: 'never-issued', token_type_hint: 'bogus' })))
      // The unknown value is not passed on as if it meant something.
      expect(validator.hints).toEqual([undefined, undefined])
      expect(await isActive(access)).toBe(false)
    })
  })

  describe('RFC 7009 §2.2.1 Error Response', () => {
    it('§2.2.1 unsupported_token_type when the server does not revoke access tokens, and the token stays active', async () => {
      const { issue, revoke, isActive } = await setup({ revocableTokenTypes: ['refresh_token'] })
      const { access, refresh } = await issue()
      expectError(await revoke(form({ token: access, token_type_hint: 'access_token' })), 400, 'unsupported_token_type', /access_token/)
      expect(await isActive(access)).toBe(true)
      // Refresh tokens are still revoked there, with their family.
      expectRevoked(await revoke(form({ token: refresh, token_type_hint: 'refresh_token' })))
      expect(await isActive(refresh)).toBe(false)
      expect(await isActive(access)).toBe(false)
    })

    it('§2.2.1 the token found decides its type, not the hint: an access token hinted as refresh_token is still unsupported', async () => {
      const { issue, revoke, isActive } = await setup({ revocableTokenTypes: ['refresh_token'] })
      const { access } = await issue()
      expectError(await revoke(form({ token: access, token_type_hint: 'refresh_token' })), 400, 'unsupported_token_type')
      expect(await isActive(access)).toBe(true)
    })

    it('§2.2.1 a client credentials token is an access token like any other', async () => {
      const { backend, revoke, isActive } = await setup()
      const res = await backend.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { ...FORM, Authorization: RFC_BASIC })
      const access = (JSON.parse(res.body) as Body).access_token as string
      expectRevoked(await revoke(form({ token: access })))
      expect(await isActive(access)).toBe(false)
    })

    itOnTheDouble('§2.2.1 a validator hook that throws is 500 server_error, reported to onError, with nothing leaked', async () => {
      const failure = new Error('connect ECONNREFUSED postgres://admin:hunter2@10.0.0.5/tokens')
      class FailingValidator extends MemoryValidator {
        override async revokeToken(): Promise<void> {
          throw failure
        }
      }
      const { issue, revoke, reported } = await fixture(doubleHarness(new FailingValidator()))
      const { access } = await issue()
      const res = await revoke(form({ token: access }))
      expectError(res, 500, 'server_error')
      expect(res.body).not.toContain('hunter2')
      expect(res.body).not.toContain('revokeToken')
      expect(reported).toHaveLength(1)
      expect(reported[0]?.error).toBe(failure)
      expect(reported[0]?.request).toBeInstanceOf(OAuth2Request)
      // The request handed to onError never shows the token.
      expect(JSON.stringify(reported[0]?.request)).not.toContain(access)
    })

    itOnTheDouble('§2.2.1 a lookup that throws is 500 server_error: the client must assume the token still exists', async () => {
      class FailingValidator extends MemoryValidator {
        override async introspectToken(): Promise<StoredToken<TestUser> | undefined> {
          throw new Error('database unreachable')
        }
      }
      const validator = new FailingValidator()
      const { issue, revoke, reported } = await fixture(doubleHarness(validator))
      const { access } = await issue()
      expectError(await revoke(form({ token: access })), 500, 'server_error')
      expect(reported.map((r) => (r.error as Error).message)).toEqual(['database unreachable'])
      expect(validator.tokens.get(access)?.revoked).toBe(false)
    })

    it('§2.2.1 a bare RequestValidator answers server_error, never a silent 200', async () => {
      const reported: unknown[] = []
      const revocation = new RevocationEndpoint({ requestValidator: new RequestValidator(), onError: (error) => reported.push(error) })
      const res = await revocation.createRevocationResponse(REVOKE_URI, 'POST', 'token=abc', { ...FORM, Authorization: RFC_BASIC })
      expectError(res, 500, 'server_error')
      expect(reported).toHaveLength(1)
      expect((reported[0] as ValidatorNotImplementedError).hook).toBe('authenticateClient')
    })
  })
})
