/**
 * The one router between HTTP and the protocol: every adapter (Fetch, node:http, and the frameworks built on them)
 * translates its request into an {@link HttpRequest}, the router picks the route by path, applies the body cap and
 * turns failures into answers, and the adapter writes the {@link HttpResponse} back. The routes speak the core's
 * shape: `(uri, method, body, headers)` in, `{ status, headers, body }` out.
 *
 * Web standards only, like the core: it runs wherever `oauthkit/fetch` runs.
 *
 * @module
 */
import { type RequestHeaders } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { reportAdapterError, type AdapterErrorHook } from './error-reporting.js'

/** The default cap on a request body: 64 KiB, far more than any OAuth form needs. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024

/** A request as an adapter hands it to a {@link Router}. */
export interface HttpRequest {
  /**
   * The absolute request URL, e.g. `https://as.example.com/token`; behind a proxy, what the adapter trusts it to be.
   * Parsed once by the adapter and handed to the core as it is: do not change it.
   */
  readonly url: URL
  /** The HTTP method as received. */
  readonly method: string
  /** The headers as received, repeated ones kept apart where the transport keeps them apart. */
  readonly headers: RequestHeaders
  /** The client's address, when the transport knows it (behind a trusted proxy, the one the proxy saw). */
  readonly remoteAddress?: string | undefined
  /**
   * Reads the whole body as UTF-8 text, refusing more than `maxBodyBytes` with `PayloadTooLargeError`; `undefined`
   * when the request has no body. Called at most once.
   */
  readBody(maxBodyBytes: number): Promise<string | undefined>
  /** Whether the client went away: a failure is then nobody's to see, and not reported. */
  aborted(): boolean
  /** The request as a Fetch `Request` (without its body), for an error report; built only when one is made. */
  toRequest(): Request | undefined
}

/** A response as a route returns it: the core's `{ status, headers, body }`, and the cookies to set, if any. */
export interface HttpResponse extends OAuth2Response {
  /** `Set-Cookie` values, each sent as a header of its own. */
  readonly cookies?: readonly string[] | undefined
}

/** What a route receives: the request, with its body read on demand within the router's cap. */
export interface RouteRequest {
  /** The absolute request URL (see {@link HttpRequest.url}); do not change it. */
  readonly url: URL
  /** The HTTP method as received. */
  readonly method: string
  /** The headers as received, to hand to the core as they are. */
  readonly headers: RequestHeaders
  /** The client's address, when the adapter knows it. */
  readonly remoteAddress: string | undefined
  /** The body as text (read once, then the same promise), or `undefined` when there is none. */
  body(): Promise<string | undefined>
  /** The value of a header (repeated ones joined with `, `, as Fetch's `Headers.get` joins them), if present. */
  header(name: string): string | undefined
}

/** A route: the answer to a request at one path. It may throw: the router answers the failure. */
export type Route = (request: RouteRequest) => Promise<HttpResponse> | HttpResponse

/** Options of {@link Router}. */
export interface RouterOptions {
  /** Refuse a body larger than this many bytes (413); default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number | undefined
  /** Receives unexpected failures (answered with `failure`); default `console.error`. Not called when the client went away. */
  readonly onError?: AdapterErrorHook | undefined
  /** The answer to an unexpected failure; default a 500 `application/problem+json`. */
  readonly failure?: (() => HttpResponse) | undefined
  /** The answer for a path without a route; default a 404 `application/problem+json`. */
  readonly notFound?: Route | undefined
  /** Called with every answer, for an access log. */
  readonly onResponse?: ((request: HttpRequest, response: HttpResponse, started: number) => void) | undefined
}

/**
 * A failure at the HTTP level, outside OAuth: an unknown path, a body over the cap, a malformed `Host`, an adapter
 * misconfigured. It becomes a `application/problem+json` response (RFC 9457), never an RFC 6749 error code, so a
 * client cannot mistake it for an answer of the protocol.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc9457 | RFC 9457}
 */
export class HttpError extends Error {
  /** The HTTP status code to answer with. */
  readonly status: number

  /**
   * @param status - the HTTP status code
   * @param detail - a sentence for the developer reading the response; sent on the wire, so no secrets
   * @param options - `cause`: the underlying failure, for logs only
   */
  constructor(status: number, detail: string, options?: { cause?: unknown }) {
    super(detail, options)
    this.name = 'HttpError'
    this.status = status
  }

  /** The problem details response: status, `Cache-Control: no-store`, and `{ title, status, detail }`. */
  toResponse(): Response {
    return new Response(this.toHttpResponse().body, { status: this.status, headers: problemHeaders() })
  }

  /** The problem details response as the core's `{ status, headers, body }`. */
  toHttpResponse(): HttpResponse {
    return problem(this.status, this.message)
  }
}

/** The request body is larger than the adapter's cap; answered 413. */
export class PayloadTooLargeError extends HttpError {
  /** Stable code, for `switch` without `instanceof`. */
  readonly code = 'ERR_PAYLOAD_TOO_LARGE'
  /** The cap in bytes that the body exceeded. */
  readonly maxBodyBytes: number

  /** @param maxBodyBytes - the cap that was exceeded */
  constructor(maxBodyBytes: number) {
    super(413, `The request body is larger than ${maxBodyBytes} bytes`)
    this.name = 'PayloadTooLargeError'
    this.maxBodyBytes = maxBodyBytes
  }
}

/**
 * Routes requests by exact path, or for a path ending in `/*` (`/register/*`), every path with one more non-empty
 * segment there (`/register/abc`), when no exact path matches. {@link Router.handle} never rejects: an
 * {@link HttpError} becomes its own problem response, any other failure the `failure` answer, reported to `onError`
 * unless the client went away.
 */
export class Router {
  private readonly routes: ReadonlyMap<string, Route>
  /** The routes of paths ending in `/*`, by their prefix with its slash (`/register/`). */
  private readonly segmentRoutes: readonly (readonly [string, Route])[]
  private readonly allPaths: readonly string[]
  private readonly maxBodyBytes: number
  private readonly options: RouterOptions

  /** @throws TypeError when `maxBodyBytes` is not a non-negative integer */
  constructor(routes: Iterable<readonly [string, Route]>, options: RouterOptions = {}) {
    const all = new Map(routes)
    this.allPaths = [...all.keys()]
    // A path ending in /* is matched by its prefix only, never as a path of its own.
    this.segmentRoutes = [...all].filter(([path]) => path.endsWith('/*')).map(([path, route]) => [path.slice(0, -1), route] as const)
    for (const [prefix] of this.segmentRoutes) all.delete(`${prefix}*`)
    this.routes = all
    this.maxBodyBytes = checkedCap(options.maxBodyBytes)
    this.options = options
  }

  /** Where unexpected failures are reported; the adapters report their own there too. */
  get onError(): AdapterErrorHook | undefined {
    return this.options.onError
  }

  /** The paths served, in the order given. */
  get paths(): readonly string[] {
    return this.allPaths
  }

  /** Answers one request. Never rejects. */
  async handle(request: HttpRequest): Promise<HttpResponse> {
    const started = performance.now()
    const route = this.routes.get(request.url.pathname) ?? this.segmentRoute(request.url.pathname) ?? this.options.notFound ?? notAnEndpoint
    let response: HttpResponse
    try {
      response = await route(new RoutedRequest(request, this.maxBodyBytes))
    } catch (error) {
      response = this.failed(error, request)
    }
    this.options.onResponse?.(request, response, started)
    return response
  }

  /** The route of a path ending in `/*` that `pathname` is one segment below, if any. */
  private segmentRoute(pathname: string): Route | undefined {
    for (const [prefix, route] of this.segmentRoutes) {
      if (pathname.length > prefix.length && pathname.startsWith(prefix) && !pathname.includes('/', prefix.length)) return route
    }
    return undefined
  }

  private failed(error: unknown, request: HttpRequest): HttpResponse {
    if (error instanceof HttpError) return error.toHttpResponse()
    // The client went away while its body was read: nobody will see the answer, and nothing went wrong here.
    if (!request.aborted()) reportAdapterError(this.options.onError, error, request.toRequest())
    return this.options.failure?.() ?? SERVER_FAILURE
  }
}

/** A request as a route sees it: the adapter's, with the body read once, on demand, within the router's cap. */
class RoutedRequest implements RouteRequest {
  readonly url: URL
  readonly method: string
  readonly headers: RequestHeaders
  readonly remoteAddress: string | undefined
  readonly #request: HttpRequest
  readonly #maxBodyBytes: number
  #body: Promise<string | undefined> | undefined

  constructor(request: HttpRequest, maxBodyBytes: number) {
    this.url = request.url
    this.method = request.method
    this.headers = request.headers
    this.remoteAddress = request.remoteAddress
    this.#request = request
    this.#maxBodyBytes = maxBodyBytes
  }

  body(): Promise<string | undefined> {
    return (this.#body ??= this.#request.readBody(this.#maxBodyBytes))
  }

  header(name: string): string | undefined {
    return requestHeader(this.headers, name)
  }
}

/** The value of a header among request headers of any shape; repeated ones joined with `, `. */
function requestHeader(headers: RequestHeaders, name: string): string | undefined {
  if (headers === null) return undefined
  const wanted = name.toLowerCase()
  if (headers instanceof Headers) return headers.get(wanted) ?? undefined
  const values: string[] = []
  const entries: Iterable<readonly [string, string | readonly string[] | undefined]> = Symbol.iterator in headers
    ? (headers as Iterable<readonly [string, string]>)
    : Object.entries(headers as Readonly<Record<string, string | readonly string[] | undefined>>)
  for (const [key, value] of entries) {
    if (key.toLowerCase() !== wanted || value === undefined) continue
    if (typeof value === 'string') values.push(value)
    else values.push(...value)
  }
  return values.length === 0 ? undefined : values.join(', ')
}

const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  500: 'Internal Server Error',
}

function problemHeaders(): Record<string, string> {
  return { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' }
}

/** An RFC 9457 problem details response, as status, headers and body. */
export function problem(status: number, detail: string): HttpResponse {
  const title = STATUS_TITLES[status] ?? 'Error'
  return { status, headers: problemHeaders(), body: JSON.stringify({ title, status, detail }) }
}

const NOT_AN_ENDPOINT = problem(404, 'There is no OAuth endpoint at this path')
const SERVER_FAILURE = problem(500, 'The server failed to handle the request')
const notAnEndpoint: Route = () => NOT_AN_ENDPOINT

/** The body a response is sent with: none for 204, 205 and 304, nor to a `HEAD` request (whose headers stay), nor when it is empty. */
export function bodyToSend(response: OAuth2Response, requestMethod: string | undefined): string | undefined {
  const bodyless = response.status === 204 || response.status === 205 || response.status === 304 || requestMethod?.toUpperCase() === 'HEAD'
  return bodyless || response.body === '' ? undefined : response.body
}

/** The body cap, checked: a caller's mistake is a TypeError, not a protocol failure. */
export function checkedCap(maxBodyBytes: number | undefined): number {
  const cap = maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isSafeInteger(cap) || cap < 0) throw new TypeError('maxBodyBytes must be a non-negative integer')
  return cap
}
