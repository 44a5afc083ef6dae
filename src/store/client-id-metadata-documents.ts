/**
 * Fetching client ID metadata documents (draft-ietf-oauth-client-id-metadata-document) safely: the server is made to
 * fetch a URL that anyone may name in an authorization request, so every fetch is a server-side request forgery
 * (SSRF) attempt until shown otherwise.
 *
 * - `https` only (loopback `http` with the development option), the URL checked by `parseClientIdUrl` first;
 * - the host is resolved once, every address it resolves to must be public (not loopback, private, link-local,
 *   CGNAT, multicast, reserved or documentation space, in IPv4 or IPv6, IPv4-mapped and NAT64 forms included), and the
 *   connection goes to one of those vetted addresses and no other: the socket's lookup answers them, and the
 *   connected peer is checked again, so a DNS answer that changes between the check and the connection (rebinding)
 *   changes nothing;
 * - no redirect is followed (draft §4), only 200 is accepted, the body is capped (5 KiB by default, draft §6.6) and
 *   must be JSON, not compressed; the whole fetch, resolution and waiting included, has one deadline;
 * - at most a few fetches run at once, a few more wait, and the rest are refused at once; concurrent requests for one
 *   URL share one fetch;
 * - valid documents are cached for as long as their `Cache-Control` (or `Expires`) says, within bounds, in a cache of
 *   bounded size (least recently used out first); errors and invalid documents are never cached (draft §4.4).
 *
 * @module
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { BlockList, isIP } from 'node:net'
import { OAuth2Error } from '../core/errors.js'
import { parseClientIdMetadataDocument, parseClientIdUrl } from '../endpoints/client-id-metadata-document.js'
import { type ClientMetadata, type ClientMetadataPolicy } from '../endpoints/client-metadata.js'
import { classifyAddress, pinnedLookup, systemLookup, type HostLookup, type LookupAddress } from './public-addresses.js'

export { classifyAddress, type AddressKind, type HostLookup, type LookupAddress } from './public-addresses.js'

/** Options of {@link ClientIdMetadataDocuments}. */
export interface ClientIdMetadataDocumentsOptions {
  /** The grant types a document may name; default `authorization_code` and `refresh_token`. */
  readonly grantTypes?: readonly string[] | undefined
  /**
   * For local development and tests only: documents on loopback addresses (127.0.0.0/8, ::1) are fetched, over
   * `http` as well as `https`. Every other non-public address is still refused. Default `false`.
   */
  readonly allowLoopback?: boolean | undefined
  /**
   * Resolves host names; default `dns.promises.lookup` with `all: true`. Tests pass their own to pretend that a name
   * resolves to a public or a private address; the connection then goes to the address this answered.
   */
  readonly lookup?: HostLookup | undefined
  /**
   * The certificate authorities (PEM) that https documents are verified against, instead of Node's (which
   * `NODE_EXTRA_CA_CERTS` extends). Default Node's.
   */
  readonly ca?: string | readonly string[] | undefined
  /** The largest document accepted, in bytes; default 5120 (draft §6.6 recommends 5 KB). */
  readonly maxBytes?: number | undefined
  /** The whole fetch (waiting for a turn, resolution, connection, answer) must end within this; default 5000 ms. */
  readonly timeoutMs?: number | undefined
  /** Fetches running at once; default 8. */
  readonly maxConcurrentFetches?: number | undefined
  /** Fetches waiting for a turn; past this a fetch is refused at once ({@link ClientIdMetadataDocumentError} `busy`). Default 32. */
  readonly maxWaitingFetches?: number | undefined
  /** Documents kept in the cache; default 1000. */
  readonly cacheEntries?: number | undefined
  /** The shortest time a valid document is cached, whatever its headers say (`no-store` included); default 60 s. */
  readonly minCacheSeconds?: number | undefined
  /** The longest time a valid document is cached, whatever its headers say; default a day. */
  readonly maxCacheSeconds?: number | undefined
  /** How long a document whose response says nothing about caching is kept; default 300 s (within the bounds). */
  readonly defaultCacheSeconds?: number | undefined
}

/**
 * Why a client ID metadata document could not be used. `description` is safe to show and to send as an
 * `error_description` (RFC 6749 §5.2 characters only); `cause` is for logs.
 */
export class ClientIdMetadataDocumentError extends Error {
  constructor(
    /** Public text: what was wrong with the URL, the fetch or the document. */
    readonly description: string,
    /**
     * `invalid`: the URL or the document breaks a rule, or it is on an address that is refused; `unreachable`: the
     * fetch failed (resolution, connection, TLS, timeout, status); `busy`: too many fetches are running, retry later.
     */
    readonly reason: 'invalid' | 'unreachable' | 'busy',
    options?: { cause?: unknown },
  ) {
    super(description, options)
    this.name = 'ClientIdMetadataDocumentError'
  }
}

const DEFAULTS = {
  maxBytes: 5120,
  timeoutMs: 5000,
  maxConcurrentFetches: 8,
  maxWaitingFetches: 32,
  cacheEntries: 1000,
  minCacheSeconds: 60,
  maxCacheSeconds: 86_400,
  defaultCacheSeconds: 300,
}

/** The grant types a document may name unless told otherwise: the code grant and refresh (a public client). */
const DEFAULT_GRANT_TYPES: readonly string[] = ['authorization_code', 'refresh_token']

interface CacheEntry {
  readonly metadata: ClientMetadata
  /** Milliseconds since the epoch. */
  readonly expiresAt: number
}

/**
 * Client ID metadata documents, fetched safely (see the module's documentation) and cached.
 *
 * @example
 * ```ts
 * const documents = new ClientIdMetadataDocuments()
 * const metadata = await documents.resolve('https://client.example.com/oauth/client.json')
 * ```
 */
export class ClientIdMetadataDocuments {
  private readonly cache = new Map<string, CacheEntry>()
  private readonly inflight = new Map<string, Promise<ClientMetadata>>()
  private readonly waiting: Array<{ start: () => void }> = []
  private active = 0
  private readonly settings: typeof DEFAULTS
  private readonly policy: ClientMetadataPolicy
  private readonly lookup: HostLookup
  /** Whether loopback documents (and loopback http) are allowed: the development option. */
  readonly allowLoopback: boolean

  /** @throws TypeError when a limit is not a positive whole number, or the cache bounds are out of order */
  constructor(private readonly options: ClientIdMetadataDocumentsOptions = {}) {
    const settings = { ...DEFAULTS }
    for (const name of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const value = options[name] ?? DEFAULTS[name]
      const least = name === 'minCacheSeconds' || name === 'defaultCacheSeconds' ? 0 : 1
      if (!Number.isSafeInteger(value) || value < least) throw new TypeError(`ClientIdMetadataDocuments ${name} must be a whole number of at least ${least}`)
      settings[name] = value
    }
    if (settings.minCacheSeconds > settings.maxCacheSeconds) throw new TypeError('ClientIdMetadataDocuments minCacheSeconds must not exceed maxCacheSeconds')
    this.settings = settings
    this.policy = { grantTypes: options.grantTypes ?? DEFAULT_GRANT_TYPES }
    this.lookup = options.lookup ?? systemLookup
    this.allowLoopback = options.allowLoopback === true
  }

  /** How many documents the cache holds (expired ones not yet dropped included). */
  get cachedCount(): number {
    return this.cache.size
  }

  /** How many fetches are running now. */
  get activeFetches(): number {
    return this.active
  }

  /** Forgets every cached document. */
  clear(): void {
    this.cache.clear()
  }

  /**
   * The metadata of the client whose `client_id` is `clientId`: from the cache while fresh, else fetched and checked
   * (`parseClientIdUrl`, `parseClientIdMetadataDocument`).
   *
   * @throws {@link ClientIdMetadataDocumentError} saying why the document cannot be used
   */
  resolve(clientId: string): Promise<ClientMetadata> {
    const cached = this.cache.get(clientId)
    if (cached !== undefined) {
      this.cache.delete(clientId)
      if (cached.expiresAt > Date.now()) {
        // Least recently used first: a hit moves the entry to the end.
        this.cache.set(clientId, cached)
        return Promise.resolve(cached.metadata)
      }
    }
    const pending = this.inflight.get(clientId)
    if (pending !== undefined) return pending
    let url: URL
    try {
      url = parseClientIdUrl(clientId, { allowHttpLoopback: this.allowLoopback })
    } catch (error) {
      return Promise.reject(invalid(error instanceof OAuth2Error ? error.description : 'The client_id is not a valid URL', error))
    }
    const fetching = this.fetchAndCache(clientId, url).finally(() => this.inflight.delete(clientId))
    this.inflight.set(clientId, fetching)
    return fetching
  }

  private async fetchAndCache(clientId: string, url: URL): Promise<ClientMetadata> {
    const deadline = AbortSignal.timeout(this.settings.timeoutMs)
    await this.turn(deadline)
    let fetched: { body: Buffer; headers: IncomingHttpHeaders }
    try {
      fetched = await this.fetch(url, deadline)
    } finally {
      this.release()
    }
    let json: unknown
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fetched.body))
    } catch (error) {
      throw invalid('The document is not JSON', error)
    }
    let metadata: ClientMetadata
    try {
      metadata = parseClientIdMetadataDocument(json, clientId, this.policy)
    } catch (error) {
      if (error instanceof OAuth2Error) throw invalid(error.description, error)
      throw error
    }
    const seconds = cacheSeconds(fetched.headers, this.settings)
    if (seconds > 0) {
      if (this.cache.size >= this.settings.cacheEntries) this.evict()
      this.cache.set(clientId, { metadata, expiresAt: Date.now() + seconds * 1000 })
    }
    return metadata
  }

  /** Drops the expired entries, and the least recently used one if that freed nothing. */
  private evict(): void {
    const now = Date.now()
    for (const [key, entry] of this.cache) if (entry.expiresAt <= now) this.cache.delete(key)
    if (this.cache.size >= this.settings.cacheEntries) {
      const oldest = this.cache.keys().next()
      if (oldest.done !== true) this.cache.delete(oldest.value)
    }
  }

  /** Waits for a turn to fetch: at once when fewer than the limit run, in line when a few wait, refused otherwise. */
  private turn(deadline: AbortSignal): Promise<void> {
    if (this.active < this.settings.maxConcurrentFetches) {
      this.active++
      return Promise.resolve()
    }
    if (this.waiting.length >= this.settings.maxWaitingFetches) return Promise.reject(busy())
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          deadline.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        const index = this.waiting.indexOf(entry)
        if (index >= 0) this.waiting.splice(index, 1)
        reject(busy())
      }
      deadline.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(entry)
    })
  }

  /** Ends a turn: the next waiting fetch takes it over. */
  private release(): void {
    const next = this.waiting.shift()
    if (next === undefined) this.active--
    else next.start()
  }

  /** GETs the document from a vetted address, under the deadline, without following redirects. */
  private async fetch(url: URL, deadline: AbortSignal): Promise<{ body: Buffer; headers: IncomingHttpHeaders }> {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
    const addresses = await this.vet(host, url, deadline)
    const vetted = new BlockList()
    for (const { address, family } of addresses) vetted.addAddress(address, family === 4 ? 'ipv4' : 'ipv6')
    const https = url.protocol === 'https:'
    const maxBytes = this.settings.maxBytes
    const seconds = this.settings.timeoutMs / 1000
    return new Promise((resolve, reject) => {
      let settled = false
      const fail = (error: ClientIdMetadataDocumentError) => {
        if (settled) return
        settled = true
        request.destroy()
        reject(error)
      }
      const options = {
        method: 'GET',
        hostname: host,
        port: url.port === '' ? undefined : Number(url.port),
        path: `${url.pathname}${url.search}`,
        headers: { Accept: 'application/json', 'Accept-Encoding': 'identity', 'User-Agent': 'oauthkit' },
        // A connection of its own: never one a pool opened to another address.
        agent: false,
        // The socket connects only to the addresses vetted above, whatever the name resolves to by now.
        lookup: pinnedLookup(addresses),
        signal: deadline,
        maxHeaderSize: 8192,
        ...(https ? { servername: isIP(host) === 0 ? host : undefined, ...(this.options.ca === undefined ? {} : { ca: toArray(this.options.ca) }) } : {}),
      }
      const request = (https ? httpsRequest : httpRequest)(options)
      request.on('socket', (socket) => {
        socket.once('connect', () => {
          // Belt and braces: the peer must be one of the vetted addresses.
          const peer = socket.remoteAddress
          const family = socket.remoteFamily === 'IPv6' ? 'ipv6' : 'ipv4'
          if (peer === undefined || !vetted.check(peer, family)) fail(invalid(`The connection went to ${printable(peer ?? 'an unknown address')}, not to the address that was checked`))
        })
      })
      request.on('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0
        const refuse = (description: string, reason: 'invalid' | 'unreachable' = 'invalid') => {
          response.resume()
          fail(new ClientIdMetadataDocumentError(description, reason))
        }
        if (status >= 300 && status < 400) return refuse(`The document URL answered with a redirect (HTTP ${status}); redirects are not followed (client ID metadata document section 4)`)
        if (status !== 200) return refuse(`The document URL answered HTTP ${status}, not 200`, 'unreachable')
        const encoding = (response.headers['content-encoding'] ?? 'identity').trim().toLowerCase()
        if (encoding !== 'identity' && encoding !== '') return refuse('The document must not be compressed (Content-Encoding)')
        const type = (response.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
        if (!/^application\/([a-z0-9.+-]+\+)?json$/.test(type)) return refuse('The document must be served as application/json')
        const length = Number(response.headers['content-length'] ?? 0)
        if (length > maxBytes) return refuse(`The document is larger than ${maxBytes} bytes`)
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > maxBytes) return refuse(`The document is larger than ${maxBytes} bytes`)
          chunks.push(chunk)
        })
        response.on('end', () => {
          if (settled) return
          settled = true
          resolve({ body: Buffer.concat(chunks), headers: response.headers })
        })
        response.on('error', (error) => fail(networkError(error, deadline, seconds)))
      })
      request.on('error', (error) => fail(networkError(error, deadline, seconds)))
      request.end()
    })
  }

  /**
   * Resolves the host (an IP literal stands for itself) and checks every address it has: all must be public, or
   * loopback with the development option; plain http only to loopback.
   */
  private async vet(host: string, url: URL, deadline: AbortSignal): Promise<readonly LookupAddress[]> {
    let addresses: readonly LookupAddress[]
    const literal = isIP(host)
    if (literal !== 0) {
      addresses = [{ address: host, family: literal as 4 | 6 }]
    } else {
      try {
        addresses = await withDeadline(this.lookup(host), deadline)
      } catch (error) {
        if (deadline.aborted) throw unreachable(`The host of the document did not resolve within ${this.settings.timeoutMs / 1000} seconds`, error)
        throw unreachable(`The host ${printable(host)} of the document could not be resolved`, error)
      }
      if (addresses.length === 0) throw unreachable(`The host ${printable(host)} of the document has no address`)
    }
    for (const { address } of addresses) {
      const kind = classifyAddress(address)
      if (kind === 'public' || (kind === 'loopback' && this.allowLoopback)) continue
      throw invalid(`The host of the document resolves to ${printable(address)}, which is not a public address; it is not fetched`)
    }
    if (url.protocol === 'http:' && addresses.some(({ address }) => classifyAddress(address) !== 'loopback')) {
      throw invalid('A document over plain http is fetched from a loopback address only')
    }
    return addresses
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/**
 * How long to keep a document: `s-maxage` or `max-age` of `Cache-Control`, less `Age`, else `Expires` less `Date`,
 * else the default; `no-store` and `no-cache` count as 0. Always within the bounds, so that a document cannot make
 * every request fetch it again, nor stay forever.
 */
function cacheSeconds(headers: IncomingHttpHeaders, settings: typeof DEFAULTS): number {
  const control = (headers['cache-control'] ?? '').toLowerCase()
  let seconds: number | undefined
  if (/(^|,)\s*(no-store|no-cache)\s*(,|=|$)/.test(control)) {
    seconds = 0
  } else {
    const age = /^\d+$/.test(String(headers.age ?? '')) ? Number(headers.age) : 0
    const maxAge = /(?:^|,)\s*s-maxage\s*=\s*"?(\d+)"?/.exec(control) ?? /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/.exec(control)
    if (maxAge !== null) {
      seconds = Number(maxAge[1]) - age
    } else if (headers.expires !== undefined) {
      const expires = Date.parse(headers.expires)
      const date = headers.date === undefined ? Number.NaN : Date.parse(headers.date)
      // RFC 9111 §5.3: an Expires that does not parse means already expired.
      seconds = Number.isNaN(expires) ? 0 : (expires - (Number.isNaN(date) ? Date.now() : date)) / 1000
    }
  }
  const wanted = seconds ?? settings.defaultCacheSeconds
  return Math.min(settings.maxCacheSeconds, Math.max(settings.minCacheSeconds, Math.floor(wanted)))
}

function withDeadline<T>(work: Promise<T>, deadline: AbortSignal): Promise<T> {
  if (deadline.aborted) return Promise.reject(deadline.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(deadline.reason)
    deadline.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        deadline.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        deadline.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

function networkError(error: unknown, deadline: AbortSignal, seconds: number): ClientIdMetadataDocumentError {
  if (deadline.aborted) return unreachable(`The document URL did not answer within ${seconds} seconds`, error)
  const code = (error as { code?: unknown } | undefined)?.code
  const detail = typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? ` (${code})` : ''
  return unreachable(`The document could not be fetched${detail}`, error)
}

function invalid(description: string, cause?: unknown): ClientIdMetadataDocumentError {
  return new ClientIdMetadataDocumentError(description, 'invalid', { cause })
}

function unreachable(description: string, cause?: unknown): ClientIdMetadataDocumentError {
  return new ClientIdMetadataDocumentError(description, 'unreachable', { cause })
}

function busy(): ClientIdMetadataDocumentError {
  return new ClientIdMetadataDocumentError('The server is fetching too many client metadata documents right now; retry later', 'busy')
}

function toArray(ca: string | readonly string[]): string[] {
  return typeof ca === 'string' ? [ca] : [...ca]
}

/** A value quoted in a description: only the characters RFC 6749 §5.2 allows, and short. */
function printable(value: string): string {
  return value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 200)
}
