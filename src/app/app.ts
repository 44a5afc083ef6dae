/**
 * The ready-to-run authorization server: a `Server` over a `Store`, with login and consent pages, served as one
 * Fetch API handler (`(Request) => Promise<Response>`) built on the `oauthkit/fetch` adapter.
 *
 * @module
 */
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { fromFetchRequest, protocolRoutes, routerResponse, withCors } from '../adapters/fetch.js'
import { serveRouter } from '../adapters/node.js'
import { nodeSigner } from '../adapters/node-signer.js'
import { Router, type HttpResponse } from '../adapters/router.js'
import { parseResources } from '../core/resource-indicator.js'
import { Server } from '../servers.js'
import { type Store } from '../store/store.js'
import { StoreValidator, type StoreClientMetadataDocumentsPolicy } from '../store/validator.js'
import { type TokenGenerator } from '../tokens/generator.js'
import { randomTokenGenerator } from '../tokens/random-token.js'
import { DEFAULT_ID_TOKEN_EXPIRES_IN, type IdTokenKey, type IdTokenSigner } from '../tokens/id-token.js'
import { compactSigner } from '../tokens/jws.js'
import { signedTokenGenerator, type SigningAlgorithm } from '../tokens/signed-token.js'
import { SigningKeys } from './keys.js'
import { stdoutLines } from './log.js'
import { LoginAndConsent, page } from './login-and-consent.js'
import { errorPage } from './pages.js'
import { RateLimiter, type RateLimitOptions } from './rate-limit.js'
import { registrationRoutes } from './registration.js'
import { Sessions } from './session.js'

/** Options of {@link createApp}. */
export interface AppOptions {
  /** Where clients, users, codes, tokens, consents and signing keys live. */
  readonly store: Store
  /**
   * The issuer identifier and public origin, e.g. `https://as.example.com`: every URL of the metadata is under it.
   * Plain `http` only on loopback (development).
   */
  readonly issuer: string
  /** `opaque` (default): random tokens checked through the store; `jwt`: RFC 9068 tokens signed with the store's keys. */
  readonly tokenFormat?: 'opaque' | 'jwt' | undefined
  /**
   * The algorithm of the signing keys this instance generates, for ID tokens and JWT access tokens: `ES256` (the
   * default on first start), `RS256` (which OpenID Connect Discovery §3 expects every provider to offer) or `EdDSA`. A
   * key already in the store keeps its algorithm: a change applies from the next rotation (`app.keys.rotate()`,
   * `oauthkit keys rotate`), and both are advertised meanwhile.
   */
  readonly signingAlg?: SigningAlgorithm | undefined
  /**
   * Serve the password grant (RFC 6749 §4.3) at `/token`, and list it in the metadata. Default `false`: RFC 9700 §2.4
   * says it MUST NOT be used; turn it on only for a legacy client that cannot be moved to the code flow. Its guesses
   * count on the login page's per-username and per-address limits.
   */
  readonly enablePasswordGrant?: boolean | undefined
  /** Access token lifetime in seconds; default one hour. */
  readonly tokenExpiresIn?: number | undefined
  /**
   * Signs CSRF tokens (at least 32 bytes). Default: the installation's own secret, made once and kept in the store, so
   * that every instance over one database shares it without configuration. Sessions themselves are kept in the store.
   */
  readonly sessionSecret?: Uint8Array | undefined
  /**
   * Rate limiting of failed sign-ins and failed token requests, counted in the store (shared by every instance over
   * one database): past a limit, 429 with `Retry-After`. Defaults: sign-ins 5 failures per 15 minutes per username
   * and per address; token requests 20 failed client authentications per 5 minutes per client and 100 failures per
   * 5 minutes per address (see {@link RateLimitOptions}). `false` turns it off: no counter is read or written.
   */
  readonly rateLimit?: RateLimitOptions | false | undefined
  /**
   * Client registration (RFC 7591) at `/register`, advertised as `registration_endpoint`, under the per-address
   * registration limit: open to any client (`policy: 'open'`, the default) or to those with an initial access token
   * (`'token'`, made with `store.initialAccessTokens`). A registered client may obtain `scopes` (a request for others
   * is narrowed to these), and reads, updates and deletes its registration at `/register/{client_id}` (RFC 7592). One
   * that never obtains a code or token is removed after `unusedTtl` seconds (default a day), and one that obtains none
   * for `inactiveTtl` seconds (default 90 days, 0 never) too. Off (no `/register`) when absent.
   */
  readonly registration?:
    | {
        readonly policy?: 'open' | 'token' | undefined
        readonly scopes: readonly string[]
        readonly unusedTtl?: number | undefined
        readonly inactiveTtl?: number | undefined
      }
    | undefined
  /**
   * The protected resources (absolute URIs) this server issues tokens for: any client may ask for them with
   * `resource` (RFC 8707), and its tokens then name them as audience; any other resource is `invalid_target`.
   */
  readonly resources?: readonly string[] | undefined
  /**
   * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the MCP authorization specification's
   * recommended way for a client to introduce itself): a `client_id` that is an https URL is the client its document
   * describes, fetched safely and cached; such a client is public, may obtain `scopes` (a document asking for others
   * is narrowed to these), and is marked unverified on the consent page. The metadata says
   * `client_id_metadata_document_supported: true`. Off when absent. The other options are those of
   * `ClientIdMetadataDocuments`; `allowLoopback` (documents on loopback addresses, over http too) is for local
   * development and tests only, and is refused unless the issuer is on loopback.
   */
  readonly clientMetadataDocuments?: StoreClientMetadataDocumentsPolicy | undefined
  /**
   * Seconds during which a client whose refresh response was lost may retry with the old refresh token and get a fresh
   * pair, nothing revoked, as long as the new refresh token has not been used; default 30, 0 for strict rotation (see
   * `StoreValidatorOptions.refreshTokenRetryWindow`).
   */
  readonly refreshTokenRetryWindow?: number | undefined
  /**
   * Seconds between purges of expired codes, tokens, sessions and rate-limit windows, the first 30 s after start (or
   * sooner with a shorter interval); default 600 (`serve --purge-interval`).
   */
  readonly purgeInterval?: number | undefined
  /**
   * Receives one structured entry per request (never a query string, which may hold a code) and every server error.
   * Default: one JSON line each on stdout, written in batches once per turn of the event loop.
   */
  readonly log?: ((entry: Record<string, unknown>) => void) | undefined
}

/** What the handler knows of the connection, which a `Request` does not carry. */
export interface ConnectionInfo {
  /**
   * The client's address, for the per-address rate limits (without it they do not apply). Behind a proxy, the address
   * the proxy saw, never one the client could forge.
   */
  readonly remoteAddress?: string | undefined
}

/** The running application. */
export interface App {
  /** Handles one HTTP request. Never rejects. */
  fetch(request: Request, connection?: ConnectionInfo): Promise<Response>
  /**
   * A node:http request listener serving this app, as `oauthkit serve` does: the same router as {@link App.fetch},
   * fed straight from node:http, without a Fetch `Request` and `Response`. The client's address is the connection's
   * or, with `trustProxy`, the last `X-Forwarded-For` entry (the one the proxy appended; earlier ones are the
   * client's to forge).
   *
   * @param options - `trustProxy`: the request is rebuilt from `X-Forwarded-Proto`/`-Host`/`-For`; set it only behind
   *   a proxy that overwrites them
   * @example
   * ```ts
   * createServer(app.nodeListener()).listen(3000, '127.0.0.1')
   * ```
   */
  nodeListener(options?: { readonly trustProxy?: boolean | undefined }): (req: IncomingMessage, res: ServerResponse) => void
  /** The OAuth server inside, for embedding. */
  readonly server: Server
  readonly validator: StoreValidator
  readonly keys: SigningKeys
  /** Stops background work (purging); the store is the caller's to close. */
  close(): Promise<void>
}

/** The access token lifetime of the ready server, in seconds, unless `tokenExpiresIn` says otherwise. */
export const DEFAULT_TOKEN_EXPIRES_IN = 3600

/**
 * Builds the ready-to-run server: `/authorize`, `/token`, `/revoke`, `/introspect`, `/jwks.json`,
 * `/.well-known/oauth-authorization-server`, `/login`, `/consent`, `/logout`, `/healthz` and a home page at `/`.
 *
 * @throws TypeError when the issuer is not an https URL (or http on loopback) without path, query or fragment
 */
export async function createApp(options: AppOptions): Promise<App> {
  const issuer = checkIssuer(options.issuer)
  const secure = new URL(issuer).protocol === 'https:'
  const stdout = options.log === undefined ? stdoutLines() : undefined
  const log = options.log ?? ((entry) => stdout?.write(JSON.stringify(entry)))
  const tokenExpiresIn = options.tokenExpiresIn ?? DEFAULT_TOKEN_EXPIRES_IN
  const keys = await SigningKeys.load(options.store, { maxTokenLifetime: tokenExpiresIn, alg: options.signingAlg })
  const registration = options.registration
  const documents = options.clientMetadataDocuments
  if (documents?.allowLoopback === true && !isLoopbackOrigin(issuer)) {
    throw new TypeError('clientMetadataDocuments.allowLoopback is for local development only: it needs a loopback http issuer')
  }
  const reportServerError = (error: unknown) => log({ level: 'error', message: 'server error', error: describe(error) })
  const validator = new StoreValidator(options.store, {
    issuer,
    registration: registration === undefined ? undefined : { ...registration, policy: registration.policy ?? 'open' },
    resources: options.resources === undefined ? undefined : parseResources(options.resources),
    refreshTokenRetryWindow: options.refreshTokenRetryWindow,
    clientMetadataDocuments: documents,
  })
  const limiter = RateLimiter.create(
    options.store.rateLimits,
    await options.store.installationSecret('rate-limit'),
    options.rateLimit,
    log,
    (error) => options.store.isUnavailableError(error),
  )
  const server = new Server(validator, {
    issuer,
    tokenExpiresIn,
    tokenGenerator: options.tokenFormat === 'jwt' ? jwtGenerator(keys, issuer) : randomTokenGenerator,
    // Behind a TLS-terminating proxy the request URL is rebuilt as https (trustProxy); plain http is loopback only.
    allowInsecureTransport: !secure,
    metadata: {
      jwks_uri: `${issuer}/jwks.json`,
      scopes_supported: OPENID_SCOPES,
      ...(registration === undefined ? {} : { registration_endpoint: `${issuer}/register` }),
      ...(documents === undefined ? {} : { client_id_metadata_document_supported: true }),
    },
    // OpenID Connect: ID tokens signed with the keys of the JWKS, UserInfo and discovery. They live no longer than access
    // tokens, which is how long a retired key stays published.
    idTokenSigner: idTokenSignerOf(keys, issuer, options.signingAlg),
    idTokenExpiresIn: Math.min(DEFAULT_ID_TOKEN_EXPIRES_IN, tokenExpiresIn),
    onError: reportServerError,
    tokenRequestHooks: limiter?.tokenRequestHooks(),
    enablePasswordGrant: options.enablePasswordGrant === true,
  })
  // The CSRF key, like the rate-limit keys' HMAC key, is the installation's, from the store: every instance over one
  // database has it without configuration.
  const sessions = new Sessions({ table: options.store.sessions, secret: options.sessionSecret ?? (await options.store.installationSecret('csrf')), secure })
  const stopPurging = validator.startPurging(options.purgeInterval ?? 600, (error) => log({ level: 'error', message: 'purge failed', error: describe(error) }))
  const people = new LoginAndConsent(server, validator, options.store, sessions, limiter, issuer)

  const reportFailure = (error: unknown) => log({ level: 'error', message: 'request failed', error: describe(error) })
  const router = new Router(
    [
      // Browser clients (single-page apps, MCP clients in a page) redeem and refresh from another origin: CORS.
      ...protocolRoutes(server, {}, { cors: true }),
      ['/authorize', (request) => people.authorize(request)],
      ['/login', (request) => people.login(request)],
      ['/consent', (request) => people.consent(request)],
      ['/logout', (request) => people.logout(request)],
      ['/jwks.json', withCors(() => keys.jwksResponse(), ['GET', 'HEAD'])],
      ['/healthz', () => health(options.store)],
      ...(registration === undefined ? [] : registrationRoutes({ requestValidator: validator, allowInsecureTransport: !secure, onError: reportServerError }, limiter)),
      ['/', (request) => people.home(request)],
    ],
    {
      onError: reportFailure,
      failure: () => page(500, errorPage('Something went wrong', 'The server could not complete the request. Please try again.')),
      // One line per request; the path only, since a query may carry a code or state.
      onResponse: (request, response, started) =>
        log({
          time: new Date().toISOString(),
          method: request.method,
          path: request.url.pathname,
          status: response.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          remote: request.remoteAddress,
        }),
    },
  )

  return {
    server,
    validator,
    keys,
    async fetch(request, connection = {}) {
      return routerResponse(await router.handle(fromFetchRequest(request, connection.remoteAddress)), request, reportFailure)
    },
    nodeListener({ trustProxy = false } = {}) {
      return (req, res) => {
        void serveRouter(router, req, res, { trustProxy, onError: reportFailure })
      }
    },
    async close() {
      stopPurging()
      keys.stop()
      stdout?.close()
    },
  }
}

/** The scopes of OpenID Connect (Core §3.1.2.1, §5.4), advertised as `scopes_supported`; clients have their own. */
const OPENID_SCOPES = ['openid', 'profile', 'email', 'address', 'phone']

/**
 * An ID token signer over the store's keys: it signs with the current key, so a rotation takes effect at once, each
 * key's signer made once.
 */
function idTokenSignerOf(keys: SigningKeys, issuer: string, configured: SigningAlgorithm | undefined): IdTokenSigner {
  const signers = new Map<string, IdTokenKey>()
  return {
    issuer,
    // The key that signs now, and the algorithm the next rotation brings in (the metadata is made once, at start).
    algorithms: [...new Set([keys.current().alg, configured ?? keys.current().alg])],
    current() {
      const { kid, alg, privateKey } = keys.current()
      let key = signers.get(kid)
      if (key === undefined) {
        key = { alg, sign: compactSigner(nodeSigner(privateKey, alg), alg, { alg, typ: 'JWT', kid }) }
        signers.set(kid, key)
      }
      return key
    },
  }
}

/** A signed-token generator that always signs with the store's current key, so a rotation takes effect at once. */

function jwtGenerator(keys: SigningKeys, issuer: string): TokenGenerator {
  const generators = new Map<string, TokenGenerator>()
  return (context) => {
    const { kid, alg, privateKey } = keys.current()
    let generator = generators.get(kid)
    if (generator === undefined) {
      // Signed with node:crypto: in the calling thread, about half the CPU of crypto.subtle.sign on Node.
      generator = signedTokenGenerator(nodeSigner(privateKey, alg), { issuer, alg, kid })
      generators.set(kid, generator)
    }
    return generator(context)
  }
}

/** `/healthz`: 200 when the store answers, 503 when it cannot be reached. */
async function health(store: Store): Promise<HttpResponse> {
  const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }
  try {
    await store.clientTable.get('healthz')
    return { status: 200, headers, body: JSON.stringify({ status: 'ok' }) }
  } catch (error) {
    const status = store.isUnavailableError(error) ? 503 : 500
    return { status, headers, body: JSON.stringify({ status: 'unavailable' }) }
  }
}

/**
 * Checks the ready server's issuer: an `https` origin (plain `http` only on loopback), without path, query,
 * fragment or trailing slash.
 *
 * @returns the issuer
 * @throws TypeError saying what is wrong
 */
export function checkIssuer(issuer: string): string {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    throw new TypeError(`The issuer ${issuer} is not a URL`)
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new TypeError(`The issuer must be https: plain http is accepted only for a loopback issuer, got ${issuer}`)
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || issuer.endsWith('/')) {
    throw new TypeError(`The issuer must be an origin without path, query, fragment or trailing slash: ${issuer}`)
  }
  return issuer
}

/** Whether an issuer is plain http on a loopback host, where the development options may be used. */
function isLoopbackOrigin(issuer: string): boolean {
  const url = new URL(issuer)
  return url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname)
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
