/**
 * The OAuth 2.0 error model: one class per error code that RFC 6749, RFC 6750 and RFC 7009 define.
 *
 * Validate-style calls throw these; create-style calls turn them into responses with {@link errorResponse}.
 *
 * @module
 */

/**
 * Every error code an oauthkit error can carry on the wire.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 | RFC 6750 §3.1}
 * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1 | RFC 7009 §2.2.1}
 * @see {@link https://www.rfc-editor.org/rfc/rfc8707#section-2 | RFC 8707 §2}
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#AuthError | OpenID Connect Core §3.1.2.6}
 */
export type OAuth2ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'unsupported_token_type'
  | 'invalid_target'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'

/** Options every {@link OAuth2Error} accepts. */
export interface OAuth2ErrorOptions {
  /**
   * A URI of a page that explains the error (`error_uri`). Must use only the characters RFC 6749 §5.2 allows.
   */
  readonly uri?: string
  /** The client's `state`, echoed in an error redirected to the client (RFC 6749 §4.1.2.1). */
  readonly state?: string
  /**
   * What really happened, for the `onError` hook and logs. Never serialized onto the wire.
   */
  readonly cause?: unknown
  /**
   * `false` when the error concerns the client's identity or its redirect URI: such an error is shown to the user and
   * never sent to the redirect URI (RFC 6749 §4.1.2.1). Defaults to `true`.
   */
  readonly redirectable?: boolean
  /** Extra response headers, e.g. `Allow` or `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>
  /** Overrides the class's HTTP status, e.g. 405 for a request with the wrong method. */
  readonly status?: number
}

// RFC 6749 §5.2: error_description and error_uri use %x20-21 / %x23-5B / %x5D-7E (no `"` and no `\`), so the
// values are always safe inside a JSON string and a quoted WWW-Authenticate parameter.
const DESCRIPTION_CHARS = /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/
const URI_CHARS = /^[\x21\x23-\x5B\x5D-\x7E]*$/

/**
 * The base of every OAuth 2.0 protocol error. Subclasses fix `error` and the default `status`.
 *
 * `description` is public and goes on the wire as `error_description`; `cause` is private and goes only to the
 * `onError` hook.
 */
export abstract class OAuth2Error extends Error {
  /** The RFC error code, sent as `error`. */
  abstract readonly error: OAuth2ErrorCode
  /** The HTTP status of a response carrying this error. */
  readonly status: number
  /** Human-readable text for the client developer, sent as `error_description`. */
  readonly description: string
  /** Sent as `error_uri` when set. */
  readonly uri: string | undefined
  /** The client's `state`, when the error is redirected to the client. */
  readonly state: string | undefined
  /** Whether the error may be sent to the client's redirect URI (see {@link OAuth2ErrorOptions.redirectable}). */
  readonly redirectable: boolean
  /** Headers the response must carry, such as `WWW-Authenticate`. */
  readonly headers: Readonly<Record<string, string>>

  /**
   * @param description - public text, restricted to the characters RFC 6749 §5.2 allows for `error_description`
   * @throws TypeError when `description` or `options.uri` contains a character RFC 6749 §5.2 does not allow
   */
  constructor(description: string, options: OAuth2ErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause })
    if (!DESCRIPTION_CHARS.test(description)) {
      throw new TypeError('OAuth2Error description has characters RFC 6749 §5.2 does not allow')
    }
    if (options.uri !== undefined && !URI_CHARS.test(options.uri)) {
      throw new TypeError('OAuth2Error uri has characters RFC 6749 §5.2 does not allow')
    }
    this.name = new.target.name
    this.status = options.status ?? (new.target as unknown as { defaultStatus: number }).defaultStatus
    this.description = description
    this.uri = options.uri
    this.state = options.state
    this.redirectable = options.redirectable ?? true
    this.headers = options.headers ?? {}
  }

  /** The HTTP status used when no `status` option is given. */
  static readonly defaultStatus: number = 400

  /** The error as the JSON object of RFC 6749 §5.2 (`error`, `error_description`, `error_uri`). */
  toResponseBody(): Record<string, string> {
    const body: Record<string, string> = { error: this.error, error_description: this.description }
    if (this.uri !== undefined) body.error_uri = this.uri
    return body
  }
}

/**
 * The request is missing a required parameter, repeats a parameter, or is otherwise malformed.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export class InvalidRequestError extends OAuth2Error {
  readonly error = 'invalid_request'
}

/**
 * Client authentication failed: unknown client, no authentication, or an unsupported method. Status 401, with a
 * `WWW-Authenticate: Basic` challenge unless `options.headers` replaces it.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export class InvalidClientError extends OAuth2Error {
  readonly error = 'invalid_client'
  static override readonly defaultStatus: number = 401

  /** Adds the `WWW-Authenticate: Basic` challenge that RFC 6749 §5.2 and RFC 7235 §3.1 require on a 401. */
  constructor(description: string, options: OAuth2ErrorOptions = {}) {
    super(description, { ...options, headers: { 'WWW-Authenticate': BASIC_CHALLENGE, ...options.headers } })
  }
}

/** The challenge of every 401 `invalid_client`. */
const BASIC_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'

/**
 * The authorization grant or refresh token is invalid, expired, revoked, already used, bound to another redirect URI
 * or issued to another client.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export class InvalidGrantError extends OAuth2Error {
  readonly error = 'invalid_grant'
}

/**
 * The client is not allowed to use this grant type or response type.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export class UnauthorizedClientError extends OAuth2Error {
  readonly error = 'unauthorized_client'
}

/**
 * The authorization server does not support this grant type.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5.2 | RFC 6749 §5.2}
 */
export class UnsupportedGrantTypeError extends OAuth2Error {
  readonly error = 'unsupported_grant_type'
}

/**
 * The requested scope is invalid, unknown, malformed, or exceeds what was granted.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.3 | RFC 6749 §3.3}
 */
export class InvalidScopeError extends OAuth2Error {
  readonly error = 'invalid_scope'
}

/**
 * The resource owner or the authorization server denied the request. Status 403 when not redirected.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
 */
export class AccessDeniedError extends OAuth2Error {
  readonly error = 'access_denied'
  static override readonly defaultStatus: number = 403
}

/**
 * `prompt=none` was asked, and the user is not signed in (or not recently enough for `max_age`). Redirected to the
 * client like `access_denied`.
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#AuthError | OpenID Connect Core §3.1.2.6}
 */
export class LoginRequiredError extends OAuth2Error {
  readonly error = 'login_required'
}

/**
 * `prompt=none` was asked, and the user has not consented to this client and these scopes (or the client is public,
 * whose consent is asked every time).
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#AuthError | OpenID Connect Core §3.1.2.6}
 */
export class ConsentRequiredError extends OAuth2Error {
  readonly error = 'consent_required'
}

/**
 * The authorization server answers this request only with a page, and the client asked for none.
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#AuthError | OpenID Connect Core §3.1.2.6}
 */
export class InteractionRequiredError extends OAuth2Error {
  readonly error = 'interaction_required'
}

/**
 * The authorization server does not support this response type.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
 */
export class UnsupportedResponseTypeError extends OAuth2Error {
  readonly error = 'unsupported_response_type'
}

/**
 * An unexpected condition prevented the server from answering. Status 500. Its description is always generic; what
 * happened travels in `cause` to the `onError` hook.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
 */
export class ServerError extends OAuth2Error {
  readonly error = 'server_error'
  static override readonly defaultStatus: number = 500

  constructor(options: OAuth2ErrorOptions = {}) {
    super('The authorization server encountered an unexpected condition', options)
  }
}

/**
 * The server is overloaded or under maintenance, e.g. its database is unreachable. Status 503; pass a `Retry-After`
 * header in `options.headers` when a retry time is known.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1 | RFC 6749 §4.1.2.1}
 */
export class TemporarilyUnavailableError extends OAuth2Error {
  readonly error = 'temporarily_unavailable'
  static override readonly defaultStatus: number = 503
}

/**
 * The access token is expired, revoked, malformed or otherwise invalid. Status 401.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 | RFC 6750 §3.1}
 */
export class InvalidTokenError extends OAuth2Error {
  readonly error = 'invalid_token'
  static override readonly defaultStatus: number = 401
}

/**
 * The access token lacks the scope the resource requires. Status 403.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6750#section-3.1 | RFC 6750 §3.1}
 */
export class InsufficientScopeError extends OAuth2Error {
  readonly error = 'insufficient_scope'
  static override readonly defaultStatus: number = 403
}

/**
 * The server cannot revoke tokens of the type the client named.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7009#section-2.2.1 | RFC 7009 §2.2.1}
 */
export class UnsupportedTokenTypeError extends OAuth2Error {
  readonly error = 'unsupported_token_type'
}

/**
 * The requested resource (RFC 8707 `resource` parameter) is invalid, unknown, or not one the client may obtain a
 * token for.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc8707#section-2 | RFC 8707 §2}
 */
export class InvalidTargetError extends OAuth2Error {
  readonly error = 'invalid_target'
}

/**
 * A redirect URI in a registration request is not one the server accepts: not absolute, with a fragment, or neither
 * https, loopback http nor a native app's private-use scheme.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2 | RFC 7591 §3.2.2}
 */
export class InvalidRedirectUriError extends OAuth2Error {
  readonly error = 'invalid_redirect_uri'
}

/**
 * A field of a registration request's client metadata is malformed, unknown in value, or inconsistent with another
 * (a public client of the client credentials grant, response types that do not match the grant types).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7591#section-3.2.2 | RFC 7591 §3.2.2}
 */
export class InvalidClientMetadataError extends OAuth2Error {
  readonly error = 'invalid_client_metadata'
}

/**
 * Thrown by a {@link RequestValidator} hook the application did not implement. The endpoint reports it through
 * `onError` and answers `server_error`, so a missing hook denies instead of allowing.
 */
export class ValidatorNotImplementedError extends Error {
  /** The name of the hook that is missing, e.g. `authenticateClient`. */
  readonly hook: string

  constructor(hook: string) {
    super(`RequestValidator.${hook} is not implemented: override it in your validator`)
    this.name = 'ValidatorNotImplementedError'
    this.hook = hook
  }
}
