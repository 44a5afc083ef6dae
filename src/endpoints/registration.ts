/**
 * The client registration endpoint (RFC 7591): a client registers itself with a JSON document of its metadata.
 *
 * @module
 */
import { InvalidClientMetadataError, InvalidRequestError, InvalidTokenError } from '../core/errors.js'
import { normalizeMethod, parseRequest, requestProtocol, type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { type RequestValidator } from '../validator.js'
import { respondWithErrors, type EndpointOptions } from './base.js'
import { parseClientMetadata, type ClientMetadata } from './client-metadata.js'

export { parseClientMetadata, type ClientMetadata, type ClientMetadataPolicy, type RegisteredAuthMethod } from './client-metadata.js'

/**
 * The grant types a client may register for unless {@link RegistrationEndpointOptions.grantTypes} says otherwise: the
 * code grant and refresh. Not `client_credentials`: with open registration, anyone would get tokens without a user.
 */
export const DEFAULT_REGISTRATION_GRANT_TYPES: readonly string[] = ['authorization_code', 'refresh_token']

/** A client the validator registered (see `RequestValidator.registerClient`). */
export interface RegisteredClient {
  readonly clientId: string
  /** The secret of a confidential client, shown in this response only; absent for a public client. */
  readonly clientSecret?: string | undefined
  /** When the client was registered, seconds since the epoch. */
  readonly clientIdIssuedAt: number
  /** When the secret expires, seconds since the epoch; 0 when it does not. Default 0. */
  readonly clientSecretExpiresAt?: number | undefined
  /** The metadata as registered: the request's, with what the server set or narrowed (such as `scope`). */
  readonly metadata: ClientMetadata
  /**
   * The registration access token (RFC 7592 §3) with which the client reads, updates and deletes its registration at
   * its `registration_client_uri`: in the registration response, and in a read or update response that rotated it.
   * Absent when the validator gives none (the registration is then not manageable), or kept the one the client has.
   */
  readonly registrationAccessToken?: string | undefined
}

/** Options of {@link RegistrationEndpoint}. */
export interface RegistrationEndpointOptions extends EndpointOptions {
  /** Decides who may register (`authorizeRegistration`) and registers (`registerClient`). */
  readonly requestValidator: RequestValidator
  /**
   * The grant types a client may register for; default {@link DEFAULT_REGISTRATION_GRANT_TYPES}. Add
   * `client_credentials` only where registration is not open to anyone: such a client obtains tokens with no user.
   */
  readonly grantTypes?: readonly string[] | undefined
  /** Accept requests to a URI that is not `https:`: loopback development and tests only (RFC 7591 §3 requires TLS). */
  readonly allowInsecureTransport?: boolean | undefined
}

const CITATION = 'RFC 7591 section 3.1'

/**
 * What the registration endpoint (RFC 7591) and the client configuration endpoint (RFC 7592) share: the validator,
 * the grant types a client may ask for, and whether plain http is accepted.
 *
 * @internal
 */
export abstract class ClientMetadataEndpoint {
  protected readonly requestValidator: RequestValidator
  protected readonly grantTypes: readonly string[]
  protected readonly allowInsecureTransport: boolean
  protected readonly options: EndpointOptions

  protected constructor(options: RegistrationEndpointOptions) {
    this.requestValidator = options.requestValidator
    this.grantTypes = options.grantTypes ?? DEFAULT_REGISTRATION_GRANT_TYPES
    this.allowInsecureTransport = options.allowInsecureTransport ?? false
    this.options = options
  }
}

/**
 * The client registration endpoint: `POST` a JSON object of client metadata (RFC 7591 §2), get back `201` with the
 * client's `client_id`, its secret when it is confidential, and the metadata as registered (§3.2.1).
 *
 * An initial access token, when the request carries one (`Authorization: Bearer`, §3), is handed to the validator's
 * `authorizeRegistration`, which decides whether registration is open, needs a token, or is closed.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3 | RFC 7591 §3}
 */
export class RegistrationEndpoint extends ClientMetadataEndpoint {
  constructor(options: RegistrationEndpointOptions) {
    super(options)
  }

  /**
   * Handles a registration request and returns the response to send. Never rejects; every failure becomes an error
   * response (RFC 7591 §3.2.2):
   *
   * - `invalid_redirect_uri` or `invalid_client_metadata` (400) for metadata the server does not accept;
   * - `invalid_request` for a body that is not a JSON object, a URI that is not https, or (405) another method;
   * - `invalid_token` (401, `WWW-Authenticate: Bearer`) when the validator refuses the request's initial access token
   *   or its absence;
   * - `server_error` (500, reported to `onError`) when a validator hook throws.
   *
   * @param uri - the absolute request URI
   * @param httpMethod - must be `POST`
   * @param body - the JSON text of the client metadata
   * @param headers - request headers (`Content-Type: application/json`, `Authorization` with an initial access token)
   * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3.1 | RFC 7591 §3.1}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3.2 | RFC 7591 §3.2}
   */
  createRegistrationResponse(uri: RequestUri, httpMethod = 'POST', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    const parse = (): OAuth2Request => {
      if (normalizeMethod(httpMethod) !== 'POST') {
        throw new InvalidRequestError(`The registration endpoint accepts POST only (${CITATION})`, { status: 405, headers: { Allow: 'POST' } })
      }
      // The metadata is JSON, not a form: the request is parsed for its URI and headers only.
      const request = parseRequest(uri, httpMethod, undefined, headers, { source: 'body' })
      if (requestProtocol(request) !== 'https:' && !this.allowInsecureTransport) throw new InvalidRequestError('The registration endpoint requires TLS (https)')
      return request
    }
    return respondWithErrors(this.options.onError, parse, async (request) => {
      const token = bearerToken(request, 'an initial access token')
      if (!(await this.requestValidator.authorizeRegistration(token, request))) {
        throw new InvalidTokenError(token === undefined ? 'Registration needs an initial access token' : 'The initial access token is invalid', {
          headers: { 'WWW-Authenticate': token === undefined ? 'Bearer' : 'Bearer error="invalid_token"' },
        })
      }
      const metadata = parseClientMetadata(jsonBody(request, body), { grantTypes: this.grantTypes })
      const registered = await this.requestValidator.registerClient(metadata, request)
      // RFC 7592 §3: the client's configuration endpoint is under this one, named by its client_id.
      const base = `${request.uri.origin}${request.uri.pathname.replace(/\/$/, '')}`
      return noStoreJsonResponse(201, clientInformation(registered, `${base}/${encodeURIComponent(registered.clientId)}`))
    })
  }
}

/**
 * The client information response's members (RFC 7591 §3.2.1, RFC 7592 §3): the metadata as registered, `client_id`
 * and `client_id_issued_at`, the secret when one was issued now (with `client_secret_expires_at`, also given for a
 * confidential client whose secret is not shown again), and the registration access token with the client's
 * configuration URI when the validator gave one.
 *
 * @internal
 */
export function clientInformation(registered: RegisteredClient, registrationClientUri: string, confidential = registered.clientSecret !== undefined): Record<string, unknown> {
  return {
    ...registered.metadata,
    client_id: registered.clientId,
    client_id_issued_at: registered.clientIdIssuedAt,
    ...(registered.clientSecret === undefined ? {} : { client_secret: registered.clientSecret }),
    ...(confidential ? { client_secret_expires_at: registered.clientSecretExpiresAt ?? 0 } : {}),
    ...(registered.registrationAccessToken === undefined ? {} : { registration_access_token: registered.registrationAccessToken, registration_client_uri: registrationClientUri }),
  }
}

/**
 * The token of `Authorization: Bearer …` (RFC 6750 §2.1), if the request has one: an initial access token (RFC 7591
 * §3) or a registration access token (RFC 7592 §2).
 *
 * @throws {@link InvalidRequestError} for another scheme or a malformed token
 * @internal
 */
export function bearerToken(request: OAuth2Request, what: string): string | undefined {
  const authorization = request.headers.get('authorization')
  if (authorization === undefined) return undefined
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization)
  if (match === null) throw new InvalidRequestError(`Authorization must be Bearer and ${what} (RFC 6750 section 2.1)`)
  return match[1]
}

/**
 * The request's JSON object.
 *
 * @internal
 */
export function jsonBody(request: OAuth2Request, body: RequestBody | undefined): unknown {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') throw new InvalidRequestError('The registration request must be application/json (RFC 7591 section 3.1)')
  if (typeof body !== 'string') throw new InvalidRequestError('The registration request has no JSON body')
  try {
    return JSON.parse(body) as unknown
  } catch {
    throw new InvalidClientMetadataError('The request body is not valid JSON')
  }
}
