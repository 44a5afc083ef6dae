/**
 * oauth2orize on Express 5: its token endpoint with the client credentials, authorization code and refresh token
 * exchanges, behind a Basic-auth middleware (constant-time secret check), data in Maps. PKCE (S256) and refresh-token
 * rotation are done in the exchange callbacks, as an application on oauth2orize does them.
 */
import { createHash } from 'node:crypto'
import express from 'express'
import oauth2orize from 'oauth2orize'
import { CODE_TTL, parseBasic, pkcePair, randomToken, REDIRECT_URI, SCOPE, secretMatches, sha256, TOKEN_TTL, USERNAME } from '../lib/common.mjs'

export async function start() {
  const clientId = 'bench'
  const clientSecret = randomToken()
  const clients = new Map([[clientId, { id: clientId, secretDigest: sha256(clientSecret), scopes: [SCOPE] }]])
  const accessTokens = new Map()
  const refreshTokens = new Map()
  const codes = new Map()

  const server = oauth2orize.createServer()
  // oauth2orize answers invalid_grant with 403 by default; RFC 6749 §5.2 says 400.
  const invalidGrant = (message) => new oauth2orize.TokenError(message, 'invalid_grant', null, 400)
  const issue = (client, userId, scope) => {
    const accessToken = randomToken()
    accessTokens.set(accessToken, { clientId: client.id, userId, scope, expiresAt: Date.now() + TOKEN_TTL * 1000 })
    return accessToken
  }
  server.exchange(
    oauth2orize.exchange.clientCredentials((client, scope, done) => {
      const requested = scope ?? client.scopes
      if (!requested.every((s) => client.scopes.includes(s))) return done(new oauth2orize.TokenError('Invalid scope', 'invalid_scope'))
      done(null, issue(client, undefined, requested), { expires_in: TOKEN_TTL, scope: requested.join(' ') })
    }),
  )
  server.exchange(
    oauth2orize.exchange.code((client, code, redirectURI, body, done) => {
      const stored = codes.get(code)
      // One use only: the code is gone whatever happens next.
      codes.delete(code)
      if (stored === undefined || stored.clientId !== client.id || stored.redirectUri !== redirectURI || stored.expiresAt < Date.now()) return done(invalidGrant('Invalid authorization code'))
      const verifier = typeof body.code_verifier === 'string' ? body.code_verifier : ''
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || createHash('sha256').update(verifier).digest('base64url') !== stored.challenge) return done(invalidGrant('PKCE verification failed'))
      const refreshToken = randomToken()
      refreshTokens.set(refreshToken, { clientId: client.id, userId: stored.userId, scope: stored.scope })
      done(null, issue(client, stored.userId, stored.scope), refreshToken, { expires_in: TOKEN_TTL, scope: stored.scope.join(' ') })
    }),
  )
  server.exchange(
    oauth2orize.exchange.refreshToken((client, refreshToken, scope, done) => {
      const stored = refreshTokens.get(refreshToken)
      if (stored === undefined || stored.clientId !== client.id) return done(invalidGrant('Invalid refresh token'))
      const granted = scope ?? stored.scope
      if (!granted.every((s) => stored.scope.includes(s))) return done(new oauth2orize.TokenError('Invalid scope', 'invalid_scope'))
      // Rotation: the old refresh token stops working.
      refreshTokens.delete(refreshToken)
      const next = randomToken()
      refreshTokens.set(next, { ...stored, scope: granted })
      done(null, issue(client, stored.userId, granted), next, { expires_in: TOKEN_TTL, scope: granted.join(' ') })
    }),
  )

  const authenticateClient = (req, res, next) => {
    const credentials = parseBasic(req.headers.authorization)
    const client = credentials && clients.get(credentials.clientId)
    if (client === undefined || !secretMatches(credentials.clientSecret, client.secretDigest)) {
      res.status(401).set({ 'WWW-Authenticate': 'Basic realm="oauth2orize"', 'Cache-Control': 'no-store' }).json({ error: 'invalid_client' })
      return
    }
    req.user = client
    next()
  }

  const app = express()
  app.disable('x-powered-by')
  app.post('/token', express.urlencoded({ extended: false }), authenticateClient, server.token(), server.errorHandler())

  async function issueCodes(count) {
    const issued = []
    const expiresAt = Date.now() + CODE_TTL * 1000
    for (let i = 0; i < count; i++) {
      const code = randomToken()
      const { verifier, challenge } = pkcePair()
      codes.set(code, { clientId, userId: USERNAME, redirectUri: REDIRECT_URI, scope: [SCOPE], challenge, expiresAt })
      issued.push({ code, verifier })
    }
    return issued
  }

  return { handler: app, clientId, clientSecret, paths: { token: '/token' }, issueCodes }
}
