/**
 * Random strings from Web Crypto, drawn from a pool: one `crypto.getRandomValues` call fills 8 KiB, enough for 256
 * tokens, instead of one call per token. On Node each call is a trip into the kernel's random source that costs more
 * than the rest of making a token; Node pools the bytes of `crypto.randomUUID` the same way. Every byte is used once.
 *
 * @module
 * @internal
 */
import { base64url } from 'jose'

/** The largest `getRandomValues` accepts is 65,536 bytes; 8 KiB keeps the pool small and the refills rare. */
const POOL_BYTES = 8192
const pool = new Uint8Array(POOL_BYTES)
let offset = POOL_BYTES

/**
 * `byteCount` random bytes, base64url-encoded without padding (RFC 4648 §5): 43 characters for 32 bytes.
 *
 * @param byteCount - how many random bytes, at most 8,192
 */
export function randomBase64url(byteCount: number): string {
  if (!Number.isInteger(byteCount) || byteCount < 1 || byteCount > POOL_BYTES) throw new RangeError('byteCount must be an integer from 1 to 8192')
  if (offset + byteCount > POOL_BYTES) {
    crypto.getRandomValues(pool)
    offset = 0
  }
  const start = offset
  offset += byteCount
  const text = base64url.encode(pool.subarray(start, offset))
  // The bytes are spent: none of them may be read again, by this module or from memory later.
  pool.fill(0, start, offset)
  return text
}

/** Characters of {@link timePrefix}: base 36 fits milliseconds since 1970 in 9 until the year 5188. */
export const TIME_PREFIX_LENGTH = 9

/**
 * The time in milliseconds, base 36, fixed width ({@link TIME_PREFIX_LENGTH} characters of `0-9a-z`): strings that
 * start with it sort by the time they were made. Ids and tokens made together then land at the end of a store's index
 * (a B-tree) instead of on random pages of it, so a group of them saved together writes that page once.
 */
export function timePrefix(): string {
  const ms = Date.now()
  if (ms !== prefixMs) {
    prefixMs = ms
    prefix = ms.toString(36).padStart(TIME_PREFIX_LENGTH, '0')
  }
  return prefix
}
// The prefix of the current millisecond: many ids are made in the same one.
let prefixMs = 0
let prefix = ''
