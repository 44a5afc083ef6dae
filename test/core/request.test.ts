import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { InvalidRequestError, normalizeMethod, OAuth2Request, parseRequest, type RequestBody, type RequestHeaders } from '../../src/index.js'
import { requestProtocol, requestQuery } from '../../src/core/request.js'
import { basic, FORM, TOKEN_URI } from '../support/memory-validator.js'

/** Parses a token endpoint request: parameters from the form body. */
function parseBody(body: RequestBody | undefined, headers: RequestHeaders | undefined = FORM): OAuth2Request {
  return parseRequest(TOKEN_URI, 'POST', body, headers, { source: 'body' })
}

/** Base64 of the UTF-8 bytes of `text`, for Basic credentials built by hand. */
function base64Utf8(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
}

describe('parseRequest: RFC 6749 Appendix B form decoding', () => {
  it('decodes the Appendix B example value " %&+£€"', () => {
    const request = parseBody('client_id=+%25%26%2B%C2%A3%E2%82%AC&grant_type=password')
    expect(request.params.get('client_id')).toBe(' %&+£€')
  })

  it("decodes '+' as a space and percent-encoded UTF-8", () => {
    const request = parseBody('username=J%C3%A9r%C3%B4me+Dupont&scope=read+write&password=%F0%9F%94%91')
    expect(request.params.get('username')).toBe('Jérôme Dupont')
    expect(request.params.get('scope')).toBe('read write')
    expect(request.params.get('password')).toBe('🔑')
  })

  it('reads a URLSearchParams body and a plain object body as the same parameters', () => {
    const fromSearchParams = parseBody(new URLSearchParams({ grant_type: 'password', username: 'a b' }))
    const fromObject = parseBody({ grant_type: 'password', username: 'a b' })
    expect([...fromSearchParams.params]).toEqual([['grant_type', 'password'], ['username', 'a b']])
    expect([...fromObject.params]).toEqual([...fromSearchParams.params])
  })

  it('splits a form text exactly as URLSearchParams does, whatever its shape', () => {
    // Pieces that make every case of the parser: empty pairs, no '=', several '=', encodings, lone surrogates.
    const pieces = ['&', '&&', '=', '==', 'a', 'bc', 'resource', 'scope', '%41', '%', '%zz', '+', 'é', '\uD83D\uDD11', '\uD800', ' ']
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31)
    for (let i = 0; i < 2000; i++) {
      let body = ''
      for (let n = next() % 9; n > 0; n--) body += pieces[next() % pieces.length]
      const fromText = parseBody(body)
      const fromSearchParams = parseBody(new URLSearchParams(body))
      expect([[...fromText.params], [...fromText.repeated], fromText.resources], JSON.stringify(body)).toEqual([
        [...fromSearchParams.params],
        [...fromSearchParams.repeated],
        fromSearchParams.resources,
      ])
    }
  })

  it('treats a null or empty body as no parameters', () => {
    expect(parseBody(null as unknown as RequestBody).params.size).toBe(0)
    expect(parseBody('').params.size).toBe(0)
    expect(parseBody(undefined).params.size).toBe(0)
  })
})

describe('parseRequest: parameters without a value and repeated parameters (RFC 6749 §3.1, §3.2)', () => {
  it('omits parameters sent without a value', () => {
    const request = parseBody('grant_type=password&scope=&username')
    expect([...request.params]).toEqual([['grant_type', 'password']])
    expect(request.scope).toBeUndefined()
    expect(request.repeated.size).toBe(0)
  })

  it('gives a request that repeats nothing an empty repeated that nobody can add to, so no other request sees it change', () => {
    const first = parseBody('grant_type=client_credentials')
    expect(() => (first.repeated as Set<string>).add('grant_type')).toThrow(TypeError)
    const second = parseBody('grant_type=client_credentials&scope=read')
    expect([first.repeated.size, second.repeated.size, second.repeated.has('grant_type')]).toEqual([0, 0, false])
  })

  it('lists a repeated parameter in repeated and leaves it out of params', () => {
    const request = parseBody('scope=read&grant_type=password&scope=write&scope=admin')
    expect([...request.repeated]).toEqual(['scope'])
    expect(request.params.has('scope')).toBe(false)
    expect(request.params.get('grant_type')).toBe('password')
  })

  it('counts a parameter as repeated even when one occurrence is empty', () => {
    const request = parseBody('scope=&scope=read')
    expect(request.repeated.has('scope')).toBe(true)
    expect(request.params.has('scope')).toBe(false)
  })

  it('lists an array value of a plain object body as a repeated parameter', () => {
    const request = parseBody({ grant_type: 'password', scope: ['read', 'write'] })
    expect(request.repeated.has('scope')).toBe(true)
    expect(request.params.has('scope')).toBe(false)
  })

  it.each([
    ['client_id', 'grant_type=password&client_id=a&client_id=b'],
    ['client_secret', 'grant_type=password&client_id=a&client_secret=x&client_secret=y'],
    ['client_id sent once empty', 'grant_type=password&client_id=&client_id=a'],
  ])('rejects a repeated %s with InvalidRequestError', (_name, body) => {
    expect(() => parseBody(body)).toThrow(InvalidRequestError)
  })

  it('rejects a plain object body holding a value that is not a string', () => {
    expect(() => parseBody({ grant_type: 5 } as unknown as RequestBody)).toThrow(InvalidRequestError)
    expect(() => parseBody({ grant_type: [Object.create(null)] } as unknown as RequestBody)).toThrow(InvalidRequestError)
  })
})

describe('parseRequest: the request line and content type', () => {
  it('rejects a URI that is not absolute with InvalidRequestError', () => {
    expect(() => parseRequest('/token', 'POST', 'grant_type=password', FORM, { source: 'body' })).toThrow(InvalidRequestError)
  })

  it('reads a URI given as text exactly as the URL parser does, whether or not it parses it at once', () => {
    // Every shape the scheme-and-origin shortcut must get right: hosts that fail to parse, spaces and controls the
    // parser strips or removes, backslashes, queries after fragments, other schemes.
    const schemes = ['http://', 'HTTPS://', 'https:', 'ftp://', 'http:\\\\', ' http://', 'ht\ttp://']
    const hosts = ['as.example', '1.2.3.999', '[::1]', 'h:99999', 'h:8443', 'h:84435', 'exa mple', 'ex\tample', 'u:p@h', '', '%41', 'h ']
    const rests = ['', '/', '/token', '/a/../token', '?access_token=x', '/p#f?access_token=y', '/p?q#f', '\\token', ' ', '\n/x?access_token=z']
    for (const scheme of schemes) {
      for (const host of hosts) {
        for (const rest of rests) {
          const uri = scheme + host + rest
          let expected: URL | undefined
          try {
            expected = new URL(uri)
          } catch {
            expected = undefined
          }
          for (const source of ['body', 'query'] as const) {
            if (expected === undefined) {
              expect(() => parseRequest(uri, 'POST', undefined, undefined, { source }), JSON.stringify(uri)).toThrow(InvalidRequestError)
              continue
            }
            const request = parseRequest(uri, 'POST', undefined, undefined, { source })
            expect([uri, requestProtocol(request), requestQuery(request)?.toString() ?? ''], JSON.stringify(uri)).toEqual([uri, expected.protocol, expected.searchParams.toString()])
            if (source === 'query') expect(request.params.get('access_token')).toBe(expected.searchParams.get('access_token') ?? undefined)
            expect(request.uri.href).toBe(expected.href)
          }
        }
      }
    }
  })

  it('takes a URL an adapter parsed already as it is, and reads the query of either form alike', () => {
    const url = new URL(`${TOKEN_URI}?scope=a%20b`)
    const fromUrl = parseRequest(url, 'GET', undefined, undefined, { source: 'query' })
    expect(fromUrl.uri).toBe(url)
    expect(fromUrl.scope).toBe('a b')
    expect(parseRequest(url.href, 'GET', undefined, undefined, { source: 'query' }).scope).toBe('a b')
  })

  it('upper-cases the method', () => {
    expect(parseRequest(TOKEN_URI, 'post', undefined, undefined, { source: 'body' }).httpMethod).toBe('POST')
  })

  it('rejects a form body sent with another content type (RFC 6749 §4.3.2)', () => {
    expect(() => parseBody('grant_type=password', { 'Content-Type': 'application/json' })).toThrow(InvalidRequestError)
  })

  it('accepts the form content type in any case and with a charset, or no content type at all', () => {
    expect(parseBody('grant_type=password', { 'content-type': 'Application/X-WWW-Form-URLEncoded; charset=UTF-8' }).grantType).toBe('password')
    expect(parseBody('grant_type=password', {}).grantType).toBe('password')
  })
})

describe('parseRequest: headers', () => {
  const authorization = basic('client', 'secret')

  it('refuses a header whose value is not text (a number, an array of numbers) with invalid_request', () => {
    for (const value of [5, [5], { a: 1 }]) {
      const headers = { 'Content-Type': value, Authorization: basic('client', 'secret') } as unknown as RequestHeaders
      expect(() => parseBody('grant_type=client_credentials', headers)).toThrow(InvalidRequestError)
    }
  })

  it('treats a header whose value is null (as JavaScript callers send) as absent', () => {
    const headers = { Authorization: null, ...FORM } as unknown as RequestHeaders
    const request = parseBody('grant_type=client_credentials', headers)
    expect(request.headers.has('authorization')).toBe(false)
    expect(request.clientCredentials).toBeUndefined()
  })

  it.each<[string, RequestHeaders]>([
    ['a Headers object', new Headers({ AUTHORIZATION: authorization, 'Content-Type': FORM['Content-Type'] })],
    ['a plain object', { AuThOrIzAtIoN: authorization, 'CONTENT-TYPE': FORM['Content-Type'] }],
    ['name/value pairs', [['Authorization', authorization], ['content-Type', FORM['Content-Type']]]],
  ])('reads header names case-insensitively from %s', (_shape, headers) => {
    const request = parseBody('grant_type=client_credentials', headers)
    expect(request.headers.get('content-type')).toBe(FORM['Content-Type'])
    expect(request.headers.get('authorization')).toBe(authorization)
    expect(request.clientCredentials).toEqual({ clientId: 'client', clientSecret: 'secret', method: 'client_secret_basic' })
  })

  it.each<[string, RequestHeaders]>([
    ['a plain object with two spellings', { Authorization: authorization, authorization: basic('other', 'x') }],
    ['an array value', { Authorization: [authorization, basic('other', 'x')] }],
    ['name/value pairs', [['Authorization', authorization], ['AUTHORIZATION', authorization]]],
  ])('rejects two Authorization headers in %s with InvalidRequestError', (_shape, headers) => {
    expect(() => parseBody('grant_type=client_credentials', headers)).toThrow(InvalidRequestError)
  })

  it('rejects two Content-Type headers with InvalidRequestError', () => {
    expect(() => parseBody('grant_type=password', [['Content-Type', FORM['Content-Type']], ['content-type', 'text/plain']])).toThrow(InvalidRequestError)
  })

  it('joins other repeated headers with a comma', () => {
    const request = parseBody('grant_type=password', [['Accept', 'application/json'], ['accept', 'text/plain']])
    expect(request.headers.get('accept')).toBe('application/json, text/plain')
  })
})

describe('parseRequest: HTTP Basic client authentication (RFC 6749 §2.3.1)', () => {
  it("decodes a form-urlencoded client_id holding ':' and a secret with '+' as a space", () => {
    const request = parseBody('grant_type=client_credentials', { Authorization: 'Basic ' + btoa('my%3Aclient:p%40ss+word') })
    expect(request.clientCredentials).toEqual({ clientId: 'my:client', clientSecret: 'p@ss word', method: 'client_secret_basic' })
    expect(request.clientId).toBe('my:client')
  })

  it('decodes percent-encoded UTF-8 and raw UTF-8 alike', () => {
    const encoded = parseBody(undefined, { Authorization: basic('clïent', 'sécret €') })
    const raw = parseBody(undefined, { Authorization: 'Basic ' + base64Utf8('clïent:sécret+€') })
    expect(encoded.clientCredentials).toMatchObject({ clientId: 'clïent', clientSecret: 'sécret €' })
    expect(raw.clientCredentials).toMatchObject({ clientId: 'clïent', clientSecret: 'sécret €' })
  })

  it('accepts the scheme name in any case and an empty secret', () => {
    const request = parseBody(undefined, { Authorization: 'bAsIc ' + btoa('client:') })
    expect(request.clientCredentials).toEqual({ clientId: 'client', clientSecret: '', method: 'client_secret_basic' })
  })

  it.each([
    ['no credentials', 'Basic'],
    ['an empty credentials field', 'Basic '],
    ['characters outside base64', 'Basic !!!'],
    ['no colon', 'Basic ' + btoa('noColon')],
    ['an empty client_id', 'Basic ' + btoa(':secret')],
    ['bytes that are not UTF-8', 'Basic ' + btoa('\xff\xfe:\xc3')],
    ['a base64 length that cannot be', 'Basic abcde'],
    ['a bad percent-encoding in the client_id', 'Basic ' + btoa('%zz:secret')],
    ['a bad percent-encoding in the secret', 'Basic ' + btoa('client:%E9')],
    ['a tab instead of a space', 'Basic\t' + btoa('client:secret')],
  ])('rejects Basic credentials with %s with InvalidRequestError', (_case, header) => {
    expect(() => parseBody('grant_type=client_credentials', { Authorization: header })).toThrow(InvalidRequestError)
  })

  it('does not take a Bearer Authorization header for client credentials', () => {
    const request = parseBody('grant_type=password', { Authorization: 'Bearer mF_9.B5f-4.1JqM' })
    expect(request.clientCredentials).toBeUndefined()
    expect(request.clientId).toBeUndefined()
  })

  it('reads client_id and client_secret from the body as client_secret_post', () => {
    const request = parseBody('grant_type=password&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw')
    expect(request.clientCredentials).toEqual({ clientId: 's6BhdRkqt3', clientSecret: '7Fjfp0ZBr1KtDRbnfVdmIw', method: 'client_secret_post' })
  })

  it('rejects Basic together with client_secret in the body with InvalidRequestError (one method per request)', () => {
    expect(() => parseBody('grant_type=password&client_secret=secret', { Authorization: basic('client', 'secret') })).toThrow(InvalidRequestError)
  })

  it('accepts a client_id in the body equal to the Basic client_id', () => {
    const request = parseBody('grant_type=password&client_id=client', { Authorization: basic('client', 'secret') })
    expect(request.clientCredentials?.method).toBe('client_secret_basic')
  })

  it('rejects a client_id in the body that differs from the Basic client_id with InvalidRequestError', () => {
    expect(() => parseBody('grant_type=password&client_id=other', { Authorization: basic('client', 'secret') })).toThrow(InvalidRequestError)
  })

  it('rejects client_secret without client_id with InvalidRequestError', () => {
    expect(() => parseBody('grant_type=password&client_secret=secret')).toThrow(InvalidRequestError)
  })

  it('reads a client_id alone as a public client, with no credentials', () => {
    const request = parseBody('grant_type=password&client_id=public')
    expect(request.clientCredentials).toBeUndefined()
    expect(request.clientId).toBe('public')
  })
})

describe('parseRequest: the parameter source', () => {
  it("reads the query with source 'query' and ignores the body", () => {
    const request = parseRequest('https://as.example.com/authorize?response_type=code&client_id=q', 'GET', 'client_id=b&state=x', FORM, { source: 'query' })
    expect([...request.params]).toEqual([['response_type', 'code'], ['client_id', 'q']])
  })

  it("never reads client_secret from the query as client credentials (RFC 6749 §2.3.1)", () => {
    const request = parseRequest('https://as.example.com/authorize?client_id=c&client_secret=s', 'GET', undefined, undefined, { source: 'query' })
    expect(request.clientCredentials).toBeUndefined()
  })

  it("reads the body with source 'body' and ignores the query", () => {
    const request = parseRequest(`${TOKEN_URI}?client_id=c&client_secret=s&grant_type=password`, 'POST', 'grant_type=client_credentials', FORM, { source: 'body' })
    expect([...request.params]).toEqual([['grant_type', 'client_credentials']])
    expect(request.clientCredentials).toBeUndefined()
  })

  it('keeps the credentials passed by the application, frozen', () => {
    const request = parseRequest(TOKEN_URI, 'POST', undefined, undefined, { source: 'body', credentials: { ip: '192.0.2.1' } })
    expect(request.credentials).toEqual({ ip: '192.0.2.1' })
    expect(Object.isFrozen(request.credentials)).toBe(true)
  })
})

describe('normalizeMethod', () => {
  it('upper-cases ASCII methods but never maps a Unicode look-alike onto a known method', () => {
    expect(normalizeMethod('post')).toBe('POST')
    expect(normalizeMethod('Get')).toBe('GET')
    expect(normalizeMethod('po\u017Ft')).toBe('po\u017Ft') // 'ſ'.toUpperCase() is 'S'
  })
})

describe('OAuth2Request', () => {
  it('cannot be constructed except by parseRequest', () => {
    const init = { uri: new URL(TOKEN_URI), httpMethod: 'POST', headers: new Map(), params: new Map(), repeated: new Set(), clientCredentials: undefined, credentials: {} }
    const Constructor = OAuth2Request as unknown as new (key: unknown, init: unknown) => OAuth2Request
    expect(() => new Constructor(Symbol('OAuth2Request'), init)).toThrow(TypeError)
    expect(() => new Constructor(undefined, init)).toThrow(TypeError)
  })

  describe('redaction of secrets in logs', () => {
    const secrets = {
      client_secret: 'CLIENT-SECRET-1',
      password: 'PASSWORD-2',
      code: 'CODE-3',
      code_verifier: 'VERIFIER-4',
      refresh_token: 'REFRESH-5',
    }
    const bearer = 'Bearer AUTHORIZATION-6'
    const postRequest = () =>
      parseBody(new URLSearchParams({ grant_type: 'password', client_id: 'client', username: 'alice', ...secrets }), {
        ...FORM,
        Authorization: bearer,
        Cookie: 'session=COOKIE-7',
      })
    const basicHeader = basic('client', 'BASIC-SECRET-8')
    const basicRequest = () => parseBody('grant_type=client_credentials&scope=read', { ...FORM, Authorization: basicHeader })

    const leaks = (text: string) =>
      [...Object.values(secrets), bearer, 'AUTHORIZATION-6', 'COOKIE-7', basicHeader, basicHeader.slice('Basic '.length), 'BASIC-SECRET-8'].filter((secret) =>
        text.includes(secret),
      )

    it.each([
      ['JSON.stringify', (request: OAuth2Request) => JSON.stringify(request)],
      ['util.inspect', (request: OAuth2Request) => inspect(request, { depth: 10 })],
      ['util.inspect of an object holding the request', (request: OAuth2Request) => inspect({ request }, { depth: 10 })],
    ])('%s shows no client secret, password, code, code_verifier, refresh_token or Authorization value', (_how, show) => {
      expect(leaks(show(postRequest()))).toEqual([])
      expect(leaks(show(basicRequest()))).toEqual([])
    })

    it.each([
      ['JSON.stringify', (request: OAuth2Request) => JSON.stringify(request)],
      ['util.inspect', (request: OAuth2Request) => inspect(request, { depth: 10 })],
    ])('%s shows the parameters that are not secret', (_how, show) => {
      const text = show(postRequest())
      expect(text).toContain('grant_type')
      expect(text).toContain('alice')
      expect(text).toContain('[redacted]')
      expect(show(basicRequest())).toContain('client_credentials')
    })

    it('keeps the secrets themselves readable to the grants', () => {
      const request = postRequest()
      expect(request.params.get('client_secret')).toBe(secrets.client_secret)
      expect(request.headers.get('authorization')).toBe(bearer)
      expect(basicRequest().clientCredentials?.clientSecret).toBe('BASIC-SECRET-8')
    })

    it('leaves the query out of the logged URI', () => {
      const request = parseRequest('https://as.example.com/authorize?client_id=c&code=QUERY-CODE-9', 'GET', undefined, undefined, { source: 'query' })
      expect(JSON.stringify(request)).not.toContain('QUERY-CODE-9')
      expect(inspect(request)).not.toContain('QUERY-CODE-9')
    })
  })
})
