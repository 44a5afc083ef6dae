/**
 * The ready server (`createApp`, what `oauthkit serve` runs) over SQLite, served exactly as the CLI serves it:
 * `toFetchRequest`, `app.fetch`, `writeResponse`, with its default one-line-per-request log (to /dev/null here).
 */
import { createApp } from 'oauthkit/app'
import { toFetchRequest, writeResponse } from 'oauthkit/node'
import { TOKEN_TTL } from '../lib/common.mjs'
import { codeIssuer, openStore, seed } from './oauthkit.mjs'

export async function start({ scenario, store: kind, port, workdir, databaseUrl, schema }) {
  const issuer = `http://127.0.0.1:${port}`
  const store = await openStore(kind, { workdir, databaseUrl, schema })
  const { clientId, clientSecret, user } = await seed(store)
  const app = await createApp({ store, issuer, tokenFormat: scenario === 'cc-jwt' ? 'jwt' : 'opaque', tokenExpiresIn: TOKEN_TTL })
  const handler = (req, res) => {
    void (async () => {
      let request
      try {
        request = toFetchRequest(req)
      } catch {
        res.writeHead(400).end()
        return
      }
      await writeResponse(res, await app.fetch(request, { remoteAddress: req.socket.remoteAddress }))
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  }
  return {
    handler,
    clientId,
    clientSecret,
    paths: { token: '/token', introspect: '/introspect' },
    issueCodes: codeIssuer(app.validator, clientId, user),
    jwks: () => JSON.parse(app.keys.jwksResponse().body),
    close: async () => {
      await app.close()
      await store.close()
    },
  }
}
