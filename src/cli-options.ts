/**
 * The options of the `oauthkit` command checked and read: usage mistakes are {@link UsageError}s (exit code 2), and
 * `serve`'s transport, issuer and rate limits are refused before anything listens.
 *
 * @module
 */
import { checkIssuer } from './app/app.js'
import { type RateLimit, type RateLimitOptions } from './app/rate-limit.js'
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

/**
 * Client registration (RFC 7591) for `oauthkit serve`: `--registration off` (default), or `open` with the scopes a
 * self-registered client may obtain (`--registration-scope`, default `read`).
 *
 * @throws UsageError for another policy, or a malformed scope
 */
export function serveRegistration(
  flags: Readonly<Record<string, string | boolean | readonly string[] | undefined>>,
  env: Readonly<Record<string, string | undefined>>,
  file: Readonly<Record<string, unknown>>,
): { readonly scopes: readonly string[]; readonly unusedTtl: number } | undefined {
  const policy = str(flags.registration) ?? env.OAUTHKIT_REGISTRATION ?? str(file.registration) ?? 'off'
  if (policy === 'off') return undefined
  if (policy === 'token') throw new UsageError('--registration token (initial access tokens) is not available yet: use open or off')
  if (policy !== 'open') throw new UsageError(`--registration must be off or open, got ${policy}`)
  const scope = str(flags['registration-scope']) ?? env.OAUTHKIT_REGISTRATION_SCOPE ?? str(file.registrationScope) ?? 'read'
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(scope)) throw new UsageError(`--registration-scope must be scope tokens separated by spaces, got ${scope}`)
  const unusedTtl = positiveWhole('registration-unused-ttl', str(flags['registration-unused-ttl']) ?? env.OAUTHKIT_REGISTRATION_UNUSED_TTL ?? file.registrationUnusedTtl, 86_400)
  return { scopes: scope.split(' '), unusedTtl }
}


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
