/**
 * The Fetch API adapter (`oauthkit/fetch`): `Request` in, `Response` out, on Web standards only, so it runs on Node,
 * Deno, Bun and edge runtimes. The node:http, Express, Fastify and Hono adapters are built on it.
 *
 * @module
 */
import { type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import {
  protectedResourceMetadataPath,
  protectedResourceMetadataResponder,
  type ProtectedResourceMetadata,
} from '../endpoints/protected-resource-metadata.js'
import { type ProtectedResourceResult, type ResourceEndpoint } from '../endpoints/resource.js'
import { type StoredToken } from '../types.js'
import { withCors } from './cors.js'
import { reportAdapterError, type AdapterErrorHook } from './error-reporting.js'
import {
  bodyToSend,
  checkedCap,
  DEFAULT_MAX_BODY_BYTES,
  HttpError,
  PayloadTooLargeError,
  problem,
  Router,
  type HttpRequest,
  type HttpResponse,
  type Route,
} from './router.js'

export { type AdapterErrorHook } from './error-reporting.js'
export { withCors } from './cors.js'
export {
  DEFAULT_MAX_BODY_BYTES,
  HttpError,
  PayloadTooLargeError,
  Router,
  type HttpRequest,
  type HttpResponse,
  type Route,
  type RouteRequest,
  type RouterOptions,
} from './router.js'

/** A handler of the Fetch API: what `createFetchHandler` returns and what every other adapter serves. */
export type FetchHandler = (request: Request) => Promise<Response> | Response

/**
 * A Fetch API handler made over a {@link Router}: the node:http adapter (and Express and Fastify through it) serves
 * its `router` straight from the socket, without a Fetch `Request` and `Response` per request.
 */
export type RoutedFetchHandler = ((request: Request) => Promise<Response>) & {
  /** The router the handler translates into. */
  readonly router: Router
}

/** The parts of a request the core's create-style calls take: `(uri, httpMethod, body, headers)`. */
export interface OAuth2HttpRequest {
  /** The absolute request URI: `request.url`, as the runtime (or the proxy-aware transport) built it. */
  readonly uri: string
  /** The HTTP method. */
  readonly httpMethod: string
  /** The raw body as text (UTF-8), so repeated parameters survive; `undefined` when the request has no body. */
  readonly body: string | undefined
  /** The request headers. */
  readonly headers: Headers
}

/** Options of {@link readRequest}. */
export interface ReadRequestOptions {
  /** Refuse a body larger than this many bytes; default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number | undefined
}

/**
 * Reads a request into the arguments of the core's create-style calls. The body is read raw, as text, never parsed:
 * the core must see a repeated parameter to refuse it (RFC 6749 §3.1, §3.2). A body over the cap is not read further:
 * its stream is cancelled.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 * @throws {@link PayloadTooLargeError} when `Content-Length` or the bytes read exceed `maxBodyBytes`
 * @throws whatever the body stream fails with, e.g. when the client went away
 */
export async function readRequest(request: Request, options: ReadRequestOptions = {}): Promise<OAuth2HttpRequest> {
  const maxBodyBytes = checkedCap(options.maxBodyBytes)
  const parts = { uri: request.url, httpMethod: request.method, headers: request.headers }
  const stream = request.body
  if (stream === null) return { ...parts, body: undefined }
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBodyBytes) {
    await stream.cancel().catch(() => undefined)
    throw new PayloadTooLargeError(maxBodyBytes)
  }
  const reader = stream.getReader()
  const decoder = new TextDecoder('utf-8')
  let size = 0
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBodyBytes) {
      await reader.cancel().catch(() => undefined)
      throw new PayloadTooLargeError(maxBodyBytes)
    }
    text += decoder.decode(value, { stream: true })
  }
  return { ...parts, body: text + decoder.decode() }
}

/**
 * Turns a core response into a Fetch `Response`. No body is sent for 204, 205 and 304, nor to a `HEAD` request.
 *
 * @param requestMethod - the method of the request answered; `HEAD` drops the body and keeps the headers
 */
export function toResponse(response: OAuth2Response, requestMethod?: string): Response {
  const cookies = (response as HttpResponse).cookies
  const headers = new Headers(response.headers)
  if (cookies !== undefined) for (const cookie of cookies) headers.append('Set-Cookie', cookie)
  return new Response(bodyToSend(response, requestMethod) ?? null, { status: response.status, headers })
}

/**
 * The router's view of a Fetch `Request`: its URL, method and headers as they are, the body read on demand with
 * {@link readRequest}'s cap.
 *
 * @param remoteAddress - the client's address, when the runtime tells it
 */
export function fromFetchRequest(request: Request, remoteAddress?: string): HttpRequest {
  return {
    url: new URL(request.url),
    method: request.method,
    headers: request.headers,
    remoteAddress,
    readBody: async (maxBodyBytes) => (await readRequest(request, { maxBodyBytes })).body,
    aborted: () => request.signal.aborted,
    toRequest: () => request,
  }
}

/**
 * A Fetch API handler that translates into `router` and out of it; the router is kept on it for `oauthkit/node`.
 *
 * @example
 * ```ts
 * // The protocol endpoints and a route of your own, on one router, served by Fetch and node:http alike
 * const router = new Router([...protocolRoutes(server), ['/me', (request) => ({ status: 200, headers: {}, body: 'me' })]])
 * export default { fetch: fetchHandlerOf(router) }
 * ```
 */
export function fetchHandlerOf(router: Router): RoutedFetchHandler {
  const handler = async (request: Request): Promise<Response> => routerResponse(await router.handle(fromFetchRequest(request)), request, router.onError)
  return Object.assign(handler, { router })
}

/**
 * A router's answer as a Fetch `Response`; a 500 (reported) when a route's headers are not valid HTTP, so that the
 * handler never rejects.
 */
export function routerResponse(response: HttpResponse, request: Request, onError: AdapterErrorHook | undefined): Response {
  try {
    return toResponse(response, request.method)
  } catch (error) {
    return failureResponse(error, request, onError)
  }
}

/** A core call of the shape every endpoint shares. */
type CreateResponse = (uri: RequestUri, httpMethod?: string, body?: RequestBody, headers?: RequestHeaders) => Promise<OAuth2Response>

/** The token endpoint's call, which also takes extra data for the validator and the hooks (`request.credentials`). */
type CreateTokenResponse = (
  uri: RequestUri,
  httpMethod?: string,
  body?: RequestBody,
  headers?: RequestHeaders,
  credentials?: Readonly<Record<string, unknown>>,
) => Promise<OAuth2Response>

/**
 * What {@link createFetchHandler} needs of a server: any of oauthkit's pre-configured servers fits
 * (`MobileApplicationServer` has no token endpoint, so its `/token` is not served).
 */
export interface FetchHandlerServer {
  /**
   * The token endpoint (RFC 6749 §3.2). The client's address, when the adapter knows it, is passed as
   * `credentials.remoteAddress` (for rate limits through `tokenRequestHooks`, or the validator).
   */
  readonly createTokenResponse?: CreateTokenResponse
  /** The revocation endpoint (RFC 7009). */
  readonly createRevocationResponse: CreateResponse
  /** The introspection endpoint (RFC 7662). */
  readonly createIntrospectResponse: CreateResponse
  /** The metadata document (RFC 8414); served only when `metadataEndpoint` is set. */
  readonly createMetadataResponse: CreateResponse
  /** Present when the server was given an `issuer`. */
  readonly metadataEndpoint: { readonly wellKnownUri: string } | undefined
  /** The UserInfo endpoint (OpenID Connect Core §5.3); served only when `userInfoEndpoint` is set. */
  readonly createUserInfoResponse?: CreateResponse
  /** Present when the server is an OpenID Provider (it was given an `idTokenSigner`). */
  readonly userInfoEndpoint?: object | undefined
  /** The OpenID Provider configuration (Discovery §4); served only when `openIdConfigurationEndpoint` is set. */
  readonly createOpenIDConfigurationResponse?: CreateResponse
  /** Present when the server is an OpenID Provider. */
  readonly openIdConfigurationEndpoint?: { readonly wellKnownUri: string } | undefined
}

/** The endpoints {@link createFetchHandler} serves. */
export type EndpointName = 'token' | 'revocation' | 'introspection' | 'metadata' | 'userinfo' | 'openid-configuration'

/** The default paths of {@link createFetchHandler}, matching the metadata document's default endpoint URLs. */
export const DEFAULT_PATHS: Readonly<Record<EndpointName, string>> = Object.freeze({
  token: '/token',
  revocation: '/revoke',
  introspection: '/introspect',
  metadata: '/.well-known/oauth-authorization-server',
  userinfo: '/userinfo',
  'openid-configuration': '/.well-known/openid-configuration',
})

/** Options of {@link createFetchHandler}. */
export interface FetchHandlerOptions {
  /**
   * Where each endpoint is served (exact pathnames). Defaults: {@link DEFAULT_PATHS}, except that the metadata path
   * defaults to the path of the server's `metadataEndpoint.wellKnownUri`, which is `DEFAULT_PATHS.metadata` unless
   * the issuer has a path (RFC 8414 §3.1). Keep them in step with the URLs the metadata document advertises.
   */
  readonly paths?: Partial<Record<EndpointName, string>> | undefined
  /** Refuse a body larger than this many bytes (413); default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number | undefined
  /** Receives unexpected failures (answered 500); default `console.error`. Not called when the client went away. */
  readonly onError?: AdapterErrorHook | undefined
  /**
   * Open the token and revocation endpoints and the metadata document to browser clients of any origin (CORS, see
   * {@link withCors}); introspection stays closed. Default `false`.
   */
  readonly cors?: boolean | undefined
}

/**
 * A Fetch API handler serving a pre-configured server's endpoints: token (`POST`), revocation, introspection, and,
 * when the server has an issuer, the metadata document (`GET`/`HEAD`). The request URI given to the core is
 * `request.url`: behind a proxy, the transport decides what that is (see `oauthkit/node`'s `trustProxy`).
 *
 * - a known path with the wrong method: the endpoint's own 405 with `Allow`;
 * - an unknown path: 404 `application/problem+json`, not an OAuth error;
 * - a body over the cap: 413 `application/problem+json`;
 * - an unexpected failure: 500 `application/problem+json`, reported to `onError`.
 *
 * The returned handler never rejects.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-3 | RFC 8414 §3}
 * @throws TypeError when `maxBodyBytes` is not a non-negative integer
 * @example
 * ```ts
 * const handler = createFetchHandler(new BackendApplicationServer(validator, { issuer: 'https://as.example.com' }))
 * export default { fetch: handler } // Deno, Bun, Cloudflare Workers
 * ```
 */
export function createFetchHandler(server: FetchHandlerServer, options: FetchHandlerOptions = {}): RoutedFetchHandler {
  return fetchHandlerOf(
    new Router(protocolRoutes(server, options.paths, { cors: options.cors }), { maxBodyBytes: options.maxBodyBytes, onError: options.onError }),
  )
}

/**
 * The routes of a server's protocol endpoints, at {@link DEFAULT_PATHS} unless `paths` says otherwise: each reads the
 * body and hands `(uri, method, body, headers)` to the core. With `cors`, the token and revocation endpoints and the
 * metadata document answer browser clients of any origin ({@link withCors}).
 */
export function protocolRoutes(
  server: FetchHandlerServer,
  paths: FetchHandlerOptions['paths'] = {},
  options: { readonly cors?: boolean | undefined } = {},
): Array<[string, Route]> {
  const metadataPath = server.metadataEndpoint === undefined ? undefined : new URL(server.metadataEndpoint.wellKnownUri).pathname
  const routes: Array<[string, Route]> = []
  const add = (name: EndpointName, fallback: string | undefined, create: CreateTokenResponse | undefined) => {
    const path = paths[name] ?? fallback
    if (path === undefined || create === undefined) return
    const bound = create.bind(server)
    const route: Route = async (request) => {
      // Only the token endpoint takes credentials: the client's address, for its hooks and the validator.
      const credentials = name !== 'token' || request.remoteAddress === undefined ? undefined : { remoteAddress: request.remoteAddress }
      // Awaited rather than returned: an async function resolved with a promise waits three turns for it, not one.
      return await bound(request.url, request.method, await request.body(), request.headers, credentials)
    }
    const browsers = options.cors === true && name !== 'introspection'
    routes.push([path, browsers ? withCors(route, CORS_METHODS[name] ?? ['POST']) : route])
  }
  add('token', DEFAULT_PATHS.token, server.createTokenResponse)
  add('revocation', DEFAULT_PATHS.revocation, server.createRevocationResponse)
  add('introspection', DEFAULT_PATHS.introspection, server.createIntrospectResponse)
  if (metadataPath !== undefined) add('metadata', metadataPath, server.createMetadataResponse)
  if (server.userInfoEndpoint !== undefined) add('userinfo', DEFAULT_PATHS.userinfo, server.createUserInfoResponse)
  const discovery = server.openIdConfigurationEndpoint
  if (discovery !== undefined) add('openid-configuration', new URL(discovery.wellKnownUri).pathname, server.createOpenIDConfigurationResponse)
  return routes
}

/** The methods a browser may use at each endpoint open to CORS; `POST` for the others. */
const CORS_METHODS: Partial<Record<EndpointName, readonly string[]>> = {
  metadata: ['GET', 'HEAD'],
  'openid-configuration': ['GET', 'HEAD'],
  userinfo: ['GET', 'POST'],
}

/**
 * A Fetch API handler serving a protected resource's metadata document (RFC 9728) at its well-known path
 * (`protectedResourceMetadataPath(metadata.resource)`; 404 elsewhere), open to browser clients of any origin (CORS).
 * Name its URL in the resource's challenges with the server's `resource.resourceMetadata` option.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9728#section-3 | RFC 9728 §3}
 * @throws TypeError when the metadata is malformed
 * @example
 * ```ts
 * const resource = 'https://api.example.com/mcp'
 * const metadata = protectedResourceMetadata({ resource, authorization_servers: ['https://as.example.com'], scopes_supported: ['mcp'] })
 * const server = new BackendApplicationServer(validator, { resource: { resourceMetadata: protectedResourceMetadataUrl(resource) } })
 * ```
 */
export function protectedResourceMetadata(metadata: ProtectedResourceMetadata): RoutedFetchHandler {
  const respond = protectedResourceMetadataResponder(metadata)
  return fetchHandlerOf(new Router([[protectedResourceMetadataPath(metadata.resource), withCors((request) => respond(request.method), ['GET', 'HEAD'])]]))
}

/** Options of {@link protectedResource}. */
export interface ProtectedResourceOptions {
  /** Refuse a form body larger than this many bytes (413); default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number | undefined
  /** Receives unexpected failures, the handler's included (answered 500); default `console.error`. */
  readonly onError?: AdapterErrorHook | undefined
}

/** What {@link protectedResource} needs of a server: the protected-resource check every pre-configured server has. */
export interface ProtectedResourceServer {
  /** See `ResourceEndpoint.validateProtectedResourceRequest`. */
  validateProtectedResourceRequest(...args: Parameters<ResourceEndpoint['validateProtectedResourceRequest']>): Promise<ProtectedResourceResult>
}

/**
 * Guards a Fetch API handler with a Bearer access token: the handler runs only when the request carries a valid,
 * unexpired access token granting every scope in `scopes`, and receives that token. Otherwise the answer is the
 * RFC 6750 §3 challenge (401 or 403 with `WWW-Authenticate: Bearer …`). A form body (where RFC 6750 §2.2 lets the
 * token travel) is read with the cap and handed on to the handler in a fresh `Request`. Never rejects.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2 | RFC 6750 §2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
 * @throws TypeError when `maxBodyBytes` is not a non-negative integer
 * @example
 * ```ts
 * const me = protectedResource(server, ['profile'], (request, token) => Response.json({ sub: token.user?.userId }))
 * ```
 */
export function protectedResource(
  server: ProtectedResourceServer,
  scopes: readonly string[],
  handler: (request: Request, token: StoredToken) => Promise<Response> | Response,
  options: ProtectedResourceOptions = {},
): (request: Request) => Promise<Response> {
  const maxBodyBytes = checkedCap(options.maxBodyBytes)
  const onError = options.onError
  return async (request) => {
    try {
      // RFC 6750 §2.2: only a form body of these methods may carry the token; any other body is the handler's.
      const mediaType = request.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase()
      const formBody = mediaType === 'application/x-www-form-urlencoded' && ['POST', 'PUT', 'PATCH'].includes(request.method.toUpperCase())
      let body: string | undefined
      let forward = request
      if (formBody) {
        body = (await readRequest(request, { maxBodyBytes })).body
        forward = new Request(request.url, { method: request.method, headers: request.headers, body: body ?? null, signal: request.signal })
      }
      const result = await server.validateProtectedResourceRequest(request.url, request.method, body, request.headers, scopes)
      if (!result.valid) return toResponse(result.response, request.method)
      return await handler(forward, result.token)
    } catch (error) {
      return failureResponse(error, request, onError)
    }
  }
}

/** The response for an exception of an adapter: its own for an {@link HttpError}, else a reported 500. */
function failureResponse(error: unknown, request: Request, onError: AdapterErrorHook | undefined): Response {
  if (error instanceof HttpError) return error.toResponse()
  // The client went away while its body was read: nobody will see the answer, and nothing went wrong here.
  if (!request.signal.aborted) reportAdapterError(onError, error, request)
  return toResponse(problem(500, 'The server failed to handle the request'))
}
