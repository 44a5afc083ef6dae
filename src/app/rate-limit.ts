/**
 * Rate limiting of the ready server: failed sign-ins and failed token requests are counted in the store's
 * {@link RateLimitTable}, per username, per client and per address, so that every instance over one database shares
 * the counts. Past a limit, attempts are refused with 429 and `Retry-After` until the window ends, before any work
 * (no password or secret is hashed, no code or refresh token is looked at).
 *
 * Only failures count, so legitimate traffic of any volume is never limited. Checking costs at most one lookup of a
 * counter per second: what a lookup found, and what a failure counted, holds for the rest of that second. Counting
 * costs one write per counter, on failures only.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-10.10 | RFC 6749 §10.10} (credentials-guessing attacks)
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.3.2 | RFC 6749 §4.3.2} (password grant: protect against brute force)
 * @see {@link https://www.rfc-editor.org/rfc/rfc6819#section-4.4.3.6 | RFC 6819 §4.4.3.6} (online guessing of passwords)
 * @see {@link https://www.rfc-editor.org/rfc/rfc6819#section-5.1.4.2.3 | RFC 6819 §5.1.4.2.3} (lock accounts)
 * @see {@link https://www.rfc-editor.org/rfc/rfc6585#section-4 | RFC 6585 §4} (429 Too Many Requests)
 *
 * @module
 */
import { TemporarilyUnavailableError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type TokenRequestHooks } from '../endpoints/token.js'
import { type RateLimitTable, type RateLimitWindow } from '../store/store.js'
import { RateLimitKeys } from './rate-limit-keys.js'

export { addressBucket } from './rate-limit-keys.js'

/** One limit: how many failures a key may have within a window. */
export interface RateLimit {
  /** Failures allowed per key within the window; the attempt after them is refused until the window ends. */
  readonly maxFailures: number
  /**
   * The window, in seconds. It starts at a key's first failure and is not extended, neither by later failures nor by
   * refused attempts (which are not counted), so a key is free again at most this long after its first failure.
   */
  readonly windowSeconds: number
}

/**
 * The limits of the ready server (`createApp`'s `rateLimit` option). Each is on by default; `false` turns one off.
 *
 * Counts live in the store: over one PostgreSQL database every instance shares them; `SqliteStore` shares them
 * between the processes on the file; `MemoryStore` counts per process.
 *
 * **Addresses** come from the adapter (`ConnectionInfo.remoteAddress`; `oauthkit serve` gives the socket's, or with
 * `--trust-proxy` the one the proxy appended to `X-Forwarded-For`). Behind a proxy that is not trusted this way, every
 * request has the proxy's address and the per-address limits apply to everyone at once. IPv6 addresses count per
 * /64 prefix (one host usually holds a whole /64). Without an address, the per-address limits do not apply.
 *
 * **Lockout:** per-username and per-client limits also refuse the rightful user or client while someone else fails
 * for them (RFC 6819 §5.1.4.2.3). Windows are short so that such a lockout ends soon after the attack stops.
 *
 * **Exactness:** a password is checked only after its attempt was counted, atomically, on the per-username and
 * per-address sign-in counters (the login page and the password grant alike): however many attempts arrive at once,
 * on however many instances, no more passwords are checked per window than the limit, and a right password gives its
 * attempt back (two writes per sign-in). The per-client and per-address limits of the token endpoint count failures
 * only, so that a client's successful requests cost no write: their counters are read before a request runs and
 * counted after it failed. Those attempts already in flight when such a limit is reached still run (a burst of `n`
 * may pass it by up to `n - 1`, once per window); a client secret is 256 random bits, far beyond guessing. An
 * instance reads such a counter at most once a second and learns the shared count again from each failure it
 * counts.
 */
export interface RateLimitOptions {
  /**
   * Failed sign-ins per username: wrong passwords on the login page, and `invalid_grant` answers to password-grant
   * requests naming that username (the same counter, so the token endpoint is no way around the login page's limit).
   * A successful sign-in on the login page ends the window. Default 5 per 15 minutes.
   */
  readonly loginPerUsername?: RateLimit | false | undefined
  /** Failed sign-ins on the login page per client address, whatever the username. Default 5 per 15 minutes. */
  readonly loginPerAddress?: RateLimit | false | undefined
  /**
   * Failed client authentications (`invalid_client`) at the token endpoint per `client_id` as presented (HTTP Basic
   * or the `client_id` parameter): online guessing of a client secret. Default 20 per 5 minutes.
   */
  readonly tokenPerClient?: RateLimit | false | undefined
  /**
   * Failed token requests (any 400 or 401 answer: a bad secret, code, refresh token, password or request) per client
   * address. Default 100 per 5 minutes.
   */
  readonly tokenPerAddress?: RateLimit | false | undefined
  /**
   * Client registrations (RFC 7591) per client address, each request counted whatever its answer, so that no address
   * can fill the store with clients. Default 20 per hour.
   */
  readonly registrationPerAddress?: RateLimit | false | undefined
  /**
   * The clock, in whole seconds since the epoch; default the system clock. For tests: the store's purge still uses
   * the system clock.
   */
  readonly now?: (() => number) | undefined
}

/** The limits that apply when {@link RateLimitOptions} does not say otherwise. */
export const DEFAULT_RATE_LIMITS: Readonly<
  Record<'loginPerUsername' | 'loginPerAddress' | 'tokenPerClient' | 'tokenPerAddress' | 'registrationPerAddress', RateLimit>
> = Object.freeze({
    loginPerUsername: Object.freeze({ maxFailures: 5, windowSeconds: 900 }),
    loginPerAddress: Object.freeze({ maxFailures: 5, windowSeconds: 900 }),
    tokenPerClient: Object.freeze({ maxFailures: 20, windowSeconds: 300 }),
    tokenPerAddress: Object.freeze({ maxFailures: 100, windowSeconds: 300 }),
    registrationPerAddress: Object.freeze({ maxFailures: 20, windowSeconds: 3600 }),
  })

type LimitName = keyof typeof DEFAULT_RATE_LIMITS

/** A counter to check or count: its limit's name, the limit, and the key in the store. */
interface Counter {
  readonly name: LimitName
  readonly limit: RateLimit
  readonly key: string
}

/** An attempt admitted to a password check, or refused: what {@link RateLimiter.admitSignIn} answers. */
export interface PasswordCheck {
  /** Seconds to wait before trying again; 0 when the attempt was admitted and the password may be checked. */
  readonly wait: number
  /** The password was right: gives the attempt back. */
  succeeded(): Promise<void>
  /** The password was not checked after all (e.g. hashing was refused under load): gives the attempt back. */
  released(): Promise<void>
}

/** What a log entry receives; the app's `log` option. */
type Log = (entry: Record<string, unknown>) => void

/**
 * Applies the {@link RateLimitOptions} of one app over a store's {@link RateLimitTable}. Internal to the ready server.
 */
export class RateLimiter {
  private readonly limits: Readonly<Partial<Record<LimitName, RateLimit>>>
  private readonly now: () => number
  /**
   * The windows (`null`: none) of the counters looked up or counted during the second {@link knownSecond}: not read
   * again within it.
   */
  private readonly known = new Map<string, RateLimitWindow | null>()
  private knownSecond = Number.NaN
  /** Moves at the start and the end of every count: a lookup that overlapped one is not kept. */
  private counting = 0
  /** The keys of client_ids and of addresses, by value: their digests are not computed again for every request. */
  private readonly clientKeys = new Map<string, string>()
  private readonly addressKeys = new Map<string, string>()

  private constructor(
    private readonly table: RateLimitTable,
    private readonly keys: RateLimitKeys,
    options: RateLimitOptions,
    private readonly log: Log,
    private readonly isUnavailable: (error: unknown) => boolean,
  ) {
    const limits: Partial<Record<LimitName, RateLimit>> = {}
    for (const name of Object.keys(DEFAULT_RATE_LIMITS) as LimitName[]) {
      const given = options[name]
      if (given === false) continue
      limits[name] = checkLimit(name, given ?? DEFAULT_RATE_LIMITS[name])
    }
    this.limits = limits
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000))
  }

  /**
   * The limiter for `options`, or `undefined` when rate limiting is off (`false`, or every limit `false`): then the
   * app does no rate-limit work at all.
   *
   * @param secret - the HMAC key of the counters' keys (at least 32 bytes): the installation's, from the store
   * @throws TypeError when a limit is not two positive whole numbers, or the secret is shorter than 32 bytes
   */
  static create(
    table: RateLimitTable,
    secret: Uint8Array,
    options: RateLimitOptions | false | undefined,
    log: Log,
    isUnavailable: (error: unknown) => boolean = () => false,
  ): RateLimiter | undefined {
    if (options === false) return undefined
    const limiter = new RateLimiter(table, new RateLimitKeys(secret), options ?? {}, log, isUnavailable)
    return Object.keys(limiter.limits).length === 0 ? undefined : limiter
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The login page

  /**
   * Admits one password check for `username` from `address` on the login page, under the per-username and per-address
   * limits. See {@link RateLimiter.admit}.
   */
  admitSignIn(username: string, address: string | undefined): Promise<PasswordCheck> {
    return this.admit(this.loginCounters(username, address), username)
  }

  /**
   * Admits one password check: counts it first, atomically, on every counter (one `hit` each, which returns the count
   * including this attempt), and refuses it when any count is past its limit. Of `n` simultaneous attempts on a
   * counter with `k` attempts left in its window, exactly `k` are admitted, on one instance or many: the store hands out
   * the counts 1 to `n` once each. A refused attempt gives its counts back at once (nothing was checked); an admitted
   * one keeps them unless its password turns out right ({@link PasswordCheck.succeeded}).
   *
   * @throws the store's error when it cannot be reached (the caller answers 503); other store failures admit the
   *   attempt, logged, as the limiter fails open
   */
  private async admit(counters: readonly (Counter | undefined)[], username: string): Promise<PasswordCheck> {
    const present = counters.filter((counter): counter is Counter => counter !== undefined)
    const now = this.now()
    let windows: RateLimitWindow[]
    try {
      windows = await Promise.all(present.map((counter) => this.table.hit(counter.key, counter.limit.windowSeconds, now)))
    } catch (error) {
      if (this.isUnavailable(error)) throw error
      this.failed(error)
      return { wait: 0, succeeded: async () => {}, released: async () => {} }
    }
    let wait = 0
    present.forEach((counter, i) => {
      const window = windows[i] as RateLimitWindow
      if (window.count <= counter.limit.maxFailures) return
      wait = Math.max(wait, Math.max(window.resetAt - now, 1))
      // Once per window, without the key: it may be a username, or a password typed into the username field.
      if (window.count === counter.limit.maxFailures + 1) {
        this.log({ level: 'warn', message: 'rate limit reached', limit: counter.name, retry_after: Math.max(window.resetAt - now, 1) })
      }
    })
    const release = async () => {
      await Promise.all(present.map((counter) => this.table.release(counter.key, now).catch((error: unknown) => this.failed(error))))
    }
    if (wait > 0) {
      await release()
      return { wait, succeeded: async () => {}, released: async () => {} }
    }
    return {
      wait: 0,
      // The right password: the username's window ends (its failures were someone else's guesses, or the user's own
      // typos), and the address gets this attempt back (it may be guessing other usernames, so its count stays).
      succeeded: async () => {
        await release()
        if (username !== '') await this.loginSucceeded(username)
      },
      released: release,
    }
  }

  /** Ends the window of the username's failures (the address keeps its count: it may be guessing other usernames). */
  private async loginSucceeded(username: string): Promise<void> {
    if (this.limits.loginPerUsername === undefined) return
    try {
      await this.table.reset(this.keys.username(username))
    } catch (error) {
      this.failed(error)
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The registration endpoint

  /**
   * Admits one registration request from `address` (RFC 7591 §3): every request is counted, atomically and before it
   * runs, whatever its answer. A refused one gives its count back.
   *
   * @returns seconds to wait; 0 when the request may run
   * @throws the store's error when it cannot be reached (the caller answers 503)
   */
  async admitRegistration(address: string | undefined): Promise<number> {
    const check = await this.admit([this.counter('registrationPerAddress', address, (value) => this.keys.registrationAddress(value))], '')
    return check.wait
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The token endpoint

  /**
   * The token endpoint's hooks that apply the limits. Before the grant runs: a request whose address or client_id
   * counter is at its limit is refused with 429 (so nothing is consumed, rotated or hashed), and a password grant is
   * admitted to its password check on the same per-username and per-address counters as the login page
   * ({@link RateLimiter.admit}: counted first, so a parallel burst gets no more checks than the limit). After it: a
   * failure (400 or 401) is counted per address, and per client_id when the client failed to authenticate; an
   * admitted password grant gives its attempt back unless the password was wrong (`invalid_grant`). What is counted
   * comes from the endpoint: the client_id as presented (HTTP Basic or the `client_id` parameter), the username, the
   * error code, and the client's address passed as `credentials.remoteAddress`.
   *
   * The 429 carries `error: "temporarily_unavailable"`. No error code is registered for rate limiting at the token
   * endpoint; this one says "try again later" to every client (RFC 6749 §4.1.2.1 defines it; oauthkit answers it at the
   * token endpoint too when its database is unreachable). `slow_down` was the other candidate, but RFC 8628 §3.5 defines
   * it for device-code polling only, telling the client to poll 5 seconds more slowly, which means nothing to the
   * other grants.
   */
  tokenRequestHooks(): TokenRequestHooks {
    // The password checks admitted, by request, until the answer says whether the password was right.
    const admitted = new WeakMap<OAuth2Request, PasswordCheck>()
    const unreachable = () => new TemporarilyUnavailableError('The authorization server cannot reach its database; retry later', { headers: { 'Retry-After': '5' } })
    const tooMany = (wait: number) =>
      new TemporarilyUnavailableError(`Too many failed requests: retry after ${wait} seconds`, { status: 429, headers: { 'Retry-After': String(wait) } })
    return {
      beforeGrant: async (request) => {
        let wait: number
        try {
          wait = await this.wait(this.tokenCounters(request, addressOf(request.credentials)))
        } catch {
          throw unreachable()
        }
        if (wait > 0) throw tooMany(wait)
        if (request.grantType !== 'password') return
        let check: PasswordCheck
        try {
          check = await this.admit(this.loginCounters(request.params.get('username') ?? '', addressOf(request.credentials)), '')
        } catch {
          throw unreachable()
        }
        if (check.wait > 0) throw tooMany(check.wait)
        admitted.set(request, check)
      },
      afterResponse: async (outcome) => {
        const check = outcome.request === undefined ? undefined : admitted.get(outcome.request)
        // RFC 6749 §5.2: invalid_grant is the wrong password; any other answer either checked none or found it right.
        if (check !== undefined && outcome.error !== 'invalid_grant') await check.released()
        if (outcome.status !== 400 && outcome.status !== 401) return
        const [address, client] = this.tokenCounters(outcome.request, addressOf(outcome.credentials))
        await this.count([address, outcome.error === 'invalid_client' ? client : undefined])
      },
    }
  }

  /** The counters a token request is checked against before it runs: its address and its client_id. */
  private tokenCounters(request: OAuth2Request | undefined, address: string | undefined): [Counter | undefined, Counter | undefined] {
    return [
      this.counter('tokenPerAddress', address, (value) => remembered(this.addressKeys, value, (address) => this.keys.tokenAddress(address))),
      this.counter('tokenPerClient', request?.clientId, (id) => remembered(this.clientKeys, id, (clientId) => this.keys.client(clientId))),
    ]
  }

  // ---------------------------------------------------------------------------------------------------------------

  private loginCounters(username: string, address: string | undefined): (Counter | undefined)[] {
    return [
      this.counter('loginPerUsername', username === '' ? undefined : username, (name) => this.keys.username(name)),
      this.counter('loginPerAddress', address, (value) => this.keys.loginAddress(value)),
    ]
  }

  /** The counter of a limit for a value (a username, client_id or address), when the limit is on and the value known. */
  private counter(name: LimitName, value: string | undefined, key: (value: string) => string): Counter | undefined {
    const limit = this.limits[name]
    return limit === undefined || value === undefined ? undefined : { name, limit, key: key(value) }
  }

  /**
   * Seconds until every counter is under its limit again; 0 when none is at it. One lookup for those not known in
   * this second.
   */
  private async wait(counters: readonly (Counter | undefined)[]): Promise<number> {
    const now = this.now()
    if (now !== this.knownSecond) {
      this.known.clear()
      this.knownSecond = now
    }
    let wait = 0
    const present: Counter[] = []
    for (const counter of counters) {
      if (counter === undefined) continue
      const window = this.known.get(counter.key)
      if (window === undefined) present.push(counter)
      else wait = Math.max(wait, waitOf(window, counter, now))
    }
    if (present.length === 0) return wait
    const countingBefore = this.counting
    let windows: readonly (RateLimitWindow | undefined)[]
    try {
      windows = await this.table.peek(present.map((counter) => counter.key), now)
    } catch (error) {
      // A database that cannot be reached would only make the request wait for its timeout a second time: the
      // caller answers 503 at once. Any other failure fails open, logged.
      if (this.isUnavailable(error)) throw error
      this.failed(error)
      return 0
    }
    // Kept unless a count overlapped the lookup, or the lookup ended in the next second.
    const keep = this.counting === countingBefore && now === this.knownSecond
    present.forEach((counter, i) => {
      const window = windows[i] ?? null
      if (keep) this.remember(counter.key, window)
      wait = Math.max(wait, waitOf(window, counter, now))
    })
    return wait
  }

  /** Keeps a counter's window for the rest of the second (within {@link MAX_REMEMBERED} counters). */
  private remember(key: string, window: RateLimitWindow | null): void {
    if (this.known.size < MAX_REMEMBERED || this.known.has(key)) this.known.set(key, window)
  }

  /** Counts one failure on each counter, side by side. */
  private async count(counters: readonly (Counter | undefined)[]): Promise<void> {
    const now = this.now()
    await Promise.all(
      counters.map(async (counter) => {
        if (counter === undefined) return
        this.counting++
        this.known.delete(counter.key)
        try {
          const window = await this.table.hit(counter.key, counter.limit.windowSeconds, now)
          this.counting++
          // The count as it stands in the store: the next attempts of this second are checked against it. (Of two
          // counts finishing out of order, the higher stands.)
          const known = this.known.get(counter.key)
          if (now === this.knownSecond && (known == null || known.resetAt !== window.resetAt || known.count < window.count)) this.remember(counter.key, window)
          if (window.count === counter.limit.maxFailures) {
            // Once per window, without the key: it may be a username, or a password typed into the username field.
            this.log({ level: 'warn', message: 'rate limit reached', limit: counter.name, retry_after: Math.max(window.resetAt - now, 1) })
          }
        } catch (error) {
          this.counting++
          this.failed(error)
        }
      }),
    )
  }

  private failed(error: unknown): void {
    this.log({ level: 'error', message: 'rate limit store failed', error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
  }
}

/** @throws TypeError unless both numbers are positive whole numbers */
function checkLimit(name: string, limit: RateLimit): RateLimit {
  const { maxFailures, windowSeconds } = limit
  for (const [field, value] of [['maxFailures', maxFailures], ['windowSeconds', windowSeconds]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`rateLimit.${name}.${field} must be a positive whole number, got ${String(value)}`)
  }
  return { maxFailures, windowSeconds }
}

/** How many counters of the current second, and keys of clients and addresses, a limiter remembers at most. */
const MAX_REMEMBERED = 10_000
/** The longest client_id or address whose key is remembered (a generated client_id has 22 characters). */
const MAX_REMEMBERED_LENGTH = 128

/** `derive(value)`, remembered in `keys` (at most {@link MAX_REMEMBERED} of them). */
function remembered(keys: Map<string, string>, value: string, derive: (value: string) => string): string {
  // A client sends what it likes as client_id: long values are not kept, so the map stays small whatever it sends.
  if (value.length > MAX_REMEMBERED_LENGTH) return derive(value)
  let key = keys.get(value)
  if (key === undefined) {
    key = derive(value)
    if (keys.size >= MAX_REMEMBERED) keys.clear()
    keys.set(value, key)
  }
  return key
}

/** Seconds until `counter` is under its limit again by its `window`; 0 when it is under it already. */
function waitOf(window: RateLimitWindow | null, counter: Counter, now: number): number {
  return window !== null && window.resetAt > now && window.count >= counter.limit.maxFailures ? Math.max(window.resetAt - now, 1) : 0
}

/** The client's address the app passed to the token endpoint as `credentials.remoteAddress`, if any. */
function addressOf(credentials: Readonly<Record<string, unknown>>): string | undefined {
  const address = credentials.remoteAddress
  return typeof address === 'string' && address !== '' ? address : undefined
}
