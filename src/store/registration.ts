/**
 * Clients that register themselves (RFC 7591), stored like any other client, with what they said of themselves; and
 * clients known by their client ID metadata document, as records made from the document.
 *
 * @module
 */
import { InvalidClientMetadataError } from '../core/errors.js'
import { type ClientMetadata } from '../endpoints/client-metadata.js'
import { type RegisteredClient } from '../endpoints/registration.js'
import { type NewClient } from './clients.js'
import { type ClientRecord, type ClientRegistration, type Store } from './store.js'

/**
 * Stores a self-registered client: its scopes narrowed to `allowedScopes` (a client that asks for none gets them all),
 * a generated `client_id` and, for a confidential client, a secret that never expires (stored as a digest), and what
 * it said of itself.
 *
 * @throws {@link InvalidClientMetadataError} when it asks only for scopes it may not have
 */
export async function registerClient(store: Store, allowedScopes: readonly string[], metadata: ClientMetadata): Promise<RegisteredClient> {
  const asked = metadata.scope === undefined ? allowedScopes : metadata.scope.split(' ')
  const scopes = asked.filter((scope) => allowedScopes.includes(scope))
  if (scopes.length === 0) throw new InvalidClientMetadataError(`scope may hold ${allowedScopes.join(' ') || 'nothing'} for a client that registers itself`)
  const created = await store.clients.create({
    name: metadata.client_name ?? 'Unnamed client',
    redirectUris: metadata.redirect_uris,
    grantTypes: metadata.grant_types as NewClient['grantTypes'],
    scopes,
    public: metadata.token_endpoint_auth_method === 'none',
    tokenEndpointAuthMethod: metadata.token_endpoint_auth_method === 'none' ? undefined : metadata.token_endpoint_auth_method,
    registration: registrationOf(metadata),
  })
  return {
    clientId: created.clientId,
    clientSecret: created.clientSecret,
    clientIdIssuedAt: created.client.createdAt,
    clientSecretExpiresAt: 0,
    metadata: { ...metadata, scope: scopes.join(' ') },
  }
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
  return Object.fromEntries(Object.entries(registration).filter(([, value]) => value !== undefined))
}
