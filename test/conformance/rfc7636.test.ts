import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  AuthorizationCodeGrant,
  BearerToken,
  isWellFormedVerifier,
  TokenEndpoint,
  verifyCodeChallenge,
  WebApplicationServer,
  type AuthorizationServerOptions,
  type CodeChallengeMethod,
  type OAuth2Response,
} from '../../src/index.js'
import { authorizationUri, DEFAULT_ISSUER, expectDelivered, expectDeliveredError } from '../support/expect-authorization-response.js'
import { expectErrorResponse, expectTokenResponse, OPAQUE_TOKEN } from '../support/expect-response.js'
import { CONFORMANCE_BACKENDS, type ConformanceBackend } from '../support/conformance-backends.js'
import { FORM, TOKEN_URI } from '../support/memory-validator.js'

// RFC 7636 Appendix B.
const APPENDIX_B_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const APPENDIX_B_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

const REDIRECT_URI = 'com.example.app:/oauth2redirect'
const CLIENT_ID = 'native-app'
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'
const OTHER_VERIFIER = 'Xo2cY7qv_lKj3oUe8A-rT9mZpQw4sNbVhGf6dC1xE5yL'

/** The S256 challenge computed independently of the code under test: BASE64URL(SHA256(ASCII(verifier))). */
function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'utf8').digest('base64url')
}

/** A verifier of `length` characters cycling through the whole unreserved alphabet. */
function verifierOfLength(length: number): string {
  return Array.from({ length }, (_, i) => UNRESERVED[i % UNRESERVED.length]).join('')
}

/** A token endpoint serving the authorization code grant to a public client, with the codes it stores. */
async function setup(backend: ConformanceBackend) {
  const harness = await backend.open()
  const validator = harness.validator
  await harness.addClient({ clientId: CLIENT_ID, grantTypes: ['authorization_code', 'refresh_token'] })
  const user = await harness.addUser('alice', 'wonderland')
  const endpoint = new TokenEndpoint({ grantTypes: [new AuthorizationCodeGrant(validator)], bearerToken: new BearerToken(validator) })
  let issued = 0
  const issueCode = async (pkce: { codeChallenge?: string; codeChallengeMethod?: CodeChallengeMethod } = {}): Promise<string> => {
    const code = `code-${++issued}`
    const expiresAt = Math.floor(Date.now() / 1000) + 600
    await validator.saveAuthorizationCode(code, { clientId: CLIENT_ID, user, scopes: ['read'], redirectUri: REDIRECT_URI, expiresAt, ...pkce }, undefined as never)
    return code
  }
  const redeem = (code: string, verifier?: string): Promise<OAuth2Response> => {
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID })
    if (verifier !== undefined) form.set('code_verifier', verifier)
    return endpoint.createTokenResponse(TOKEN_URI, 'POST', form.toString(), FORM)
  }
  return { validator, harness, endpoint, issueCode, redeem }
}

function expectIssued(response: OAuth2Response): Record<string, unknown> {
  const body = expectTokenResponse(response)
  expect(body).toEqual({
    access_token: expect.stringMatching(OPAQUE_TOKEN),
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: expect.stringMatching(OPAQUE_TOKEN),
    scope: 'read',
  })
  return body
}

/**
 * Every section runs over each backend (the test double, and StoreValidator on each store). What a validator saved is
 * read through the harness, from the double or from the store, so no test is left to the double alone.
 */
describe.each(CONFORMANCE_BACKENDS)('over $name', (backend: ConformanceBackend) => {
  describe('RFC 7636 Appendix B Example for the S256 code_challenge_method', () => {
    it('derives the Appendix B code_challenge from the Appendix B code_verifier', async () => {
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_CHALLENGE, 'S256')).toBe(true)
      expect(isWellFormedVerifier(APPENDIX_B_VERIFIER)).toBe(true)
    })

    it('redeems a code issued with the Appendix B challenge and S256 when the Appendix B verifier is sent', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER))
    })

    it('refuses the Appendix B challenge itself presented as the verifier of that S256 code', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code, APPENDIX_B_CHALLENGE), 400, 'invalid_grant', /code_verifier/)
    })
  })

  describe('RFC 7636 §4.1 Client Creates a Code Verifier', () => {
    // code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
    const wellFormed: Array<[string, string]> = [
      ['43 characters, the minimum', verifierOfLength(43)],
      ['128 characters, the maximum', verifierOfLength(128)],
      ['every unreserved character', UNRESERVED],
    ]
    const malformed: Array<[string, string]> = [
      ['42 characters, one too few', verifierOfLength(42)],
      ['129 characters, one too many', verifierOfLength(129)],
      ['a "+"', `${verifierOfLength(42)}+`],
      ['a "/"', `${verifierOfLength(42)}/`],
      ['a space', `${verifierOfLength(21)} ${verifierOfLength(21)}`],
      ['a "=" padding character', `${verifierOfLength(42)}=`],
      ['a "%"', `${verifierOfLength(42)}%`],
      ['a trailing newline', `${verifierOfLength(43)}\n`],
      ['a non-ASCII letter', `${verifierOfLength(42)}é`],
    ]

    it.each(wellFormed)('isWellFormedVerifier accepts %s', (_, verifier) => {
      expect(isWellFormedVerifier(verifier)).toBe(true)
    })

    it.each(malformed)('isWellFormedVerifier rejects %s', (_, verifier) => {
      expect(isWellFormedVerifier(verifier)).toBe(false)
    })

    it.each(wellFormed)('redeems a code with a verifier of %s', async (_, verifier) => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: s256(verifier), codeChallengeMethod: 'S256' })
      expectIssued(await redeem(code, verifier))
    })

    // The challenge is the S256 of the malformed verifier, so syntax is the only reason left to refuse it.
    it.each(malformed)('refuses a verifier with %s as invalid_request, though it matches the S256 challenge', async (_, verifier) => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: s256(verifier), codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code, verifier), 400, 'invalid_request', /code_verifier/)
    })

    it.each(malformed)('refuses a verifier with %s as invalid_request under plain, though it equals the challenge', async (_, verifier) => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: verifier, codeChallengeMethod: 'plain' })
      expectErrorResponse(await redeem(code, verifier), 400, 'invalid_request', /code_verifier/)
    })
  })

  describe('RFC 7636 §4.2 Client Creates the Code Challenge', () => {
    it('verifies S256 as BASE64URL(SHA256(ASCII(code_verifier))) without padding', async () => {
      const verifier = verifierOfLength(128)
      expect(await verifyCodeChallenge(verifier, s256(verifier), 'S256')).toBe(true)
      expect(await verifyCodeChallenge(verifier, `${s256(verifier)}=`, 'S256')).toBe(false)
    })

    it('verifies plain as code_challenge = code_verifier', async () => {
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_VERIFIER, 'plain')).toBe(true)
    })

    it('does not accept the verifier itself as an S256 challenge', async () => {
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_VERIFIER, 'S256')).toBe(false)
    })

    it('does not accept an S256 challenge under plain', async () => {
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_CHALLENGE, 'plain')).toBe(false)
    })

    it('compares challenges case-sensitively', async () => {
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_CHALLENGE.toLowerCase(), 'S256')).toBe(false)
      expect(await verifyCodeChallenge(APPENDIX_B_VERIFIER, APPENDIX_B_VERIFIER.toUpperCase(), 'plain')).toBe(false)
    })

    it('refuses a verifier that differs from the challenge in one character', async () => {
      const near = `${APPENDIX_B_VERIFIER.slice(0, -1)}j`
      expect(await verifyCodeChallenge(near, APPENDIX_B_CHALLENGE, 'S256')).toBe(false)
      expect(await verifyCodeChallenge(near, APPENDIX_B_VERIFIER, 'plain')).toBe(false)
    })
  })

  describe('RFC 7636 §4.3 Client Sends the Code Challenge with the Authorization Request', () => {
    it('treats a challenge stored without a method as plain: the verifier equal to it redeems the code', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_VERIFIER })
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER))
    })

    it('does not apply S256 to a challenge stored without a method', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE })
      expectErrorResponse(await redeem(code, APPENDIX_B_VERIFIER), 400, 'invalid_grant', /code_verifier/)
    })
  })

  describe('RFC 7636 §4.5 Client Sends the Authorization Code and the Code Verifier to the Token Endpoint', () => {
    it('refuses a code issued with a challenge when no code_verifier is sent, with invalid_request', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code), 400, 'invalid_request', /code_verifier is required/)
    })

    it('treats an empty code_verifier as missing (RFC 6749 §3.2)', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code, ''), 400, 'invalid_request', /code_verifier is required/)
    })

    it('refuses a repeated code_verifier with invalid_request (RFC 6749 §3.2)', async () => {
      const { issueCode, endpoint } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID })
      form.append('code_verifier', APPENDIX_B_VERIFIER)
      form.append('code_verifier', APPENDIX_B_VERIFIER)
      const response = await endpoint.createTokenResponse(TOKEN_URI, 'POST', form.toString(), FORM)
      expectErrorResponse(response, 400, 'invalid_request', /code_verifier is repeated/)
    })
  })

  describe('RFC 7636 §4.6 Server Verifies code_verifier before Returning the Tokens', () => {
    it('issues tokens for an S256 code when the verifier matches', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: s256(OTHER_VERIFIER), codeChallengeMethod: 'S256' })
      expectIssued(await redeem(code, OTHER_VERIFIER))
    })

    it('issues tokens for a plain code when the verifier equals the challenge', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_VERIFIER, codeChallengeMethod: 'plain' })
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER))
    })

    it.each<[CodeChallengeMethod, string]>([
      ['S256', APPENDIX_B_CHALLENGE],
      ['plain', APPENDIX_B_VERIFIER],
    ])('refuses a well-formed but wrong verifier for a %s code with invalid_grant', async (method, challenge) => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode({ codeChallenge: challenge, codeChallengeMethod: method })
      expectErrorResponse(await redeem(code, OTHER_VERIFIER), 400, 'invalid_grant', /code_verifier does not match/)
    })

    it('refuses the verifier of another code', async () => {
      const { issueCode, redeem } = await setup(backend)
      await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      const other = await issueCode({ codeChallenge: s256(OTHER_VERIFIER), codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(other, APPENDIX_B_VERIFIER), 400, 'invalid_grant', /code_verifier does not match/)
    })

    // The code is consumed only after every check passes (as node-oidc-provider does): a party holding a stolen code
    // but not the verifier cannot burn the legitimate client's code, and guessing a 256-bit verifier is hopeless.
    it('does not consume the code on a failed verification, so the rightful client can still redeem it once', async () => {
      const { issueCode, redeem, harness } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code, OTHER_VERIFIER), 400, 'invalid_grant', /code_verifier does not match/)
      expectErrorResponse(await redeem(code), 400, 'invalid_request', /code_verifier is required/)
      expect(harness.saved).toHaveLength(0)
      expect((await harness.code(code))?.used).toBe(false)
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER))
      expect((await harness.code(code))?.used).toBe(true)
      expectErrorResponse(await redeem(code, APPENDIX_B_VERIFIER), 400, 'invalid_grant', /invalid, expired or already used/)
      expect(harness.saved).toHaveLength(1)
    })

    it('issues no token and saves nothing when the verifier is wrong', async () => {
      const { issueCode, redeem, harness } = await setup(backend)
      const code = await issueCode({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
      expectErrorResponse(await redeem(code, OTHER_VERIFIER), 400, 'invalid_grant', /code_verifier does not match/)
      expect(harness.saved).toEqual([])
    })
  })

  describe('RFC 9700 §4.8.2 PKCE Downgrade Attack', () => {
    it('refuses a code_verifier for a code issued without a code_challenge, with invalid_grant', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode()
      expectErrorResponse(await redeem(code, APPENDIX_B_VERIFIER), 400, 'invalid_grant', /no code_challenge/)
    })

    it('refuses even a malformed code_verifier for a code issued without a challenge as invalid_grant', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode()
      expectErrorResponse(await redeem(code, 'short'), 400, 'invalid_grant', /no code_challenge/)
    })

    it('still redeems a code issued without a challenge when no verifier is sent', async () => {
      const { issueCode, redeem } = await setup(backend)
      const code = await issueCode()
      expectIssued(await redeem(code))
    })
  })

  // The authorization request side of PKCE, through WebApplicationServer: the native app CLIENT_ID (public, PKCE
  // required) and a confidential client the validator exempts from PKCE.
  const STATE = 'pkce-state'
  const EXEMPT_CLIENT_ID = 'legacy-web'
  const EXEMPT_SECRET = 'legacy-secret'

  async function authorizationSetup(backend: ConformanceBackend, options: AuthorizationServerOptions = {}) {
    const harness = await backend.open()
    const validator = harness.validator
    await harness.addClient({ clientId: CLIENT_ID, redirectUris: [REDIRECT_URI] })
    // It sends its secret in the body (redeem), the method it is registered for: a store accepts no other.
    await harness.addClient({
      clientId: EXEMPT_CLIENT_ID,
      secret: EXEMPT_SECRET,
      redirectUris: [REDIRECT_URI],
      pkceRequired: false,
      tokenEndpointAuthMethod: 'client_secret_post',
    })
    const user = await harness.addUser('alice', 'wonderland')
    const server = new WebApplicationServer(validator, options)
    const allow = (params: Record<string, string | undefined>) =>
      server.createAuthorizationResponse(
        authorizationUri({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: STATE, ...params }),
        'GET',
        undefined,
        undefined,
        undefined,
        user,
      )
    const redeem = (code: string, verifier?: string, auth: Record<string, string> = { client_id: CLIENT_ID }): Promise<OAuth2Response> => {
      const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, ...auth })
      if (verifier !== undefined) form.set('code_verifier', verifier)
      return server.createTokenResponse(TOKEN_URI, 'POST', form.toString(), FORM)
    }
    return { validator, harness, server, allow, redeem }
  }

  /** Asserts a code delivered in the query of the native app redirect URI and returns it. */
  function expectCode(res: OAuth2Response): string {
    const params = expectDelivered(res, REDIRECT_URI, 'query')
    expect(params).toEqual({ code: expect.any(String), state: STATE, iss: DEFAULT_ISSUER })
    return params.code as string
  }

  /** Asserts the RFC 7636 §4.4.1 error: invalid_request redirected to the client with state and iss. */
  function expectPkceError(res: OAuth2Response, description: RegExp): void {
    expectDeliveredError(res, REDIRECT_URI, 'query', 'invalid_request', { state: STATE, iss: DEFAULT_ISSUER, description })
  }

  describe('RFC 7636 §4.3 Client Sends the Code Challenge with the Authorization Request (authorization endpoint)', () => {
    it('accepts S256 and binds the challenge and method to the code', async () => {
      const { allow, harness } = await authorizationSetup(backend)
      const code = expectCode(await allow({ code_challenge: APPENDIX_B_CHALLENGE, code_challenge_method: 'S256' }))
      expect(await harness.code(code)).toMatchObject({ codeChallenge: APPENDIX_B_CHALLENGE, codeChallengeMethod: 'S256' })
    })

    it('treats a challenge without code_challenge_method as plain, which is refused by default (RFC 9700 §2.1.1)', async () => {
      const { allow, harness } = await authorizationSetup(backend)
      expectPkceError(await allow({ code_challenge: APPENDIX_B_VERIFIER }), /code_challenge_method/)
      expectPkceError(await allow({ code_challenge: APPENDIX_B_VERIFIER, code_challenge_method: 'plain' }), /code_challenge_method/)
      expect(harness.savedCodes).toHaveLength(0)
    })

    it('with allowPlainCodeChallenge, a challenge without a method is stored as plain and redeemed by the equal verifier', async () => {
      const { allow, harness, redeem } = await authorizationSetup(backend, { allowPlainCodeChallenge: true })
      const code = expectCode(await allow({ code_challenge: APPENDIX_B_VERIFIER }))
      expect(await harness.code(code)).toMatchObject({ codeChallenge: APPENDIX_B_VERIFIER, codeChallengeMethod: 'plain' })
      expectErrorResponse(await redeem(code, OTHER_VERIFIER), 400, 'invalid_grant', /code_verifier/)
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER))
    })

    it('with allowPlainCodeChallenge, plain written out is accepted and S256 still is', async () => {
      const { allow, harness } = await authorizationSetup(backend, { allowPlainCodeChallenge: true })
      const plain = expectCode(await allow({ code_challenge: APPENDIX_B_VERIFIER, code_challenge_method: 'plain' }))
      expect((await harness.code(plain))?.codeChallengeMethod).toBe('plain')
      const s256Code = expectCode(await allow({ code_challenge: APPENDIX_B_CHALLENGE, code_challenge_method: 'S256' }))
      expect((await harness.code(s256Code))?.codeChallengeMethod).toBe('S256')
    })

    it.each(['s256', 'S512', 'SHA256', 'PLAIN', 'none'])('refuses the unknown code_challenge_method %s with invalid_request', async (method) => {
      for (const allowPlainCodeChallenge of [false, true]) {
        const { allow, harness } = await authorizationSetup(backend, { allowPlainCodeChallenge })
        expectPkceError(await allow({ code_challenge: APPENDIX_B_CHALLENGE, code_challenge_method: method }), /code_challenge_method/)
        expect(harness.savedCodes).toHaveLength(0)
      }
    })

    it('refuses code_challenge_method without code_challenge with invalid_request, even for a client exempt from PKCE', async () => {
      const { allow } = await authorizationSetup(backend)
      expectPkceError(await allow({ code_challenge_method: 'S256' }), /code_challenge/)
      expectPkceError(await allow({ client_id: EXEMPT_CLIENT_ID, code_challenge_method: 'S256' }), /code_challenge/)
    })
  })

  describe('RFC 7636 §4.4.1 Error Response (authorization endpoint)', () => {
    it('requires PKCE by default: a request without code_challenge is invalid_request, redirected with state and iss', async () => {
      const { allow, harness } = await authorizationSetup(backend)
      expectPkceError(await allow({}), /code_challenge/)
      expect(harness.savedCodes).toHaveLength(0)
    })

    it('treats an empty code_challenge as missing (RFC 6749 §3.1)', async () => {
      const { allow } = await authorizationSetup(backend)
      expectPkceError(await allow({ code_challenge: '', code_challenge_method: '' }), /code_challenge/)
    })

    it('lets a client the validator exempts (pkceRequired: false) omit the challenge; its code then takes no verifier', async () => {
      const { allow, harness, redeem } = await authorizationSetup(backend)
      const code = expectCode(await allow({ client_id: EXEMPT_CLIENT_ID }))
      expect((await harness.code(code))?.codeChallenge).toBeUndefined()
      const auth = { client_id: EXEMPT_CLIENT_ID, client_secret: EXEMPT_SECRET }
      // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a downgrade attempt.
      expectErrorResponse(await redeem(code, APPENDIX_B_VERIFIER, auth), 400, 'invalid_grant')
      expectIssued(await redeem(code, undefined, auth))
    })

    it('holds an exempt client that sends a challenge to it', async () => {
      const { allow, redeem } = await authorizationSetup(backend)
      const code = expectCode(await allow({ client_id: EXEMPT_CLIENT_ID, code_challenge: APPENDIX_B_CHALLENGE, code_challenge_method: 'S256' }))
      const auth = { client_id: EXEMPT_CLIENT_ID, client_secret: EXEMPT_SECRET }
      expectErrorResponse(await redeem(code, undefined, auth), 400, 'invalid_request', /code_verifier/)
      expectIssued(await redeem(code, APPENDIX_B_VERIFIER, auth))
    })

    // code-challenge has the code-verifier syntax, 43*128unreserved (RFC 7636 §4.1, §4.2).
    const malformed: Array<[string, string]> = [
      ['42 characters, one too few', verifierOfLength(42)],
      ['129 characters, one too many', verifierOfLength(129)],
      ['a "+"', `${verifierOfLength(42)}+`],
      ['a "/"', `${verifierOfLength(42)}/`],
      ['a "=" padding character', `${APPENDIX_B_CHALLENGE}=`],
      ['a space', `${verifierOfLength(21)} ${verifierOfLength(21)}`],
      ['a "%"', `${verifierOfLength(42)}%`],
      ['a non-ASCII letter', `${verifierOfLength(42)}é`],
    ]

    it.each(malformed)('refuses a code_challenge with %s as invalid_request, under S256 and plain', async (_case, challenge) => {
      for (const method of ['S256', 'plain']) {
        const { allow, harness } = await authorizationSetup(backend, { allowPlainCodeChallenge: true })
        expectPkceError(await allow({ code_challenge: challenge, code_challenge_method: method }), /code_challenge/)
        expect(harness.savedCodes).toHaveLength(0)
      }
    })

    it.each<[string, string]>([
      ['43 characters, the minimum', verifierOfLength(43)],
      ['128 characters, the maximum', verifierOfLength(128)],
      ['every unreserved character', UNRESERVED],
    ])('accepts a plain code_challenge of %s and redeems the code with it', async (_case, challenge) => {
      const { allow, redeem } = await authorizationSetup(backend, { allowPlainCodeChallenge: true })
      const code = expectCode(await allow({ code_challenge: challenge, code_challenge_method: 'plain' }))
      expectIssued(await redeem(code, challenge))
    })
  })

  describe('RFC 7636 Appendix B round trip through the authorization and token endpoints', () => {
    it('issues a code for the Appendix B challenge and redeems it once with the Appendix B verifier', async () => {
      const { allow, harness, redeem } = await authorizationSetup(backend)
      const code = expectCode(await allow({ code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }))
      // The challenge itself is no verifier, and a refused attempt does not spend the code.
      expectErrorResponse(await redeem(code, APPENDIX_B_CHALLENGE), 400, 'invalid_grant', /code_verifier/)
      const token = expectIssued(await redeem(code, 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'))
      expectErrorResponse(await redeem(code, APPENDIX_B_VERIFIER), 400, 'invalid_grant')
      expect(harness.saved.map((saved) => saved.context.grantType)).toEqual(['authorization_code'])
      // As the validator's storage keeps it.
      expect(await harness.token(token.access_token as string)).toMatchObject({ tokenType: 'access_token', clientId: CLIENT_ID, userId: 'user-alice', scopes: ['read'] })
    })
  })
})
