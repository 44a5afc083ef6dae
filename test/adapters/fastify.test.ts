import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { oauthkitPlugin } from '../../src/adapters/fastify.js'
import { createFetchHandler, DEFAULT_PATHS } from '../../src/adapters/fetch.js'
import { basic } from '../support/memory-validator.js'
import { describeAdapter, RESOURCE_PATH, suiteServer } from './suite.js'

describeAdapter('fastify', async (fetchHandler) => {
  const app = Fastify()
  await app.register(oauthkitPlugin, { fetchHandler, paths: [...Object.values(DEFAULT_PATHS), RESOURCE_PATH] })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
})

describe('oauthkitPlugin', () => {
  it("serves the default paths, and leaves Fastify's body parsing alone outside its context", async () => {
    const app = Fastify()
    await app.register(oauthkitPlugin, { fetchHandler: createFetchHandler(suiteServer()) })
    app.post('/echo', async (request) => request.body)
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const token = await fetch(url + '/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('svc', 's3cret') },
        body: 'grant_type=client_credentials',
      })
      expect(token.status).toBe(200)
      const metadata = await fetch(url + '/.well-known/oauth-authorization-server')
      expect(metadata.status).toBe(200)
      const echo = await fetch(url + '/echo', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":[1]}' })
      expect(await echo.json()).toEqual({ a: [1] })
    } finally {
      await app.close()
    }
  })

  it('passes a JSON body through raw, for the core to refuse as it should', async () => {
    const app = Fastify()
    await app.register(oauthkitPlugin, { fetchHandler: createFetchHandler(suiteServer()) })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const response = await fetch(url + '/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: basic('svc', 's3cret') },
        body: '{"grant_type":"client_credentials"}',
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ error: 'invalid_request' })
    } finally {
      await app.close()
    }
  })
})
