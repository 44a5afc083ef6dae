/**
 * Clients that register themselves (RFC 7591) and manage their registration (RFC 7592), stored like any other client,
 * with what they said of themselves, the digest of their registration access token, and when they last obtained a
 * token; and clients known by their client ID metadata document, as records made from the document.
 * `StoreValidator`'s registration hooks are implemented here.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { InvalidClientMetadataError, InvalidTokenError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type ClientMetadata } from '../endpoints/client-metadata.js'
import { type RegisteredClient } from '../endpoints/registration.js'
import { type NewClient } from './clients.js'
import { digestMatches, hashGeneratedSecret, tokenHash, verifySecret } from './secrets.js'
import { type ClientRecord, type ClientRegistration, type Store } from './store.js'

/** Who may register a client at a registration endpoint, and when self-registered clients are removed. */
export interface StoreRegistrationPolicy {
  /**
   * `open`: any client may register itself, without an initial access token. `token`: a client must present an
   * initial access token (RFC 7591 §3) from `store.initialAccessTokens`, each registration spending one of its uses.
   */
  readonly policy: 'open' | 'token'
  /** The scopes a self-registered client may obtain; one that asks for none gets all of them. */
  readonly scopes: readonly string[]
  /**
   * Seconds after which a self-registered client that never obtained a code or a token is removed by
   * `StoreValidator.startPurging`; default a day.
   */
  readonly unusedTtl?: number | undefined
  /**
   * Seconds after which a self-registered client that has not obtained or refreshed a token since (or since it
   * registered) is removed by `StoreValidator.startPurging`, with its tokens and grants; default 90 days, 0 never.
   */
  readonly inactiveTtl?: number | undefined
}

/** Default of {@link StoreRegistrationPolicy.unusedTtl}: a day. */
export const DEFAULT_UNUSED_REGISTRATION_TTL = 86_400
/** Default of {@link StoreRegistrationPolicy.inactiveTtl}: 90 days. */
export const DEFAULT_INACTIVE_REGISTRATION_TTL = 90 * 86_400
/**
 * A client's `lastUsedAt` is written at most once in this many seconds (not one write per token request), or in a
 * tenth of `inactiveTtl` when that is shorter.
 */
const LAST_USED_RESOLUTION = 3600
/** What a token is compared with for a client without one, so that it takes as long as a wrong token. */
const NO_TOKEN_DIGEST = tokenHash('')

/** The registration hooks of `StoreValidator` over its store, under its registration policy. */
export class StoreRegistrations {
  /** The initial access token a registration request was admitted with, spent when the client is stored. */
  private readonly initialAccessTokens = new WeakMap<OAuth2Request, string>()
  /** The digest of the registration access token a request authenticated with, which its update must still find. */
  private readonly presented = new WeakMap<OAuth2Request, string>()

  constructor(
    private readonly store: Store,
    private readonly policy: StoreRegistrationPolicy | undefined,
  ) {}

  /** `authorizeRegistration`: open registration admits anyone; by token, a token valid now. */
  async authorize(initialAccessToken: string | undefined, request: OAuth2Request): Promise<boolean> {
    if (this.policy?.policy === 'open') return true
    if (this.policy?.policy !== 'token' || initialAccessToken === undefined) return false
    if (!(await this.store.initialAccessTokens.isValid(initialAccessToken, now()))) return false
    this.initialAccessTokens.set(request, initialAccessToken)
    return true
  }

  /**
   * `registerClient`: with registration by token, one use of the token is spent in the transaction that stores the
   * client, so that of parallel registrations with a token's last use exactly one succeeds (the others get
   * `invalid_token`), and a refused registration spends nothing.
   */
  register(metadata: ClientMetadata, request: OAuth2Request): Promise<RegisteredClient> {
    const scopes = this.policy?.scopes ?? []
    if (this.policy?.policy !== 'token') return registerClient(this.store, scopes, metadata)
    const token = this.initialAccessTokens.get(request)
    return this.store.transaction(async () => {
      if (token === undefined || !(await this.store.initialAccessTokens.use(token, now()))) {
        throw new InvalidTokenError('The initial access token is invalid', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } })
      }
      return registerClient(this.store, scopes, metadata)
    })
  }

  /** `authenticateRegistration`: the token's digest against the client's, in constant time. */
  async authenticate(clientId: string, registrationAccessToken: string, request: OAuth2Request): Promise<boolean> {
    const stored = (await this.store.clientTable.get(clientId))?.registrationTokenHash
    const matches = digestMatches(registrationAccessToken, stored ?? NO_TOKEN_DIGEST)
    if (!matches || stored === undefined) return false
    this.presented.set(request, stored)
    return true
  }

  /** `readRegistration`: the client's metadata as stored. */
  async read(clientId: string): Promise<RegisteredClient | undefined> {
    const client = await this.store.clientTable.get(clientId)
    if (client?.registration === undefined) return undefined
    return { clientId, clientIdIssuedAt: client.createdAt, clientSecretExpiresAt: 0, metadata: metadataOf(client) }
  }

  /**
   * `updateRegistration`: the metadata replaced and the registration access token rotated in one compare-and-set on
   * the token the request presented; the secret kept, issued when the client becomes confidential, dropped when it
   * becomes public.
   *
   * @throws {@link InvalidClientMetadataError} for a `client_secret` that is not the current one, or scopes it may not have
   */
  async update(clientId: string, metadata: ClientMetadata, clientSecret: string | undefined, request: OAuth2Request): Promise<RegisteredClient | undefined> {
    const current = this.presented.get(request)
    const client = await this.store.clientTable.get(clientId)
    if (current === undefined || client?.registration === undefined) return undefined
    // RFC 7592 §2.2: a secret in the request must be the current one; the client never sets its own.
    if (clientSecret !== undefined && !(client.secretHash !== undefined && (await verifySecret(clientSecret, client.secretHash)))) {
      throw new InvalidClientMetadataError("client_secret is not the client's current secret (RFC 7592 section 2.2)")
    }
    const scopes = allowedScopesOf(this.policy?.scopes ?? [], metadata)
    const isPublic = metadata.token_endpoint_auth_method === 'none'
    // Its refresh tokens would then work without the secret, for whoever holds one and the registration access token.
    if (isPublic && client.secretHash !== undefined) {
      throw new InvalidClientMetadataError('A confidential client cannot become public (token_endpoint_auth_method none): register a new client')
    }
    const newSecret = !isPublic && client.secretHash === undefined ? randomToken() : undefined
    const registrationAccessToken = randomToken()
    const record: ClientRecord = {
      ...client,
      name: metadata.client_name ?? UNNAMED,
      secretHash: isPublic ? undefined : newSecret === undefined ? client.secretHash : hashGeneratedSecret(newSecret),
      redirectUris: metadata.redirect_uris,
      grantTypes: metadata.grant_types,
      responseTypes: metadata.grant_types.includes('authorization_code') ? ['code'] : [],
      scopes,
      tokenEndpointAuthMethod: metadata.token_endpoint_auth_method,
      registration: registrationOf(metadata),
      registrationTokenHash: tokenHash(registrationAccessToken),
    }
    // RFC 9700 §4.1, RFC 7592 §2.2: a consent was given to this client as it was: its redirect URIs, its credentials.
    // A redirect URI the users never saw, or a credential the registration access token's holder has just obtained
    // (a new secret, or none at all), must not be approved by it without asking them again.
    const forgetConsents = metadata.redirect_uris.some((uri) => !client.redirectUris.includes(uri)) || record.secretHash !== client.secretHash
    if (!(await this.store.clientTable.updateRegistration(record, current, forgetConsents))) return undefined
    return {
      clientId,
      clientSecret: newSecret,
      clientIdIssuedAt: client.createdAt,
      clientSecretExpiresAt: 0,
      metadata: { ...metadata, scope: scopes.join(' ') },
      registrationAccessToken,
    }
  }

  /** `deleteRegistration`: the client goes, and with it its codes, tokens and consents. */
  delete(clientId: string): Promise<boolean> {
    return this.store.clientTable.delete(clientId)
  }

  /**
   * Notes that a self-registered client obtained a token at `now`: its first one always (which also exempts it from
   * the unused purge), later ones when its `lastUsedAt` is older than the resolution.
   */
  async markUsed(client: ClientRecord, now: number): Promise<void> {
    if (client.registration === undefined) return
    if (client.lastUsedAt === undefined || client.lastUsedAt <= now - this.lastUsedResolution()) await this.store.clientTable.markUsed(client.clientId, now)
  }

  /**
   * Removes the self-registered clients past the policy's unused and inactive times, and, with `metadataDocuments`,
   * the records of metadata-document clients that obtained nothing within the unused time (made again on their next
   * request). A stored `lastUsedAt` may lag the last use by up to the resolution, so the inactive cutoff allows for it:
   * a client used within `inactiveTtl` stays.
   */
  async purge(now: number, metadataDocuments = false): Promise<void> {
    if (this.policy === undefined && !metadataDocuments) return
    await this.store.clientTable.deleteUnusedRegistrations(now - (this.policy?.unusedTtl ?? DEFAULT_UNUSED_REGISTRATION_TTL))
    const inactiveTtl = this.policy === undefined ? 0 : (this.policy.inactiveTtl ?? DEFAULT_INACTIVE_REGISTRATION_TTL)
    if (inactiveTtl > 0) await this.store.clientTable.deleteInactiveRegistrations(now - inactiveTtl - this.lastUsedResolution())
  }

  /** How stale a stored `lastUsedAt` may be: an hour, or a tenth of a shorter `inactiveTtl` (at least a second). */
  private lastUsedResolution(): number {
    const inactiveTtl = this.policy?.inactiveTtl ?? DEFAULT_INACTIVE_REGISTRATION_TTL
    return inactiveTtl > 0 ? Math.max(1, Math.min(LAST_USED_RESOLUTION, Math.floor(inactiveTtl / 10))) : LAST_USED_RESOLUTION
  }
}

const UNNAMED = 'Unnamed client'

/**
 * Stores a self-registered client: its scopes narrowed to `allowedScopes` (a client that asks for none gets them all),
 * a generated `client_id`, for a confidential client a secret that never expires, and a registration access token
 * (RFC 7592), both stored as digests, and what it said of itself.
 *
 * @throws {@link InvalidClientMetadataError} when it asks only for scopes it may not have
 */
export async function registerClient(store: Store, allowedScopes: readonly string[], metadata: ClientMetadata): Promise<RegisteredClient> {
  const scopes = allowedScopesOf(allowedScopes, metadata)
  const registrationAccessToken = randomToken()
  const created = await store.clients.create({
    name: metadata.client_name ?? UNNAMED,
    redirectUris: metadata.redirect_uris,
    grantTypes: metadata.grant_types as NewClient['grantTypes'],
    scopes,
    public: metadata.token_endpoint_auth_method === 'none',
    tokenEndpointAuthMethod: metadata.token_endpoint_auth_method === 'none' ? undefined : metadata.token_endpoint_auth_method,
    registration: registrationOf(metadata),
    registrationTokenHash: tokenHash(registrationAccessToken),
  })
  return {
    clientId: created.clientId,
    clientSecret: created.clientSecret,
    clientIdIssuedAt: created.client.createdAt,
    clientSecretExpiresAt: 0,
    metadata: { ...metadata, scope: scopes.join(' ') },
    registrationAccessToken,
  }
}

/** The scopes asked for that the policy allows; all of them when none were asked for. */
function allowedScopesOf(allowed: readonly string[], metadata: ClientMetadata): string[] {
  const asked = metadata.scope === undefined ? allowed : metadata.scope.split(' ')
  const scopes = asked.filter((scope) => allowed.includes(scope))
  if (scopes.length === 0) throw new InvalidClientMetadataError(`scope may hold ${allowed.join(' ') || 'nothing'} for a client that registers itself`)
  return scopes
}

/**
 * The client record of a client ID metadata document: a public client (`none`) whose `client_id` is the document's
 * URL, named by its `client_name` (else by the URL's host), with the document's redirect URIs and grant types and its
 * scopes narrowed to `allowedScopes` (a document that names none gets them all), marked `metadataDocument`.
 *
 * @param metadata - the document, checked by `parseClientIdMetadataDocument`
 * @throws {@link InvalidClientMetadataError} when the document asks only for scopes it may not have
 */
export function metadataDocumentClient(clientId: string, allowedScopes: readonly string[], metadata: ClientMetadata, createdAt: number): ClientRecord {
  const asked = metadata.scope === undefined ? allowedScopes : metadata.scope.split(' ')
  const scopes = asked.filter((scope) => allowedScopes.includes(scope))
  if (scopes.length === 0) throw new InvalidClientMetadataError(`scope may hold ${allowedScopes.join(' ') || 'nothing'} for a client of a client ID metadata document`)
  return {
    clientId,
    name: metadata.client_name ?? new URL(clientId).host,
    redirectUris: metadata.redirect_uris,
    grantTypes: metadata.grant_types,
    responseTypes: metadata.response_types,
    scopes,
    resources: [],
    tokenEndpointAuthMethod: 'none',
    createdAt,
    registration: { ...registrationOf(metadata), metadataDocument: true },
  }
}

/** What a self-registered client said of itself, as the store keeps it: the members it sent, nothing undefined. */
function registrationOf(metadata: ClientMetadata): ClientRegistration {
  const registration: ClientRegistration = {
    clientUri: metadata.client_uri,
    logoUri: metadata.logo_uri,
    tosUri: metadata.tos_uri,
    policyUri: metadata.policy_uri,
    contacts: metadata.contacts,
    softwareId: metadata.software_id,
    softwareVersion: metadata.software_version,
    applicationType: metadata.application_type,
  }
  return dropUndefined(registration)
}

/** A stored self-registered client's metadata, with RFC 7591 §2 names (RFC 7592 §3). */
function metadataOf(client: ClientRecord): ClientMetadata {
  const registration = client.registration ?? {}
  return dropUndefined({
    redirect_uris: client.redirectUris,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    grant_types: client.grantTypes,
    response_types: client.responseTypes,
    client_name: client.name,
    client_uri: registration.clientUri,
    logo_uri: registration.logoUri,
    tos_uri: registration.tosUri,
    policy_uri: registration.policyUri,
    scope: client.scopes.join(' '),
    contacts: registration.contacts,
    software_id: registration.softwareId,
    software_version: registration.softwareVersion,
    application_type: registration.applicationType,
  })
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as T
}

/** 256 random bits, base64url: a secret or a registration access token. */
function randomToken(): string {
  return randomBytes(32).toString('base64url')
}

function now(): number {
  return Math.floor(Date.now() / 1000)
}
