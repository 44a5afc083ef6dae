/**
 * The token introspection endpoint (RFC 7662).
 *
 * @module
 */
import { type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { scopeToString } from '../core/scope.js'
import { authenticateClient } from '../grants/client-authentication.js'
import { isExpired, type RequestValidator } from '../validator.js'
import { type StoredToken } from '../types.js'
import { parsePostRequest, respondWithErrors, type EndpointOptions } from './base.js'
import { lookUpToken, rejectRepeatedTokenParameters } from './token-lookup.js'

const CITATION = 'RFC 7662 section 2.1'

/** Options of {@link IntrospectEndpoint}. */
export interface IntrospectEndpointOptions extends EndpointOptions {
  /** Authenticates the caller (`authenticateClient`) and looks tokens up (`introspectToken`). */
  readonly requestValidator: RequestValidator
  /**
   * The authorization server's issuer identifier, sent as `iss` in every active response (RFC 7662 §2.2); omitted
   * when not set. An `http(s)` URL without query or fragment (RFC 8414 §2).
   */
  readonly issuer?: string | undefined
  /**
   * Accept requests to a URI that is not `https:`. RFC 7662 §2 requires TLS at the introspection endpoint; set this
   * only for loopback development and tests, or behind a proxy that terminates TLS and passes the original `http:` URI.
   */
  readonly allowInsecureTransport?: boolean | undefined
}

/**
 * An introspection response (RFC 7662 §2.2): `{ active: false }` alone, or `active: true` with what is known.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2.2 | RFC 7662 §2.2}
 */
interface IntrospectionResponse {
  active: boolean
  scope?: string
  client_id?: string
  username?: string
  token_type?: string
  exp?: number
  iat?: number
  sub?: string
  aud?: string | string[]
  iss?: string
}

/**
 * The token introspection endpoint: a protected resource asks whether a token is active and what it grants. The
 * caller must authenticate with client credentials (a public client cannot: RFC 7662 §2.1 asks for authorization to
 * prevent token scanning). Any authenticated client may introspect any token, since a resource server introspects
 * tokens issued to other clients. RFC 7662 §4 advises that callers be specifically authorized: the validator's
 * `authenticateClient` sees the request URI and may refuse clients that are not resource servers.
 *
 * Every token that is unknown, expired or revoked gets exactly `{"active":false}`, never why (§2.2). An active token
 * gets `scope`, `client_id`, `username`, `token_type`, `exp`, `iat`, `sub` (the user's id, else the client's), `aud`
 * and `iss`, each when known. `token_type` is `Bearer` for an access token; a refresh token, which has no access
 * token type (RFC 6749 §5.1), gets `refresh_token`, so that a resource server checking for `Bearer` never mistakes
 * it for an access token.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2 | RFC 7662 §2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-4 | RFC 7662 §4}
 */
export class IntrospectEndpoint {
  private readonly requestValidator: RequestValidator
  private readonly issuer: string | undefined
  private readonly allowInsecureTransport: boolean
  private readonly options: EndpointOptions

  /**
   * @throws TypeError when `issuer` is not an http(s) URL without query or fragment
   */
  constructor(options: IntrospectEndpointOptions) {
    if (options.issuer !== undefined && !/^https?:\/\/[^?#]+$/.test(options.issuer)) {
      throw new TypeError('IntrospectEndpoint issuer must be an http(s) URL without query or fragment (RFC 8414 section 2)')
    }
    this.requestValidator = options.requestValidator
    this.issuer = options.issuer
    this.allowInsecureTransport = options.allowInsecureTransport ?? false
    this.options = options
  }

  /**
   * Handles an introspection request and returns the response to send: 200 with the JSON introspection response,
   * `Cache-Control: no-store`. Never rejects: every failure, including an exception from the validator, becomes an
   * RFC 6749 §5.2 error response (RFC 7662 §2.3):
   *
   * - `invalid_request` when `token` is missing, `token` or `token_type_hint` is repeated, the URI is not `https:`,
   *   or (405, with `Allow: POST`) the method is not POST;
   * - `invalid_client` (401, with `WWW-Authenticate`) when the caller sent no client credentials or wrong ones;
   * - `server_error` (500, reported to `onError`) when a validator hook throws.
   *
   * @param uri - the absolute request URI
   * @param httpMethod - must be `POST` (RFC 7662 §2.1); anything else gets 405 with `Allow: POST`
   * @param body - the `application/x-www-form-urlencoded` body, as text, `URLSearchParams` or an object
   * @param headers - request headers, names in any case
   * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2.1 | RFC 7662 §2.1}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2.2 | RFC 7662 §2.2}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7662#section-2.3 | RFC 7662 §2.3}
   */
  createIntrospectResponse(uri: RequestUri, httpMethod = 'POST', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    // RFC 7662 §4: the endpoint receives tokens and tells what they grant, so it MUST be protected by TLS.
    const parse = () => parsePostRequest(uri, httpMethod, body, headers, { name: 'introspection', citation: CITATION, allowInsecureTransport: this.allowInsecureTransport })
    return respondWithErrors(this.options.onError, parse, async (request) => {
      rejectRepeatedTokenParameters(request, CITATION)
      // RFC 7662 §2.1 and §4: the caller must be authorized, against token scanning; here by client credentials, so a
      // public client (which anyone can impersonate by its client_id) is refused with 401 (§2.3).
      const client = await authenticateClient(this.requestValidator, request, false)
      const { found } = await lookUpToken(this.requestValidator, request, CITATION)
      // RFC 7662 §2.2: an inactive token gets active: false and nothing else, not even why it is inactive. RFC 7662 §4:
      // so does a token the caller may not learn about, so that a client cannot probe another's tokens.
      if (found === undefined || isExpired(found.expiresAt) || !(await this.requestValidator.mayIntrospect(found, client, request))) {
        return noStoreJsonResponse(200, { active: false })
      }
      return noStoreJsonResponse(200, this.activeResponse(found))
    })
  }

  /** The §2.2 members of an active token, each only when known. */
  private activeResponse(found: StoredToken): IntrospectionResponse {
    const response: IntrospectionResponse = { active: true }
    if (found.scopes.length > 0) response.scope = scopeToString(found.scopes)
    response.client_id = found.clientId
    if (found.username !== undefined) response.username = found.username
    // RFC 7662 §2.2: token_type is an access token type (RFC 6749 §5.1); a refresh token has none, so it gets the
    // registered hint value instead (RFC 7009 §4.1.2), which no resource server takes for Bearer.
    response.token_type = found.tokenType === 'access_token' ? 'Bearer' : 'refresh_token'
    // RFC 7662 §2.2: exp and iat are integer timestamps; flooring exp never extends the token's life.
    if (found.expiresAt !== undefined) response.exp = Math.floor(found.expiresAt)
    if (found.issuedAt !== undefined) response.iat = Math.floor(found.issuedAt)
    response.sub = found.user?.userId ?? found.clientId
    const audience = found.audience ?? []
    // RFC 7662 §2.2 via RFC 7519 §4.1.3: aud is a string when there is one audience, an array when several.
    if (audience.length === 1) response.aud = audience[0] as string
    else if (audience.length > 1) response.aud = [...audience]
    if (this.issuer !== undefined) response.iss = this.issuer
    return response
  }
}
