/**
 * Random strings from Web Crypto, and the time prefix of ids and tokens that sort by the time they were made.
 *
 * @module
 * @internal
 */
import { randomPool } from './random-pool.js'

/**
 * `byteCount` fresh random bytes from `crypto.getRandomValues` (through {@link randomPool}), base64url-encoded without
 * padding (RFC 4648 §5): 43 characters for 32 bytes.
 *
 * @param byteCount - how many random bytes, from 1 to 8,192
 * @throws RangeError for any other count
 */
export function randomBase64url(byteCount: number): string {
  return randomPool.base64url(byteCount)
}

/** Characters of {@link timePrefix}: base 36 fits milliseconds since 1970 in 9 until the year 5188. */
const TIME_PREFIX_LENGTH = 9

/**
 * The time in milliseconds, base 36, fixed width (9 characters of `0-9a-z`): strings that start with it sort by the
 * time they were made, so ids and tokens made together sort together in a store's index.
 */
export function timePrefix(): string {
  const ms = Date.now()
  // Formatted in two halves of at most 5 digits: V8 turns a number into base 36 digit by digit through floating-point
  // remainders, which for the whole 41-bit time cost more than twice as much.
  const high = Math.floor(ms / HALF)
  return high.toString(36).padStart(TIME_PREFIX_LENGTH - 5, '0') + (ms - high * HALF).toString(36).padStart(5, '0')
}

/** 36^5: the low half of {@link timePrefix} is the time modulo this, in 5 digits. */
const HALF = 36 ** 5
