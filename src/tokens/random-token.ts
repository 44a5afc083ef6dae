/**
 * Opaque random tokens.
 *
 * @module
 */
import { randomBase64url, TIME_PREFIX_LENGTH, timePrefix } from '../core/random.js'
import { type TokenGenerator } from './generator.js'

/** Bytes of randomness in a token: 256 bits, past any guessing (RFC 6749 §10.10, RFC 6819 §5.1.4.2.2). */
const TOKEN_BYTES = 32

/**
 * A base64url string of 256 random bits from Web Crypto. Fit for access tokens, refresh tokens, codes and client
 * secrets.
 */
export function generateToken(): string {
  return randomBase64url(TOKEN_BYTES)
}

/**
 * A token that sorts by the time it was issued: the time in milliseconds (9 characters of `0-9a-z`), a `.`, and 256
 * random bits in base64url (43 characters), 53 characters in all, e.g. `mig2k5x3b.Xq…`. Only the random part is
 * secret; the time is what a JWT's `iat` would say.
 *
 * A store looks a token up by a key made from it ({@link isTimeOrderedToken}, `tokenHash` in `oauthkit/store`):
 * for this form, the time part and the SHA-256 digest of the whole token, so that the keys of tokens issued together
 * sort together. A store's index (a B-tree) then takes them at its end: a group of tokens saved together writes one
 * page of the index instead of one random page each. For a token of any other form the key is its digest alone.
 */
export function generateTimeOrderedToken(): string {
  return `${timePrefix()}.${randomBase64url(TOKEN_BYTES)}`
}

/** Characters of a {@link generateTimeOrderedToken} token. */
const TIME_ORDERED_LENGTH = TIME_PREFIX_LENGTH + 1 + 43
const TIME_ORDERED = /^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/

/**
 * Whether `token` has the form of {@link generateTimeOrderedToken}: its first 10 characters (the time and the `.`)
 * may be kept in clear, because 43 characters of base64url (258 bits) follow them.
 */
export function isTimeOrderedToken(token: string): boolean {
  return token.length === TIME_ORDERED_LENGTH && token.charCodeAt(TIME_PREFIX_LENGTH) === 46 && TIME_ORDERED.test(token)
}

/**
 * The default generator for access and refresh tokens: opaque, 256 random bits after the time of issue
 * ({@link generateTimeOrderedToken}, 53 characters).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-10.10 | RFC 6749 §10.10}
 */
export const randomTokenGenerator: TokenGenerator = () => generateTimeOrderedToken()
