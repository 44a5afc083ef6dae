/**
 * StoreValidator driven through a real `Server`, over any backend: the guarantees that need the database.
 */
import { describe, expect, it } from 'vitest'
import { Server, type OAuth2Response } from '../../src/index.js'
import { type Store } from '../../src/store/store.js'
import { StoreValidator, type StoreValidatorOptions } from '../../src/store/validator.js'
import { expectErrorResponse, expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'
const TOKEN = `${ISSUER}/token`
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
const REDIRECT = 'https://client.example.com/cb'

/** A store whose calls can be made to fail, as a database that goes away would. */
export interface FaultSwitch {
  /** `'unavailable'`: fail as an unreachable database; `'bug'`: fail as anything else; `undefined`: work. */
  mode: 'unavailable' | 'bug' | undefined
  /** Fail only calls to these table methods, e.g. `tokens.insert`; all when empty. */
  only: string[]
}

/** Wraps a store so that its table calls fail on demand. */
export function faulty(store: Store): { store: Store; faults: FaultSwitch } {
  const faults: FaultSwitch = { mode: undefined, only: [] }
  const unavailable = new Error('connection refused (simulated)')
  const wrapTable = <T extends object>(name: string, table: T): T =>
    new Proxy(table, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          const method = `${name}.${String(property)}`
          if (faults.mode !== undefined && (faults.only.length === 0 || faults.only.includes(method))) {
            return Promise.reject(faults.mode === 'unavailable' ? unavailable : new Error(`bug in ${method} (simulated)`))
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
  const wrapped = Object.create(store) as Store & Record<string, unknown>
  for (const name of ['clientTable', 'userTable', 'codes', 'tokens', 'consents'] as const) {
    Object.defineProperty(wrapped, name, { value: wrapTable(name, store[name]) })
  }
  Object.defineProperty(wrapped, 'isUnavailableError', { value: (error: unknown) => error === unavailable || store.isUnavailableError(error) })
  Object.defineProperty(wrapped, 'transaction', { value: <T>(work: () => Promise<T>) => store.transaction(work) })
  return { store: wrapped, faults }
}

async function setUp(store: Store, options: StoreValidatorOptions = {}) {
  const errors: unknown[] = []
  const validator = new StoreValidator(store, { issuer: ISSUER, ...options })
  const server = new Server(validator, { issuer: ISSUER, onError: (error) => errors.push(error) })
  const web = await store.clients.create({ name: 'Web', redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'], scopes: ['read', 'write'] })
  const spa = await store.clients.create({ name: 'SPA', public: true, redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'], scopes: ['read'] })
  const alice = await store.users.create({ username: 'alice', password: 'correct horse battery staple' })
  const auth = { Authorization: basic(web.clientId, web.clientSecret as string), ...FORM }
  const authorize = async (clientId = web.clientId): Promise<string> => {
    const uri = `${ISSUER}/authorize?response_type=code&client_id=${clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=${CHALLENGE}&code_challenge_method=S256&state=s`
    const response = await server.createAuthorizationResponse(uri, 'GET', undefined, {}, undefined, { userId: alice.userId })
    expect(response.status, response.body).toBe(302)
    return new URL(response.headers.Location as string).searchParams.get('code') as string
  }
  const redeem = (code: string, headers: Record<string, string> = auth, extra = ''): Promise<OAuth2Response> =>
    server.createTokenResponse(TOKEN, 'POST', `grant_type=authorization_code&code=${code}&redirect_uri=${encodeURIComponent(REDIRECT)}&code_verifier=${VERIFIER}${extra}`, headers)
  const refresh = (refreshToken: string): Promise<OAuth2Response> => server.createTokenResponse(TOKEN, 'POST', `grant_type=refresh_token&refresh_token=${refreshToken}`, auth)
  const introspect = async (token: string): Promise<Record<string, unknown>> =>
    JSON.parse((await server.createIntrospectResponse(`${ISSUER}/introspect`, 'POST', `token=${token}`, auth)).body) as Record<string, unknown>
  return { server, validator, errors, web, spa, alice, auth, authorize, redeem, refresh, introspect }
}

/** The StoreValidator suite over a backend; `open` gives a fresh, empty store. */
export function describeStoreValidator(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  const withStore = (test: (store: Store) => Promise<void>) => async () => {
    const { store, cleanup } = await open()
    try {
      await test(store)
    } finally {
      await cleanup()
    }
  }

  describe(`StoreValidator over ${name}`, () => {
    it(
      'runs the whole code flow: code, tokens, resource check, introspection, rotation, revocation',
      withStore(async (store) => {
        const { server, authorize, redeem, refresh, introspect, web, auth } = await setUp(store)
        const tokens = expectTokenResponse(await redeem(await authorize()))
        const checked = await server.validateProtectedResourceRequest('https://api.example.com/', 'GET', undefined, { Authorization: `Bearer ${tokens.access_token as string}` }, ['read'])
        expect(checked.valid && checked.token.user?.userId).toBeTruthy()
        expect(await introspect(tokens.access_token as string)).toMatchObject({ active: true, client_id: web.clientId, username: 'alice', scope: 'read write', aud: ISSUER })
        const next = expectTokenResponse(await refresh(tokens.refresh_token as string))
        expect(next.refresh_token).not.toBe(tokens.refresh_token)
        expect((await server.createRevocationResponse(`${ISSUER}/revoke`, 'POST', `token=${next.refresh_token as string}`, auth)).status).toBe(200)
        // RFC 7009 §2.1: the access tokens of the revoked refresh token's grant end with it.
        expect(await introspect(next.access_token as string)).toEqual({ active: false })
        expect(await introspect(tokens.access_token as string)).toEqual({ active: false })
      }),
    )

    it(
      'of 50 concurrent redemptions of one code exactly one gets tokens (RFC 6749 §4.1.2)',
      withStore(async (store) => {
        const { authorize, redeem } = await setUp(store)
        const code = await authorize()
        const responses = await Promise.all(Array.from({ length: 50 }, () => redeem(code)))
        expect(responses.filter((r) => r.status === 200)).toHaveLength(1)
        for (const response of responses.filter((r) => r.status !== 200)) expectErrorResponse(response, 400, 'invalid_grant')
      }),
    )

    it(
      'a replayed code revokes the tokens issued from it (RFC 6749 §4.1.2)',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store)
        const code = await authorize()
        const tokens = expectTokenResponse(await redeem(code))
        expectErrorResponse(await redeem(code), 400, 'invalid_grant')
        expect(await introspect(tokens.access_token as string)).toEqual({ active: false })
        expectErrorResponse(await refresh(tokens.refresh_token as string), 400, 'invalid_grant')
      }),
    )

    it(
      'without a retry window, presenting a rotated refresh token revokes the whole family (RFC 9700 §4.14.2)',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store, { refreshTokenRetryWindow: 0 })
        const first = expectTokenResponse(await redeem(await authorize()))
        const second = expectTokenResponse(await refresh(first.refresh_token as string))
        expectErrorResponse(await refresh(first.refresh_token as string), 400, 'invalid_grant')
        expectErrorResponse(await refresh(second.refresh_token as string), 400, 'invalid_grant')
        expect(await introspect(second.access_token as string)).toEqual({ active: false })
      }),
    )

    it(
      'without a retry window, of concurrent refreshes with one refresh token exactly one succeeds, and the reuse ends the family',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store, { refreshTokenRetryWindow: 0 })
        const first = expectTokenResponse(await redeem(await authorize()))
        const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(first.refresh_token as string)))
        const winners = responses.filter((r) => r.status === 200)
        expect(winners).toHaveLength(1)
        const won = JSON.parse((winners[0] as OAuth2Response).body) as Record<string, string>
        expect(await introspect(won.access_token as string)).toEqual({ active: false })
      }),
    )

    it(
      'a client retrying a refresh whose answer was lost gets a fresh pair, and the lost refresh token is superseded; no access token is revoked',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store)
        const first = expectTokenResponse(await redeem(await authorize()))
        const lost = expectTokenResponse(await refresh(first.refresh_token as string))
        const retried = expectTokenResponse(await refresh(first.refresh_token as string))
        expect(retried.refresh_token).not.toBe(lost.refresh_token)
        for (const token of [lost.access_token, retried.access_token]) expect(await introspect(token as string)).toMatchObject({ active: true })
        // One live refresh token per family: the retried one.
        expect(await introspect(lost.refresh_token as string)).toEqual({ active: false })
        expectTokenResponse(await refresh(retried.refresh_token as string))
      }),
    )

    it(
      'a superseded refresh token presented later means two holders: the whole family ends',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store)
        const first = expectTokenResponse(await redeem(await authorize()))
        const theirs = expectTokenResponse(await refresh(first.refresh_token as string))
        const mine = expectTokenResponse(await refresh(first.refresh_token as string))
        expectErrorResponse(await refresh(theirs.refresh_token as string), 400, 'invalid_grant')
        expect(await introspect(mine.access_token as string)).toEqual({ active: false })
        expectErrorResponse(await refresh(mine.refresh_token as string), 400, 'invalid_grant')
      }),
    )

    it(
      'once the refresh token that replaced it was used, presenting the old one is reuse and ends the family (RFC 9700 §4.14.2)',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store)
        const first = expectTokenResponse(await redeem(await authorize()))
        const second = expectTokenResponse(await refresh(first.refresh_token as string))
        const third = expectTokenResponse(await refresh(second.refresh_token as string))
        expectErrorResponse(await refresh(first.refresh_token as string), 400, 'invalid_grant')
        expect(await introspect(third.access_token as string)).toEqual({ active: false })
        expectErrorResponse(await refresh(third.refresh_token as string), 400, 'invalid_grant')
      }),
    )

    it(
      'after the retry window, presenting a rotated refresh token is reuse and ends the family',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store, { refreshTokenRetryWindow: 1 })
        const first = expectTokenResponse(await redeem(await authorize()))
        const second = expectTokenResponse(await refresh(first.refresh_token as string))
        // Into the next whole second and past it: the window is counted in whole seconds.
        await new Promise((resolve) => setTimeout(resolve, 2000 - (Date.now() % 1000)))
        expectErrorResponse(await refresh(first.refresh_token as string), 400, 'invalid_grant')
        expect(await introspect(second.access_token as string)).toEqual({ active: false })
      }),
    )

    it(
      'concurrent refreshes with one refresh token within the retry window are all answered, and one refresh token of them lives on',
      withStore(async (store) => {
        const { authorize, redeem, refresh, introspect } = await setUp(store)
        const first = expectTokenResponse(await redeem(await authorize()))
        const responses = await Promise.all(Array.from({ length: 5 }, () => refresh(first.refresh_token as string)))
        const pairs = responses.map((response) => expectTokenResponse(response))
        expect(new Set(pairs.map((pair) => pair.refresh_token)).size).toBe(5)
        for (const pair of pairs) expect(await introspect(pair.access_token as string)).toMatchObject({ active: true })
        const live = await Promise.all(pairs.map(async (pair) => (await introspect(pair.refresh_token as string)).active === true))
        expect(live.filter((active) => active)).toHaveLength(1)
      }),
    )

    it(
      'a resource the server names in resources may be asked for by any client, and tokens name it; any other is invalid_target',
      withStore(async (store) => {
        const { server } = await setUp(store, { resources: ['https://api.example.com/mcp'] })
        const svc = await store.clients.create({ name: 'svc', grantTypes: ['client_credentials'], scopes: ['read'] })
        const ask = (resource: string) =>
          server.createTokenResponse(TOKEN, 'POST', `grant_type=client_credentials&resource=${encodeURIComponent(resource)}`, {
            Authorization: basic(svc.clientId, svc.clientSecret as string),
            ...FORM,
          })
        const granted = expectTokenResponse(await ask('https://api.example.com/mcp'))
        const introspected = await server.createIntrospectResponse(`${ISSUER}/introspect`, 'POST', `token=${granted.access_token as string}`, {
          Authorization: basic(svc.clientId, svc.clientSecret as string),
          ...FORM,
        })
        expect(JSON.parse(introspected.body)).toMatchObject({ active: true, aud: 'https://api.example.com/mcp' })
        expectErrorResponse(await ask('https://other.example.com/'), 400, 'invalid_target')
      }),
    )

    it(
      'lets a public client in by client_id with PKCE, and never a confidential one without its secret',
      withStore(async (store) => {
        const { authorize, redeem, spa, web } = await setUp(store)
        const extra = `&client_id=${spa.clientId}`
        expectTokenResponse(await redeem(await authorize(spa.clientId), FORM, extra))
        expectErrorResponse(await redeem(await authorize(), FORM, `&client_id=${web.clientId}`), 401, 'invalid_client')
        expectErrorResponse(await redeem(await authorize(), { Authorization: basic(web.clientId, 'wrong'), ...FORM }), 401, 'invalid_client')
      }),
    )

    it(
      'remembers consent per client and scope set',
      withStore(async (store) => {
        const { validator, web, alice } = await setUp(store)
        expect(await validator.hasConsent(web.clientId, alice.userId, ['read'])).toBe(false)
        await validator.saveConsent(web.clientId, alice.userId, ['read'])
        expect(await validator.hasConsent(web.clientId, alice.userId, ['read'])).toBe(true)
        expect(await validator.hasConsent(web.clientId, alice.userId, ['read', 'write'])).toBe(false)
        await validator.saveConsent(web.clientId, alice.userId, ['write'])
        expect(await validator.hasConsent(web.clientId, alice.userId, ['read', 'write'])).toBe(true)
      }),
    )

    it(
      'answers temporarily_unavailable (503, Retry-After) while the database is unreachable, and recovers',
      withStore(async (base) => {
        const { store, faults } = faulty(base)
        const { authorize, redeem, errors } = await setUp(store)
        const code = await authorize()
        faults.mode = 'unavailable'
        const down = await redeem(code)
        expectErrorResponse(down, 503, 'temporarily_unavailable')
        expect(down.headers['Retry-After']).toBe('5')
        expect(errors.length).toBeGreaterThan(0)
        faults.mode = undefined
        expectTokenResponse(await redeem(code))
      }),
    )

    it(
      'answers server_error for any other store failure, and the failed request leaves nothing half-written',
      withStore(async (base) => {
        const { store, faults } = faulty(base)
        const { authorize, redeem, errors } = await setUp(store)
        const code = await authorize()
        // The code is consumed, then saving the tokens fails: the transaction must undo the consumption.
        faults.mode = 'bug'
        faults.only = ['tokens.insert']
        expectErrorResponse(await redeem(code), 500, 'server_error')
        expect(errors).toHaveLength(1)
        faults.mode = undefined
        expectTokenResponse(await redeem(code))
      }),
    )
  })
}
