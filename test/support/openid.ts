/**
 * An OpenID Provider over a conformance backend, for the OpenID Connect conformance files: a `WebApplicationServer`
 * with an ID token signer, a relying party registered with `openid` and the profile scopes, a user, and the steps of
 * the code flow (authorize, redeem, refresh) as a relying party takes them.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK, type JWTPayload } from 'jose'
import {
  idTokenSigner,
  WebApplicationServer,
  type Authentication,
  type AuthorizationServerOptions,
  type OAuth2Response,
  type SigningAlgorithm,
  type User,
} from '../../src/index.js'
import { CONFORMANCE_ISSUER, type ConformanceBackend, type ConformanceHarness } from './conformance-backends.js'
import { basic, FORM } from './memory-validator.js'

export const ISSUER = CONFORMANCE_ISSUER
export const RP = 'rp'
export const RP_SECRET = 'rp-secret-0123456789'
export const REDIRECT_URI = 'https://rp.example.com/cb'
export const JWKS_URI = `${ISSUER}/jwks.json`
export const KID = 'oidc-test-key'
export const TOKEN_URI = `${ISSUER}/token`
export const USERINFO_URI = `${ISSUER}/userinfo`

/** A key pair of each algorithm, made once per file. */
const keys = new Map<SigningAlgorithm, Promise<{ privateKey: CryptoKey; publicJwk: JWK }>>()
export function keyPair(alg: SigningAlgorithm) {
  let pair = keys.get(alg)
  if (pair === undefined) {
    pair = generateKeyPair(alg, { extractable: true }).then(async ({ privateKey, publicKey }) => ({
      privateKey: privateKey as CryptoKey,
      publicJwk: { ...(await exportJWK(publicKey)), kid: KID, alg, use: 'sig' },
    }))
    keys.set(alg, pair)
  }
  return pair
}

/** The PKCE pair of a request: a random verifier and its S256 challenge (RFC 7636 §4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export interface Provider {
  readonly harness: ConformanceHarness
  readonly server: WebApplicationServer
  readonly user: User & { readonly username: string }
  readonly publicJwk: JWK
  /** The authorization endpoint's answer to a request with these parameters, allowed by the user (`null`: no sign-in given). */
  authorize(params?: Record<string, string | undefined>, authentication?: Authentication | null): Promise<{ response: OAuth2Response; code: string | undefined; verifier: string }>
  /** Redeems a code at the token endpoint (client_secret_basic). */
  redeem(code: string, verifier: string, overrides?: Record<string, string | undefined>): Promise<OAuth2Response>
  /** Refreshes at the token endpoint. */
  refresh(refreshToken: string, overrides?: Record<string, string | undefined>): Promise<OAuth2Response>
  /** Verifies an ID token's signature with the published key and returns its header and claims. */
  verify(idToken: string): Promise<{ header: Record<string, unknown>; claims: JWTPayload }>
  /** The whole code flow: an authorization request with `scope`, allowed, redeemed. */
  signIn(scope?: string, authentication?: Authentication, extra?: Record<string, string>): Promise<Record<string, unknown>>
}

/** The sign-in every flow names unless a test says otherwise: a password, a minute ago. */
export function recentSignIn(): Authentication {
  return { authTime: Math.floor(Date.now() / 1000) - 60, amr: ['pwd'] }
}

export async function openProvider(backend: ConformanceBackend, options: { alg?: SigningAlgorithm; server?: AuthorizationServerOptions } = {}): Promise<Provider> {
  const alg = options.alg ?? 'ES256'
  const { privateKey, publicJwk } = await keyPair(alg)
  const harness = await backend.open()
  await harness.addClient({ clientId: RP, secret: RP_SECRET, redirectUris: [REDIRECT_URI], scopes: ['openid', 'profile', 'email', 'address', 'phone', 'read'] })
  const user = await harness.addUser('alice', 'wonderland')
  const server = new WebApplicationServer(harness.validator, {
    issuer: ISSUER,
    idTokenSigner: idTokenSigner(privateKey, { issuer: ISSUER, alg, kid: KID }),
    metadata: { jwks_uri: JWKS_URI },
    onError: () => {},
    ...options.server,
  })
  const jwks = createLocalJWKSet({ keys: [publicJwk] })
  const provider: Provider = {
    harness,
    server,
    user,
    publicJwk,
    async authorize(params = {}, authentication = recentSignIn()) {
      const { verifier, challenge } = pkce()
      const query = new URLSearchParams()
      const all: Record<string, string | undefined> = {
        response_type: 'code',
        client_id: RP,
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        state: 'af0ifjsldkj',
        nonce: 'n-0S6_WzA2Mj',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        ...params,
      }
      for (const [name, value] of Object.entries(all)) if (value !== undefined) query.append(name, value)
      const response = await server.createAuthorizationResponse(`${ISSUER}/authorize?${query}`, 'GET', undefined, {}, undefined, user, authentication ?? undefined)
      const location = response.headers.Location
      const code = location === undefined ? undefined : (new URL(location).searchParams.get('code') ?? undefined)
      return { response, code, verifier }
    },
    redeem(code, verifier, overrides = {}) {
      const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier, ...overrides }
      return server.createTokenResponse(TOKEN_URI, 'POST', formOf(form), { ...FORM, Authorization: basic(RP, RP_SECRET) })
    },
    refresh(refreshToken, overrides = {}) {
      return server.createTokenResponse(TOKEN_URI, 'POST', formOf({ grant_type: 'refresh_token', refresh_token: refreshToken, ...overrides }), {
        ...FORM,
        Authorization: basic(RP, RP_SECRET),
      })
    },
    async verify(idToken) {
      const { payload, protectedHeader } = await jwtVerify(idToken, jwks, { issuer: ISSUER, audience: RP })
      return { header: protectedHeader as Record<string, unknown>, claims: payload }
    },
    async signIn(scope = 'openid', authentication = recentSignIn(), extra = {}) {
      const { code, verifier, response } = await provider.authorize({ scope, ...extra }, authentication)
      if (code === undefined) throw new Error(`no code: ${response.status} ${response.headers.Location ?? response.body}`)
      const token = await provider.redeem(code, verifier)
      if (token.status !== 200) throw new Error(`no token: ${token.body}`)
      return JSON.parse(token.body) as Record<string, unknown>
    },
  }
  return provider
}

function formOf(params: Record<string, string | undefined>): string {
  const form = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.append(name, value)
  return form.toString()
}

/** at_hash computed independently of oauthkit (OpenID Connect Core §3.1.3.6). */
export function expectedAtHash(accessToken: string, alg: SigningAlgorithm): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256').update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}
