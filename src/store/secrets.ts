/**
 * Secrets at rest: SHA-256 digests for values with 256 bits of entropy (tokens, codes, generated client secrets), and
 * scrypt for values a person chose (passwords, imported client secrets).
 *
 * A fast digest is as safe as a slow hash for a 256-bit random value, which nobody can guess, and keeps the token
 * endpoint fast. A password has little entropy, so it gets scrypt (RFC 7914) with N = 2^15, r = 8, p = 1: 32 MiB and
 * some 50–100 ms per hash, the parameters stored with each hash so they can be raised later.
 *
 * @module
 */
import { hash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import { PASSWORD_HASHING } from './hashing-slots.js'

/**
 * scrypt parameters for new hashes (RFC 7914 §2): N = 2^15, r = 8, p = 3, one of the equivalent settings OWASP's
 * Password Storage Cheat Sheet gives (with N = 2^17 p = 1 and N = 2^16 p = 2). It keeps the 32 MiB a hash takes,
 * which the process's bound on concurrent hashes multiplies, and triples the work. A password stored with less is
 * hashed again at its next successful sign-in ({@link isWeakerThanCurrent}).
 */
export const SCRYPT_PARAMETERS = Object.freeze({ N: 2 ** 15, r: 8, p: 3, keyLength: 32, saltLength: 16 })

/**
 * Whether a stored password hash was made with less work than {@link SCRYPT_PARAMETERS} asks of a new one (a smaller
 * `N × r × p`), or is not an scrypt hash of this form at all.
 */
export function isWeakerThanCurrent(stored: string): boolean {
  const parts = stored.split(':')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return true
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const { N: wantN, r: wantR, p: wantP } = SCRYPT_PARAMETERS
  return !(N * r * p >= wantN * wantR * wantP && N >= wantN)
}

/** How the stored form of a generated secret starts. */
const GENERATED_PREFIX = 'sha256:'

/** The SHA-256 digest of `value`, base64url (43 characters). */
export function sha256Base64url(value: string): string {
  return hash('sha256', value, 'base64url')
}

/**
 * How a token or code is looked up in a store, and what the store keeps of it: the SHA-256 digest of the whole value,
 * base64url (43 characters), whatever its form (a random token, a JWT, a custom generator's token). The key depends
 * on nothing but the value: two values that differ anywhere get different keys, and nothing of the value can be read
 * back from its key.
 */
export function tokenHash(value: string): string {
  return sha256Base64url(value)
}

/** The stored form of a secret oauthkit generated with 256 bits of entropy: `sha256:<digest>`. */
export function hashGeneratedSecret(secret: string): string {
  return GENERATED_PREFIX + sha256Base64url(secret)
}

/** Whether `stored` is the stored form of a generated secret ({@link hashGeneratedSecret}). */
export function isGeneratedSecretHash(stored: string): boolean {
  return stored.startsWith(GENERATED_PREFIX)
}

/** {@link verifySecret} for the stored form of a generated secret, synchronously: in constant time for its length. */
export function verifyGeneratedSecret(presented: string, stored: string): boolean {
  return digestMatches(presented, stored.slice(GENERATED_PREFIX.length))
}

/**
 * Whether `presented` is the token whose {@link tokenHash} is `storedDigest`, the digests compared in constant time
 * (for a registration access token, which is looked up by its client rather than by its digest).
 */
export function digestMatches(presented: string, storedDigest: string): boolean {
  return safeEqual(Buffer.from(sha256Base64url(presented)), Buffer.from(storedDigest))
}

/** The stored form of a password or an imported secret: `scrypt:<N>:<r>:<p>:<salt>:<hash>`. */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyLength, saltLength } = SCRYPT_PARAMETERS
  const salt = randomBytes(saltLength)
  const key = await scrypt(password, salt, keyLength, { N, r, p })
  return `scrypt:${N}:${r}:${p}:${salt.toString('base64url')}:${key.toString('base64url')}`
}

/**
 * Checks a presented secret or password against its stored form, in constant time for a given stored form.
 *
 * @returns `false` for a wrong value and for a stored form it cannot read
 */
export async function verifySecret(presented: string, stored: string): Promise<boolean> {
  if (isGeneratedSecretHash(stored)) return verifyGeneratedSecret(presented, stored)
  const parts = stored.split(':')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4] as string, 'base64url')
  const expected = Buffer.from(parts[5] as string, 'base64url')
  if (![N, r, p].every(Number.isSafeInteger) || expected.length === 0) return false
  const key = await scrypt(presented, salt, expected.length, { N, r, p })
  return safeEqual(key, expected)
}

/**
 * A stored form no password matches, hashed like a real one: verifying against it when a user does not exist takes
 * as long as for a user who does, so response times do not tell which usernames exist.
 */
export function unknownUserHash(): Promise<string> {
  unknownUserHashPromise ??= hashPassword(randomBytes(32).toString('base64url'))
  return unknownUserHashPromise
}
let unknownUserHashPromise: Promise<string> | undefined

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** scrypt within the process's bound on concurrent password hashes ({@link PASSWORD_HASHING}). */
function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return PASSWORD_HASHING.run(() => scryptNow(password, salt, keyLength, options))
}

function scryptNow(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  // maxmem: 128 · N · r plus headroom; Node's 32 MiB default is exactly what N = 2^15, r = 8 needs.
  const maxmem = 256 * (options.N ?? 0) * (options.r ?? 0)
  return new Promise((resolve, reject) => {
    scryptCallback(password.normalize('NFC'), salt, keyLength, { ...options, maxmem }, (error, key) => (error ? reject(error) : resolve(key)))
  })
}
