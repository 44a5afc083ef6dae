/**
 * The `oauthkit` command: runs the ready server and manages its clients, users and signing keys.
 *
 * Every command acts on the database named by `--db` (or `OAUTHKIT_DB`), default `sqlite:./oauthkit.db`, so that
 * `clients add` works on the data the running `serve` uses. Exit codes: 0 done, 1 failed (database unreachable, port
 * in use, …), 2 bad usage. Failures print one line, never a stack trace.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { createApp, DEFAULT_TOKEN_EXPIRES_IN, type App } from './app/app.js'
import { SigningKeys } from './app/keys.js'
import { DEFAULT_DB, HELP } from './cli-help.js'
import {
  checkServeIssuer,
  checkServeTransport,
  claimOptions,
  oneLine,
  positiveWhole,
  serveRateLimit,
  serveRegistration,
  serveResources,
  serveSigningAlg,
  str,
  UsageError,
} from './cli-options.js'
import { CLOSE_STORE_MS, createServeServer, DEFAULT_MAX_CONNECTIONS, listen, RELAYED_SIGNAL_MS, SERVE_TIMEOUTS, SHUTDOWN_GRACE_SECONDS } from './serve-server.js'
import { CLIENT_GRANT_TYPES, type Store } from './store/index.js'

export { createServeServer, DEFAULT_MAX_CONNECTIONS, SERVE_TIMEOUTS, type ServeServerOptions, type ServeTimeouts } from './serve-server.js'
export { oneLine, serveRateLimit } from './cli-options.js'


export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'serve':
        return await serve(rest)
      case 'clients':
        return await clients(rest)
      case 'users':
        return await users(rest)
      case 'keys':
        return await keys(rest)
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(HELP.main)
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command '${command}'`)
    }
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`oauthkit: ${error.message} (see 'oauthkit ${command !== undefined && command in HELP ? `${command} ` : ''}--help')`)
      return 2
    }
    console.error(`oauthkit: ${oneLine(error)}`)
    return 1
  }
}

// ---------------------------------------------------------------------------------------------------------------
// serve

async function serve(argv: readonly string[]): Promise<number> {
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
    'registration-limit': { type: 'string' },
    'shutdown-grace': { type: 'string' },
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
  const retryText = str(values['refresh-retry-window']) ?? env.OAUTHKIT_REFRESH_RETRY_WINDOW ?? file.refreshRetryWindow
  const refreshTokenRetryWindow = retryText === undefined || String(retryText) !== '0' ? positiveWhole('refresh-retry-window', retryText, 30) : 0
  const idleSeconds = positiveWhole('idle-timeout', str(values['idle-timeout']) ?? env.OAUTHKIT_IDLE_TIMEOUT ?? file.idleTimeout, SERVE_TIMEOUTS.idleMs / 1000)
  const maxConnections = positiveWhole('max-connections', str(values['max-connections']) ?? env.OAUTHKIT_MAX_CONNECTIONS ?? file.maxConnections, DEFAULT_MAX_CONNECTIONS)
  const graceSeconds = positiveWhole('shutdown-grace', str(values['shutdown-grace']) ?? env.OAUTHKIT_SHUTDOWN_GRACE ?? file.shutdownGrace, SHUTDOWN_GRACE_SECONDS)

  const store = await openStore(db)
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
    app = await createApp({ store, issuer, tokenFormat, signingAlg, sessionSecret, rateLimit, enablePasswordGrant, registration, resources, refreshTokenRetryWindow })
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
  console.log(
    `oauthkit: next, add a user and a client:\n` +
      `  npx oauthkit users add --username alice --db ${db}\n` +
      `  npx oauthkit clients add --name my-app --redirect-uri http://127.0.0.1:8080/callback --scope "read" --db ${db}`,
  )
  await stopped
  // Closing the store flushes its writes; should anything still hold the event loop after that, it is not waited for.
  setTimeout(() => process.exit(), CLOSE_STORE_MS).unref()
  await app.close()
  await store.close()
  process.off('SIGINT', stop)
  process.off('SIGTERM', stop)
  return 0
}

// ---------------------------------------------------------------------------------------------------------------
// clients, users, keys

async function clients(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  const { values, positionals } = parse(rest, {
    db: { type: 'string' },
    json: { type: 'boolean' },
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'grant-type': { type: 'string', multiple: true },
    scope: { type: 'string' },
    resource: { type: 'string', multiple: true },
    protects: { type: 'string', multiple: true },
    public: { type: 'boolean' },
    'auth-method': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true || action === undefined || action === '--help') return help('clients', action === undefined)
  if (!['add', 'list', 'show', 'remove', 'rotate-secret'].includes(action)) throw new UsageError(`unknown clients action '${action}'`)
  return withStore(values.db, async (store) => {
    const json = values.json === true
    switch (action) {
      case 'add': {
        const name = str(values.name)
        if (name === undefined) throw new UsageError('clients add needs --name')
        const grantTypes = values['grant-type'] as (typeof CLIENT_GRANT_TYPES)[number][] | undefined
        const authMethod = str(values['auth-method'])
        if (authMethod !== undefined && authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') {
          throw new UsageError(`--auth-method must be client_secret_basic or client_secret_post, got ${authMethod}`)
        }
        if (authMethod !== undefined && values.public === true) throw new UsageError('--auth-method is for confidential clients: a --public client has none')
        let created
        try {
          created = await store.clients.create({
            name,
            redirectUris: values['redirect-uri'] ?? [],
            grantTypes,
            scopes: (str(values.scope) ?? '').split(' ').filter((scope) => scope !== ''),
            resources: values.resource ?? [],
            protectedResources: values.protects ?? [],
            public: values.public === true,
            tokenEndpointAuthMethod: authMethod,
          })
        } catch (error) {
          if (error instanceof TypeError) throw new UsageError(error.message)
          throw error
        }
        const view = { ...clientView(created.client), ...(created.clientSecret === undefined ? {} : { client_secret: created.clientSecret }) }
        if (json) console.log(JSON.stringify(view))
        else {
          printClient(view)
          if (created.clientSecret !== undefined) console.log('\nThe client_secret is shown only now: store it safely.')
        }
        return 0
      }
      case 'list': {
        const list = (await store.clients.list()).map(clientView)
        if (json) console.log(JSON.stringify(list))
        else for (const client of list) console.log(`${client.client_id}\t${client.client_name}\t${client.grant_types.join(',')}`)
        return 0
      }
      case 'show':
      case 'remove':
      case 'rotate-secret': {
        const clientId = positionals[0]
        if (clientId === undefined) throw new UsageError(`clients ${action} needs a CLIENT_ID`)
        if (action === 'show') {
          const client = await store.clients.get(clientId)
          if (client === undefined) throw new Error(`no client ${clientId}`)
          if (json) console.log(JSON.stringify(clientView(client)))
          else printClient(clientView(client))
          return 0
        }
        if (action === 'remove') {
          if (!(await store.clients.remove(clientId))) throw new Error(`no client ${clientId}`)
          console.log(json ? JSON.stringify({ removed: clientId }) : `removed client ${clientId}`)
          return 0
        }
        const secret = await store.clients.rotateSecret(clientId)
        if (secret === undefined) throw new Error(`no confidential client ${clientId}`)
        console.log(json ? JSON.stringify({ client_id: clientId, client_secret: secret }) : `client_secret: ${secret}\n\nShown only now; the old secret no longer works.`)
        return 0
      }
      default:
        throw new UsageError(`unknown clients action '${action}'`)
    }
  })
}

async function users(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  const { values, positionals } = parse(rest, {
    db: { type: 'string' },
    json: { type: 'boolean' },
    username: { type: 'string' },
    password: { type: 'string' },
    claim: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true || action === undefined || action === '--help') return help('users', action === undefined)
  if (!['add', 'list', 'update', 'remove', 'passwd', 'signout'].includes(action)) throw new UsageError(`unknown users action '${action}'`)
  return withStore(values.db, async (store) => {
    const json = values.json === true
    switch (action) {
      case 'add': {
        const username = str(values.username)
        if (username === undefined) throw new UsageError('users add needs --username')
        // Checked before the password is read: a typo in a claim should not cost typing the password.
        const claims = claimOptions(values.claim)
        const password = str(values.password) ?? (await readStdin())
        if (password === '') throw new UsageError('users add needs a password (--password, or on stdin)')
        if ((await store.users.getByUsername(username)) !== undefined) throw new Error(`user ${username} exists already`)
        const user = await store.users.create({ username, password, claims })
        console.log(json ? JSON.stringify({ user_id: user.userId, username }) : `added user ${username} (${user.userId})`)
        return 0
      }
      case 'list': {
        const list = (await store.users.list()).map((user) => ({ user_id: user.userId, username: user.username, ...(user.claims === undefined ? {} : { claims: user.claims }) }))
        if (json) console.log(JSON.stringify(list))
        else for (const user of list) console.log(`${user.username}\t${user.user_id}`)
        return 0
      }
      case 'update':
      case 'remove':
      case 'signout':
      case 'passwd': {
        const username = positionals[0] ?? str(values.username)
        if (username === undefined) throw new UsageError(`users ${action} needs a USERNAME`)
        const user = await store.users.getByUsername(username)
        if (user === undefined) throw new Error(`no user ${username}`)
        if (action === 'update') {
          if (values.claim === undefined) throw new UsageError('users update needs at least one --claim name=value')
          const claims = claimOptions(values.claim, user.claims)
          await store.users.setClaims(user.userId, claims)
          console.log(json ? JSON.stringify({ username, claims }) : `updated the profile of ${username}`)
          return 0
        }
        if (action === 'remove') {
          await store.users.remove(user.userId)
          console.log(json ? JSON.stringify({ removed: username }) : `removed user ${username}`)
          return 0
        }
        if (action === 'signout') {
          const sessions = await store.users.signOutEverywhere(user.userId)
          console.log(json ? JSON.stringify({ username, sessions_ended: sessions }) : `signed ${username} out everywhere (${sessions} sessions ended)`)
          return 0
        }
        const password = str(values.password) ?? (await readStdin())
        if (password === '') throw new UsageError('users passwd needs a password (--password, or on stdin)')
        await store.users.setPassword(user.userId, password)
        console.log(
          json
            ? JSON.stringify({ username, changed: true })
            : `changed the password of ${username}; their sessions are ended and their tokens revoked`,
        )
        return 0
      }
      default:
        throw new UsageError(`unknown users action '${action}'`)
    }
  })
}

async function keys(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  const { values } = parse(rest, { db: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } })
  if (values.help === true || action === undefined || action === '--help') return help('keys', action === undefined)
  if (action !== 'rotate') throw new UsageError(`unknown keys action '${action}'`)
  return withStore(values.db, async (store) => {
    // The old key stays published as long as the tokens it signed can live (serve's lifetime).
    const signingKeys = await SigningKeys.load(store, { maxTokenLifetime: DEFAULT_TOKEN_EXPIRES_IN, reloadInterval: 0 })
    const { kid } = await signingKeys.rotate()
    signingKeys.stop()
    console.log(values.json === true ? JSON.stringify({ kid }) : `now signing with key ${kid}`)
    return 0
  })
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Opens the store a `--db` value names: `sqlite:PATH` (or a bare path), `postgres://…`, or `memory`. */
export async function openStore(db: string): Promise<Store> {
  try {
    if (db === 'memory') return await (await import('./store/memory/index.js')).MemoryStore.open()
    // The command line fails fast on a database that does not answer.
    if (/^postgres(ql)?:\/\//.test(db)) return await (await import('./store/postgres/index.js')).PostgresStore.open({ connectionString: db, connectionTimeoutMillis: 3000 })
    const path = db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db
    if (path === '') throw new UsageError('--db sqlite: needs a path')
    return await (await import('./store/sqlite/index.js')).SqliteStore.open(path)
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new Error(`cannot open the database ${describeDb(db)}: ${oneLine(error)}`)
  }
}

async function withStore(db: string | boolean | undefined, work: (store: Store) => Promise<number>): Promise<number> {
  const store = await openStore(str(db) ?? process.env.OAUTHKIT_DB ?? DEFAULT_DB)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

function parse<const O extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(oneLine(error).replace(/^TypeError[^:]*: /, ''))
  }
}

function help(command: string, missing = false): number {
  console.log(HELP[command])
  return missing ? 2 : 0
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

interface ClientView {
  client_id: string
  client_name: string
  redirect_uris: readonly string[]
  grant_types: readonly string[]
  scope: string
  token_endpoint_auth_method: string
  protected_resources?: readonly string[]
  client_secret?: string
}

/** A client with RFC 7591 §2 names, as `--json` prints it. */
function clientView(client: Awaited<ReturnType<Store['clients']['get']>> & object): ClientView {
  return {
    client_id: client.clientId,
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    scope: client.scopes.join(' '),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    ...(client.protectedResources === undefined ? {} : { protected_resources: client.protectedResources }),
  }
}

function printClient(view: ClientView): void {
  for (const [name, value] of Object.entries(view)) console.log(`${name}: ${Array.isArray(value) ? value.join(' ') : String(value)}`)
}

function describeDb(db: string): string {
  if (db === 'memory') return 'memory (lost when the server stops)'
  if (/^postgres(ql)?:\/\//.test(db)) return `PostgreSQL ${db.replace(/\/\/[^@/]*@/, '//***@')}`
  return `SQLite ${db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db}`
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return promptHidden('Password: ')
  let text = ''
  for await (const chunk of process.stdin) text += String(chunk)
  return text.replace(/\r?\n$/, '')
}

/** Asks for a password on the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import('node:readline')
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true })
  const output = rl as unknown as { _writeToOutput: (text: string) => void }
  let asked = false
  output._writeToOutput = (text: string) => {
    // Show the question once, then nothing of what is typed.
    if (!asked) process.stdout.write(text)
    asked = true
  }
  const answer = await new Promise<string>((resolve) => rl.question(question, resolve))
  rl.close()
  process.stdout.write('\n')
  return answer
}
