import { exportPKCS8, generateKeyPair, jwtVerify, type CryptoKey, type GenerateKeyPairResult, type JWTPayload } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  LegacyApplicationServer,
  signedTokenGenerator,
  type OAuth2Request,
  type OAuth2Response,
  type SignedTokenOptions,
  type SigningAlgorithm,
  type TokenGenerator,
} from '../../src/index.js'
import { expectErrorResponse, expectTokenResponse, OPAQUE_TOKEN } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestClient } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'
const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const satisfies readonly SigningAlgorithm[]
const GENERIC_SERVER_ERROR = /^The authorization server encountered an unexpected condition$/

/** A validator whose client authentication hook adds claims for the signed token, as an application's hook would. */
class ClaimsValidator extends MemoryValidator {
  readonly extraClaims: Record<string, unknown>

  constructor(extraClaims: Record<string, unknown>) {
    super()
    this.extraClaims = extraClaims
  }

  override async authenticateClient(request: OAuth2Request): Promise<TestClient | undefined> {
    Object.assign(request.claims, this.extraClaims)
    return super.authenticateClient(request)
  }
}

const keys = new Map<SigningAlgorithm, GenerateKeyPairResult>()

beforeAll(async () => {
  for (const alg of ALGORITHMS) keys.set(alg, await generateKeyPair(alg, { extractable: true }))
})

function keyPair(alg: SigningAlgorithm): GenerateKeyPairResult {
  const pair = keys.get(alg)
  if (pair === undefined) throw new Error(`no key pair for ${alg}`)
  return pair
}

interface Issued {
  readonly response: OAuth2Response
  readonly errors: Array<{ error: unknown; request: OAuth2Request | undefined }>
  readonly validator: MemoryValidator
}

/** A client credentials token request to a BackendApplicationServer that signs its access tokens. */
async function clientCredentials(
  tokenGenerator: TokenGenerator,
  options: { validator?: MemoryValidator; scope?: string; tokenExpiresIn?: number } = {},
): Promise<Issued> {
  const validator = options.validator ?? new MemoryValidator()
  validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
  const errors: Issued['errors'] = []
  const server = new BackendApplicationServer(validator, {
    tokenGenerator,
    tokenExpiresIn: options.tokenExpiresIn,
    onError: (error, request) => errors.push({ error, request }),
  })
  const body = options.scope === undefined ? 'grant_type=client_credentials' : `grant_type=client_credentials&scope=${options.scope}`
  const response = await server.createTokenResponse(TOKEN_URI, 'POST', body, { Authorization: basic('backend', 'backend-secret'), ...FORM })
  return { response, errors, validator }
}

/** A LegacyApplicationServer that signs its access tokens, with a client and the user alice. */
function legacy(tokenGenerator: TokenGenerator) {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'legacy', secret: 'legacy-secret' })
  validator.addUser('alice', 'wonderland')
  const server = new LegacyApplicationServer(validator, { tokenGenerator })
  const headers = { Authorization: basic('legacy', 'legacy-secret'), ...FORM }
  return {
    validator,
    password: () => server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland&scope=read+write', headers),
    refresh: (refreshToken: string) =>
      server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${refreshToken}&scope=read`, headers),
  }
}

function accessToken(response: OAuth2Response): string {
  const token = expectTokenResponse(response).access_token
  if (typeof token !== 'string') throw new Error('no access_token')
  return token
}

/** Verifies an access token as a resource server would: signature, issuer, `typ: at+jwt` and algorithm. */
async function verify(token: string, alg: SigningAlgorithm, publicKey: CryptoKey = keyPair(alg).publicKey) {
  return jwtVerify(token, publicKey, { issuer: ISSUER, typ: 'at+jwt', algorithms: [alg] })
}

function generator(options: Partial<SignedTokenOptions> = {}, alg: SigningAlgorithm = 'ES256'): TokenGenerator {
  return signedTokenGenerator(keyPair(alg).privateKey, { issuer: ISSUER, alg, ...options })
}

async function payloadOf(response: OAuth2Response): Promise<JWTPayload> {
  return (await verify(accessToken(response), 'ES256')).payload
}

describe('signedTokenGenerator: signatures', () => {
  it.each(ALGORITHMS)('signs %s access tokens that verify with the public key', async (alg) => {
    const { response } = await clientCredentials(generator({}, alg))
    const { protectedHeader, payload } = await verify(accessToken(response), alg)
    expect(protectedHeader).toEqual({ alg, typ: 'at+jwt' })
    expect(payload).toMatchObject({ iss: ISSUER, sub: 'backend', client_id: 'backend' })
  })

  it.each(ALGORITHMS)('signs %s access tokens with a PKCS#8 PEM string key', async (alg) => {
    const pem = await exportPKCS8(keyPair(alg).privateKey)
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    const { response } = await clientCredentials(signedTokenGenerator(pem, { issuer: ISSUER, alg }))
    const { protectedHeader, payload } = await verify(accessToken(response), alg)
    expect(protectedHeader).toEqual({ alg, typ: 'at+jwt' })
    expect(payload.sub).toBe('backend')
  })

  it.each(ALGORITHMS)('makes %s tokens that fail verification with another key of the same algorithm', async (alg) => {
    const other = await generateKeyPair(alg)
    const { response } = await clientCredentials(generator({}, alg))
    await expect(verify(accessToken(response), alg, other.publicKey)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' })
  })

  it('signs every token with the same PEM key, imported once', async () => {
    const pem = await exportPKCS8(keyPair('ES256').privateKey)
    const tokens = signedTokenGenerator(pem, { issuer: ISSUER, alg: 'ES256' })
    for (let i = 0; i < 3; i++) {
      const { response } = await clientCredentials(tokens)
      await expect(verify(accessToken(response), 'ES256')).resolves.toMatchObject({ payload: { iss: ISSUER } })
    }
  })
})

describe('signedTokenGenerator: header (RFC 9068 §2.1)', () => {
  it('sets typ at+jwt and no kid when none is given', async () => {
    const { response } = await clientCredentials(generator())
    const { protectedHeader } = await verify(accessToken(response), 'ES256')
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt' })
  })

  it('sets the kid when one is given', async () => {
    const { response } = await clientCredentials(generator({ kid: 'key-2025-01' }))
    const { protectedHeader } = await verify(accessToken(response), 'ES256')
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: 'key-2025-01' })
  })
})

describe('signedTokenGenerator: claims (RFC 9068 §2.2)', () => {
  it('sets iss, sub, aud, client_id, scope, iat, exp and jti for a client credentials token', async () => {
    const before = Math.floor(Date.now() / 1000)
    const { response } = await clientCredentials(generator(), { scope: 'read+write' })
    const after = Math.floor(Date.now() / 1000)
    const payload = await payloadOf(response)
    expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub'])
    expect(payload).toMatchObject({ iss: ISSUER, sub: 'backend', aud: ISSUER, client_id: 'backend', scope: 'read write' })
    expect(payload.iat).toBeGreaterThanOrEqual(before)
    expect(payload.iat).toBeLessThanOrEqual(after)
    expect(payload.jti).toMatch(OPAQUE_TOKEN)
  })

  it('uses the user as sub for the password grant and the client as client_id', async () => {
    const { password } = legacy(generator())
    const payload = await payloadOf(await password())
    expect(payload).toMatchObject({ iss: ISSUER, sub: 'user-alice', client_id: 'legacy', scope: 'read write' })
  })

  it('keeps the user as sub and narrows scope on a refresh, while the refresh token stays opaque', async () => {
    const { password, refresh } = legacy(generator())
    const first = expectTokenResponse(await password())
    expect(first.refresh_token).toMatch(OPAQUE_TOKEN)
    const payload = await payloadOf(await refresh(String(first.refresh_token)))
    expect(payload).toMatchObject({ sub: 'user-alice', client_id: 'legacy', scope: 'read' })
  })

  it.each([600, 3600, 86400])('sets exp to iat + expires_in when expires_in is %i', async (seconds) => {
    const { response } = await clientCredentials(generator(), { tokenExpiresIn: seconds })
    const body = expectTokenResponse(response)
    const payload = await payloadOf(response)
    expect(body.expires_in).toBe(seconds)
    expect(payload.exp).toBe((payload.iat as number) + seconds)
  })

  it('writes a time-ordered jti (generateTimeOrderedToken), with or without custom claims', async () => {
    for (const validator of [new MemoryValidator(), new ClaimsValidator({ tenant: 'acme', jti: 'fixed-id' })]) {
      const { response } = await clientCredentials(generator(), { validator })
      const payload = await payloadOf(response)
      expect(payload.jti).toMatch(OPAQUE_TOKEN)
    }
  })

  it('gives every token a different jti', async () => {
    const tokens = generator()
    const ids = new Set<unknown>()
    for (let i = 0; i < 20; i++) ids.add((await payloadOf((await clientCredentials(tokens)).response)).jti)
    expect(ids.size).toBe(20)
  })

  describe('aud', () => {
    it('is the audience option when it is a string', async () => {
      const { response } = await clientCredentials(generator({ audience: 'https://rs.example.com' }))
      expect((await payloadOf(response)).aud).toBe('https://rs.example.com')
    })

    it('is the audience option when it is a list', async () => {
      const { response } = await clientCredentials(generator({ audience: ['https://rs1.example.com', 'https://rs2.example.com'] }))
      expect((await payloadOf(response)).aud).toEqual(['https://rs1.example.com', 'https://rs2.example.com'])
    })

    it('is what the audience function returns for the token context', async () => {
      const audience = ({ client, scopes }: { client: { clientId: string }; scopes: readonly string[] }) =>
        `https://rs.example.com/${client.clientId}/${scopes.join('+')}`
      const { response } = await clientCredentials(generator({ audience }), { scope: 'write' })
      expect((await payloadOf(response)).aud).toBe('https://rs.example.com/backend/write')
    })

    it.each([
      ['a string', 'https://rs.example.com'],
      ['a list of strings', ['https://rs1.example.com', 'https://rs2.example.com']],
    ])('is request.claims.aud set by a validator hook when it is %s and no audience option is given', async (_, aud) => {
      const { response } = await clientCredentials(generator(), { validator: new ClaimsValidator({ aud }) })
      expect((await payloadOf(response)).aud).toEqual(aud)
    })

    it('ignores request.claims.aud when the audience option is given', async () => {
      const validator = new ClaimsValidator({ aud: 'https://attacker.example' })
      const { response } = await clientCredentials(generator({ audience: 'https://rs.example.com' }), { validator })
      expect((await payloadOf(response)).aud).toBe('https://rs.example.com')
    })

    it.each([
      ['a number', 42],
      ['a list with a non-string', ['https://rs.example.com', 7]],
      ['an object', { url: 'https://rs.example.com' }],
    ])('falls back to the issuer when request.claims.aud is %s', async (_, aud) => {
      const { response } = await clientCredentials(generator(), { validator: new ClaimsValidator({ aud }) })
      expect((await payloadOf(response)).aud).toBe(ISSUER)
    })

    it('is the issuer when neither the option nor a validator gives one', async () => {
      const { response } = await clientCredentials(generator())
      expect((await payloadOf(response)).aud).toBe(ISSUER)
    })
  })

  describe('custom claims from request.claims', () => {
    it('adds the claims a validator hook put on request.claims', async () => {
      const validator = new ClaimsValidator({ tenant: 'acme', roles: ['auditor'], acr: 'urn:example:mfa' })
      const { response } = await clientCredentials(generator(), { validator })
      expect(await payloadOf(response)).toMatchObject({ tenant: 'acme', roles: ['auditor'], acr: 'urn:example:mfa', sub: 'backend' })
    })

    it('carries claims of any text, ASCII or not, in three unpadded base64url parts (RFC 7515 §7.1, RFC 4648 §5)', async () => {
      // '>>?' and 'a~~' encode to '-' and '_' in base64url; the others are UTF-8 of two, three and four bytes.
      const claims = { note: '>>? a~~ é € 🔑', lone: 'x\u00ff', long: 'ü'.repeat(3000) }
      const validator = new ClaimsValidator(claims)
      const { response } = await clientCredentials(generator(), { validator })
      const token = accessToken(response)
      expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      const [header, payload] = token.split('.').map((part) => Buffer.from(part, 'base64url'))
      expect(JSON.parse(header?.toString('utf8') ?? '')).toEqual({ alg: 'ES256', typ: 'at+jwt' })
      expect(Buffer.from(payload?.toString('utf8') ?? '', 'utf8').toString('base64url')).toBe(token.split('.')[1])
      expect(await payloadOf(response)).toMatchObject(claims)
    })

    it('does not let them replace iss, sub, exp, iat, nbf, jti, client_id or scope', async () => {
      const validator = new ClaimsValidator({
        iss: 'https://evil.example',
        sub: 'mallory',
        exp: 4102444800,
        iat: 1,
        nbf: 4102444800,
        jti: 'fixed-id',
        client_id: 'someone-else',
        scope: 'admin',
        tenant: 'acme',
      })
      const { response } = await clientCredentials(generator(), { validator, tokenExpiresIn: 600 })
      const payload = await payloadOf(response)
      expect(payload).toMatchObject({ iss: ISSUER, sub: 'backend', client_id: 'backend', scope: 'read', tenant: 'acme' })
      expect(payload.exp).toBe((payload.iat as number) + 600)
      expect(payload.iat).toBeGreaterThan(1)
      expect(payload.nbf).toBeUndefined()
      expect(payload.jti).not.toBe('fixed-id')
    })

    it('does not let them replace the user as sub for the password grant', async () => {
      const validator = new ClaimsValidator({ sub: 'user-mallory' })
      validator.addClient({ clientId: 'legacy', secret: 'legacy-secret' })
      validator.addUser('alice', 'wonderland')
      const server = new LegacyApplicationServer(validator, { tokenGenerator: generator() })
      const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland', {
        Authorization: basic('legacy', 'legacy-secret'),
        ...FORM,
      })
      expect((await payloadOf(response)).sub).toBe('user-alice')
    })
  })
})

describe('signedTokenGenerator: configuration errors', () => {
  it.each(['HS256', 'none', 'PS256', 'es256', ''])('throws TypeError at construction for alg %j', (alg) => {
    expect(() => signedTokenGenerator(keyPair('ES256').privateKey, { issuer: ISSUER, alg: alg as SigningAlgorithm })).toThrow(TypeError)
  })

  it('throws TypeError at construction for an empty issuer', () => {
    expect(() => signedTokenGenerator(keyPair('ES256').privateKey, { issuer: '', alg: 'ES256' })).toThrow(TypeError)
  })

  const unusablePems: Array<[string, () => Promise<string>, SigningAlgorithm]> = [
    ['a PEM with a garbage body', async () => '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n', 'ES256'],
    ['a string that is not PEM', async () => 'not a key', 'RS256'],
    ['an RSA key used for ES256', async () => exportPKCS8(keyPair('RS256').privateKey), 'ES256'],
    ['an Ed25519 key used for RS256', async () => exportPKCS8(keyPair('EdDSA').privateKey), 'RS256'],
  ]

  it.each(unusablePems)(
    'answers 500 server_error reported to onError, with no unhandled rejection, for %s',
    async (_, pemOf, alg) => {
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown) => unhandled.push(reason)
      process.on('unhandledRejection', onUnhandled)
      try {
        const tokens = signedTokenGenerator(await pemOf(), { issuer: ISSUER, alg })
        // Give a rejected key import time to surface as unhandled before any token is requested.
        await new Promise((resolve) => setTimeout(resolve, 20))
        for (let attempt = 1; attempt <= 2; attempt++) {
          const { response, errors, validator } = await clientCredentials(tokens)
          expectErrorResponse(response, 500, 'server_error', GENERIC_SERVER_ERROR)
          expect(errors).toHaveLength(1)
          expect(errors[0]?.error).toBeInstanceOf(Error)
          expect(errors[0]?.request?.grantType).toBe('client_credentials')
          expect(validator.saved).toEqual([])
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
        expect(unhandled).toEqual([])
      } finally {
        process.off('unhandledRejection', onUnhandled)
      }
    },
  )

  it.each<[string, SigningAlgorithm, () => CryptoKey]>([
    ['an ES256 key used for EdDSA', 'EdDSA', () => keyPair('ES256').privateKey],
    ['an EdDSA key used for RS256', 'RS256', () => keyPair('EdDSA').privateKey],
    ['a public key', 'ES256', () => keyPair('ES256').publicKey],
  ])('throws TypeError at construction for %s', (_, alg, key) => {
    expect(() => signedTokenGenerator(key(), { issuer: ISSUER, alg })).toThrow(/not a private signing key/)
  })
})

describe('signedTokenGenerator with a JwsSigner', () => {
  it.each<SigningAlgorithm>(['ES256', 'RS256', 'EdDSA'])('signs the JWS signing input through the signer: a %s token that verifies', async (alg) => {
    const { privateKey, publicKey } = keyPair(alg)
    const inputs: string[] = []
    const signer = async (signingInput: Uint8Array) => {
      inputs.push(new TextDecoder().decode(signingInput))
      const params = alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'Ed25519' }
      return new Uint8Array(await crypto.subtle.sign(params, privateKey, signingInput as Uint8Array<ArrayBuffer>))
    }
    const { response } = await clientCredentials(signedTokenGenerator(signer, { issuer: ISSUER, alg, kid: 'k1' }))
    const token = expectTokenResponse(response).access_token as string
    expect(inputs).toEqual([token.split('.').slice(0, 2).join('.')])
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, { issuer: ISSUER, typ: 'at+jwt' })
    expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: 'k1' })
    expect(payload).toMatchObject({ iss: ISSUER, client_id: expect.any(String), scope: expect.any(String), jti: expect.any(String) })
  })

  it('answers 500 server_error reported to onError when the signer fails, saving nothing', async () => {
    const failure = new Error('HSM unavailable')
    const { response, errors, validator } = await clientCredentials(signedTokenGenerator(() => Promise.reject(failure), { issuer: ISSUER, alg: 'ES256' }))
    expectErrorResponse(response, 500, 'server_error', GENERIC_SERVER_ERROR)
    expect(errors[0]?.error).toBe(failure)
    expect(validator.saved).toEqual([])
  })
})
