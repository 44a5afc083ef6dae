/**
 * Client impersonation at the token endpoint (RFC 6749 §10.1, §10.2, §10.10; RFC 9700 §2.5): a wrong secret, two
 * authentication methods at once, a public client posing as confidential and the reverse, credentials in the URI;
 * and the comparisons of client secrets, PKCE verifiers and codes, which must go through constant-time primitives.
 *
 * The server runs in this process, so the primitives are observed where the server calls them: node's
 * `crypto.timingSafeEqual` (client secrets, stored as SHA-256 digests) and `timingSafeEqual` of
 * src/core/constant-time.ts (PKCE), which digests both sides with SHA-256 (`@noble/hashes`) before a fixed-length
 * compare.
 */
import * as nodeCrypto from 'node:crypto'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import * as noble from '@noble/hashes/sha2.js'
import * as constantTime from '../../src/core/constant-time.js'
import {
  authorizePath,
  expectTokenError,
  obtainCode,
  pkce,
  post,
  redeem,
  startServer,
  type AttackServer,
  type Browser,
  type TestClient,
} from './support.js'

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) }
})

vi.mock('@noble/hashes/sha2.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@noble/hashes/sha2.js')>()
  return { ...actual, sha256: vi.fn(actual.sha256) }
})

vi.mock('../../src/core/constant-time.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/core/constant-time.js')>()
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) }
})

let server: AttackServer
/** Confidential, code and refresh grants. */
let client: TestClient
/** Confidential, client credentials only. */
let machine: TestClient
/** Public (no secret), code and refresh grants. */
let spa: TestClient
let alice: Browser

beforeAll(async () => {
  server = await startServer()
  client = await server.addClient()
  machine = await server.addClient({ name: 'Billing', grantTypes: ['client_credentials'], scopes: ['read'] })
  spa = await server.addClient({ name: 'SPA', public: true })
  await server.addUser('alice')
  alice = server.browser()
})

afterAll(() => server?.close())

afterEach(() => {
  vi.restoreAllMocks()
})

const CLIENT_CREDENTIALS = { grant_type: 'client_credentials', scope: 'read' }

describe('RFC 6749 §10.1: client authentication at the token endpoint', () => {
  it('RFC 6749 §10.1: the registered secret with HTTP Basic gets a token (the baseline every other case departs from)', async () => {
    const response = await post(server, '/token', CLIENT_CREDENTIALS, machine)
    expect(response.status).toBe(200)
    expect(((await response.json()) as { access_token?: string }).access_token).toEqual(expect.any(String))
  })

  it.each([
    ['a wrong secret', () => machine.clientSecret + 'x'],
    ['a prefix of the secret', () => (machine.clientSecret as string).slice(0, -1)],
    ['an empty secret', () => ''],
    ['another client’s secret', () => client.clientSecret as string],
  ])('RFC 6749 §10.1: %s with HTTP Basic is refused: 401 invalid_client with a Basic challenge', async (_, secret) => {
    const response = await post(server, '/token', CLIENT_CREDENTIALS, { clientId: machine.clientId, clientSecret: secret() })
    await expectTokenError(response, 401, 'invalid_client')
    expect(response.headers.get('WWW-Authenticate')).toMatch(/^Basic /)
  })

  it('RFC 6749 §10.1: a wrong secret in the body (client_secret_post) is refused with invalid_client', async () => {
    const response = await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: machine.clientId, client_secret: 'not-the-secret' })
    await expectTokenError(response, 401, 'invalid_client')
  })

  it('RFC 7591 §2: the right secret by another method than the one registered is refused with invalid_client at /token, /revoke and /introspect', async () => {
    // machine is registered for client_secret_basic: its secret in a form body (which a proxy may log) opens nothing.
    const secret = machine.clientSecret as string
    const posted = { client_id: machine.clientId, client_secret: secret }
    await expectTokenError(await post(server, '/token', { ...CLIENT_CREDENTIALS, ...posted }), 401, 'invalid_client')
    await expectTokenError(await post(server, '/revoke', { token: 'anything', ...posted }), 401, 'invalid_client')
    await expectTokenError(await post(server, '/introspect', { token: 'anything', ...posted }), 401, 'invalid_client')
    // A client registered for client_secret_post is refused with Basic, and served with the body.
    const poster = await server.addClient({ name: 'Poster', grantTypes: ['client_credentials'], scopes: ['read'], tokenEndpointAuthMethod: 'client_secret_post' })
    await expectTokenError(await post(server, '/token', CLIENT_CREDENTIALS, poster), 401, 'invalid_client')
    const served = await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: poster.clientId, client_secret: poster.clientSecret as string })
    expect(served.status).toBe(200)
    // And the registered method still works.
    expect((await post(server, '/token', CLIENT_CREDENTIALS, machine)).status).toBe(200)
  })

  it('RFC 6749 §10.1: an unknown client_id is refused with invalid_client, as a wrong secret is', async () => {
    await expectTokenError(await post(server, '/token', CLIENT_CREDENTIALS, { clientId: 'no-such-client', clientSecret: 'secret' }), 401, 'invalid_client')
  })

  it('RFC 6749 §10.1: HTTP Basic and client_secret in the body at once are refused with invalid_request (RFC 6749 §2.3.1), even both right', async () => {
    const response = await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: machine.clientId, client_secret: machine.clientSecret as string }, machine)
    const body = await expectTokenError(response, 400, 'invalid_request')
    expect(body.error_description).toMatch(/one client authentication method/)
  })

  it('RFC 6749 §10.1: a body client_id other than the HTTP Basic one is refused with invalid_request', async () => {
    const response = await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: client.clientId }, machine)
    await expectTokenError(response, 400, 'invalid_request')
  })

  it('RFC 6749 §10.1: credentials in the request URI are not read (RFC 6749 §2.3.1): invalid_client', async () => {
    const query = new URLSearchParams({ client_id: machine.clientId, client_secret: machine.clientSecret as string })
    const response = await fetch(`${server.origin}/token?${query.toString()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(CLIENT_CREDENTIALS).toString(),
    })
    await expectTokenError(response, 401, 'invalid_client')
  })
})

describe('RFC 6749 §10.2: client impersonation', () => {
  it('RFC 6749 §10.2: a public client presenting a secret is not taken for a confidential one: invalid_client', async () => {
    const { verifier, challenge } = pkce()
    const code = await obtainCode(alice, authorizePath(spa.clientId, challenge))
    for (const secret of ['anything', 'x'.repeat(43)]) {
      await expectTokenError(await redeem(server, { clientId: spa.clientId, clientSecret: secret }, code, verifier), 401, 'invalid_client')
    }
    // The code stays good for the public client itself, which identifies with client_id alone.
    expect((await redeem(server, spa, code, verifier)).status).toBe(200)
  })

  it('RFC 6749 §10.2: a public client cannot use the client credentials grant (RFC 6749 §4.4)', async () => {
    await expectTokenError(await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: spa.clientId }), 401, 'invalid_client')
  })

  it('RFC 6749 §10.2: a confidential client’s client_id alone, as a public client would send it, is refused with invalid_client', async () => {
    const { verifier, challenge } = pkce()
    const code = await obtainCode(alice, authorizePath(client.clientId, challenge))
    await expectTokenError(await redeem(server, { clientId: client.clientId, clientSecret: undefined }, code, verifier), 401, 'invalid_client')
    await expectTokenError(await post(server, '/token', { ...CLIENT_CREDENTIALS, client_id: machine.clientId }), 401, 'invalid_client')
  })
})

describe('RFC 6749 §10.10: secrets compared in constant time', () => {
  const sha256 = (value: string) => nodeCrypto.createHash('sha256').update(value).digest('base64url')

  it('RFC 6749 §10.10: a client secret is checked with crypto.timingSafeEqual over fixed-length SHA-256 digests', async () => {
    const compare = vi.mocked(nodeCrypto.timingSafeEqual)
    for (const presented of [`${machine.clientSecret as string}x`, machine.clientSecret as string]) {
      compare.mockClear()
      const response = await post(server, '/token', CLIENT_CREDENTIALS, { clientId: machine.clientId, clientSecret: presented })
      expect(response.status).toBe(presented === machine.clientSecret ? 200 : 401)
      const calls = compare.mock.calls.map(([a, b]) => [Buffer.from(a as Uint8Array).toString(), Buffer.from(b as Uint8Array).toString()])
      // The presented secret reaches the comparison as its digest, beside the stored digest of the same length.
      expect(calls).toContainEqual([sha256(presented), sha256(machine.clientSecret as string)])
    }
  })

  it('RFC 6749 §10.10: a PKCE verifier is checked with constant-time.ts, which digests both sides with SHA-256', async () => {
    const compare = vi.mocked(constantTime.timingSafeEqual)
    const digest = vi.mocked(noble.sha256)
    const { verifier, challenge } = pkce()
    const code = await obtainCode(alice, authorizePath(client.clientId, challenge))
    compare.mockClear()
    digest.mockClear()
    const wrong = pkce().verifier
    await expectTokenError(await redeem(server, client, code, wrong), 400, 'invalid_grant')
    // The challenge derived from the presented verifier (RFC 7636 §4.6) is compared with the stored one ...
    expect(compare.mock.calls).toContainEqual([sha256(wrong), challenge])
    // ... and the comparison hashes the stored challenge before comparing fixed-length digests, so neither where the
    // values differ nor their lengths show in its timing.
    const digested = digest.mock.calls.map(([data]) => textsOf(data))
    expect(digested.some((texts) => texts.includes(challenge))).toBe(true)
    expect((await redeem(server, client, code, verifier)).status).toBe(200)
  })

  it('RFC 6749 §10.10: a code is never compared as text: the store keeps and looks it up only by the SHA-256 digest of the whole code', async () => {
    const { challenge } = pkce()
    const code = await obtainCode(alice, authorizePath(client.clientId, challenge))
    // The code is `<time>.<256 random bits>`; the key is the digest of all of it, whatever its form.
    const [time, secret] = code.split('.') as [string, string]
    expect(time).toMatch(/^[0-9a-z]{9}$/)
    const stored = await server.store.codes.get(sha256(code))
    expect(stored?.clientId).toBe(client.clientId)
    expect(stored?.codeHash).toBe(sha256(code))
    for (const key of [code, `${time}.${sha256(code)}`, sha256(secret)]) expect(await server.store.codes.get(key)).toBeUndefined()
    expect(JSON.stringify(stored)).not.toContain(secret)
  })
})

/** The text a digest was asked for, read as UTF-8 and as UTF-16 code units. */
function textsOf(data: Uint8Array): string[] {
  const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data)
  const utf16 = bytes.length % 2 === 0 ? String.fromCharCode(...new Uint16Array(bytes.slice().buffer)) : ''
  return [new TextDecoder().decode(bytes), utf16]
}
