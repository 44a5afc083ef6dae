/**
 * Cross-origin access (the Fetch standard's CORS protocol) for the endpoints a client running in a browser calls: the
 * metadata document, the JWKS, the token, revocation and registration endpoints. A single-page app or an MCP client
 * in a web page redeems its code and refreshes its tokens from another origin; without these headers the browser
 * hides every answer from it.
 *
 * The answers allow any origin (`*`) and never credentials (`Access-Control-Allow-Credentials` is not sent): these
 * endpoints authenticate clients by what the request carries (`Authorization`, the body), never by cookies, so no
 * origin gains anything a `curl` would not. The pages, `/authorize` (a top-level navigation, not a fetch) and
 * `/introspect` (for resource servers, not browsers) get no CORS headers.
 *
 * @see {@link https://fetch.spec.whatwg.org/#http-cors-protocol | Fetch §3.2 The CORS protocol}
 * @module
 */
import { HttpError, type HttpResponse, type Route, type RouteRequest } from './router.js'

/** The request headers a browser client may send: client authentication, forms and JSON, DPoP proofs, MCP's version. */
const ALLOWED_HEADERS = 'Authorization, Content-Type, DPoP, MCP-Protocol-Version'
/** Response headers a browser client may read beyond the safelisted ones: the challenge of a 401. */
const EXPOSED_HEADERS = 'WWW-Authenticate'
/** What every answer of a CORS-open route carries. */
const ANSWER_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSED_HEADERS })
/** How long a browser may cache a preflight's answer: two hours (Chromium's own cap). */
const PREFLIGHT_MAX_AGE_SECONDS = 7200

/**
 * `route` open to browser clients of any origin: a preflight (`OPTIONS`) is answered 204 with the methods and headers
 * allowed, and every other answer, errors included, carries `Access-Control-Allow-Origin: *`.
 *
 * @param methods - the methods the route serves, e.g. `['POST']`
 */
export function withCors(route: Route, methods: readonly string[]): Route {
  const allowMethods = methods.join(', ')
  return async (request) => {
    let response: HttpResponse
    try {
      response = request.method === 'OPTIONS' ? await preflight(request, allowMethods) : await route(request)
    } catch (error) {
      // A body over the cap, or another failure at the HTTP level: the browser client is shown its problem too.
      if (!(error instanceof HttpError)) throw error
      response = error.toHttpResponse()
    }
    if (request.method === 'OPTIONS' && response.status === 204) return response
    // One copy of the headers and no spread of the response: this wraps the ready server's token endpoint.
    return { status: response.status, headers: Object.assign({}, response.headers, ANSWER_HEADERS), body: response.body, cookies: response.cookies }
  }
}

/** The answer to a preflight: the methods and headers allowed, for any origin, cacheable for a while. */
async function preflight(request: RouteRequest, allowMethods: string): Promise<HttpResponse> {
  // A preflight has no body; one that comes with a body is read all the same, so that the cap holds (413) and a
  // keep-alive connection is left at the start of the next request.
  await request.body()
  return {
    status: 204,
    headers: {
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Allow-Methods': allowMethods,
      'Access-Control-Allow-Headers': ALLOWED_HEADERS,
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
      Allow: `${allowMethods}, OPTIONS`,
    },
    body: '',
  }
}
