/**
 * The node:http server `oauthkit serve` runs around the ready server: request timeouts, 503 until the app is ready,
 * and connections closed after their answer once shutting down.
 *
 * @module
 */
import { createServer, ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, type Server as HttpServer } from 'node:http'
import { type App } from './app/app.js'

/**
 * How long `oauthkit serve` waits for a client to send its request; past these node:http answers 408 and closes the
 * connection, so a client that never finishes its headers or body cannot hold a connection for long.
 */
export const SERVE_TIMEOUTS: Readonly<ServeTimeouts> = Object.freeze({
  /** The request line and headers (node:http's `headersTimeout`). */
  headersMs: 10_000,
  /** The whole request, body included (`requestTimeout`; node's default is five minutes). */
  requestMs: 30_000,
  /** How often connections are checked against both (`connectionsCheckingInterval`; node's default is 30 s). */
  checkIntervalMs: 1_000,
  /**
   * How long a connection may stay silent, sending nothing at all, before it is closed (the socket's timeout; node's
   * default is never): a client that opens connections and sends no byte cannot hold them.
   */
  idleMs: 30_000,
})

/** How many connections `oauthkit serve` keeps open at once unless told otherwise; past it, new ones are refused. */
export const DEFAULT_MAX_CONNECTIONS = 10_000

/**
 * How long `oauthkit serve` lets requests in flight finish after SIGTERM or SIGINT before it cuts their connections
 * (`serve --shutdown-grace S`): a client stalled mid-request cannot keep the process alive.
 */
export const SHUTDOWN_GRACE_SECONDS = 10

/** A second signal this soon after the first is the same one passed on (by npm, by a shell), not an operator's. */
export const RELAYED_SIGNAL_MS = 1_000

/** How long closing the store may take once the server has closed, before the process exits anyway. */
export const CLOSE_STORE_MS = 5_000

/** See {@link SERVE_TIMEOUTS}. */
export interface ServeTimeouts {
  readonly headersMs: number
  readonly requestMs: number
  readonly checkIntervalMs: number
  readonly idleMs: number
}

/** Options of {@link createServeServer}. */
export interface ServeServerOptions {
  /** The app once it is ready; until then every request is answered 503 with `Retry-After`. */
  readonly app: () => App | undefined
  /** Behind one TLS-terminating proxy (`serve --trust-proxy`). */
  readonly trustProxy: boolean
  /** Once true, no connection is kept alive: each closes after its answer, so the process can exit. */
  readonly shuttingDown?: (() => boolean) | undefined
  /** Other timeouts than {@link SERVE_TIMEOUTS} (`serve --idle-timeout`, tests). */
  readonly timeouts?: Partial<ServeTimeouts> | undefined
  /** The most connections open at once; default {@link DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number | undefined
  /** Called when a connection is refused because the cap is reached (`serve` logs it, at most once a minute). */
  readonly onConnectionRefused?: (() => void) | undefined
}

/** The node:http server `oauthkit serve` runs around the app, not yet listening. */
export function createServeServer(options: ServeServerOptions): HttpServer {
  const { trustProxy } = options
  const timeouts = { ...SERVE_TIMEOUTS, ...options.timeouts }
  const serverOptions = { headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkIntervalMs }
  const shuttingDown = options.shuttingDown ?? (() => false)
  /** Once shutting down, every answer closes its connection: decided when the headers go out, not when it began. */
  class ServeResponse extends ServerResponse {
    override writeHead(statusCode: number, statusMessage?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      if (shuttingDown() && !this.headersSent) this.setHeader('Connection', 'close')
      return typeof statusMessage === 'string' ? super.writeHead(statusCode, statusMessage, headers) : super.writeHead(statusCode, statusMessage)
    }
  }
  // The app's own listener (protocol endpoints straight from node:http, pages through fetch), made once per app.
  let served: { app: App; listener: (req: IncomingMessage, res: ServerResponse) => void } | undefined
  const server = createServer({ ...serverOptions, ServerResponse: ServeResponse }, (req, res) => {
    const app = options.app()
    if (app === undefined) {
      res.writeHead(503, { 'Retry-After': '1' }).end()
      return
    }
    if (served?.app !== app) served = { app, listener: app.nodeListener({ trustProxy }) }
    served.listener(req, res)
  })
  // A silent socket times out and node:http destroys it; a connection past the cap is closed as it arrives.
  server.timeout = timeouts.idleMs
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  const refused = options.onConnectionRefused
  if (refused !== undefined) server.on('drop', () => refused())
  return server
}

/** Listens on `host:port`; rejects with one line when the port is taken or the address cannot be used. */
export function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(new Error(error.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : `cannot listen on ${host}:${port}: ${error.message}`))
    })
    server.listen(port, host, () => resolve())
  })
}
