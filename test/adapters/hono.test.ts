import { createServer } from 'node:http'
import { Hono } from 'hono'
import { honoHandler } from '../../src/adapters/hono.js'
import { createNodeHandler } from '../../src/adapters/node.js'
import { describeAdapter, listenOnLoopback } from './suite.js'

// Hono's own app.fetch, on node:http through oauthkit/node as the transport.
describeAdapter('hono', async (fetchHandler) => {
  const app = new Hono()
  app.all('*', honoHandler(fetchHandler))
  return listenOnLoopback(createServer(createNodeHandler(app.fetch)))
})
