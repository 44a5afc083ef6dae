/**
 * The token endpoint's hooks (`tokenRequestHooks`): what rate limiting, metrics and audit learn from the endpoint
 * itself, without parsing the body or the response again.
 */
import { describe, expect, it } from 'vitest'
import { BackendApplicationServer, LegacyApplicationServer, TemporarilyUnavailableError, type OAuth2Request, type TokenRequestHooks, type TokenRequestOutcome } from '../../src/index.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

function backend(hooks: TokenRequestHooks, onError?: (error: unknown) => void) {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'client', secret: 'secret' })
  return { validator, server: new BackendApplicationServer(validator, { tokenRequestHooks: hooks, onError }) }
}

describe('TokenRequestHooks', () => {
  it('tells afterResponse the client, grant type, status and error code of each answer, and the credentials passed', async () => {
    const outcomes: TokenRequestOutcome[] = []
    const { server } = backend({ afterResponse: (outcome) => void outcomes.push(outcome) })
    const form = 'grant_type=client_credentials'
    await server.createTokenResponse(TOKEN_URI, 'POST', form, { Authorization: basic('client', 'secret'), ...FORM }, { remoteAddress: '192.0.2.1' })
    await server.createTokenResponse(TOKEN_URI, 'POST', form, { Authorization: basic('client', 'wrong'), ...FORM }, { remoteAddress: '192.0.2.2' })
    await server.createTokenResponse(TOKEN_URI, 'GET', undefined, {}, { remoteAddress: '192.0.2.3' })
    expect(outcomes.map(({ request, credentials, status, error }) => ({ clientId: request?.clientId, grantType: request?.grantType, credentials, status, error }))).toEqual([
      { clientId: 'client', grantType: 'client_credentials', credentials: { remoteAddress: '192.0.2.1' }, status: 200, error: undefined },
      { clientId: 'client', grantType: 'client_credentials', credentials: { remoteAddress: '192.0.2.2' }, status: 401, error: 'invalid_client' },
      // Not parsed (wrong method): no request, but the outcome and the credentials still.
      { clientId: undefined, grantType: undefined, credentials: { remoteAddress: '192.0.2.3' }, status: 405, error: 'invalid_request' },
    ])
  })

  it('names the username of a password grant and invalid_grant for a wrong password', async () => {
    const outcomes: TokenRequestOutcome[] = []
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'legacy', secret: 's3cret' })
    validator.addUser('alice', 'right')
    const server = new LegacyApplicationServer(validator, { tokenRequestHooks: { afterResponse: (outcome) => void outcomes.push(outcome) } })
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wrong', { Authorization: basic('legacy', 's3cret'), ...FORM })
    expect(response.status).toBe(400)
    expect(outcomes[0]?.request?.params.get('username')).toBe('alice')
    expect(outcomes[0]?.error).toBe('invalid_grant')
  })

  it('lets beforeGrant refuse a request with its own error before any credential is checked', async () => {
    const seen: OAuth2Request[] = []
    const outcomes: TokenRequestOutcome[] = []
    const { server, validator } = backend({
      beforeGrant: (request) => {
        seen.push(request)
        throw new TemporarilyUnavailableError('Too many failed requests: retry after 7 seconds', { status: 429, headers: { 'Retry-After': '7' } })
      },
      afterResponse: (outcome) => void outcomes.push(outcome),
    })
    let authenticated = 0
    const authenticate = validator.authenticateClient.bind(validator)
    validator.authenticateClient = async (request) => {
      authenticated++
      return authenticate(request)
    }
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('client', 'secret'), ...FORM })
    expect(response.status).toBe(429)
    expect(response.headers['Retry-After']).toBe('7')
    expect(response.headers['Cache-Control']).toBe('no-store')
    expect(JSON.parse(response.body)).toEqual({ error: 'temporarily_unavailable', error_description: 'Too many failed requests: retry after 7 seconds' })
    expect(seen.map((request) => request.clientId)).toEqual(['client'])
    expect(authenticated).toBe(0)
    expect(validator.saved).toHaveLength(0)
    expect(outcomes.map(({ status, error }) => ({ status, error }))).toEqual([{ status: 429, error: 'temporarily_unavailable' }])
  })

  it('reports a failing afterResponse to onError and answers as if it had not run', async () => {
    const errors: unknown[] = []
    const { server } = backend(
      {
        afterResponse: () => {
          throw new Error('metrics backend down')
        },
      },
      (error) => errors.push(error),
    )
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('client', 'secret'), ...FORM })
    expect(response.status).toBe(200)
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('metrics backend down')
  })

  it('answers server_error when beforeGrant fails with anything but an OAuth2Error', async () => {
    const errors: unknown[] = []
    const { server } = backend(
      {
        beforeGrant: () => {
          throw new Error('counter store down')
        },
      },
      (error) => errors.push(error),
    )
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { Authorization: basic('client', 'secret'), ...FORM })
    expect(response.status).toBe(500)
    expect(JSON.parse(response.body).error).toBe('server_error')
    expect(errors).toHaveLength(1)
  })
})
