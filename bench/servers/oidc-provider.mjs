/**
 * oidc-provider, configured as issue 7 says: features clientCredentials and introspection, `scopes: ['read']`,
 * `ttl.ClientCredentials`; JWT access tokens through `resourceIndicators` with `accessTokenFormat: 'jwt'` (ES256).
 * Its data lives in an unbounded in-memory adapter (`MapAdapter` below): the bundled development adapter is an LRU
 * of 1000 entries, which would evict the pre-issued codes.
 */
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { CODE_TTL, pkcePair, randomToken, REDIRECT_URI, SCOPE, TOKEN_TTL, USERNAME } from '../lib/common.mjs'

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest'])
const models = new Map()
const grants = new Map()

/** oidc-provider's adapter interface over plain Maps, with expiry and revocation by grant. */
class MapAdapter {
  constructor(name) {
    this.name = name
    if (!models.has(name)) models.set(name, new Map())
    this.entries = models.get(name)
  }
  async upsert(id, payload, expiresIn) {
    this.entries.set(id, { payload, expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity })
    if (GRANTABLE.has(this.name) && payload.grantId) {
      let members = grants.get(payload.grantId)
      if (members === undefined) grants.set(payload.grantId, (members = []))
      members.push([this.entries, id])
    }
  }
  async find(id) {
    const entry = this.entries.get(id)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(id)
      return undefined
    }
    return entry.payload
  }
  async findByUid(uid) {
    for (const { payload } of this.entries.values()) if (payload.uid === uid) return payload
    return undefined
  }
  async findByUserCode(userCode) {
    for (const { payload } of this.entries.values()) if (payload.userCode === userCode) return payload
    return undefined
  }
  async consume(id) {
    const entry = this.entries.get(id)
    if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000)
  }
  async destroy(id) {
    this.entries.delete(id)
  }
  async revokeByGrantId(grantId) {
    for (const [entries, id] of grants.get(grantId) ?? []) entries.delete(id)
    grants.delete(grantId)
  }
}

export async function start({ scenario, port }) {
  const issuer = `http://127.0.0.1:${port}`
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const kid = 'bench'
  const publicJwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }] }
  const clientId = 'bench'
  const clientSecret = randomToken()
  const jwt = scenario === 'cc-jwt'
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: SCOPE,
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' }] },
    scopes: [SCOPE],
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    issueRefreshToken: () => true,
    rotateRefreshToken: () => true,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => true },
      ...(jwt
        ? {
            resourceIndicators: {
              enabled: true,
              defaultResource: () => 'urn:bench:api',
              useGrantedResource: () => true,
              getResourceServerInfo: () => ({ scope: SCOPE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
            },
          }
        : {}),
    },
    ttl: { ClientCredentials: TOKEN_TTL, AccessToken: TOKEN_TTL, AuthorizationCode: CODE_TTL, RefreshToken: 30 * 24 * 3600, Grant: 30 * 24 * 3600 },
  })
  const client = await provider.Client.find(clientId)

  async function issueCodes(count) {
    const codes = []
    for (let i = 0; i < count; i++) {
      // What the authorization endpoint leaves behind after consent: a Grant and a code bound to it.
      const grant = new provider.Grant({ accountId: USERNAME, clientId })
      grant.addOIDCScope(SCOPE)
      const grantId = await grant.save()
      const { verifier, challenge } = pkcePair()
      const code = new provider.AuthorizationCode({
        accountId: USERNAME,
        grantId,
        client,
        scope: SCOPE,
        redirectUri: REDIRECT_URI,
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      })
      codes.push({ code: await code.save(), verifier })
    }
    return codes
  }

  return {
    handler: provider.callback(),
    clientId,
    clientSecret,
    paths: { token: '/token', introspect: '/token/introspection' },
    issueCodes,
    jwks: () => publicJwks,
  }
}
