/**
 * `oauthkit serve`: the ready server on node:http, configured from flags, the environment and a `--config` file, until
 * SIGTERM or SIGINT.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { createApp, type App } from './app/app.js'
import { DEFAULT_DB } from './cli-help.js'
import {
  ALLOW_LOOPBACK_WARNING,
  checkServeIssuer,
  checkServeTransport,
  describeDb,
  help,
  oneLine,
  openStore,
  parse,
  positiveWhole,
  serveClientMetadataDocuments,
  serveDatabasePool,
  serveRateLimit,
  serveRegistration,
  serveResources,
  serveSigningAlg,
  str,
  UsageError,
} from './cli-options.js'
import { applySeed, readSeed } from './cli-seed.js'
import { CLOSE_STORE_MS, createServeServer, DEFAULT_MAX_CONNECTIONS, listen, RELAYED_SIGNAL_MS, SERVE_TIMEOUTS, SHUTDOWN_GRACE_SECONDS } from './serve-server.js'

/** `oauthkit serve`: runs the ready server until a signal; the exit code. */
export async function serve(argv: readonly string[]): Promise<number> {
  const { values } = parse(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    issuer: { type: 'string' },
    db: { type: 'string' },
    config: { type: 'string' },
    'token-format': { type: 'string' },
    'signing-alg': { type: 'string' },
    'trust-proxy': { type: 'boolean' },
    'enable-password-grant': { type: 'boolean' },
    'idle-timeout': { type: 'string' },
    'max-connections': { type: 'string' },
    'login-limit': { type: 'string' },
    'token-client-limit': { type: 'string' },
    'token-address-limit': { type: 'string' },
    'no-rate-limit': { type: 'boolean' },
    registration: { type: 'string' },
    resource: { type: 'string', multiple: true },
    'refresh-retry-window': { type: 'string' },
    'registration-scope': { type: 'string' },
    'registration-unused-ttl': { type: 'string' },
    'registration-inactive-ttl': { type: 'string' },
    'registration-limit': { type: 'string' },
    'shutdown-grace': { type: 'string' },
    seed: { type: 'string' },
    'purge-interval': { type: 'string' },
    'db-pool-size': { type: 'string' },
    'db-statement-timeout': { type: 'string' },
    'db-connect-timeout': { type: 'string' },
    'client-metadata-documents': { type: 'boolean' },
    'client-metadata-documents-scope': { type: 'string' },
    'client-metadata-documents-allow-loopback': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true) return help('serve')
  const env = process.env
  const configPath = str(values.config) ?? env.OAUTHKIT_CONFIG
  const file = configPath === undefined ? {} : readConfig(configPath)
  const host = str(values.host) ?? env.OAUTHKIT_HOST ?? str(file.host) ?? '127.0.0.1'
  const portText = String(str(values.port) ?? env.OAUTHKIT_PORT ?? file.port ?? 3000)
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got ${String(values.port ?? env.OAUTHKIT_PORT ?? file.port)}`)
  const tokenFormat = str(values['token-format']) ?? env.OAUTHKIT_TOKEN_FORMAT ?? str(file.tokenFormat) ?? 'opaque'
  if (tokenFormat !== 'opaque' && tokenFormat !== 'jwt') throw new UsageError(`--token-format must be opaque or jwt, got ${tokenFormat}`)
  const signingAlg = serveSigningAlg(str(values['signing-alg']), env.OAUTHKIT_SIGNING_ALG, file.signingAlg)
  const trustProxy = values['trust-proxy'] === true || env.OAUTHKIT_TRUST_PROXY === '1' || file.trustProxy === true
  const enablePasswordGrant = values['enable-password-grant'] === true || env.OAUTHKIT_ENABLE_PASSWORD_GRANT === '1' || file.enablePasswordGrant === true
  const givenIssuer = str(values.issuer) ?? env.OAUTHKIT_ISSUER ?? str(file.issuer)
  if (givenIssuer !== undefined) checkServeIssuer(givenIssuer)
  checkServeTransport(host, givenIssuer, trustProxy)
  const db = str(values.db) ?? env.OAUTHKIT_DB ?? str(file.db) ?? DEFAULT_DB
  const sessionSecret = env.OAUTHKIT_SESSION_SECRET === undefined ? undefined : decodeSecret(env.OAUTHKIT_SESSION_SECRET)
  const rateLimit = serveRateLimit(values, env, file)
  const registration = serveRegistration(values, env, file)
  const resources = serveResources(values.resource, env.OAUTHKIT_RESOURCES, file.resources)
  const clientMetadataDocuments = serveClientMetadataDocuments(values, env, file, { host, issuer: givenIssuer })
  const retryText = str(values['refresh-retry-window']) ?? env.OAUTHKIT_REFRESH_RETRY_WINDOW ?? file.refreshRetryWindow
  const refreshTokenRetryWindow = retryText === undefined || String(retryText) !== '0' ? positiveWhole('refresh-retry-window', retryText, 30) : 0
  const idleSeconds = positiveWhole('idle-timeout', str(values['idle-timeout']) ?? env.OAUTHKIT_IDLE_TIMEOUT ?? file.idleTimeout, SERVE_TIMEOUTS.idleMs / 1000)
  const maxConnections = positiveWhole('max-connections', str(values['max-connections']) ?? env.OAUTHKIT_MAX_CONNECTIONS ?? file.maxConnections, DEFAULT_MAX_CONNECTIONS)
  const graceSeconds = positiveWhole('shutdown-grace', str(values['shutdown-grace']) ?? env.OAUTHKIT_SHUTDOWN_GRACE ?? file.shutdownGrace, SHUTDOWN_GRACE_SECONDS)

  const pool = serveDatabasePool(values, env, file)
  const purgeInterval = positiveWhole('purge-interval', str(values['purge-interval']) ?? env.OAUTHKIT_PURGE_INTERVAL ?? file.purgeInterval, 600)
  const seedPath = str(values.seed) ?? env.OAUTHKIT_SEED ?? str(file.seed)
  if (seedPath !== undefined && db !== 'memory') {
    throw new UsageError('--seed is for --db memory, which keeps nothing between starts; add users and clients to a database with `oauthkit users add` and `oauthkit clients add`')
  }
  const seed = seedPath === undefined ? undefined : readSeed(seedPath)

  // Loud, and before anything else is printed: a development option must not go unnoticed on a real server.
  if (clientMetadataDocuments?.allowLoopback === true) console.error(ALLOW_LOOPBACK_WARNING)

  const store = await openStore(db, pool)
  let seeded: string[] = []
  try {
    if (seed !== undefined) seeded = await applySeed(store, seed, seedPath as string)
  } catch (error) {
    await store.close()
    throw error
  }
  let app: App | undefined
  let shuttingDown = false
  let lastRefusal = 0
  const server = createServeServer({
    app: () => app,
    trustProxy,
    shuttingDown: () => shuttingDown,
    timeouts: { idleMs: idleSeconds * 1000 },
    maxConnections,
    onConnectionRefused: () => {
      // One line a minute at most: a flood must not flood the log too.
      if (Date.now() - lastRefusal < 60_000) return
      lastRefusal = Date.now()
      console.error(`oauthkit: ${maxConnections} connections are open, the --max-connections cap: new connections are refused`)
    },
  })
  // Installed before the "listening on" line: a signal sent as soon as it appears must find them.
  let firstSignal = 0
  let finished!: () => void
  const stopped = new Promise<void>((resolve) => (finished = resolve))
  const stop = () => {
    if (shuttingDown) {
      // A signal often comes twice at once: `npm start` passes on to the server the SIGTERM that a process manager
      // also sends to the whole group. Later, a second signal is an operator who will not wait.
      if (Date.now() - firstSignal < RELAYED_SIGNAL_MS) return
      console.error('oauthkit: second signal, exiting without waiting for requests in flight')
      process.exit(1)
    }
    shuttingDown = true
    firstSignal = Date.now()
    console.log('oauthkit: shutting down')
    // Stop accepting connections and close the idle ones; connections still busy after the grace period (a request
    // stalled mid-headers or mid-body, an answer that never comes) are cut, so the process always ends.
    const cut = setTimeout(() => server.closeAllConnections(), graceSeconds * 1000)
    server.close(() => {
      clearTimeout(cut)
      finished()
    })
    server.closeIdleConnections()
  }
  let issuer: string
  try {
    await listen(server, port, host)
    // Without --issuer the issuer is where the server listens, read after listening so that --port 0 works.
    const address = server.address()
    const actualPort = typeof address === 'object' && address !== null ? address.port : port
    issuer = givenIssuer ?? `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`
    app = await createApp({ store, issuer, tokenFormat, signingAlg, sessionSecret, rateLimit, enablePasswordGrant, registration, resources, refreshTokenRetryWindow, clientMetadataDocuments, purgeInterval })
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    console.log(`oauthkit: listening on http://${host.includes(':') ? `[${host}]` : host}:${actualPort}, issuer ${issuer}`)
  } catch (error) {
    server.close()
    await store.close()
    throw error
  }
  console.log(`oauthkit: data in ${describeDb(db)}`)
  console.log(`oauthkit: metadata at ${issuer}/.well-known/oauth-authorization-server (OpenID Connect: ${issuer}/.well-known/openid-configuration)`)
  if (db === 'memory') {
    // `users add --db memory` would write into its own process: here only --seed can add anything.
    for (const line of seeded) console.log(`oauthkit: seeded ${line}`)
    console.log('oauthkit: nothing persists: every user, client and token is lost when this process stops; --seed FILE adds users and clients at start')
  } else {
    console.log(
      `oauthkit: next, add a user and a client:\n` +
        `  npx oauthkit users add --username alice --db ${db}\n` +
        `  npx oauthkit clients add --name my-app --redirect-uri http://127.0.0.1:8080/callback --scope "read" --db ${db}`,
    )
  }
  await stopped
  // Closing the store flushes its writes; should anything still hold the event loop after that, it is not waited for.
  setTimeout(() => process.exit(), CLOSE_STORE_MS).unref()
  await app.close()
  await store.close()
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  return 0
}

function readConfig(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`cannot read --config ${path}: ${oneLine(error)}`)
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
    return parsed as Record<string, unknown>
  } catch (error) {
    throw new UsageError(`--config ${path} is not a JSON object: ${oneLine(error)}`)
  }
}

function decodeSecret(value: string): Uint8Array {
  const secret = Buffer.from(value, 'base64url')
  if (secret.length < 32) throw new UsageError('OAUTHKIT_SESSION_SECRET must be at least 32 bytes, base64url-encoded')
  return secret
}
