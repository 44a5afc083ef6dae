/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as the MCP authorization
 * specification of 2025-11-25 uses it): a `client_id` that is an https URL names a JSON document of the client's
 * metadata, which the authorization server fetches instead of a registration. This module holds the rules that need
 * no network: what such a `client_id` may look like, and what the document it names must say. Fetching it safely is
 * `oauthkit/store`'s `ClientIdMetadataDocuments`.
 *
 * @module
 */
import { InvalidClientMetadataError, OAuth2Error } from '../core/errors.js'
import { parseClientMetadata, type ClientMetadata, type ClientMetadataPolicy } from './client-metadata.js'

/** The longest `client_id` URL accepted: it is stored with every code, token and consent of the client. */
export const MAX_CLIENT_ID_URL_LENGTH = 1000

/** Loopback hosts, where the development option allows plain `http` documents. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Options of {@link parseClientIdUrl}. */
export interface ClientIdUrlOptions {
  /**
   * For local development and tests only: accept an `http` URL on a loopback host (`localhost`, `127.0.0.1`,
   * `[::1]`). The draft allows `https` only.
   */
  readonly allowHttpLoopback?: boolean | undefined
}

/**
 * Whether a `client_id` is meant as the URL of a client ID metadata document: it starts with `https://` (or `http://`
 * with `allowHttpLoopback`). A cheap test of form only; {@link parseClientIdUrl} checks the rest. An authorization
 * server that also generates identifiers must never generate one that starts so (draft §6.9, "Supporting Both
 * Pre-Registered and Unregistered Clients"); oauthkit's are base64url.
 */
export function isClientIdUrl(clientId: string, options: ClientIdUrlOptions = {}): boolean {
  return clientId.startsWith('https://') || (options.allowHttpLoopback === true && clientId.startsWith('http://'))
}

/**
 * Checks a `client_id` as the URL of a client ID metadata document (draft §3): the `https` scheme, a path other than
 * `/`, no single-dot or double-dot path segment (encoded ones included), no fragment, no username or password, and
 * written as the URL parser writes it back (lower-case host, no default port, percent-encoding where needed), so that
 * the document fetched is the one at exactly the string the client sent. A query is allowed (the draft discourages it),
 * and so is a port.
 *
 * @returns the parsed URL
 * @throws {@link InvalidClientMetadataError} saying which rule the URL breaks
 * @see {@link https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/ | draft §3}
 */
export function parseClientIdUrl(clientId: string, options: ClientIdUrlOptions = {}): URL {
  const refuse = (rule: string) => new InvalidClientMetadataError(`The client_id URL ${rule} (client ID metadata document section 3)`)
  if (clientId.length > MAX_CLIENT_ID_URL_LENGTH) throw refuse(`is longer than ${MAX_CLIENT_ID_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    throw refuse('is not a URL')
  }
  if (url.protocol === 'http:') {
    if (options.allowHttpLoopback !== true) throw refuse('must use https')
    if (!LOOPBACK_HOSTS.has(url.hostname)) throw refuse('must use https; http is allowed for loopback development only')
  } else if (url.protocol !== 'https:') {
    throw refuse('must use https')
  }
  if (clientId.includes('#')) throw refuse('must not have a fragment')
  if (url.username !== '' || url.password !== '' || /^[a-z]+:\/\/[^/?]*@/i.test(clientId)) throw refuse('must not have a username or password')
  // Dot segments are read in the string as sent: the URL parser removes them, so the parsed path never has any.
  const rawPath = /^[a-z]+:\/\/[^/?]*([^?]*)/i.exec(clientId)?.[1] ?? ''
  if (rawPath.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) throw refuse('must not have . or .. path segments')
  if (url.pathname === '/' || url.pathname === '') throw refuse('must have a path, such as https://client.example.com/client.json')
  if (url.href !== clientId) throw refuse(`must be written in its normal form, ${printable(url.href)}`)
  return url
}

/**
 * Checks a fetched client ID metadata document (draft §4.1) and returns its metadata with the RFC 7591 field rules of
 * {@link parseClientMetadata} applied (the same as for a client that registers itself):
 *
 * - it is a JSON object whose `client_id` is the document's URL, compared as strings (RFC 3986 §6.2.1);
 * - it has no `client_secret` or `client_secret_expires_at`, and no `token_endpoint_auth_method` built on a shared
 *   secret; as no other method is supported here either (`private_key_jwt` needs key material oauthkit does not
 *   verify), the client is public: `none`, which an absent `token_endpoint_auth_method` means too (the RFC 7591
 *   default, `client_secret_basic`, is impossible without a secret).
 *
 * Members the server does not understand are dropped, as at registration.
 *
 * @param document - the parsed JSON of the response
 * @param clientId - the URL the document was fetched from, which is the `client_id`
 * @throws {@link InvalidClientMetadataError} or `InvalidRedirectUriError` saying what is wrong
 * @see {@link https://datatracker.ietf.org/doc/draft-ietf-oauth-client-id-metadata-document/ | draft §4.1}
 */
export function parseClientIdMetadataDocument(document: unknown, clientId: string, policy: ClientMetadataPolicy): ClientMetadata {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new InvalidClientMetadataError('The document must be a JSON object')
  const fields = document as Record<string, unknown>
  if (typeof fields.client_id !== 'string') throw new InvalidClientMetadataError('The document has no client_id')
  if (fields.client_id !== clientId) throw new InvalidClientMetadataError('The client_id of the document is not the URL it was fetched from')
  for (const name of ['client_secret', 'client_secret_expires_at']) {
    if (fields[name] !== undefined) throw new InvalidClientMetadataError(`The document must not have ${name}: there is no shared secret with a client ID metadata document`)
  }
  const method = fields.token_endpoint_auth_method ?? 'none'
  if (method !== 'none') {
    // client_secret_basic, client_secret_post, client_secret_jwt: draft §4.1 forbids them outright.
    const shared = typeof method === 'string' && method.includes('secret')
    throw new InvalidClientMetadataError(
      shared
        ? 'token_endpoint_auth_method must not be a shared-secret method in a client ID metadata document'
        : 'token_endpoint_auth_method must be none: this server supports no other method for a client ID metadata document',
    )
  }
  try {
    return parseClientMetadata({ ...fields, token_endpoint_auth_method: 'none' }, policy)
  } catch (error) {
    if (error instanceof OAuth2Error) throw error
    throw new InvalidClientMetadataError('The document is not valid client metadata', { cause: error })
  }
}

/** A value quoted in an error description: only the characters RFC 6749 §5.2 allows, and short. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 200)
}
