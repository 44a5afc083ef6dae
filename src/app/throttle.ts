/**
 * Login throttling: repeated failures for one username or from one address make further attempts wait (RFC 6819
 * §4.4.3.6, RFC 9700 §4.15: online guessing of passwords).
 *
 * @module
 */

/** Options of {@link LoginThrottle}. */
export interface ThrottleOptions {
  /** Failures allowed per key within the window before attempts are refused; default 5. */
  readonly maxFailures?: number | undefined
  /** The window, in seconds; default 15 minutes. */
  readonly windowSeconds?: number | undefined
}

/**
 * Counts failed logins per key (`user:<name>`, `ip:<address>`) in a sliding window, in memory. One process's view:
 * behind a load balancer each instance counts on its own.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>()
  private readonly maxFailures: number
  private readonly windowMs: number

  constructor(options: ThrottleOptions = {}) {
    this.maxFailures = options.maxFailures ?? 5
    this.windowMs = (options.windowSeconds ?? 900) * 1000
  }

  /** Seconds to wait before the next attempt for any of `keys`, or 0 when it may go ahead. */
  retryAfter(keys: readonly string[], now = Date.now()): number {
    let wait = 0
    for (const key of keys) {
      const recent = this.recent(key, now)
      if (recent.length >= this.maxFailures) wait = Math.max(wait, Math.ceil(((recent[0] as number) + this.windowMs - now) / 1000))
    }
    return wait
  }

  /** Records a failed attempt for every key. */
  fail(keys: readonly string[], now = Date.now()): void {
    for (const key of keys) this.failures.set(key, [...this.recent(key, now), now])
    // Bound the memory an attacker can make us use: forget the oldest keys first.
    while (this.failures.size > 100_000) this.failures.delete(this.failures.keys().next().value as string)
  }

  /** Forgets the failures of a key after a successful login (the username's; the address keeps its count). */
  succeed(key: string): void {
    this.failures.delete(key)
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((time) => time > now - this.windowMs)
  }
}
