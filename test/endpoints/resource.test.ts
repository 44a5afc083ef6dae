/**
 * The resource endpoint beyond RFC 6750's conformance cases: local verification of JWT access tokens (RFC 9068 §4),
 * authlib's BearerTokenValidator, and failures of the validator or of the key source.
 */
import {
  base64url,
  createLocalJWKSet,
  errors,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type GenerateKeyPairResult,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  BackendApplicationServer,
  BearerTokenValidator,
  InvalidTokenError,
  isSignedTokenFormat,
  LegacyApplicationServer,
  RequestValidator,
  ResourceEndpoint,
  signedTokenGenerator,
  signedTokenVerifier,
  TemporarilyUnavailableError,
  ValidatorNotImplementedError,
  type OAuth2Request,
  type OAuth2Response,
  type ProtectedResourceResult,
  type ResourceEndpointOptions,
  type SignedTokenVerificationOptions,
  type SigningAlgorithm,
  type StoredToken,
  type User,
} from '../../src/index.js'
import { expectTokenResponse, NO_STORE } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestUser } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'
const AUDIENCE = 'https://api.example.com'
const RESOURCE_URI = 'https://api.example.com/photos'
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const satisfies readonly SigningAlgorithm[]
const SERVER_ERROR_BODY = JSON.stringify({ error: 'server_error', error_description: 'The authorization server encountered an unexpected condition' })

const keys = new Map<SigningAlgorithm, GenerateKeyPairResult>()
const otherKeys = new Map<SigningAlgorithm, GenerateKeyPairResult>()

beforeAll(async () => {
  for (const alg of ALGORITHMS) {
    keys.set(alg, await generateKeyPair(alg))
    otherKeys.set(alg, await generateKeyPair(alg))
  }
})

afterEach(() => {
  vi.useRealTimers()
})

function keyPair(alg: SigningAlgorithm, from = keys): GenerateKeyPairResult {
  const pair = from.get(alg)
  if (pair === undefined) throw new Error(`no key pair for ${alg}`)
  return pair
}

async function publicJwk(alg: SigningAlgorithm, extra: Partial<JWK> = {}, from = keys): Promise<JWK> {
  return { ...(await exportJWK(keyPair(alg, from).publicKey)), alg, use: 'sig', ...extra }
}

/** A validator that must never be asked: a JWT is verified locally (RFC 9068 §4). */
class UnreachableValidator extends MemoryValidator {
  calls = 0
  override async validateBearerToken(): Promise<never> {
    this.calls++
    throw new Error('validateBearerToken was called for a JWT')
  }
}

interface Issuance {
  readonly alg: SigningAlgorithm
  readonly grant?: 'client_credentials' | 'password'
  readonly issuer?: string
  readonly audience?: string
  readonly kid?: string
  readonly key?: CryptoKey
  readonly scope?: string
}

/** A signed access token from the real token endpoint: client credentials (Backend…) or password (Legacy…). */
async function issueJwt(issuance: Issuance): Promise<string> {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
  validator.addClient({ clientId: 's6BhdRkqt3', secret: '7Fjfp0ZBr1KtDRbnfVdmIw' })
  validator.addUser('johndoe', 'A3ddj3w')
  const tokenGenerator = signedTokenGenerator(issuance.key ?? keyPair(issuance.alg).privateKey, {
    issuer: issuance.issuer ?? ISSUER,
    alg: issuance.alg,
    audience: issuance.audience ?? AUDIENCE,
    ...(issuance.kid === undefined ? {} : { kid: issuance.kid }),
  })
  const scope = issuance.scope ?? 'read write'
  const response =
    issuance.grant === 'password'
      ? await new LegacyApplicationServer(validator, { tokenGenerator }).createTokenResponse(
          TOKEN_URI,
          'POST',
          new URLSearchParams({ grant_type: 'password', username: 'johndoe', password: 'A3ddj3w', scope }),
          { Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'), ...FORM },
        )
      : await new BackendApplicationServer(validator, { tokenGenerator }).createTokenResponse(
          TOKEN_URI,
          'POST',
          new URLSearchParams({ grant_type: 'client_credentials', scope }),
          { Authorization: basic('backend', 'backend-secret'), ...FORM },
        )
  return expectTokenResponse(response).access_token as string
}

/** A JWT signed by hand, to vary what the token endpoint would never vary. */
async function signByHand(alg: SigningAlgorithm, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ iss: ISSUER, sub: 'backend', aud: AUDIENCE, client_id: 'backend', scope: 'read', iat: now, exp: now + 600, jti: 'jti-1', ...claims })
    .setProtectedHeader({ alg, typ: 'at+jwt', ...header })
    .sign(keyPair(alg).privateKey)
}

function jwtEndpoint(jwt: Partial<SignedTokenVerificationOptions> & Pick<SignedTokenVerificationOptions, 'key'>, options: Partial<ResourceEndpointOptions> = {}) {
  const validator = new UnreachableValidator()
  const serverErrors: Array<{ error: unknown; request: OAuth2Request | undefined }> = []
  const endpoint = new ResourceEndpoint({
    requestValidator: validator,
    realm: 'api',
    jwt: { issuer: ISSUER, audience: AUDIENCE, ...jwt },
    onError: (error, request) => {
      serverErrors.push({ error, request })
    },
    ...options,
  })
  const present = (token: string, scopes: readonly string[] = []) =>
    endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` }, scopes)
  return { endpoint, validator, serverErrors, present }
}

function grantedToken<U extends User>(result: ProtectedResourceResult<U>): StoredToken<U> {
  if (!result.valid) throw new Error(`refused: ${result.response.status} ${result.response.headers['WWW-Authenticate']} ${result.response.body}`)
  return result.token
}

function refusal<U extends User>(result: ProtectedResourceResult<U>): OAuth2Response {
  if (result.valid) throw new Error('the request was not refused')
  return result.response
}

/** The whole 401 invalid_token response of the endpoints in this file (realm `api`). */
function invalidToken(description: string, realm = 'api'): OAuth2Response {
  return {
    status: 401,
    headers: { ...NO_STORE, 'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="${description}"` },
    body: JSON.stringify({ error: 'invalid_token', error_description: description }),
  }
}

function serverError(): OAuth2Response {
  return { status: 500, headers: NO_STORE, body: SERVER_ERROR_BODY }
}

/** Replaces the payload of a signed JWT, keeping header and signature. */
function withPayload(token: string, change: (payload: JWTPayload) => JWTPayload): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const decoded = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload
  return [header, base64url.encode(JSON.stringify(change(decoded))), signature].join('.')
}

describe('ResourceEndpoint: JWT access tokens verified locally (RFC 9068 §4)', () => {
  it.each(ALGORITHMS)('grants a %s client credentials token verified with the public key, without asking the validator', async (alg) => {
    const { present, validator, serverErrors } = jwtEndpoint({ key: keyPair(alg).publicKey })
    const token = await issueJwt({ alg })
    const granted = grantedToken(await present(token, ['read']))
    expect(granted).toEqual({
      tokenType: 'access_token',
      clientId: 'backend',
      user: undefined,
      scopes: ['read', 'write'],
      expiresAt: expect.any(Number),
      issuedAt: expect.any(Number),
      audience: [AUDIENCE],
      claims: expect.objectContaining({ iss: ISSUER, sub: 'backend', client_id: 'backend', jti: expect.any(String) }),
    })
    expect((granted.expiresAt ?? 0) - (granted.issuedAt ?? 0)).toBe(3600)
    expect(validator.calls).toBe(0)
    expect(serverErrors).toEqual([])
  })

  it.each(ALGORITHMS)('grants a %s password grant token with its resource owner from sub', async (alg) => {
    const { present, validator } = jwtEndpoint({ key: keyPair(alg).publicKey })
    const token = await issueJwt({ alg, grant: 'password', scope: 'read' })
    expect(grantedToken(await present(token, ['read']))).toMatchObject({ clientId: 's6BhdRkqt3', user: { userId: 'user-johndoe' }, scopes: ['read'] })
    expect(validator.calls).toBe(0)
  })

  it.each(ALGORITHMS)('grants a %s token verified with a JSON Web Key Set object, picked by kid', async (alg) => {
    const jwks = { keys: [await publicJwk(alg, { kid: 'old' }, otherKeys), await publicJwk(alg, { kid: 'current' })] }
    const { present, validator } = jwtEndpoint({ key: jwks })
    const token = await issueJwt({ alg, kid: 'current' })
    expect(grantedToken(await present(token)).clientId).toBe('backend')
    expect(validator.calls).toBe(0)
  })

  it.each(ALGORITHMS)('grants a %s token verified with createLocalJWKSet', async (alg) => {
    const { present } = jwtEndpoint({ key: createLocalJWKSet({ keys: [await publicJwk(alg, { kid: 'k1' })] }) })
    const token = await issueJwt({ alg, kid: 'k1' })
    expect(grantedToken(await present(token)).clientId).toBe('backend')
  })

  it('tries every matching key of a JWKS when the token has no kid (key rotation)', async () => {
    const jwks = { keys: [await publicJwk('ES256', {}, otherKeys), await publicJwk('ES256')] }
    const { present } = jwtEndpoint({ key: jwks })
    expect(grantedToken(await present(await issueJwt({ alg: 'ES256' }))).clientId).toBe('backend')
    const foreign = await issueJwt({ alg: 'ES256', key: keyPair('ES256', otherKeys).privateKey })
    expect(grantedToken(await present(foreign)).clientId).toBe('backend')
  })

  it('accepts typ application/at+jwt, the long form RFC 9068 §4 allows', async () => {
    const { present } = jwtEndpoint({ key: keyPair('ES256').publicKey })
    const token = await signByHand('ES256', {}, { typ: 'application/at+jwt' })
    expect(grantedToken(await present(token)).scopes).toEqual(['read'])
  })

  it('checks required scopes of a JWT: 403 insufficient_scope', async () => {
    const { present } = jwtEndpoint({ key: keyPair('EdDSA').publicKey })
    const token = await issueJwt({ alg: 'EdDSA', scope: 'read' })
    const description = 'The access token does not grant the scope this resource requires'
    expect(refusal(await present(token, ['write']))).toEqual({
      status: 403,
      headers: { ...NO_STORE, 'WWW-Authenticate': `Bearer realm="api", scope="write", error="insufficient_scope", error_description="${description}"` },
      body: JSON.stringify({ error: 'insufficient_scope', error_description: description }),
    })
  })

  it('reads a token with an empty scope claim as one with no scopes', async () => {
    const { present } = jwtEndpoint({ key: keyPair('ES256').publicKey })
    expect(grantedToken(await present(await signByHand('ES256', { scope: '' }))).scopes).toEqual([])
    expect(refusal(await present(await signByHand('ES256', { scope: '' }), ['read'])).status).toBe(403)
  })

  describe('refuses with 401 invalid_token, never asking the validator', () => {
    it.each(ALGORITHMS)('a %s token of another issuer', async (alg) => {
      const { present, validator } = jwtEndpoint({ key: keyPair(alg).publicKey })
      const token = await issueJwt({ alg, issuer: 'https://evil.example.com' })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token was issued by another authorization server'))
      expect(validator.calls).toBe(0)
    })

    it.each(ALGORITHMS)('a %s token for another audience', async (alg) => {
      const { present, validator } = jwtEndpoint({ key: keyPair(alg).publicKey })
      const token = await issueJwt({ alg, audience: 'https://other-api.example.com' })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token is not meant for this resource server'))
      expect(validator.calls).toBe(0)
    })

    it.each([
      ['JWT', { typ: 'JWT' }],
      ['absent', { typ: undefined }],
      ['id_token+jwt', { typ: 'id_token+jwt' }],
    ])('a token whose typ is %s, not at+jwt', async (_, header) => {
      const { present, validator } = jwtEndpoint({ key: keyPair('ES256').publicKey })
      const token = await signByHand('ES256', {}, header)
      expect(refusal(await present(token))).toEqual(invalidToken('The access token is not a JWT access token (typ at+jwt, RFC 9068 section 4)'))
      expect(validator.calls).toBe(0)
    })

    it.each(ALGORITHMS)('a %s token when only other algorithms are allowed', async (alg) => {
      const allowed = ALGORITHMS.filter((other) => other !== alg)
      const { present } = jwtEndpoint({ key: keyPair(alg).publicKey, algorithms: allowed })
      const token = await issueJwt({ alg })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token is signed with an algorithm this resource server does not accept'))
    })

    it('a token whose alg does not fit the configured key', async () => {
      const { present, serverErrors } = jwtEndpoint({ key: keyPair('ES256').publicKey })
      const token = await issueJwt({ alg: 'RS256' })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token is malformed or not signed with an accepted key'))
      expect(serverErrors).toEqual([])
    })

    it.each(ALGORITHMS)('an expired %s token', async (alg) => {
      const { present } = jwtEndpoint({ key: keyPair(alg).publicKey })
      const token = await issueJwt({ alg })
      expect(grantedToken(await present(token)).clientId).toBe('backend')
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(Date.now() + 3600 * 1000)
      expect(refusal(await present(token))).toEqual(invalidToken('The access token expired'))
    })

    it.each(ALGORITHMS)('a %s token whose payload was tampered with', async (alg) => {
      const { present, validator } = jwtEndpoint({ key: keyPair(alg).publicKey })
      const token = await issueJwt({ alg, scope: 'read' })
      const tampered = withPayload(token, (payload) => ({ ...payload, scope: 'read write admin' }))
      expect(tampered).not.toBe(token)
      expect(refusal(await present(tampered))).toEqual(invalidToken('The access token signature is invalid'))
      expect(validator.calls).toBe(0)
    })

    it.each(ALGORITHMS)('a %s token signed by another key', async (alg) => {
      const { present } = jwtEndpoint({ key: keyPair(alg).publicKey })
      const token = await issueJwt({ alg, key: keyPair(alg, otherKeys).privateKey })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token signature is invalid'))
    })

    it('a token whose kid is not in the JWKS', async () => {
      const { present } = jwtEndpoint({ key: { keys: [await publicJwk('ES256', { kid: 'k1' })] } })
      const token = await issueJwt({ alg: 'ES256', kid: 'k2' })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token is signed with an unknown key'))
    })

    it('a token matching no JWKS key when the keys rotated away', async () => {
      const { present } = jwtEndpoint({ key: { keys: [await publicJwk('ES256', {}, otherKeys)] } })
      const token = await issueJwt({ alg: 'ES256' })
      expect(refusal(await present(token))).toEqual(invalidToken('The access token signature is invalid'))
    })

    it.each(['client_id', 'sub', 'jti', 'iat', 'exp'])('a token without the %s claim RFC 9068 §2.2 requires', async (claim) => {
      const { present } = jwtEndpoint({ key: keyPair('ES256').publicKey })
      const token = await signByHand('ES256', { [claim]: undefined })
      expect(refusal(await present(token))).toEqual(invalidToken(`The access token lacks the ${claim} claim (RFC 9068 section 2.2)`))
    })

    it.each([
      ['client_id is not a string', { client_id: 42 }, 'The access token client_id claim is not a string (RFC 9068 section 2.2)'],
      ['scope is not a string', { scope: ['read'] }, 'The access token scope claim is not a string'],
      ['scope has two spaces in a row', { scope: 'read  write' }, 'The access token scope claim is malformed (RFC 6749 section 3.3)'],
      ['nbf is in the future', { nbf: Math.floor(Date.now() / 1000) + 300 }, 'The access token is not valid yet'],
    ])('a token whose %s', async (_, claims, description) => {
      const { present } = jwtEndpoint({ key: keyPair('ES256').publicKey })
      expect(refusal(await present(await signByHand('ES256', claims)))).toEqual(invalidToken(description))
    })
  })

  it('passes a token of another form to the validator: opaque tokens still work beside JWTs', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
    const response = await new BackendApplicationServer(validator).createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
      Authorization: basic('backend', 'backend-secret'),
      ...FORM,
    })
    const opaque = expectTokenResponse(response).access_token as string
    // RFC 6750's example token has two dots but no JSON header: it is opaque too.
    validator.tokens.set('mF_9.B5f-4.1JqM', { tokenType: 'access_token', clientId: 'backend', scopes: [], revoked: false })
    const endpoint = new ResourceEndpoint({ requestValidator: validator, jwt: { key: keyPair('ES256').publicKey, issuer: ISSUER, audience: AUDIENCE } })
    for (const token of [opaque, 'mF_9.B5f-4.1JqM']) {
      const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${token}` })
      expect(grantedToken(result).clientId).toBe('backend')
    }
    const jwt = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: `Bearer ${await issueJwt({ alg: 'ES256' })}` })
    expect(grantedToken(jwt).clientId).toBe('backend')
  })

  it('refuses an opaque token with invalid_token when it has only jwt options and no validator', async () => {
    const endpoint = new ResourceEndpoint({ realm: 'api', jwt: { key: keyPair('ES256').publicKey, issuer: ISSUER, audience: AUDIENCE } })
    const result = await endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer opaque-token' })
    expect(refusal(result)).toEqual(invalidToken('The access token is unknown, revoked or malformed'))
  })

  it('answers 500 server_error, reported to onError, when the key source fails (not the token)', async () => {
    const unreachable = new Error('connect ECONNREFUSED jwks')
    const resolver: JWTVerifyGetKey = async () => {
      throw unreachable
    }
    const { present, serverErrors, validator } = jwtEndpoint({ key: resolver })
    const result = await present(await issueJwt({ alg: 'ES256' }))
    expect(refusal(result)).toEqual(serverError())
    expect(serverErrors).toEqual([{ error: unreachable, request: result.request }])
    expect(result.request).toBeDefined()
    expect(validator.calls).toBe(0)
  })

  it('answers 500 server_error when a remote JWKS times out', async () => {
    const timeout = new errors.JWKSTimeout()
    const { present, serverErrors } = jwtEndpoint({
      key: async () => {
        throw timeout
      },
    })
    expect(refusal(await present(await issueJwt({ alg: 'EdDSA' })))).toEqual(serverError())
    expect(serverErrors.map(({ error }) => error)).toEqual([timeout])
  })

  it('tells a JWS from an opaque token', () => {
    expect(isSignedTokenFormat('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toBe(true)
    expect(isSignedTokenFormat('mF_9.B5f-4.1JqM')).toBe(false)
    expect(isSignedTokenFormat('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.')).toBe(false)
    expect(isSignedTokenFormat('abc')).toBe(false)
  })
})

describe('ResourceEndpoint options', () => {
  it('needs a requestValidator or jwt options', () => {
    expect(() => new ResourceEndpoint({})).toThrow(TypeError)
  })

  it('refuses the private signing key as verification key', () => {
    expect(() => new ResourceEndpoint({ jwt: { key: keyPair('ES256').privateKey, issuer: ISSUER, audience: AUDIENCE } })).toThrow(/public key/)
  })

  it.each([
    ['no issuer', { issuer: '' }],
    ['no audience', { audience: [] }],
    ['an empty audience', { audience: '' }],
    ['no algorithms', { algorithms: [] }],
    ['alg none', { algorithms: ['none'] }],
    ['a JWKS that is no JWKS', { key: { keys: 'x' } as unknown as SignedTokenVerificationOptions['key'] }],
  ])('refuses jwt options with %s', (_, change) => {
    expect(() => signedTokenVerifier({ key: keyPair('ES256').publicKey, issuer: ISSUER, audience: AUDIENCE, ...change })).toThrow(TypeError)
  })
})

describe('ResourceEndpoint and the validator', () => {
  function setUp(requestValidator: RequestValidator) {
    const serverErrors: Array<{ error: unknown; request: OAuth2Request | undefined }> = []
    const endpoint = new ResourceEndpoint({
      requestValidator,
      realm: 'api',
      onError: (error, request) => {
        serverErrors.push({ error, request })
      },
    })
    const present = (scopes: readonly string[] = []) =>
      endpoint.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, { Authorization: 'Bearer some-token' }, scopes)
    return { endpoint, serverErrors, present }
  }

  it('passes the token, the required scopes and the parsed request to validateBearerToken', async () => {
    const calls: Array<[string, readonly string[], OAuth2Request]> = []
    class RecordingValidator extends RequestValidator {
      override async validateBearerToken(token: string, scopes: readonly string[], request: OAuth2Request) {
        calls.push([token, scopes, request])
        return { tokenType: 'access_token' as const, clientId: 'backend', scopes: ['read', 'write'] }
      }
    }
    const { present } = setUp(new RecordingValidator())
    const result = await present(['write'])
    expect(grantedToken(result).clientId).toBe('backend')
    expect(calls).toEqual([['some-token', ['write'], result.request]])
    // The parsed request never shows the token.
    expect(JSON.stringify(result.request)).not.toContain('some-token')
  })

  it('answers 500 server_error, reported to onError with the request, when validateBearerToken throws', async () => {
    const failure = new Error('database is down')
    class ThrowingValidator extends RequestValidator {
      override async validateBearerToken(): Promise<never> {
        throw failure
      }
    }
    const { present, serverErrors } = setUp(new ThrowingValidator())
    const result = await present(['read'])
    expect(result.valid).toBe(false)
    expect(refusal(result)).toEqual(serverError())
    expect(serverErrors).toEqual([{ error: failure, request: result.request }])
    expect(result.request?.headers.get('authorization')).toBe('Bearer some-token')
  })

  it('answers 500 when the application did not implement validateBearerToken', async () => {
    const { present, serverErrors } = setUp(new RequestValidator())
    expect(refusal(await present())).toEqual(serverError())
    expect(serverErrors[0]?.error).toBeInstanceOf(ValidatorNotImplementedError)
  })

  it('answers a TemporarilyUnavailableError from the validator as it is, without a Bearer challenge', async () => {
    class BusyValidator extends RequestValidator {
      override async validateBearerToken(): Promise<never> {
        throw new TemporarilyUnavailableError('The token store is unreachable', { headers: { 'Retry-After': '5' } })
      }
    }
    const { present, serverErrors } = setUp(new BusyValidator())
    expect(refusal(await present())).toEqual({
      status: 503,
      headers: { ...NO_STORE, 'Retry-After': '5' },
      body: JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The token store is unreachable' }),
    })
    expect(serverErrors).toHaveLength(1)
  })

  it.each([
    ['a refresh token', { tokenType: 'refresh_token', clientId: 'backend', scopes: [] }, 'The token is not an access token'],
    ['an expired token', { tokenType: 'access_token', clientId: 'backend', scopes: [], expiresAt: Math.floor(Date.now() / 1000) - 1 }, 'The access token expired'],
  ] as const)('refuses %s even when the validator returns it', async (_, stored, description) => {
    class LaxValidator extends RequestValidator {
      override async validateBearerToken() {
        return stored
      }
    }
    const { present } = setUp(new LaxValidator())
    expect(refusal(await present())).toEqual(invalidToken(description))
  })

  it('answers 500, reported to onError, for required scopes that are not RFC 6749 scope tokens, and never rejects', async () => {
    const { present, serverErrors } = setUp(new MemoryValidator())
    expect(refusal(await present(['read"write']))).toEqual(serverError())
    expect(refusal(await present(['read', 'read']))).toEqual(serverError())
    expect(serverErrors.map(({ error }) => error)).toEqual([expect.any(TypeError), expect.any(TypeError)])
  })

  it('answers 400 with the request undefined when the URI is not absolute', async () => {
    const { endpoint } = setUp(new MemoryValidator())
    const result = await endpoint.validateProtectedResourceRequest('/photos', 'GET', undefined, { Authorization: 'Bearer x' })
    expect(result.request).toBeUndefined()
    expect(refusal(result).status).toBe(400)
  })
})

/** authlib's usage: a subclass that looks tokens up, here through the MemoryValidator's token store. */
class StoreBearerTokenValidator extends BearerTokenValidator<TestUser> {
  readonly store: MemoryValidator

  constructor(store: MemoryValidator, options: ConstructorParameters<typeof BearerTokenValidator>[0] = {}) {
    super(options)
    this.store = store
  }

  // introspectToken finds refresh tokens too, which the type check must refuse.
  override async authenticateToken(tokenString: string): Promise<StoredToken<TestUser> | undefined> {
    return this.store.introspectToken(tokenString)
  }
}

describe('BearerTokenValidator (authlib.oauth2.rfc6750)', () => {
  async function setUp() {
    const store = new MemoryValidator()
    store.addClient({ clientId: 's6BhdRkqt3', secret: '7Fjfp0ZBr1KtDRbnfVdmIw' })
    store.addUser('johndoe', 'A3ddj3w')
    const response = await new LegacyApplicationServer(store).createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=johndoe&password=A3ddj3w', {
      Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'),
      ...FORM,
    })
    const body = expectTokenResponse(response)
    return { store, accessToken: body.access_token as string, refreshToken: body.refresh_token as string }
  }

  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })

  it('grants a token authenticateToken finds, with its resource owner typed as the application user', async () => {
    const { store, accessToken } = await setUp()
    const protect = new StoreBearerTokenValidator(store, { realm: 'photos' })
    expect(protect.realm).toBe('photos')
    const result = await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(accessToken), ['read'])
    if (!result.valid) throw new Error(result.response.body)
    expect(result.token.user?.username).toBe('johndoe')
    expect(result.token.clientId).toBe('s6BhdRkqt3')
  })

  it('refuses an unknown token, a refresh token and a missing scope with the RFC 6750 §3 challenge', async () => {
    const { store, refreshToken, accessToken } = await setUp()
    const protect = new StoreBearerTokenValidator(store, { realm: 'photos' })
    expect(refusal(await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer('unknown')))).toEqual(
      invalidToken('The access token is unknown, revoked or malformed', 'photos'),
    )
    expect(refusal(await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(refreshToken)))).toEqual(
      invalidToken('The token is not an access token', 'photos'),
    )
    const description = 'The access token does not grant the scope this resource requires'
    expect(refusal(await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(accessToken), ['write']))).toEqual({
      status: 403,
      headers: { ...NO_STORE, 'WWW-Authenticate': `Bearer realm="photos", scope="write", error="insufficient_scope", error_description="${description}"` },
      body: JSON.stringify({ error: 'insufficient_scope', error_description: description }),
    })
  })

  it('finds the token exactly as ResourceEndpoint does: no token, two methods, form body, query', async () => {
    const { store, accessToken } = await setUp()
    const protect = new StoreBearerTokenValidator(store)
    expect(refusal(await protect.validateProtectedResourceRequest(RESOURCE_URI))).toEqual({
      status: 401,
      headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'WWW-Authenticate': 'Bearer' },
      body: '',
    })
    const twoMethods = await protect.validateProtectedResourceRequest(RESOURCE_URI, 'POST', `access_token=${accessToken}`, { ...FORM, ...bearer(accessToken) })
    expect(refusal(twoMethods).status).toBe(400)
    const inBody = await protect.validateProtectedResourceRequest(RESOURCE_URI, 'POST', `access_token=${accessToken}`, FORM)
    expect(inBody.valid).toBe(true)
    const inQuery = await protect.validateProtectedResourceRequest(`${RESOURCE_URI}?access_token=${accessToken}`)
    expect(refusal(inQuery).status).toBe(400)
    const allowed = new StoreBearerTokenValidator(store, { allowQueryToken: true })
    expect((await allowed.validateProtectedResourceRequest(`${RESOURCE_URI}?access_token=${accessToken}`)).valid).toBe(true)
  })

  it('runs an overridden validateToken with the token, the scopes and the request', async () => {
    const { store, accessToken } = await setUp()
    const seen: Array<[string, readonly string[], string]> = []
    class AudienceBearerTokenValidator extends StoreBearerTokenValidator {
      override async validateToken(token: StoredToken<TestUser>, scopes: readonly string[], request: OAuth2Request): Promise<void> {
        seen.push([token.clientId, scopes, request.uri.pathname])
        if (request.uri.pathname !== '/photos') throw new InvalidTokenError('The access token is not meant for this resource')
        await super.validateToken(token, scopes, request)
      }
    }
    const protect = new AudienceBearerTokenValidator(store, { realm: 'photos' })
    expect((await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(accessToken), ['read'])).valid).toBe(true)
    const elsewhere = await protect.validateProtectedResourceRequest('https://api.example.com/admin', 'GET', undefined, bearer(accessToken), ['read'])
    expect(refusal(elsewhere)).toEqual({
      status: 401,
      headers: {
        ...NO_STORE,
        'WWW-Authenticate': 'Bearer realm="photos", scope="read", error="invalid_token", error_description="The access token is not meant for this resource"',
      },
      body: JSON.stringify({ error: 'invalid_token', error_description: 'The access token is not meant for this resource' }),
    })
    expect(refusal(await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(accessToken), ['write'])).status).toBe(403)
    expect(seen).toEqual([
      ['s6BhdRkqt3', ['read'], '/photos'],
      ['s6BhdRkqt3', ['read'], '/admin'],
      ['s6BhdRkqt3', ['write'], '/photos'],
    ])
  })

  it('refuses an expired token even when validateToken is overridden without calling super', async () => {
    const { store, accessToken } = await setUp()
    class PermissiveBearerTokenValidator extends StoreBearerTokenValidator {
      override async validateToken(): Promise<void> {}
    }
    const protect = new PermissiveBearerTokenValidator(store)
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() + 3600 * 1000)
    const result = await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer(accessToken))
    expect(refusal(result)).toEqual({
      status: 401,
      headers: { ...NO_STORE, 'WWW-Authenticate': 'Bearer error="invalid_token", error_description="The access token expired"' },
      body: JSON.stringify({ error: 'invalid_token', error_description: 'The access token expired' }),
    })
  })

  it('answers 500 server_error, reported to onError, when authenticateToken throws', async () => {
    const failure = new Error('token table missing')
    const errorsSeen: unknown[] = []
    class BrokenBearerTokenValidator extends BearerTokenValidator {
      override async authenticateToken(): Promise<never> {
        throw failure
      }
    }
    const protect = new BrokenBearerTokenValidator({ realm: 'photos', onError: (error) => errorsSeen.push(error) })
    const result = await protect.validateProtectedResourceRequest(RESOURCE_URI, 'GET', undefined, bearer('x'))
    expect(refusal(result)).toEqual(serverError())
    expect(errorsSeen).toEqual([failure])
  })

  it('refuses a realm that would need escaping', () => {
    expect(() => new StoreBearerTokenValidator(new MemoryValidator(), { realm: 'a"b' })).toThrow(TypeError)
  })
})
