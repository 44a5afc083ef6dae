/**
 * The `oauthkit` command's help texts, one per command.
 *
 * @module
 */
import { DEFAULT_RATE_LIMITS, type RateLimit } from './app/rate-limit.js'
import { CLIENT_GRANT_TYPES } from './store/index.js'

/** The database every command uses unless `--db` or `OAUTHKIT_DB` names another. */
export const DEFAULT_DB = 'sqlite:./oauthkit.db'

/** The help of each command, by name (`main` for `oauthkit --help`). */
export const HELP: Record<string, string> = {
  main: `Usage: oauthkit <command> [options]

Commands:
  serve                 run the authorization server
  clients add|list|show|remove|rotate-secret
  users add|list|update|remove|passwd|signout
  keys rotate           start signing with a new key (the old one keeps verifying until its tokens expire)
  registration-tokens add|list|remove
                        initial access tokens for serve --registration token

Every command takes --db sqlite:PATH | postgres://… | memory (default ${DEFAULT_DB}, env OAUTHKIT_DB).
Run 'oauthkit <command> --help' for its options.`,
  serve: `Usage: oauthkit serve [options]

  --port N               port to listen on (default 3000, env OAUTHKIT_PORT)
  --host H               address to listen on (default 127.0.0.1, env OAUTHKIT_HOST)
  --issuer URL           public origin and issuer (default http://HOST:PORT; https required unless loopback, env OAUTHKIT_ISSUER)
  --db DB                sqlite:PATH | postgres://… | memory (default ${DEFAULT_DB}, env OAUTHKIT_DB)
  --config FILE          JSON file with any of: port, host, issuer, db, tokenFormat, trustProxy, enablePasswordGrant, idleTimeout,
                         maxConnections, loginLimit, tokenClientLimit, tokenAddressLimit, registrationLimit, rateLimit (false),
                         registration, registrationScope, registrationUnusedTtl, registrationInactiveTtl, resources,
                         refreshRetryWindow, shutdownGrace, purgeInterval, seed, dbPoolSize, dbStatementTimeout,
                         dbConnectTimeout, signingAlg, clientMetadataDocuments (true), clientMetadataDocumentsScope,
                         clientMetadataDocumentsAllowLoopback (true) (env OAUTHKIT_CONFIG)
  --token-format F       opaque (default) or jwt (env OAUTHKIT_TOKEN_FORMAT)
  --signing-alg A        algorithm of new signing keys (ID tokens, JWT access tokens): ES256 (default), RS256 or
                         EdDSA (env OAUTHKIT_SIGNING_ALG); a stored key keeps its own until \`keys rotate\`
  --trust-proxy          behind one TLS-terminating proxy: read X-Forwarded-Proto/Host, and the last X-Forwarded-For
                         address (the one the proxy appended) for the per-address rate limits (env OAUTHKIT_TRUST_PROXY=1)
  --idle-timeout S       close a connection that sends nothing for S seconds (default 30, env OAUTHKIT_IDLE_TIMEOUT)
  --max-connections N    connections open at once; past it new ones are refused, with a log line (default 10000,
                         env OAUTHKIT_MAX_CONNECTIONS)
  --db-pool-size N       PostgreSQL connections of this instance (default 10, env OAUTHKIT_DB_POOL_SIZE)
  --db-statement-timeout MS
                         a PostgreSQL statement unanswered for MS milliseconds fails the request with 503 (default 5000,
                         env OAUTHKIT_DB_STATEMENT_TIMEOUT)
  --db-connect-timeout MS
                         milliseconds to get a PostgreSQL connection, a new one or a free one of a full pool, before the
                         request fails with 503 (default 3000, env OAUTHKIT_DB_CONNECT_TIMEOUT)
  --purge-interval S     seconds between purges of expired codes, tokens, sessions and rate-limit windows, the first 30 s
                         after start; one instance at a time on PostgreSQL (default 600, env OAUTHKIT_PURGE_INTERVAL)
  --seed FILE            with --db memory: JSON {"users": [{username, password}], "clients": [{name, scopes, grantTypes,
                         redirectUris, public, clientId, clientSecret}]} made at start, for a demo (env OAUTHKIT_SEED)
  --shutdown-grace S     after SIGTERM or SIGINT, requests in flight get S seconds to finish, then their connections are
                         cut (default 10, env OAUTHKIT_SHUTDOWN_GRACE); a second signal a second or more later exits at once
  --enable-password-grant
                         serve the password grant (off by default: RFC 9700 section 2.4 says it MUST NOT be used);
                         its guesses count on the login limits (env OAUTHKIT_ENABLE_PASSWORD_GRANT=1)
  --registration P       client registration (RFC 7591) at /register, under the per-address registration limit: off
                         (default), open (any client), or token (a client needs an initial access token made with
                         'oauthkit registration-tokens add'); a registered client reads, updates and deletes its
                         registration at /register/CLIENT_ID with its registration access token (RFC 7592)
                         (env OAUTHKIT_REGISTRATION)
  --registration-scope S the scopes a self-registered client may obtain (default "read", env OAUTHKIT_REGISTRATION_SCOPE)
  --registration-unused-ttl S
                         remove a self-registered client that obtained no code or token within S seconds (default 86400,
                         env OAUTHKIT_REGISTRATION_UNUSED_TTL)
  --registration-inactive-ttl S
                         remove a self-registered client, with its tokens, that obtained or refreshed no token for
                         S seconds (default 7776000, 90 days; 0 never; env OAUTHKIT_REGISTRATION_INACTIVE_TTL)
  --client-metadata-documents
                         accept a client_id that is the https URL of the client's metadata document
                         (draft-ietf-oauth-client-id-metadata-document, as MCP clients use it): fetched safely (public
                         addresses only, no redirects, 5 KiB, 5 s) and cached; advertised in the metadata
                         (env OAUTHKIT_CLIENT_METADATA_DOCUMENTS=1)
  --client-metadata-documents-scope S
                         the scopes such a client may obtain (default "read", env OAUTHKIT_CLIENT_METADATA_DOCUMENTS_SCOPE)
  --client-metadata-documents-allow-loopback
                         DEVELOPMENT AND TESTS ONLY: also fetch documents from loopback addresses, over plain http too;
                         needs a loopback server and issuer, and says so loudly at start-up
                         (env OAUTHKIT_CLIENT_METADATA_DOCUMENTS_ALLOW_LOOPBACK=1)
  --refresh-retry-window S
                         a client whose refresh answer was lost may retry with the old refresh token for S seconds and
                         get a fresh pair, while the new one is unused (default 30; 0: every reuse ends the grant,
                         env OAUTHKIT_REFRESH_RETRY_WINDOW)
  --resource URI         a protected resource this server issues tokens for (repeatable): any client may ask for it with
                         resource= (RFC 8707), tokens then name it as audience (env OAUTHKIT_RESOURCES, space-separated)
Rate limits: N/SECONDS (failures per window) or off, counted in the database (shared by every instance); past one, 429:
  --login-limit L        failed sign-ins per username and per address; a username's count includes the password
                         grant's (default ${limitText(DEFAULT_RATE_LIMITS.loginPerUsername)}, env OAUTHKIT_LOGIN_LIMIT)
  --token-client-limit L failed client authentications per client_id at /token (default ${limitText(DEFAULT_RATE_LIMITS.tokenPerClient)}, env OAUTHKIT_TOKEN_CLIENT_LIMIT)
  --token-address-limit L
                         failed token requests per address (default ${limitText(DEFAULT_RATE_LIMITS.tokenPerAddress)}, env OAUTHKIT_TOKEN_ADDRESS_LIMIT)
  --registration-limit L registrations per address, each counted (default ${limitText(DEFAULT_RATE_LIMITS.registrationPerAddress)}, env OAUTHKIT_REGISTRATION_LIMIT)
  --no-rate-limit        turn every rate limit off (env OAUTHKIT_NO_RATE_LIMIT=1)
Sessions are kept in the database, so a sign-out, \`users passwd\`, \`users signout\` or \`users remove\` ends them on every
instance. CSRF tokens and rate-limit keys are keyed by a secret made once and kept in the database (OAUTHKIT_SESSION_SECRET,
base64url, 32+ bytes, overrides the CSRF one).`,
  clients: `Usage: oauthkit clients <add|list|show|remove|rotate-secret> [options]

  add --name N [--redirect-uri U]... [--grant-type G]... --scope "a b" [--resource URI]... [--public] [--json]
      --protects URI (repeatable): a resource server, which may introspect access tokens meant for URI
      --auth-method M: how it authenticates at /token, client_secret_basic (default) or client_secret_post
      grant types: ${CLIENT_GRANT_TYPES.join(', ')} (default authorization_code and refresh_token)
      prints the client_secret once: it is stored only as a hash
  list [--json]
  show CLIENT_ID [--json]
  remove CLIENT_ID
  rotate-secret CLIENT_ID [--json]
All take --db (default ${DEFAULT_DB}).`,
  users: `Usage: oauthkit users <add|list|update|remove|passwd|signout> [options]

  add --username U [--password P] [--claim NAME=VALUE]...
                                       without --password, the password is read from stdin
  list [--json]                        with --json, the claims of users who have some
  update USERNAME --claim NAME=VALUE...
                                       sets claims of the profile; NAME= (empty) removes one
      claims: the OpenID Connect standard claims (name, given_name, family_name, nickname, email,
      email_verified=true|false, phone_number, locale, zoneinfo, updated_at=SECONDS, address='{"country":"GB"}'
      or address=TEXT, …), answered at /userinfo by scope (profile, email, address, phone)
  remove USERNAME                      also ends their sessions and deletes their tokens
  passwd USERNAME [--password P]       without --password, read from stdin; also ends every session of the
                                       user and revokes every token issued to them
  signout USERNAME                     ends every session of the user, on every instance
All take --db (default ${DEFAULT_DB}).`,
  'registration-tokens': `Usage: oauthkit registration-tokens <add|list|remove> [options]

  add [--expires-in D] [--uses N] [--json]
      makes an initial access token (RFC 7591 section 3) for serve --registration token, and prints it once: it is
      stored only as a digest. D: seconds, or 30m, 12h, 7d (default 7d), or never; N: registrations it allows
      (default unlimited)
  list [--json]                        ids, expiry and uses left (never the tokens)
  remove ID                            the token stops working at once
All take --db (default ${DEFAULT_DB}).`,
  keys: `Usage: oauthkit keys rotate [--db DB] [--json]

Generates a new signing key; the previous one is still published for verification until its tokens expire.`,
}

/** Runs the CLI with `argv` (without `node` and the script); resolves to the exit code. */

function limitText(limit: RateLimit): string {
  return `${limit.maxFailures}/${limit.windowSeconds}`
}
