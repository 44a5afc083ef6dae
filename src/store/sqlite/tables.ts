/**
 * The SQLite store's tables but codes and tokens (`grant-tables.ts`): clients, users, consents, signing keys and
 * rate-limit windows, each a class over the statements it runs through {@link Access}.
 *
 * @module
 * @internal
 */
import type { ClientRecord, ClientTable, ConsentRecord, ConsentTable, KeyTable, RateLimitTable, RateLimitWindow } from '../tables.js'
import type { ClientRegistration, SigningKeyRecord, TokenEndpointAuthMethod, UserRecord, UserTable } from '../tables.js'
import type { InitialAccessTokenRecord, InitialAccessTokenTable, InstallationSecretTable, SessionRecord, SessionTable } from '../tables.js'
import { initialAccessTokenValues } from '../tables.js'
import { type Access } from './transactions.js'

interface ClientRow {
  client_id: string
  name: string
  secret_hash: string | null
  redirect_uris: string
  grant_types: string
  response_types: string
  scopes: string
  resources: string
  protected_resources: string
  token_endpoint_auth_method: TokenEndpointAuthMethod
  created_at: number
  registration: string | null
  registration_token_hash: string | null
  last_used_at: number | null
}

/** Clients in table `clients`; the reads of one turn share one `SELECT` (see `readShared`). */
export class SqliteClientTable implements ClientTable {
  constructor(private readonly access: Access) {}

  async insert(record: ClientRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO clients (client_id, name, secret_hash, redirect_uris, grant_types, response_types, scopes, resources, protected_resources, token_endpoint_auth_method, created_at, registration, registration_token_hash, last_used_at)
         VALUES (@client_id, @name, @secret_hash, @redirect_uris, @grant_types, @response_types, @scopes, @resources, @protected_resources, @token_endpoint_auth_method, @created_at, @registration, @registration_token_hash, @last_used_at)`,
      ).run(clientRow(record)),
    )
  }

  async get(clientId: string): Promise<ClientRecord | undefined> {
    // Every token request reads its client: the requests of one turn share one read (and its lists' parse).
    const record = await this.access.readShared(`client ${clientId}`, (sql) => {
      const row = sql('SELECT * FROM clients WHERE client_id = ?').get(clientId) as ClientRow | undefined
      return row === undefined ? undefined : clientRecord(row)
    })
    // A copy of its own for each caller; the lists are frozen, so they may be shared.
    return record === undefined ? undefined : { ...record }
  }

  async list(): Promise<readonly ClientRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM clients ORDER BY created_at, client_id').all() as ClientRow[])
    return rows.map(clientRecord)
  }

  async delete(clientId: string): Promise<boolean> {
    // Codes, tokens and consents go with it: ON DELETE CASCADE.
    return this.access.write((sql) => sql('DELETE FROM clients WHERE client_id = ?').run(clientId).changes === 1)
  }

  async deleteUnusedRegistrations(registeredBefore: number): Promise<number> {
    return this.access.write(
      (sql) =>
        sql(
          `DELETE FROM clients WHERE registration IS NOT NULL AND last_used_at IS NULL AND created_at < ?
             AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.client_id = clients.client_id)
             AND NOT EXISTS (SELECT 1 FROM codes WHERE codes.client_id = clients.client_id)`,
        ).run(registeredBefore).changes,
    )
  }

  async deleteInactiveRegistrations(usedBefore: number): Promise<number> {
    return this.access.write(
      (sql) => sql('DELETE FROM clients WHERE registration IS NOT NULL AND coalesce(last_used_at, created_at) < ?').run(usedBefore).changes,
    )
  }

  async markUsed(clientId: string, now: number): Promise<void> {
    await this.access.write((sql) => sql('UPDATE clients SET last_used_at = ? WHERE client_id = ? AND registration IS NOT NULL').run(now, clientId))
  }

  async updateRegistration(record: ClientRecord, currentTokenHash: string, forgetConsents = false): Promise<boolean> {
    // Compare-and-set on the token's digest: of concurrent updates with one token, one matches. Both statements run in
    // one synchronous step, so nothing comes between them.
    return this.access.write((sql) => {
      const updated =
        sql(
          `UPDATE clients SET name = @name, secret_hash = @secret_hash, redirect_uris = @redirect_uris, grant_types = @grant_types,
             response_types = @response_types, scopes = @scopes, resources = @resources, protected_resources = @protected_resources,
             token_endpoint_auth_method = @token_endpoint_auth_method, registration = @registration, registration_token_hash = @registration_token_hash
           WHERE client_id = @client_id AND registration_token_hash = @current`,
        ).run({ ...clientRow(record), current: currentTokenHash }).changes === 1
      if (updated && forgetConsents) sql('DELETE FROM consents WHERE client_id = ?').run(record.clientId)
      return updated
    })
  }

  async updateSecretHash(clientId: string, secretHash: string): Promise<boolean> {
    return this.access.write((sql) => sql('UPDATE clients SET secret_hash = ? WHERE client_id = ?').run(secretHash, clientId).changes === 1)
  }
}

function clientRow(record: ClientRecord): ClientRow {
  return {
    client_id: record.clientId,
    name: record.name,
    secret_hash: record.secretHash ?? null,
    redirect_uris: JSON.stringify(record.redirectUris),
    grant_types: JSON.stringify(record.grantTypes),
    response_types: JSON.stringify(record.responseTypes),
    scopes: JSON.stringify(record.scopes),
    resources: JSON.stringify(record.resources),
    protected_resources: JSON.stringify(record.protectedResources ?? []),
    token_endpoint_auth_method: record.tokenEndpointAuthMethod,
    created_at: record.createdAt,
    registration: record.registration === undefined ? null : JSON.stringify(record.registration),
    registration_token_hash: record.registrationTokenHash ?? null,
    last_used_at: record.lastUsedAt ?? null,
  }
}

function clientRecord(row: ClientRow): ClientRecord {
  const record: Mutable<ClientRecord> = {
    clientId: row.client_id,
    name: row.name,
    redirectUris: list(row.redirect_uris),
    grantTypes: list(row.grant_types),
    responseTypes: list(row.response_types),
    scopes: list(row.scopes),
    resources: list(row.resources),
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    createdAt: row.created_at,
  }
  // Optional fields set after, not spread in: V8 builds `{ ...(c ? {} : { x }), y }` on a slow path.
  if (row.secret_hash !== null) record.secretHash = row.secret_hash
  const protectedResources = list(row.protected_resources)
  if (protectedResources.length > 0) record.protectedResources = protectedResources
  if (row.registration !== null) record.registration = Object.freeze(JSON.parse(row.registration) as ClientRegistration)
  if (row.registration_token_hash !== null) record.registrationTokenHash = row.registration_token_hash
  if (row.last_used_at !== null) record.lastUsedAt = row.last_used_at
  return record
}

interface UserRow {
  user_id: string
  username: string
  password_hash: string
  created_at: number
  claims: string
}

/** Users in table `users`. */
export class SqliteUserTable implements UserTable {
  constructor(private readonly access: Access) {}

  async insert(record: UserRecord): Promise<void> {
    await this.access.write((sql) =>
      sql('INSERT INTO users (user_id, username, password_hash, created_at, claims) VALUES (@user_id, @username, @password_hash, @created_at, @claims)').run({
        user_id: record.userId,
        username: record.username,
        password_hash: record.passwordHash,
        created_at: record.createdAt,
        claims: JSON.stringify(record.claims ?? {}),
      } satisfies UserRow),
    )
  }

  async get(userId: string): Promise<UserRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM users WHERE user_id = ?').get(userId) as UserRow | undefined)
    return row === undefined ? undefined : userRecord(row)
  }

  async getByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined)
    return row === undefined ? undefined : userRecord(row)
  }

  async list(): Promise<readonly UserRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM users ORDER BY created_at, user_id').all() as UserRow[])
    return rows.map(userRecord)
  }

  async delete(userId: string): Promise<boolean> {
    // Codes, tokens and consents go with them: ON DELETE CASCADE.
    return this.access.write((sql) => sql('DELETE FROM users WHERE user_id = ?').run(userId).changes === 1)
  }

  async updatePasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.access.write((sql) => sql('UPDATE users SET password_hash = ? WHERE user_id = ?').run(passwordHash, userId).changes === 1)
  }

  async updateClaims(userId: string, claims: Readonly<Record<string, unknown>>): Promise<boolean> {
    const text = JSON.stringify(claims)
    return this.access.write((sql) => sql('UPDATE users SET claims = ? WHERE user_id = ?').run(text, userId).changes === 1)
  }
}

function userRecord(row: UserRow): UserRecord {
  const record: Mutable<UserRecord> = { userId: row.user_id, username: row.username, passwordHash: row.password_hash, createdAt: row.created_at }
  // The field only when the user has claims, as the other stores answer.
  if (row.claims !== '{}') record.claims = JSON.parse(row.claims) as Record<string, unknown>
  return record
}

interface ConsentRow {
  client_id: string
  user_id: string
  scopes: string
  granted_at: number
}

/** Consents in table `consents`, by client and user. */
export class SqliteConsentTable implements ConsentTable {
  constructor(private readonly access: Access) {}

  async get(clientId: string, userId: string): Promise<ConsentRecord | undefined> {
    const row = await this.access.read(
      (sql) => sql('SELECT * FROM consents WHERE client_id = ? AND user_id = ?').get(clientId, userId) as ConsentRow | undefined,
    )
    return row === undefined ? undefined : { clientId: row.client_id, userId: row.user_id, scopes: list(row.scopes), grantedAt: row.granted_at }
  }

  async put(record: ConsentRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO consents (client_id, user_id, scopes, granted_at) VALUES (@client_id, @user_id, @scopes, @granted_at)
         ON CONFLICT (client_id, user_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
      ).run({ client_id: record.clientId, user_id: record.userId, scopes: JSON.stringify(record.scopes), granted_at: record.grantedAt } satisfies ConsentRow),
    )
  }

  async delete(clientId: string, userId: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM consents WHERE client_id = ? AND user_id = ?').run(clientId, userId).changes === 1)
  }
}

interface SigningKeyRow {
  kid: string
  alg: SigningKeyRecord['alg']
  private_jwk: string
  public_jwk: string
  created_at: number
  retired_at: number | null
  expires_at: number | null
}

/** Signing keys in table `signing_keys`, private keys in clear. */
export class SqliteKeyTable implements KeyTable {
  constructor(private readonly access: Access) {}

  async insert(record: SigningKeyRecord): Promise<void> {
    await this.access.write((sql) =>
      sql(
        `INSERT INTO signing_keys (kid, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
         VALUES (@kid, @alg, @private_jwk, @public_jwk, @created_at, @retired_at, @expires_at)`,
      ).run({
        kid: record.kid,
        alg: record.alg,
        private_jwk: record.privateJwk,
        public_jwk: record.publicJwk,
        created_at: record.createdAt,
        retired_at: record.retiredAt ?? null,
        expires_at: record.expiresAt ?? null,
      } satisfies SigningKeyRow),
    )
  }

  async list(): Promise<readonly SigningKeyRecord[]> {
    // rowid grows with each insert: it orders the keys created in the same second.
    const rows = await this.access.read((sql) => sql('SELECT * FROM signing_keys ORDER BY created_at DESC, rowid DESC').all() as SigningKeyRow[])
    return rows.map((row) => ({
      kid: row.kid,
      alg: row.alg,
      privateJwk: row.private_jwk,
      publicJwk: row.public_jwk,
      createdAt: row.created_at,
      ...(row.retired_at === null ? {} : { retiredAt: row.retired_at }),
      ...(row.expires_at === null ? {} : { expiresAt: row.expires_at }),
    }))
  }

  async retire(kid: string, retiredAt: number, expiresAt: number): Promise<boolean> {
    // Compare-and-set, as for codes: only one concurrent retirement matches a key still signing.
    return this.access.write(
      (sql) => sql('UPDATE signing_keys SET retired_at = ?, expires_at = ? WHERE kid = ? AND retired_at IS NULL').run(retiredAt, expiresAt, kid).changes === 1,
    )
  }

  async delete(kid: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM signing_keys WHERE kid = ?').run(kid).changes === 1)
  }
}

interface RateLimitRow {
  rate_key: string
  hits: number
  reset_at: number
}

/** Rate-limit windows in table `rate_limits`. */
export class SqliteRateLimitTable implements RateLimitTable {
  constructor(private readonly access: Access) {}

  async hit(key: string, windowSeconds: number, now: number): Promise<RateLimitWindow> {
    // One UPSERT: a running window counts on, an ended one starts over (the SET expressions read the old row).
    const row = await this.access.write(
      (sql) =>
        sql(
          `INSERT INTO rate_limits (rate_key, hits, reset_at) VALUES (@key, 1, @now + @window)
           ON CONFLICT (rate_key) DO UPDATE SET
             hits = CASE WHEN reset_at > @now THEN hits + 1 ELSE 1 END,
             reset_at = CASE WHEN reset_at > @now THEN reset_at ELSE excluded.reset_at END
           RETURNING hits, reset_at`,
        ).get({ key, now, window: windowSeconds }) as Omit<RateLimitRow, 'rate_key'>,
    )
    return { count: row.hits, resetAt: row.reset_at }
  }

  async peek(keys: readonly string[], now: number): Promise<readonly (RateLimitWindow | undefined)[]> {
    if (keys.length === 0) return []
    // One statement per number of keys (callers use one to three), prepared once each; the token requests of one turn
    // (one client, one address) share its answer (see `readShared`).
    const rows = await this.access.readShared(
      `rate limits ${JSON.stringify([now, ...keys])}`,
      (sql) =>
        sql(`SELECT rate_key, hits, reset_at FROM rate_limits WHERE rate_key IN (${keys.map(() => '?').join(', ')}) AND reset_at > ?`).all(
          ...keys,
          now,
        ) as RateLimitRow[],
    )
    return keys.map((key) => {
      const row = rows.find((candidate) => candidate.rate_key === key)
      return row === undefined ? undefined : { count: row.hits, resetAt: row.reset_at }
    })
  }

  async reset(key: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM rate_limits WHERE rate_key = ?').run(key).changes === 1)
  }

  async release(key: string, now: number): Promise<void> {
    await this.access.write((sql) => sql('UPDATE rate_limits SET hits = hits - 1 WHERE rate_key = ? AND reset_at > ? AND hits > 0').run(key, now))
  }
}

interface SessionRow {
  session_hash: string
  user_id: string
  auth_time: number
  expires_at: number
}

/** Browser sessions in table `sessions`; a user's are deleted with the user (foreign key cascade). */
export class SqliteSessionTable implements SessionTable {
  constructor(private readonly access: Access) {}

  async insert(record: SessionRecord): Promise<void> {
    await this.access.write((sql) =>
      sql('INSERT INTO sessions (session_hash, user_id, auth_time, expires_at) VALUES (?, ?, ?, ?)').run(
        record.sessionHash,
        record.userId,
        record.authTime,
        record.expiresAt,
      ),
    )
  }

  async get(sessionHash: string, now: number): Promise<SessionRecord | undefined> {
    const row = await this.access.read(
      (sql) => sql('SELECT * FROM sessions WHERE session_hash = ? AND expires_at > ?').get(sessionHash, now) as SessionRow | undefined,
    )
    return row === undefined ? undefined : { sessionHash: row.session_hash, userId: row.user_id, authTime: row.auth_time, expiresAt: row.expires_at }
  }

  async delete(sessionHash: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM sessions WHERE session_hash = ?').run(sessionHash).changes === 1)
  }

  async deleteForUser(userId: string): Promise<number> {
    return this.access.write((sql) => sql('DELETE FROM sessions WHERE user_id = ?').run(userId).changes)
  }
}

/** Installation secrets in table `installation_secrets`. */
export class SqliteInstallationSecretTable implements InstallationSecretTable {
  constructor(private readonly access: Access) {}

  async getOrInsert(name: string, candidate: string, now: number): Promise<string> {
    // The write lock is held across both statements, so the SELECT sees the row whoever inserted it.
    return this.access.write((sql) => {
      sql('INSERT INTO installation_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, candidate, now)
      return (sql('SELECT value FROM installation_secrets WHERE name = ?').get(name) as { value: string }).value
    })
  }
}

interface InitialAccessTokenRow {
  id: string
  token_hash: string
  created_at: number
  expires_at: number | null
  uses_left: number | null
}

function initialAccessToken(row: InitialAccessTokenRow): InitialAccessTokenRecord {
  const record: Mutable<InitialAccessTokenRecord> = { id: row.id, tokenHash: row.token_hash, createdAt: row.created_at }
  if (row.expires_at !== null) record.expiresAt = row.expires_at
  if (row.uses_left !== null) record.usesLeft = row.uses_left
  return record
}

/** Initial access tokens in table `initial_access_tokens`, by id, unique by digest. */
export class SqliteInitialAccessTokenTable implements InitialAccessTokenTable {
  constructor(private readonly access: Access) {}

  async insert(record: InitialAccessTokenRecord): Promise<void> {
    await this.access.write((sql) =>
      sql('INSERT INTO initial_access_tokens (id, token_hash, created_at, expires_at, uses_left) VALUES (?, ?, ?, ?, ?)').run(...initialAccessTokenValues(record)),
    )
  }

  async list(): Promise<readonly InitialAccessTokenRecord[]> {
    const rows = await this.access.read((sql) => sql('SELECT * FROM initial_access_tokens ORDER BY created_at, id').all() as InitialAccessTokenRow[])
    return rows.map(initialAccessToken)
  }

  async get(tokenHash: string): Promise<InitialAccessTokenRecord | undefined> {
    const row = await this.access.read((sql) => sql('SELECT * FROM initial_access_tokens WHERE token_hash = ?').get(tokenHash) as InitialAccessTokenRow | undefined)
    return row === undefined ? undefined : initialAccessToken(row)
  }

  async use(tokenHash: string, now: number): Promise<boolean> {
    // One conditional UPDATE: the check and the decrement cannot be split by another use.
    return this.access.write(
      (sql) =>
        sql(
          `UPDATE initial_access_tokens SET uses_left = uses_left - 1
           WHERE token_hash = ? AND (expires_at IS NULL OR expires_at > ?) AND (uses_left IS NULL OR uses_left > 0)`,
        ).run(tokenHash, now).changes === 1,
    )
  }

  async delete(id: string): Promise<boolean> {
    return this.access.write((sql) => sql('DELETE FROM initial_access_tokens WHERE id = ?').run(id).changes === 1)
  }
}

/** A record being built from a row, its optional fields set one by one. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A JSON array column as a fresh frozen array: callers get their own copy and cannot alter it by accident. */
export function list(json: string): readonly string[] {
  return Object.freeze(JSON.parse(json) as string[])
}
