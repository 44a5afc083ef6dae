/**
 * The client configuration endpoint (RFC 7592): a client that registered itself reads, updates and deletes its
 * registration at its `registration_client_uri`, with its registration access token.
 *
 * @module
 */
import { InvalidClientMetadataError, InvalidRequestError, InvalidTokenError } from '../core/errors.js'
import { normalizeMethod, parseRequest, requestProtocol, type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { type RequestValidator } from '../validator.js'
import { respondWithErrors, type EndpointOptions } from './base.js'
import { parseClientMetadata, type ClientMetadata } from './client-metadata.js'
import { bearerToken, clientInformation, ClientMetadataEndpoint, jsonBody, type RegisteredClient } from './registration.js'

/** Options of {@link ClientConfigurationEndpoint}. */
export interface ClientConfigurationEndpointOptions extends EndpointOptions {
  /**
   * Authenticates the registration access token (`authenticateRegistration`) and reads, updates and deletes
   * registrations (`readRegistration`, `updateRegistration`, `deleteRegistration`).
   */
  readonly requestValidator: RequestValidator
  /** The grant types an update may ask for: those of the registration endpoint (default {@link DEFAULT_REGISTRATION_GRANT_TYPES}). */
  readonly grantTypes?: readonly string[] | undefined
  /** Accept requests to a URI that is not `https:`: loopback development and tests only (RFC 7592 §2 requires TLS). */
  readonly allowInsecureTransport?: boolean | undefined
}

const METHODS = 'GET, PUT, DELETE'

/**
 * The client configuration endpoint of RFC 7592 at `registration_client_uri`, whose last path segment is the client's
 * `client_id` (as {@link RegistrationEndpoint} makes it: the registration endpoint's URI, `/`, the `client_id`). Every
 * request carries the client's registration access token as `Authorization: Bearer` (RFC 6750 §2.1).
 *
 * - `GET` (§2.1): 200 with the client information response (§3): the metadata as registered, without the secret,
 *   which is stored only as a digest.
 * - `PUT` (§2.2): replaces the metadata with the JSON body, checked as at registration (RFC 7591 §2; members left out
 *   are removed). The body must name the client's own `client_id`, and a `client_secret` in it must be the current
 *   one: a client never chooses its secret. 200 with the new registration, whose registration access token the
 *   validator may have rotated (the old one is then refused), and the secret when a new one was issued.
 * - `DELETE` (§2.3): removes the client with its tokens and grants; 204.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2 | RFC 7592 §2}
 */
export class ClientConfigurationEndpoint extends ClientMetadataEndpoint {
  constructor(options: ClientConfigurationEndpointOptions) {
    super(options)
  }

  /**
   * Handles a read, update or delete request and returns the response to send. Never rejects; every failure becomes
   * an error response:
   *
   * - `invalid_token` (401, `WWW-Authenticate: Bearer`) without a registration access token, or with one the validator
   *   refuses (another client's, a rotated one, a made-up one), or for a client that no longer exists (§2.1–§2.3);
   * - `invalid_client_metadata` or `invalid_redirect_uri` (400) for an update the server does not accept (§2.2);
   * - `invalid_request` for a URI that is not https, a body that is not JSON, or (405, `Allow`) another method;
   * - `server_error` (500, reported to `onError`) when a validator hook throws.
   *
   * @param uri - the absolute request URI: the client's `registration_client_uri`
   * @param httpMethod - `GET`, `PUT` or `DELETE`
   * @param body - the JSON text of the metadata (`PUT`)
   * @param headers - request headers (`Authorization: Bearer` with the registration access token, `Content-Type`)
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.1 | RFC 7592 §2.1}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.2 | RFC 7592 §2.2}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7592#section-2.3 | RFC 7592 §2.3}
   */
  createClientConfigurationResponse(uri: RequestUri, httpMethod = 'GET', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    const parse = (): OAuth2Request => {
      const method = normalizeMethod(httpMethod)
      if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') {
        throw new InvalidRequestError('The client configuration endpoint accepts GET, PUT and DELETE (RFC 7592 section 2)', { status: 405, headers: { Allow: METHODS } })
      }
      // The metadata is JSON, not a form: the request is parsed for its URI and headers only.
      const request = parseRequest(uri, httpMethod, undefined, headers, { source: 'body' })
      if (requestProtocol(request) !== 'https:' && !this.allowInsecureTransport) throw new InvalidRequestError('The client configuration endpoint requires TLS (https)')
      return request
    }
    return respondWithErrors(this.options.onError, parse, async (request) => {
      const token = bearerToken(request, 'the registration access token')
      if (token === undefined) throw new InvalidTokenError('This request needs the registration access token (RFC 7592 section 2)', { headers: { 'WWW-Authenticate': 'Bearer' } })
      const clientId = clientIdOf(request.uri)
      if (clientId === undefined || !(await this.requestValidator.authenticateRegistration(clientId, token, request))) throw invalidToken()
      const method = normalizeMethod(httpMethod)
      if (method === 'DELETE') {
        // RFC 7592 §2.3: a client that does not exist (any more) is 401, like a bad token.
        if (!(await this.requestValidator.deleteRegistration(clientId, request))) throw invalidToken()
        return { status: 204, headers: { 'Cache-Control': 'no-store', Pragma: 'no-cache' }, body: '' }
      }
      let registered: RegisteredClient | undefined
      if (method === 'GET') {
        registered = await this.requestValidator.readRegistration(clientId, request)
      } else {
        const { metadata, clientSecret } = this.parseUpdate(jsonBody(request, body), clientId)
        registered = await this.requestValidator.updateRegistration(clientId, metadata, clientSecret, request)
      }
      if (registered === undefined) throw invalidToken()
      // RFC 7592 §3: the response names the token to use next: a rotated one, else the one this request presented.
      const information = clientInformation(
        { ...registered, registrationAccessToken: registered.registrationAccessToken ?? token },
        `${request.uri.origin}${request.uri.pathname}`,
        registered.metadata.token_endpoint_auth_method !== 'none',
      )
      return noStoreJsonResponse(200, information)
    })
  }

  /** The metadata of an update request (RFC 7592 §2.2), and the `client_secret` it carries, if any. */
  private parseUpdate(body: unknown, clientId: string): { metadata: ClientMetadata; clientSecret: string | undefined } {
    const metadata = parseClientMetadata(body, { grantTypes: this.grantTypes })
    const fields = body as Record<string, unknown>
    // RFC 7592 §2.2: the request names the client's own client_id, and never another.
    if (fields.client_id !== clientId) throw new InvalidClientMetadataError("client_id must be given and be the client's own (RFC 7592 section 2.2)")
    const clientSecret = fields.client_secret ?? undefined
    if (clientSecret !== undefined && typeof clientSecret !== 'string') throw new InvalidClientMetadataError('client_secret must be a string')
    return { metadata, clientSecret }
  }
}

/** The `client_id` a configuration URI names: its last path segment, decoded; `undefined` when there is none. */
function clientIdOf(uri: URL): string | undefined {
  const segment = uri.pathname.slice(uri.pathname.lastIndexOf('/') + 1)
  try {
    return segment === '' ? undefined : decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

function invalidToken(): InvalidTokenError {
  return new InvalidTokenError('The registration access token is invalid, or its client does not exist', { headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } })
}
