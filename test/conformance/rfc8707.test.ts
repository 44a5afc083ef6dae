/**
 * RFC 8707 Resource Indicators for OAuth 2.0: the `resource` parameter in authorization and token requests, over each
 * conformance backend: the test double and `StoreValidator` on the memory, SQLite and PostgreSQL stores. What a token
 * is for is read back from the validator's storage (a store keeps it as the access token's audience and the refresh
 * token's resources).
 */
import { decodeJwt, generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  InvalidTargetError,
  parseResources,
  RequestValidator,
  Server,
  signedTokenGenerator,
  type OAuth2Request,
  type User,
} from '../../src/index.js'
import { CONFORMANCE_BACKENDS, type ConformanceBackend, type ConformanceHarness } from '../support/conformance-backends.js'
import { expectErrorResponse, expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM, TOKEN_URI } from '../support/memory-validator.js'

const API = 'https://api.example.com/'
const FILES = 'https://files.example.com/v1'
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const AUTHORIZE = 'https://as.example.com/authorize'

/** The client `svc`, which may ask for tokens for API and FILES, and the user who authorizes it. */
async function setup(harness: ConformanceHarness) {
  const validator = harness.validator
  await harness.addClient({ clientId: 'svc', secret: 'svc-secret', resources: [API, FILES] })
  const user = await harness.addUser('alice', 'wonderland')
  const headers = { Authorization: basic('svc', 'svc-secret'), ...FORM }
  return { validator, harness, user, headers }
}

function form(params: ReadonlyArray<readonly [string, string]>): string {
  return new URLSearchParams(params as Array<[string, string]>).toString()
}

/** Runs the authorization request and returns the code from the redirect. */
async function authorize(server: Server, user: User, resources: readonly string[]): Promise<string> {
  const query = form([
    ['response_type', 'code'],
    ['client_id', 'svc'],
    ['code_challenge', CHALLENGE],
    ['code_challenge_method', 'S256'],
    ...resources.map((r) => ['resource', r] as const),
  ])
  const response = await server.createAuthorizationResponse(`${AUTHORIZE}?${query}`, 'GET', undefined, {}, undefined, user)
  expect(response.status).toBe(302)
  const code = new URL(response.headers.Location as string).searchParams.get('code')
  expect(code).toBeTypeOf('string')
  return code as string
}

/** The resources the validator's storage holds for a token: an access token's audience, a refresh token's grant. */
async function resourcesOf(harness: ConformanceHarness, token: unknown): Promise<readonly string[] | undefined> {
  return (await harness.token(token as string))?.resources
}

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store); a test that brings its
 * own validator runs once.
 */
describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  /** Declares a test that brings its own validator, so it runs once, not once per backend. */
  const itOnce = backend.double ? it : (): void => undefined

  describe('RFC 8707 §2 Resource Parameter', () => {
    it('§2 accepts several resource parameters in one request instead of refusing them as repeated', async () => {
      const { validator, harness, headers } = await setup(await backend.open())
      const server = new BackendApplicationServer(validator)
      const body = form([['grant_type', 'client_credentials'], ['resource', API], ['resource', FILES]])
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
      expect(harness.saved[0]?.context.resources).toEqual([API, FILES])
      expect(await resourcesOf(harness, token.access_token)).toEqual([API, FILES])
    })

    it.each([
      ['a relative URI', '/api'],
      ['a URI with a fragment', 'https://api.example.com/#part'],
      ['a bare word', 'api'],
    ])('§2 refuses %s with invalid_target', async (_name, resource) => {
      const { validator, harness, headers } = await setup(await backend.open())
      const server = new BackendApplicationServer(validator)
      const body = form([['grant_type', 'client_credentials'], ['resource', resource]])
      expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 400, 'invalid_target', /absolute URI/)
      expect(harness.saved).toHaveLength(0)
    })

    it('§2 refuses a resource the client may not obtain a token for with invalid_target', async () => {
      const { validator, harness, headers } = await setup(await backend.open())
      const server = new BackendApplicationServer(validator)
      const body = form([['grant_type', 'client_credentials'], ['resource', 'https://payroll.example.com/']])
      expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 400, 'invalid_target')
      expect(harness.saved).toHaveLength(0)
    })

    itOnce('§2 a validator that does not implement validateResources refuses every resource (deny by default)', async () => {
      // A validator that implements everything client credentials needs except validateResources.
      class NoResources extends RequestValidator {
        override async authenticateClient(request: OAuth2Request) {
          return request.clientCredentials?.clientSecret === 'svc-secret' ? { clientId: 'svc' } : undefined
        }
        override async validateGrantType() {
          return true
        }
        override async getDefaultScopes() {
          return ['read']
        }
        override async validateScopes() {
          return true
        }
        override async saveBearerToken() {}
      }
      const server = new BackendApplicationServer(new NoResources())
      const headers = { Authorization: basic('svc', 'svc-secret'), ...FORM }
      expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', headers))
      const body = form([['grant_type', 'client_credentials'], ['resource', API]])
      const response = await server.createTokenResponse(TOKEN_URI, 'POST', body, headers)
      expectErrorResponse(response, 400, 'invalid_target')
    })

    it('§2 audience-restricts a signed access token to the requested resources', async () => {
      const { validator, harness, headers } = await setup(await backend.open())
      const { privateKey } = await generateKeyPair('ES256')
      const server = new BackendApplicationServer(validator, {
        tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg: 'ES256', audience: 'https://default.example.com' }),
      })
      const body = form([['grant_type', 'client_credentials'], ['resource', FILES]])
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
      expect(decodeJwt(token.access_token as string).aud).toEqual([FILES])
      // The validator keeps the same audience for the token it saved.
      expect(await resourcesOf(harness, token.access_token)).toEqual([FILES])
    })

    it('§2 a request without resource keeps the configured audience', async () => {
      const { validator, headers } = await setup(await backend.open())
      const { privateKey } = await generateKeyPair('ES256')
      const server = new BackendApplicationServer(validator, {
        tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg: 'ES256', audience: 'https://default.example.com' }),
      })
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', headers))
      expect(decodeJwt(token.access_token as string).aud).toBe('https://default.example.com')
    })

    it('§2 parseResources keeps absolute URIs (https and URNs), drops duplicates, and throws InvalidTargetError otherwise', () => {
      expect(parseResources([API, 'urn:example:api', API])).toEqual([API, 'urn:example:api'])
      expect(() => parseResources(['https://api.example.com/#x'])).toThrow(InvalidTargetError)
      expect(() => parseResources(['//api.example.com/'])).toThrow(InvalidTargetError)
    })
  })

  describe('RFC 8707 §2.1 Authorization Request', () => {
    it('§2.1 an unknown resource at the authorization endpoint is redirected as invalid_target with state', async () => {
      const { validator, harness, user } = await setup(await backend.open())
      const server = new Server(validator)
      const query = form([['response_type', 'code'], ['client_id', 'svc'], ['state', 's1'], ['code_challenge', CHALLENGE], ['code_challenge_method', 'S256'], ['resource', 'https://evil.example/']])
      const response = await server.createAuthorizationResponse(`${AUTHORIZE}?${query}`, 'GET', undefined, {}, undefined, user)
      expect(response.status).toBe(302)
      const location = new URL(response.headers.Location as string)
      expect(location.origin + location.pathname).toBe('https://client.example.com/cb')
      expect(location.searchParams.get('error')).toBe('invalid_target')
      expect(location.searchParams.get('state')).toBe('s1')
      expect(harness.savedCodes).toHaveLength(0)
    })

    it('§2.1 the code carries the resources; a token request without resource gets all of them', async () => {
      const { validator, harness, user, headers } = await setup(await backend.open())
      const server = new Server(validator)
      const code = await authorize(server, user, [API, FILES])
      expect((await harness.code(code))?.resources).toEqual([API, FILES])
      const body = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]])
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
      expect(harness.saved[0]?.context.resources).toEqual([API, FILES])
      expect(await resourcesOf(harness, token.access_token)).toEqual([API, FILES])
      expect(await resourcesOf(harness, token.refresh_token)).toEqual([API, FILES])
    })
  })

  describe('RFC 8707 §2.2 Access Token Request', () => {
    it('§2.2 a token request may narrow the resources of the authorization', async () => {
      const { validator, harness, user, headers } = await setup(await backend.open())
      const server = new Server(validator)
      const code = await authorize(server, user, [API, FILES])
      const body = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER], ['resource', FILES]])
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
      expect(harness.saved[0]?.context.resources).toEqual([FILES])
      expect(await resourcesOf(harness, token.access_token)).toEqual([FILES])
      // the refresh token keeps the whole grant, so a later refresh may ask for the other resource
      expect(harness.saved[0]?.context.refreshTokenResources).toEqual([API, FILES])
      expect(await resourcesOf(harness, token.refresh_token)).toEqual([API, FILES])
    })

    it('§2.2 a token request for a resource outside the authorization is invalid_target and leaves the code unused', async () => {
      const { validator, harness, user, headers } = await setup(await backend.open())
      const server = new Server(validator)
      const code = await authorize(server, user, [API])
      const wider = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER], ['resource', FILES]])
      expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', wider, headers), 400, 'invalid_target')
      expect(harness.saved).toHaveLength(0)
      expect((await harness.code(code))?.used).toBe(false)
      const retry = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]])
      const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', retry, headers))
      expect(await resourcesOf(harness, token.access_token)).toEqual([API])
    })

    it('§2.2 a refresh may narrow the resources but not widen them, and the rotated refresh token keeps the original ones', async () => {
      const { validator, harness, user, headers } = await setup(await backend.open())
      const server = new Server(validator)
      const code = await authorize(server, user, [API, FILES])
      const first = expectTokenResponse(
        await server.createTokenResponse(TOKEN_URI, 'POST', form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]]), headers),
      )
      const narrowed = expectTokenResponse(
        await server.createTokenResponse(TOKEN_URI, 'POST', form([['grant_type', 'refresh_token'], ['refresh_token', first.refresh_token as string], ['resource', API]]), headers),
      )
      expect(harness.saved[1]?.context.resources).toEqual([API])
      expect(await resourcesOf(harness, narrowed.access_token)).toEqual([API])
      expect(await resourcesOf(harness, narrowed.refresh_token)).toEqual([API, FILES])
      const widened = form([['grant_type', 'refresh_token'], ['refresh_token', narrowed.refresh_token as string], ['resource', 'https://payroll.example.com/']])
      expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', widened, headers), 400, 'invalid_target')
      // The refused refresh did not spend the refresh token, which still reaches the other resource.
      expect((await harness.token(narrowed.refresh_token as string))?.live).toBe(true)
      const other = form([['grant_type', 'refresh_token'], ['refresh_token', narrowed.refresh_token as string], ['resource', FILES]])
      const files = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', other, headers))
      expect(await resourcesOf(harness, files.access_token)).toEqual([FILES])
    })
  })
})
