import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  BearerToken,
  DEFAULT_EXPIRES_IN,
  GrantTypeBase,
  defaultExpiresIn,
  generateToken,
  LegacyApplicationServer,
  parseRequest,
  randomTokenGenerator,
  type ExpiresIn,
  type OAuth2Request,
  type OAuth2Response,
  type ServerOptions,
  type TokenContext,
  type TokenGenerationContext,
  type TokenGenerator,
  TokenEndpoint,
  type ValidatedTokenRequest,
} from '../../src/index.js'
import { expectErrorResponse, expectTokenResponse, OPAQUE_TOKEN } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const RANDOM_TOKEN = /^[A-Za-z0-9_-]{43}$/
const GENERIC_SERVER_ERROR = /^The authorization server encountered an unexpected condition$/

function tokenRequest(body = 'grant_type=client_credentials', credentials?: Record<string, unknown>): OAuth2Request {
  return parseRequest(TOKEN_URI, 'POST', body, FORM, { source: 'body', credentials })
}

/** A validator with one client, and a token context for it. */
function direct(grantType = 'client_credentials', scopes: readonly string[] = ['read'], refreshTokenScopes: readonly string[] = scopes) {
  const validator = new MemoryValidator()
  const client = validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
  const context: TokenContext = { client, user: undefined, scopes, refreshTokenScopes, grantType }
  return { validator, client, context }
}

interface ServerRun {
  readonly response: OAuth2Response
  readonly errors: unknown[]
  readonly validator: MemoryValidator
}

/** A client credentials request to a BackendApplicationServer built with `options`. */
async function clientCredentials(options: ServerOptions, clientId = 'backend', credentials?: Record<string, unknown>): Promise<ServerRun> {
  const validator = new MemoryValidator()
  validator.addClient({ clientId, secret: 'backend-secret' })
  const errors: unknown[] = []
  const server = new BackendApplicationServer(validator, { ...options, onError: (error) => errors.push(error) })
  const response = await server.createTokenResponse(
    TOKEN_URI,
    'POST',
    'grant_type=client_credentials',
    { Authorization: basic(clientId, 'backend-secret'), ...FORM },
    credentials,
  )
  return { response, errors, validator }
}

/** A LegacyApplicationServer built with `options`, with its password and refresh requests. */
function legacy(options: ServerOptions) {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'legacy', secret: 'legacy-secret' })
  validator.addUser('alice', 'wonderland')
  const errors: unknown[] = []
  const server = new LegacyApplicationServer(validator, { ...options, onError: (error) => errors.push(error) })
  const headers = { Authorization: basic('legacy', 'legacy-secret'), ...FORM }
  return {
    validator,
    errors,
    password: () => server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland', headers),
    refresh: (refreshToken: string) => server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${refreshToken}`, headers),
  }
}

describe('BearerToken.createToken', () => {
  it('makes a Bearer response with a random access token and the default lifetime, and saves it', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: false })
    expect(token).toEqual({ access_token: expect.stringMatching(OPAQUE_TOKEN), token_type: 'Bearer', expires_in: 3600 })
    expect(validator.saved).toEqual([{ token, context }])
  })

  it('adds a random refresh token when asked, different from the access token', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: true })
    expect(token).toEqual({
      access_token: expect.stringMatching(OPAQUE_TOKEN),
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.stringMatching(OPAQUE_TOKEN),
    })
    expect(token.refresh_token).not.toBe(token.access_token)
    expect(validator.refreshTokens.get(token.refresh_token ?? '')).toEqual({ clientId: 'backend', user: undefined, scopes: ['read'], revoked: false })
  })

  it('adds the granted scope as a space-separated string when includeScope is true', async () => {
    const { validator, context } = direct('client_credentials', ['read', 'write'])
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: false, includeScope: true })
    expect(token.scope).toBe('read write')
  })

  it('leaves scope out when includeScope is false', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: false, includeScope: false })
    expect(token).not.toHaveProperty('scope')
  })

  it('does not call saveBearerToken when saveToken is false', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: true, saveToken: false })
    expect(token.access_token).toMatch(OPAQUE_TOKEN)
    expect(token.refresh_token).toMatch(OPAQUE_TOKEN)
    expect(validator.saved).toEqual([])
    expect(validator.refreshTokens.size).toBe(0)
  })

  it('saves the token when saveToken is true', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: false, saveToken: true })
    expect(validator.saved).toEqual([{ token, context }])
  })
})

describe('BearerToken generators', () => {
  it('gives the access token generator the context, request, lifetime and issue time', async () => {
    const { validator, context } = direct('client_credentials', ['read', 'write'])
    const seen: TokenGenerationContext[] = []
    const tokenGenerator: TokenGenerator = (generation) => {
      seen.push(generation)
      return `at.${generation.client.clientId}.${generation.scopes.join('+')}.${generation.expiresIn}`
    }
    const request = tokenRequest()
    const before = Math.floor(Date.now() / 1000)
    const token = await new BearerToken(validator, tokenGenerator, 900).createToken(request, { context, refreshToken: false })
    const after = Math.floor(Date.now() / 1000)
    expect(token.access_token).toBe('at.backend.read+write.900')
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({ ...context, request, expiresIn: 900 })
    expect(seen[0]?.issuedAt).toBeGreaterThanOrEqual(before)
    expect(seen[0]?.issuedAt).toBeLessThanOrEqual(after)
  })

  it("carries a custom grant's own context fields to the generators and saveBearerToken, without requestedScopes", async () => {
    const { validator, client } = direct()
    /** A grant of the application's own, putting a field of its own in the context. */
    class DeviceGrant extends GrantTypeBase {
      readonly grantType = 'urn:example:device'
      readonly allowsPublicClients = false
      protected readonly parameters = [] as const
      async validateTokenRequest(): Promise<ValidatedTokenRequest> {
        const validated = { client, user: undefined, scopes: ['read'], refreshTokenScopes: ['read', 'write'], grantType: this.grantType, requestedScopes: ['read'] }
        return Object.assign(validated, { deviceId: 'device-7' })
      }
      async createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response> {
        return this.issueToken(request, bearerToken, await this.validateTokenRequest(), true)
      }
    }
    const seen: TokenGenerationContext[] = []
    const generator: TokenGenerator = (generation) => {
      seen.push(generation)
      return `t${seen.length}`
    }
    const endpoint = new TokenEndpoint({ grantTypes: [new DeviceGrant(validator)], bearerToken: new BearerToken(validator, generator, 600, generator) })
    const response = await endpoint.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=urn:example:device', { ...FORM, Authorization: basic('backend', 'backend-secret') })
    expect(response.status).toBe(200)
    const [access, refresh] = seen
    expect(access).toMatchObject({ deviceId: 'device-7', scopes: ['read'], expiresIn: 600, grantType: 'urn:example:device' })
    expect(refresh).toMatchObject({ deviceId: 'device-7', scopes: ['read', 'write'], expiresIn: 600, issuedAt: access?.issuedAt })
    const saved = validator.saved.at(-1)?.context as unknown as Record<string, unknown>
    expect(saved).toMatchObject({ deviceId: 'device-7', scopes: ['read'], refreshTokenScopes: ['read', 'write'] })
    for (const context of [access, refresh, saved]) expect(context).not.toHaveProperty('requestedScopes')
  })

  it('accepts an async access token generator', async () => {
    const { validator, context } = direct()
    const tokenGenerator: TokenGenerator = async ({ grantType }) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return `async-${grantType}`
    }
    const token = await new BearerToken(validator, tokenGenerator).createToken(tokenRequest(), { context, refreshToken: false })
    expect(token.access_token).toBe('async-client_credentials')
  })

  it('makes refresh tokens with refreshTokenGenerator, over the refresh token scopes', async () => {
    const { validator, context } = direct('refresh_token', ['read'], ['read', 'write'])
    const accessGenerator: TokenGenerator = ({ scopes }) => `at:${scopes.join('+')}`
    const refreshGenerator: TokenGenerator = async ({ scopes, expiresIn }) => `rt:${scopes.join('+')}:${expiresIn}`
    const token = await new BearerToken(validator, accessGenerator, 600, refreshGenerator).createToken(tokenRequest(), { context, refreshToken: true })
    expect(token).toEqual({ access_token: 'at:read', token_type: 'Bearer', expires_in: 600, refresh_token: 'rt:read+write:600' })
  })

  it('does not use the access token generator for refresh tokens', async () => {
    const { validator, context } = direct()
    const token = await new BearerToken(validator, () => 'custom-access').createToken(tokenRequest(), { context, refreshToken: true })
    expect(token.access_token).toBe('custom-access')
    expect(token.refresh_token).toMatch(OPAQUE_TOKEN)
  })

  it('issues tokens from custom access and refresh token generators through a server', async () => {
    let counter = 0
    const { password, refresh, validator } = legacy({
      tokenGenerator: ({ user, grantType }) => `access-${user?.userId ?? 'none'}-${grantType}-${++counter}`,
      refreshTokenGenerator: async ({ client }) => `refresh-${client.clientId}-${++counter}`,
    })
    const first = expectTokenResponse(await password())
    expect(first).toMatchObject({ access_token: 'access-user-alice-password-1', refresh_token: 'refresh-legacy-2' })
    const second = expectTokenResponse(await refresh('refresh-legacy-2'))
    expect(second).toMatchObject({ access_token: 'access-user-alice-refresh_token-3', refresh_token: 'refresh-legacy-4' })
    expect(validator.saved.map(({ token }) => token.access_token)).toEqual(['access-user-alice-password-1', 'access-user-alice-refresh_token-3'])
  })

  it.each<[string, ServerOptions]>([
    ['an access token generator', { tokenGenerator: () => Promise.reject(new Error('HSM offline')) }],
    ['a refresh token generator', { refreshTokenGenerator: () => { throw new Error('HSM offline') } }],
  ])('answers 500 server_error reported to onError when %s fails, and saves nothing', async (_, options) => {
    const { password, errors, validator } = legacy(options)
    expectErrorResponse(await password(), 500, 'server_error', GENERIC_SERVER_ERROR)
    expect(errors).toEqual([new Error('HSM offline')])
    expect(validator.saved).toEqual([])
  })
})

describe('BearerToken expiresIn', () => {
  it('uses a fixed number of seconds', async () => {
    const { response } = await clientCredentials({ tokenExpiresIn: 120 })
    expect(expectTokenResponse(response).expires_in).toBe(120)
  })

  const policy = (client: { clientId: string }, grantType: string, request: OAuth2Request): number => {
    if (client.clientId === 'short-lived') return 60
    if (grantType === 'password') return 1200
    return Number(request.credentials.lifetime ?? 300)
  }

  it.each<[string, ExpiresIn]>([
    ['a sync function', policy],
    ['an async function', async (client, grantType, request) => policy(client, grantType, request)],
  ])('decides the lifetime with %s of client, grant type and request', async (_, tokenExpiresIn) => {
    expect(expectTokenResponse((await clientCredentials({ tokenExpiresIn }, 'short-lived')).response).expires_in).toBe(60)
    expect(expectTokenResponse((await clientCredentials({ tokenExpiresIn }, 'backend', { lifetime: 900 })).response).expires_in).toBe(900)
    expect(expectTokenResponse((await clientCredentials({ tokenExpiresIn }, 'backend')).response).expires_in).toBe(300)
    expect(expectTokenResponse(await legacy({ tokenExpiresIn }).password()).expires_in).toBe(1200)
  })

  it('gives the policy the client the validator authenticated', async () => {
    const { response } = await clientCredentials({ tokenExpiresIn: (client) => ('secret' in client ? 1800 : 60) })
    expect(expectTokenResponse(response).expires_in).toBe(1800)
  })

  it('defaults to one hour for each token grant and 15 minutes for implicit', () => {
    expect(DEFAULT_EXPIRES_IN).toEqual({ authorization_code: 3600, password: 3600, client_credentials: 3600, refresh_token: 3600, implicit: 900 })
    expect(Object.isFrozen(DEFAULT_EXPIRES_IN)).toBe(true)
  })

  it.each([
    ['authorization_code', 3600],
    ['password', 3600],
    ['client_credentials', 3600],
    ['refresh_token', 3600],
    ['implicit', 900],
    ['urn:ietf:params:oauth:grant-type:device_code', 3600],
  ])('gives a %s token the default lifetime of %i seconds', async (grantType, seconds) => {
    const { validator, context } = direct(grantType)
    const token = await new BearerToken(validator).createToken(tokenRequest(), { context, refreshToken: false })
    expect(token.expires_in).toBe(seconds)
    expect(typeof defaultExpiresIn === 'function' && (await defaultExpiresIn(context.client, grantType, tokenRequest()))).toBe(seconds)
  })

  it('applies the defaults through the servers', async () => {
    expect(expectTokenResponse((await clientCredentials({})).response).expires_in).toBe(DEFAULT_EXPIRES_IN.client_credentials)
    const { password, refresh } = legacy({})
    const first = expectTokenResponse(await password())
    expect(first.expires_in).toBe(DEFAULT_EXPIRES_IN.password)
    expect(expectTokenResponse(await refresh(String(first.refresh_token))).expires_in).toBe(DEFAULT_EXPIRES_IN.refresh_token)
  })

  const invalid: Array<[string, number]> = [
    ['0', 0],
    ['a negative number', -60],
    ['NaN', Number.NaN],
    ['a fraction', 1.5],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a number past MAX_SAFE_INTEGER', 2 ** 53],
  ]

  it.each(invalid)('answers 500 server_error and reports a TypeError for expiresIn %s', async (_, seconds) => {
    const { response, errors, validator } = await clientCredentials({ tokenExpiresIn: seconds })
    expectErrorResponse(response, 500, 'server_error', GENERIC_SERVER_ERROR)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toBeInstanceOf(TypeError)
    expect(validator.saved).toEqual([])
  })

  it.each(invalid)('answers 500 server_error when a policy returns %s', async (_, seconds) => {
    for (const tokenExpiresIn of [() => seconds, async () => seconds]) {
      const { response, errors, validator } = await clientCredentials({ tokenExpiresIn })
      expectErrorResponse(response, 500, 'server_error', GENERIC_SERVER_ERROR)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toBeInstanceOf(TypeError)
      expect(validator.saved).toEqual([])
    }
  })

  it('answers 500 server_error when a policy throws, rejects, or gives text instead of a number', async () => {
    const failure = new Error('policy failed')
    const policies: ExpiresIn[] = [
      () => {
        throw failure
      },
      () => Promise.reject(failure),
      () => '3600' as unknown as number,
      async () => '3600' as unknown as number,
    ]
    for (const tokenExpiresIn of policies) {
      const { response, errors, validator } = await clientCredentials({ tokenExpiresIn })
      expectErrorResponse(response, 500, 'server_error', GENERIC_SERVER_ERROR)
      expect(errors).toHaveLength(1)
      expect(errors[0] === failure || errors[0] instanceof TypeError).toBe(true)
      expect(validator.saved).toEqual([])
    }
  })

  it('rejects createToken with a TypeError for an invalid expiresIn, before any token is made', async () => {
    const { validator, context } = direct()
    let generated = 0
    const bearer = new BearerToken(validator, () => `token-${++generated}`, 0)
    await expect(bearer.createToken(tokenRequest(), { context, refreshToken: true })).rejects.toThrow(TypeError)
    expect(generated).toBe(0)
    expect(validator.saved).toEqual([])
  })
})

describe('randomTokenGenerator', () => {
  it('gives the time of issue, a dot and 256 random bits, all different over 1000 draws, in the order they were made', async () => {
    const { context } = direct()
    const generation: TokenGenerationContext = { ...context, request: tokenRequest(), expiresIn: 3600, issuedAt: 0 }
    const before = Date.now()
    const tokens: string[] = []
    for (let i = 0; i < 1000; i++) {
      const token = await randomTokenGenerator(generation)
      expect(token).toMatch(OPAQUE_TOKEN)
      expect(Buffer.from(token.slice(10), 'base64url')).toHaveLength(32)
      tokens.push(token)
    }
    const after = Date.now()
    expect(new Set(tokens).size).toBe(1000)
    expect(new Set(tokens.map((token) => token.slice(10))).size).toBe(1000)
    for (const token of tokens) {
      const ms = parseInt(token.slice(0, 9), 36)
      expect(ms).toBeGreaterThanOrEqual(before)
      expect(ms).toBeLessThanOrEqual(after)
    }
    // The time parts never go down, so the keys stores make of them (tokenHash) sort in the order of issue.
    const times = tokens.map((token) => token.slice(0, 9))
    expect(times).toEqual([...times].sort())
  })

  it('generateToken gives 43-character base64url strings, all different over 1000 draws', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateToken()))
    expect(tokens.size).toBe(1000)
    for (const token of tokens) expect(token).toMatch(RANDOM_TOKEN)
  })
})
