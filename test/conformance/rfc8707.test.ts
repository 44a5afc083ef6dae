/**
 * RFC 8707 Resource Indicators for OAuth 2.0: the `resource` parameter in authorization and token requests.
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
} from '../../src/index.js'
import { expectErrorResponse, expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const API = 'https://api.example.com/'
const FILES = 'https://files.example.com/v1'
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const AUTHORIZE = 'https://as.example.com/authorize'

function setup() {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'svc', secret: 'svc-secret', resources: [API, FILES] })
  const headers = { Authorization: basic('svc', 'svc-secret'), ...FORM }
  return { validator, headers }
}

function form(params: ReadonlyArray<readonly [string, string]>): string {
  return new URLSearchParams(params as Array<[string, string]>).toString()
}

/** Runs the authorization request and returns the code from the redirect. */
async function authorize(server: Server, resources: readonly string[]): Promise<string> {
  const query = form([
    ['response_type', 'code'],
    ['client_id', 'svc'],
    ['code_challenge', CHALLENGE],
    ['code_challenge_method', 'S256'],
    ...resources.map((r) => ['resource', r] as const),
  ])
  const response = await server.createAuthorizationResponse(`${AUTHORIZE}?${query}`, 'GET', undefined, {}, undefined, { userId: 'alice' })
  expect(response.status).toBe(302)
  const code = new URL(response.headers.Location as string).searchParams.get('code')
  expect(code).toBeTypeOf('string')
  return code as string
}

describe('RFC 8707 §2 Resource Parameter', () => {
  it('§2 accepts several resource parameters in one request instead of refusing them as repeated', async () => {
    const { validator, headers } = setup()
    const server = new BackendApplicationServer(validator)
    const body = form([['grant_type', 'client_credentials'], ['resource', API], ['resource', FILES]])
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
    expect(validator.saved[0]?.context.resources).toEqual([API, FILES])
  })

  it.each([
    ['a relative URI', '/api'],
    ['a URI with a fragment', 'https://api.example.com/#part'],
    ['a bare word', 'api'],
  ])('§2 refuses %s with invalid_target', async (_name, resource) => {
    const { validator, headers } = setup()
    const server = new BackendApplicationServer(validator)
    const body = form([['grant_type', 'client_credentials'], ['resource', resource]])
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 400, 'invalid_target', /absolute URI/)
    expect(validator.saved).toHaveLength(0)
  })

  it('§2 refuses a resource the client may not obtain a token for with invalid_target', async () => {
    const { validator, headers } = setup()
    const server = new BackendApplicationServer(validator)
    const body = form([['grant_type', 'client_credentials'], ['resource', 'https://payroll.example.com/']])
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 400, 'invalid_target')
  })

  it('§2 a validator that does not implement validateResources refuses every resource (deny by default)', async () => {
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
    const { validator, headers } = setup()
    const { privateKey } = await generateKeyPair('ES256')
    const server = new BackendApplicationServer(validator, {
      tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg: 'ES256', audience: 'https://default.example.com' }),
    })
    const body = form([['grant_type', 'client_credentials'], ['resource', FILES]])
    const token = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
    expect(decodeJwt(token.access_token as string).aud).toEqual([FILES])
  })

  it('§2 a request without resource keeps the configured audience', async () => {
    const { validator, headers } = setup()
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
    const { validator } = setup()
    const server = new Server(validator)
    const query = form([['response_type', 'code'], ['client_id', 'svc'], ['state', 's1'], ['code_challenge', CHALLENGE], ['code_challenge_method', 'S256'], ['resource', 'https://evil.example/']])
    const response = await server.createAuthorizationResponse(`${AUTHORIZE}?${query}`, 'GET', undefined, {}, undefined, { userId: 'alice' })
    expect(response.status).toBe(302)
    const location = new URL(response.headers.Location as string)
    expect(location.origin + location.pathname).toBe('https://client.example.com/cb')
    expect(location.searchParams.get('error')).toBe('invalid_target')
    expect(location.searchParams.get('state')).toBe('s1')
  })

  it('§2.1 the code carries the resources; a token request without resource gets all of them', async () => {
    const { validator, headers } = setup()
    const server = new Server(validator)
    const code = await authorize(server, [API, FILES])
    const body = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]])
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
    expect(validator.saved[0]?.context.resources).toEqual([API, FILES])
  })
})

describe('RFC 8707 §2.2 Access Token Request', () => {
  it('§2.2 a token request may narrow the resources of the authorization', async () => {
    const { validator, headers } = setup()
    const server = new Server(validator)
    const code = await authorize(server, [API, FILES])
    const body = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER], ['resource', FILES]])
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
    expect(validator.saved[0]?.context.resources).toEqual([FILES])
    // the refresh token keeps the whole grant, so a later refresh may ask for the other resource
    expect(validator.saved[0]?.context.refreshTokenResources).toEqual([API, FILES])
  })

  it('§2.2 a token request for a resource outside the authorization is invalid_target and leaves the code unused', async () => {
    const { validator, headers } = setup()
    const server = new Server(validator)
    const code = await authorize(server, [API])
    const wider = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER], ['resource', FILES]])
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', wider, headers), 400, 'invalid_target')
    const retry = form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]])
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', retry, headers))
  })

  it('§2.2 a refresh may narrow the resources but not widen them, and the rotated refresh token keeps the original ones', async () => {
    const { validator, headers } = setup()
    const server = new Server(validator)
    const code = await authorize(server, [API, FILES])
    const first = expectTokenResponse(
      await server.createTokenResponse(TOKEN_URI, 'POST', form([['grant_type', 'authorization_code'], ['code', code], ['code_verifier', VERIFIER]]), headers),
    )
    const narrowed = expectTokenResponse(
      await server.createTokenResponse(TOKEN_URI, 'POST', form([['grant_type', 'refresh_token'], ['refresh_token', first.refresh_token as string], ['resource', API]]), headers),
    )
    expect(validator.saved[1]?.context.resources).toEqual([API])
    expect(validator.refreshTokens.get(narrowed.refresh_token as string)?.resources).toEqual([API, FILES])
    const widened = form([['grant_type', 'refresh_token'], ['refresh_token', narrowed.refresh_token as string], ['resource', 'https://payroll.example.com/']])
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', widened, headers), 400, 'invalid_target')
  })
})
