/**
 * Random strings from Web Crypto, and the time prefix of ids and tokens that sort by the time they were made.
 *
 * @module
 * @internal
 */
import { base64url } from 'jose'

/** The most bytes {@link randomBase64url} gives: far above any token's 32, so that a wrong count fails loudly. */
const MAX_BYTES = 8192

/**
 * `byteCount` fresh random bytes from `crypto.getRandomValues`, base64url-encoded without padding (RFC 4648 §5): 43
 * characters for 32 bytes.
 *
 * @param byteCount - how many random bytes, from 1 to 8,192
 * @throws RangeError for any other count
 */
export function randomBase64url(byteCount: number): string {
  if (!Number.isInteger(byteCount) || byteCount < 1 || byteCount > MAX_BYTES) throw new RangeError('byteCount must be an integer from 1 to 8192')
  return base64url.encode(crypto.getRandomValues(new Uint8Array(byteCount)))
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
