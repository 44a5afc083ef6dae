/**
 * Tokens that sort by the time they were issued.
 *
 * @module
 */
import { randomBase64url, timePrefix } from '../core/random.js'

/**
 * A token that sorts by the time it was issued: the time in milliseconds (9 characters of `0-9a-z`), a `.`, and 256
 * random bits in base64url (43 characters), 53 characters in all, e.g. `0mwu349u9.XnSf…`. Only the random part is
 * secret; the time is what a JWT's `iat` would say. The default token generator, authorization codes and the `jti`
 * of signed tokens are made so.
 */
export function generateTimeOrderedToken(): string {
  return `${timePrefix()}.${randomBase64url(32)}`
}
