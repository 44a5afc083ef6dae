/**
 * What every server of the benchmark shares: the one client, its scope and redirect URI, and the small helpers the
 * peers' glue code uses, so that each server does the same work (client_secret_basic checked in constant time,
 * scope=read, data in memory unless a store is named).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const SCOPE = 'read'
export const REDIRECT_URI = 'http://127.0.0.1:9/callback'
export const USERNAME = 'alice'
/** Lifetime of access tokens everywhere, seconds. */
export const TOKEN_TTL = 3600
/** Pre-issued codes must outlive a case (warm-up + measurement + slack). */
export const CODE_TTL = 600

export function sha256(value) {
  return createHash('sha256').update(value).digest()
}

/** Constant-time comparison of a presented secret with the stored SHA-256 digest of the real one. */
export function secretMatches(presented, storedDigest) {
  return timingSafeEqual(sha256(presented), storedDigest)
}

export function randomToken() {
  return randomBytes(32).toString('base64url')
}

/** A PKCE pair (RFC 7636): a 43-character verifier and its S256 challenge. */
export function pkcePair() {
  const verifier = randomToken()
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

/** `Authorization: Basic` credentials of RFC 6749 §2.3.1: each part form-urlencoded, then base64. */
export function basicAuth(clientId, clientSecret) {
  const encode = (value) => encodeURIComponent(value).replace(/%20/g, '+')
  return 'Basic ' + Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')
}

/** Parses `Authorization: Basic` as RFC 6749 §2.3.1 says; `undefined` when absent or malformed. */
export function parseBasic(header) {
  if (typeof header !== 'string' || !/^basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  try {
    const decode = (value) => decodeURIComponent(value.replace(/\+/g, ' '))
    return { clientId: decode(decoded.slice(0, colon)), clientSecret: decode(decoded.slice(colon + 1)) }
  } catch {
    return undefined
  }
}
