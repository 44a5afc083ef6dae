/**
 * Random bytes drawn from a pool: one `crypto.getRandomValues` call fills 8 KiB, enough for 256 tokens, instead of one
 * call per token. This is the core's one speed measure with state of its own, kept here and nowhere else.
 *
 * Why it exists: on Node each `getRandomValues` call costs more than the rest of making a token, and without the pool
 * the bench case `cc-opaque` (client_credentials, opaque tokens, memory store: see bench/README.md) misses its bar of
 * 0.8× the minimal baseline. Node pools the bytes of `crypto.randomUUID` the same way.
 *
 * What it guarantees: every byte comes from `crypto.getRandomValues`, is handed out once, and is zeroed in the pool as
 * it is handed out, so no byte of a token stays in memory here.
 *
 * @module
 * @internal
 */

/** The largest `getRandomValues` accepts is 65,536 bytes; 8 KiB keeps the pool small and the refills rare. */
export const POOL_BYTES = 8192

/** A pool of random bytes, refilled from Web Crypto whenever it has fewer left than asked for. */
class RandomPool {
  private readonly pool = new Uint8Array(POOL_BYTES)
  private offset = POOL_BYTES

  /**
   * Passes `byteCount` fresh random bytes to `use` (a view into the pool, valid only during the call), then zeroes them.
   *
   * @throws RangeError unless `byteCount` is an integer from 1 to {@link POOL_BYTES}
   */
  take<T>(byteCount: number, use: (bytes: Uint8Array) => T): T {
    if (!Number.isInteger(byteCount) || byteCount < 1 || byteCount > POOL_BYTES) throw new RangeError(`byteCount must be an integer from 1 to ${POOL_BYTES}`)
    if (this.offset + byteCount > POOL_BYTES) {
      crypto.getRandomValues(this.pool)
      this.offset = 0
    }
    const bytes = this.pool.subarray(this.offset, this.offset + byteCount)
    this.offset += byteCount
    try {
      return use(bytes)
    } finally {
      bytes.fill(0)
    }
  }
}

/** The process's pool. */
export const randomPool = new RandomPool()
