/**
 * The SQLite schema of `SqliteStore`, as an ordered list of migrations, and the code that applies them on open.
 *
 * Migration `i` (0-based) brings the schema to version `i + 1`. A released migration is never edited, only followed by
 * a new one: databases in the field have applied it already and would never see the change. A migration that rebuilds
 * a table (SQLite's way to change a column) must keep the foreign keys in mind: `PRAGMA foreign_keys` cannot change
 * inside the transaction that applies migrations, so such a migration creates the new table, copies, drops and renames
 * in an order that never leaves a dangling reference.
 *
 * Internal to oauthkit: not exported from any entry.
 *
 * @module
 */
import type Database from 'better-sqlite3'

/**
 * The migrations, oldest first.
 *
 * Tables are STRICT, so a value of the wrong type (a fractional time, a number where a hash belongs) is refused rather
 * than stored. Lists (scopes, redirect URIs, grant types, resources) are JSON arrays in TEXT columns: they are always
 * read and written whole, never queried by element. Codes and tokens are kept only as SHA-256 digests (the records
 * carry digests, and there is deliberately no column for a clear value), so a copy of the file holds no usable token,
 * code or secret. The exception is `signing_keys` (migration 2), which holds private signing keys in clear.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL CHECK (json_type(redirect_uris) = 'array'),
    grant_types TEXT NOT NULL CHECK (json_type(grant_types) = 'array'),
    response_types TEXT NOT NULL CHECK (json_type(response_types) = 'array'),
    scopes TEXT NOT NULL CHECK (json_type(scopes) = 'array'),
    resources TEXT NOT NULL CHECK (json_type(resources) = 'array'),
    token_endpoint_auth_method TEXT NOT NULL
      CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE users (
    user_id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL CHECK (json_type(scopes) = 'array'),
    redirect_uri TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT CHECK (code_challenge_method IN ('S256', 'plain')),
    resources TEXT NOT NULL CHECK (json_type(resources) = 'array'),
    expires_at INTEGER NOT NULL,
    grant_id TEXT NOT NULL,
    consumed_at INTEGER
  ) STRICT;
  -- purgeExpired scans by expiry; the cascades from clients and users look codes up by owner.
  CREATE INDEX codes_expires_at ON codes (expires_at);
  CREATE INDEX codes_client_id ON codes (client_id);
  CREATE INDEX codes_user_id ON codes (user_id);

  CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('access_token', 'refresh_token')),
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL CHECK (json_type(scopes) = 'array'),
    resources TEXT NOT NULL CHECK (json_type(resources) = 'array'),
    issued_at INTEGER NOT NULL,
    expires_at INTEGER,
    grant_id TEXT NOT NULL,
    revoked_at INTEGER,
    rotated_at INTEGER
  ) STRICT;
  -- revokeFamily finds a family by grant_id; purgeExpired scans by expiry; the cascades look tokens up by owner.
  CREATE INDEX tokens_grant_id ON tokens (grant_id);
  CREATE INDEX tokens_expires_at ON tokens (expires_at);
  CREATE INDEX tokens_client_id ON tokens (client_id);
  CREATE INDEX tokens_user_id ON tokens (user_id);

  CREATE TABLE consents (
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    scopes TEXT NOT NULL CHECK (json_type(scopes) = 'array'),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, user_id)
  ) STRICT;
  -- The primary key covers lookups by client; deleting a user needs this one.
  CREATE INDEX consents_user_id ON consents (user_id);
  `,
  // 2: signing keys of JWT access tokens. Unlike everything else here, the private key is stored as it is (a key that
  // must sign cannot be hashed): the file must be protected like the key itself. `list` orders by created_at, then
  // by rowid (the order of insertion), so the table keeps its rowid.
  `
  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    alg TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    expires_at INTEGER
  ) STRICT;
  `,
  // 3: rate-limit windows, one row per key (the ready server passes SHA-256 digests). Looked up by key only, so the
  // key is the primary key of a table without rowid; purgeExpired scans by reset_at.
  `
  CREATE TABLE rate_limits (
    rate_key TEXT PRIMARY KEY NOT NULL,
    hits INTEGER NOT NULL,
    reset_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX rate_limits_reset_at ON rate_limits (reset_at);
  `,
  // 4: client_credentials tokens have no user: left out of the user_id index, they cost one index page write less
  // each. The cascade from users still finds a user's tokens through it (user_id = ? implies IS NOT NULL).
  `
  DROP INDEX tokens_user_id;
  CREATE INDEX tokens_user_id ON tokens (user_id) WHERE user_id IS NOT NULL;
  `,
  // 5: keys are the digest of the whole token or code (43 characters), nothing else. Before, oauthkit's own tokens and
  // codes had their time of issue and a "." in front (9 + 1 + 43 = 53 characters); the digest after it is the new key,
  // so a token or code issued before the upgrade is still found. A digest has no ".", so no other key matches.
  `
  UPDATE tokens SET token_hash = substr(token_hash, 11) WHERE length(token_hash) = 53 AND substr(token_hash, 10, 1) = '.';
  UPDATE codes SET code_hash = substr(code_hash, 11) WHERE length(code_hash) = 53 AND substr(code_hash, 10, 1) = '.';
  `,
  // 6: the resources a client protects as a resource server, whose access tokens it may introspect.
  `
  ALTER TABLE clients ADD COLUMN protected_resources TEXT NOT NULL DEFAULT '[]' CHECK (json_type(protected_resources) = 'array');
  `,
  // 7: the ready server's browser sessions (by the digest of their id; a user's go with the user), and the secrets
  // made once per installation (HMAC keys of rate-limit counters and CSRF tokens). IF NOT EXISTS: a database taken
  // back to an earlier version (as a test of migration 5 does) applies it again.
  `
  CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX IF NOT EXISTS sessions_user_id ON sessions (user_id);
  CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
  CREATE TABLE IF NOT EXISTS installation_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 8: what a client that registered itself (RFC 7591) said of itself; NULL for clients an operator registered.
  `
  ALTER TABLE clients ADD COLUMN registration TEXT CHECK (registration IS NULL OR json_type(registration) = 'object');
  `,
  // 9: client registration management (RFC 7592) and initial access tokens (RFC 7591 §3). A self-registered client
  // keeps the digest of its registration access token and when it last obtained a token (for the inactivity purge);
  // those registered before this migration start their inactivity now. Initial access tokens are kept as digests,
  // looked up by digest, with an expiry and the uses left (NULL: none or unlimited).
  `
  ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
  ALTER TABLE clients ADD COLUMN last_used_at INTEGER;
  UPDATE clients SET last_used_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE registration IS NOT NULL;
  CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    uses_left INTEGER CHECK (uses_left IS NULL OR uses_left >= 0)
  ) STRICT;
  `,
  // 10: OpenID Connect (issue 18). A user's standard claims (Core §5.1), a JSON object; the nonce of a code; how and
  // when the user signed in (auth_time, acr, amr: Core §2), kept with a code and the refresh tokens of its grant.
  `
  ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}' CHECK (json_type(claims) = 'object');
  ALTER TABLE codes ADD COLUMN nonce TEXT;
  ALTER TABLE codes ADD COLUMN authentication TEXT CHECK (authentication IS NULL OR json_type(authentication) = 'object');
  ALTER TABLE tokens ADD COLUMN authentication TEXT CHECK (authentication IS NULL OR json_type(authentication) = 'object');
  `,
]

/** The schema version this oauthkit writes and understands: the number of migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the database to the latest schema version, in one transaction: a database is either fully migrated or left
 * as it was (a crash or a failing migration half-way must not leave a schema no version of oauthkit knows).
 *
 * `BEGIN IMMEDIATE` takes the write lock before reading the version, so two processes opening the same new file do
 * not both apply migration 1.
 *
 * @param migrations - the list to apply; tests pass their own
 * @returns the schema version of the database afterwards
 * @throws Error when the database was written by a newer oauthkit (its schema version is above `migrations.length`):
 *   this code cannot know what the newer schema means, and writing to it could corrupt it
 */
export function migrate(db: Database.Database, migrations: readonly string[] = MIGRATIONS): number {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
    const row = db.prepare('SELECT MAX(version) AS version FROM schema_migrations').get() as { version: number | null }
    const current = row.version ?? 0
    if (current > migrations.length) {
      throw new Error(`database schema version ${current} is newer than this oauthkit (knows ${migrations.length}): upgrade oauthkit`)
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)')
    for (let version = current + 1; version <= migrations.length; version++) {
      db.exec(migrations[version - 1] as string)
      record.run(version, Math.floor(Date.now() / 1000))
    }
    db.exec('COMMIT')
    return migrations.length
  } catch (error) {
    // SQLite may have rolled back on its own already (e.g. on SQLITE_FULL).
    if (db.inTransaction) db.exec('ROLLBACK')
    throw error
  }
}
