/**
 * Random strings from Web Crypto, drawn from a pool: one `crypto.getRandomValues` call fills 8 KiB, enough for 256
 * tokens, instead of one call per token. On Node each call is a trip into the kernel's random source that costs more
 * than the rest of making a token; Node pools the bytes of `crypto.randomUUID` the same way. Every byte is used once.
 *
 * @module
 * @internal
 */

/** The largest `getRandomValues` accepts is 65,536 bytes; 8 KiB keeps the pool small and the refills rare. */
const POOL_BYTES = 8192
const pool = new Uint8Array(POOL_BYTES)
let offset = POOL_BYTES

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

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
  const end = start + byteCount
  let text = ''
  let i = start
  for (; i + 3 <= end; i += 3) {
    const bits = ((pool[i] as number) << 16) | ((pool[i + 1] as number) << 8) | (pool[i + 2] as number)
    text += BASE64URL.charAt(bits >>> 18) + BASE64URL.charAt((bits >>> 12) & 63) + BASE64URL.charAt((bits >>> 6) & 63) + BASE64URL.charAt(bits & 63)
  }
  if (end - i === 1) {
    const bits = pool[i] as number
    text += BASE64URL.charAt(bits >>> 2) + BASE64URL.charAt((bits & 3) << 4)
  } else if (end - i === 2) {
    const bits = ((pool[i] as number) << 8) | (pool[i + 1] as number)
    text += BASE64URL.charAt(bits >>> 10) + BASE64URL.charAt((bits >>> 4) & 63) + BASE64URL.charAt((bits & 15) << 2)
  }
  // The bytes are spent: none of them may be read again, by this module or from memory later.
  pool.fill(0, start, end)
  return text
}
