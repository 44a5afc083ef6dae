/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the document a resource server publishes so that a client that
 * met its 401 finds the authorization server to ask (MCP clients start here).
 *
 * @module
 */
import { noStoreJsonResponse, type OAuth2Response } from '../core/response.js'

/**
 * A protected resource's metadata (RFC 9728 §2). `resource` is required; the others are published when given.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9728#section-2 | RFC 9728 §2}
 */
export interface ProtectedResourceMetadata {
  /** The resource identifier: an https URL (http on loopback for development) without fragment. */
  readonly resource: string
  /** Issuer identifiers of the authorization servers that issue tokens for this resource. */
  readonly authorization_servers?: readonly string[] | undefined
  /** The scopes a client may ask for to use this resource. */
  readonly scopes_supported?: readonly string[] | undefined
  /** How a token may be sent: `header`, `body`, `query` (RFC 6750 §2). Default published: `["header"]`. */
  readonly bearer_methods_supported?: readonly ('header' | 'body' | 'query')[] | undefined
  /** A name for people, e.g. on a consent page. */
  readonly resource_name?: string | undefined
  /** A page for developers. */
  readonly resource_documentation?: string | undefined
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost'])

/**
 * The path of a resource's metadata document (RFC 9728 §3.1): `/.well-known/oauth-protected-resource` followed by
 * the resource's own path, if any (`https://api.example.com/mcp` → `/.well-known/oauth-protected-resource/mcp`).
 *
 * @throws TypeError when `resource` is not a valid resource identifier (see {@link ProtectedResourceMetadata.resource})
 */
export function protectedResourceMetadataPath(resource: string): string {
  const url = resourceUrl(resource)
  const path = url.pathname === '/' ? '' : url.pathname
  return `/.well-known/oauth-protected-resource${path}`
}

/**
 * The absolute URL of a resource's metadata document (RFC 9728 §3.1), as a `WWW-Authenticate` challenge names it in
 * `resource_metadata` (§5.1).
 *
 * @throws TypeError when `resource` is not a valid resource identifier
 */
export function protectedResourceMetadataUrl(resource: string): string {
  return `${resourceUrl(resource).origin}${protectedResourceMetadataPath(resource)}`
}

/**
 * The metadata document's answer: `GET` and `HEAD` get 200 with the JSON document (RFC 9728 §3.2); any other method
 * 405 with `Allow`. Built once: the document never changes.
 *
 * @throws TypeError when the metadata is malformed (a resource that is not https, an authorization server that is not
 *   an issuer URL)
 * @see {@link https://www.rfc-editor.org/rfc/rfc9728#section-3.2 | RFC 9728 §3.2}
 */
export function protectedResourceMetadataResponder(metadata: ProtectedResourceMetadata): (httpMethod: string) => OAuth2Response {
  resourceUrl(metadata.resource)
  for (const issuer of metadata.authorization_servers ?? []) {
    if (!URL.canParse(issuer) || !/^https?:$/.test(new URL(issuer).protocol) || /[?#]/.test(issuer)) {
      throw new TypeError(`authorization_servers must be issuer URLs (RFC 8414 section 2), got ${issuer}`)
    }
  }
  const document = Object.fromEntries(
    Object.entries({ bearer_methods_supported: ['header'], ...metadata }).filter(([, value]) => value !== undefined),
  )
  const ok = noStoreJsonResponse(200, document)
  // The document is public and changes only with the deployment: caches may keep it for an hour.
  const response: OAuth2Response = { ...ok, headers: { ...ok.headers, 'Cache-Control': 'public, max-age=3600' } }
  return (httpMethod) => {
    const method = httpMethod.toUpperCase()
    if (method === 'GET') return response
    if (method === 'HEAD') return { ...response, body: '' }
    return { status: 405, headers: { Allow: 'GET, HEAD' }, body: '' }
  }
}

/** @throws TypeError unless `resource` is an https URL (http on loopback) without fragment */
function resourceUrl(resource: string): URL {
  if (!URL.canParse(resource)) throw new TypeError(`A protected resource must be an absolute URL (RFC 9728 section 2), got ${resource}`)
  const url = new URL(resource)
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
  if (!secure || resource.includes('#')) {
    throw new TypeError(`A protected resource must be an https URL without fragment (RFC 9728 section 2), got ${resource}`)
  }
  return url
}
