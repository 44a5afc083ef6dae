/**
 * Random strings from Web Crypto, and the time prefix of ids and tokens that sort by the time they were made.
 *
 * @module
 * @internal
 */
import { base64url } from 'jose'
import { randomPool } from './random-pool.js'

/**
 * `byteCount` fresh random bytes from `crypto.getRandomValues` (through {@link randomPool}), base64url-encoded without
 * padding (RFC 4648 §5): 43 characters for 32 bytes.
 *
 * @param byteCount - how many random bytes, from 1 to 8,192
 * @throws RangeError for any other count
 */
export function randomBase64url(byteCount: number): string {
  return randomPool.take(byteCount, (bytes) => base64url.encode(bytes))
}

/** Characters of {@link timePrefix}: base 36 fits milliseconds since 1970 in 9 until the year 5188. */
const TIME_PREFIX_LENGTH = 9

/**
 * The time in milliseconds, base 36, fixed width (9 characters of `0-9a-z`): strings that start with it sort by the
 * time they were made, so ids and tokens made together sort together in a store's index.
 */
export function timePrefix(): string {
  return Date.now().toString(36).padStart(TIME_PREFIX_LENGTH, '0')
}
