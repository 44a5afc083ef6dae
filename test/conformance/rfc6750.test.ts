import { generateKeyPair } from 'jose'
import { describe, expect, it } from 'vitest'
import {
  BackendApplicationServer,
  errorResponse,
  generateToken,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  LegacyApplicationServer,
  OAuth2Error,
  signedTokenGenerator,
} from '../../src/index.js'
import { expectTokenResponse, NO_STORE } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

function legacyServer(options: ConstructorParameters<typeof LegacyApplicationServer>[1] = {}) {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 's6BhdRkqt3', secret: '7Fjfp0ZBr1KtDRbnfVdmIw' })
  validator.addUser('johndoe', 'A3ddj3w')
  const server = new LegacyApplicationServer(validator, options)
  const request = () =>
    server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=johndoe&password=A3ddj3w', {
      Authorization: basic('s6BhdRkqt3', '7Fjfp0ZBr1KtDRbnfVdmIw'),
      ...FORM,
    })
  return { validator, request }
}

describe('RFC 6750 §4 Example Access Token Response', () => {
  it('answers with token_type Bearer, access_token, expires_in and refresh_token, not to be cached', async () => {
    const { request } = legacyServer()
    const response = await request()
    expect(response.status).toBe(200)
    expect(response.headers).toEqual({ 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    expect(JSON.parse(response.body)).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: expect.any(String),
      scope: 'read',
    })
  })

  it('gives expires_in as a JSON number of seconds', async () => {
    const { request } = legacyServer({ tokenExpiresIn: 1800 })
    const response = await request()
    expect(response.body).toMatch(/"expires_in":1800[,}]/)
  })

  it('answers a client credentials request with a Bearer token and no refresh token', async () => {
    const validator = new MemoryValidator()
    validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
    const server = new BackendApplicationServer(validator)
    const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', {
      Authorization: basic('backend', 'backend-secret'),
      ...FORM,
    })
    expect(expectTokenResponse(response)).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'read' })
  })
})

describe('RFC 6750 §3.1 Error Codes', () => {
  it.each([
    ['invalid_request', 400, InvalidRequestError],
    ['invalid_token', 401, InvalidTokenError],
    ['insufficient_scope', 403, InsufficientScopeError],
  ] as const)('has %s with HTTP status %i', (code, status, ErrorClass) => {
    const error = new ErrorClass('The access token does not allow this')
    expect(error).toBeInstanceOf(OAuth2Error)
    expect(error).toBeInstanceOf(Error)
    expect(error.error).toBe(code)
    expect(error.status).toBe(status)
    expect(error.name).toBe(ErrorClass.name)
    expect(errorResponse(error)).toEqual({
      status,
      headers: NO_STORE,
      body: JSON.stringify({ error: code, error_description: 'The access token does not allow this' }),
    })
  })

  it.each([
    ['invalid_request', InvalidRequestError],
    ['invalid_token', InvalidTokenError],
    ['insufficient_scope', InsufficientScopeError],
  ] as const)('serializes error_uri for %s when one is given', (code, ErrorClass) => {
    const error = new ErrorClass('Read the docs', { uri: 'https://as.example.com/errors#scope' })
    expect(error.toResponseBody()).toEqual({ error: code, error_description: 'Read the docs', error_uri: 'https://as.example.com/errors#scope' })
  })

  it.each([
    ['a double quote', 'the "read" scope is missing'],
    ['a backslash', 'path C:\\tokens'],
    ['a newline', 'line one\nline two'],
    ['a non-ASCII character', 'jeton expiré'],
  ])('refuses an error_description with %s, which §3 keeps out of the header', (_, description) => {
    expect(() => new InvalidTokenError(description)).toThrow(TypeError)
    expect(() => new InsufficientScopeError(description)).toThrow(TypeError)
    expect(() => new InvalidRequestError(description)).toThrow(TypeError)
  })

  it('refuses an error_uri with a space or a double quote', () => {
    expect(() => new InvalidTokenError('Expired', { uri: 'https://as.example.com/a b' })).toThrow(TypeError)
    expect(() => new InvalidTokenError('Expired', { uri: 'https://as.example.com/"x"' })).toThrow(TypeError)
  })
})

describe('RFC 6750 §2.1 Authorization Request Header Field: the token is a b64token', () => {
  it('generates random tokens in the b64token syntax', () => {
    for (let i = 0; i < 1000; i++) expect(generateToken()).toMatch(B64TOKEN)
  })

  it('issues random access tokens in the b64token syntax', async () => {
    const { request } = legacyServer()
    for (let i = 0; i < 50; i++) {
      const body = expectTokenResponse(await request())
      expect(body.access_token).toMatch(B64TOKEN)
    }
  })

  it.each(['RS256', 'ES256', 'EdDSA'] as const)('issues %s signed JWT access tokens in the b64token syntax', async (alg) => {
    const { privateKey } = await generateKeyPair(alg)
    const { request } = legacyServer({ tokenGenerator: signedTokenGenerator(privateKey, { issuer: 'https://as.example.com', alg }) })
    const body = expectTokenResponse(await request())
    expect(body.access_token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
    expect(body.access_token).toMatch(B64TOKEN)
  })
})
