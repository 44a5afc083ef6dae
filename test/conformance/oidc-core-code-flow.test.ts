/**
 * OpenID Connect Core 1.0 conformance, the authorization code flow: an `openid` scope turns a code request into an
 * OpenID Connect one (§3.1.2.1), whose exchange gives an ID token (§3.1.3.3) with every claim of §2 and §3.1.3.6, signed
 * with the provider's key and verifiable with its JWKS (§3.1.3.7), and whose refresh gives a new one (§12.2). Over the
 * test double and StoreValidator on each store, since the nonce and the sign-in are kept with the code and the grant.
 */
import { describe, expect, it } from 'vitest'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { idTokenSigner, MAX_NONCE_LENGTH, type RequestValidator, type User } from '../../src/index.js'
import { CONFORMANCE_BACKENDS } from '../support/conformance-backends.js'
import { expectErrorResponse, expectTokenResponse } from '../support/expect-response.js'
import { MemoryValidator } from '../support/memory-validator.js'
import { expectedAtHash, ISSUER, KID, keyPair, openProvider, recentSignIn, REDIRECT_URI, RP } from '../support/openid.js'

const NONCE = 'n-0S6_WzA2Mj'

describe.each(CONFORMANCE_BACKENDS)('OpenID Connect Core over $name', (backend) => {
  describe('§3.1.2.1 Authentication Request', () => {
    it('keeps the nonce and the sign-in with a code granted openid', async () => {
      const provider = await openProvider(backend)
      const signIn = { authTime: Math.floor(Date.now() / 1000) - 5, acr: 'urn:example:loa:2', amr: ['pwd', 'otp'] }
      const { code, response } = await provider.authorize({ nonce: NONCE }, signIn)
      expect(response.status).toBe(302)
      const stored = await provider.harness.code(code as string)
      expect(stored).toMatchObject({ clientId: RP, scopes: ['openid'], nonce: NONCE, authentication: signIn })
    })

    it('keeps no nonce with a code that was not granted openid (an OAuth request)', async () => {
      const provider = await openProvider(backend)
      const { code } = await provider.authorize({ scope: 'read', nonce: NONCE })
      expect((await provider.harness.code(code as string))?.nonce).toBeUndefined()
    })

    it(`accepts a nonce of ${MAX_NONCE_LENGTH} characters and refuses a longer one with invalid_request, redirected`, async () => {
      const provider = await openProvider(backend)
      expect((await provider.authorize({ nonce: 'n'.repeat(MAX_NONCE_LENGTH) })).code).toBeDefined()
      const { response, code } = await provider.authorize({ nonce: 'n'.repeat(MAX_NONCE_LENGTH + 1) })
      expect(code).toBeUndefined()
      const location = new URL(response.headers.Location as string)
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI)
      expect(location.searchParams.get('error')).toBe('invalid_request')
      expect(location.searchParams.get('error_description')).toMatch(/nonce/)
      expect(provider.harness.savedCodes).toHaveLength(1)
    })

    it('refuses a repeated nonce with invalid_request', async () => {
      const provider = await openProvider(backend)
      const uri = `${ISSUER}/authorize?response_type=code&client_id=${RP}&scope=openid&nonce=a&nonce=b&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`
      await expect(provider.server.validateAuthorizationRequest(uri)).rejects.toMatchObject({ error: 'invalid_request', description: expect.stringMatching(/nonce/) })
    })

    it('issues no code for max_age without the sign-in, or with one older than max_age', async () => {
      const provider = await openProvider(backend)
      const old = { authTime: Math.floor(Date.now() / 1000) - 120 }
      for (const authentication of [null, old]) {
        const { response, code } = await provider.authorize({ max_age: '60' }, authentication)
        expect(code).toBeUndefined()
        expect(new URL(response.headers.Location as string).searchParams.get('error')).toBe('server_error')
      }
      expect(provider.harness.savedCodes).toHaveLength(0)
      expect((await provider.authorize({ max_age: '60' })).code).toBeDefined()
    })
  })

  describe('§3.1.3.3 Successful Token Response, §3.1.3.6 ID Token, §2 ID Token claims', () => {
    it('returns an id_token beside the Bearer tokens, never cached', async () => {
      const provider = await openProvider(backend)
      const { code, verifier } = await provider.authorize()
      const body = expectTokenResponse(await provider.redeem(code as string, verifier))
      expect(body.id_token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
      expect(body.refresh_token).toEqual(expect.any(String))
    })

    it('writes every claim with its value: iss, sub, aud, exp, iat, auth_time, nonce, acr, amr, at_hash, and no azp', async () => {
      const provider = await openProvider(backend)
      const signIn = { authTime: Math.floor(Date.now() / 1000) - 30, acr: 'urn:example:loa:2', amr: ['pwd'] }
      const before = Math.floor(Date.now() / 1000)
      const body = await provider.signIn('openid profile', signIn, { nonce: NONCE })
      const claims = decodeJwt(body.id_token as string)
      expect(Object.keys(claims).sort()).toEqual(['acr', 'amr', 'at_hash', 'aud', 'auth_time', 'exp', 'iat', 'iss', 'nonce', 'sub'])
      expect(claims).toEqual({
        iss: ISSUER,
        sub: provider.user.userId,
        aud: RP,
        iat: expect.any(Number),
        exp: (claims.iat as number) + 600,
        auth_time: signIn.authTime,
        nonce: NONCE,
        acr: signIn.acr,
        amr: signIn.amr,
        at_hash: expectedAtHash(body.access_token as string, 'ES256'),
      })
      expect(claims.iat).toBeGreaterThanOrEqual(before)
      expect(claims.iat).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    })

    it('leaves nonce out when the request had none, and acr and amr out when the application named none', async () => {
      const provider = await openProvider(backend)
      const body = await provider.signIn('openid', { authTime: 1_800_000_000 }, { nonce: undefined } as never)
      const claims = decodeJwt(body.id_token as string)
      expect(claims.auth_time).toBe(1_800_000_000)
      for (const name of ['nonce', 'acr', 'amr', 'azp']) expect(claims).not.toHaveProperty(name)
    })

    it('gives no ID token for a code that was not granted openid', async () => {
      const provider = await openProvider(backend)
      const body = await provider.signIn('read')
      expect(body).not.toHaveProperty('id_token')
      expect(body.access_token).toEqual(expect.any(String))
    })

    it('gives no second ID token for a replayed code: invalid_grant, and the first grant is ended', async () => {
      const provider = await openProvider(backend)
      const { code, verifier } = await provider.authorize()
      const first = expectTokenResponse(await provider.redeem(code as string, verifier))
      const replay = await provider.redeem(code as string, verifier)
      expectErrorResponse(replay, 400, 'invalid_grant')
      expect(replay.body).not.toMatch(/id_token/)
      if (!backend.double) expect(await provider.harness.isRevoked(first.access_token as string)).toBe(true)
    })

    it('gives no ID token when the redirect_uri differs from the authorization request: invalid_grant', async () => {
      const provider = await openProvider(backend)
      const { code, verifier } = await provider.authorize()
      const response = await provider.redeem(code as string, verifier, { redirect_uri: 'https://rp.example.com/other' })
      expectErrorResponse(response, 400, 'invalid_grant', /redirect_uri/)
      expect(response.body).not.toMatch(/id_token/)
    })
  })

  describe('§3.1.3.7 ID Token Validation', () => {
    it.each(['ES256', 'RS256', 'EdDSA'] as const)('signs with %s under the key id of the JWKS, and the signature verifies with it', async (alg) => {
      const provider = await openProvider(backend, { alg })
      const body = await provider.signIn()
      const { header, claims } = await provider.verify(body.id_token as string)
      expect(header).toEqual({ alg, typ: 'JWT', kid: KID })
      expect(claims.at_hash).toBe(expectedAtHash(body.access_token as string, alg))
    })

    it('an ID token signed by another key does not verify with the JWKS', async () => {
      const provider = await openProvider(backend)
      const other = await openProvider(backend, { alg: 'RS256' })
      const body = await other.signIn()
      await expect(provider.verify(body.id_token as string)).rejects.toThrow()
    })
  })

  describe('§12.2 Successful Refresh Response', () => {
    it('gives a new ID token: same iss, sub, aud and auth_time, a new iat and at_hash, and no nonce', async () => {
      const provider = await openProvider(backend)
      const signIn = recentSignIn()
      const first = await provider.signIn('openid profile', signIn, { nonce: NONCE })
      const refreshed = expectTokenResponse(await provider.refresh(first.refresh_token as string))
      expect(refreshed.id_token).toEqual(expect.any(String))
      expect(refreshed.id_token).not.toBe(first.id_token)
      const before = decodeJwt(first.id_token as string)
      const { claims } = await provider.verify(refreshed.id_token as string)
      expect(claims).toMatchObject({ iss: before.iss, sub: before.sub, aud: before.aud, auth_time: signIn.authTime, amr: ['pwd'] })
      expect(claims).not.toHaveProperty('nonce')
      expect(claims.at_hash).toBe(expectedAtHash(refreshed.access_token as string, 'ES256'))
      expect(claims.iat).toBeGreaterThanOrEqual(before.iat as number)
      // And again, from the rotated refresh token: the sign-in travels with the grant.
      const again = expectTokenResponse(await provider.refresh(refreshed.refresh_token as string))
      expect(decodeJwt(again.id_token as string)).toMatchObject({ sub: before.sub, auth_time: signIn.authTime })
    })

    it('keeps giving ID tokens when the refresh narrows the access token to a scope without openid', async () => {
      const provider = await openProvider(backend)
      const first = await provider.signIn('openid read')
      const refreshed = expectTokenResponse(await provider.refresh(first.refresh_token as string, { scope: 'read' }))
      expect(refreshed).not.toHaveProperty('scope')
      expect(decodeJwt(refreshed.id_token as string).sub).toBe(provider.user.userId)
    })

    it('gives no ID token at the refresh of a grant without openid', async () => {
      const provider = await openProvider(backend)
      const first = await provider.signIn('read')
      expect(expectTokenResponse(await provider.refresh(first.refresh_token as string))).not.toHaveProperty('id_token')
    })
  })
})

describe('OpenID Connect Core §2, §8 the subject, through RequestValidator.getSubject', () => {
  class Subjects extends MemoryValidator {
    sub: unknown = 'custom-subject-42'
    override async getSubject(): Promise<string> {
      return this.sub as string
    }
  }
  const backend = (validator: Subjects) => ({ name: 'subjects', double: true, open: async () => doubleOf(validator) })

  it('writes the subject the validator answers as sub', async () => {
    const provider = await openProvider(backend(new Subjects()))
    expect(decodeJwt((await provider.signIn()).id_token as string).sub).toBe('custom-subject-42')
  })

  it.each([
    ['empty', ''],
    ['256 characters long', 's'.repeat(256)],
    ['not ASCII', 'zoë'],
    ['not a string', 42],
  ])('refuses to sign a sub that is %s: server_error, no tokens', async (_case, sub) => {
    const validator = new Subjects()
    validator.sub = sub
    const provider = await openProvider(backend(validator))
    const { code, verifier } = await provider.authorize()
    expectErrorResponse(await provider.redeem(code as string, verifier), 500, 'server_error')
    expect(validator.saved).toHaveLength(0)
    expect((await provider.harness.code(code as string))?.used).toBe(false)
  })
})

describe('OpenID Connect Core §2 ID token signers', () => {
  it('idTokenSigner refuses a missing issuer, an unsupported algorithm and a public key', async () => {
    const { privateKey } = await keyPair('ES256')
    expect(() => idTokenSigner(privateKey, { issuer: '', alg: 'ES256' })).toThrow(TypeError)
    expect(() => idTokenSigner(privateKey, { issuer: ISSUER, alg: 'HS256' as never })).toThrow(/HS256/)
    const { publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    expect(() => idTokenSigner(publicKey, { issuer: ISSUER, alg: 'ES256' })).toThrow(/private signing key/)
  })

  it('the header names the key id only when one is given', async () => {
    const { privateKey } = await keyPair('ES256')
    const signer = idTokenSigner(privateKey, { issuer: ISSUER, alg: 'ES256' })
    expect(decodeProtectedHeader(await signer.current().sign({ sub: 'x' }))).toEqual({ alg: 'ES256', typ: 'JWT' })
  })
})

/** The conformance harness of a double that a test subclassed. */
async function doubleOf(validator: MemoryValidator) {
  const { doubleHarness } = await import('../support/conformance-backends.js')
  return doubleHarness(validator) as ReturnType<typeof doubleHarness> & { validator: RequestValidator<{ clientId: string }, User> }
}
