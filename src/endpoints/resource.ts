/**
 * The resource endpoint: protects resources with Bearer access tokens (RFC 6750).
 *
 * @module
 */
import { InsufficientScopeError, InvalidRequestError, InvalidTokenError, OAuth2Error, ServerError } from '../core/errors.js'
import { parseRequest, requestQuery, type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { errorResponse, noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { isSubsetOf, parseScope, scopeToString } from '../core/scope.js'
import { isSignedTokenFormat, signedTokenVerifier, type SignedTokenVerificationOptions, type SignedTokenVerifier } from '../tokens/signed-token-verification.js'
import { isExpired, type RequestValidator } from '../validator.js'
import { type StoredToken, type User } from '../types.js'
import { reportError, type EndpointOptions } from './base.js'

/**
 * What a protected resource request check answers: the token when access is granted, or the error and the response
 * to send. oauthlib returns `(valid, request)` and writes the token's owner, client and scopes onto the request;
 * an {@link OAuth2Request} is immutable, so here they travel as `token`.
 *
 * @typeParam U - the application's user type
 */
export type ProtectedResourceResult<U extends User = User> =
  | {
      readonly valid: true
      /**
       * The parsed request. Its `params` are the form body's when RFC 6750 §2.2 lets the body carry the token
       * (a `POST`, `PUT` or `PATCH` form), the query's otherwise.
       */
      readonly request: OAuth2Request
      /** The access token: its client (`clientId`), resource owner (`user`) and `scopes`. */
      readonly token: StoredToken<U>
    }
  | {
      readonly valid: false
      /** The parsed request; `undefined` when the request could not be parsed. */
      readonly request: OAuth2Request | undefined
      /**
       * Why access is refused. When the request carried no access token this is an `InvalidTokenError`, but the
       * response leaves the error code out, as RFC 6750 §3.1 asks.
       */
      readonly error: OAuth2Error
      /** The response to send: status, `WWW-Authenticate` challenge and JSON error body. */
      readonly response: OAuth2Response
    }

/** Options of {@link ResourceEndpoint}. */
export interface ResourceEndpointOptions extends EndpointOptions {
  /**
   * Looks up tokens with {@link RequestValidator.validateBearerToken}. Needed unless every token is a JWT verified
   * with {@link ResourceEndpointOptions.jwt}.
   */
  readonly requestValidator?: RequestValidator | undefined
  /**
   * The `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3, RFC 7235 §2.2). Left out of the challenge when
   * absent. Printable ASCII without `"` and `\`.
   */
  readonly realm?: string | undefined
  /**
   * The URL of this resource's metadata document (RFC 9728 §3.1, see `protectedResourceMetadataUrl`), named in every
   * challenge as `resource_metadata` (RFC 9728 §5.1), so that a client finds the authorization server to ask.
   */
  readonly resourceMetadata?: string | undefined
  /**
   * Accept the token in the `access_token` query parameter (RFC 6750 §2.3). Default `false`: a token in the URI
   * ends up in logs and browser history, and is refused with `invalid_request`. When enabled, answer successful
   * requests with `Cache-Control: private` (RFC 6750 §2.3).
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-5.3 | RFC 6750 §5.3}
   */
  readonly allowQueryToken?: boolean | undefined
  /**
   * Verify signed JWT access tokens (RFC 9068) locally, with the authorization server's public key, instead of asking
   * the validator. A token of JWS compact form is then never passed to the validator, and stays valid until its
   * `exp` even if revoked. See {@link signedTokenVerifier}.
   */
  readonly jwt?: SignedTokenVerificationOptions | undefined
}

/**
 * Settings of the shared protected-resource check: what {@link ResourceEndpoint} and `BearerTokenValidator` both
 * configure.
 *
 * @internal
 */
export interface ResourceProtection extends EndpointOptions {
  readonly realm?: string | undefined
  readonly resourceMetadata?: string | undefined
  readonly allowQueryToken?: boolean | undefined
}

/**
 * Looks up the token found in a request and checks it, throwing `InvalidTokenError` or `InsufficientScopeError`.
 *
 * @internal
 */
export type AccessTokenCheck<U extends User = User> = (token: string, scopes: readonly string[], request: OAuth2Request) => Promise<StoredToken<U>>

/**
 * The resource endpoint (oauthlib's `ResourceEndpoint`): finds the Bearer token of a protected resource request
 * (RFC 6750 §2), checks it with the validator or, for a JWT, locally (RFC 9068 §4), checks its expiry and scopes,
 * and on failure builds the `WWW-Authenticate` challenge of RFC 6750 §3.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2 | RFC 6750 §2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
 * @throws TypeError from the constructor when neither `requestValidator` nor `jwt` is given, or an option is malformed
 * @example
 * ```ts
 * const resource = new ResourceEndpoint({ requestValidator, realm: 'api' })
 * const result = await resource.validateProtectedResourceRequest(url, 'GET', undefined, headers, ['read'])
 * if (!result.valid) return send(result.response)
 * ```
 */
export class ResourceEndpoint {
  private readonly requestValidator: RequestValidator | undefined
  private readonly verifySignedToken: SignedTokenVerifier | undefined
  private readonly protection: ResourceProtection
  private readonly check: AccessTokenCheck

  constructor(options: ResourceEndpointOptions) {
    if (options.requestValidator === undefined && options.jwt === undefined) {
      throw new TypeError('ResourceEndpoint needs a requestValidator, jwt options, or both')
    }
    assertRealm(options.realm)
    assertResourceMetadata(options.resourceMetadata)
    this.requestValidator = options.requestValidator
    this.verifySignedToken = options.jwt === undefined ? undefined : signedTokenVerifier(options.jwt)
    this.protection = options
    this.check = async (token, scopes, request) => checkStoredToken(await this.findToken(token, scopes, request), scopes)
  }

  /**
   * Checks a protected resource request: exactly one Bearer token (header, form body, or query when allowed),
   * valid, unexpired, an access token, and granting every scope in `scopes`. Never rejects: an exception from the
   * validator gives `valid: false` with a 500 `server_error` response, and goes to `onError`.
   *
   * @param uri - the absolute request URI
   * @param httpMethod - the HTTP method; a token in the form body is read only for POST, PUT and PATCH (RFC 6750 §2.2)
   * @param body - the request body; read only when it is `application/x-www-form-urlencoded`
   * @param headers - request headers, names in any case
   * @param scopes - the scopes the resource requires; each an RFC 6749 §3.3 scope token
   * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-2 | RFC 6750 §2}
   * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 | RFC 6750 §3.1}
   */
  validateProtectedResourceRequest(
    uri: RequestUri,
    httpMethod = 'GET',
    body?: RequestBody,
    headers?: RequestHeaders,
    scopes: readonly string[] = [],
  ): Promise<ProtectedResourceResult> {
    return validateProtectedResource(this.protection, this.check, uri, httpMethod, body, headers, scopes)
  }

  private async findToken(token: string, scopes: readonly string[], request: OAuth2Request): Promise<StoredToken | undefined> {
    // RFC 9068 §4: a JWT access token is checked by its signature and claims, without a round trip.
    if (this.verifySignedToken !== undefined && isSignedTokenFormat(token)) return this.verifySignedToken(token)
    if (this.requestValidator === undefined) return undefined
    return this.requestValidator.validateBearerToken(token, scopes, request)
  }
}

/**
 * Checks what oauthkit checks itself of a token the validator found: that it was found, is an access token, has not
 * expired, and grants every required scope.
 *
 * @internal
 * @throws {@link InvalidTokenError} when the token is unknown, a refresh token, or expired
 * @throws {@link InsufficientScopeError} when a required scope is missing
 */
export function checkStoredToken<U extends User>(token: StoredToken<U> | undefined, scopes: readonly string[]): StoredToken<U> {
  if (token === undefined) throw new InvalidTokenError('The access token is unknown, revoked or malformed')
  // A refresh token is a credential for the token endpoint only (RFC 6749 §1.5), never for a resource.
  if (token.tokenType !== 'access_token') throw new InvalidTokenError('The token is not an access token')
  if (isExpired(token.expiresAt)) throw new InvalidTokenError('The access token expired')
  if (!isSubsetOf(scopes, token.scopes)) {
    throw new InsufficientScopeError('The access token does not grant the scope this resource requires')
  }
  return token
}

/**
 * The protected-resource check shared by {@link ResourceEndpoint} and `BearerTokenValidator`: parses the request,
 * finds the token (RFC 6750 §2), runs `check` on it, and turns every failure into a result with its response
 * (RFC 6750 §3). Never rejects.
 *
 * @internal
 */
export async function validateProtectedResource<U extends User>(
  protection: ResourceProtection,
  check: AccessTokenCheck<U>,
  uri: RequestUri,
  httpMethod = 'GET',
  body?: RequestBody,
  headers?: RequestHeaders,
  scopes: readonly string[] = [],
): Promise<ProtectedResourceResult<U>> {
  let request: OAuth2Request | undefined
  try {
    // The required scopes come from the application and go into the challenge: a bad one is a bug, not a 4xx.
    assertScopes(scopes)
    request = parseResourceRequest(uri, httpMethod, body, headers)
    const token = findAccessToken(request, protection.allowQueryToken ?? false)
    if (token === undefined) {
      // RFC 6750 §3.1: a request without any authentication gets the challenge but no error code.
      const error = new InvalidTokenError('The request carries no access token')
      return { valid: false, request, error, response: unauthenticatedResponse(protection, scopes) }
    }
    return { valid: true, request, token: await check(token, scopes, request) }
  } catch (caught) {
    const error = caught instanceof OAuth2Error ? caught : new ServerError({ cause: caught })
    if (error.status >= 500) reportError(protection.onError, caught, request)
    return { valid: false, request, error, response: bearerErrorResponse(error, protection, scopes) }
  }
}

/**
 * Throws a `TypeError` unless `url` is an absolute http(s) URL that fits a quoted-string of the challenge.
 *
 * @internal
 */
export function assertResourceMetadata(url: string | undefined): void {
  if (url === undefined) return
  if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol) || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(url)) {
    throw new TypeError('resourceMetadata must be the absolute http(s) URL of the metadata document (RFC 9728 section 3.1)')
  }
}

/**
 * Throws a `TypeError` unless `realm` fits a quoted-string of the challenge without escaping.
 *
 * @internal
 */
export function assertRealm(realm: string | undefined): void {
  // RFC 7235 §2.2: realm is a quoted-string; keeping to printable ASCII without `"` and `\` needs no escaping.
  if (realm !== undefined && (typeof realm !== 'string' || !/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/.test(realm))) {
    throw new TypeError('realm must be printable ASCII without double quotes or backslashes')
  }
}

function assertScopes(scopes: readonly string[]): void {
  if (!Array.isArray(scopes)) throw new TypeError('scopes must be an array of scope tokens')
  if (scopes.length === 0) return
  try {
    if (parseScope(scopeToString(scopes)).length === scopes.length) return
  } catch {
    // reported below
  }
  throw new TypeError('scopes must be distinct RFC 6749 section 3.3 scope tokens')
}

// Methods whose request body has defined semantics (RFC 9110 §9.3); RFC 6750 §2.2 forbids the body method with GET.
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH'])
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded'

/**
 * Parses the request. Its parameters come from the form body when RFC 6750 §2.2 allows a token there, and from the
 * query otherwise, so that an API request with a JSON body is never refused for its content type. The parser needs
 * the source up front and only the normalized headers tell which, so a form request is parsed a second time.
 */
function parseResourceRequest(uri: RequestUri, httpMethod: string, body: RequestBody | undefined, headers: RequestHeaders | undefined): OAuth2Request {
  const probe = parseRequest(uri, httpMethod, undefined, headers, { source: 'query' })
  return mayCarryBodyToken(probe) ? parseRequest(uri, httpMethod, body, headers, { source: 'body' }) : probe
}

/**
 * RFC 6750 §2.2: the body may carry the token only when it is single-part `application/x-www-form-urlencoded` and
 * the method gives a body meaning.
 */
function mayCarryBodyToken(request: OAuth2Request): boolean {
  const mediaType = request.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase()
  return mediaType === FORM_MEDIA_TYPE && BODY_METHODS.has(request.httpMethod)
}

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 7235 §2.1).
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i
const BEARER_SCHEME = /^Bearer(?:[ \t]|$)/i

/** The one access token of the request, `undefined` when it carries none. */
function findAccessToken(request: OAuth2Request, allowQueryToken: boolean): string | undefined {
  const header = fromAuthorizationHeader(request.headers.get('authorization'))
  const body = fromFormBody(request)
  const query = fromQuery(requestQuery(request))
  const sent = [header, body, query].filter((found) => found !== undefined)
  // RFC 6750 §2: clients MUST NOT use more than one method to transmit the token in each request.
  if (sent.length > 1) throw new InvalidRequestError('The access token was sent by more than one method (RFC 6750 section 2)')
  if (query !== undefined && !allowQueryToken) {
    throw new InvalidRequestError('This resource does not accept the access token in the URI query (RFC 6750 section 2.3)')
  }
  return sent[0]
}

function fromAuthorizationHeader(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  // HTTP strips optional whitespace around a field value (RFC 9110 §5.5); an adapter may not have.
  const value = authorization.replace(/^[ \t]+|[ \t]+$/g, '')
  const match = BEARER_CREDENTIALS.exec(value)
  if (match !== null) return match[1]
  // Another scheme (Basic, DPoP, …) is no Bearer token; a Bearer header without a b64token is malformed.
  if (BEARER_SCHEME.test(value)) throw new InvalidRequestError('The Authorization header must be Bearer followed by one b64token (RFC 6750 section 2.1)')
  return undefined
}

function fromFormBody(request: OAuth2Request): string | undefined {
  // Only a request parsed from its form body has its access_token in the body; otherwise params are the query's.
  if (!mayCarryBodyToken(request)) return undefined
  if (request.repeated.has('access_token')) throw new InvalidRequestError('access_token is repeated (RFC 6750 section 2.2)')
  return request.params.get('access_token')
}

function fromQuery(query: URLSearchParams | undefined): string | undefined {
  if (query === undefined) return undefined
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  const values = query.getAll('access_token').filter((value) => value !== '')
  if (values.length > 1) throw new InvalidRequestError('access_token is repeated (RFC 6750 section 2.3)')
  return values[0]
}

/**
 * The `WWW-Authenticate` challenge of RFC 6750 §3: `realm`, `scope`, then `error`, `error_description` and
 * `error_uri` when there is an error code. Every value is a quoted-string needing no escaping: the realm and scopes
 * were checked, and error descriptions and URIs are limited to the characters of RFC 6749 §5.2.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3 | RFC 6750 §3}
 */
function bearerChallenge(protection: ResourceProtection, scopes: readonly string[], error: OAuth2Error | undefined): string {
  const params: string[] = []
  if (protection.realm !== undefined) params.push(`realm="${protection.realm}"`)
  // RFC 9728 §5.1: where the client learns which authorization server to ask.
  if (protection.resourceMetadata !== undefined) params.push(`resource_metadata="${protection.resourceMetadata}"`)
  if (scopes.length > 0) params.push(`scope="${scopeToString(scopes)}"`)
  if (error !== undefined) {
    params.push(`error="${error.error}"`, `error_description="${error.description}"`)
    if (error.uri !== undefined) params.push(`error_uri="${error.uri}"`)
  }
  return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`
}

function unauthenticatedResponse(protection: ResourceProtection, scopes: readonly string[]): OAuth2Response {
  // No body, so no Content-Type; still never cached, like every answer about credentials.
  return {
    status: 401,
    headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'WWW-Authenticate': bearerChallenge(protection, scopes, undefined) },
    body: '',
  }
}

// The error codes RFC 6750 §3.1 defines; they are answered with a Bearer challenge.
const BEARER_ERRORS = new Set<string>(['invalid_request', 'invalid_token', 'insufficient_scope'])

function bearerErrorResponse(error: OAuth2Error, protection: ResourceProtection, scopes: readonly string[]): OAuth2Response {
  // Other errors (server_error, temporarily_unavailable) are not about the credentials: no challenge.
  if (!BEARER_ERRORS.has(error.error)) return errorResponse(error)
  return noStoreJsonResponse(error.status, error.toResponseBody(), {
    ...error.headers,
    'WWW-Authenticate': bearerChallenge(protection, scopes, error),
  })
}
