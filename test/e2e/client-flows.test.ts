/**
 * The running server, started through the CLI (`oauthkit serve`), driven by a client library oauthkit did not write
 * (oauth4webapi) and by a user in headless Chromium: client credentials, authorization code with PKCE through the
 * login and consent pages, refresh, introspection and revocation. Once with opaque tokens, once with JWT access
 * tokens (RFC 9068). The screenshots of the login and consent pages are kept under test-results/e2e/.
 */
import { join } from 'node:path'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  addClient,
  addUser,
  authorizationUrl,
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

/** A test takes a second or two; the margin is for a loaded machine (npm test runs every file at once). */
const TIMEOUT = 60_000
/** oauth4webapi refuses plain http unless told: the server runs on loopback (development). */
const insecure = { [oauth.allowInsecureRequests]: true } as const

describe.each(['opaque', 'jwt'] as const)('oauthkit serve --token-format %s, driven by oauth4webapi and Chromium', (tokenFormat) => {
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined
  let server: RunningServer
  let callback: CallbackServer | undefined
  let browser: Browser | undefined
  let user: AddedUser
  let registered: AddedClient
  let as: oauth.AuthorizationServer
  let client: oauth.Client
  let clientAuth: oauth.ClientAuth
  /** The tokens of the code flow, then of the refresh, for the tests after them. */
  let codeTokens: oauth.TokenEndpointResponse | undefined
  let refreshed: oauth.TokenEndpointResponse | undefined

  beforeAll(async () => {
    dir = await tempDir(`flows-${tokenFormat}`)
    const db = `sqlite:${join(dir.path, 'oauthkit.db')}`
    callback = await startCallbackServer()
    server = await startServer(db, ['--token-format', tokenFormat])
    // Added while the server runs, by other processes on the same database, as an operator would.
    user = await addUser(db, 'alice', 'correct horse battery staple')
    registered = await addClient(db, {
      name: 'Billing Dashboard',
      redirectUri: callback.redirectUri,
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      scope: 'read write',
    })
    client = { client_id: registered.client_id }
    clientAuth = oauth.ClientSecretBasic(registered.client_secret)
    browser = await launchBrowser()
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await callback?.close()
    await server?.stop()
    await dir?.remove()
  }, TIMEOUT)

  /** Introspects a token with the client's credentials, through oauth4webapi. */
  async function introspect(token: string): Promise<oauth.IntrospectionResponse> {
    return oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, token, insecure))
  }

  /** Verifies a JWT access token against the server's published keys (RFC 9068 §4). */
  async function verifyJwt(token: string) {
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri as string))
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: as.issuer, audience: as.issuer, typ: 'at+jwt' })
    return { payload, protectedHeader }
  }

  it('discovers the server from /.well-known/oauth-authorization-server (RFC 8414)', async () => {
    const issuer = new URL(server.issuer)
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
    expect(as.issuer).toBe(server.issuer)
    expect(server.url).toBe(server.issuer)
    expect(as).toMatchObject({
      authorization_endpoint: `${server.issuer}/authorize`,
      token_endpoint: `${server.issuer}/token`,
      revocation_endpoint: `${server.issuer}/revoke`,
      introspection_endpoint: `${server.issuer}/introspect`,
      jwks_uri: `${server.issuer}/jwks.json`,
      authorization_response_iss_parameter_supported: true,
    })
    expect(as.code_challenge_methods_supported).toContain('S256')
  }, TIMEOUT)

  it('issues a client credentials token (RFC 6749 §4.4)', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, client, clientAuth, { scope: 'read' }, insecure)
    const tokens = await oauth.processClientCredentialsResponse(as, client, response)
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.expires_in).toBe(3600)
    expect(tokens.refresh_token).toBeUndefined()
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true, client_id: registered.client_id, scope: 'read' })
    if (tokenFormat === 'jwt') {
      const { payload } = await verifyJwt(tokens.access_token)
      expect(payload).toMatchObject({ sub: registered.client_id, client_id: registered.client_id, scope: 'read' })
    }
  }, TIMEOUT)

  it('runs the authorization code flow with PKCE through the login and consent pages in Chromium', async () => {
    const context = await browser!.newContext()
    try {
      const page = await context.newPage()
      const codeVerifier = oauth.generateRandomCodeVerifier()
      const state = oauth.generateRandomState()
      const url = authorizationUrl(as.authorization_endpoint as string, {
        clientId: registered.client_id,
        redirectUri: callback!.redirectUri,
        scope: 'read write',
        state,
        codeChallenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      })

      await page.goto(url)
      expect(new URL(page.url()).pathname).toBe('/login')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in')
      await screenshot(page, `login-${tokenFormat}`)
      await signIn(page, user.username, user.password)

      await page.waitForURL((next) => next.pathname === '/consent')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Allow Billing Dashboard to access your account?')
      expect(await page.getByRole('listitem').allTextContents()).toEqual(['read', 'write'])
      expect(await page.getByText('Signed in as alice').count()).toBe(1)
      await screenshot(page, `consent-${tokenFormat}`)
      await page.getByRole('button', { name: 'Allow' }).click()

      // The browser ends at the client's redirect URI with code, state and iss (RFC 9207).
      await page.waitForURL((next) => next.href.startsWith(`${callback!.redirectUri}?`))
      expect(callback!.received).toHaveLength(1)
      const received = callback!.received[0] as URL
      expect(received.searchParams.get('state')).toBe(state)
      expect(received.searchParams.get('iss')).toBe(server.issuer)
      expect(received.searchParams.get('code')).toMatch(/^\S{20,}$/)

      // oauth4webapi checks state and iss (the metadata announces iss, so it is required), then redeems the code.
      const parameters = oauth.validateAuthResponse(as, client, received, state)
      const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, parameters, callback!.redirectUri, codeVerifier, insecure)
      codeTokens = await oauth.processAuthorizationCodeResponse(as, client, response)
      expect(codeTokens.token_type).toBe('bearer')
      expect(codeTokens.expires_in).toBe(3600)
      expect(codeTokens.refresh_token).toEqual(expect.any(String))
      expect(codeTokens.scope).toBe('read write')
      if (tokenFormat === 'jwt') {
        const { payload, protectedHeader } = await verifyJwt(codeTokens.access_token)
        expect(payload).toMatchObject({ sub: user.user_id, client_id: registered.client_id, scope: 'read write' })
        expect(protectedHeader.kid).toEqual(expect.any(String))
      } else {
        expect(() => decodeProtectedHeader(codeTokens!.access_token)).toThrow()
      }
    } finally {
      await context.close()
    }
  }, TIMEOUT)

  it('refreshes the tokens and rotates the refresh token (RFC 6749 §6)', async () => {
    expect(codeTokens, 'needs the tokens of the code flow above').toBeDefined()
    const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, codeTokens!.refresh_token as string, insecure)
    refreshed = await oauth.processRefreshTokenResponse(as, client, response)
    expect(refreshed.token_type).toBe('bearer')
    expect(refreshed.scope).toBe('read write')
    expect(refreshed.access_token).not.toBe(codeTokens!.access_token)
    expect(refreshed.refresh_token).toEqual(expect.any(String))
    expect(refreshed.refresh_token).not.toBe(codeTokens!.refresh_token)
    if (tokenFormat === 'jwt') expect((await verifyJwt(refreshed.access_token)).payload).toMatchObject({ sub: user.user_id, scope: 'read write' })
  }, TIMEOUT)

  it('introspects the refreshed access token as active, for alice, with its scope (RFC 7662)', async () => {
    expect(refreshed, 'needs the refreshed tokens above').toBeDefined()
    expect(await introspect(refreshed!.access_token)).toMatchObject({
      active: true,
      username: 'alice',
      scope: 'read write',
      client_id: registered.client_id,
    })
  }, TIMEOUT)

  it('revokes the access token and the refresh token; introspection then answers inactive (RFC 7009)', async () => {
    expect(refreshed, 'needs the refreshed tokens above').toBeDefined()
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, refreshed!.access_token, insecure))
    expect(await introspect(refreshed!.access_token)).toEqual({ active: false })

    const refreshToken = refreshed!.refresh_token as string
    expect((await introspect(refreshToken)).active).toBe(true)
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, refreshToken, insecure))
    expect(await introspect(refreshToken)).toEqual({ active: false })
    const refused = oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, insecure))
    await expect(refused).rejects.toMatchObject({ code: oauth.RESPONSE_BODY_ERROR, error: 'invalid_grant' })
  }, TIMEOUT)

  it('shuts down on SIGTERM with exit code 0 and its shutdown line', async () => {
    await browser?.close()
    browser = undefined
    const exit = await server.stop()
    expect(exit.stdout).toContain('oauthkit: shutting down')
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(exit.stderr).toBe('')
  }, TIMEOUT)
})
