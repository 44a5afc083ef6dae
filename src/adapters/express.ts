/**
 * The Express adapter (`oauthkit/express`): serves a Fetch API handler as an Express request handler, through
 * `oauthkit/node`.
 *
 * @module
 */
import { type Request as ExpressRequest, type RequestHandler, type Response as ExpressResponse } from 'express'
import { reportAdapterError } from './error-reporting.js'
import { HttpError, type FetchHandler } from './fetch.js'
import { handleNodeRequest, writeResponse, type NodeHandlerOptions } from './node.js'

/** Options of {@link expressHandler}: those of `createNodeHandler`. Express's `trust proxy` setting is not read. */
export type ExpressHandlerOptions = NodeHandlerOptions

/**
 * An Express request handler serving a Fetch API handler (e.g. `createFetchHandler(server)`). It answers every
 * request it receives, 404 included, so mount it at the endpoints' paths, or last. The URL given to the handler
 * is built from `req.originalUrl`, so the paths stay the full ones under a mount path.
 *
 * The core needs the **raw body**: a parsed form has lost repeated parameters, which RFC 6749 §3.1–3.2 requires the
 * server to refuse. So mount oauthkit **before** `express.urlencoded()` and `express.json()`, or on a router without
 * them. A body already read by `express.raw({ type: 'application/x-www-form-urlencoded' })` (a `Buffer`) or
 * `express.text(...)` (a string) is used as it is. A body already parsed into an object is refused with a 500
 * problem response naming this misconfiguration, reported to `onError` as well.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 * @throws TypeError when `maxBodyBytes` is not a non-negative integer
 * @example
 * ```ts
 * const oauth = expressHandler(createFetchHandler(server))
 * app.all(['/token', '/revoke', '/introspect', '/.well-known/oauth-authorization-server'], oauth)
 * app.use(express.urlencoded()) // after oauthkit
 * ```
 */
export function expressHandler(fetchHandler: FetchHandler, options: ExpressHandlerOptions = {}): RequestHandler {
  return (req: ExpressRequest, res: ExpressResponse) => {
    const parsed: unknown = (req as { body?: unknown }).body
    if (typeof parsed === 'string' || Buffer.isBuffer(parsed)) {
      void handleNodeRequest(fetchHandler, req, res, options, { target: req.originalUrl, body: parsed })
      return
    }
    if (parsed !== undefined || req.readableEnded) {
      const error = new HttpError(
        500,
        'oauthkit needs the raw request body, but a body parser already consumed it: mount oauthkit before express.urlencoded() and express.json(), or use express.raw({ type: "application/x-www-form-urlencoded" })',
      )
      reportAdapterError(options.onError, error, undefined)
      void writeResponse(res, error.toResponse())
      return
    }
    void handleNodeRequest(fetchHandler, req, res, options, { target: req.originalUrl })
  }
}
