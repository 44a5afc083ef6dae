/**
 * What every create-style call returns: status, headers and body, ready for any HTTP framework to write out.
 *
 * @module
 */
import { type OAuth2Error } from './errors.js'

/** An HTTP response computed by an endpoint. The core never writes it anywhere; an adapter or the application does. */
export interface OAuth2Response {
  /** The HTTP status code. */
  readonly status: number
  /** Response headers, names in their canonical case. */
  readonly headers: Readonly<Record<string, string>>
  /** The response body: JSON text for token and error responses, empty when there is none. */
  readonly body: string
}

/**
 * A JSON response that must not be cached (token responses and their errors), with the headers of every response
 * that carries tokens or credentials, and `headers` added to them.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.1 | RFC 6749 §5.1}
 */
export function noStoreJsonResponse(status: number, body: object, headers?: Readonly<Record<string, string>>): OAuth2Response {
  const all: Record<string, string> = { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' }
  if (headers !== undefined) Object.assign(all, headers)
  return { status, headers: all, body: JSON.stringify(body) }
}

/**
 * The JSON error response of RFC 6749 §5.2 for `error`, with the headers it needs (`WWW-Authenticate`, `Allow`, …).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export function errorResponse(error: OAuth2Error): OAuth2Response {
  return noStoreJsonResponse(error.status, error.toResponseBody(), error.headers)
}
