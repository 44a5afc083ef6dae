/**
 * What `StoreValidator` hands the core, made from the store's records: tokens and users as the core sees them, and
 * new grant family ids.
 *
 * @module
 */
import { randomBase64url, timePrefix } from '../core/random.js'
import { type AuthorizationCode, type IssuedAuthorizationCode, type RefreshTokenRecord, type StoredToken } from '../types.js'
import { tokenHash } from './secrets.js'
import { type CodeRecord, type TokenRecord, type UserRecord } from './store.js'
import { type StoreUser } from './validator.js'

/** What the validator tells of a stored token, with its user (the store's record) when it has one. */
export function storedToken(stored: TokenRecord, user: UserRecord | undefined): StoredToken<StoreUser> {
  return {
    tokenType: stored.type,
    clientId: stored.clientId,
    user: user === undefined ? undefined : storeUser(user),
    username: user?.username,
    scopes: stored.scopes,
    expiresAt: stored.expiresAt,
    issuedAt: stored.issuedAt,
    audience: stored.resources.length > 0 ? stored.resources : undefined,
  }
}

export function storeUser(user: UserRecord): StoreUser {
  return { userId: user.userId, username: user.username }
}

/**
 * A new grant family id: the time in milliseconds (base 36, fixed width, so ids sort by creation) and 128 random
 * bits. Sorted ids land at the end of the stores' `grant_id` index instead of on a random page of it: a group of
 * tokens saved together writes that page once. The id never leaves the store.
 */
export function newGrantId(): string {
  // One flat string (see tokenHash): the memory store keeps it with every token of the family.
  return [timePrefix(), randomBase64url(16)].join('')
}

/** The record of a code being issued: its digest, what it is bound to, and a new grant family. */
export function codeRecord(code: string, issued: IssuedAuthorizationCode<StoreUser>): CodeRecord {
  return {
    codeHash: tokenHash(code),
    clientId: issued.clientId,
    userId: issued.user.userId,
    scopes: [...issued.scopes],
    redirectUri: issued.redirectUri,
    codeChallenge: issued.codeChallenge,
    codeChallengeMethod: issued.codeChallengeMethod,
    resources: [...(issued.resources ?? [])],
    expiresAt: issued.expiresAt,
    grantId: newGrantId(),
    nonce: issued.nonce,
    authentication: issued.authentication,
  }
}

/** A stored code as the core's `AuthorizationCode`, with its user. */
export function authorizationCode(stored: CodeRecord, user: UserRecord): AuthorizationCode<StoreUser> {
  return {
    clientId: stored.clientId,
    user: storeUser(user),
    scopes: stored.scopes,
    redirectUri: stored.redirectUri,
    codeChallenge: stored.codeChallenge,
    codeChallengeMethod: stored.codeChallengeMethod,
    expiresAt: stored.expiresAt,
    resources: stored.resources,
    nonce: stored.nonce,
    authentication: stored.authentication,
  }
}

/** A stored refresh token as the core's `RefreshTokenRecord`, with its user when it has one. */
export function refreshTokenRecord(stored: TokenRecord, user: UserRecord | undefined): RefreshTokenRecord<StoreUser> {
  return {
    clientId: stored.clientId,
    user: user === undefined ? undefined : storeUser(user),
    scopes: stored.scopes,
    expiresAt: stored.expiresAt,
    resources: stored.resources,
    authentication: stored.authentication,
  }
}
