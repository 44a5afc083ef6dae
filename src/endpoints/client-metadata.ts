/**
 * Client metadata of a registration request (RFC 7591 §2), checked field by field: what a client may register itself
 * with, and nothing else.
 *
 * @module
 */
import { InvalidClientMetadataError, InvalidRedirectUriError, OAuth2Error } from '../core/errors.js'
import { parseScope } from '../core/scope.js'

/** How a registered client authenticates at the token endpoint (RFC 7591 §2). */
export type RegisteredAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post'

/**
 * Client metadata as registered (RFC 7591 §2), validated: the members a client sent that the server understands, with
 * the RFC's defaults filled in. Unknown members are dropped.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-2 | RFC 7591 §2}
 */
export interface ClientMetadata {
  readonly redirect_uris: readonly string[]
  readonly token_endpoint_auth_method: RegisteredAuthMethod
  readonly grant_types: readonly string[]
  readonly response_types: readonly string[]
  readonly client_name?: string | undefined
  readonly client_uri?: string | undefined
  readonly logo_uri?: string | undefined
  readonly tos_uri?: string | undefined
  readonly policy_uri?: string | undefined
  /** Space-separated scope tokens (RFC 6749 §3.3). */
  readonly scope?: string | undefined
  readonly contacts?: readonly string[] | undefined
  readonly software_id?: string | undefined
  readonly software_version?: string | undefined
  /** `web` (default) or `native` (OpenID Connect Dynamic Client Registration §2). */
  readonly application_type?: 'web' | 'native' | undefined
}

/** What {@link parseClientMetadata} accepts besides the RFC's own rules. */
export interface ClientMetadataPolicy {
  /** The grant types a client may register for. */
  readonly grantTypes: readonly string[]
}

const AUTH_METHODS: readonly RegisteredAuthMethod[] = ['none', 'client_secret_basic', 'client_secret_post']
/** Bounds on what a client may make the server store. */
const MAX_URIS = 20
const MAX_URI_LENGTH = 2000
const MAX_TEXT_LENGTH = 200
const MAX_CONTACTS = 10
/** Schemes that are never a redirect target: they run code, read files, or are not navigations at all. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'about:', 'blob:', 'filesystem:', 'ws:', 'wss:', 'ftp:', 'mailto:', 'tel:'])
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/**
 * Checks a registration request's JSON body field by field (RFC 7591 §2) and fills in the defaults:
 * `token_endpoint_auth_method` `client_secret_basic`, `grant_types` `["authorization_code"]`, `response_types`
 * `["code"]`.
 *
 * - Redirect URIs: absolute, without fragment, and https, or http on a loopback host (RFC 8252 §7.3), or a native
 *   app's private-use scheme with a dot in it (RFC 8252 §7.1); required when the client uses the code grant.
 * - Grant and response types consistent: `code` exactly when `authorization_code`; `refresh_token` only beside
 *   `authorization_code`; a public client (`none`) never with `client_credentials`.
 * - Texts printable and short, URLs https (or loopback http), `scope` RFC 6749 §3.3 tokens.
 *
 * @throws {@link InvalidRedirectUriError} for a redirect URI the server does not accept
 * @throws {@link InvalidClientMetadataError} for any other malformed or inconsistent member
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-2 | RFC 7591 §2}
 */
export function parseClientMetadata(body: unknown, policy: ClientMetadataPolicy): ClientMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidClientMetadataError('The request body must be a JSON object')
  const fields = body as Record<string, unknown>
  const method = fields.token_endpoint_auth_method ?? 'client_secret_basic'
  if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) {
    throw new InvalidClientMetadataError(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`)
  }
  const grantTypes = stringList(fields, 'grant_types', 10) ?? ['authorization_code']
  for (const grantType of grantTypes) {
    if (!policy.grantTypes.includes(grantType)) throw new InvalidClientMetadataError(`grant_types may hold ${policy.grantTypes.join(', ')}, not ${printable(grantType)}`)
  }
  const responseTypes = stringList(fields, 'response_types', 10) ?? (grantTypes.includes('authorization_code') ? ['code'] : [])
  for (const responseType of responseTypes) {
    if (responseType !== 'code') throw new InvalidClientMetadataError(`response_types may hold code only, not ${printable(responseType)}`)
  }
  const usesCode = grantTypes.includes('authorization_code')
  if (usesCode !== responseTypes.includes('code')) {
    throw new InvalidClientMetadataError('response_types must hold code exactly when grant_types holds authorization_code (RFC 7591 section 2.1)')
  }
  if (grantTypes.includes('refresh_token') && !usesCode) throw new InvalidClientMetadataError('refresh_token is only issued with authorization_code')
  if (method === 'none' && grantTypes.includes('client_credentials')) {
    throw new InvalidClientMetadataError('A public client (token_endpoint_auth_method none) cannot use client_credentials')
  }
  const redirectUris = stringList(fields, 'redirect_uris', MAX_URIS) ?? []
  if (usesCode && redirectUris.length === 0) throw new InvalidRedirectUriError('redirect_uris is required for the authorization_code grant')
  for (const uri of redirectUris) checkRedirectUri(uri)
  const applicationType = fields.application_type ?? undefined
  if (applicationType !== undefined && applicationType !== 'web' && applicationType !== 'native') {
    throw new InvalidClientMetadataError('application_type must be web or native')
  }
  let scope = text(fields, 'scope', 1000)
  if (scope !== undefined) scope = asMetadataError(() => parseScope(scope as string), 'scope must be scope tokens separated by single spaces').join(' ')
  const contacts = stringList(fields, 'contacts', MAX_CONTACTS)
  return dropUndefined({
    redirect_uris: redirectUris,
    token_endpoint_auth_method: method as RegisteredAuthMethod,
    grant_types: grantTypes,
    response_types: responseTypes,
    client_name: text(fields, 'client_name', MAX_TEXT_LENGTH),
    client_uri: webUrl(fields, 'client_uri'),
    logo_uri: webUrl(fields, 'logo_uri'),
    tos_uri: webUrl(fields, 'tos_uri'),
    policy_uri: webUrl(fields, 'policy_uri'),
    scope,
    contacts: contacts?.map((contact) => checkText(contact, 'contacts', 320)),
    software_id: text(fields, 'software_id', MAX_TEXT_LENGTH),
    software_version: text(fields, 'software_version', MAX_TEXT_LENGTH),
    application_type: applicationType,
  })
}

/**
 * A redirect URI a self-registered client may use: absolute, no fragment, and https, loopback http (any port, RFC 8252
 * §7.3), or a private-use scheme of a native app (RFC 8252 §7.1: a reverse domain name, so it has a dot).
 *
 * @throws {@link InvalidRedirectUriError}
 */
function checkRedirectUri(uri: string): void {
  // The URL parser drops or rewrites white space, control characters and backslashes; a URI that needs it is refused,
  // so that what is stored is what is matched and shown.
  if (/[\x00-\x20\x7F-\uFFFF\\]/.test(uri)) throw new InvalidRedirectUriError('A redirect URI must be printable ASCII without spaces or backslashes')
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw new InvalidRedirectUriError(`Redirect URI ${printable(uri)} is not an absolute URI`)
  }
  if (uri.length > MAX_URI_LENGTH) throw new InvalidRedirectUriError(`A redirect URI may have ${MAX_URI_LENGTH} characters at most`)
  if (uri.includes('#')) throw new InvalidRedirectUriError('A redirect URI must not have a fragment (RFC 6749 section 3.1.2)')
  if (url.protocol === 'https:') return
  if (url.protocol === 'http:') {
    if (LOOPBACK_HOSTS.has(url.hostname)) return
    throw new InvalidRedirectUriError('An http redirect URI must be on a loopback host (RFC 8252 section 7.3); use https')
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol) || !url.protocol.slice(0, -1).includes('.')) {
    throw new InvalidRedirectUriError('A redirect URI must be https, loopback http, or a private-use scheme such as com.example.app: (RFC 8252 section 7.1)')
  }
}

/** An https URL (or loopback http) member, for pages shown to users; `undefined` when absent. */
function webUrl(fields: Record<string, unknown>, name: string): string | undefined {
  const value = text(fields, name, MAX_URI_LENGTH)
  if (value === undefined) return undefined
  if (/[\x00-\x20\x7F-\uFFFF\\]/.test(value)) throw new InvalidClientMetadataError(`${name} must be printable ASCII without spaces or backslashes`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidClientMetadataError(`${name} must be an absolute URL`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) throw new InvalidClientMetadataError(`${name} must be an https URL`)
  return value
}

/** A string member; `undefined` when absent or null. */
function text(fields: Record<string, unknown>, name: string, maxLength: number): string | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw new InvalidClientMetadataError(`${name} must be a string`)
  return checkText(value, name, maxLength)
}

function checkText(value: string, name: string, maxLength: number): string {
  // Control and format characters (bidirectional overrides, zero-width) would let a name pass for another on a page.
  if (value === '' || value.length > maxLength || /[\x00-\x1F\x7F-\x9F\p{Cf}]/u.test(value)) {
    throw new InvalidClientMetadataError(`${name} must be printable text of 1 to ${maxLength} characters`)
  }
  return value
}

/** An array-of-strings member, without duplicates; `undefined` when absent or null. */
function stringList(fields: Record<string, unknown>, name: string, maxItems: number): string[] | undefined {
  const value = fields[name]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new InvalidClientMetadataError(`${name} must be an array of strings`)
  if (value.length > maxItems) throw new InvalidClientMetadataError(`${name} may have ${maxItems} entries at most`)
  return [...new Set(value as string[])]
}

/** A value a client sent, quoted in an error description: only the characters RFC 6749 §5.2 allows, and short. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 100)
}

function asMetadataError<T>(parse: () => T, message: string): T {
  try {
    return parse()
  } catch (error) {
    if (error instanceof OAuth2Error) throw new InvalidClientMetadataError(message)
    throw error
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, member]) => member !== undefined)) as T
}
