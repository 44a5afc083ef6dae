/**
 * How the memory store copies records in and out: frozen copies that name every field, so that a caller's object is
 * never stored nor handed out, and frozen lists shared between records with equal contents.
 *
 * @module
 * @internal
 */
import { type ClientRecord, type ClientRegistration, type CodeRecord, type ConsentRecord, type InitialAccessTokenRecord, type SigningKeyRecord, type TokenRecord, type UserRecord } from '../tables.js'
import { type Authentication } from '../../types.js'

/** The key of a consent in its Map: client and user, unambiguously joined. */
export function consentKey(clientId: string, userId: string): string {
  return JSON.stringify([clientId, userId])
}

/**
 * A frozen copy of `record` with `change` applied. (Object.assign, not `{ ...record, field }`: V8 builds an object
 * spread with added properties on a slow path.)
 */
export function changed<R extends object>(record: R, change: Partial<R>): R {
  return Object.freeze(Object.assign({}, record, change))
}

/** A stored record as handed out: a new object, sharing only the frozen arrays. */
export function copyOut<R extends object>(record: R | undefined): R | undefined {
  return record === undefined ? undefined : { ...record }
}

/**
 * A frozen copy of `values`. Most tokens name no resource, and the tokens of a client mostly carry the same few
 * scopes: the lists made last are shared by the records with equal contents (nobody can change a frozen list), so
 * that a store of many tokens does not keep one array per token and field.
 */
function frozen(values: readonly string[]): readonly string[] {
  if (values.length === 0) return NONE
  for (const list of recentLists) if (sameList(list, values)) return list
  const list = Object.freeze([...values])
  recentLists[nextRecent] = list
  nextRecent = (nextRecent + 1) % RECENT_LISTS
  return list
}
/** The one empty list that every record without scopes or resources shares. */
export const NONE: readonly string[] = Object.freeze([])
const RECENT_LISTS = 8
const recentLists: Array<readonly string[]> = []
let nextRecent = 0

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

// The copy-in functions name every field, so that a caller's extra properties are not stored, as in a database.

/** A frozen copy of a client record. */
export function copyClient(record: ClientRecord): ClientRecord {
  const copy = {
    clientId: record.clientId,
    name: record.name,
    secretHash: record.secretHash,
    redirectUris: frozen(record.redirectUris),
    grantTypes: frozen(record.grantTypes),
    responseTypes: frozen(record.responseTypes),
    scopes: frozen(record.scopes),
    resources: frozen(record.resources),
    tokenEndpointAuthMethod: record.tokenEndpointAuthMethod,
    createdAt: record.createdAt,
  }
  // As the other stores answer: the field only when the client protects something.
  const protectedResources = record.protectedResources ?? []
  if (protectedResources.length > 0) Object.assign(copy, { protectedResources: frozen(protectedResources) })
  if (record.registration !== undefined) Object.assign(copy, { registration: copyRegistration(record.registration) })
  if (record.registrationTokenHash !== undefined) Object.assign(copy, { registrationTokenHash: record.registrationTokenHash })
  if (record.lastUsedAt !== undefined) Object.assign(copy, { lastUsedAt: record.lastUsedAt })
  return Object.freeze(copy)
}

/** A frozen copy of a user record. */
export function copyUser(record: UserRecord): UserRecord {
  const copy = { userId: record.userId, username: record.username, passwordHash: record.passwordHash, createdAt: record.createdAt }
  // As the other stores answer: the field only when the user has claims.
  if (record.claims !== undefined && Object.keys(record.claims).length > 0) Object.assign(copy, { claims: jsonCopy(record.claims) })
  return Object.freeze(copy)
}

/** A deep, frozen copy of JSON data (claims), as a database would keep it: no shared object, no function, no cycle. */
export function jsonCopy<T>(value: T): T {
  return deepFreeze(JSON.parse(JSON.stringify(value)) as T)
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}

/** A frozen copy of an authentication (OpenID Connect), or `undefined`. */
function copyAuthentication(authentication: Authentication | undefined): Authentication | undefined {
  return authentication === undefined ? undefined : jsonCopy(authentication)
}

/** A frozen copy of a code record. */
export function copyCode(record: CodeRecord): CodeRecord {
  return Object.freeze({
    codeHash: record.codeHash,
    clientId: record.clientId,
    userId: record.userId,
    scopes: frozen(record.scopes),
    redirectUri: record.redirectUri,
    codeChallenge: record.codeChallenge,
    codeChallengeMethod: record.codeChallengeMethod,
    resources: frozen(record.resources),
    expiresAt: record.expiresAt,
    grantId: record.grantId,
    consumedAt: record.consumedAt,
    nonce: record.nonce,
    authentication: copyAuthentication(record.authentication),
  })
}

/** A frozen copy of a token record. */
export function copyToken(record: TokenRecord): TokenRecord {
  return Object.freeze({
    tokenHash: record.tokenHash,
    type: record.type,
    clientId: record.clientId,
    userId: record.userId,
    scopes: frozen(record.scopes),
    resources: frozen(record.resources),
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
    grantId: record.grantId,
    revokedAt: record.revokedAt,
    rotatedAt: record.rotatedAt,
    authentication: copyAuthentication(record.authentication),
  })
}

/** A frozen copy of a signing key record. */
export function copyKey(record: SigningKeyRecord): SigningKeyRecord {
  return Object.freeze({
    kid: record.kid,
    alg: record.alg,
    privateJwk: record.privateJwk,
    publicJwk: record.publicJwk,
    createdAt: record.createdAt,
    retiredAt: record.retiredAt,
    expiresAt: record.expiresAt,
  })
}

/** A frozen copy of a consent record. */
export function copyConsent(record: ConsentRecord): ConsentRecord {
  return Object.freeze({ clientId: record.clientId, userId: record.userId, scopes: frozen(record.scopes), grantedAt: record.grantedAt })
}

/** A frozen copy of what a client registered itself with, its contacts included. */
function copyRegistration(registration: ClientRegistration): ClientRegistration {
  return Object.freeze({ ...registration, ...(registration.contacts === undefined ? {} : { contacts: frozen(registration.contacts) }) })
}

/** A frozen copy of an initial access token record. */
export function copyInitialAccessToken(record: InitialAccessTokenRecord): InitialAccessTokenRecord {
  const copy = { id: record.id, tokenHash: record.tokenHash, createdAt: record.createdAt }
  if (record.expiresAt !== undefined) Object.assign(copy, { expiresAt: record.expiresAt })
  if (record.usesLeft !== undefined) Object.assign(copy, { usesLeft: record.usesLeft })
  return Object.freeze(copy)
}
