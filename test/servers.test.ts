import { describe, expect, it } from 'vitest'
import { BackendApplicationServer, LegacyApplicationServer } from '../src/index.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from './support/memory-validator.js'

describe('BackendApplicationServer', () => {
  it('issues a client credentials token with no refresh token', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'client', secret: 'secret' })
    const server = new BackendApplicationServer(validator, { tokenExpiresIn: 3600 })
    const res = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials&scope=read', {
      Authorization: basic('client', 'secret'),
      ...FORM,
    })
    expect(res.status).toBe(200)
    expect(res.headers['Cache-Control']).toBe('no-store')
    const body = JSON.parse(res.body)
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    expect(body.access_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(body.refresh_token).toBeUndefined()
    expect(body.scope).toBeUndefined()
    expect(validator.saved).toHaveLength(1)
  })
})

describe('LegacyApplicationServer', () => {
  it('issues tokens for a password and rotates the refresh token', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'legacy', secret: 's3cret' })
    validator.addUser('alice', 'wonderland')
    const server = new LegacyApplicationServer(validator)
    const headers = { Authorization: basic('legacy', 's3cret'), ...FORM }
    const first = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland&scope=read+write', headers)
    expect(first.status).toBe(200)
    const tokens = JSON.parse(first.body)
    expect(tokens.refresh_token).toBeTypeOf('string')
    const refreshed = await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${tokens.refresh_token}&scope=read`, headers)
    expect(refreshed.status).toBe(200)
    const second = JSON.parse(refreshed.body)
    expect(second.scope).toBeUndefined()
    expect(second.refresh_token).not.toBe(tokens.refresh_token)
    const replay = await server.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${tokens.refresh_token}`, headers)
    expect(replay.status).toBe(400)
    expect(JSON.parse(replay.body).error).toBe('invalid_grant')
    // the rotated refresh token keeps the original scope (RFC 6749 §6)
    expect(validator.refreshTokens.get(second.refresh_token)?.scopes).toEqual(['read', 'write'])
  })
})
