/**
 * The token endpoint (RFC 6749 §3.2).
 *
 * @module
 */
import { InvalidRequestError, UnsupportedGrantTypeError, type OAuth2ErrorCode } from '../core/errors.js'
import { type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type TokenGrantType } from '../grants/base.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { answerRequest, parsePostRequest, reportError, type EndpointOptions } from './base.js'

/** How a token request ended, as {@link TokenRequestHooks.afterResponse} receives it. */
export interface TokenRequestOutcome {
  /**
   * The request as parsed: `clientId`, `clientCredentials`, `grantType` and `params` (e.g. `username`);
   * `undefined` when it could not be parsed (wrong method, malformed body or headers).
   */
  readonly request: OAuth2Request | undefined
  /** The `credentials` the application passed to `createTokenResponse`, e.g. the client's address. */
  readonly credentials: Readonly<Record<string, unknown>>
  /** The HTTP status of the answer. */
  readonly status: number
  /**
   * The RFC 6749 §5.2 error code of an error answer (`invalid_client`: the client failed to authenticate;
   * `invalid_grant`: the code, refresh token or password was wrong); `undefined` for a success.
   */
  readonly error: OAuth2ErrorCode | undefined
}

/**
 * Watches, and may refuse, the requests of a token endpoint: what rate limiting, metrics and audit logs need, learned
 * from the endpoint itself rather than by parsing the body or the response a second time.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-10.10 | RFC 6749 §10.10} (credentials guessing)
 */
export interface TokenRequestHooks {
  /**
   * Called once the request is parsed, before the grant checks any credential, code or token. Throw an `OAuth2Error`
   * to answer with it instead (e.g. a `TemporarilyUnavailableError` with status 429 and `Retry-After`): nothing is then
   * checked, consumed or rotated. Any other exception becomes `server_error`.
   */
  readonly beforeGrant?: ((request: OAuth2Request) => void | Promise<void>) | undefined
  /**
   * Called with every answer before it is returned, successes and errors alike (a request refused by
   * {@link TokenRequestHooks.beforeGrant} included). An exception from it goes to `onError` and changes nothing.
   */
  readonly afterResponse?: ((outcome: TokenRequestOutcome) => void | Promise<void>) | undefined
}

const NO_CREDENTIALS: Readonly<Record<string, unknown>> = Object.freeze({})

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
  /** Watches and may refuse each request; see {@link TokenRequestHooks}. */
  readonly hooks?: TokenRequestHooks | undefined
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
  private readonly options: TokenEndpointOptions

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
    // RFC 6749 §3.2: POST only, and the token endpoint MUST require TLS.
    const endpoint = { name: 'token', citation: 'RFC 6749 section 3.2', allowInsecureTransport: this.allowInsecureTransport, credentials }
    const parse = () => parsePostRequest(uri, httpMethod, body, headers, endpoint)
    const hooks = this.options.hooks
    const answered = answerRequest(this.options.onError, parse, async (request) => {
      if (hooks?.beforeGrant !== undefined) await hooks.beforeGrant(request)
      const grantType = request.grantType
      if (grantType === undefined) {
        throw new InvalidRequestError(request.repeated.has('grant_type') ? 'grant_type is repeated (RFC 6749 section 3.2)' : 'grant_type is required')
      }
      const grant = this.grants.get(grantType)
      if (grant === undefined) throw new UnsupportedGrantTypeError('The grant_type is not supported by this server')
      // Awaited rather than returned: an async function resolved with a promise waits three turns for it, not one.
      return await grant.createTokenResponse(request, this.bearerToken)
    })
    const afterResponse = hooks?.afterResponse
    if (afterResponse === undefined) return answered.then(({ response }) => response)
    return answered.then(async ({ response, request, error }) => {
      try {
        await afterResponse({ request, credentials: credentials ?? NO_CREDENTIALS, status: response.status, error: error?.error })
      } catch (caught) {
        reportError(this.options.onError, caught, request)
      }
      return response
    })
  }
}
