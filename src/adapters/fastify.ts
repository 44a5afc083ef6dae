/**
 * The Fastify adapter (`oauthkit/fastify`): a plugin serving a Fetch API handler at the routes it is given, through
 * `oauthkit/node`.
 *
 * @module
 */
import { type FastifyPluginAsync, type HTTPMethods } from 'fastify'
import { DEFAULT_PATHS, type FetchHandler } from './fetch.js'
import { handleNodeRequest, type NodeHandlerOptions } from './node.js'

/** Options of {@link oauthkitPlugin}. */
export interface OauthkitPluginOptions extends NodeHandlerOptions {
  /** The handler to serve, e.g. `createFetchHandler(server)`. */
  readonly fetchHandler: FetchHandler
  /**
   * The routes to serve it at, for every method (each endpoint answers a wrong method with its own 405). Default:
   * the values of `DEFAULT_PATHS`. Fastify's own 404 answers other paths.
   */
  readonly paths?: readonly string[] | undefined
}

const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']

/**
 * A Fastify plugin serving a Fetch API handler. Inside its own (encapsulated) context it replaces Fastify's body
 * parsers with one that reads nothing, so the handler gets the raw body from the request stream, with the adapter's
 * cap (`maxBodyBytes`, 413) instead of Fastify's `bodyLimit`: a parsed form has lost repeated parameters, which
 * RFC 6749 §3.1–3.2 requires the server to refuse. The reply is hijacked and written by `oauthkit/node`, so Fastify's
 * `onSend` hooks and serializers do not run for these routes. `preParsing` payload transforms are not applied.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2 | RFC 6749 §3.2}
 * @example
 * ```ts
 * await app.register(oauthkitPlugin, { fetchHandler: createFetchHandler(server) })
 * ```
 */
export const oauthkitPlugin: FastifyPluginAsync<OauthkitPluginOptions> = async (fastify, options) => {
  const { fetchHandler, paths = Object.values(DEFAULT_PATHS), ...nodeOptions } = options
  fastify.removeAllContentTypeParsers()
  // Leaves the stream unread: node.ts reads it, with the cap, only when the endpoint asks for the body.
  fastify.addContentTypeParser('*', (_request, _payload, done) => {
    done(null, undefined)
  })
  for (const url of new Set(paths)) {
    fastify.route({
      method: METHODS,
      url,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        reply.hijack()
        await handleNodeRequest(fetchHandler, request.raw, reply.raw, nodeOptions)
      },
    })
  }
}
