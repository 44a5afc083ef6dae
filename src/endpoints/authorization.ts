/**
 * The authorization endpoint (RFC 6749 §3.1): response types `code` and `token`, delivered by query, fragment or
 * form post, with the issuer in every response (RFC 9207).
 *
 * @module
 */
import {
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  OAuth2Error,
  ServerError,
  UnauthorizedClientError,
  UnsupportedResponseTypeError,
} from '../core/errors.js'
import { isValidRedirectUri, matchRedirectUri } from '../core/redirect-uri.js'
import { normalizeMethod, parseRequest, rejectRepeated, type OAuth2Request, type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { parseResources } from '../core/resource-indicator.js'
import { deliverToRedirectUri, RESPONSE_MODES, type ResponseMode } from '../core/response-mode.js'
import { parseScope } from '../core/scope.js'
import { type AuthorizationResponseType, type ValidatedAuthorizationRequest } from '../grants/response-type.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type RequestValidator } from '../validator.js'
import { type Authentication, type Client, type User } from '../types.js'
import { reportError, respondWithErrors, type EndpointOptions } from './base.js'

export { type AuthorizationRequestCredentials, type AuthorizationResponseType, type ValidatedAuthorizationRequest } from '../grants/response-type.js'

/** Options of {@link AuthorizationEndpoint}. */
export interface AuthorizationEndpointOptions extends EndpointOptions {
  readonly requestValidator: RequestValidator
  /** The response types served; any other `response_type` gets `unsupported_response_type`. */
  readonly responseTypes: readonly AuthorizationResponseType[]
  /** Makes tokens for the implicit grant. */
  readonly bearerToken: BearerToken
  /**
   * The authorization server's issuer identifier, sent as `iss` in every authorization response, errors included,
   * so that a client talking to several servers can tell them apart (RFC 9207 §2, mix-up defence). Default: the
   * origin of the request URI, which is right when the issuer is that origin; set it when the server lives under a
   * path or behind a proxy that rewrites the host.
   */
  readonly issuer?: string | undefined
}

// Parameters common to every response type; client_id and redirect_uri repeats are fatal (not redirected).
const COMMON_PARAMETERS = ['response_type', 'scope', 'state', 'response_mode'] as const

/**
 * The authorization endpoint: verifies an authorization request for the application's consent page, then issues the
 * code or token the user allowed and redirects back to the client.
 *
 * Errors found before the client and its redirect URI are verified (unknown `client_id`, unregistered or missing
 * `redirect_uri`) are never sent to the redirect URI (RFC 6749 §4.1.2.1): `validateAuthorizationRequest` throws them
 * with `redirectable: false`, and the create calls answer them with a 400 the application shows to the user.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.1 | RFC 6749 §3.1}
 * @see {@link https://www.rfc-editor.org/rfc/rfc9207#section-2 | RFC 9207 §2}
 */
export class AuthorizationEndpoint {
  private readonly responseTypes: ReadonlyMap<string, AuthorizationResponseType>
  private readonly options: AuthorizationEndpointOptions

  constructor(options: AuthorizationEndpointOptions) {
    if (options.responseTypes.length === 0) throw new TypeError('AuthorizationEndpoint needs at least one response type')
    if (options.issuer !== undefined && !/^https?:\/\/[^?#]+$/.test(options.issuer)) {
      throw new TypeError('AuthorizationEndpoint issuer must be an http(s) URL without query or fragment (RFC 8414 section 2)')
    }
    this.responseTypes = new Map(options.responseTypes.map((type) => [type.responseType, type]))
    this.options = options
  }

  /** The response types this endpoint serves, e.g. for metadata (`response_types_supported`). */
  get responseTypesSupported(): readonly string[] {
    return [...this.responseTypes.keys()]
  }

  /**
   * The PKCE methods the `code` response type accepts, e.g. for metadata (`code_challenge_methods_supported`): its
   * handler's `codeChallengeMethods`. Empty when this endpoint does not serve `code` or its handler has no PKCE.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-2 | RFC 8414 §2}
   * @see {@link https://www.rfc-editor.org/rfc/rfc7636#section-4.3 | RFC 7636 §4.3}
   */
  get codeChallengeMethodsSupported(): readonly string[] {
    return this.responseTypes.get('code')?.codeChallengeMethods ?? []
  }

  /** The configured issuer identifier sent as `iss`; `undefined` when it is taken from each request's origin. */
  get issuer(): string | undefined {
    return this.options.issuer
  }

  /**
   * Verifies an authorization request before the application asks the user for consent.
   *
   * @param uri - the request URI (its query holds the parameters of a GET request)
   * @param httpMethod - `GET`, or `POST` with the parameters in a form body (RFC 6749 §3.1)
   * @returns the requested scopes and the verified request, for the consent page
   * @throws an {@link OAuth2Error}: with `redirectable: false` when the client or redirect URI could not be verified;
   *   otherwise pass it to {@link AuthorizationEndpoint.createAuthorizationErrorResponse} to send it to the client
   */
  async validateAuthorizationRequest(uri: RequestUri, httpMethod = 'GET', body?: RequestBody, headers?: RequestHeaders): Promise<ValidatedAuthorizationRequest> {
    const request = this.parse(uri, httpMethod, body, headers)
    const verified = await this.verifyClientAndRedirectUri(request)
    return this.validateVerified(request, verified)
  }

  /**
   * Issues the code (or token) the user allowed and redirects to the client with it, `state` and `iss`. The request
   * is verified again in full, so pass the same request the consent page was shown for. Never rejects.
   *
   * @param scopes - the scopes the user granted; default the requested ones
   * @param user - the user who allowed the request
   * @param authentication - when and how the user signed in (OpenID Connect Core §2): `auth_time`, `acr`, `amr` of
   *   the ID tokens of the grant; required for an OpenID Connect request with `max_age`, and then within it
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 | RFC 6749 §4.1.2}
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.2.2 | RFC 6749 §4.2.2}
   */
  async createAuthorizationResponse(
    uri: RequestUri,
    httpMethod = 'GET',
    body: RequestBody | undefined,
    headers: RequestHeaders | undefined,
    scopes: readonly string[] | undefined,
    user: User,
    authentication?: Authentication,
  ): Promise<OAuth2Response> {
    return this.respond(uri, httpMethod, body, headers, async (request, verified) => {
      if (typeof user?.userId !== 'string') throw new TypeError('createAuthorizationResponse needs the user who allowed the request')
      const { scopes: requested, credentials } = await this.validateVerified(request, verified)
      const granted = scopes ?? requested
      if (granted !== requested && !(await this.options.requestValidator.validateScopes(credentials.client.clientId, granted, credentials.client, request))) {
        throw new TypeError('createAuthorizationResponse was given scopes the client may not have')
      }
      const handler = this.responseTypes.get(credentials.responseType) as AuthorizationResponseType
      if (authentication !== undefined && !Number.isSafeInteger(authentication.authTime)) {
        throw new TypeError('createAuthorizationResponse needs authentication.authTime in whole seconds since the epoch')
      }
      const params = await handler.createAuthorizationResponseParameters(credentials, granted, user, this.options.bearerToken, authentication)
      return deliverToRedirectUri(credentials.redirectUri, credentials.responseMode, this.withStateAndIssuer(params, credentials.state, request))
    })
  }

  /**
   * Sends an error to the client's redirect URI, e.g. `access_denied` when the user refused, or an error thrown by
   * {@link AuthorizationEndpoint.validateAuthorizationRequest}. When the client or redirect URI cannot be verified,
   * or the error is not redirectable, answers 400 with the error as JSON for the application to show instead. Never
   * rejects.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
   */
  async createAuthorizationErrorResponse(
    uri: RequestUri,
    httpMethod: string,
    body: RequestBody | undefined,
    headers: RequestHeaders | undefined,
    error: OAuth2Error,
  ): Promise<OAuth2Response> {
    return this.respond(uri, httpMethod, body, headers, async () => {
      throw error
    })
  }

  /** Runs a create call: redirectable errors go to the verified redirect URI, all others become a 400/5xx page. */
  private async respond(
    uri: RequestUri,
    httpMethod: string,
    body: RequestBody | undefined,
    headers: RequestHeaders | undefined,
    create: (request: OAuth2Request, verified: VerifiedClient) => Promise<OAuth2Response>,
  ): Promise<OAuth2Response> {
    return respondWithErrors(this.options.onError, () => this.parse(uri, httpMethod, body, headers), async (request) => {
      const verified = await this.verifyClientAndRedirectUri(request)
      try {
        return await create(request, verified)
      } catch (caught) {
        // From here the redirect URI is verified: errors go to the client, server errors included, since a 5xx
        // cannot reach it through a redirect (RFC 6749 §4.1.2.1).
        const error = caught instanceof OAuth2Error ? caught : new ServerError({ cause: caught })
        if (!error.redirectable) throw caught
        if (error.status >= 500) reportError(this.options.onError, caught, request)
        return this.redirectError(error, verified, request)
      }
    })
  }

  private redirectError(error: OAuth2Error, verified: VerifiedClient, request: OAuth2Request): OAuth2Response {
    const state = request.repeated.has('state') ? undefined : request.params.get('state')
    return deliverToRedirectUri(verified.redirectUri, this.responseModeOrDefault(request, verified), this.withStateAndIssuer(error.toResponseBody(), state, request))
  }

  private parse(uri: RequestUri, httpMethod: string, body: RequestBody | undefined, headers: RequestHeaders | undefined): OAuth2Request {
    const method = normalizeMethod(httpMethod)
    if (method !== 'GET' && method !== 'POST') {
      throw new InvalidRequestError('The authorization endpoint accepts GET and POST only', { status: 405, headers: { Allow: 'GET, POST' }, redirectable: false })
    }
    try {
      return parseRequest(uri, method, method === 'GET' ? undefined : body, headers, { source: method === 'GET' ? 'query' : 'body' })
    } catch (caught) {
      if (caught instanceof InvalidRequestError) throw new InvalidRequestError(caught.description, { redirectable: false })
      throw caught
    }
  }

  /**
   * Verifies `client_id` and `redirect_uri`. Every error from here is not redirectable (RFC 6749 §4.1.2.1).
   */
  private async verifyClientAndRedirectUri(request: OAuth2Request): Promise<VerifiedClient> {
    const fatal = (description: string) => new InvalidRequestError(description, { redirectable: false })
    rejectRepeated(request, ['client_id', 'redirect_uri'], 'RFC 6749 section 3.1', { redirectable: false })
    const clientId = request.params.get('client_id')
    if (clientId === undefined) throw fatal('client_id is required')
    const validator = this.options.requestValidator
    const client = await validator.validateClientId(clientId, request)
    if (client === undefined || client.clientId !== clientId) throw fatal('The client_id is unknown')
    const registered = await validator.getRedirectUris(clientId, client, request)
    const presented = request.params.get('redirect_uri')
    let redirectUri: string | undefined
    if (presented === undefined) {
      // RFC 6749 §3.1.2.3: redirect_uri may be omitted only when exactly one is registered.
      if (registered.length !== 1) throw fatal('redirect_uri is required: the client has more than one registered')
      redirectUri = registered[0]
    } else {
      if (!isValidRedirectUri(presented)) throw fatal('redirect_uri must be an absolute URI without a fragment')
      redirectUri = matchRedirectUri(presented, registered) === undefined ? undefined : presented
    }
    if (redirectUri === undefined || !isValidRedirectUri(redirectUri)) throw fatal('The redirect_uri is not registered for this client')
    const responseType = request.params.get('response_type')
    const handler = this.responseTypes.get(responseType ?? '')
    // RFC 6749 §4.2.2.1: an error for a request asking for a token (even one this server does not serve) goes in the
    // fragment, the only part a browser-based client reads.
    const asksForToken = responseType?.split(' ').includes('token') === true
    return {
      client,
      redirectUri,
      redirectUriIncluded: presented !== undefined,
      defaultMode: handler?.defaultResponseMode ?? (asksForToken ? 'fragment' : 'query'),
      responseModes: handler?.responseModes ?? (asksForToken ? ['fragment', 'form_post'] : RESPONSE_MODES),
    }
  }

  /** The checks after the client and redirect URI are verified; their errors are redirected. */
  private async validateVerified(request: OAuth2Request, verified: VerifiedClient): Promise<ValidatedAuthorizationRequest> {
    const responseTypeValue = request.params.get('response_type')
    const handler = responseTypeValue === undefined ? undefined : this.responseTypes.get(responseTypeValue)
    rejectRepeated(request, [...COMMON_PARAMETERS, ...(handler?.authorizationParameters ?? [])], 'RFC 6749 section 3.1')
    if (responseTypeValue === undefined) throw new InvalidRequestError('response_type is required')
    if (handler === undefined) throw new UnsupportedResponseTypeError('The response_type is not supported by this server')
    const requestedMode = request.params.get('response_mode')
    if (requestedMode !== undefined) {
      if (!RESPONSE_MODES.some((mode) => mode === requestedMode)) {
        throw new InvalidRequestError('response_mode is not supported: use query, fragment or form_post')
      }
      // Tokens never travel in a query (OAuth 2.0 Multiple Response Type Encoding Practices §2.1).
      if (!handler.responseModes.some((mode) => mode === requestedMode)) {
        throw new InvalidRequestError(`response_mode ${requestedMode} cannot be used with response_type ${handler.responseType}`)
      }
    }
    const responseMode = this.responseModeOrDefault(request, verified)
    const { client } = verified
    const validator = this.options.requestValidator
    if (!(await validator.validateResponseType(client.clientId, handler.responseType, client, request))) {
      throw new UnauthorizedClientError(`The client is not allowed to use response_type ${handler.responseType}`)
    }
    const scope = request.params.get('scope')
    const scopes = scope === undefined ? await validator.getDefaultScopes(client.clientId, request) : parseScope(scope)
    if (scopes.length === 0) throw new InvalidScopeError('scope is required: the client has no default scope')
    if (!(await validator.validateScopes(client.clientId, scopes, client, request))) {
      throw new InvalidScopeError('The requested scope is invalid, unknown or not allowed for this client')
    }
    const resources = parseResources(request.resources)
    if (resources.length > 0 && !(await validator.validateResources(client.clientId, resources, client, request))) {
      throw new InvalidTargetError('The client may not obtain a token for the requested resource')
    }
    await handler.validateAuthorizationRequest(request, client)
    return {
      scopes,
      credentials: {
        client,
        redirectUri: verified.redirectUri,
        redirectUriIncluded: verified.redirectUriIncluded,
        responseType: handler.responseType,
        responseMode,
        state: request.params.get('state'),
        resources,
        request,
      },
    }
  }

  /** The requested response mode if the response type allows it, else the response type's default. */
  private responseModeOrDefault(request: OAuth2Request, verified: VerifiedClient): ResponseMode {
    const requested = request.repeated.has('response_mode') ? undefined : request.params.get('response_mode')
    return verified.responseModes.find((mode) => mode === requested) ?? verified.defaultMode
  }

  private withStateAndIssuer(params: Record<string, string>, state: string | undefined, request: OAuth2Request): Record<string, string> {
    return { ...params, ...(state === undefined ? {} : { state }), iss: this.options.issuer ?? request.uri.origin }
  }
}

/** The client and redirect URI of a request, verified. */
interface VerifiedClient {
  readonly client: Client
  readonly redirectUri: string
  readonly redirectUriIncluded: boolean
  /** The response mode of the requested response type, used for errors when the request names none it allows. */
  readonly defaultMode: ResponseMode
  readonly responseModes: readonly ResponseMode[]
}
