import { describe, expect, it } from 'vitest'
import {
  AccessDeniedError,
  errorResponse,
  InsufficientScopeError,
  InvalidClientError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTokenError,
  OAuth2Error,
  ServerError,
  TemporarilyUnavailableError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
  UnsupportedResponseTypeError,
  UnsupportedTokenTypeError,
  ValidatorNotImplementedError,
  type OAuth2ErrorCode,
  type OAuth2ErrorOptions,
} from '../../src/index.js'

type ErrorClass = new (description: string, options?: OAuth2ErrorOptions) => OAuth2Error

// Every error class with a description argument, its RFC code and its default HTTP status.
const ERROR_CLASSES: ReadonlyArray<[ErrorClass, OAuth2ErrorCode, number]> = [
  [InvalidRequestError, 'invalid_request', 400],
  [InvalidClientError, 'invalid_client', 401],
  [InvalidGrantError, 'invalid_grant', 400],
  [UnauthorizedClientError, 'unauthorized_client', 400],
  [UnsupportedGrantTypeError, 'unsupported_grant_type', 400],
  [InvalidScopeError, 'invalid_scope', 400],
  [AccessDeniedError, 'access_denied', 403],
  [UnsupportedResponseTypeError, 'unsupported_response_type', 400],
  [TemporarilyUnavailableError, 'temporarily_unavailable', 503],
  [InvalidTokenError, 'invalid_token', 401],
  [InsufficientScopeError, 'insufficient_scope', 403],
  [UnsupportedTokenTypeError, 'unsupported_token_type', 400],
]

// RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ), error_uri = 1*( %x21 / %x23-5B / %x5D-7E )
const ALL_DESCRIPTION_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i))
  .filter((c) => c !== '"' && c !== '\\')
  .join('')

describe('OAuth2Error subclasses (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1)', () => {
  it.each(ERROR_CLASSES.map(([ErrorClass, code, status]) => ({ name: ErrorClass.name, ErrorClass, code, status })))(
    '$name carries error $code with status $status and serializes to the §5.2 body',
    ({ ErrorClass, code, status }) => {
      const error = new ErrorClass('Something about the request was wrong')
      expect(error).toBeInstanceOf(OAuth2Error)
      expect(error).toBeInstanceOf(Error)
      expect(error.name).toBe(ErrorClass.name)
      expect(error.error).toBe(code)
      expect(error.status).toBe(status)
      expect(error.description).toBe('Something about the request was wrong')
      expect(error.message).toBe('Something about the request was wrong')
      expect(error.toResponseBody()).toEqual({ error: code, error_description: 'Something about the request was wrong' })
      expect(new ErrorClass('x', { uri: 'https://docs.example.com/errors#x' }).toResponseBody()).toEqual({
        error: code,
        error_description: 'x',
        error_uri: 'https://docs.example.com/errors#x',
      })
    },
  )

  it('ServerError carries server_error with status 500 and a generic description', () => {
    const error = new ServerError()
    expect(error).toBeInstanceOf(OAuth2Error)
    expect(error.name).toBe('ServerError')
    expect(error.error).toBe('server_error')
    expect(error.status).toBe(500)
    expect(error.toResponseBody()).toEqual({ error: 'server_error', error_description: 'The authorization server encountered an unexpected condition' })
  })

  it('ServerError keeps its cause for onError and never puts it in toResponseBody or JSON', () => {
    const cause = new Error('connect ECONNREFUSED db.internal:5432 password=hunter2')
    const error = new ServerError({ cause })
    expect(error.cause).toBe(cause)
    expect(error.description).toBe(new ServerError().description)
    expect(JSON.stringify(error.toResponseBody())).not.toContain('hunter2')
    expect(JSON.stringify(error)).not.toContain('hunter2')
    expect(errorResponse(error).body).not.toContain('hunter2')
  })

  it('never serializes the cause of any other error either', () => {
    const error = new InvalidGrantError('The code is invalid', { cause: 'row 42 in codes table, secret=hunter2' })
    expect(error.cause).toBe('row 42 in codes table, secret=hunter2')
    expect(JSON.stringify(error)).not.toContain('hunter2')
    expect(JSON.stringify(error.toResponseBody())).not.toContain('hunter2')
  })

  it('ValidatorNotImplementedError names the missing hook and is not a protocol error', () => {
    const error = new ValidatorNotImplementedError('authenticateClient')
    expect(error.hook).toBe('authenticateClient')
    expect(error.message).toContain('authenticateClient')
    expect(error).not.toBeInstanceOf(OAuth2Error)
  })
})

describe('OAuth2Error options', () => {
  it('is redirectable by default and not when redirectable is false (RFC 6749 §4.1.2.1)', () => {
    expect(new InvalidRequestError('x').redirectable).toBe(true)
    expect(new InvalidRequestError('x', { redirectable: false }).redirectable).toBe(false)
    expect(new InvalidClientError('x', { redirectable: true }).redirectable).toBe(true)
  })

  it('takes its status from the status option over the class default', () => {
    const error = new InvalidRequestError('The token endpoint accepts POST only', { status: 405, headers: { Allow: 'POST' } })
    expect(error.status).toBe(405)
    expect(error.error).toBe('invalid_request')
    expect(new InvalidClientError('x', { status: 400 }).status).toBe(400)
    expect(new ServerError({ status: 502 }).status).toBe(502)
  })

  it('keeps state and headers, and errorResponse sends the headers with no-store', () => {
    const error = new TemporarilyUnavailableError('Try again later', { state: 'xyz', headers: { 'Retry-After': '120' } })
    expect(error.state).toBe('xyz')
    expect(error.headers).toEqual({ 'Retry-After': '120' })
    expect(error.toResponseBody()).not.toHaveProperty('state')
    const response = errorResponse(error)
    expect(response.status).toBe(503)
    expect(response.headers).toMatchObject({ 'Retry-After': '120', 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    expect(JSON.parse(response.body)).toEqual({ error: 'temporarily_unavailable', error_description: 'Try again later' })
  })

  it('has no headers unless given', () => {
    expect(new InvalidGrantError('x').headers).toEqual({})
  })
})

describe('RFC 6749 §5.2 character set of error_description and error_uri', () => {
  it('accepts every character %x20-21 / %x23-5B / %x5D-7E in a description', () => {
    expect(new InvalidRequestError(ALL_DESCRIPTION_CHARS).description).toBe(ALL_DESCRIPTION_CHARS)
  })

  it.each([
    ['a double quote', 'the "scope" parameter'],
    ['a backslash', 'C:\\path'],
    ['a newline', 'line one\nline two'],
    ['a carriage return', 'header\r\nInjected: yes'],
    ['a tab', 'a\tb'],
    ['a DEL', 'a\x7f'],
    ['a non-ASCII letter', 'clïent'],
    ['a lone surrogate', 'a\ud800'],
  ])('throws TypeError for a description with %s', (_case, description) => {
    expect(() => new InvalidRequestError(description)).toThrow(TypeError)
  })

  it('accepts a URI of the allowed characters', () => {
    expect(new InvalidRequestError('x', { uri: 'https://docs.example.com/errors?code=invalid_request#~[x]' }).uri).toBe(
      'https://docs.example.com/errors?code=invalid_request#~[x]',
    )
  })

  it.each([
    ['a double quote', 'https://docs.example.com/"x"'],
    ['a backslash', 'https://docs.example.com\\errors'],
    ['a newline', 'https://docs.example.com/\n'],
    ['a space', 'https://docs.example.com/the errors'],
    ['a non-ASCII letter', 'https://docs.example.com/é'],
  ])('throws TypeError for a uri with %s', (_case, uri) => {
    expect(() => new InvalidRequestError('x', { uri })).toThrow(TypeError)
  })

  it('checks the charset of a ServerError uri too', () => {
    expect(() => new ServerError({ uri: 'https://status.example.com/"' })).toThrow(TypeError)
  })
})
