/**
 * The ready server (`createApp`, what `oauthkit serve` runs) over SQLite, served exactly as the CLI serves it:
 * `app.nodeListener()`, with its default one-line-per-request log (to /dev/null here) and rate limits.
 */
import { createApp } from 'oauthkit/app'
import { TOKEN_TTL } from '../lib/common.mjs'
import { codeIssuer, openStore, seed } from './oauthkit.mjs'

export async function start({ scenario, store: kind, port, workdir, databaseUrl, schema }) {
  const issuer = `http://127.0.0.1:${port}`
  const store = await openStore(kind, { workdir, databaseUrl, schema })
  const { clientId, clientSecret, user } = await seed(store)
  const app = await createApp({ store, issuer, tokenFormat: scenario === 'cc-jwt' ? 'jwt' : 'opaque', tokenExpiresIn: TOKEN_TTL })
  return {
    handler: app.nodeListener(),
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
