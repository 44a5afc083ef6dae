/**
 * The PostgreSQL schema of `PostgresStore`, as an ordered list of migrations, and the code that applies them on open:
 * versioned (table `schema_migrations`), in one transaction under an advisory lock, so that instances opening the same
 * database at once apply each migration once.
 *
 * @module
 * @internal
 */
import pg from 'pg'

/** The longest timer Node keeps: a query timeout that never fires in practice (24.8 days). */
const NO_QUERY_TIMEOUT_MS = 2 ** 31 - 1

/** First key of the advisory lock taken while migrating ("oaut"); the second is a hash of the schema's name. */
const MIGRATION_LOCK_KEY = 0x6f617574

/**
 * The schema's migrations, in order: version `i + 1` is `MIGRATIONS[i]`. Never edit one that was released; append a
 * new one. `{schema}` stands for the quoted schema name.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {schema}.clients (
    client_id text PRIMARY KEY,
    name text NOT NULL,
    secret_hash text,
    redirect_uris text[] NOT NULL,
    grant_types text[] NOT NULL,
    response_types text[] NOT NULL,
    scopes text[] NOT NULL,
    resources text[] NOT NULL,
    token_endpoint_auth_method text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE {schema}.users (
    user_id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at bigint NOT NULL
  );
  CREATE TABLE {schema}.codes (
    code_hash text PRIMARY KEY,
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    redirect_uri text,
    code_challenge text,
    code_challenge_method text CHECK (code_challenge_method IN ('S256', 'plain')),
    resources text[] NOT NULL,
    expires_at bigint NOT NULL,
    grant_id text NOT NULL,
    consumed_at bigint
  );
  CREATE INDEX codes_expires_at ON {schema}.codes (expires_at);
  CREATE INDEX codes_client_id ON {schema}.codes (client_id);
  CREATE INDEX codes_user_id ON {schema}.codes (user_id);
  CREATE TABLE {schema}.tokens (
    token_hash text PRIMARY KEY,
    type text NOT NULL CHECK (type IN ('access_token', 'refresh_token')),
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    resources text[] NOT NULL,
    issued_at bigint NOT NULL,
    expires_at bigint,
    grant_id text NOT NULL,
    revoked_at bigint,
    rotated_at bigint
  );
  CREATE INDEX tokens_grant_id ON {schema}.tokens (grant_id);
  CREATE INDEX tokens_expires_at ON {schema}.tokens (expires_at);
  CREATE INDEX tokens_client_id ON {schema}.tokens (client_id);
  CREATE INDEX tokens_user_id ON {schema}.tokens (user_id);
  CREATE INDEX tokens_revoked_at ON {schema}.tokens (revoked_at) WHERE expires_at IS NULL;
  CREATE TABLE {schema}.consents (
    client_id text NOT NULL REFERENCES {schema}.clients ON DELETE CASCADE,
    user_id text NOT NULL REFERENCES {schema}.users ON DELETE CASCADE,
    scopes text[] NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (client_id, user_id)
  );
  CREATE INDEX consents_user_id ON {schema}.consents (user_id);
  `,
  // 2: signing keys of JWT access tokens, private key in clear (it must sign, so it cannot be hashed). `seq` is the
  // order of insertion, which orders keys created in the same second.
  `
  CREATE TABLE {schema}.signing_keys (
    kid text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    alg text NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    private_jwk text NOT NULL,
    public_jwk text NOT NULL,
    created_at bigint NOT NULL,
    retired_at bigint,
    expires_at bigint
  );
  `,
  // 3: rate-limit windows, one row per key (the ready server passes SHA-256 digests), shared by every instance.
  `
  CREATE TABLE {schema}.rate_limits (
    rate_key text PRIMARY KEY,
    hits integer NOT NULL,
    reset_at bigint NOT NULL
  );
  CREATE INDEX rate_limits_reset_at ON {schema}.rate_limits (reset_at);
  `,
  // 4: client_credentials tokens have no user: left out of the user_id index, they cost one index write less each.
  // Deleting a user still finds its tokens through it (user_id = $1 implies IS NOT NULL).
  `
  DROP INDEX {schema}.tokens_user_id;
  CREATE INDEX tokens_user_id ON {schema}.tokens (user_id) WHERE user_id IS NOT NULL;
  `,
  // 5: keys are the digest of the whole token or code (43 characters), nothing else. Before, oauthkit's own tokens and
  // codes had their time of issue and a "." in front (9 + 1 + 43 = 53 characters); the digest after it is the new key,
  // so a token or code issued before the upgrade is still found. A digest has no ".", so no other key matches.
  `
  UPDATE {schema}.tokens SET token_hash = substr(token_hash, 11) WHERE length(token_hash) = 53 AND substr(token_hash, 10, 1) = '.';
  UPDATE {schema}.codes SET code_hash = substr(code_hash, 11) WHERE length(code_hash) = 53 AND substr(code_hash, 10, 1) = '.';
  `,
  // 6: the resources a client protects as a resource server, whose access tokens it may introspect.
  `
  ALTER TABLE {schema}.clients ADD COLUMN IF NOT EXISTS protected_resources text[] NOT NULL DEFAULT '{}';
  `,
  // 7: the ready server's browser sessions (by the digest of their id; a user's go with the user), and the secrets
  // made once per installation (HMAC keys of rate-limit counters and CSRF tokens). IF NOT EXISTS: a database taken
  // back to an earlier version (as a test of migration 5 does) applies it again.
  `
  CREATE TABLE IF NOT EXISTS {schema}.sessions (
    session_hash text PRIMARY KEY,
    user_id text NOT NULL REFERENCES {schema}.users (user_id) ON DELETE CASCADE,
    auth_time bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_user_id ON {schema}.sessions (user_id);
  CREATE INDEX IF NOT EXISTS sessions_expires_at ON {schema}.sessions (expires_at);
  CREATE TABLE IF NOT EXISTS {schema}.installation_secrets (
    name text PRIMARY KEY,
    value text NOT NULL,
    created_at bigint NOT NULL
  );
  `,
  // 8: what a client that registered itself (RFC 7591) said of itself; NULL for clients an operator registered.
  `
  ALTER TABLE {schema}.clients ADD COLUMN IF NOT EXISTS registration jsonb CHECK (registration IS NULL OR jsonb_typeof(registration) = 'object');
  `,
  // 9: client registration management (RFC 7592) and initial access tokens (RFC 7591 §3). A self-registered client
  // keeps the digest of its registration access token and when it last obtained a token (for the inactivity purge);
  // those registered before this migration start their inactivity now. Initial access tokens are kept as digests,
  // looked up by digest, with an expiry and the uses left (NULL: unlimited).
  `
  ALTER TABLE {schema}.clients ADD COLUMN IF NOT EXISTS registration_token_hash text;
  ALTER TABLE {schema}.clients ADD COLUMN IF NOT EXISTS last_used_at bigint;
  UPDATE {schema}.clients SET last_used_at = extract(epoch FROM now())::bigint WHERE registration IS NOT NULL;
  CREATE TABLE IF NOT EXISTS {schema}.initial_access_tokens (
    id text PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    expires_at bigint,
    uses_left integer CHECK (uses_left IS NULL OR uses_left >= 0)
  );
  `,
  // 10: OpenID Connect (issue 18). A user's standard claims (Core §5.1); the nonce of a code; how and when the user
  // signed in (auth_time, acr, amr: Core §2), kept with a code and the refresh tokens of its grant.
  `
  ALTER TABLE {schema}.users ADD COLUMN IF NOT EXISTS claims jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(claims) = 'object');
  ALTER TABLE {schema}.codes ADD COLUMN IF NOT EXISTS nonce text;
  ALTER TABLE {schema}.codes ADD COLUMN IF NOT EXISTS authentication jsonb CHECK (authentication IS NULL OR jsonb_typeof(authentication) = 'object');
  ALTER TABLE {schema}.tokens ADD COLUMN IF NOT EXISTS authentication jsonb CHECK (authentication IS NULL OR jsonb_typeof(authentication) = 'object');
  `,
]

/** A statement with its own `query_timeout`, which `pg` reads but its types do not declare. */
type TimedQueryConfig = pg.QueryConfig & { readonly query_timeout: number }

/** Creates the schema if needed and applies the missing migrations, in one transaction under an advisory lock. */
export async function migrate(pool: pg.Pool, schemaName: string): Promise<void> {
  const schema = pg.escapeIdentifier(schemaName)
  const client = await pool.connect()
  // No query timeout: a migration may wait for another instance's, or rewrite a large table.
  const query = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    const config: TimedQueryConfig = values === undefined ? { text, query_timeout: NO_QUERY_TIMEOUT_MS } : { text, values, query_timeout: NO_QUERY_TIMEOUT_MS }
    return client.query<R>(config)
  }
  let broken: Error | undefined
  const onError = (error: Error) => (broken ??= error)
  client.on('error', onError)
  try {
    await query('BEGIN')
    // Instances starting together queue here; each then sees the versions the others applied.
    await query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_KEY, schemaName])
    // Create the schema only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even then.
    const exists = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName])
    if (exists.rowCount === 0) await query(`CREATE SCHEMA ${schema}`)
    await query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`)
    const { rows } = await query<{ version: number | null }>(`SELECT max(version) AS version FROM ${schema}.schema_migrations`)
    const current = rows[0]?.version ?? 0
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this oauthkit (knows ${MIGRATIONS.length}): upgrade oauthkit`)
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await query((MIGRATIONS[version - 1] as string).replaceAll('{schema}', schema))
      await query(`INSERT INTO ${schema}.schema_migrations (version, applied_at) VALUES ($1, $2)`, [version, Math.floor(Date.now() / 1000)])
    }
    await query('COMMIT')
  } catch (error) {
    await query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
    })
    throw error
  } finally {
    client.removeListener('error', onError)
    client.release(broken)
  }
}

