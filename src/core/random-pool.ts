/**
 * Random bytes drawn from a pool, handed out as base64url text: one `crypto.getRandomValues` call fills 8 KiB, enough
 * for 256 tokens, instead of one call per token, and the bytes are encoded straight from the pool. This is the core's
 * one speed measure with state of its own, kept here and nowhere else.
 *
 * Why it exists: on Node each `getRandomValues` call costs more than the rest of making a token, and without the pool
 * the bench case `cc-opaque` (client_credentials, opaque tokens, memory store: see bench/README.md) misses its bar of
 * 0.8× the minimal baseline. Node pools the bytes of `crypto.randomUUID` the same way. The encoding is a table and a
 * loop over the pool itself: jose's `base64url.encode` (a view, `String.fromCharCode.apply` over a typed array, `btoa`
 * and three regular-expression replacements) took more instructions than the rest of making the token in that case.
 *
 * What it guarantees: every byte comes from `crypto.getRandomValues`, is handed out once, and is zeroed in the pool as
 * it is handed out, so no byte of a token stays in memory here.
 *
 * @module
 * @internal
 */

/** The largest `getRandomValues` accepts is 65,536 bytes; 8 KiB keeps the pool small and the refills rare. */
export const POOL_BYTES = 8192

/** Character codes of the base64url alphabet (RFC 4648 §5). */
const BASE64URL = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', (char) => char.charCodeAt(0))

/** A pool of random bytes, refilled from Web Crypto whenever it has fewer left than asked for. */
class RandomPool {
  private readonly pool = new Uint8Array(POOL_BYTES)
  private offset = POOL_BYTES

  /**
   * `byteCount` fresh random bytes in base64url without padding (RFC 4648 §5), zeroed in the pool once encoded.
   *
   * @throws RangeError unless `byteCount` is an integer from 1 to {@link POOL_BYTES}
   */
  base64url(byteCount: number): string {
    if (!Number.isInteger(byteCount) || byteCount < 1 || byteCount > POOL_BYTES) throw new RangeError(`byteCount must be an integer from 1 to ${POOL_BYTES}`)
    const pool = this.pool
    if (this.offset + byteCount > POOL_BYTES) {
      crypto.getRandomValues(pool)
      this.offset = 0
    }
    const start = this.offset
    const end = start + byteCount
    this.offset = end
    // The character codes, collected in an array of the final length and made into one string at the end.
    const codes = new Array<number>(Math.ceil((byteCount * 4) / 3))
    let at = 0
    let i = start
    for (; i + 3 <= end; i += 3) {
      const bits = ((pool[i] as number) << 16) | ((pool[i + 1] as number) << 8) | (pool[i + 2] as number)
      codes[at++] = BASE64URL[bits >>> 18] as number
      codes[at++] = BASE64URL[(bits >>> 12) & 63] as number
      codes[at++] = BASE64URL[(bits >>> 6) & 63] as number
      codes[at++] = BASE64URL[bits & 63] as number
    }
    if (end - i === 1) {
      const bits = pool[i] as number
      codes[at++] = BASE64URL[bits >>> 2] as number
      codes[at++] = BASE64URL[(bits & 3) << 4] as number
    } else if (end - i === 2) {
      const bits = ((pool[i] as number) << 8) | (pool[i + 1] as number)
      codes[at++] = BASE64URL[bits >>> 10] as number
      codes[at++] = BASE64URL[(bits >>> 4) & 63] as number
      codes[at++] = BASE64URL[(bits & 15) << 2] as number
    }
    pool.fill(0, start, end)
    return String.fromCharCode(...codes)
  }
}

/** The process's pool. */
export const randomPool = new RandomPool()
