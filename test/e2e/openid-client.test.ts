/**
 * OpenID Connect end to end (issue 18): `oauthkit serve`, started through the CLI, and a relying party oauthkit did
 * not write, openid-client 6, with its default discovery (`/.well-known/openid-configuration`) and its default client
 * authentication (client_secret_post). A user signs in through the pages in headless Chromium; openid-client checks
 * the ID token (signature from the JWKS, iss, aud, nonce, auth_time against max_age), calls UserInfo expecting the ID
 * token's sub, and refreshes for a new ID token. Once with opaque access tokens and ES256 keys (the defaults), once
 * with JWT access tokens and RS256 keys (`--signing-alg RS256`).
 */
import { join } from 'node:path'
import * as client from 'openid-client'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addUser,
  cliJson,
  launchBrowser,
  screenshot,
  signIn,
  startCallbackServer,
  startServer,
  tempDir,
  type AddedClient,
  type AddedUser,
  type CallbackServer,
  type RunningServer,
} from './support.js'

const TIMEOUT = 60_000
const MAX_AGE = 300

describe.each([
  { tokenFormat: 'opaque', alg: 'ES256' },
  { tokenFormat: 'jwt', alg: 'RS256' },
] as const)('oauthkit serve --token-format $tokenFormat --signing-alg $alg as an OpenID Provider, for openid-client 6 and Chromium', ({ tokenFormat, alg }) => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer
  let callback: CallbackServer | undefined
  let browser: Browser | undefined
  let user: AddedUser
  let registered: AddedClient
  let config: client.Configuration
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>> | undefined

  beforeAll(async () => {
    dir = await tempDir(`openid-${tokenFormat}`)
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    callback = await startCallbackServer()
    server = await startServer(db, ['--token-format', tokenFormat, '--signing-alg', alg])
    user = await addUser(db, 'alice', 'correct horse battery staple')
    await cliJson(db, ['users', 'update', 'alice', '--claim', 'name=Alice Liddell', '--claim', 'given_name=Alice', '--claim', 'family_name=Liddell', '--claim', 'email=alice@example.com', '--claim', 'email_verified=true', '--claim', 'locale=en-GB', '--claim', 'phone_number=+44 1865 000000'])
    // openid-client authenticates with client_secret_post unless told otherwise: the client is registered so.
    registered = await cliJson<AddedClient>(db, [
      'clients', 'add', '--name', 'Relying Party', '--redirect-uri', callback.redirectUri,
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--scope', 'openid profile email', '--auth-method', 'client_secret_post',
    ])
    browser = await launchBrowser()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await callback?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it('is discovered from /.well-known/openid-configuration with the defaults of openid-client', async () => {
    config = await client.discovery(new URL(server.issuer), registered.client_id, registered.client_secret, undefined, { execute: [client.allowInsecureRequests] })
    expect(config.serverMetadata()).toMatchObject({
      issuer: server.issuer,
      authorization_endpoint: `${server.issuer}/authorize`,
      token_endpoint: `${server.issuer}/token`,
      userinfo_endpoint: `${server.issuer}/userinfo`,
      jwks_uri: `${server.issuer}/jwks.json`,
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [alg],
    })
    expect(config.serverMetadata().scopes_supported).toContain('openid')
  }, TIMEOUT)

  it('signs alice in through the pages and validates the ID token: signature, nonce, and auth_time within max_age', async () => {
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      const codeVerifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const nonce = client.randomNonce()
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: callback!.redirectUri,
        scope: 'openid profile email',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        max_age: String(MAX_AGE),
      })
      await page.goto(url.href)
      await signIn(page, user.username, user.password)
      await page.waitForURL((next) => next.pathname === '/consent')
      // The consent page says in plain words what each OpenID scope lets the application learn.
      expect(await page.getByRole('listitem').allTextContents()).toEqual([
        'Know who you are when you sign in (your account identifier on this server) (openid)',
        'Your profile: your name, nickname, picture, website, gender, birthdate, time zone and language (profile)',
        'Your email address, and whether it was verified (email)',
      ])
      await screenshot(page, `consent-openid-${tokenFormat}`)
      await page.getByRole('button', { name: 'Allow' }).click()
      await page.waitForURL((next) => next.href.startsWith(`${callback!.redirectUri}?`))
      const received = callback!.withState(state)[0] as URL

      tokens = await client.authorizationCodeGrant(config, received, { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, maxAge: MAX_AGE })
      const claims = tokens.claims()
      expect(claims).toMatchObject({ iss: server.issuer, aud: registered.client_id, sub: user.user_id, nonce, amr: ['pwd'] })
      expect(claims?.auth_time).toBeGreaterThan(Math.floor(Date.now() / 1000) - MAX_AGE)
      expect(JSON.parse(Buffer.from((tokens.id_token as string).split('.')[0] as string, 'base64url').toString())).toMatchObject({ alg, typ: 'JWT' })
      expect(tokens.refresh_token).toEqual(expect.any(String))
    } finally {
      await context.close()
    }
  }, TIMEOUT)

  it('fetches UserInfo expecting the ID token\'s sub: the claims of profile and email, and not the phone number', async () => {
    expect(tokens, 'needs the tokens of the sign-in above').toBeDefined()
    const sub = tokens!.claims()?.sub as string
    const info = await client.fetchUserInfo(config, tokens!.access_token, sub)
    expect(info).toEqual({
      sub: user.user_id,
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
      locale: 'en-GB',
      email: 'alice@example.com',
      email_verified: true,
    })
    // openid-client refuses a UserInfo answer about someone else (Core §5.3.4).
    await expect(client.fetchUserInfo(config, tokens!.access_token, 'somebody-else')).rejects.toThrow(/unexpected JSON attribute value/)
  }, TIMEOUT)

  it('refreshes for a new ID token of the same sub and auth_time, without nonce', async () => {
    expect(tokens, 'needs the tokens of the sign-in above').toBeDefined()
    const first = tokens!.claims()
    const refreshed = await client.refreshTokenGrant(config, tokens!.refresh_token as string)
    expect(refreshed.id_token).toEqual(expect.any(String))
    expect(refreshed.id_token).not.toBe(tokens!.id_token)
    const claims = refreshed.claims()
    expect(claims).toMatchObject({ iss: server.issuer, aud: registered.client_id, sub: first?.sub, auth_time: first?.auth_time })
    expect(claims).not.toHaveProperty('nonce')
    expect(await client.fetchUserInfo(config, refreshed.access_token, first?.sub as string)).toMatchObject({ sub: user.user_id, email: 'alice@example.com' })
  }, TIMEOUT)
})
