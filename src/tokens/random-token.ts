/**
 * Opaque random tokens.
 *
 * @module
 */
import { randomBase64url } from '../core/random.js'
import { type TokenGenerator } from './generator.js'
import { generateTimeOrderedToken } from './time-ordered.js'

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
 * The default generator for access and refresh tokens: opaque, 256 random bits after the time of issue
 * ({@link generateTimeOrderedToken}, 53 characters).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-10.10 | RFC 6749 §10.10}
 */
export const randomTokenGenerator: TokenGenerator = () => generateTimeOrderedToken()
