/**
 * The ready server as an OpenID Provider (issue 18), over a MemoryStore through `app.fetch`: the consent page names
 * what each OpenID scope reveals, ID tokens are signed with the store's keys (and follow a rotation), name the
 * session's sign-in, UserInfo answers the claims stored with the user, and discovery names the same issuer.
 */
import { createHash } from 'node:crypto'
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, type App, type AppOptions } from '../../src/app/app.js'
import { MemoryStore } from '../../src/store/memory/index.js'
import { type Store } from '../../src/store/store.js'
import { basic } from '../support/memory-validator.js'
import { Browser, hiddenField } from './browser.js'

const ISSUER = 'http://127.0.0.1:3000'
const REDIRECT = 'https://rp.example.com/cb'
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const PASSWORD = 'correct horse battery staple'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function setUp(options: Partial<AppOptions> = {}, given?: Store): Promise<{ app: App; store: Store; clientId: string; clientSecret: string; userId: string }> {
  const store = given ?? (await MemoryStore.open())
  const app = await createApp({ store, issuer: ISSUER, log: () => {}, ...options })
  cleanups.push(async () => {
    await app.close()
    await store.close()
  })
  const { clientId, clientSecret } = await store.clients.create({ name: 'Relying Party', redirectUris: [REDIRECT], scopes: ['openid', 'profile', 'email', 'read'] })
  const user = await store.users.create({ username: 'alice', password: PASSWORD, claims: { name: 'Alice Liddell', given_name: 'Alice', email: 'alice@example.com', email_verified: true, locale: 'en-GB' } })
  return { app, store, clientId, clientSecret: clientSecret as string, userId: user.userId }
}

/** Signs alice in, allows the request on the consent page, and returns the code and the consent page's HTML. */
async function authorize(app: App, clientId: string, scope: string, extra: Record<string, string> = {}) {
  const browser = new Browser(app, ISSUER)
  const path = `/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope, state: 's', nonce: 'n-123', code_challenge: CHALLENGE, code_challenge_method: 'S256', ...extra })}`
  const login = await browser.get(`/login?return_to=${encodeURIComponent(path)}`)
  const before = Math.floor(Date.now() / 1000)
  await browser.post('/login', { csrf_token: hiddenField(await login.text(), 'csrf_token'), return_to: path, username: 'alice', password: PASSWORD })
  const signedIn = Math.floor(Date.now() / 1000)
  // The authorization comes a second later than the sign-in, so that auth_time tells them apart.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const toConsent = new URL((await browser.get(path)).headers.get('Location') as string, ISSUER)
  expect(toConsent.pathname).toBe('/consent')
  const consent = await browser.get(`${toConsent.pathname}${toConsent.search}`)
  const html = await consent.text()
  const allowed = await browser.post('/consent', { csrf_token: hiddenField(html, 'csrf_token'), return_to: hiddenField(html, 'return_to'), decision: 'allow' })
  const code = new URL(allowed.headers.get('Location') as string).searchParams.get('code') as string
  return { code, html, before, signedIn }
}

async function redeem(app: App, clientId: string, clientSecret: string, code: string): Promise<Record<string, unknown>> {
  const response = await app.fetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(clientId, clientSecret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: VERIFIER }).toString(),
    }),
  )
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, unknown>
}

async function jwks(app: App) {
  return createLocalJWKSet((await (await app.fetch(new Request(`${ISSUER}/jwks.json`))).json()) as JSONWebKeySet)
}

describe('the ready server as an OpenID Provider', () => {
  it('names on the consent page, in plain words, what each OpenID scope reveals', async () => {
    const { app, clientId } = await setUp()
    const { html } = await authorize(app, clientId, 'openid profile email read')
    expect(html).toContain('<li>Know who you are when you sign in (your account identifier on this server) <span class="muted">(openid)</span></li>')
    expect(html).toMatch(/<li>Your profile: your name[^<]*<span class="muted">\(profile\)<\/span><\/li>/)
    expect(html).toContain('<li>Your email address, and whether it was verified <span class="muted">(email)</span></li>')
    expect(html).toContain('<li>read</li>')
  })

  it('issues an ID token signed with the key of /jwks.json, naming the session sign-in (auth_time, amr pwd) and the nonce', async () => {
    const { app, clientId, clientSecret, userId } = await setUp()
    const { code, before, signedIn } = await authorize(app, clientId, 'openid profile')
    const body = await redeem(app, clientId, clientSecret, code)
    const { payload, protectedHeader } = await jwtVerify(body.id_token as string, await jwks(app), { issuer: ISSUER, audience: clientId })
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: app.keys.current().kid })
    expect(payload).toMatchObject({ sub: userId, nonce: 'n-123', amr: ['pwd'] })
    // The time of the sign-in, not of the authorization or the token.
    expect(payload.auth_time).toBeGreaterThanOrEqual(before)
    expect(payload.auth_time).toBeLessThanOrEqual(signedIn)
    expect(payload.auth_time).toBeLessThan(payload.iat as number)
    expect(payload.at_hash).toBe(createHash('sha256').update(body.access_token as string).digest().subarray(0, 16).toString('base64url'))
  })

  it('signs with the new key after a rotation, the old one still published', async () => {
    const { app, clientId, clientSecret } = await setUp()
    const old = app.keys.current().kid
    const { kid } = await app.keys.rotate()
    const body = await redeem(app, clientId, clientSecret, (await authorize(app, clientId, 'openid')).code)
    const { protectedHeader } = await jwtVerify(body.id_token as string, await jwks(app))
    expect(protectedHeader.kid).toBe(kid)
    expect(app.keys.jwks().keys.map((key) => key.kid)).toEqual([kid, old])
  })

  it('answers UserInfo with the claims stored with the user, by scope, and refreshes with a new ID token', async () => {
    const { app, clientId, clientSecret, userId } = await setUp()
    const body = await redeem(app, clientId, clientSecret, (await authorize(app, clientId, 'openid email')).code)
    const info = await app.fetch(new Request(`${ISSUER}/userinfo`, { headers: { Authorization: `Bearer ${body.access_token as string}`, Origin: 'https://rp.example.com' } }))
    expect(info.status).toBe(200)
    expect(info.headers.get('cache-control')).toBe('no-store')
    expect(info.headers.get('access-control-allow-origin')).toBe('*')
    expect(await info.json()).toEqual({ sub: userId, email: 'alice@example.com', email_verified: true })
    const refreshed = await app.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(clientId, clientSecret) },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token as string }).toString(),
      }),
    )
    const again = (await refreshed.json()) as Record<string, unknown>
    const first = decodeJwt(body.id_token as string)
    expect(decodeJwt(again.id_token as string)).toMatchObject({ sub: userId, auth_time: first.auth_time, amr: ['pwd'] })
    expect(decodeJwt(again.id_token as string)).not.toHaveProperty('nonce')
  })

  it('serves discovery with the issuer of its ID tokens, the UserInfo endpoint and the OpenID scopes, open to browsers', async () => {
    const { app } = await setUp()
    const response = await app.fetch(new Request(`${ISSUER}/.well-known/openid-configuration`, { headers: { Origin: 'https://rp.example.com' } }))
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(await response.json()).toMatchObject({
      issuer: ISSUER,
      userinfo_endpoint: `${ISSUER}/userinfo`,
      jwks_uri: `${ISSUER}/jwks.json`,
      scopes_supported: ['openid', 'profile', 'email', 'address', 'phone'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['ES256'],
      response_types_supported: ['code'],
    })
  })

  it('signs with RS256 keys when told (signingAlg), and says so in discovery', async () => {
    const { app, clientId, clientSecret } = await setUp({ signingAlg: 'RS256' })
    const body = await redeem(app, clientId, clientSecret, (await authorize(app, clientId, 'openid')).code)
    const { protectedHeader } = await jwtVerify(body.id_token as string, await jwks(app), { issuer: ISSUER, audience: clientId })
    expect(protectedHeader.alg).toBe('RS256')
    const document = (await (await app.fetch(new Request(`${ISSUER}/.well-known/openid-configuration`))).json()) as Record<string, unknown>
    expect(document.id_token_signing_alg_values_supported).toEqual(['RS256'])
  })

  it('over a store whose key is ES256, signingAlg RS256 advertises both until the rotation brings the RS256 key in', async () => {
    const store = await MemoryStore.open()
    const first = await createApp({ store, issuer: ISSUER, log: () => {} })
    await first.close()
    const { app } = await setUp({ signingAlg: 'RS256' }, store)
    expect(app.keys.current().alg).toBe('ES256')
    expect(app.server.openIdConfigurationEndpoint?.claims.id_token_signing_alg_values_supported).toEqual(['ES256', 'RS256'])
    await app.keys.rotate()
    expect(app.keys.current().alg).toBe('RS256')
  })
})
