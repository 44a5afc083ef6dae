/**
 * oauthkit through the node:http adapter: `Server` over `StoreValidator` and a store (memory, SQLite or PostgreSQL),
 * served with `createFetchHandler` + `createNodeHandler`; the protected resource with `bearerGuard`.
 */
import { join } from 'node:path'
import { exportJWK, generateKeyPair } from 'jose'
import { Server, signedTokenGenerator } from 'oauthkit'
import { createFetchHandler } from 'oauthkit/fetch'
import { bearerGuard, createNodeHandler, nodeSigner } from 'oauthkit/node'
import { MemoryStore, StoreValidator } from 'oauthkit/store'
import { CODE_TTL, pkcePair, randomToken, REDIRECT_URI, SCOPE, TOKEN_TTL, USERNAME } from '../lib/common.mjs'

export async function openStore(kind, { workdir, databaseUrl, schema }) {
  if (kind === 'memory') return MemoryStore.open()
  if (kind === 'sqlite') {
    const { SqliteStore } = await import('oauthkit/store/sqlite')
    return SqliteStore.open(join(workdir, 'oauthkit.db'))
  }
  if (kind === 'postgres') {
    const { PostgresStore } = await import('oauthkit/store/postgres')
    return PostgresStore.open(databaseUrl, { schema })
  }
  throw new Error(`unknown store ${kind}`)
}

/** The bench client (every grant the scenarios use) and a user for the code flow. */
export async function seed(store) {
  const { clientId, clientSecret } = await store.clients.create({
    name: 'bench',
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    redirectUris: [REDIRECT_URI],
    scopes: [SCOPE],
  })
  const user = await store.users.create({ username: USERNAME, password: randomToken() })
  return { clientId, clientSecret, user: { userId: user.userId, username: user.username } }
}

/** Codes as the authorization endpoint stores them after consent: through the validator's own hook. */
export function codeIssuer(validator, clientId, user) {
  return async (count) => {
    const codes = []
    const expiresAt = Math.floor(Date.now() / 1000) + CODE_TTL
    const batch = []
    for (let i = 0; i < count; i++) {
      const code = randomToken()
      const { verifier, challenge } = pkcePair()
      codes.push({ code, verifier })
      batch.push(
        validator.saveAuthorizationCode(code, {
          clientId,
          user,
          scopes: [SCOPE],
          redirectUri: REDIRECT_URI,
          codeChallenge: challenge,
          codeChallengeMethod: 'S256',
          expiresAt,
        }),
      )
      // A few at a time: a pool-backed store gets concurrency, a synchronous one no harm.
      if (batch.length >= 32) await Promise.all(batch.splice(0))
    }
    await Promise.all(batch)
    return codes
  }
}

export async function start({ scenario, store: kind, port, workdir, databaseUrl, schema }) {
  const issuer = `http://127.0.0.1:${port}`
  const store = await openStore(kind, { workdir, databaseUrl, schema })
  const { clientId, clientSecret, user } = await seed(store)
  let tokenGenerator
  let jwks
  if (scenario === 'cc-jwt') {
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    // On Node, signed with node:crypto (nodeSigner), as oauthkit/node recommends.
    tokenGenerator = signedTokenGenerator(nodeSigner(privateKey, 'ES256'), { issuer, alg: 'ES256', kid: 'bench' })
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' }] }
  }
  const validator = new StoreValidator(store, { issuer })
  const server = new Server(validator, { issuer, tokenExpiresIn: TOKEN_TTL, allowInsecureTransport: true, tokenGenerator })
  const endpoints = createNodeHandler(createFetchHandler(server))
  // A node:http resource server's way: bearerGuard answers the RFC 6750 challenges, the handler the rest.
  const guard = bearerGuard(server, [SCOPE])
  const resource = async (req, res) => {
    const token = await guard(req, res)
    if (token === undefined) return
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
    res.end(JSON.stringify({ client_id: token.clientId, scope: token.scopes.join(' ') }))
  }
  return {
    handler: (req, res) => (req.url === '/resource' ? resource(req, res) : endpoints(req, res)),
    clientId,
    clientSecret,
    paths: { token: '/token', introspect: '/introspect', resource: '/resource' },
    issueCodes: codeIssuer(validator, clientId, user),
    jwks: () => jwks,
    close: () => store.close(),
  }
}
