/**
 * The node:http adapter (`oauthkit/node`): an `IncomingMessage` becomes a Fetch `Request` (body streamed with a cap,
 * aborted when the client goes away), a `Response` is written back to the `ServerResponse`. Built on `oauthkit/fetch`;
 * the Express and Fastify adapters are built on it.
 *
 * @module
 */
import { once } from 'node:events'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { reportAdapterError, type AdapterErrorHook } from './error-reporting.js'
import { type StoredToken } from '../types.js'
import { type FetchHandler, type ProtectedResourceServer, type RoutedFetchHandler } from './fetch.js'
import { givenBody, readBody, takenWhole } from './node-body.js'
import { BODYLESS_METHODS, byteLength, clientAddress, headerPairs, requestUrl } from './node-request.js'
import { bodyToSend, checkedCap, HttpError, PayloadTooLargeError, type HttpRequest, type HttpResponse, type Router } from './router.js'

export { clientAddress } from './node-request.js'

/** Options of {@link toFetchRequest}. */
export interface ToFetchRequestOptions {
  /** Stop reading a body larger than this many bytes (the stream fails with `PayloadTooLargeError`); default 64 KiB. */
  readonly maxBodyBytes?: number | undefined
  /**
   * Build the URL from `X-Forwarded-Proto` and `X-Forwarded-Host` (their first values) instead of the connection and
   * `Host`. Default `false`.
   *
   * **Set it only behind a proxy that overwrites these headers**: otherwise any client chooses the URI the core sees,
   * and the core relies on it for the `https` check (RFC 6749 §3.2) and the `iss` of responses.
   */
  readonly trustProxy?: boolean | undefined
  /** The response of this request: the signal also aborts when the connection closes before it was sent. */
  readonly response?: ServerResponse | undefined
  /** The request target to use instead of `req.url`, e.g. Express's `req.originalUrl` under a mount path. */
  readonly target?: string | undefined
  /** The body, when a framework already read it off the stream; the stream is then not read. */
  readonly body?: string | Uint8Array | undefined
}

/** Options of {@link createNodeHandler} and {@link handleNodeRequest}. */
export interface NodeHandlerOptions {
  /** Refuse a body larger than this many bytes (413); default 64 KiB. The fetch handler's own cap applies too. */
  readonly maxBodyBytes?: number | undefined
  /** See {@link ToFetchRequestOptions.trustProxy}; read its warning. Default `false`. */
  readonly trustProxy?: boolean | undefined
  /** Receives unexpected failures (answered 500); default `console.error`. */
  readonly onError?: AdapterErrorHook | undefined
}

export { nodeSigner } from './node-signer.js'


/**
 * Turns a node:http request into a Fetch `Request`:
 * - the absolute URL from the connection (`https` on TLS) and `Host` (or `:authority` on HTTP/2), or from
 *   `X-Forwarded-Proto`/`X-Forwarded-Host` with `trustProxy`;
 * - the headers as received, repeated ones included, HTTP/2 pseudo-headers (`:path`, …) left out;
 * - the body streamed on demand (nothing is read until someone reads it), failing with `PayloadTooLargeError` past
 *   the cap; the rest of an oversized or unread body is drained, so the answer reaches the client;
 * - a `signal` aborted when the client disconnects before the request was read (or, given `response`, before the
 *   response was sent).
 *
 * @throws {@link HttpError} (400) when the `Host` header or the request target is missing or malformed, or the
 *   request cannot be a Fetch `Request` (e.g. method `TRACE`)
 * @throws TypeError when `maxBodyBytes` is not a non-negative integer
 */
export function toFetchRequest(req: IncomingMessage, options: ToFetchRequestOptions = {}): Request {
  const maxBodyBytes = checkedCap(options.maxBodyBytes)
  const url = requestUrl(req, options.target ?? req.url, options.trustProxy === true)
  const headers = new Headers()
  for (const [name, value] of headerPairs(req.rawHeaders)) {
    try {
      headers.append(name, value)
    } catch (cause) {
      throw new HttpError(400, 'A request header is malformed', { cause })
    }
  }

  const abort = new AbortController()
  const onRequestClose = () => {
    if (!req.complete) abort.abort()
  }
  req.once('close', onRequestClose)
  const res = options.response
  if (res !== undefined) {
    res.once('close', () => {
      if (!res.writableFinished) abort.abort()
    })
  }

  const method = req.method ?? 'GET'
  let body: ReadableStream<Uint8Array> | string | Uint8Array | null = null
  if (!BODYLESS_METHODS.has(method.toUpperCase())) {
    if (options.body === undefined) body = bodyStream(req, maxBodyBytes, abort)
    else if (byteLength(options.body) > maxBodyBytes) throw new PayloadTooLargeError(maxBodyBytes)
    else body = options.body
  }
  try {
    // `duplex: 'half'` is required of a streamed body; the DOM typings do not know it yet.
    return new Request(url, { method, headers, body, signal: abort.signal, duplex: 'half' } as RequestInit)
  } catch (cause) {
    throw new HttpError(400, 'The request cannot be represented as a Fetch Request', { cause })
  }
}

/**
 * Writes a Fetch `Response` to a node:http response: status, headers (every `Set-Cookie` kept apart) and the body,
 * streamed with backpressure. Stops, without error, when the client has gone away.
 */
export async function writeResponse(res: ServerResponse, response: Response): Promise<void> {
  if (res.destroyed || res.writableEnded) {
    await response.body?.cancel().catch(() => undefined)
    return
  }
  res.statusCode = response.status
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value)
  }
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  if (response.body === null) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) {
        await reader.cancel()
        return
      }
      if (!res.write(value)) await Promise.race([once(res, 'drain'), once(res, 'close')])
    }
    res.end()
  } catch (error) {
    // Headers are gone already: the only honest way left to signal failure is to cut the connection.
    res.destroy(error instanceof Error ? error : undefined)
  }
}

/**
 * Serves one node:http request with a Fetch API handler. A handler made by `createFetchHandler` (or any
 * {@link RoutedFetchHandler}) is served through its router, straight from the request's parts, without a Fetch
 * `Request` and `Response`; any other through {@link toFetchRequest} and {@link writeResponse}. Never rejects: an
 * `HttpError` (413, 400) is answered as itself, anything else with 500 and reported to `onError`. The building block
 * of the Express and Fastify adapters.
 *
 * @param requestOptions - per-request settings: the `target` or `body` a framework already took off the request
 */
export async function handleNodeRequest(
  fetchHandler: FetchHandler | RoutedFetchHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeHandlerOptions = {},
  requestOptions: Pick<ToFetchRequestOptions, 'target' | 'body'> = {},
): Promise<void> {
  if ('router' in fetchHandler) return serveRouter(fetchHandler.router, req, res, { ...options, ...requestOptions })
  return serveFetch(fetchHandler, req, res, options, requestOptions)
}

/** Serves a request through a Fetch API handler, with a Fetch `Request` and `Response`. */
async function serveFetch(
  fetchHandler: FetchHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeHandlerOptions,
  requestOptions: Pick<ToFetchRequestOptions, 'target' | 'body'>,
): Promise<void> {
  let request: Request | undefined
  try {
    request = toFetchRequest(req, { ...requestOptions, maxBodyBytes: options.maxBodyBytes, trustProxy: options.trustProxy, response: res })
    await writeResponse(res, await fetchHandler(request))
  } catch (error) {
    if (!(error instanceof HttpError) && request?.signal.aborted !== true) reportAdapterError(options.onError, error, request)
    await writeFailure(res, error)
  } finally {
    // Whatever the handler left unread is drained, so the client gets the answer and the connection can be reused.
    if (!req.readableEnded && !req.destroyed) req.resume()
  }
}

/**
 * A node:http request listener serving a Fetch API handler, for `http.createServer(createNodeHandler(handler))`.
 * Never throws: 413 past the body cap, 400 for a malformed `Host`, 500 (reported to `onError`) on an unexpected
 * failure. A handler made by `createFetchHandler` is served through its router, without a Fetch `Request` and
 * `Response` (see {@link handleNodeRequest}).
 *
 * @throws TypeError when `maxBodyBytes` is not a non-negative integer
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * createServer(createNodeHandler(createFetchHandler(server))).listen(3000, '127.0.0.1')
 * ```
 */
export function createNodeHandler(fetchHandler: FetchHandler | RoutedFetchHandler, options: NodeHandlerOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  checkedCap(options.maxBodyBytes)
  if ('router' in fetchHandler) {
    const router = fetchHandler.router
    return (req, res) => {
      void serveRouter(router, req, res, options)
    }
  }
  return (req, res) => {
    void serveFetch(fetchHandler, req, res, options, {})
  }
}

/** Options of {@link serveRouter}: the listener's, and what this request's transport knows. */
export interface ServeRouterOptions extends NodeHandlerOptions, Pick<ToFetchRequestOptions, 'target' | 'body'> {
  /** The client's address; default the socket's. */
  readonly remoteAddress?: string | undefined
}

/**
 * Serves one node:http request with a {@link Router}: the request's parts become an {@link HttpRequest} (the body
 * read with the smaller of both caps), the router's answer is written to `res`. Never rejects.
 */
export async function serveRouter(router: Router, req: IncomingMessage, res: ServerResponse, options: ServeRouterOptions = {}): Promise<void> {
  try {
    const request = new NodeRequest(req, res, options)
    writeHttpResponse(res, await router.handle(request), request.method)
  } catch (error) {
    // Only the translation or the write can throw here: the router answers every failure of a route itself.
    if (!(error instanceof HttpError) && !res.destroyed) reportAdapterError(options.onError, error, undefined)
    await writeFailure(res, error)
  } finally {
    // Whatever the route left unread is drained, so the client gets the answer and the connection can be reused; a
    // body taken whole leaves nothing to drain.
    if (!req.readableEnded && !req.destroyed && !takenWhole(req)) req.resume()
  }
}

/**
 * The router's view of a node:http request: the absolute URI (see {@link toFetchRequest}), the method, the headers as
 * received, and the body read on demand.
 */
class NodeRequest implements HttpRequest {
  readonly url: URL
  readonly method: string
  readonly headers: Array<[string, string]>
  readonly remoteAddress: string | undefined
  readonly #req: IncomingMessage
  readonly #res: ServerResponse
  readonly #nodeCap: number
  readonly #givenBody: string | Uint8Array | undefined

  /** @throws {@link HttpError} (400) when the `Host` header or the request target is missing or malformed */
  constructor(req: IncomingMessage, res: ServerResponse, options: ServeRouterOptions) {
    this.url = requestUrl(req, options.target ?? req.url, options.trustProxy === true)
    this.method = req.method ?? 'GET'
    this.headers = headerPairs(req.rawHeaders)
    this.#nodeCap = checkedCap(options.maxBodyBytes)
    this.remoteAddress = options.remoteAddress ?? clientAddress(req, options.trustProxy === true)
    this.#req = req
    this.#res = res
    this.#givenBody = options.body
  }

  readBody(routerCap: number): Promise<string | undefined> {
    if (BODYLESS_METHODS.has(this.method.toUpperCase())) return Promise.resolve(undefined)
    const cap = Math.min(this.#nodeCap, routerCap)
    if (this.#givenBody === undefined) return readBody(this.#req, cap)
    try {
      return Promise.resolve(givenBody(this.#givenBody, cap))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  aborted(): boolean {
    return this.#res.destroyed || (this.#req.destroyed && !this.#req.complete)
  }

  toRequest(): Request | undefined {
    try {
      return new Request(this.url, { method: this.method, headers: new Headers(this.headers) })
    } catch {
      return undefined
    }
  }
}

/** Options of {@link bearerGuard}. */
export interface BearerGuardOptions {
  /** See {@link ToFetchRequestOptions.trustProxy}; read its warning. Default `false`. */
  readonly trustProxy?: boolean | undefined
  /** Receives unexpected failures (answered 500); default `console.error`. */
  readonly onError?: AdapterErrorHook | undefined
}

/**
 * Guards node:http handlers (and Express or Fastify routes, through their `req.raw`/`res`) with a Bearer access
 * token, without a Fetch `Request` and `Response`: `await guard(req, res)` resolves to the token when the request
 * carries a valid, unexpired one granting every scope in `scopes`; otherwise the guard has answered with the RFC 6750
 * §3 challenge (401 or 403 with `WWW-Authenticate: Bearer …`, or 400 for a malformed request) and resolves to
 * `undefined`. The token is read from the `Authorization` header (§2.1) and the query; the body is left unread for
 * the handler, so a token in a form body (§2.2) is not seen: use `protectedResource` of `oauthkit/fetch` for that.
 *
 * @param scopes - every scope the handler needs
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
 * @example
 * ```ts
 * const guard = bearerGuard(server, ['profile'])
 * createServer(async (req, res) => {
 *   const token = await guard(req, res)
 *   if (token === undefined) return
 *   res.setHeader('Content-Type', 'application/json').end(JSON.stringify({ sub: token.user?.userId }))
 * })
 * ```
 */
export function bearerGuard(
  server: ProtectedResourceServer,
  scopes: readonly string[],
  options: BearerGuardOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<StoredToken | undefined> {
  const trustProxy = options.trustProxy === true
  return async (req, res) => {
    try {
      const method = req.method ?? 'GET'
      const result = await server.validateProtectedResourceRequest(requestUrl(req, req.url, trustProxy).href, method, undefined, headerPairs(req.rawHeaders), scopes)
      if (result.valid) return result.token
      writeHttpResponse(res, result.response, method)
    } catch (error) {
      if (!(error instanceof HttpError) && !res.destroyed) reportAdapterError(options.onError, error, undefined)
      await writeFailure(res, error)
    }
    return undefined
  }
}

/**
 * Writes a router's answer: status, headers (each cookie as a `Set-Cookie` of its own), and the body unless the
 * status or a `HEAD` request has none. A text body without a type is sent as `text/plain;charset=UTF-8`, as a Fetch
 * `Response` would send it; `Content-Length` is always the body's own.
 */
function writeHttpResponse(res: ServerResponse, response: HttpResponse, method: string): void {
  if (res.destroyed || res.writableEnded) return
  const body = bodyToSend(response, method)
  // Names and values in one flat list, as `writeHead` takes them: status and headers in one call, cookies repeated.
  const headers: string[] = []
  let typed = res.hasHeader('content-type')
  for (const [name, value] of Object.entries(response.headers)) {
    const lower = name.toLowerCase()
    if (lower === 'content-length') continue
    if (lower === 'content-type') typed = true
    headers.push(name, value)
  }
  for (const cookie of response.cookies ?? []) headers.push('Set-Cookie', cookie)
  if (response.body !== '' && !typed) headers.push('Content-Type', 'text/plain;charset=UTF-8')
  if (body !== undefined) headers.push('Content-Length', String(Buffer.byteLength(body)))
  res.writeHead(response.status, headers)
  res.end(body)
}

/** Answers a failure if the response has not started; otherwise cuts the connection. */
async function writeFailure(res: ServerResponse, error: unknown): Promise<void> {
  if (res.headersSent) {
    res.destroy()
    return
  }
  // Headers a failed write left behind belong to another answer.
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  const response = error instanceof HttpError ? error.toResponse() : new HttpError(500, 'The server failed to handle the request').toResponse()
  await writeResponse(res, response)
}

/** The body as a pull-based stream: nothing is read from `req` until the consumer asks. */
function bodyStream(req: IncomingMessage, maxBodyBytes: number, abort: AbortController): ReadableStream<Uint8Array> {
  let size = 0
  let listening = false
  const detach = () => {
    req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
  }
  // The rest of the body is read and dropped, so the response can still reach a client that is sending it.
  const drain = () => {
    detach()
    if (!req.destroyed) req.resume()
  }
  let controller!: ReadableStreamDefaultController<Uint8Array>
  const onData = (chunk: Uint8Array) => {
    size += chunk.byteLength
    if (size > maxBodyBytes) {
      drain()
      controller.error(new PayloadTooLargeError(maxBodyBytes))
      return
    }
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
    if ((controller.desiredSize ?? 0) <= 0) req.pause()
  }
  const onEnd = () => {
    detach()
    controller.close()
  }
  const onError = (error: Error) => {
    detach()
    abort.abort()
    controller.error(error)
  }
  const onClose = () => {
    // Closed before the end: the client went away mid-body.
    detach()
    abort.abort()
    controller.error(new Error('The client closed the connection before the request body ended'))
  }
  return new ReadableStream<Uint8Array>(
    {
      start(streamController) {
        controller = streamController
      },
      pull() {
        if (!listening) {
          listening = true
          // Destroyed before anyone read it: the client went away while the handler was busy.
          if (req.destroyed) {
            abort.abort()
            controller.error(new Error('The client closed the connection before the request body was read'))
            return
          }
          const declared = Number(req.headers['content-length'] ?? Number.NaN)
          if (declared > maxBodyBytes) {
            drain()
            controller.error(new PayloadTooLargeError(maxBodyBytes))
            return
          }
          req.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose)
        }
        req.resume()
      },
      cancel() {
        drain()
      },
    },
    // No read-ahead: the body stays on the socket until the handler asks for it.
    { highWaterMark: 0 },
  )
}
