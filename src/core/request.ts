/**
 * The request model: `(uri, httpMethod, body, headers)` parsed once into an immutable {@link OAuth2Request}.
 *
 * @module
 */
import { InvalidRequestError, type OAuth2ErrorOptions } from './errors.js'

/**
 * A request body as an application may hold it: raw form text, decoded pairs, or a plain object; `null` for none.
 */
export type RequestBody = string | URLSearchParams | Readonly<Record<string, string | readonly string[] | undefined>> | null

/**
 * The absolute request URI: text, or a `URL` an adapter parsed already, which is then used as it is (not copied), so
 * do not change it afterwards.
 */
export type RequestUri = string | URL

/** Request headers: a `Headers` object, a plain object (names in any case), or name/value pairs; `null` for none. */
export type RequestHeaders =
  | null
  | Headers
  | Readonly<Record<string, string | readonly string[] | undefined>>
  | Iterable<readonly [string, string]>

/** Where an endpoint reads its OAuth parameters from. */
export type ParameterSource = 'body' | 'query'

/**
 * Client credentials presented with the request: HTTP Basic (`client_secret_basic`) or the form body
 * (`client_secret_post`).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1 | RFC 6749 §2.3.1}
 */
export interface ClientCredentials {
  readonly clientId: string
  readonly clientSecret: string
  readonly method: 'client_secret_basic' | 'client_secret_post'
}

const REDACTED = '[redacted]'
// Parameters that carry secrets: never printed, logged or serialized (oauthlib's list misses client_secret and code).
const SECRET_PARAMETERS = new Set([
  'client_secret',
  'code',
  'code_verifier',
  'password',
  'access_token',
  'refresh_token',
  'token',
  'assertion',
  'client_assertion',
])
const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization'])

const brand = Symbol('OAuth2Request')
/** The `repeated` of every request that repeats nothing: shared, so it refuses additions. */
const NOTHING_REPEATED: ReadonlySet<string> = new (class extends Set<string> {
  override add(): this {
    throw new TypeError('OAuth2Request.repeated is read-only')
  }
})()
const NO_CREDENTIALS: Readonly<Record<string, unknown>> = Object.freeze({})
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * An OAuth 2.0 request, parsed once on entry to an endpoint. Only {@link parseRequest} creates one, so a grant can
 * trust that parameters were decoded per RFC 6749 Appendix B, empty ones dropped (§3.1, §3.2) and repeated ones
 * set aside (a grant that recognizes a repeated parameter answers `invalid_request`).
 *
 * Everything is read-only except {@link OAuth2Request.claims}, which a validator may fill with extra claims for a
 * signed token, as in oauthlib.
 */
export class OAuth2Request {
  readonly #uri: URL
  /** The HTTP method, upper-cased. */
  readonly httpMethod: string
  /** Request headers, names lower-cased. */
  readonly headers: ReadonlyMap<string, string>
  /** OAuth parameters from the endpoint's source, each sent once and with a value. */
  readonly params: ReadonlyMap<string, string>
  /** Names of parameters sent more than once; their values are not in {@link OAuth2Request.params}. */
  readonly repeated: ReadonlySet<string>
  /**
   * Every `resource` parameter, in order: the one parameter RFC 8707 §2 allows to repeat. Not checked here; grants
   * check each is an absolute URI without a fragment.
   */
  readonly resources: readonly string[]
  /** Client credentials from `Authorization: Basic` or from the body, if any were sent. */
  readonly clientCredentials: ClientCredentials | undefined
  /** Extra data the application passed to the create call (oauthlib's `credentials`), e.g. the user's IP address. */
  readonly credentials: Readonly<Record<string, unknown>>
  /**
   * Extra claims for a signed access token. A validator hook may add to this object; the signed token generator
   * copies them into the JWT, without letting them replace the claims it sets itself.
   */
  readonly claims: Record<string, unknown> = {}

  /** @internal Use {@link parseRequest}. */
  constructor(
    key: typeof brand,
    init: {
      uri: URL
      httpMethod: string
      headers: Map<string, string>
      params: Map<string, string>
      repeated: ReadonlySet<string>
      resources: readonly string[]
      clientCredentials: ClientCredentials | undefined
      credentials: Readonly<Record<string, unknown>>
    },
  ) {
    if (key !== brand) throw new TypeError('OAuth2Request is created by parseRequest only')
    this.#uri = init.uri
    this.httpMethod = init.httpMethod
    this.headers = init.headers
    this.params = init.params
    this.repeated = init.repeated
    this.resources = init.resources
    this.clientCredentials = init.clientCredentials
    this.credentials = init.credentials
  }

  /** The request URI. */
  get uri(): URL {
    return this.#uri
  }

  /** `grant_type` (RFC 6749 §4). */
  get grantType(): string | undefined {
    return this.params.get('grant_type')
  }
  /** `client_id` from the parameters, or from HTTP Basic when the client authenticated that way. */
  get clientId(): string | undefined {
    return this.clientCredentials?.clientId ?? this.params.get('client_id')
  }
  /** The raw `scope` parameter; grants parse it with `parseScope`. */
  get scope(): string | undefined {
    return this.params.get('scope')
  }

  /** A copy safe to log: secrets in parameters and headers are replaced by `[redacted]`. */
  toJSON(): Record<string, unknown> {
    const redact = (names: Set<string>, entries: Iterable<[string, string]>) =>
      Object.fromEntries([...entries].map(([name, value]) => [name, names.has(name) ? REDACTED : value]))
    return {
      uri: `${this.uri.origin}${this.uri.pathname}`,
      httpMethod: this.httpMethod,
      headers: redact(SECRET_HEADERS, this.headers),
      params: redact(SECRET_PARAMETERS, this.params),
      repeated: [...this.repeated],
      resources: this.resources,
      clientId: this.clientId,
      clientAuthenticationMethod: this.clientCredentials?.method,
    }
  }

  /** Node's `util.inspect` shows the redacted form too. */
  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON()
  }
}

/**
 * The scheme of a request URI, with its colon (`https:`), as `URL.protocol` gives it.
 *
 * @internal
 */
export function requestProtocol(request: OAuth2Request): string {
  return request.uri.protocol
}

/**
 * The query of a request URI; `undefined` when it has none (no `?`, or nothing after it).
 *
 * @internal
 */
export function requestQuery(request: OAuth2Request): URLSearchParams | undefined {
  return request.uri.search === '' ? undefined : request.uri.searchParams
}

/**
 * Parses an HTTP request into an {@link OAuth2Request}.
 *
 * - `source: 'body'` reads parameters from the `application/x-www-form-urlencoded` body only (token, revocation and
 *   introspection endpoints: credentials never come from the URI, RFC 6749 §2.3.1); `'query'` from the URI's query.
 * - A parameter sent without a value is treated as omitted (RFC 6749 §3.1, §3.2).
 * - A parameter sent more than once is kept out of `params` and listed in `repeated`, except `resource`, which
 *   RFC 8707 allows to repeat and is collected in `resources`.
 * - `Authorization: Basic` is decoded per RFC 6749 §2.3.1: base64 of `id:secret`, each part form-urlencoded.
 *
 * @throws {@link InvalidRequestError} when the URI, the body's content type, a header or the Basic credentials are
 *   malformed, when the client credentials are repeated, or when the client uses Basic and `client_secret` at once
 */
export function parseRequest(
  uri: RequestUri,
  httpMethod: string,
  body: RequestBody | undefined,
  headers: RequestHeaders | undefined,
  options: { source: ParameterSource; credentials?: Readonly<Record<string, unknown>> | undefined },
): OAuth2Request {
  let url: URL
  try {
    url = uri instanceof URL ? uri : new URL(uri)
  } catch {
    throw new InvalidRequestError('The request URI is not an absolute URI')
  }
  const headerMap = normalizeHeaders(headers)
  const pairs = options.source === 'query' ? url.searchParams : bodyPairs(body, headerMap.get('content-type'))
  const params = new Map<string, string>()
  // Names sent with an empty value (not in `params`, but a second one is still a repetition), and names sent more
  // than once: made only for a request that has such a name.
  let empty: Set<string> | undefined
  let repeated: Set<string> | undefined
  const resources: string[] = []
  for (const [name, value] of pairs) {
    if (name === 'resource') {
      if (value !== '') resources.push(value)
      continue
    }
    // A name sent twice is repeated even when one of its values is empty.
    if (params.has(name) || empty?.has(name) === true || repeated?.has(name) === true) {
      ;(repeated ??= new Set()).add(name)
      params.delete(name)
      continue
    }
    // RFC 6749 §3.1, §3.2: parameters sent without a value are treated as if they were omitted.
    if (value !== '') params.set(name, value)
    else (empty ??= new Set()).add(name)
  }
  if (repeated !== undefined) {
    for (const name of ['client_id', 'client_secret']) {
      if (repeated.has(name)) throw new InvalidRequestError(`${name} is repeated (RFC 6749 section 3.2)`)
    }
  }
  const clientCredentials = readClientCredentials(headerMap.get('authorization'), options.source === 'body' ? params : undefined)
  return new OAuth2Request(brand, {
    uri: url,
    httpMethod: normalizeMethod(httpMethod),
    headers: headerMap,
    params,
    repeated: repeated ?? NOTHING_REPEATED,
    resources,
    clientCredentials,
    credentials: options.credentials === undefined ? NO_CREDENTIALS : Object.freeze({ ...options.credentials }),
  })
}

/**
 * The scheme of an absolute http(s) URI given as text, with its colon (`http:` or `https:`), as `URL.protocol` gives
 * it; `undefined` when the text does not parse as a URL or has another scheme.
 *
 * @internal
 */
export function httpScheme(uri: string): string | undefined {
  let protocol: string
  try {
    protocol = new URL(uri).protocol
  } catch {
    return undefined
  }
  return protocol === 'http:' || protocol === 'https:' ? protocol : undefined
}

/**
 * Refuses a request that repeats any of `names` (RFC 6749 §3.1, §3.2: request parameters MUST NOT be included more
 * than once). Endpoints pass the parameters they read; others are ignored, as unrecognized parameters must be.
 *
 * @param citation - the section to name in the description, e.g. `RFC 7009 section 2.1`
 * @throws {@link InvalidRequestError} naming the first repeated parameter
 */
export function rejectRepeated(
  request: OAuth2Request,
  names: Iterable<string>,
  citation = 'RFC 6749 section 3.2',
  options: Pick<OAuth2ErrorOptions, 'redirectable'> = {},
): void {
  for (const name of names) {
    if (request.repeated.has(name)) throw new InvalidRequestError(`${name} is repeated (${citation})`, options)
  }
}

/**
 * An HTTP method upper-cased when it is plain ASCII letters, else left as it is, so that no Unicode case mapping
 * (`'poſt'.toUpperCase() === 'POST'`) can turn an unknown method into a known one.
 */
export function normalizeMethod(httpMethod: string): string {
  if (httpMethod === 'POST' || httpMethod === 'GET') return httpMethod
  return /^[A-Za-z]+$/.test(httpMethod) ? httpMethod.toUpperCase() : httpMethod
}

function normalizeHeaders(headers: RequestHeaders | undefined): Map<string, string> {
  const map = new Map<string, string>()
  if (headers === undefined || headers === null) return map
  const entries: Iterable<readonly [string, string | readonly string[] | undefined]> =
    typeof Headers !== 'undefined' && headers instanceof Headers
      ? headers.entries()
      : Symbol.iterator in headers
        ? (headers as Iterable<readonly [string, string]>)
        : Object.entries(headers as Record<string, string | readonly string[] | undefined>)
  for (const [rawName, rawValue] of entries) {
    // Outside the declared type, but JavaScript callers send it: a null header is an absent one.
    if (rawValue === undefined || (rawValue as unknown) === null) continue
    const name = rawName.toLowerCase()
    // The common case: one text value, the first of its name.
    if (typeof rawValue === 'string' && !map.has(name)) {
      map.set(name, rawValue)
      continue
    }
    const values: readonly unknown[] = typeof rawValue === 'string' ? [rawValue] : Array.isArray(rawValue) ? rawValue : [rawValue]
    if (values.length === 0) continue
    // Outside the declared type, but JavaScript callers send it: a number or object is no header value.
    if (!values.every((value): value is string => typeof value === 'string')) {
      throw new InvalidRequestError('A request header has a value that is not text')
    }
    // One value per header for the headers OAuth reads; a second Authorization or Content-Type is ambiguous.
    if (map.has(name) || values.length > 1) {
      if (name === 'authorization' || name === 'content-type') {
        throw new InvalidRequestError(`The ${name} header is repeated`)
      }
      map.set(name, [map.get(name), ...values].filter((v) => v !== undefined).join(', '))
      continue
    }
    map.set(name, values[0] as string)
  }
  return map
}

function bodyPairs(body: RequestBody | undefined, contentType: string | undefined): Iterable<[string, string]> {
  if (body === undefined || body === null || body === '') return []
  // RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6: the body is application/x-www-form-urlencoded. A body an adapter already
  // decoded from JSON is refused too, by the Content-Type it came with.
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase()
  if (mediaType !== undefined && mediaType !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequestError('The request body must be application/x-www-form-urlencoded')
  }
  if (typeof body === 'string') return new URLSearchParams(body)
  if (body instanceof URLSearchParams) return body
  const pairs: Array<[string, string]> = []
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined) continue
    const values: readonly unknown[] = Array.isArray(value) ? value : [value]
    for (const item of values) {
      if (typeof item !== 'string') throw new InvalidRequestError(`Parameter ${safeName(name)} is not a string`)
      pairs.push([name, item])
    }
  }
  return pairs
}

function readClientCredentials(
  authorization: string | undefined,
  bodyParams: ReadonlyMap<string, string> | undefined,
): ClientCredentials | undefined {
  const basic = authorization === undefined ? undefined : decodeBasic(authorization)
  const postSecret = bodyParams?.get('client_secret')
  if (basic !== undefined) {
    // RFC 6749 §2.3.1: the client MUST NOT use more than one authentication method in each request.
    if (postSecret !== undefined) {
      throw new InvalidRequestError('Use one client authentication method: HTTP Basic or client_secret, not both')
    }
    const bodyClientId = bodyParams?.get('client_id')
    if (bodyClientId !== undefined && bodyClientId !== basic.clientId) {
      throw new InvalidRequestError('client_id in the body differs from the client in the Authorization header')
    }
    return basic
  }
  if (postSecret === undefined) return undefined
  const clientId = bodyParams?.get('client_id')
  if (clientId === undefined) throw new InvalidRequestError('client_secret was sent without client_id')
  return { clientId, clientSecret: postSecret, method: 'client_secret_post' }
}

function decodeBasic(authorization: string): ClientCredentials | undefined {
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization)
  if (match === null) {
    if (/^basic(\s|$)/i.test(authorization)) throw new InvalidRequestError('The Basic credentials are malformed')
    return undefined // another scheme (e.g. Bearer): not client credentials
  }
  let decoded: string
  try {
    // RFC 7617 §2.1: the user-pass is UTF-8 when the server asks for it (charset="UTF-8" in the challenge).
    const binary = atob(match[1] as string)
    // ASCII credentials (nearly all) are their own UTF-8 decoding.
    if (/^[\x00-\x7F]*$/.test(binary)) decoded = binary
    else {
      const bytes = new Uint8Array(binary.length)
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
      decoded = utf8.decode(bytes)
    }
  } catch {
    throw new InvalidRequestError('The Basic credentials are not base64 of UTF-8 text')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw new InvalidRequestError('The Basic credentials have no colon between client_id and secret')
  // RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded before Basic encoding.
  const clientId = formDecode(decoded.slice(0, colon))
  const clientSecret = formDecode(decoded.slice(colon + 1))
  if (clientId === '') throw new InvalidRequestError('The Basic credentials have an empty client_id')
  return { clientId, clientSecret, method: 'client_secret_basic' }
}

function formDecode(value: string): string {
  // Nothing to decode in nearly every client_id and generated secret.
  if (!value.includes('%') && !value.includes('+')) return value
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    throw new InvalidRequestError('The Basic credentials are not correctly form-urlencoded')
  }
}

/** A parameter name fit to quote in an error description (RFC 6749 §5.2 character set), or a placeholder. */
function safeName(name: string): string {
  return /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(name) ? name : '(unprintable)'
}
