/**
 * Constant-time comparison of secrets. Web Crypto has no `timingSafeEqual`, so both values are hashed with SHA-256
 * and the fixed-length digests compared without an early exit: the time taken depends neither on where the values
 * first differ nor on their lengths.
 *
 * SHA-256 comes from `@noble/hashes`: audited, without dependencies, Web-standard JavaScript that runs wherever the
 * core runs, and synchronous, so {@link sha256} returns the digest itself.
 *
 * @module
 */
import { sha256 as sha256Bytes } from '@noble/hashes/sha2.js'

const encoder = new TextEncoder()

/**
 * Compares two byte arrays of the same length without an early exit.
 *
 * @returns `false` at once when the lengths differ (lengths are not secret for fixed-length digests)
 */
export function equalDigests(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= (a[i] as number) ^ (b[i] as number)
  return difference === 0
}

/** The SHA-256 digest of the UTF-8 bytes of `value`. */
export function sha256(value: string): Uint8Array {
  return sha256Bytes(encoder.encode(value))
}

/**
 * Compares a presented secret with the expected one in constant time. Use it for client secrets, codes, PKCE
 * verifiers and any other value an attacker could guess byte by byte.
 *
 * @example
 * ```ts
 * if (!(await timingSafeEqual(presentedSecret, client.secret))) return undefined
 * ```
 */
export async function timingSafeEqual(presented: string, expected: string): Promise<boolean> {
  return equalDigests(sha256Bytes(utf16(presented)), sha256Bytes(utf16(expected)))
}

// The string's UTF-16 code units, so that two strings differing only in lone surrogates (which UTF-8 encoding would
// both turn into U+FFFD) never compare equal.
function utf16(value: string): Uint8Array<ArrayBuffer> {
  const units = new Uint16Array(value.length)
  for (let i = 0; i < value.length; i++) units[i] = value.charCodeAt(i)
  return new Uint8Array(units.buffer)
}
