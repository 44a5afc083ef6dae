/**
 * What every endpoint shares: the error hook and the rule that a create-style call never rejects.
 *
 * @module
 */
import { InvalidRequestError, OAuth2Error, ServerError } from '../core/errors.js'
import { normalizeMethod, parseRequest, requestProtocol, type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { errorResponse, type OAuth2Response } from '../core/response.js'

/**
 * Receives every error an endpoint answers with a 5xx status (`server_error`, `temporarily_unavailable`), with the
 * original exception, for logging and alerting. `request` is absent when the request could not be parsed. The
 * default writes to `console.error`. An exception thrown by the hook is ignored.
 */
export type ErrorHook = (error: unknown, request: OAuth2Request | undefined) => void

/** Options every endpoint accepts. */
export interface EndpointOptions {
  /** Receives unexpected errors; see {@link ErrorHook}. */
  readonly onError?: ErrorHook | undefined
}

const defaultErrorHook: ErrorHook = (error) => {
  console.error('oauthkit: request failed with a server error', error)
}

/**
 * What a create-style call ended with: the response to send, the request as parsed (`undefined` when it could not be),
 * and the `OAuth2Error` the response was made from, if it is an error response. Hooks learn the outcome from this,
 * never by reading the response body again.
 */
export interface EndpointAnswer {
  readonly response: OAuth2Response
  readonly request: OAuth2Request | undefined
  readonly error: OAuth2Error | undefined
}

/**
 * Runs a create-style call: `parse` turns the raw request into an `OAuth2Request`, `handle` answers it. Every
 * exception becomes an RFC error response: an `OAuth2Error` its own, anything else (a validator failure, a bug) a
 * generic `server_error`; 5xx errors go to `onError` with the request, when it was parsed. Never rejects.
 */
export async function answerRequest(
  onError: ErrorHook | undefined,
  parse: () => OAuth2Request,
  handle: (request: OAuth2Request) => Promise<OAuth2Response>,
): Promise<EndpointAnswer> {
  let request: OAuth2Request | undefined
  try {
    request = parse()
    return { response: await handle(request), request, error: undefined }
  } catch (caught) {
    const error = caught instanceof OAuth2Error ? caught : new ServerError({ cause: caught })
    if (error.status >= 500) reportError(onError, caught, request)
    return { response: errorResponse(error), request, error }
  }
}

/** {@link answerRequest}, for callers that need only the response. Never rejects. */
export async function respondWithErrors(
  onError: ErrorHook | undefined,
  parse: () => OAuth2Request,
  handle: (request: OAuth2Request) => Promise<OAuth2Response>,
): Promise<OAuth2Response> {
  return (await answerRequest(onError, parse, handle)).response
}

/** Passes an unexpected error to the `onError` hook (default `console.error`); the hook's own failure is ignored. */
export function reportError(onError: ErrorHook | undefined, error: unknown, request: OAuth2Request | undefined): void {
  try {
    ;(onError ?? defaultErrorHook)(error, request)
  } catch {
    // The hook's own failure must not turn an error response into a rejection.
  }
}

/** How {@link parsePostRequest} describes the endpoint in its errors. */
export interface PostEndpoint {
  /** The endpoint's name in error descriptions, e.g. `revocation`. */
  readonly name: string
  /** The section that requires POST, e.g. `RFC 7009 section 2.1`. */
  readonly citation: string
  /** Accept non-`https:` URIs (loopback development and tests). */
  readonly allowInsecureTransport: boolean
  /** Extra data the application passed, for `request.credentials`. */
  readonly credentials?: Readonly<Record<string, unknown>> | undefined
}

/**
 * Parses a request to an endpoint that receives credentials in a form body (token, revocation, introspection):
 * POST only (405 with `Allow: POST` otherwise), parameters from the body only (RFC 6749 §2.3.1: never the URI), and
 * TLS required (RFC 6749 §3.2, RFC 7009 §2, RFC 7662 §4) unless `allowInsecureTransport`.
 *
 * @throws {@link InvalidRequestError} for the wrong method, a malformed request or a non-TLS URI
 */
export function parsePostRequest(
  uri: RequestUri,
  httpMethod: string,
  body: RequestBody | undefined,
  headers: RequestHeaders | undefined,
  endpoint: PostEndpoint,
): OAuth2Request {
  if (normalizeMethod(httpMethod) !== 'POST') {
    throw new InvalidRequestError(`The ${endpoint.name} endpoint accepts POST only (${endpoint.citation})`, { status: 405, headers: { Allow: 'POST' } })
  }
  const request = parseRequest(uri, httpMethod, body, headers, { source: 'body', credentials: endpoint.credentials })
  if (requestProtocol(request) !== 'https:' && !endpoint.allowInsecureTransport) {
    throw new InvalidRequestError(`The ${endpoint.name} endpoint requires TLS (https)`)
  }
  return request
}
