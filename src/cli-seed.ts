/**
 * `oauthkit serve --db memory --seed FILE`: the users and clients a demo needs, made at start in the memory store
 * (where `oauthkit users add` and `clients add`, which run in processes of their own, cannot reach).
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { oneLine, UsageError } from './cli-options.js'
import { type NewClient, type NewUser, type Store } from './store/index.js'

/** What a seed file holds: `{ "users": [NewUser…], "clients": [NewClient…] }`, both optional. */
export interface Seed {
  readonly users: readonly NewUser[]
  readonly clients: readonly NewClient[]
}

const USER_FIELDS = new Set(['username', 'password', 'userId'])
const CLIENT_FIELDS = new Set(['name', 'redirectUris', 'grantTypes', 'scopes', 'resources', 'protectedResources', 'public', 'tokenEndpointAuthMethod', 'clientId', 'clientSecret'])

/**
 * Reads and checks a seed file: a JSON object with `users` and `clients` arrays of objects, each with only the fields
 * of `store.users.create` and `store.clients.create` (`clientId` and `clientSecret` included, so that a demo's client
 * is the same at every start). The store checks the values when they are created.
 *
 * @throws {@link UsageError} naming the file and the entry at fault
 */
export function readSeed(path: string): Seed {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new UsageError(`cannot read --seed ${path}: ${oneLine(error)}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--seed ${path} must be a JSON object with "users" and "clients"`)
  const { users = [], clients = [], ...others } = parsed as Record<string, unknown>
  const unknown = Object.keys(others)
  if (unknown.length > 0) throw new UsageError(`--seed ${path}: unknown member ${unknown.join(', ')} (expected "users" and "clients")`)
  return { users: entries<NewUser>(path, 'users', users, USER_FIELDS, ['username', 'password']), clients: entries<NewClient>(path, 'clients', clients, CLIENT_FIELDS, ['name', 'scopes']) }
}

function entries<T>(path: string, member: string, value: unknown, fields: ReadonlySet<string>, required: readonly string[]): T[] {
  if (!Array.isArray(value)) throw new UsageError(`--seed ${path}: "${member}" must be an array`)
  return value.map((entry: unknown, index) => {
    const where = `--seed ${path}: ${member}[${index}]`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new UsageError(`${where} must be an object`)
    for (const name of Object.keys(entry)) if (!fields.has(name)) throw new UsageError(`${where} has an unknown field ${name}`)
    for (const name of required) if (!(name in entry)) throw new UsageError(`${where} lacks ${name}`)
    return entry as T
  })
}

/**
 * Creates the seed's users and clients in `store`.
 *
 * @returns a line per user and client for the start-up output, with each client's id and generated secret (shown
 *   only there)
 * @throws {@link UsageError} when the store refuses an entry (a malformed redirect URI, a taken username, …)
 */
export async function applySeed(store: Store, seed: Seed, path: string): Promise<string[]> {
  const lines: string[] = []
  for (const [index, user] of seed.users.entries()) {
    try {
      const created = await store.users.create(user)
      lines.push(`user ${created.username} (sub ${created.userId})`)
    } catch (error) {
      throw new UsageError(`--seed ${path}: users[${index}]: ${oneLine(error)}`)
    }
  }
  for (const [index, client] of seed.clients.entries()) {
    try {
      const { clientId, clientSecret } = await store.clients.create(client)
      const secret = clientSecret === undefined ? 'public, no secret' : client.clientSecret === undefined ? `secret ${clientSecret}` : 'secret as in the file'
      lines.push(`client ${client.name}: client_id ${clientId}, ${secret}`)
    } catch (error) {
      throw new UsageError(`--seed ${path}: clients[${index}]: ${oneLine(error)}`)
    }
  }
  return lines
}
