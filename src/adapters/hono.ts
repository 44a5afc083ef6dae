/**
 * The Hono adapter (`oauthkit/hono`): a Fetch API handler as a Hono handler.
 *
 * @module
 */
import { type Context } from 'hono'
import { type FetchHandler } from './fetch.js'

/**
 * A Hono handler serving a Fetch API handler (e.g. `createFetchHandler(server)`) with the request as Hono received
 * it, raw body untouched. Don't let a middleware read the body first (`c.req.parseBody()` loses repeated
 * parameters, which RFC 6749 §3.1–3.2 requires the server to refuse).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 * @example
 * ```ts
 * app.all('/token', honoHandler(createFetchHandler(server)))
 * ```
 */
export function honoHandler(fetchHandler: FetchHandler): (c: Context) => Promise<Response> {
  return async (c) => fetchHandler(c.req.raw)
}
