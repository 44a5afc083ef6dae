/**
 * RFC 8414 conformance of the metadata endpoint, with the claims of RFC 9207 §3 and RFC 7636 (PKCE): one `describe`
 * per section, servers built both from endpoints and grants directly and from the pre-configured servers.
 */
import { describe, expect, it } from 'vitest'
import {
  AuthorizationCodeGrant,
  AuthorizationEndpoint,
  BackendApplicationServer,
  BearerToken,
  ClientCredentialsGrant,
  DEFAULT_ENDPOINT_PATHS,
  ImplicitGrant,
  IntrospectEndpoint,
  LegacyApplicationServer,
  MetadataEndpoint,
  MobileApplicationServer,
  PasswordGrant,
  RefreshTokenGrant,
  ResourceEndpoint,
  RevocationEndpoint,
  Server,
  TokenEndpoint,
  WebApplicationServer,
  type AuthorizationResponseType,
  type AuthorizationServerMetadata,
  type TokenGrantType,
} from '../../src/index.js'
import { RESPONSE_MODES } from '../../src/core/response-mode.js'
import { MemoryValidator } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'
const WELL_KNOWN = 'https://as.example.com/.well-known/oauth-authorization-server'
const SECRET_METHODS = ['client_secret_basic', 'client_secret_post']
const ALL_RESPONSE_MODES = ['query', 'fragment', 'form_post']

/** Builders of endpoints over one validator, for servers assembled by hand. */
function setup() {
  const validator = new MemoryValidator()
  const bearerToken = new BearerToken(validator)
  return {
    validator,
    token: (...grantTypes: TokenGrantType[]) => new TokenEndpoint({ grantTypes, bearerToken }),
    authorization: (...responseTypes: AuthorizationResponseType[]) => new AuthorizationEndpoint({ requestValidator: validator, responseTypes, bearerToken }),
    code: (allowPlainCodeChallenge = false) => new AuthorizationCodeGrant(validator, { allowPlainCodeChallenge }),
    revocation: () => new RevocationEndpoint({ requestValidator: validator }),
    introspection: () => new IntrospectEndpoint({ requestValidator: validator }),
    resource: () => new ResourceEndpoint({ requestValidator: validator }),
  }
}

/** The metadata of a pre-configured server with an authorization and a token endpoint. */
function metadataOf(server: WebApplicationServer | Server, claims: Partial<AuthorizationServerMetadata> = {}): MetadataEndpoint {
  return new MetadataEndpoint([server.authorizationEndpoint, server.tokenEndpoint], { issuer: ISSUER, ...claims })
}

/** The metadata of a web application server, with `claims` added. */
function webMetadata(claims: Partial<AuthorizationServerMetadata> = {}): MetadataEndpoint {
  return metadataOf(new WebApplicationServer(new MemoryValidator()), claims)
}

/** Asserts that building the metadata of a web application server with `claims` throws a TypeError matching `message`. */
function expectRefused(claims: Record<string, unknown>, message: RegExp): void {
  expect(() => webMetadata(claims as Partial<AuthorizationServerMetadata>)).toThrow(TypeError)
  expect(() => webMetadata(claims as Partial<AuthorizationServerMetadata>)).toThrow(message)
}

async function served(metadata: MetadataEndpoint): Promise<Record<string, unknown>> {
  const response = await metadata.createMetadataResponse(WELL_KNOWN, 'GET')
  expect(response.status).toBe(200)
  return JSON.parse(response.body) as Record<string, unknown>
}

describe('RFC 8414 §2 Authorization Server Metadata', () => {
  describe('issuer (REQUIRED)', () => {
    it('refuses claims without issuer', () => {
      const backend = new BackendApplicationServer(new MemoryValidator())
      const build = () => new MetadataEndpoint([backend.tokenEndpoint], {} as AuthorizationServerMetadata)
      expect(build).toThrow(TypeError)
      expect(build).toThrow(/issuer is required/)
    })

    it.each([
      ['http, not on loopback', 'http://as.example.com', /https/],
      ['a query', 'https://as.example.com?tenant=a', /query/],
      ['an empty query', 'https://as.example.com/?', /query/],
      ['a fragment', 'https://as.example.com#top', /fragment/],
      ['an empty fragment', 'https://as.example.com/#', /fragment/],
      ['no scheme', 'as.example.com', /absolute URL/],
      ['a relative path', '/issuer', /absolute URL/],
      ['a scheme without //', 'https:as.example.com', /absolute URL/],
      ['a leading blank', ' https://as.example.com', /absolute URL/],
      ['credentials', 'https://user:pass@as.example.com', /credentials/],
      ['another scheme', 'ftp://as.example.com', /absolute URL/],
      ['a look-alike of localhost over http', 'http://localhost.example.com', /https/],
      ['a non-string', 42, /URL string/],
    ])('refuses an issuer with %s', (_case, issuer, message) => {
      const backend = new BackendApplicationServer(new MemoryValidator())
      const build = () => new MetadataEndpoint([backend.tokenEndpoint], { issuer: issuer as string })
      expect(build).toThrow(TypeError)
      expect(build).toThrow(message)
    })

    it.each(['http://localhost:8080', 'http://127.0.0.1:3000', 'http://[::1]:3000', 'https://as.example.com/tenant/a'])(
      'accepts the issuer %s (http only on loopback, for development)',
      (issuer) => {
        const backend = new BackendApplicationServer(new MemoryValidator())
        expect(new MetadataEndpoint([backend.tokenEndpoint], { issuer }).claims.issuer).toBe(issuer)
      },
    )
  })

  describe('endpoint URLs', () => {
    it('defaults each endpoint the server has to issuer + its conventional path', () => {
      const { token, authorization, code, revocation, introspection } = setup()
      const grant = code()
      const metadata = new MetadataEndpoint([authorization(grant), token(grant), revocation(), introspection()], { issuer: 'https://as.example.com/tenant' })
      expect(metadata.claims).toMatchObject({
        authorization_endpoint: 'https://as.example.com/tenant/authorize',
        token_endpoint: 'https://as.example.com/tenant/token',
        revocation_endpoint: 'https://as.example.com/tenant/revoke',
        introspection_endpoint: 'https://as.example.com/tenant/introspect',
      })
      expect(DEFAULT_ENDPOINT_PATHS).toEqual({
        authorization_endpoint: '/authorize',
        token_endpoint: '/token',
        revocation_endpoint: '/revoke',
        introspection_endpoint: '/introspect',
      })
    })

    it('joins the default paths to an issuer with a trailing slash without doubling it', () => {
      const metadata = webMetadata({ issuer: 'https://as.example.com/' })
      expect(metadata.claims.token_endpoint).toBe('https://as.example.com/token')
      expect(metadata.claims.authorization_endpoint).toBe('https://as.example.com/authorize')
    })

    it('serves the endpoint URLs given instead of the defaults, a query included', () => {
      const metadata = webMetadata({
        authorization_endpoint: 'https://login.example.com/oauth2/authorize',
        token_endpoint: 'https://api.example.com/oauth2/token?tenant=a',
      })
      expect(metadata.claims.authorization_endpoint).toBe('https://login.example.com/oauth2/authorize')
      expect(metadata.claims.token_endpoint).toBe('https://api.example.com/oauth2/token?tenant=a')
    })

    it('has no URL for an endpoint the server lacks', () => {
      const metadata = new MetadataEndpoint([new BackendApplicationServer(new MemoryValidator()).tokenEndpoint], { issuer: ISSUER })
      expect(Object.keys(metadata.claims).filter((name) => name.endsWith('_endpoint'))).toEqual(['token_endpoint'])
    })

    it.each([
      ['token_endpoint', 'http://as.example.com/token', /https/],
      ['authorization_endpoint', 'https://as.example.com/authorize#x', /fragment/],
      ['token_endpoint', '/token', /absolute URL/],
      ['jwks_uri', 'http://as.example.com/jwks.json', /https/],
      ['jwks_uri', 'https://as.example.com/jwks.json#keys', /fragment/],
      ['registration_endpoint', 'http://as.example.com/register', /https/],
      ['device_authorization_endpoint', 'http://as.example.com/device', /https/],
      ['service_documentation', 'docs/index.html', /absolute URL/],
    ])('refuses %s = %s', (name, value, message) => {
      expectRefused({ [name]: value }, message)
    })

    it('accepts http for endpoints on loopback, for development', () => {
      const metadata = webMetadata({ issuer: 'http://localhost:8080', jwks_uri: 'http://127.0.0.1:8080/jwks.json' })
      expect(metadata.claims.token_endpoint).toBe('http://localhost:8080/token')
      expect(metadata.claims.jwks_uri).toBe('http://127.0.0.1:8080/jwks.json')
    })

    it('refuses a URL for an endpoint that is not among the endpoints', () => {
      expectRefused({ revocation_endpoint: 'https://as.example.com/revoke' }, /revocation_endpoint is given, but no revocation endpoint/)
      const mobile = new MobileApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([mobile.authorizationEndpoint], { issuer: ISSUER, token_endpoint: `${ISSUER}/token` })).toThrow(
        /token_endpoint is given, but no token endpoint/,
      )
    })
  })

  describe('response_types_supported, grant_types_supported and the other computed claims', () => {
    it('describes a web application server completely', () => {
      expect(webMetadata().claims).toEqual({
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/authorize`,
        token_endpoint: `${ISSUER}/token`,
        response_types_supported: ['code'],
        response_modes_supported: ALL_RESPONSE_MODES,
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: [...SECRET_METHODS, 'none'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
      })
    })

    it('describes a backend application server: client credentials only, no response type, no public clients', () => {
      const backend = new BackendApplicationServer(new MemoryValidator())
      expect(new MetadataEndpoint([backend.tokenEndpoint], { issuer: ISSUER }).claims).toEqual({
        issuer: ISSUER,
        token_endpoint: `${ISSUER}/token`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: SECRET_METHODS,
      })
    })

    it('describes a legacy application server: password and refresh token, public clients allowed', () => {
      const legacy = new LegacyApplicationServer(new MemoryValidator())
      const { claims } = new MetadataEndpoint([legacy.tokenEndpoint], { issuer: ISSUER })
      expect(claims.grant_types_supported).toEqual(['password', 'refresh_token'])
      expect(claims.token_endpoint_auth_methods_supported).toEqual([...SECRET_METHODS, 'none'])
      expect(claims).not.toHaveProperty('response_types_supported')
    })

    it('describes a mobile application server: implicit only, hence no token endpoint', () => {
      const mobile = new MobileApplicationServer(new MemoryValidator())
      expect(new MetadataEndpoint([mobile.authorizationEndpoint], { issuer: ISSUER }).claims).toEqual({
        issuer: ISSUER,
        authorization_endpoint: `${ISSUER}/authorize`,
        response_types_supported: ['token'],
        response_modes_supported: ALL_RESPONSE_MODES,
        grant_types_supported: ['implicit'],
        authorization_response_iss_parameter_supported: true,
      })
    })

    it('adds implicit to the grant types of a server whose authorization endpoint serves response type token', () => {
      const { claims } = metadataOf(new Server(new MemoryValidator(), { enableImplicitGrant: true }))
      expect(claims.response_types_supported).toEqual(['code', 'token'])
      expect(claims.grant_types_supported).toEqual(['authorization_code', 'password', 'client_credentials', 'refresh_token', 'implicit'])
    })

    it('leaves implicit out when the full server does not enable it', () => {
      const { claims } = metadataOf(new Server(new MemoryValidator()))
      expect(claims.response_types_supported).toEqual(['code'])
      expect(claims.grant_types_supported).toEqual(['authorization_code', 'password', 'client_credentials', 'refresh_token'])
    })

    it('describes a token endpoint beside an implicit-only authorization endpoint, both built by hand', () => {
      const { token, authorization, validator } = setup()
      const { claims } = new MetadataEndpoint([token(new ClientCredentialsGrant(validator)), authorization(new ImplicitGrant())], { issuer: ISSUER })
      expect(claims).toMatchObject({ response_types_supported: ['token'], grant_types_supported: ['client_credentials', 'implicit'] })
      expect(claims).not.toHaveProperty('code_challenge_methods_supported')
    })

    it('lists the grants of a token endpoint built by hand, in their order', () => {
      const { token, validator } = setup()
      const endpoint = token(new RefreshTokenGrant(validator), new ClientCredentialsGrant(validator), new PasswordGrant(validator))
      expect(new MetadataEndpoint([endpoint], { issuer: ISSUER }).claims.grant_types_supported).toEqual(['refresh_token', 'client_credentials', 'password'])
    })

    it('advertises none only when a grant admits public clients', () => {
      const { token, validator } = setup()
      const confidentialOnly = new MetadataEndpoint([token(new ClientCredentialsGrant(validator))], { issuer: ISSUER })
      const withRefresh = new MetadataEndpoint([token(new ClientCredentialsGrant(validator), new RefreshTokenGrant(validator))], { issuer: ISSUER })
      expect(confidentialOnly.claims.token_endpoint_auth_methods_supported).toEqual(SECRET_METHODS)
      expect(withRefresh.claims.token_endpoint_auth_methods_supported).toEqual([...SECRET_METHODS, 'none'])
    })

    it('asks a custom grant whether it admits public clients (allowsPublicClients), not a list of names', () => {
      const { token } = setup()
      const device = (allowsPublicClients: boolean): TokenGrantType => ({
        grantType: 'urn:ietf:params:oauth:grant-type:device_code',
        allowsPublicClients,
        createTokenResponse: () => Promise.reject(new Error('not used')),
      })
      expect(new MetadataEndpoint([token(device(true))], { issuer: ISSUER }).claims.token_endpoint_auth_methods_supported).toEqual([...SECRET_METHODS, 'none'])
      expect(new MetadataEndpoint([token(device(false))], { issuer: ISSUER }).claims.token_endpoint_auth_methods_supported).toEqual(SECRET_METHODS)
    })

    it('describes revocation (public clients allowed, RFC 7009) and introspection (authenticated callers only, RFC 7662)', () => {
      const { token, revocation, introspection, validator } = setup()
      const { claims } = new MetadataEndpoint([token(new ClientCredentialsGrant(validator)), revocation(), introspection()], { issuer: ISSUER })
      expect(claims.revocation_endpoint_auth_methods_supported).toEqual([...SECRET_METHODS, 'none'])
      expect(claims.introspection_endpoint_auth_methods_supported).toEqual(SECRET_METHODS)
    })

    it('has no revocation or introspection claims without those endpoints', () => {
      const names = Object.keys(webMetadata().claims)
      expect(names.filter((name) => name.startsWith('revocation') || name.startsWith('introspection'))).toEqual([])
    })

    it('accepts a resource endpoint and leaves it out of the document, which describes the authorization server', () => {
      const { token, resource, validator } = setup()
      const grant = new ClientCredentialsGrant(validator)
      const withResource = new MetadataEndpoint([token(grant), resource()], { issuer: ISSUER })
      expect(withResource.claims).toEqual(new MetadataEndpoint([token(grant)], { issuer: ISSUER }).claims)
    })

    it('serves a claim that narrows a computed list, as given', () => {
      const metadata = webMetadata({
        grant_types_supported: ['authorization_code'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        response_modes_supported: ['query', 'form_post'],
      })
      expect(metadata.claims).toMatchObject({
        grant_types_supported: ['authorization_code'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        response_modes_supported: ['query', 'form_post'],
      })
    })

    it.each([
      ['grant_types_supported', ['authorization_code', 'client_credentials'], /client_credentials, which this server does not support/],
      ['response_types_supported', ['code', 'token'], /token, which this server does not support/],
      ['response_modes_supported', ['web_message'], /web_message/],
      ['token_endpoint_auth_methods_supported', ['client_secret_basic', 'private_key_jwt'], /private_key_jwt/],
      ['code_challenge_methods_supported', ['S256', 'plain'], /plain/],
      ['revocation_endpoint_auth_methods_supported', ['client_secret_basic'], /supports: nothing/],
      ['grant_types_supported', [], /cannot be empty/],
      ['response_types_supported', [], /cannot be empty/],
    ])('refuses %s = %j, which contradicts what the server supports', (name, value, message) => {
      expectRefused({ [name]: value }, message)
    })

    it('refuses none at the token endpoint of a server whose grants all need client authentication', () => {
      const backend = new BackendApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([backend.tokenEndpoint], { issuer: ISSUER, token_endpoint_auth_methods_supported: ['none'] })).toThrow(
        /none, which this server does not support/,
      )
    })

    it('refuses none at the introspection endpoint', () => {
      const { token, introspection, validator } = setup()
      const build = () =>
        new MetadataEndpoint([token(new ClientCredentialsGrant(validator)), introspection()], {
          issuer: ISSUER,
          introspection_endpoint_auth_methods_supported: ['none'],
        })
      expect(build).toThrow(TypeError)
    })

    it('refuses signing algorithms for JWT client authentication, which the server does not offer', () => {
      expectRefused({ token_endpoint_auth_signing_alg_values_supported: ['RS256'] }, /neither private_key_jwt nor client_secret_jwt/)
    })
  })

  describe('the endpoints fit together', () => {
    it('refuses a token endpoint serving authorization_code without the authorization endpoint that issues codes', () => {
      const web = new WebApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([web.tokenEndpoint], { issuer: ISSUER })).toThrow(/authorization_endpoint is required/)
    })

    it('refuses an authorization endpoint issuing codes without a token endpoint to redeem them', () => {
      const web = new WebApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([web.authorizationEndpoint], { issuer: ISSUER })).toThrow(/token_endpoint is required/)
    })

    it('refuses a token endpoint without the authorization_code grant beside an authorization endpoint issuing codes', () => {
      const { token, authorization, code, validator } = setup()
      expect(() => new MetadataEndpoint([authorization(code()), token(new ClientCredentialsGrant(validator))], { issuer: ISSUER })).toThrow(
        /lacks authorization_code/,
      )
    })

    it('refuses claims that advertise the implicit grant without response type token, or the other way round', () => {
      const server = new Server(new MemoryValidator(), { enableImplicitGrant: true })
      expect(() => metadataOf(server, { response_types_supported: ['code'] })).toThrow(/grant_types_supported has implicit/)
      expect(() => metadataOf(server, { grant_types_supported: ['authorization_code'] })).toThrow(/response_types_supported has token/)
      expect(metadataOf(server, { response_types_supported: ['code'], grant_types_supported: ['authorization_code'] }).claims.grant_types_supported).toEqual([
        'authorization_code',
      ])
    })
  })

  describe('the endpoints given', () => {
    it('refuses an empty list, and a list without a token or an authorization endpoint', () => {
      const { resource, revocation } = setup()
      expect(() => new MetadataEndpoint([], { issuer: ISSUER })).toThrow(/needs a TokenEndpoint or an AuthorizationEndpoint/)
      expect(() => new MetadataEndpoint([resource(), revocation()], { issuer: ISSUER })).toThrow(/needs a TokenEndpoint or an AuthorizationEndpoint/)
    })

    it('refuses an object that is not an endpoint, and names the fix when it is a server', () => {
      const server = new WebApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([{}], { issuer: ISSUER })).toThrow(/not an endpoint/)
      expect(() => new MetadataEndpoint([server], { issuer: ISSUER })).toThrow(/pass a server's tokenEndpoint and authorizationEndpoint/)
    })

    it('refuses two endpoints of the same kind', () => {
      const backend = new BackendApplicationServer(new MemoryValidator())
      expect(() => new MetadataEndpoint([backend.tokenEndpoint, backend.tokenEndpoint], { issuer: ISSUER })).toThrow(/two token endpoints/)
    })
  })

  describe('list claims', () => {
    it('serves scopes_supported and ui_locales_supported as given', () => {
      const { claims } = webMetadata({ scopes_supported: ['read', 'write', 'urn:example:scope'], ui_locales_supported: ['en-US', 'fr-CA'] })
      expect(claims.scopes_supported).toEqual(['read', 'write', 'urn:example:scope'])
      expect(claims.ui_locales_supported).toEqual(['en-US', 'fr-CA'])
    })

    it.each([
      ['a string instead of an array', 'read write', /array of non-empty strings/],
      ['a number', [1], /array of non-empty strings/],
      ['an empty string', ['read', ''], /array of non-empty strings/],
      ['a value twice', ['read', 'read'], /twice/],
      ['two scope tokens in one', ['read write'], /not a scope token/],
      ['a double quote', ['say"hi'], /not a scope token/],
    ])('refuses scopes_supported with %s', (_case, value, message) => {
      expectRefused({ scopes_supported: value }, message)
    })

    it('refuses ui_locales_supported that is not an array', () => {
      expectRefused({ ui_locales_supported: 'en' }, /ui_locales_supported must be an array/)
    })
  })

  describe('the document is immutable', () => {
    it('is frozen, lists included', () => {
      const { claims } = webMetadata({ scopes_supported: ['read'], x_extension: { nested: ['a'] } })
      expect(Object.isFrozen(claims)).toBe(true)
      expect(Object.isFrozen(claims.grant_types_supported)).toBe(true)
      expect(Object.isFrozen(claims.scopes_supported)).toBe(true)
      expect(Object.isFrozen((claims.x_extension as { nested: string[] }).nested)).toBe(true)
    })

    it('does not change when the claims given are changed afterwards', async () => {
      const scopes = ['read']
      const extension = { nested: ['a'] }
      const metadata = webMetadata({ scopes_supported: scopes, x_extension: extension })
      scopes.push('write')
      extension.nested.push('b')
      expect(metadata.claims.scopes_supported).toEqual(['read'])
      expect(await served(metadata)).toMatchObject({ scopes_supported: ['read'], x_extension: { nested: ['a'] } })
    })

    it('freezes copies, not the constants other modules share', () => {
      const { claims } = webMetadata()
      expect(claims.response_modes_supported).toEqual(RESPONSE_MODES)
      expect(Object.isFrozen(RESPONSE_MODES)).toBe(false)
    })
  })
})

describe('RFC 8414 §3 Obtaining Authorization Server Metadata', () => {
  it('answers GET with 200, the JSON document and headers that let any origin read and cache it', async () => {
    const metadata = webMetadata()
    const response = await metadata.createMetadataResponse(WELL_KNOWN, 'GET')
    expect(response).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=3600', 'Access-Control-Allow-Origin': '*' },
      body: JSON.stringify(metadata.claims),
    })
    expect(JSON.parse(response.body)).toEqual(metadata.claims)
  })

  it('answers GET by default and in any letter case', async () => {
    const metadata = webMetadata()
    expect((await metadata.createMetadataResponse(WELL_KNOWN)).status).toBe(200)
    expect((await metadata.createMetadataResponse(WELL_KNOWN, 'get')).status).toBe(200)
  })

  it('answers HEAD with the headers of GET and no body', async () => {
    const metadata = webMetadata()
    const get = await metadata.createMetadataResponse(WELL_KNOWN, 'GET')
    const head = await metadata.createMetadataResponse(WELL_KNOWN, 'HEAD')
    expect(head).toEqual({ status: 200, headers: get.headers, body: '' })
  })

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('answers %s with 405 and Allow: GET, HEAD', async (method) => {
    const response = await webMetadata().createMetadataResponse(WELL_KNOWN, method, 'issuer=https://evil.example')
    expect(response.status).toBe(405)
    expect(response.headers).toMatchObject({ Allow: 'GET, HEAD', 'Cache-Control': 'no-store' })
    expect(JSON.parse(response.body)).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/GET and HEAD/) })
  })

  it('answers the same document to every request, whatever its URI, body or headers', async () => {
    const metadata = webMetadata()
    const plain = await metadata.createMetadataResponse(WELL_KNOWN, 'GET')
    const other = await metadata.createMetadataResponse('https://other.example/x?issuer=evil', 'GET', 'a=b', { Host: 'evil.example' })
    expect(other).toEqual(plain)
  })

  describe('§3.1 Authorization Server Metadata Request', () => {
    it.each([
      // RFC 8414 §3.1's own example.
      ['https://example.com/issuer1', 'https://example.com/.well-known/oauth-authorization-server/issuer1'],
      ['https://example.com', 'https://example.com/.well-known/oauth-authorization-server'],
      ['https://example.com/', 'https://example.com/.well-known/oauth-authorization-server'],
      ['https://example.com/issuer1/', 'https://example.com/.well-known/oauth-authorization-server/issuer1'],
      ['http://localhost:8080/t', 'http://localhost:8080/.well-known/oauth-authorization-server/t'],
    ])('puts the well-known URI of issuer %s at %s', (issuer, wellKnownUri) => {
      expect(webMetadata({ issuer }).wellKnownUri).toBe(wellKnownUri)
    })
  })
})

describe('RFC 8414 §3.2 Authorization Server Metadata Response', () => {
  it('omits claims with no value and lists with zero elements', async () => {
    const body = await served(webMetadata({ jwks_uri: undefined, scopes_supported: [], x_empty: [], x_undefined: undefined }))
    for (const name of ['jwks_uri', 'scopes_supported', 'x_empty', 'x_undefined']) expect(body).not.toHaveProperty(name)
    expect(Object.values(body).every((value) => value !== null && !(Array.isArray(value) && value.length === 0))).toBe(true)
  })

  it('omits response_types_supported and every authorization claim of a server without an authorization endpoint', async () => {
    const backend = new BackendApplicationServer(new MemoryValidator())
    const body = await served(new MetadataEndpoint([backend.tokenEndpoint], { issuer: ISSUER }))
    for (const name of [
      'authorization_endpoint',
      'response_types_supported',
      'response_modes_supported',
      'code_challenge_methods_supported',
      'authorization_response_iss_parameter_supported',
    ]) {
      expect(body).not.toHaveProperty(name)
    }
  })

  it('passes unknown claims through unchanged, after the RFC 8414 claims', async () => {
    const extensions = {
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
      require_pushed_authorization_requests: false,
      x_limits: { max_age: 3600, regions: ['eu', 'us'], note: null },
    }
    const body = await served(webMetadata({ ...extensions, scopes_supported: ['read'] }))
    expect(body).toMatchObject(extensions)
    const names = Object.keys(body)
    expect(names.slice(-3)).toEqual(Object.keys(extensions))
    expect(names.indexOf('scopes_supported')).toBeLessThan(names.indexOf('dpop_signing_alg_values_supported'))
  })

  it('serves a claim named __proto__ as a claim', async () => {
    const claims = JSON.parse('{"issuer":"https://as.example.com","__proto__":{"polluted":true}}') as AuthorizationServerMetadata
    const web = new WebApplicationServer(new MemoryValidator())
    const metadata = new MetadataEndpoint([web.authorizationEndpoint, web.tokenEndpoint], claims)
    expect(Object.getPrototypeOf(metadata.claims)).toBe(Object.prototype)
    expect(Object.hasOwn(metadata.claims, '__proto__')).toBe(true)
    expect((await metadata.createMetadataResponse(WELL_KNOWN)).body).toMatch(/,"__proto__":\{"polluted":true\}\}$/)
  })

  it('serves the RFC 8414 §3.2 example, less what oauthkit does not implement', async () => {
    // The RFC's example response, without private_key_jwt and "code token", which oauthkit does not serve.
    const example = {
      issuer: 'https://server.example.com',
      authorization_endpoint: 'https://server.example.com/authorize',
      token_endpoint: 'https://server.example.com/token',
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
      userinfo_endpoint: 'https://server.example.com/userinfo',
      jwks_uri: 'https://server.example.com/jwks.json',
      registration_endpoint: 'https://server.example.com/register',
      scopes_supported: ['openid', 'profile', 'email', 'address', 'phone', 'offline_access'],
      response_types_supported: ['code'],
      service_documentation: 'http://server.example.com/service_documentation.html',
      ui_locales_supported: ['en-US', 'en-GB', 'en-CA', 'fr-FR', 'fr-CA'],
    }
    const body = await served(metadataOf(new WebApplicationServer(new MemoryValidator()), example))
    expect(body).toMatchObject(example)
  })

  it('refuses the RFC 8414 §3.2 example as it stands: the server does not offer private_key_jwt', () => {
    expectRefused(
      {
        issuer: 'https://server.example.com',
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
        token_endpoint_auth_signing_alg_values_supported: ['RS256', 'ES256'],
      },
      /private_key_jwt, which this server does not support/,
    )
  })

  it.each([
    ['a function', () => 1],
    ['a Date', new Date(0)],
    ['NaN', Number.NaN],
    ['a nested undefined', { a: undefined }],
    ['a bigint', 1n],
  ])('refuses an unknown claim whose value is %s, which is not JSON', (_case, value) => {
    expectRefused({ x_claim: value }, /x_claim.* must be a JSON value/)
  })

  it('refuses an unknown claim that contains itself', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expectRefused({ x_cyclic: cyclic }, /must be a JSON value/)
  })

  it('accepts signed_metadata in JWS compact form and refuses anything else', async () => {
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2FzLmV4YW1wbGUuY29tIn0.c2lnbmF0dXJl'
    expect(await served(webMetadata({ signed_metadata: jwt }))).toHaveProperty('signed_metadata', jwt)
    expectRefused({ signed_metadata: 'eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.' }, /signed JWT/)
    expectRefused({ signed_metadata: { iss: ISSUER } }, /signed JWT/)
  })
})

describe('RFC 8414 §3.3 Authorization Server Metadata Validation', () => {
  it.each(['https://as.example.com', 'https://as.example.com/', 'https://as.example.com:443/tenant', 'https://AS.example.com/Tenant'])(
    'serves issuer %s exactly as configured, never normalized',
    async (issuer) => {
      expect((await served(webMetadata({ issuer }))).issuer).toBe(issuer)
    },
  )
})

describe('RFC 9207 §3 Authorization Server Metadata', () => {
  it('§2.4 refuses an issuer other than the iss the authorization endpoint sends, at construction', () => {
    const web = new WebApplicationServer(new MemoryValidator(), { issuer: 'https://other.example.com' })
    expect(() => new MetadataEndpoint([web.authorizationEndpoint, web.tokenEndpoint], { issuer: ISSUER })).toThrow(/differs from the iss/)
    const same = new WebApplicationServer(new MemoryValidator(), { issuer: ISSUER })
    expect(new MetadataEndpoint([same.authorizationEndpoint, same.tokenEndpoint], { issuer: ISSUER }).claims.issuer).toBe(ISSUER)
  })

  it('advertises authorization_response_iss_parameter_supported when there is an authorization endpoint', () => {
    const mobile = new MobileApplicationServer(new MemoryValidator())
    expect(webMetadata().claims.authorization_response_iss_parameter_supported).toBe(true)
    expect(new MetadataEndpoint([mobile.authorizationEndpoint], { issuer: ISSUER }).claims.authorization_response_iss_parameter_supported).toBe(true)
  })

  it('omits it without an authorization endpoint', () => {
    const legacy = new LegacyApplicationServer(new MemoryValidator())
    expect(new MetadataEndpoint([legacy.tokenEndpoint], { issuer: ISSUER }).claims).not.toHaveProperty('authorization_response_iss_parameter_supported')
  })

  it('accepts the claim when it repeats the truth and refuses it when it contradicts it', () => {
    const legacy = new LegacyApplicationServer(new MemoryValidator())
    expect(webMetadata({ authorization_response_iss_parameter_supported: true }).claims.authorization_response_iss_parameter_supported).toBe(true)
    expectRefused({ authorization_response_iss_parameter_supported: false }, /must be true/)
    expect(() => new MetadataEndpoint([legacy.tokenEndpoint], { issuer: ISSUER, authorization_response_iss_parameter_supported: true })).toThrow(
      /must be false/,
    )
  })

  it('advertises the issuer the authorization endpoint sends as iss (RFC 9207 §2.4)', async () => {
    const issuer = 'https://as.example.com/tenant'
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'app', pkceRequired: false })
    const web = new WebApplicationServer(validator, { issuer })
    const metadata = metadataOf(web, { issuer })
    const uri = 'https://as.example.com/tenant/authorize?response_type=code&client_id=app&state=xyz'
    const response = await web.createAuthorizationResponse(uri, 'GET', undefined, {}, undefined, { userId: 'alice' })
    expect(response.status).toBe(302)
    expect(new URL(response.headers.Location ?? '').searchParams.get('iss')).toBe(metadata.claims.issuer)
  })
})

describe('RFC 7636 §6.2 code_challenge_methods_supported', () => {
  it("is ['S256'] by default", () => {
    expect(webMetadata().claims.code_challenge_methods_supported).toEqual(['S256'])
    expect(new WebApplicationServer(new MemoryValidator()).authorizationEndpoint.codeChallengeMethodsSupported).toEqual(['S256'])
  })

  it("is ['S256', 'plain'] with allowPlainCodeChallenge", () => {
    const web = new WebApplicationServer(new MemoryValidator(), { allowPlainCodeChallenge: true })
    expect(metadataOf(web).claims.code_challenge_methods_supported).toEqual(['S256', 'plain'])
    const { token, authorization, code } = setup()
    const grant = code(true)
    expect(new MetadataEndpoint([authorization(grant), token(grant)], { issuer: ISSUER }).claims.code_challenge_methods_supported).toEqual(['S256', 'plain'])
  })

  it('is absent when no response type code is served, so a client sees no PKCE', () => {
    const mobile = new MobileApplicationServer(new MemoryValidator())
    expect(mobile.authorizationEndpoint.codeChallengeMethodsSupported).toEqual([])
    expect(new MetadataEndpoint([mobile.authorizationEndpoint], { issuer: ISSUER }).claims).not.toHaveProperty('code_challenge_methods_supported')
  })

  it('may be narrowed to S256 when plain is allowed, never widened to plain when it is not', () => {
    const web = new WebApplicationServer(new MemoryValidator(), { allowPlainCodeChallenge: true })
    expect(metadataOf(web, { code_challenge_methods_supported: ['S256'] }).claims.code_challenge_methods_supported).toEqual(['S256'])
    expectRefused({ code_challenge_methods_supported: ['plain'] }, /plain, which this server does not support/)
  })

  it('may not be emptied while the server accepts PKCE: an absent claim means no PKCE', () => {
    expectRefused({ code_challenge_methods_supported: [] }, /cannot be empty/)
  })
})
