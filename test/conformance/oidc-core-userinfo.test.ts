/**
 * OpenID Connect Core 1.0 conformance, the UserInfo endpoint (§5.3): a Bearer access token granted `openid` gets `sub`
 * and the claims of its scopes (§5.4), never cached; anything else gets the RFC 6750 §3 challenge. Over the test
 * double and StoreValidator on each store: the token and the user's claims come from the validator.
 */
import { describe, expect, it } from 'vitest'
import { decodeJwt } from 'jose'
import { type OAuth2Response } from '../../src/index.js'
import { CONFORMANCE_BACKENDS } from '../support/conformance-backends.js'
import { FORM } from '../support/memory-validator.js'
import { openProvider, RP, USERINFO_URI, type Provider } from '../support/openid.js'

/** Everything alice's profile holds: a claim of each standard scope, and one of none. */
const PROFILE = {
  name: 'Alice Liddell',
  given_name: 'Alice',
  family_name: 'Liddell',
  locale: 'en-GB',
  updated_at: 1_700_000_000,
  email: 'alice@example.com',
  email_verified: true,
  address: { formatted: '1 Rabbit Hole, Oxford', country: 'GB' },
  phone_number: '+44 1865 000000',
  phone_number_verified: false,
}

async function signedIn(backend: (typeof CONFORMANCE_BACKENDS)[number], scope: string): Promise<{ provider: Provider; accessToken: string; idToken: string | undefined }> {
  const provider = await openProvider(backend)
  await provider.harness.setClaims(provider.user.userId, PROFILE)
  const body = await provider.signIn(scope)
  return { provider, accessToken: body.access_token as string, idToken: body.id_token as string | undefined }
}

function userInfo(provider: Provider, accessToken: string | undefined, method = 'GET'): Promise<OAuth2Response> {
  return provider.server.createUserInfoResponse(USERINFO_URI, method, undefined, accessToken === undefined ? {} : { Authorization: `Bearer ${accessToken}` })
}

function expectClaims(response: OAuth2Response): Record<string, unknown> {
  expect(response.status, response.body).toBe(200)
  expect(response.headers).toMatchObject({ 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store' })
  return JSON.parse(response.body) as Record<string, unknown>
}

describe.each(CONFORMANCE_BACKENDS)('OpenID Connect Core over $name', (backend) => {
  describe('§5.3.1 UserInfo Request, §5.3.2 Successful UserInfo Response', () => {
    it('answers a GET with the token in the Authorization header: sub, the ID token\'s, and nothing else for openid alone', async () => {
      const { provider, accessToken, idToken } = await signedIn(backend, 'openid')
      const claims = expectClaims(await userInfo(provider, accessToken))
      expect(claims).toEqual({ sub: provider.user.userId })
      expect(claims.sub).toBe(decodeJwt(idToken as string).sub)
    })

    it('answers a POST with the token in the Authorization header, and one with the token in a form body (RFC 6750 §2.2)', async () => {
      const { provider, accessToken } = await signedIn(backend, 'openid email')
      expect(expectClaims(await userInfo(provider, accessToken, 'POST')).email).toBe(PROFILE.email)
      const form = await provider.server.createUserInfoResponse(USERINFO_URI, 'POST', `access_token=${encodeURIComponent(accessToken)}`, FORM)
      expect(expectClaims(form).email).toBe(PROFILE.email)
    })
  })

  describe('§5.3.3 UserInfo Error Response (RFC 6750 §3)', () => {
    it('answers a token without openid with 403 insufficient_scope and its challenge', async () => {
      const { provider, accessToken } = await signedIn(backend, 'read')
      const response = await userInfo(provider, accessToken)
      expect(response.status).toBe(403)
      expect(response.headers['WWW-Authenticate']).toMatch(/^Bearer scope="openid", error="insufficient_scope", error_description="[^"]+"$/)
      expect(response.headers['Cache-Control']).toBe('no-store')
      expect(JSON.parse(response.body)).toMatchObject({ error: 'insufficient_scope' })
      expect(response.body).not.toMatch(/alice/i)
    })

    it('answers an unknown token with 401 invalid_token', async () => {
      const { provider } = await signedIn(backend, 'openid profile')
      const response = await userInfo(provider, 'not-a-token-we-issued')
      expect(response.status).toBe(401)
      expect(response.headers['WWW-Authenticate']).toMatch(/^Bearer scope="openid", error="invalid_token"/)
      expect(JSON.parse(response.body)).toMatchObject({ error: 'invalid_token' })
    })

    it('answers a refresh token, or a revoked access token, with 401 invalid_token', async () => {
      const provider = await openProvider(backend)
      const body = await provider.signIn('openid profile')
      expect((await userInfo(provider, body.refresh_token as string)).status).toBe(401)
      await provider.server.createRevocationResponse(`${provider.server.metadataEndpoint?.claims.issuer}/revoke`, 'POST', `token=${encodeURIComponent(body.access_token as string)}`, {
        ...FORM,
        Authorization: `Basic ${btoa(`${RP}:rp-secret-0123456789`)}`,
      })
      const revoked = await userInfo(provider, body.access_token as string)
      expect(revoked.status).toBe(401)
      expect(revoked.headers['WWW-Authenticate']).toMatch(/error="invalid_token"/)
    })

    it('answers a request without a token with 401 and a challenge without an error code', async () => {
      const { provider } = await signedIn(backend, 'openid')
      const response = await userInfo(provider, undefined)
      expect(response.status).toBe(401)
      expect(response.headers['WWW-Authenticate']).toBe('Bearer scope="openid"')
    })

    it('answers another method with 405 and Allow: GET, POST', async () => {
      const { provider, accessToken } = await signedIn(backend, 'openid')
      const response = await userInfo(provider, accessToken, 'PUT')
      expect(response.status).toBe(405)
      expect(response.headers.Allow).toBe('GET, POST')
    })
  })

  describe('§5.4 Requesting Claims using Scope Values', () => {
    it.each([
      ['profile', ['name', 'given_name', 'family_name', 'locale', 'updated_at']],
      ['email', ['email', 'email_verified']],
      ['address', ['address']],
      ['phone', ['phone_number', 'phone_number_verified']],
    ])('openid %s releases exactly the claims of that scope', async (scope, names) => {
      const { provider, accessToken } = await signedIn(backend, `openid ${scope}`)
      const claims = expectClaims(await userInfo(provider, accessToken))
      expect(Object.keys(claims).sort()).toEqual(['sub', ...names].sort())
      for (const name of names) expect(claims[name]).toEqual(PROFILE[name as keyof typeof PROFILE])
    })

    it('releases the claims of every scope granted together', async () => {
      const { provider, accessToken } = await signedIn(backend, 'openid profile email address phone')
      expect(expectClaims(await userInfo(provider, accessToken))).toEqual({ sub: provider.user.userId, ...PROFILE })
    })

    it('leaves out claims the user has no value for, and never lets the profile replace sub', async () => {
      const provider = await openProvider(backend)
      await provider.harness.setClaims(provider.user.userId, { sub: 'someone-else', name: 'Alice', nickname: null })
      const body = await provider.signIn('openid profile')
      expect(expectClaims(await userInfo(provider, body.access_token as string))).toEqual({ sub: provider.user.userId, name: 'Alice' })
    })
  })
})
