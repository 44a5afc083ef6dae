import express from 'express'
import { describe, expect, it } from 'vitest'
import { expressHandler } from '../../src/adapters/express.js'
import { createFetchHandler, type FetchHandler } from '../../src/adapters/fetch.js'
import { basic } from '../support/memory-validator.js'
import { describeAdapter, HANDLERS, listenOnLoopback, suiteHandler, suiteServer } from './suite.js'

describeAdapter('express', async (fetchHandler) => {
  const app = express()
  app.use(expressHandler(fetchHandler))
  return listenOnLoopback(app.listen(0, '127.0.0.1'))
})

describe('expressHandler and body parsers', () => {
  const FORM = { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic('svc', 's3cret') }

  async function serve(
    setup: (app: express.Express, handler: FetchHandler, errors: unknown[]) => void,
    body: string,
    path = '/token',
    make: (onError: (error: unknown) => void) => FetchHandler = suiteHandler,
  ) {
    const errors: unknown[] = []
    const app = express()
    setup(app, make((error) => errors.push(error)), errors)
    const started = await listenOnLoopback(app.listen(0, '127.0.0.1'))
    try {
      const response = await fetch(started.url + path, { method: 'POST', headers: FORM, body })
      return { status: response.status, body: (await response.json()) as Record<string, unknown>, errors }
    } finally {
      await started.close()
    }
  }

  it('refuses a body already parsed by express.urlencoded() with a 500 naming the fix', async () => {
    const result = await serve((app, handler, errors) => {
      app.use(express.urlencoded())
      app.use(expressHandler(handler, { onError: (error) => errors.push(error) }))
    }, 'grant_type=client_credentials')
    expect(result.status).toBe(500)
    expect(result.body).toMatchObject({ status: 500, detail: expect.stringMatching(/mount oauthkit before express\.urlencoded\(\)/) })
    expect(result.errors).toHaveLength(1)
  })

  const parsers = [
    ['express.raw()', () => express.raw({ type: 'application/x-www-form-urlencoded' })],
    ['express.text()', () => express.text({ type: 'application/x-www-form-urlencoded' })],
  ] as const
  it.each(parsers.flatMap(([name, parser]) => HANDLERS.map((handler) => [name, handler.name, parser, handler.make] as const)))(
    'uses a body kept raw by %s, repeated parameters included (%s)',
    async (_parser, _handler, parser, make) => {
      const ok = await serve((app, handler) => {
        app.use(parser())
        app.use(expressHandler(handler))
      }, 'grant_type=client_credentials', '/token', make)
      expect(ok.status).toBe(200)
      const repeated = await serve((app, handler) => {
        app.use(parser())
        app.use(expressHandler(handler))
      }, 'grant_type=client_credentials&scope=read&scope=write', '/token', make)
      expect(repeated).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    },
  )

  it('reads the raw body when express.json() is mounted first, since it skips forms', async () => {
    const result = await serve((app, handler) => {
      app.use(express.json())
      app.use(expressHandler(handler))
    }, 'grant_type=client_credentials')
    expect(result.status).toBe(200)
  })

  it('gives the handler the full URL under a mount path (req.originalUrl)', async () => {
    const result = await serve(
      (app) => {
        app.use('/oauth', expressHandler(createFetchHandler(suiteServer(), { paths: { token: '/oauth/token' } })))
      },
      'grant_type=client_credentials',
      '/oauth/token',
    )
    expect(result.status).toBe(200)
  })
})
