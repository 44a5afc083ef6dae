import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  LegacyApplicationServer,
  MobileApplicationServer,
  Server,
  WebApplicationServer,
  type OAuth2Response,
  type RequestBody,
  type RequestHeaders,
  type User,
} from '../src/index.js'
import { authorizationUri, DEFAULT_ISSUER, expectDelivered, expectDeliveredError } from './support/expect-authorization-response.js'
import { expectErrorResponse, expectTokenResponse, OPAQUE_TOKEN } from './support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from './support/memory-validator.js'

describe('BackendApplicationServer', () => {
  it('issues a client credentials token with no refresh token', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'client', secret: 'secret' })
    const server = new BackendApplicationServer(validator, { tokenExpiresIn: 3600 })
    const res = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials&scope=read', {
      Authorization: basic('client', 'secret'),
      ...FORM,
    })
    expect(res.status).toBe(200)
    expect(res.headers['Cache-Control']).toBe('no-store')
    const body = JSON.parse(res.body)
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    expect(body.access_token).toMatch(OPAQUE_TOKEN)
    expect(body.refresh_token).toBeUndefined()
    expect(body.scope).toBeUndefined()
    expect(validator.saved).toHaveLength(1)
  })
})

describe('LegacyApplicationServer', () => {
  it('issues tokens for a password and rotates the refresh token', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'legacy', secret: 's3cret' })
    validator.addUser('alice', 'wonderland')
    const server = new LegacyApplicationServer(validator)
    const headers = { Authorization: basic('legacy', 's3cret'), ...FORM }
    const first = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland&scope=read+write', headers)
    expect(first.status).toBe(200)
    const tokens = JSON.parse(first.body)
    expect(tokens.refresh_token).toBeTypeOf('string')
    const refreshed = await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${tokens.refresh_token}&scope=read`, headers)
    expect(refreshed.status).toBe(200)
    const second = JSON.parse(refreshed.body)
    expect(second.scope).toBeUndefined()
    expect(second.refresh_token).not.toBe(tokens.refresh_token)
    const replay = await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`, headers)
    expect(replay.status).toBe(400)
    expect(JSON.parse(replay.body).error).toBe('invalid_grant')
    // the rotated refresh token keeps the original scope (RFC 6749 §6)
    expect(validator.refreshTokens.get(second.refresh_token)?.scopes).toEqual(['read', 'write'])
  })
})

// Which grants and response types each pre-configured server accepts, and how it refuses the others.

const REDIRECT_URI = 'https://client.example.com/cb'
const STATE = 'server-state'
// RFC 7636 Appendix B.
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const CLIENT_AUTH = { Authorization: basic('confidential', 'secret'), ...FORM }
const GRANTS = ['authorization_code', 'password', 'client_credentials', 'refresh_token'] as const
type Grant = (typeof GRANTS)[number]
const GRANT_BODIES: Record<Grant, string> = {
  authorization_code: 'grant_type=authorization_code&code=seeded-code',
  password: 'grant_type=password&username=alice&password=wonderland',
  client_credentials: 'grant_type=client_credentials',
  refresh_token: 'grant_type=refresh_token&refresh_token=seeded-refresh',
}
// Grant types no pre-configured server serves.
const FOREIGN_GRANTS = ['urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:jwt-bearer', 'implicit']

/** A validator with a confidential client allowed every grant and both response types, a user, a code, a refresh token. */
function seeded() {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'confidential', secret: 'secret', responseTypes: ['code', 'token'] })
  const user = validator.addUser('alice', 'wonderland')
  validator.addCode('seeded-code', { clientId: 'confidential', user, scopes: ['read'] })
  validator.addRefreshToken('seeded-refresh', { clientId: 'confidential', user, scopes: ['read'] })
  return { validator, user }
}

interface TokenServer {
  createTokenResponse(uri: string, httpMethod?: string, body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response>
}

interface AuthorizationServer {
  createAuthorizationResponse(
    uri: string,
    httpMethod: string,
    body: RequestBody | undefined,
    headers: RequestHeaders | undefined,
    scopes: readonly string[] | undefined,
    user: User,
  ): Promise<OAuth2Response>
}

/** Asserts which of the four grants `server` serves: a token for each accepted one, unsupported_grant_type for the rest. */
async function expectGrants(server: TokenServer, accepted: readonly Grant[]): Promise<void> {
  for (const grant of GRANTS) {
    const res = await server.createTokenResponse(TOKEN_URI, 'POST', GRANT_BODIES[grant], CLIENT_AUTH)
    if (accepted.includes(grant)) expectTokenResponse(res)
    else expectErrorResponse(res, 400, 'unsupported_grant_type', /grant_type/)
  }
  for (const grant of FOREIGN_GRANTS) {
    const res = await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=${encodeURIComponent(grant)}`, CLIENT_AUTH)
    expectErrorResponse(res, 400, 'unsupported_grant_type')
  }
}

function authorize(server: AuthorizationServer, user: User, responseType: string): Promise<OAuth2Response> {
  const uri = authorizationUri({
    response_type: responseType,
    client_id: 'confidential',
    redirect_uri: REDIRECT_URI,
    state: STATE,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  })
  return server.createAuthorizationResponse(uri, 'GET', undefined, undefined, undefined, user)
}

/** A code in the query (RFC 6749 §4.1.2). */
async function expectServesCode(server: AuthorizationServer, user: User): Promise<void> {
  const params = expectDelivered(await authorize(server, user, 'code'), REDIRECT_URI, 'query')
  expect(params).toEqual({ code: expect.any(String), state: STATE, iss: DEFAULT_ISSUER })
}

/** A token in the fragment (RFC 6749 §4.2.2). */
async function expectServesToken(server: AuthorizationServer, user: User): Promise<void> {
  const params = expectDelivered(await authorize(server, user, 'token'), REDIRECT_URI, 'fragment')
  expect(params).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer', state: STATE, iss: DEFAULT_ISSUER })
  expect(params).not.toHaveProperty('refresh_token')
}

/** Refused with unsupported_response_type, where the client of that response type reads its response (§4.1.2.1, §4.2.2.1). */
async function expectRefusesResponseType(server: AuthorizationServer, user: User, responseType: 'code' | 'token'): Promise<void> {
  const res = await authorize(server, user, responseType)
  const delivery = responseType === 'code' ? 'query' : 'fragment'
  expectDeliveredError(res, REDIRECT_URI, delivery, 'unsupported_response_type', { state: STATE, iss: DEFAULT_ISSUER })
}

describe('BackendApplicationServer: grants served', () => {
  it('serves client_credentials only; every other grant is unsupported_grant_type', async () => {
    const { validator } = seeded()
    await expectGrants(new BackendApplicationServer(validator), ['client_credentials'])
    // The refused grants spent nothing.
    expect(validator.codes.get('seeded-code')?.used).toBe(false)
    expect(validator.refreshTokens.get('seeded-refresh')?.revoked).toBe(false)
  })

  it('has no authorization endpoint', () => {
    const server = new BackendApplicationServer(seeded().validator)
    expect('createAuthorizationResponse' in server).toBe(false)
    expect('authorizationEndpoint' in server).toBe(false)
  })
})

describe('LegacyApplicationServer: grants served', () => {
  it('serves password and refresh_token; every other grant is unsupported_grant_type', async () => {
    const { validator } = seeded()
    await expectGrants(new LegacyApplicationServer(validator), ['password', 'refresh_token'])
    expect(validator.codes.get('seeded-code')?.used).toBe(false)
  })

  it('has no authorization endpoint', () => {
    const server = new LegacyApplicationServer(seeded().validator)
    expect('createAuthorizationResponse' in server).toBe(false)
    expect('authorizationEndpoint' in server).toBe(false)
  })
})

describe('WebApplicationServer: grants and response types served', () => {
  it('serves response_type=code', async () => {
    const { validator, user } = seeded()
    const server = new WebApplicationServer(validator)
    await expectServesCode(server, user)
    expect(server.authorizationEndpoint.responseTypesSupported).toEqual(['code'])
  })

  it('refuses response_type=token with unsupported_response_type, redirected, issuing nothing', async () => {
    const { validator, user } = seeded()
    await expectRefusesResponseType(new WebApplicationServer(validator), user, 'token')
    expect(validator.saved).toHaveLength(0)
  })

  it('serves authorization_code and refresh_token; every other grant is unsupported_grant_type', async () => {
    const { validator } = seeded()
    await expectGrants(new WebApplicationServer(validator), ['authorization_code', 'refresh_token'])
  })
})

describe('MobileApplicationServer: response types served', () => {
  it('serves response_type=token', async () => {
    const { validator, user } = seeded()
    const server = new MobileApplicationServer(validator)
    await expectServesToken(server, user)
    expect(server.authorizationEndpoint.responseTypesSupported).toEqual(['token'])
  })

  it('refuses response_type=code with unsupported_response_type, redirected, issuing no code', async () => {
    const { validator, user } = seeded()
    await expectRefusesResponseType(new MobileApplicationServer(validator), user, 'code')
    expect(validator.codes.size).toBe(1)
  })

  it('has no token endpoint', () => {
    const server = new MobileApplicationServer(seeded().validator)
    expect('createTokenResponse' in server).toBe(false)
    expect('tokenEndpoint' in server).toBe(false)
  })
})

describe('Server: grants and response types served', () => {
  it('serves response_type=code and refuses token unless enableImplicitGrant is set', async () => {
    const { validator, user } = seeded()
    const server = new Server(validator)
    await expectServesCode(server, user)
    await expectRefusesResponseType(server, user, 'token')
    expect(validator.saved).toHaveLength(0)
    expect(server.authorizationEndpoint.responseTypesSupported).toEqual(['code'])
  })

  it('serves response_type=code and token with enableImplicitGrant: true', async () => {
    const { validator, user } = seeded()
    const server = new Server(validator, { enableImplicitGrant: true })
    await expectServesCode(server, user)
    await expectServesToken(server, user)
    expect([...server.authorizationEndpoint.responseTypesSupported].sort()).toEqual(['code', 'token'])
  })

  it('serves all four grants and refuses the others with unsupported_grant_type', async () => {
    const { validator } = seeded()
    await expectGrants(new Server(validator), GRANTS)
  })
})

describe('every pre-configured server: revocation, introspection, resource check and metadata', () => {
  const ISSUER = 'https://as.example.com'

  /** Builds each server and obtains one access token through the grant it serves. */
  const cases: ReadonlyArray<{
    readonly name: string
    readonly grants: readonly string[]
    readonly build: (validator: MemoryValidator) => Promise<{ server: BackendApplicationServer | LegacyApplicationServer | WebApplicationServer | MobileApplicationServer | Server; token: string }>
  }> = [
    {
      name: 'BackendApplicationServer',
      grants: ['client_credentials'],
      build: async (validator) => {
        const server = new BackendApplicationServer(validator, { issuer: ISSUER })
        const body = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('app', 'app-secret'), ...FORM }))
        return { server, token: body.access_token as string }
      },
    },
    {
      name: 'LegacyApplicationServer',
      grants: ['password', 'refresh_token'],
      build: async (validator) => {
        const server = new LegacyApplicationServer(validator, { issuer: ISSUER })
        const body = expectTokenResponse(
          await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland', { Authorization: basic('app', 'app-secret'), ...FORM }),
        )
        return { server, token: body.access_token as string }
      },
    },
    {
      name: 'WebApplicationServer',
      grants: ['authorization_code', 'refresh_token'],
      build: async (validator) => {
        const server = new WebApplicationServer(validator, { issuer: ISSUER })
        const uri = `${ISSUER}/authorize?response_type=code&client_id=app&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`
        const redirect = await server.createAuthorizationResponse(uri, 'GET', undefined, {}, undefined, { userId: 'alice' })
        const code = new URL(redirect.headers.Location as string).searchParams.get('code') as string
        const body = expectTokenResponse(
          await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=authorization_code&code=${code}&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk`, {
            Authorization: basic('app', 'app-secret'),
            ...FORM,
          }),
        )
        return { server, token: body.access_token as string }
      },
    },
    {
      name: 'MobileApplicationServer',
      grants: ['implicit'],
      build: async (validator) => {
        const server = new MobileApplicationServer(validator, { issuer: ISSUER })
        const redirect = await server.createAuthorizationResponse(`${ISSUER}/authorize?response_type=token&client_id=app`, 'GET', undefined, {}, undefined, { userId: 'alice' })
        const fragment = new URLSearchParams(new URL(redirect.headers.Location as string).hash.slice(1))
        return { server, token: fragment.get('access_token') as string }
      },
    },
    {
      name: 'Server',
      grants: ['authorization_code', 'password', 'client_credentials', 'refresh_token'],
      build: async (validator) => {
        const server = new Server(validator, { issuer: ISSUER })
        const body = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('app', 'app-secret'), ...FORM }))
        return { server, token: body.access_token as string }
      },
    },
  ]

  it.each(cases)('$name checks, introspects and revokes its own tokens and publishes its grants', async ({ build, grants }) => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'app', secret: 'app-secret', responseTypes: ['code', 'token'] })
    validator.addUser('alice', 'wonderland')
    const { server, token } = await build(validator)
    expect(token).toMatch(OPAQUE_TOKEN)
    const auth = { Authorization: basic('app', 'app-secret'), ...FORM }

    const checked = await server.validateProtectedResourceRequest('https://api.example.com/things', 'GET', undefined, { Authorization: `Bearer ${token}` }, ['read'])
    expect(checked.valid).toBe(true)

    const active = await server.createIntrospectResponse(`${ISSUER}/introspect`, 'POST', `token=${token}`, auth)
    expect(JSON.parse(active.body)).toMatchObject({ active: true, client_id: 'app', scope: 'read', iss: ISSUER, token_type: 'Bearer' })

    const revoked = await server.createRevocationResponse(`${ISSUER}/revoke`, 'POST', `token=${token}`, auth)
    expect(revoked.status).toBe(200)
    const inactive = await server.createIntrospectResponse(`${ISSUER}/introspect`, 'POST', `token=${token}`, auth)
    expect(JSON.parse(inactive.body)).toEqual({ active: false })
    const refused = await server.validateProtectedResourceRequest('https://api.example.com/things', 'GET', undefined, { Authorization: `Bearer ${token}` }, ['read'])
    expect(refused.valid).toBe(false)
    expect(refused.valid ? undefined : refused.response.status).toBe(401)

    const metadata = await server.createMetadataResponse(`${ISSUER}/.well-known/oauth-authorization-server`, 'GET')
    expect(metadata.status).toBe(200)
    const document = JSON.parse(metadata.body)
    expect(document).toMatchObject({ issuer: ISSUER, revocation_endpoint: `${ISSUER}/revoke`, introspection_endpoint: `${ISSUER}/introspect` })
    expect([...document.grant_types_supported].sort()).toEqual([...grants].sort())
  })

  it('a server built without an issuer has no metadata, and says so to the caller', () => {
    const server = new BackendApplicationServer(new MemoryValidator())
    expect(server.metadataEndpoint).toBeUndefined()
    expect(() => server.createMetadataResponse(`https://as.example.com/.well-known/oauth-authorization-server`)).toThrow(TypeError)
  })

  it('refuses a non-https issuer at construction (RFC 8414 §2), not at request time', () => {
    expect(() => new Server(new MemoryValidator(), { issuer: 'http://as.example.com' })).toThrow(TypeError)
  })
})
