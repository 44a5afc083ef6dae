/**
 * The `oauthkit` command: runs the ready server and manages its clients, users and signing keys.
 *
 * Every command acts on the database named by `--db` (or `OAUTHKIT_DB`), default `sqlite:./oauthkit.db`, so that
 * `clients add` works on the data the running `serve` uses. Exit codes: 0 done, 1 failed (database unreachable, port
 * in use, …), 2 bad usage. Failures print one line, never a stack trace.
 *
 * @module
 */
import { DEFAULT_TOKEN_EXPIRES_IN } from './app/app.js'
import { SigningKeys } from './app/keys.js'
import { DEFAULT_DB, HELP } from './cli-help.js'
import { claimOptions, duration, help, oneLine, openStore, parse, positiveWhole, str, UsageError } from './cli-options.js'
import { serve } from './cli-serve.js'
import { CLIENT_GRANT_TYPES, type InitialAccessTokenRecord, type Store } from './store/index.js'

export { createServeServer, DEFAULT_MAX_CONNECTIONS, SERVE_TIMEOUTS, type ServeServerOptions, type ServeTimeouts } from './serve-server.js'
export { oneLine, openStore, serveRateLimit } from './cli-options.js'


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
      case 'registration-tokens':
        return await registrationTokens(rest)
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
          printView(view)
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
          else printView(clientView(client))
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

/** `registration-tokens add|list|remove`: initial access tokens (RFC 7591 §3) for `serve --registration token`. */
async function registrationTokens(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv
  const { values, positionals } = parse(rest, {
    db: { type: 'string' },
    json: { type: 'boolean' },
    'expires-in': { type: 'string' },
    uses: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help === true || action === undefined || action === '--help') return help('registration-tokens', action === undefined)
  if (!['add', 'list', 'remove'].includes(action)) throw new UsageError(`unknown registration-tokens action '${action}'`)
  const expiresIn = duration('expires-in', str(values['expires-in']) ?? '7d')
  const uses = values.uses === undefined ? undefined : positiveWhole('uses', values.uses, 1)
  const id = positionals[0]
  if (action === 'remove' && id === undefined) throw new UsageError('registration-tokens remove needs an ID')
  return withStore(values.db, async (store) => {
    const json = values.json === true
    if (action === 'add') {
      const { token, record } = await store.initialAccessTokens.create({ expiresIn, uses })
      const view = { ...initialAccessTokenView(record), token }
      if (json) console.log(JSON.stringify(view))
      else printView(view, '\nThe token is shown only now (it is stored as a digest): a client sends it as Authorization: Bearer to /register.')
      return 0
    }
    if (action === 'list') {
      const list = (await store.initialAccessTokens.list()).map(initialAccessTokenView)
      if (json) console.log(JSON.stringify(list))
      else for (const token of list) console.log(`${token.id}\texpires ${token.expires_at}\tuses left ${token.uses_left}`)
      return 0
    }
    if (!(await store.initialAccessTokens.remove(id as string))) throw new Error(`no registration token ${id}`)
    console.log(json ? JSON.stringify({ removed: id }) : `removed registration token ${id}`)
    return 0
  })
}

function initialAccessTokenView(record: InitialAccessTokenRecord): { id: string; created_at: string; expires_at: string; uses_left: number | 'unlimited' } {
  const time = (seconds: number | undefined) => (seconds === undefined ? 'never' : new Date(seconds * 1000).toISOString())
  return { id: record.id, created_at: time(record.createdAt), expires_at: time(record.expiresAt), uses_left: record.usesLeft ?? 'unlimited' }
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

async function withStore(db: string | boolean | undefined, work: (store: Store) => Promise<number>): Promise<number> {
  const store = await openStore(str(db) ?? process.env.OAUTHKIT_DB ?? DEFAULT_DB)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
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

/** One `name: value` line per member, then `note` if given. */
function printView(view: object, note?: string): void {
  for (const [name, value] of Object.entries(view)) console.log(`${name}: ${Array.isArray(value) ? value.join(' ') : String(value)}`)
  if (note !== undefined) console.log(note)
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
