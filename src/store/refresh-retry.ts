/**
 * The refresh-token retry window of `StoreValidator`: a client whose refresh answer was lost may present the rotated
 * token again for a while, and gets a fresh pair in place of the one it never received.
 *
 * @module
 */
import { type TokenRecord, type TokenTable } from './tables.js'

/**
 * Whether a rotated refresh token presented again by its client is a retry of a lost response: rotated less than
 * `window` seconds before `now`, and no refresh token issued since in its family has been used (rotated).
 */
export async function isRetry(tokens: TokenTable, stored: TokenRecord, window: number, now: number): Promise<boolean> {
  const rotatedAt = stored.rotatedAt as number
  if (window === 0 || now - rotatedAt >= window) return false
  const family = await tokens.family(stored.grantId)
  return !family.some((token) => token.type === 'refresh_token' && token.tokenHash !== stored.tokenHash && token.issuedAt >= rotatedAt && token.rotatedAt !== undefined)
}

/** Revokes the refresh tokens issued since `rotated` was rotated, that is, the ones a retry of it replaces. */
export async function supersede(tokens: TokenTable, rotated: TokenRecord, now: number): Promise<void> {
  const rotatedAt = rotated.rotatedAt as number
  for (const token of await tokens.family(rotated.grantId)) {
    if (token.type === 'refresh_token' && token.tokenHash !== rotated.tokenHash && token.issuedAt >= rotatedAt && token.revokedAt === undefined) {
      await tokens.revoke(token.tokenHash, now)
    }
  }
}
