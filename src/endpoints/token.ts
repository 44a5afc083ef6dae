/**
 * The token endpoint (RFC 6749 §3.2).
 *
 * @module
 */
import { InvalidRequestError, UnsupportedGrantTypeError } from '../core/errors.js'
import { type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type TokenGrantType } from '../grants/base.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { parsePostRequest, respondWithErrors, type EndpointOptions } from './base.js'

/** Options of {@link TokenEndpoint}. */
export interface TokenEndpointOptions extends EndpointOptions {
  /** The grants this endpoint serves; a request for any other `grant_type` gets `unsupported_grant_type`. */
  readonly grantTypes: readonly TokenGrantType[]
  /** Makes the tokens. */
  readonly bearerToken: BearerToken
  /**
   * Accept requests to a URI that is not `https:`. RFC 6749 §3.2 requires TLS at the token endpoint; set this only for
   * loopback development and tests, or behind a proxy that terminates TLS and passes the original `http:` URI.
   */
  readonly allowInsecureTransport?: boolean | undefined
}

/**
 * The token endpoint: parses the request once, picks the grant named by `grant_type` and returns its response. Every
 * response, errors included, carries `Cache-Control: no-store` and `Pragma: no-cache`.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 */
export class TokenEndpoint {
  private readonly grants: ReadonlyMap<string, TokenGrantType>
  private readonly bearerToken: BearerToken
  private readonly allowInsecureTransport: boolean
  private readonly options: EndpointOptions

  constructor(options: TokenEndpointOptions) {
    if (options.grantTypes.length === 0) throw new TypeError('TokenEndpoint needs at least one grant type')
    this.grants = new Map(options.grantTypes.map((grant) => [grant.grantType, grant]))
    this.bearerToken = options.bearerToken
    this.allowInsecureTransport = options.allowInsecureTransport ?? false
    this.options = options
  }

  /** The grant types this endpoint serves, e.g. for metadata (RFC 8414 `grant_types_supported`). */
  get grantTypes(): readonly string[] {
    return [...this.grants.keys()]
  }

  /** Whether a grant served here admits public clients, e.g. for metadata (`none` in `token_endpoint_auth_methods_supported`). */
  get publicClientsAllowed(): boolean {
    return [...this.grants.values()].some((grant) => grant.allowsPublicClients === true)
  }

  /**
   * Handles a token request and returns the response to send. Never rejects: every failure, including an exception
   * from the validator, becomes an RFC 6749 §5.2 error response.
   *
   * @param uri - the absolute request URI
   * @param httpMethod - must be `POST` (RFC 6749 §3.2); anything else gets 405 with `Allow: POST`
   * @param body - the `application/x-www-form-urlencoded` body, as text, `URLSearchParams` or an object
   * @param headers - request headers, names in any case
   * @param credentials - extra data for the validator, available as `request.credentials`
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5 | RFC 6749 §5}
   */
  createTokenResponse(
    uri: RequestUri,
    httpMethod = 'POST',
    body?: RequestBody,
    headers?: RequestHeaders,
    credentials?: Readonly<Record<string, unknown>>,
  ): Promise<OAuth2Response> {
    // No async function around the grant's promise: respondWithErrors turns a synchronous throw into its response too.
    return respondWithErrors(this.options.onError, (setRequest) => {
      // RFC 6749 §3.2: POST only, and the token endpoint MUST require TLS.
      const request = parsePostRequest(
        uri,
        httpMethod,
        body,
        headers,
        { name: 'token', citation: 'RFC 6749 section 3.2', allowInsecureTransport: this.allowInsecureTransport, credentials },
        setRequest,
      )
      const grantType = request.grantType
      if (grantType === undefined) {
        throw new InvalidRequestError(request.repeated.has('grant_type') ? 'grant_type is repeated (RFC 6749 section 3.2)' : 'grant_type is required')
      }
      const grant = this.grants.get(grantType)
      if (grant === undefined) throw new UnsupportedGrantTypeError('The grant_type is not supported by this server')
      return grant.createTokenResponse(request, this.bearerToken)
    })
  }
}
