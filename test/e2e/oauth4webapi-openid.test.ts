/**
 * OpenID Connect end to end with oauth4webapi's strict checks (issue 18): `oauthkit serve` as an OpenID Provider,
 * discovered with `algorithm: 'oidc'`, a user signing in through Chromium, the code redeemed with
 * `processAuthorizationCodeResponse` expecting the nonce and `max_age` (which verifies the ID token's claims, and
 * refuses an `iss` or `aud` that is not this server's and this client's), the signature and `at_hash` checked against
 * the JWKS, UserInfo checked for the ID token's `sub`, and a refresh giving a new ID token.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addUser, cliJson, launchBrowser, signIn, startCallbackServer, startServer, tempDir, type AddedClient, type AddedUser, type CallbackServer, type RunningServer } from './support.js'

const TIMEOUT = 60_000
const MAX_AGE = 300
const insecure = { [oauth.allowInsecureRequests]: true }

describe('oauthkit serve as an OpenID Provider, for oauth4webapi with its OpenID checks and Chromium', () => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer
  let callback: CallbackServer | undefined
  let browser: Browser | undefined
  let user: AddedUser
  let registered: AddedClient
  let as: oauth.AuthorizationServer
  let client: oauth.Client
  let auth: oauth.ClientAuth
  let tokens: oauth.TokenEndpointResponse | undefined

  beforeAll(async () => {
    dir = await tempDir('oauth4webapi-openid')
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    callback = await startCallbackServer()
    server = await startServer(db)
    user = await addUser(db, 'alice', 'correct horse battery staple')
    await cliJson(db, ['users', 'update', 'alice', '--claim', 'name=Alice Liddell', '--claim', 'email=alice@example.com', '--claim', 'email_verified=true'])
    registered = await cliJson<AddedClient>(db, [
      'clients', 'add', '--name', 'Strict Relying Party', '--redirect-uri', callback.redirectUri,
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--scope', 'openid profile email',
    ])
    client = { client_id: registered.client_id }
    auth = oauth.ClientSecretBasic(registered.client_secret)
    browser = await launchBrowser()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await callback?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  it('is discovered through OpenID Connect Discovery, whose issuer is the URL it was fetched from', async () => {
    const issuer = new URL(server.issuer)
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }))
    expect(as).toMatchObject({ issuer: server.issuer, userinfo_endpoint: `${server.issuer}/userinfo`, jwks_uri: `${server.issuer}/jwks.json` })
  }, TIMEOUT)

  it('signs alice in, and the ID token passes every check of oauth4webapi (claims, nonce, auth_time within max_age), its signature and at_hash', async () => {
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      const verifier = oauth.generateRandomCodeVerifier()
      const state = oauth.generateRandomState()
      const nonce = oauth.generateRandomNonce()
      const url = new URL(as.authorization_endpoint as string)
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: callback!.redirectUri,
        scope: 'openid profile email',
        state,
        nonce,
        max_age: String(MAX_AGE),
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString()
      await page.goto(url.href)
      await signIn(page, user.username, user.password)
      await page.waitForURL((next) => next.pathname === '/consent')
      await page.getByRole('button', { name: 'Allow' }).click()
      await page.waitForURL((next) => next.href.startsWith(`${callback!.redirectUri}?`))
      const received = callback!.withState(state)[0] as URL

      // RFC 9207: the response names its issuer, and oauth4webapi checks it.
      const params = oauth.validateAuthResponse(as, client, received, state)
      const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, callback!.redirectUri, verifier, insecure)
      tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, maxAge: MAX_AGE, requireIdToken: true })
      const claims = oauth.getValidatedIdTokenClaims(tokens)
      expect(claims).toMatchObject({ iss: server.issuer, aud: client.client_id, sub: user.user_id, nonce })
      // oauth4webapi trusts TLS for the signature of an ID token from the token endpoint: checked here against the JWKS,
      // with at_hash (Core §3.1.3.6: the left half of the access token's SHA-256).
      const verified = await jwtVerify(tokens.id_token as string, createRemoteJWKSet(new URL(as.jwks_uri as string)), { issuer: server.issuer, audience: client.client_id })
      expect(verified.protectedHeader.alg).toBe('ES256')
      const digest = createHash('sha256').update(tokens.access_token).digest()
      expect(verified.payload.at_hash).toBe(digest.subarray(0, 16).toString('base64url'))
    } finally {
      await context.close()
    }
  }, TIMEOUT)

  it('reads UserInfo for the ID token\'s sub, and refuses an answer about someone else', async () => {
    expect(tokens, 'needs the sign-in above').toBeDefined()
    const sub = oauth.getValidatedIdTokenClaims(tokens!)!.sub
    const info = await oauth.processUserInfoResponse(as, client, sub, await oauth.userInfoRequest(as, client, tokens!.access_token, insecure))
    expect(info).toMatchObject({ sub: user.user_id, name: 'Alice Liddell', email: 'alice@example.com', email_verified: true })
    await expect(oauth.processUserInfoResponse(as, client, 'somebody-else', await oauth.userInfoRequest(as, client, tokens!.access_token, insecure))).rejects.toThrow()
  }, TIMEOUT)

  it('refreshes for a new ID token of the same sub, which oauth4webapi validates again', async () => {
    expect(tokens, 'needs the sign-in above').toBeDefined()
    const first = oauth.getValidatedIdTokenClaims(tokens!)!
    const response = await oauth.refreshTokenGrantRequest(as, client, auth, tokens!.refresh_token as string, insecure)
    const refreshed = await oauth.processRefreshTokenResponse(as, client, response)
    expect(refreshed.id_token).toEqual(expect.any(String))
    expect(oauth.getValidatedIdTokenClaims(refreshed)).toMatchObject({ iss: server.issuer, aud: client.client_id, sub: first.sub, auth_time: first.auth_time })
  }, TIMEOUT)
})
