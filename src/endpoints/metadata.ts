/**
 * The authorization server metadata endpoint (RFC 8414): the document a client fetches from
 * `/.well-known/oauth-authorization-server`, built from the endpoints a server has and the claims the application
 * gives, and validated once, at construction.
 *
 * @module
 */
import { InvalidRequestError } from '../core/errors.js'
import { normalizeMethod, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { errorResponse, type OAuth2Response } from '../core/response.js'
import { RESPONSE_MODES } from '../core/response-mode.js'
import { parseScope } from '../core/scope.js'
import { AuthorizationEndpoint } from './authorization.js'
import { IntrospectEndpoint } from './introspection.js'
import { ResourceEndpoint } from './resource.js'
import { RevocationEndpoint } from './revocation.js'
import { type AuthorizationServerMetadata } from './metadata-document.js'
import { TokenEndpoint } from './token.js'

export { type AuthorizationServerMetadata } from './metadata-document.js'

/**
 * The paths appended to `issuer` (without its trailing `/`) for an endpoint the server has but whose URL the claims
 * leave out: with issuer `https://as.example.com`, the token endpoint is `https://as.example.com/token`.
 */
export const DEFAULT_ENDPOINT_PATHS: Readonly<Record<EndpointUrlClaim, string>> = Object.freeze({
  authorization_endpoint: '/authorize',
  token_endpoint: '/token',
  revocation_endpoint: '/revoke',
  introspection_endpoint: '/introspect',
})

/** The claims naming the URL of an endpoint oauthkit models, with the kind of endpoint that serves it. */
const ENDPOINT_URL_CLAIMS = {
  authorization_endpoint: 'authorization',
  token_endpoint: 'token',
  revocation_endpoint: 'revocation',
  introspection_endpoint: 'introspection',
} as const

type EndpointUrlClaim = keyof typeof ENDPOINT_URL_CLAIMS
type EndpointKind = (typeof ENDPOINT_URL_CLAIMS)[EndpointUrlClaim] | 'resource'

/** URL claims of other things than oauthkit's endpoints, checked the same way. */
const OTHER_URL_CLAIMS = ['jwks_uri', 'registration_endpoint'] as const

/** URLs of pages for people to read, not for clients to call: any http(s) URL (RFC 8414 §3.2's own example is http). */
const PAGE_URL_CLAIMS = ['service_documentation', 'op_policy_uri', 'op_tos_uri'] as const

/** The claims computed from the endpoints; a user claim may leave values out, never add one. */
const COMPUTED_LIST_CLAIMS = [
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  'revocation_endpoint_auth_methods_supported',
  'introspection_endpoint_auth_methods_supported',
  'code_challenge_methods_supported',
] as const

type ComputedListClaim = (typeof COMPUTED_LIST_CLAIMS)[number]

/** Lists the user gives, checked as arrays of strings. */
const GIVEN_LIST_CLAIMS = [
  'scopes_supported',
  'ui_locales_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'revocation_endpoint_auth_signing_alg_values_supported',
  'introspection_endpoint_auth_signing_alg_values_supported',
] as const

/** The order of RFC 8414 §2 (then §2.1 and RFC 9207 §3); unknown claims follow in the order given. */
const CLAIM_ORDER = [
  'issuer',
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'registration_endpoint',
  'scopes_supported',
  'response_types_supported',
  'response_modes_supported',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'service_documentation',
  'ui_locales_supported',
  'op_policy_uri',
  'op_tos_uri',
  'revocation_endpoint',
  'revocation_endpoint_auth_methods_supported',
  'revocation_endpoint_auth_signing_alg_values_supported',
  'introspection_endpoint',
  'introspection_endpoint_auth_methods_supported',
  'introspection_endpoint_auth_signing_alg_values_supported',
  'code_challenge_methods_supported',
  'signed_metadata',
  'authorization_response_iss_parameter_supported',
] as const

/** RFC 6749 §2.3.1: HTTP Basic, or the credentials in the form body. */
const CLIENT_SECRET_METHODS = ['client_secret_basic', 'client_secret_post'] as const

/** The methods whose `*_auth_signing_alg_values_supported` RFC 8414 §2 defines. */
const JWT_AUTH_METHODS = ['private_key_jwt', 'client_secret_jwt'] as const

/** Hosts where `http:` is allowed, for development on the loopback interface. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]'])

/** The well-known URI suffix of RFC 8414 §3. */
const WELL_KNOWN_SUFFIX = '/.well-known/oauth-authorization-server'

/** Metadata is public and changes only with the configuration: any origin may read it, and caches may keep it. */
const METADATA_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'application/json',
  'Cache-Control': 'public, max-age=3600',
  'Access-Control-Allow-Origin': '*',
})

/** The endpoints found among those given, one of each kind at most. */
interface FoundEndpoints {
  readonly token?: TokenEndpoint
  readonly authorization?: AuthorizationEndpoint
  readonly revocation?: RevocationEndpoint
  readonly introspection?: IntrospectEndpoint
  readonly resource?: ResourceEndpoint
}

/**
 * The metadata endpoint, as oauthlib's `MetadataEndpoint`: computes what the server supports from its endpoints,
 * merges the application's claims, validates the whole and serves it at the well-known URI.
 *
 * The endpoints are `TokenEndpoint`, `AuthorizationEndpoint`, `RevocationEndpoint`, `IntrospectEndpoint` and
 * `ResourceEndpoint`, at most one of each; a resource server has no RFC 8414 metadata, so the last is accepted and
 * ignored.
 *
 * The computed claims (`response_types_supported`, `grant_types_supported`, `*_auth_methods_supported`,
 * `code_challenge_methods_supported`, …) may be given to advertise fewer values, never one the server lacks. An
 * endpoint URL left out defaults to `issuer` + {@link DEFAULT_ENDPOINT_PATHS}. Arrays with no element are omitted
 * (RFC 8414 §3.2); so a server without an authorization endpoint has no `response_types_supported`, as in oauthlib.
 *
 * @example
 * ```ts
 * const server = new WebApplicationServer(validator, { issuer: 'https://as.example.com' })
 * const metadata = new MetadataEndpoint([server.authorizationEndpoint, server.tokenEndpoint], {
 *   issuer: 'https://as.example.com',
 *   scopes_supported: ['read', 'write'],
 * })
 * // serve metadata.createMetadataResponse(uri, method) at metadata.wellKnownUri
 * ```
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc8414 | RFC 8414}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9207#section-3 | RFC 9207 §3}
 */
export class MetadataEndpoint {
  /** The metadata document, frozen: what the well-known URI serves. */
  readonly claims: Readonly<AuthorizationServerMetadata>
  /**
   * Where RFC 8414 §3.1 puts the document: `/.well-known/oauth-authorization-server` between the issuer's host and
   * its path (`https://as.example.com/tenant` → `https://as.example.com/.well-known/oauth-authorization-server/tenant`).
   */
  readonly wellKnownUri: string
  private readonly json: string

  /**
   * Builds and validates the document.
   *
   * @param endpoints - the endpoint instances the server has (at least a token or an authorization endpoint)
   * @param claims - `issuer` and the claims only the application knows (URLs, `scopes_supported`, …)
   * @throws TypeError when an endpoint is not recognised or given twice; when `issuer` is not an `https` URL without
   *   query or fragment, or an endpoint URL or `jwks_uri` not an `https` URL without fragment (`http:` only on
   *   loopback); when a list claim is not an array of strings, or lists what the server does not support; when the
   *   endpoints do not fit together (codes issued but not redeemable, or the other way round); when another claim is
   *   not JSON
   * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-2 | RFC 8414 §2}
   */
  constructor(endpoints: readonly object[], claims: AuthorizationServerMetadata) {
    if (!Array.isArray(endpoints)) throw new TypeError('MetadataEndpoint needs an array of endpoints')
    if (typeof claims !== 'object' || claims === null) throw new TypeError('MetadataEndpoint needs claims with at least issuer')
    const found = findEndpoints(endpoints)
    const issuer = checkIssuer(claims.issuer)
    // RFC 9207 §2.4: clients compare the iss of authorization responses with the metadata's issuer.
    const sentIss = found.authorization?.issuer
    if (sentIss !== undefined && sentIss !== issuer) {
      throw new TypeError(`issuer ${issuer} differs from the iss the authorization endpoint sends (${sentIss}) (RFC 9207 section 2.4)`)
    }
    // No prototype: a claim named __proto__ stays a claim.
    const document: Record<string, unknown> = Object.create(null) as Record<string, unknown>
    document.issuer = issuer

    for (const [name, kind] of Object.entries(ENDPOINT_URL_CLAIMS) as [EndpointUrlClaim, EndpointKind][]) {
      const given = claims[name]
      if (found[kind] === undefined) {
        if (given !== undefined) throw new TypeError(`${name} is given, but no ${kind} endpoint is among the endpoints`)
        continue
      }
      document[name] = given === undefined ? issuer.replace(/\/$/, '') + DEFAULT_ENDPOINT_PATHS[name] : checkUrl(name, given)
    }
    for (const name of OTHER_URL_CLAIMS) {
      if (claims[name] !== undefined) document[name] = checkUrl(name, claims[name])
    }
    for (const name of PAGE_URL_CLAIMS) {
      if (claims[name] !== undefined) document[name] = checkUrl(name, claims[name], { page: true })
    }

    const supported = supportedBy(found)
    for (const name of COMPUTED_LIST_CLAIMS) document[name] = narrowed(name, claims[name], supported[name])
    for (const name of GIVEN_LIST_CLAIMS) {
      if (claims[name] !== undefined) document[name] = stringList(name, claims[name])
    }
    for (const scope of (document.scopes_supported as readonly string[] | undefined) ?? []) {
      if (!isScopeToken(scope)) throw new TypeError(`scopes_supported has ${JSON.stringify(scope)}, which is not a scope token (RFC 6749 section 3.3)`)
    }
    checkSigningAlgorithms(document)
    checkGrantsFitResponseTypes(document)

    if (claims.signed_metadata !== undefined) {
      // RFC 8414 §2.1: a JWT; signing it is the application's business, its form is checked here.
      if (typeof claims.signed_metadata !== 'string' || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(claims.signed_metadata)) {
        throw new TypeError('signed_metadata must be a signed JWT in compact serialization (RFC 8414 section 2.1)')
      }
      document.signed_metadata = claims.signed_metadata
    }

    // RFC 9207 §3: the authorization endpoint sends iss in every response, errors included.
    const issSupported = found.authorization !== undefined
    const issClaim = claims.authorization_response_iss_parameter_supported
    if (issClaim !== undefined && issClaim !== issSupported) {
      throw new TypeError(
        `authorization_response_iss_parameter_supported must be ${issSupported}: ` +
          (issSupported ? 'the authorization endpoint sends iss in every response (RFC 9207 section 3)' : 'there is no authorization endpoint'),
      )
    }
    if (issSupported) document.authorization_response_iss_parameter_supported = true

    for (const [name, value] of Object.entries(claims)) {
      if (isKnownClaim(name) || value === undefined) continue
      // Every *_endpoint is a URL (e.g. device_authorization_endpoint, RFC 8628).
      document[name] = name.endsWith('_endpoint') ? checkUrl(name, value) : jsonCopy(name, value)
    }

    this.claims = deepFreeze(ordered(document)) as AuthorizationServerMetadata
    this.json = JSON.stringify(this.claims)
    this.wellKnownUri = wellKnownUriOf(issuer)
  }

  /**
   * Answers a request for the metadata document: 200 with the JSON for `GET` (headers only for `HEAD`), 405 with
   * `Allow: GET, HEAD` for any other method. The document is public: it may be cached for an hour and read from any
   * origin (`Access-Control-Allow-Origin: *`), since browser-based clients fetch it. Never rejects.
   *
   * @param uri - the request URI; the route, usually {@link MetadataEndpoint.wellKnownUri}, is the adapter's business
   * @param httpMethod - `GET` or `HEAD`
   * @param body - ignored
   * @param headers - ignored
   * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-3.1 | RFC 8414 §3.1}
   * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-3.2 | RFC 8414 §3.2}
   */
  async createMetadataResponse(uri: RequestUri, httpMethod = 'GET', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    void [uri, body, headers]
    const method = normalizeMethod(httpMethod)
    if (method !== 'GET' && method !== 'HEAD') {
      return errorResponse(
        new InvalidRequestError('The metadata endpoint accepts GET and HEAD only (RFC 8414 section 3.1)', { status: 405, headers: { Allow: 'GET, HEAD' } }),
      )
    }
    return { status: 200, headers: { ...METADATA_HEADERS }, body: method === 'HEAD' ? '' : this.json }
  }
}

/** Sorts the endpoints given by kind; an unrecognised object or a kind given twice is a caller's mistake. */
function findEndpoints(endpoints: readonly object[]): FoundEndpoints {
  const found: Partial<Record<EndpointKind, object>> = {}
  for (const endpoint of endpoints) {
    const kind = kindOf(endpoint)
    if (kind === undefined) {
      const isServer = typeof endpoint === 'object' && endpoint !== null && ('tokenEndpoint' in endpoint || 'authorizationEndpoint' in endpoint)
      throw new TypeError(
        'MetadataEndpoint was given an object that is not an endpoint' + (isServer ? ": pass a server's tokenEndpoint and authorizationEndpoint" : ''),
      )
    }
    if (found[kind] !== undefined) throw new TypeError(`MetadataEndpoint was given two ${kind} endpoints`)
    found[kind] = endpoint
  }
  if (found.token === undefined && found.authorization === undefined) {
    throw new TypeError('MetadataEndpoint needs a TokenEndpoint or an AuthorizationEndpoint')
  }
  return found as FoundEndpoints
}

function kindOf(endpoint: unknown): EndpointKind | undefined {
  if (endpoint instanceof TokenEndpoint) return 'token'
  if (endpoint instanceof AuthorizationEndpoint) return 'authorization'
  if (endpoint instanceof RevocationEndpoint) return 'revocation'
  if (endpoint instanceof IntrospectEndpoint) return 'introspection'
  if (endpoint instanceof ResourceEndpoint) return 'resource'
  return undefined
}

/** What the endpoints really support, for each computed list claim; empty where there is no such endpoint. */
function supportedBy(found: FoundEndpoints): Record<ComputedListClaim, readonly string[]> {
  const { token, authorization } = found
  const responseTypes = authorization?.responseTypesSupported ?? []
  const grantTypes = [...(token?.grantTypes ?? []), ...(responseTypes.includes('token') ? ['implicit'] : [])]
  const publicClients = token?.publicClientsAllowed === true
  return {
    response_types_supported: responseTypes,
    // Every response type may be asked for in any of these; each narrows it (tokens never travel in a query).
    response_modes_supported: authorization === undefined ? [] : RESPONSE_MODES,
    grant_types_supported: grantTypes,
    token_endpoint_auth_methods_supported: token === undefined ? [] : [...CLIENT_SECRET_METHODS, ...(publicClients ? ['none'] : [])],
    // RFC 7009 §2.1: a public client may revoke its own tokens, and RevocationEndpoint lets it.
    revocation_endpoint_auth_methods_supported: found.revocation === undefined ? [] : [...CLIENT_SECRET_METHODS, 'none'],
    // RFC 7662 §2.1: the caller must be authorized, so IntrospectEndpoint refuses public clients.
    introspection_endpoint_auth_methods_supported: found.introspection === undefined ? [] : CLIENT_SECRET_METHODS,
    code_challenge_methods_supported: responseTypes.includes('code') ? (authorization?.codeChallengeMethodsSupported ?? []) : [],
  }
}

/** A computed list, or the user's claim when it lists only values the server supports, and at least one. */
function narrowed(name: ComputedListClaim, given: unknown, supported: readonly string[]): readonly string[] {
  if (given === undefined) return [...supported]
  const list = stringList(name, given)
  const unsupported = list.filter((value) => !supported.includes(value))
  if (unsupported.length > 0) {
    throw new TypeError(
      `${name} lists ${unsupported.join(', ')}, which this server does not support (it supports: ${supported.join(', ') || 'nothing'})`,
    )
  }
  if (list.length === 0 && supported.length > 0) throw new TypeError(`${name} cannot be empty: this server supports ${supported.join(', ')}`)
  return list
}

/**
 * The endpoints must fit together: a code is issued at the authorization endpoint and redeemed at the token endpoint,
 * an implicit token needs only the first. RFC 8414 §2: authorization_endpoint is required when a grant uses it, and
 * token_endpoint unless only the implicit grant is supported.
 */
function checkGrantsFitResponseTypes(document: Record<string, unknown>): void {
  const responseTypes = (document.response_types_supported as readonly string[] | undefined) ?? []
  const grantTypes = (document.grant_types_supported as readonly string[] | undefined) ?? []
  const pairs = [
    {
      responseType: 'code',
      grantType: 'authorization_code',
      needsGrant: 'pass a TokenEndpoint serving AuthorizationCodeGrant (token_endpoint is required)',
      needsResponseType: 'pass the AuthorizationEndpoint that issues the codes (authorization_endpoint is required)',
    },
    { responseType: 'token', grantType: 'implicit', needsGrant: 'advertise both or neither', needsResponseType: 'advertise both or neither' },
  ] as const
  for (const { responseType, grantType, needsGrant, needsResponseType } of pairs) {
    if (responseTypes.includes(responseType) && !grantTypes.includes(grantType)) {
      throw new TypeError(`response_types_supported has ${responseType} but grant_types_supported lacks ${grantType}: ${needsGrant} (RFC 8414 section 2)`)
    }
    if (grantTypes.includes(grantType) && !responseTypes.includes(responseType)) {
      throw new TypeError(
        `grant_types_supported has ${grantType} but response_types_supported lacks ${responseType}: ${needsResponseType} (RFC 8414 section 2)`,
      )
    }
  }
}

/**
 * RFC 8414 §2: `*_auth_signing_alg_values_supported` goes with `private_key_jwt` or `client_secret_jwt`, and never
 * lists `none`.
 */
function checkSigningAlgorithms(document: Record<string, unknown>): void {
  for (const prefix of ['token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
    const algorithms = document[`${prefix}_auth_signing_alg_values_supported`] as readonly string[] | undefined
    if (algorithms === undefined || algorithms.length === 0) continue
    const methods = (document[`${prefix}_auth_methods_supported`] as readonly string[] | undefined) ?? []
    if (!methods.some((method) => JWT_AUTH_METHODS.some((jwt) => jwt === method))) {
      throw new TypeError(`${prefix}_auth_signing_alg_values_supported is given, but the ${prefix} supports neither private_key_jwt nor client_secret_jwt`)
    }
    if (algorithms.includes('none')) throw new TypeError(`${prefix}_auth_signing_alg_values_supported must not list none (RFC 8414 section 2)`)
  }
}

/** RFC 8414 §2: the issuer is an `https` URL with no query or fragment. */
function checkIssuer(issuer: unknown): string {
  if (issuer === undefined) throw new TypeError('issuer is required (RFC 8414 section 2)')
  const checked = checkUrl('issuer', issuer)
  if (checked.includes('?')) throw new TypeError('issuer must not have a query (RFC 8414 section 2)')
  return checked
}

/**
 * An absolute `https` URL (`http` on loopback only) without fragment or credentials, kept as given; a `page` may be
 * `http` and have a fragment.
 */
function checkUrl(name: string, value: unknown, { page = false } = {}): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a URL string`)
  let url: URL | undefined
  try {
    url = new URL(value)
  } catch {
    url = undefined
  }
  // The URL parser forgives what the claim must not have: surrounding blanks, `https:host`, backslashes.
  if (url === undefined || !/^https?:\/\/[^\s\\]+$/i.test(value)) throw new TypeError(`${name} must be an absolute URL: got ${JSON.stringify(value)}`)
  if (url.username !== '' || url.password !== '') throw new TypeError(`${name} must not carry credentials`)
  if (page) return value
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new TypeError(`${name} must be an https URL (http only on localhost, 127.0.0.1 or [::1]): got ${value}`)
  }
  if (value.includes('#')) throw new TypeError(`${name} must not have a fragment (RFC 8414 section 2)`)
  return value
}

/** A copy of an array of distinct non-empty strings. */
function stringList(name: string, value: unknown): readonly string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new TypeError(`${name} must be an array of non-empty strings (RFC 8414 section 2)`)
  }
  if (new Set(value).size !== value.length) throw new TypeError(`${name} lists a value twice`)
  return [...(value as string[])]
}

function isScopeToken(scope: string): boolean {
  try {
    return parseScope(scope).length === 1
  } catch {
    return false
  }
}

/** A deep copy of a JSON value, so that later changes to the caller's object do not reach the document. */
function jsonCopy(name: string, value: unknown, ancestors: ReadonlySet<object> = new Set()): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'object' && !ancestors.has(value)) {
    const inside = new Set([...ancestors, value])
    if (Array.isArray(value)) return value.map((item, index) => jsonCopy(`${name}[${index}]`, item, inside))
    const prototype: unknown = Object.getPrototypeOf(value)
    if (prototype === Object.prototype || prototype === null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonCopy(`${name}.${key}`, item, inside)]))
    }
  }
  throw new TypeError(`${name} must be a JSON value`)
}

function isKnownClaim(name: string): boolean {
  return (CLAIM_ORDER as readonly string[]).includes(name)
}

/** The claims in RFC order, unknown ones after; RFC 8414 §3.2: claims with zero elements are omitted. */
function ordered(document: Record<string, unknown>): Record<string, unknown> {
  const names = [...CLAIM_ORDER.filter((name) => name in document), ...Object.keys(document).filter((name) => !isKnownClaim(name))]
  const isEmpty = (value: unknown) => value === undefined || (Array.isArray(value) && value.length === 0)
  return Object.fromEntries(names.map((name) => [name, document[name]] as const).filter(([, value]) => !isEmpty(value)))
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}

/** RFC 8414 §3.1: the suffix goes between the host and the path, the path's terminating `/` removed. */
function wellKnownUriOf(issuer: string): string {
  const url = new URL(issuer)
  return url.origin + WELL_KNOWN_SUFFIX + url.pathname.replace(/\/$/, '')
}
