/**
 * Proof Key for Code Exchange (RFC 7636).
 *
 * @module
 */
import { base64url } from 'jose'
import { sha256, timingSafeEqual } from './constant-time.js'

/** The `code_challenge_method` values of RFC 7636 §4.3. */
export type CodeChallengeMethod = 'S256' | 'plain'

// RFC 7636 §4.1: code-verifier = 43*128unreserved; §4.2: a challenge has the same syntax.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/

/**
 * Whether a value has the syntax of a `code_verifier` or `code_challenge`: 43 to 128 characters of
 * `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.1 | RFC 7636 §4.1}
 */
export function isWellFormedVerifier(value: string): boolean {
  return VERIFIER.test(value)
}

/**
 * Checks a `code_verifier` against the `code_challenge` of the authorization request, in constant time:
 * `BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge` for `S256`, equality for `plain`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.6 | RFC 7636 §4.6}
 */
export async function verifyCodeChallenge(verifier: string, challenge: string, method: CodeChallengeMethod): Promise<boolean> {
  const derived = method === 'plain' ? verifier : base64url.encode(sha256(verifier))
  // Through the constant-time compare of fixed-length digests, as every verifier comparison: a `plain` challenge is
  // the verifier itself, and a raw byte compare would answer at once when the lengths differ.
  return timingSafeEqual(derived, challenge)
}
