/**
 * The ceiling: plain node:http answering every request with one pre-built token response. Not a correct server (no
 * authentication, the same token every time): it measures what an HTTP token response costs in Node and nothing more.
 */
import { randomToken, SCOPE, TOKEN_TTL } from '../lib/common.mjs'

export async function start() {
  const body = Buffer.from(JSON.stringify({ access_token: randomToken(), token_type: 'Bearer', expires_in: TOKEN_TTL, scope: SCOPE }))
  const headers = [
    ['Content-Type', 'application/json'],
    ['Cache-Control', 'no-store'],
    ['Pragma', 'no-cache'],
    ['Content-Length', String(body.length)],
  ]
  return {
    handler: (_req, res) => {
      res.writeHead(200, headers.flat())
      res.end(body)
    },
    clientId: 'bench',
    clientSecret: randomToken(),
    paths: { token: '/token' },
    fixed: true,
  }
}
