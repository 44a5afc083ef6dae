/**
 * The token revocation endpoint (RFC 7009).
 *
 * @module
 */
import { UnauthorizedClientError, UnsupportedTokenTypeError } from '../core/errors.js'
import { type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { authenticateClient } from '../grants/client-authentication.js'
import { isExpired, type RequestValidator } from '../validator.js'
import { type Client, type StoredToken } from '../types.js'
import { parsePostRequest, respondWithErrors, type EndpointOptions } from './base.js'
import { lookUpToken, rejectRepeatedTokenParameters } from './token-lookup.js'

const CITATION = 'RFC 7009 section 2.1'

/** The token types RFC 7009 §2.1 names; a revocation endpoint serves both unless told otherwise. */
const TOKEN_TYPES: readonly StoredToken['tokenType'][] = ['access_token', 'refresh_token']

/** Options of {@link RevocationEndpoint}. */
export interface RevocationEndpointOptions extends EndpointOptions {
  /** Looks tokens up (`introspectToken`), authenticates clients and revokes (`revokeToken`). */
  readonly requestValidator: RequestValidator
  /**
   * The token types this server can revoke; default both. A client that presents a token of another type gets
   * `unsupported_token_type` (RFC 7009 §2.2.1), e.g. `['refresh_token']` on a server whose access tokens are
   * self-contained JWTs that it cannot recall. Must include `refresh_token` (RFC 7009 §2: implementations MUST
   * support revoking refresh tokens).
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1 | RFC 7009 §2.2.1}
   */
  readonly revocableTokenTypes?: readonly StoredToken['tokenType'][] | undefined
  /**
   * Accept requests to a URI that is not `https:`. RFC 7009 §2 requires TLS at the revocation endpoint; set this only
   * for loopback development and tests, or behind a proxy that terminates TLS and passes the original `http:` URI.
   */
  readonly allowInsecureTransport?: boolean | undefined
}

/** The headers of a successful revocation: no body, and nothing about the exchange may be cached. */
const REVOKED_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })

/**
 * The token revocation endpoint: a client asks the server to invalidate one of its access or refresh tokens. The
 * client authenticates as at the token endpoint (a public client by its `client_id`); the token is looked up with
 * `introspectToken`, the `token_type_hint` serving only as a hint, and revoked with `revokeToken`, which for a
 * refresh token also ends the access tokens issued from it.
 *
 * Unlike oauthlib's endpoint, this one deliberately offers no JSONP `callback` parameter (RFC 7009 §2.3): JSONP
 * revokes by GET with the token in the URL, where logs, browser history and `Referer` headers keep it, and answers
 * with a script that any site may load, so tokens leak cross-site.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2 | RFC 7009 §2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.3 | RFC 7009 §2.3}
 */
export class RevocationEndpoint {
  private readonly requestValidator: RequestValidator
  private readonly revocableTokenTypes: ReadonlySet<StoredToken['tokenType']>
  private readonly allowInsecureTransport: boolean
  private readonly options: EndpointOptions

  /**
   * @throws TypeError when `revocableTokenTypes` names an unknown type or leaves out `refresh_token`
   */
  constructor(options: RevocationEndpointOptions) {
    const types = options.revocableTokenTypes ?? TOKEN_TYPES
    if (types.some((type) => !TOKEN_TYPES.includes(type))) {
      throw new TypeError('RevocationEndpoint revocableTokenTypes may hold only access_token and refresh_token')
    }
    if (!types.includes('refresh_token')) {
      throw new TypeError('RevocationEndpoint must revoke refresh tokens (RFC 7009 section 2)')
    }
    this.requestValidator = options.requestValidator
    this.revocableTokenTypes = new Set(types)
    this.allowInsecureTransport = options.allowInsecureTransport ?? false
    this.options = options
  }

  /**
   * Handles a revocation request and returns the response to send: 200 with an empty body when the token was
   * revoked, or was unknown, expired or already revoked (RFC 7009 §2.2). Never rejects: every failure, including an
   * exception from the validator, becomes an RFC 6749 §5.2 error response:
   *
   * - `invalid_request` when `token` is missing, `token` or `token_type_hint` is repeated, the URI is not `https:`,
   *   or (405, with `Allow: POST`) the method is not POST;
   * - `invalid_client` (401, with `WWW-Authenticate`) when client authentication fails;
   * - `unauthorized_client` when the token is live and was issued to another client; it is not revoked;
   * - `unsupported_token_type` when the token's type is not in `revocableTokenTypes` (RFC 7009 §2.2.1);
   * - `server_error` (500, reported to `onError`) when a validator hook throws.
   *
   * @param uri - the absolute request URI
   * @param httpMethod - must be `POST` (RFC 7009 §2.1); anything else gets 405 with `Allow: POST`
   * @param body - the `application/x-www-form-urlencoded` body, as text, `URLSearchParams` or an object
   * @param headers - request headers, names in any case
   * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.1 | RFC 7009 §2.1}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.2 | RFC 7009 §2.2}
   */
  createRevocationResponse(uri: RequestUri, httpMethod = 'POST', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    // RFC 7009 §2: revocation requests carry client credentials and tokens, so the endpoint MUST use TLS.
    const parse = () => parsePostRequest(uri, httpMethod, body, headers, { name: 'revocation', citation: CITATION, allowInsecureTransport: this.allowInsecureTransport })
    return respondWithErrors(this.options.onError, parse, async (request) => {
      rejectRepeatedTokenParameters(request, CITATION)
      // RFC 7009 §2.1: the client authenticates as at the token endpoint; a public client is identified by client_id.
      const client = await authenticateClient(this.requestValidator, request, true)
      const { token, found } = await lookUpToken(this.requestValidator, request, CITATION)
      // RFC 7009 §2.2: an unknown or already revoked token is answered 200: what the client wanted is already true.
      if (found !== undefined) await this.revoke(token, found, client, request)
      return { status: 200, headers: REVOKED_HEADERS, body: '' }
    })
  }

  /**
   * Revokes a token the validator found, if the client may revoke it.
   *
   * @throws {@link UnauthorizedClientError} when the token is live and was issued to another client
   * @throws {@link UnsupportedTokenTypeError} when the token is live and its type is not in `revocableTokenTypes`
   */
  private async revoke(token: string, found: StoredToken, client: Client, request: OAuth2Request): Promise<void> {
    const own = found.clientId === client.clientId
    const revocable = this.revocableTokenTypes.has(found.tokenType)
    if (isExpired(found.expiresAt)) {
      // RFC 7009 §2.2: an expired token is invalid and answered 200 too. The client's own is still handed to
      // revokeToken, so that related tokens still alive (the access tokens of an expired refresh token) end with it
      // (§2.1).
      if (own && revocable) await this.requestValidator.revokeToken(token, found.tokenType, client, request)
      return
    }
    // RFC 7009 §2.1: the server verifies that the token was issued to the requesting client and otherwise refuses the
    // request. The client did authenticate, so not invalid_client (a 401 asking for other credentials); the request
    // is well-formed, so not invalid_request; invalid_grant belongs to grants at the token endpoint. RFC 6749 §5.2's
    // unauthorized_client, an authenticated client not authorized for what it asked, says what happened (as fosite).
    if (!own) throw new UnauthorizedClientError('The token was not issued to this client')
    // RFC 7009 §2.2.1: the type of the token found decides, whatever the hint said.
    if (!revocable) throw new UnsupportedTokenTypeError(`This server does not revoke tokens of type ${found.tokenType}`)
    await this.requestValidator.revokeToken(token, found.tokenType, client, request)
  }
}
