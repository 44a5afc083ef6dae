/**
 * The validators the conformance files run against: the test double (`MemoryValidator`, whose hooks a test can
 * override to record or fail) and the `StoreValidator` users run, over the memory, SQLite and PostgreSQL stores.
 *
 * A conformance file declares its RFC sections once per backend:
 *
 * ```ts
 * describe.each(CONFORMANCE_BACKENDS)('over $name', (backend) => { … await backend.open() … })
 * ```
 *
 * Each `open()` gives a fresh validator over an empty store. The memory store is opened per test; the SQLite and
 * PostgreSQL stores once per test file, and emptied when each test ends (see `sharedStores`).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, inject, onTestFinished } from 'vitest'
import { timingSafeEqual, type Client, type OAuth2Request, type RequestValidator, type User } from '../../src/index.js'
import { hashGeneratedSecret } from '../../src/store/secrets.js'
import { MemoryStore, tokenHash, StoreValidator, type ClientRecord, type Store, type StoreUser } from '../../src/store/index.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { PostgresStore } from '../../src/store/postgres/index.js'
import { MemoryValidator, type TestClient } from './memory-validator.js'

/** The issuer of the store-backed validators: the audience of tokens asked for without a resource. */
export const CONFORMANCE_ISSUER = 'https://server.example.com'

/** A validator under test, with the clients and users a conformance fixture sets up. */
export interface ConformanceHarness {
  readonly validator: RequestValidator<Client, User>
  /**
   * Registers a client as {@link MemoryValidator.addClient} does. Over a store, `resourceServer` registers it as the
   * protector of {@link CONFORMANCE_ISSUER} (RFC 7662 §4), the audience of the tokens the fixtures issue.
   */
  addClient(client: Partial<TestClient> & { clientId: string }): Promise<void>
  /** A user with the id `user-<username>`. */
  addUser(username: string, password: string): Promise<User & { readonly username: string }>
  /** Whether the token's record says it was revoked (read from the store, not through an endpoint). */
  isRevoked(token: string): Promise<boolean>
}

export interface ConformanceBackend {
  readonly name: string
  /** Whether this is the test double, whose hooks a test may override. */
  readonly double: boolean
  open(): Promise<ConformanceHarness>
}

/**
 * StoreValidator with three of its policy hooks set per client, as the double's clients carry them (PKCE exemption,
 * default scopes), and the password compared as the double does: the scrypt cost of a real check in every fixture
 * would make these files slow, and `test/store/` checks the password hashing itself.
 */
class ConformanceStoreValidator extends StoreValidator {
  readonly pkceRequired = new Map<string, boolean>()
  readonly defaultScopes = new Map<string, readonly string[]>()
  readonly passwords = new Map<string, string>()

  override async isPkceRequired(clientId: string, client: ClientRecord): Promise<boolean> {
    return client.tokenEndpointAuthMethod === 'none' || (this.pkceRequired.get(clientId) ?? true)
  }

  override async getDefaultScopes(clientId: string): Promise<readonly string[]> {
    return this.defaultScopes.get(clientId) ?? []
  }

  override async validateUser(username: string, password: string, _client?: ClientRecord, _request?: OAuth2Request): Promise<StoreUser | undefined> {
    const user = await this.store.users.getByUsername(username)
    const expected = user === undefined ? undefined : this.passwords.get(user.userId)
    return user !== undefined && expected !== undefined && (await timingSafeEqual(password, expected)) ? { userId: user.userId, username: user.username } : undefined
  }
}

function storeHarness(store: Store): ConformanceHarness {
  const validator = new ConformanceStoreValidator(store, { issuer: CONFORMANCE_ISSUER })
  return {
    validator: validator as unknown as RequestValidator<Client, User>,
    async addClient(client) {
      const record: ClientRecord = {
        clientId: client.clientId,
        name: client.clientId,
        secretHash: client.secret === undefined ? undefined : hashGeneratedSecret(client.secret),
        redirectUris: client.redirectUris ?? ['https://client.example.com/cb'],
        grantTypes: client.grantTypes ?? ['authorization_code', 'password', 'client_credentials', 'refresh_token'],
        responseTypes: client.responseTypes ?? ['code'],
        scopes: client.scopes ?? ['read', 'write'],
        resources: client.resources ?? [],
        protectedResources: client.resourceServer === true ? [CONFORMANCE_ISSUER] : undefined,
        tokenEndpointAuthMethod: client.secret === undefined ? 'none' : (client.tokenEndpointAuthMethod ?? 'client_secret_basic'),
        createdAt: Math.floor(Date.now() / 1000),
      }
      await store.clientTable.insert(record)
      validator.pkceRequired.set(client.clientId, client.pkceRequired ?? true)
      validator.defaultScopes.set(client.clientId, client.defaultScopes ?? ['read'])
    },
    async addUser(username, password) {
      const userId = `user-${username}`
      // A hash no password matches: the password is checked by ConformanceStoreValidator.validateUser.
      await store.userTable.insert({ userId, username, passwordHash: 'scrypt:32768:8:3:AAAA:AAAA', createdAt: Math.floor(Date.now() / 1000) })
      validator.passwords.set(userId, password)
      return { userId, username }
    },
    async isRevoked(token) {
      return (await store.tokens.get(tokenHash(token)))?.revokedAt !== undefined
    },
  }
}

/** The harness of a test double, which a test may have subclassed to record or fail. */
export function doubleHarness(validator: MemoryValidator): ConformanceHarness {
  return {
    validator: validator as unknown as RequestValidator<Client, User>,
    async addClient(client) {
      validator.addClient(client)
    },
    async addUser(username, password) {
      return validator.addUser(username, password)
    },
    async isRevoked(token) {
      return validator.tokens.get(token)?.revoked === true
    },
  }
}

/**
 * Stores shared by the tests of one file: opened on first use, emptied after each test (every client and user deleted,
 * and with them their codes, tokens and consents), closed and removed after the file. A test that opens several
 * harnesses gets a store of its own for each. A fresh database per test cost PostgreSQL a schema, its migrations and a
 * new connection pool, SQLite a new file: 40 to 75 ms a test, which made the conformance directory take minutes;
 * emptying takes a few. The tests of a file run one at a time, so a store is never shared by two running tests.
 */
function sharedStores(open: () => Promise<{ store: Store; remove(): Promise<void> }>): () => Promise<Store> {
  const opened: Array<Promise<{ store: Store; remove(): Promise<void> }>> = []
  /** How many of them the running test has been given. */
  let given = 0
  afterAll(async () => {
    for (const opening of opened) {
      const { store, remove } = await opening
      await store.close()
      await remove()
    }
  })
  return async () => {
    const index = given++
    if (index === 0) {
      onTestFinished(async () => {
        try {
          for (const opening of opened.slice(0, given)) await empty((await opening).store)
        } finally {
          given = 0
        }
      })
    }
    opened[index] ??= open()
    return (await opened[index]).store
  }
}

/** Deletes every client and user, and so (foreign keys, ON DELETE CASCADE) every code, token and consent. */
async function empty(store: Store): Promise<void> {
  for (const client of await store.clientTable.list()) await store.clientTable.delete(client.clientId)
  for (const user of await store.userTable.list()) await store.userTable.delete(user.userId)
}

const sqliteStore = sharedStores(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oauthkit-conformance-'))
  const store = await SqliteStore.open(join(dir, 'oauthkit.db'))
  return { store, remove: async () => rmSync(dir, { recursive: true, force: true }) }
})

const postgresStore = sharedStores(async () => {
  const connectionString = inject('databaseUrl')
  const schema = `oauthkit_conformance_${randomBytes(8).toString('hex')}`
  const store = await PostgresStore.open({ connectionString, max: 4 }, { schema })
  return {
    store,
    async remove() {
      const admin = new pg.Client({ connectionString })
      await admin.connect()
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
      } finally {
        await admin.end()
      }
    },
  }
})

export const CONFORMANCE_BACKENDS: readonly ConformanceBackend[] = [
  { name: 'the test double', double: true, open: async () => doubleHarness(new MemoryValidator()) },
  {
    name: 'StoreValidator on MemoryStore',
    double: false,
    async open() {
      const store = await MemoryStore.open()
      onTestFinished(() => store.close())
      return storeHarness(store)
    },
  },
  { name: 'StoreValidator on SqliteStore', double: false, open: async () => storeHarness(await sqliteStore()) },
  { name: 'StoreValidator on PostgresStore', double: false, open: async () => storeHarness(await postgresStore()) },
]
