/**
 * The minimal correct path, hand-written on plain node:http: read the form, check `Authorization: Basic` with a
 * constant-time compare, refuse repeated parameters, check grant type and scope, make a random 256-bit token, keep it
 * in a Map, answer the RFC 6749 §5.1 JSON with `Cache-Control: no-store` (errors as §5.2).
 */
import { parseBasic, randomToken, SCOPE, secretMatches, sha256, TOKEN_TTL } from '../lib/common.mjs'

export async function start() {
  const clientId = 'bench'
  const clientSecret = randomToken()
  const clients = new Map([[clientId, { secretDigest: sha256(clientSecret), scopes: new Set([SCOPE]) }]])
  const tokens = new Map()

  const send = (res, status, body, extra) => {
    const json = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache', 'Content-Length': Buffer.byteLength(json), ...extra })
    res.end(json)
  }
  const fail = (res, status, error, extra) => send(res, status, { error }, extra)

  const handle = (req, res, raw) => {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) return fail(res, 400, 'invalid_request')
    const params = new Map()
    for (const [name, value] of new URLSearchParams(raw)) {
      if (params.has(name)) return fail(res, 400, 'invalid_request')
      params.set(name, value)
    }
    const credentials = parseBasic(req.headers.authorization)
    const client = credentials && clients.get(credentials.clientId)
    if (client === undefined || !secretMatches(credentials.clientSecret, client.secretDigest)) {
      return fail(res, 401, 'invalid_client', { 'WWW-Authenticate': 'Basic realm="token"' })
    }
    if (params.get('grant_type') !== 'client_credentials') return fail(res, 400, 'unsupported_grant_type')
    const scope = params.get('scope') ?? SCOPE
    const scopes = scope.split(' ')
    if (!scopes.every((s) => client.scopes.has(s))) return fail(res, 400, 'invalid_scope')
    const token = randomToken()
    tokens.set(token, { clientId: credentials.clientId, scope, expiresAt: Date.now() + TOKEN_TTL * 1000 })
    send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: TOKEN_TTL, scope })
  }

  return {
    handler: (req, res) => {
      if (req.url !== '/token') return fail(res, 404, 'not_found')
      if (req.method !== 'POST') return fail(res, 405, 'invalid_request', { Allow: 'POST' })
      const chunks = []
      let size = 0
      req.on('data', (chunk) => {
        size += chunk.length
        if (size > 64 * 1024) req.destroy()
        else chunks.push(chunk)
      })
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')))
    },
    clientId,
    clientSecret,
    paths: { token: '/token' },
  }
}
