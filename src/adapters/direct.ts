/**
 * The direct path between `createFetchHandler` and the node:http adapter: the same routing, body cap and failure
 * handling as the Fetch handler, without building a Fetch `Request` and `Response` for each request. Those two
 * objects (with their web streams and abort signals) cost about half of a token request's CPU on Node; the node:http
 * adapter has the method, target, headers and body at hand already.
 *
 * Not part of the public API: a handler made by `createFetchHandler` carries its direct counterpart, found here by the
 * node:http adapter; any other Fetch handler is served through `Request` and `Response` as before.
 *
 * @module
 * @internal
 */
import { type RequestHeaders } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'

/** A request as the node:http adapter hands it over, read lazily. */
export interface DirectRequest {
  /**
   * The absolute request URI, as `toFetchRequest` would have built it, as text: the core parses it only if it needs
   * more than its scheme (see `httpScheme` in core/request.ts).
   */
  readonly href: string
  /** The URL's pathname, as `new URL(href).pathname` gives it. */
  readonly pathname: string
  /** The HTTP method as received. */
  readonly method: string
  /** The client's address, when the transport knows it (behind a trusted proxy, the one the proxy saw). */
  readonly remoteAddress?: string | undefined
  /** The headers as received, repeated ones kept apart. */
  readonly headers: RequestHeaders
  /** Reads the body as UTF-8 text within `maxBodyBytes` (the smaller of both caps applies); `undefined` for GET/HEAD. */
  readBody(maxBodyBytes: number): Promise<string | undefined>
  /** The request as a Fetch `Request` (without its body), for an error report; built only when one is made. */
  toRequest(): Request | undefined
  /** Whether the client went away: a failure is then nobody's to see, and not reported. */
  aborted(): boolean
}

/**
 * What a `createFetchHandler` handler does for a {@link DirectRequest}: the core's response, never a rejection; or
 * `undefined`, decided before reading the body, for a request it leaves to the Fetch handler.
 */
export type DirectHandler = (request: DirectRequest) => Promise<OAuth2Response | undefined>

const directHandlers = new WeakMap<object, DirectHandler>()

/** Records `direct` as the counterpart of the Fetch handler `handler`. */
export function setDirectHandler(handler: object, direct: DirectHandler): void {
  directHandlers.set(handler, direct)
}

/** The direct counterpart of a Fetch handler made by `createFetchHandler`, if it is one. */
export function directHandlerOf(handler: object): DirectHandler | undefined {
  return directHandlers.get(handler)
}

/**
 * The body a core response is sent with: none for 204, 205 and 304, nor to a `HEAD` request (whose headers stay), nor
 * when it is empty.
 */
export function bodyToSend(response: OAuth2Response, requestMethod: string | undefined): string | undefined {
  const bodyless = response.status === 204 || response.status === 205 || response.status === 304 || requestMethod?.toUpperCase() === 'HEAD'
  return bodyless || response.body === '' ? undefined : response.body
}
