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
import {
  parseRequest,
  timingSafeEqual,
  type BearerTokenResponse,
  type Client,
  type IssuedAuthorizationCode,
  type OAuth2Request,
  type RequestValidator,
  type Authentication,
  type TokenContext,
  type User,
  type UserClaims,
} from '../../src/index.js'
import { hashGeneratedSecret } from '../../src/store/secrets.js'
import { MemoryStore, tokenHash, StoreValidator, type ClientRecord, type Store, type StoreUser } from '../../src/store/index.js'
import { SqliteStore } from '../../src/store/sqlite/index.js'
import { PostgresStore } from '../../src/store/postgres/index.js'
import { FORM, MemoryValidator, TOKEN_URI, type TestClient, type TestUser } from './memory-validator.js'

/** The issuer of the store-backed validators: the audience of tokens asked for without a resource. */
export const CONFORMANCE_ISSUER = 'https://server.example.com'

/** What a fixture's code or token is issued for; the user must have been added first (a store refers to it). */
export interface ConformanceGrant {
  readonly clientId: string
  readonly user?: User | undefined
  readonly scopes: readonly string[]
  /** The resources (RFC 8707) of the grant; default none. */
  readonly resources?: readonly string[] | undefined
}

/** A token response the core asked the validator to save, and what for. */
export interface ConformanceSavedToken {
  readonly token: BearerTokenResponse
  readonly context: TokenContext<Client, User>
}

/** An authorization code as the validator keeps it, read from its storage (not through an endpoint). */
export interface ConformanceCode {
  readonly clientId: string
  readonly userId: string
  readonly scopes: readonly string[]
  readonly redirectUri: string | undefined
  readonly codeChallenge: string | undefined
  readonly codeChallengeMethod: 'S256' | 'plain' | undefined
  readonly resources: readonly string[]
  readonly expiresAt: number | undefined
  /** Whether the code was redeemed (consumed). */
  readonly used: boolean
  /** The `nonce` of an OpenID Connect request (Core §3.1.2.1). */
  readonly nonce: string | undefined
  /** The sign-in the code was issued after (Core §2). */
  readonly authentication: Authentication | undefined
}

/** A token as the validator keeps it, read from its storage (not through an endpoint). */
export interface ConformanceToken {
  readonly tokenType: 'access_token' | 'refresh_token'
  readonly clientId: string
  readonly userId: string | undefined
  readonly scopes: readonly string[]
  /**
   * Of an access token, its audience: the requested resources (over a store, `[CONFORMANCE_ISSUER]` when none was
   * requested; the double keeps none). Of a refresh token, the resources of its grant.
   */
  readonly resources: readonly string[]
  readonly expiresAt: number | undefined
  /** Whether it was revoked (RFC 7009, or a replay that ended its family). */
  readonly revoked: boolean
  /** Whether the validator still honours it: not revoked, and (a refresh token) not spent by a rotation. */
  readonly live: boolean
}

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
  /**
   * Saves an authorization code through the validator's own `saveAuthorizationCode`, as the authorization endpoint
   * would have issued it (expiring in 10 minutes unless `expiresAt` says otherwise).
   */
  addCode(code: string, issued: Omit<IssuedAuthorizationCode, 'expiresAt'> & { readonly expiresAt?: number }): Promise<void>
  /**
   * Saves a refresh token as a token response would have (over a store, through `saveBearerToken`, with an access token
   * of its grant beside it), without counting it in {@link ConformanceHarness.saved}.
   */
  addRefreshToken(token: string, grant: ConformanceGrant): Promise<void>
  /** Saves an access token (lifetime an hour) as a token response would have, without counting it in `saved`. */
  addAccessToken(token: string, grant: ConformanceGrant): Promise<void>
  /**
   * Every token response the core asked the validator to save (`saveBearerToken`), oldest first, fixtures' left out.
   * Whether a store kept what it was given is read with {@link ConformanceHarness.token}.
   */
  readonly saved: readonly ConformanceSavedToken[]
  /** Every code the validator was asked to save (`saveAuthorizationCode`), fixtures' included. */
  readonly savedCodes: readonly string[]
  /** The code as the validator's storage holds it. */
  code(code: string): Promise<ConformanceCode | undefined>
  /** The token as the validator's storage holds it. */
  token(token: string): Promise<ConformanceToken | undefined>
  /** Whether the token's record says it was revoked (read from the store, not through an endpoint). */
  isRevoked(token: string): Promise<boolean>
  /** Sets what the user's profile holds (OpenID Connect Core §5.1), as the validator's `getUserInfoClaims` reads it. */
  setClaims(userId: string, claims: UserClaims): Promise<void>
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
 * would make these files slow, and `test/store/` checks the password hashing itself. It also notes which tokens and
 * codes the core asked it to save, as the double does, before saving them exactly as StoreValidator does.
 */
class ConformanceStoreValidator extends StoreValidator {
  readonly pkceRequired = new Map<string, boolean>()
  readonly defaultScopes = new Map<string, readonly string[]>()
  readonly passwords = new Map<string, string>()
  /** The token responses the core asked to save, as {@link MemoryValidator.saved} records them. */
  readonly saved: ConformanceSavedToken[] = []
  readonly savedCodes: string[] = []

  override async saveBearerToken(token: BearerTokenResponse, context: TokenContext<ClientRecord, StoreUser>, request: OAuth2Request): Promise<void> {
    this.saved.push({ token, context })
    await super.saveBearerToken(token, context, request)
  }

  /** Saves a fixture's tokens exactly as {@link StoreValidator.saveBearerToken} does, without recording them. */
  saveFixtureTokens(token: BearerTokenResponse, context: TokenContext<ClientRecord, StoreUser>, request: OAuth2Request): Promise<void> {
    return super.saveBearerToken(token, context, request)
  }

  override async saveAuthorizationCode(code: string, issued: IssuedAuthorizationCode<StoreUser>): Promise<void> {
    this.savedCodes.push(code)
    await super.saveAuthorizationCode(code, issued)
  }

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
  // The strict rotation of RFC 9700 §4.14.2, which the conformance cases check: no retry window (tested in
  // test/store/validator-suite.ts and test/attacks/refresh-token.test.ts).
  const validator = new ConformanceStoreValidator(store, { issuer: CONFORMANCE_ISSUER, refreshTokenRetryWindow: 0 })
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
    async addCode(code, issued) {
      await validator.saveAuthorizationCode(code, { expiresAt: inTenMinutes(), ...issued } as IssuedAuthorizationCode<StoreUser>)
    },
    async addRefreshToken(token, grant) {
      const access = `fixture-access-${randomBytes(12).toString('base64url')}`
      await validator.saveFixtureTokens({ access_token: access, token_type: 'Bearer', expires_in: 3600, refresh_token: token }, await fixtureContext(grant), fixtureRequest())
    },
    async addAccessToken(token, grant) {
      await validator.saveFixtureTokens({ access_token: token, token_type: 'Bearer', expires_in: 3600 }, await fixtureContext(grant), fixtureRequest())
    },
    saved: validator.saved,
    savedCodes: validator.savedCodes,
    async code(code) {
      const stored = await store.codes.get(tokenHash(code))
      if (stored === undefined) return undefined
      return {
        clientId: stored.clientId,
        userId: stored.userId,
        scopes: stored.scopes,
        redirectUri: stored.redirectUri,
        codeChallenge: stored.codeChallenge,
        codeChallengeMethod: stored.codeChallengeMethod,
        resources: stored.resources,
        expiresAt: stored.expiresAt,
        used: stored.consumedAt !== undefined,
        nonce: stored.nonce,
        authentication: stored.authentication,
      }
    },
    async token(token) {
      const stored = await store.tokens.get(tokenHash(token))
      if (stored === undefined) return undefined
      return {
        tokenType: stored.type,
        clientId: stored.clientId,
        userId: stored.userId,
        scopes: stored.scopes,
        resources: stored.resources,
        expiresAt: stored.expiresAt,
        revoked: stored.revokedAt !== undefined,
        live: stored.revokedAt === undefined && stored.rotatedAt === undefined,
      }
    },
    async isRevoked(token) {
      return (await store.tokens.get(tokenHash(token)))?.revokedAt !== undefined
    },
    async setClaims(userId, claims) {
      await store.userTable.updateClaims(userId, claims)
    },
  }

  /** What saveBearerToken is told of a fixture's grant: the registered client, as a token request would have it. */
  async function fixtureContext(grant: ConformanceGrant): Promise<TokenContext<ClientRecord, StoreUser>> {
    const client = await store.clientTable.get(grant.clientId)
    if (client === undefined) throw new Error(`add the client ${grant.clientId} before its tokens`)
    return {
      client,
      user: grant.user as StoreUser | undefined,
      scopes: grant.scopes,
      refreshTokenScopes: grant.scopes,
      grantType: 'authorization_code',
      resources: grant.resources ?? [],
      refreshTokenResources: grant.resources ?? [],
    }
  }
}

/** A token request for a fixture's save: each is its own grant (family). */
function fixtureRequest(): OAuth2Request {
  return parseRequest(TOKEN_URI, 'POST', '', FORM, { source: 'body' })
}

function inTenMinutes(): number {
  return Math.floor(Date.now() / 1000) + 600
}

/** The harness of a test double, which a test may have subclassed to record or fail. */
export function doubleHarness(validator: MemoryValidator): ConformanceHarness {
  const userOf = (user: User | undefined): TestUser | undefined => (user === undefined ? undefined : [...validator.users.values()].find((u) => u.userId === user.userId))
  return {
    validator: validator as unknown as RequestValidator<Client, User>,
    async addClient(client) {
      validator.addClient(client)
    },
    async addUser(username, password) {
      return validator.addUser(username, password)
    },
    async addCode(code, issued) {
      validator.addCode(code, { expiresAt: inTenMinutes(), ...issued, user: userOf(issued.user) ?? (issued.user as TestUser) })
    },
    async addRefreshToken(token, grant) {
      const user = userOf(grant.user)
      const now = Math.floor(Date.now() / 1000)
      validator.addRefreshToken(token, { clientId: grant.clientId, user, scopes: grant.scopes, resources: grant.resources })
      validator.tokens.set(token, { tokenType: 'refresh_token', clientId: grant.clientId, user, username: user?.username, scopes: grant.scopes, issuedAt: now, revoked: false })
    },
    async addAccessToken(token, grant) {
      const user = userOf(grant.user)
      const now = Math.floor(Date.now() / 1000)
      const audience = grant.resources !== undefined && grant.resources.length > 0 ? grant.resources : undefined
      validator.tokens.set(token, { tokenType: 'access_token', clientId: grant.clientId, user, username: user?.username, scopes: grant.scopes, issuedAt: now, expiresAt: now + 3600, audience, revoked: false })
    },
    get saved() {
      return validator.saved
    },
    get savedCodes() {
      return [...validator.codes.keys()]
    },
    async code(code) {
      const stored = validator.codes.get(code)
      if (stored === undefined) return undefined
      return {
        clientId: stored.clientId,
        userId: stored.user.userId,
        scopes: stored.scopes,
        redirectUri: stored.redirectUri,
        codeChallenge: stored.codeChallenge,
        codeChallengeMethod: stored.codeChallengeMethod,
        resources: stored.resources ?? [],
        expiresAt: stored.expiresAt,
        used: stored.used,
        nonce: stored.nonce,
        authentication: stored.authentication,
      }
    },
    async token(token) {
      const stored = validator.tokens.get(token)
      if (stored === undefined) return undefined
      // A refresh token is spent (rotated) or revoked in the double's refresh token map.
      const refresh = stored.tokenType === 'refresh_token' ? validator.refreshTokens.get(token) : undefined
      return {
        tokenType: stored.tokenType,
        clientId: stored.clientId,
        userId: stored.user?.userId,
        scopes: stored.scopes,
        resources: (stored.tokenType === 'refresh_token' ? refresh?.resources : stored.audience) ?? [],
        expiresAt: stored.expiresAt,
        revoked: stored.revoked,
        live: !stored.revoked && refresh?.revoked !== true,
      }
    },
    async isRevoked(token) {
      return validator.tokens.get(token)?.revoked === true
    },
    async setClaims(userId, claims) {
      validator.claims.set(userId, claims)
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

/**
 * Deletes every client and user, and so (foreign keys, ON DELETE CASCADE) every code, token and consent; and every
 * initial access token.
 */
async function empty(store: Store): Promise<void> {
  for (const client of await store.clientTable.list()) await store.clientTable.delete(client.clientId)
  for (const user of await store.userTable.list()) await store.userTable.delete(user.userId)
  for (const token of await store.initialAccessTokenTable.list()) await store.initialAccessTokenTable.delete(token.id)
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

/**
 * The stores alone, for conformance files whose subject is a store-backed hook with options of its own (registration):
 * a fresh or emptied store per test, as for {@link CONFORMANCE_BACKENDS}.
 */
export const CONFORMANCE_STORES: readonly { readonly name: string; open(): Promise<Store> }[] = [
  {
    name: 'MemoryStore',
    async open() {
      const store = await MemoryStore.open()
      onTestFinished(() => store.close())
      return store
    },
  },
  { name: 'SqliteStore', open: sqliteStore },
  { name: 'PostgresStore', open: postgresStore },
]
