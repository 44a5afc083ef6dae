/**
 * The options of the `oauthkit` command checked and read: usage mistakes are {@link UsageError}s (exit code 2), and
 * `serve`'s transport, issuer and rate limits are refused before anything listens.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { checkIssuer } from './app/app.js'
import { type RateLimit, type RateLimitOptions } from './app/rate-limit.js'
import { HELP } from './cli-help.js'
import { type Store } from './store/index.js'
import { parseClaimArgument } from './store/user-claims.js'
import { type SigningAlgorithm } from './tokens/signed-token.js'

/** A usage mistake: exit code 2 with the command's help hint. */
export class UsageError extends Error {}

/** The value of an option when it is text; `undefined` for anything else. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/**
 * A whole number from a flag, the environment or the config file, else `fallback`.
 *
 * @throws UsageError when it is not a positive whole number
 */
export function positiveWhole(flag: string, given: unknown, fallback: number): number {
  if (given === undefined) return fallback
  const text = String(given)
  const value = /^\d{1,9}$/.test(text) ? Number(text) : 0
  if (value < 1) throw new UsageError(`--${flag} must be a positive whole number, got ${text}`)
  return value
}

/**
 * The rate limits of `oauthkit serve`, from its flags, else the environment, else the `--config` file, else the
 * defaults: each limit `N/SECONDS` or `off`; `--no-rate-limit` (`OAUTHKIT_NO_RATE_LIMIT=1`, `"rateLimit": false`)
 * turns them all off.
 *
 * @throws UsageError for a limit of another form
 */
export function serveRateLimit(
  flags: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>>,
): RateLimitOptions | false {
  if (flags['no-rate-limit'] === true || env.OAUTHKIT_NO_RATE_LIMIT === '1' || file.rateLimit === false) return false
  const limit = (flag: string, variable: string, key: string): RateLimit | false | undefined => {
    const text = str(flags[flag]) ?? env[variable] ?? str(file[key])
    if (text === undefined) return undefined
    if (text === 'off') return false
    const match = /^(\d{1,9})\/(\d{1,9})$/.exec(text)
    const [maxFailures, windowSeconds] = match === null ? [0, 0] : [Number(match[1]), Number(match[2])]
    if (maxFailures < 1 || windowSeconds < 1) throw new UsageError(`--${flag} must be N/SECONDS (failures per window, e.g. 5/900) or off, got ${text}`)
    return { maxFailures, windowSeconds }
  }
  const login = limit('login-limit', 'OAUTHKIT_LOGIN_LIMIT', 'loginLimit')
  return {
    loginPerUsername: login,
    loginPerAddress: login,
    tokenPerClient: limit('token-client-limit', 'OAUTHKIT_TOKEN_CLIENT_LIMIT', 'tokenClientLimit'),
    tokenPerAddress: limit('token-address-limit', 'OAUTHKIT_TOKEN_ADDRESS_LIMIT', 'tokenAddressLimit'),
    registrationPerAddress: limit('registration-limit', 'OAUTHKIT_REGISTRATION_LIMIT', 'registrationLimit'),
  }
}

/**
 * The protected resources of `oauthkit serve` (`--resource URI`, repeatable; `OAUTHKIT_RESOURCES` space-separated;
 * `"resources": [...]` in the config file): absolute URIs without fragment (RFC 8707 §2).
 *
 * @throws UsageError for a malformed one
 */
export function serveResources(flags: readonly string[] | undefined, env: string | undefined, file: unknown): readonly string[] | undefined {
  const given = flags ?? env?.split(' ').filter((value) => value !== '') ?? (Array.isArray(file) ? file.map(String) : undefined)
  if (given === undefined || given.length === 0) return undefined
  for (const resource of given) {
    if (!URL.canParse(resource) || resource.includes('#')) throw new UsageError(`--resource must be an absolute URI without a fragment (RFC 8707 section 2), got ${resource}`)
  }
  return given
}

/** What `oauthkit serve` passes to `createApp` as `registration`. */
export interface ServeRegistration {
  readonly policy: 'open' | 'token'
  readonly scopes: readonly string[]
  readonly unusedTtl: number
  readonly inactiveTtl: number
}

/**
 * Client registration (RFC 7591, RFC 7592) for `oauthkit serve`: `--registration off` (default), `open`, or `token`
 * (an initial access token from `oauthkit registration-tokens add` required), with the scopes a self-registered client
 * may obtain (`--registration-scope`, default `read`) and when unused (`--registration-unused-ttl`, default a day) and
 * inactive (`--registration-inactive-ttl`, default 90 days, 0 never) clients are removed.
 *
 * @throws UsageError for another policy, a malformed scope or time
 */
export function serveRegistration(
  flags: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>>,
): ServeRegistration | undefined {
  const policy = str(flags.registration) ?? env.OAUTHKIT_REGISTRATION ?? str(file.registration) ?? 'off'
  if (policy === 'off') return undefined
  if (policy !== 'open' && policy !== 'token') throw new UsageError(`--registration must be off, open or token, got ${policy}`)
  const scope = str(flags['registration-scope']) ?? env.OAUTHKIT_REGISTRATION_SCOPE ?? str(file.registrationScope) ?? 'read'
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope)) throw new UsageError(`--registration-scope must be scope tokens separated by spaces, got ${scope}`)
  const unusedTtl = positiveWhole('registration-unused-ttl', str(flags['registration-unused-ttl']) ?? env.OAUTHKIT_REGISTRATION_UNUSED_TTL ?? file.registrationUnusedTtl, 86_400)
  const inactiveText = str(flags['registration-inactive-ttl']) ?? env.OAUTHKIT_REGISTRATION_INACTIVE_TTL ?? file.registrationInactiveTtl
  const inactiveTtl = inactiveText === undefined || String(inactiveText) !== '0' ? positiveWhole('registration-inactive-ttl', inactiveText, 90 * 86_400) : 0
  return { policy, scopes: scope.split(' '), unusedTtl, inactiveTtl }
}

/**
 * A duration of `registration-tokens add --expires-in`: seconds, or a number with `s`, `m`, `h` or `d`; `never` for
 * none.
 *
 * @returns seconds, or `undefined` for `never`
 * @throws UsageError for another form
 */
export function duration(flag: string, text: string): number | undefined {
  if (text === 'never') return undefined
  const match = /^(\d{1,7})([smhd]?)$/.exec(text)
  const seconds = match === null ? 0 : Number(match[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd']
  if (seconds < 1) throw new UsageError(`--${flag} must be a duration such as 3600, 30m, 12h or 7d, or never; got ${text}`)
  return seconds
}

/**
 * Client ID metadata documents for `oauthkit serve` (draft-ietf-oauth-client-id-metadata-document): off (default), or
 * on with `--client-metadata-documents` (`OAUTHKIT_CLIENT_METADATA_DOCUMENTS=1`, `"clientMetadataDocuments": true`),
 * for the scopes such a client may obtain (`--client-metadata-documents-scope`, default `read`).
 * `--client-metadata-documents-allow-loopback` (`OAUTHKIT_CLIENT_METADATA_DOCUMENTS_ALLOW_LOOPBACK=1`,
 * `"clientMetadataDocumentsAllowLoopback": true`) also fetches documents from loopback addresses, over http too: for
 * local development and tests only, and only on a loopback server.
 *
 * @throws UsageError for a malformed scope, or the development option without the feature or beyond loopback
 */
export function serveClientMetadataDocuments(
  flags: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>>,
  server: { readonly host: string; readonly issuer: string | undefined },
): { readonly scopes: readonly string[]; readonly allowLoopback: boolean } | undefined {
  const on = flags['client-metadata-documents'] === true || env.OAUTHKIT_CLIENT_METADATA_DOCUMENTS === '1' || file.clientMetadataDocuments === true
  const allowLoopback =
    flags['client-metadata-documents-allow-loopback'] === true ||
    env.OAUTHKIT_CLIENT_METADATA_DOCUMENTS_ALLOW_LOOPBACK === '1' ||
    file.clientMetadataDocumentsAllowLoopback === true
  if (!on) {
    if (allowLoopback) throw new UsageError('--client-metadata-documents-allow-loopback needs --client-metadata-documents')
    return undefined
  }
  const scope = str(flags['client-metadata-documents-scope']) ?? env.OAUTHKIT_CLIENT_METADATA_DOCUMENTS_SCOPE ?? str(file.clientMetadataDocumentsScope) ?? 'read'
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope)) {
    throw new UsageError(`--client-metadata-documents-scope must be scope tokens separated by spaces, got ${scope}`)
  }
  if (allowLoopback) {
    const issuer = server.issuer === undefined ? undefined : new URL(server.issuer)
    const loopbackIssuer = issuer === undefined || (issuer.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(issuer.hostname))
    if (!LOOPBACK_HOSTS.includes(server.host) || !loopbackIssuer) {
      throw new UsageError('--client-metadata-documents-allow-loopback is for local development only: it needs a server on loopback, with a loopback http issuer')
    }
  }
  return { scopes: scope.split(' '), allowLoopback }
}

/** What `serve` prints, to stderr, when the development option of client metadata documents is on. */
export const ALLOW_LOOPBACK_WARNING = [
  '*'.repeat(100),
  'WARNING: --client-metadata-documents-allow-loopback is on. Client ID metadata documents are fetched from LOOPBACK',
  'addresses (127.0.0.0/8, ::1), over plain HTTP too. This is for local development and tests ONLY: never run a server',
  'that others use with it.',
  '*'.repeat(100),
]
  .map((line) => `oauthkit: ${line}`)
  .join('\n')

/**
 * `serve` answers plain HTTP only. It refuses to start where that plain HTTP would be what clients reach: listening
 * beyond loopback without a TLS-terminating proxy in front (cookies without `Secure`, credentials in clear), and an
 * https issuer without `--trust-proxy` (every `/token` request would then be refused as not TLS).
 *
 * @throws UsageError saying which option to add
 */
export function checkServeTransport(host: string, issuer: string | undefined, trustProxy: boolean): void {
  const https = issuer !== undefined && new URL(issuer).protocol === 'https:'
  if (!LOOPBACK_HOSTS.includes(host) && !(https && trustProxy)) {
    throw new UsageError(
      `listening on ${host}, beyond loopback, needs a TLS-terminating proxy in front: --issuer https://… --trust-proxy (serve answers plain HTTP only)`,
    )
  }
  if (https && !trustProxy) {
    throw new UsageError(`an https issuer needs --trust-proxy: serve answers plain HTTP, so TLS ends at a proxy that sets X-Forwarded-Proto`)
  }
}
const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', '::1', 'localhost']

export function checkServeIssuer(issuer: string): void {
  if (!URL.canParse(issuer)) throw new UsageError(`--issuer must be a URL, got ${issuer}`)
  try {
    checkIssuer(issuer)
  } catch (error) {
    throw new UsageError(`--issuer: ${oneLine(error)}; behind a TLS-terminating proxy use --issuer https://… --trust-proxy`)
  }
}

/** The message of an error, first line only: no stack trace reaches the terminal. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n')[0] ?? message
}

/** Parses a command's arguments; a mistake is a {@link UsageError}. */
export function parse<const O extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(oneLine(error).replace(/^TypeError[^:]*: /, ''))
  }
}

/** Prints a command's help; exit code 2 when the command was missing. */
export function help(command: string, missing = false): number {
  console.log(HELP[command])
  return missing ? 2 : 0
}

/** Opens the store a `--db` value names: `sqlite:PATH` (or a bare path), `postgres://…`, or `memory`. */
export async function openStore(db: string, pool: DatabasePool = {}): Promise<Store> {
  try {
    if (db === 'memory') return await (await import('./store/memory/index.js')).MemoryStore.open()
    if (/^postgres(ql)?:\/\//.test(db)) {
      // The command line fails fast on a database that does not answer.
      const config = { connectionString: db, connectionTimeoutMillis: pool.connectTimeoutMs ?? 3000, max: pool.size, query_timeout: pool.statementTimeoutMs }
      return await (await import('./store/postgres/index.js')).PostgresStore.open(Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)))
    }
    const path = db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db
    if (path === '') throw new UsageError('--db sqlite: needs a path')
    return await (await import('./store/sqlite/index.js')).SqliteStore.open(path)
  } catch (error) {
    if (error instanceof UsageError) throw error
    throw new Error(`cannot open the database ${describeDb(db)}: ${oneLine(error)}`)
  }
}

/** The PostgreSQL pool of `serve`: `--db-pool-size`, `--db-statement-timeout`, `--db-connect-timeout`. */
export interface DatabasePool {
  /** Connections per instance (pg's `max`); default 10. */
  readonly size?: number | undefined
  /** Milliseconds a statement may go unanswered before the request gets `temporarily_unavailable`; default 5000. */
  readonly statementTimeoutMs?: number | undefined
  /** Milliseconds to get a connection (a new one, or a free one of a full pool); default 3000. */
  readonly connectTimeoutMs?: number | undefined
}

/** The pool options of `serve`, from its flags, else the environment, else the `--config` file. */
export function serveDatabasePool(
  flags: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>>,
): DatabasePool {
  const read = (flag: string, variable: string, key: string) => {
    const given = str(flags[flag]) ?? env[variable] ?? file[key]
    return given === undefined ? undefined : positiveWhole(flag, given, 0)
  }
  return {
    size: read('db-pool-size', 'OAUTHKIT_DB_POOL_SIZE', 'dbPoolSize'),
    statementTimeoutMs: read('db-statement-timeout', 'OAUTHKIT_DB_STATEMENT_TIMEOUT', 'dbStatementTimeout'),
    connectTimeoutMs: read('db-connect-timeout', 'OAUTHKIT_DB_CONNECT_TIMEOUT', 'dbConnectTimeout'),
  }
}

/** The database as the start-up lines name it, without a password. */
export function describeDb(db: string): string {
  if (db === 'memory') return 'memory (lost when the server stops)'
  if (/^postgres(ql)?:\/\//.test(db)) return `PostgreSQL ${db.replace(/\/\/[^@/]*@/, '//***@')}`
  return `SQLite ${db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db}`
}

/**
 * The claims of `--claim name=value` options (repeatable) applied to `base`: a value sets the claim, an empty one
 * (`name=`) removes it. See `parseClaimArgument` for the types.
 *
 * @throws UsageError when an option is not `name=value` or its value does not fit the standard claim
 */
export function claimOptions(options: readonly string[] | undefined, base: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...base }
  for (const option of options ?? []) {
    try {
      const [name, value] = parseClaimArgument(option)
      if (value === undefined) delete claims[name]
      else claims[name] = value
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(`--claim ${error.message}`)
      throw error
    }
  }
  return claims
}

/**
 * `--signing-alg` (env `OAUTHKIT_SIGNING_ALG`, config `signingAlg`): the algorithm of new signing keys.
 *
 * @throws UsageError when it is not ES256, RS256 or EdDSA
 */
export function serveSigningAlg(flag: string | undefined, env: string | undefined, file: unknown): SigningAlgorithm | undefined {
  const alg = flag ?? env ?? (typeof file === 'string' ? file : undefined)
  if (alg === undefined) return undefined
  if (alg !== 'ES256' && alg !== 'RS256' && alg !== 'EdDSA') throw new UsageError(`--signing-alg must be ES256, RS256 or EdDSA, got ${alg}`)
  return alg
}
