/**
 * @node-oauth/oauth2-server on Express 5 with an in-memory model: `token()` for the grants, `authenticate()` for the
 * protected resource. The model checks the client secret in constant time against its SHA-256 digest.
 */
import express from 'express'
import OAuth2Server from '@node-oauth/oauth2-server'
import { CODE_TTL, pkcePair, randomToken, REDIRECT_URI, SCOPE, secretMatches, sha256, TOKEN_TTL, USERNAME } from '../lib/common.mjs'

const { Request, Response } = OAuth2Server

export async function start() {
  const clientId = 'bench'
  const clientSecret = randomToken()
  const client = { id: clientId, grants: ['client_credentials', 'authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scopes: [SCOPE] }
  const clients = new Map([[clientId, { client, secretDigest: sha256(clientSecret) }]])
  const user = { id: USERNAME }
  const accessTokens = new Map()
  const refreshTokens = new Map()
  const codes = new Map()

  const model = {
    async getClient(id, secret) {
      const found = clients.get(id)
      if (found === undefined) return false
      // Secret null: a grant that does not authenticate the client (not used here).
      if (secret !== null && !secretMatches(secret, found.secretDigest)) return false
      return found.client
    },
    async getUserFromClient(c) {
      return { id: c.id }
    },
    async validateScope(_user, c, scope) {
      return Array.isArray(scope) && scope.every((s) => c.scopes.includes(s)) ? scope : false
    },
    async saveToken(token, c, u) {
      const saved = { ...token, client: c, user: u }
      accessTokens.set(token.accessToken, saved)
      if (token.refreshToken) refreshTokens.set(token.refreshToken, saved)
      return saved
    },
    async getAccessToken(token) {
      return accessTokens.get(token)
    },
    async verifyScope(token, scope) {
      return scope.every((s) => token.scope.includes(s))
    },
    async getAuthorizationCode(code) {
      return codes.get(code)
    },
    async revokeAuthorizationCode(code) {
      return codes.delete(code.authorizationCode)
    },
    async getRefreshToken(token) {
      return refreshTokens.get(token)
    },
    async revokeToken(token) {
      return refreshTokens.delete(token.refreshToken)
    },
  }
  const oauth = new OAuth2Server({ model, accessTokenLifetime: TOKEN_TTL, requireClientAuthentication: { refresh_token: true, authorization_code: true } })

  const app = express()
  app.disable('x-powered-by')
  app.use(express.urlencoded({ extended: false }))
  app.post('/token', async (req, res) => {
    const request = new Request(req)
    const response = new Response(res)
    try {
      await oauth.token(request, response)
      res.set(response.headers).status(response.status).json(response.body)
    } catch (error) {
      res.set(response.headers).status(error.code ?? 500).json({ error: error.name, error_description: error.message })
    }
  })
  app.get('/resource', async (req, res) => {
    const request = new Request(req)
    const response = new Response(res)
    try {
      const token = await oauth.authenticate(request, response, { scope: [SCOPE] })
      res.set('Cache-Control', 'no-store').json({ client_id: token.client.id, scope: token.scope.join(' ') })
    } catch (error) {
      res.set(response.headers).status(error.code ?? 500).json({ error: error.name, error_description: error.message })
    }
  })

  async function issueCodes(count) {
    const issued = []
    const expiresAt = new Date(Date.now() + CODE_TTL * 1000)
    for (let i = 0; i < count; i++) {
      const code = randomToken()
      const { verifier, challenge } = pkcePair()
      codes.set(code, {
        authorizationCode: code,
        expiresAt,
        redirectUri: REDIRECT_URI,
        scope: [SCOPE],
        client,
        user,
        codeChallenge: challenge,
        codeChallengeMethod: 'S256',
      })
      issued.push({ code, verifier })
    }
    return issued
  }

  return { handler: app, clientId, clientSecret, paths: { token: '/token', resource: '/resource' }, issueCodes }
}
