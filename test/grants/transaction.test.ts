/**
 * The writes of a token request happen together (RequestValidator.transaction): a code is never consumed, nor a
 * refresh token rotated, without the new tokens being saved.
 */
import { describe, expect, it } from 'vitest'
import { LegacyApplicationServer, WebApplicationServer, type BearerTokenResponse, type TokenContext } from '../../src/index.js'
import { expectErrorResponse, expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI, type TestClient, type TestUser } from '../support/memory-validator.js'

const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'

/** A validator whose saveBearerToken fails the first `failures` times, as a database might. */
class FlakyValidator extends MemoryValidator {
  constructor(public failures: number) {
    super()
  }
  override async saveBearerToken(token: BearerTokenResponse, context: TokenContext<TestClient, TestUser>, request: Parameters<MemoryValidator['saveBearerToken']>[2]) {
    if (this.failures > 0) {
      this.failures--
      throw new Error('database write failed')
    }
    return super.saveBearerToken(token, context, request)
  }
}

function setup(validator: MemoryValidator) {
  validator.addClient({ clientId: 'app', secret: 'app-secret' })
  validator.addUser('alice', 'wonderland')
  validator.addCode('the-code', { clientId: 'app', user: validator.users.get('alice') as TestUser, scopes: ['read'], codeChallenge: CHALLENGE, codeChallengeMethod: 'S256' })
  return { headers: { Authorization: basic('app', 'app-secret'), ...FORM } }
}

describe('RequestValidator.transaction around the writes of a token request', () => {
  it('a code stays redeemable when saving the tokens fails, and is consumed by the retry', async () => {
    const validator = new FlakyValidator(1)
    const { headers } = setup(validator)
    const server = new WebApplicationServer(validator, { onError: () => {} })
    const body = `grant_type=authorization_code&code=the-code&code_verifier=${VERIFIER}`
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 500, 'server_error')
    expect(validator.codes.get('the-code')?.used).toBe(false)
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers))
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', body, headers), 400, 'invalid_grant')
  })

  it('a refresh token is not rotated away when saving its successors fails', async () => {
    const validator = new FlakyValidator(0)
    const { headers } = setup(validator)
    const server = new LegacyApplicationServer(validator, { onError: () => {} })
    const first = expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland', headers))
    const refresh = `grant_type=refresh_token&refresh_token=${first.refresh_token as string}`
    validator.failures = 1
    expectErrorResponse(await server.createTokenResponse(TOKEN_URI, 'POST', refresh, headers), 500, 'server_error')
    expectTokenResponse(await server.createTokenResponse(TOKEN_URI, 'POST', refresh, headers))
  })

  it('of 50 concurrent redemptions of one code exactly one gets tokens', async () => {
    const validator = new MemoryValidator()
    const { headers } = setup(validator)
    const server = new WebApplicationServer(validator)
    const body = `grant_type=authorization_code&code=the-code&code_verifier=${VERIFIER}`
    const responses = await Promise.all(Array.from({ length: 50 }, () => server.createTokenResponse(TOKEN_URI, 'POST', body, headers)))
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1)
    for (const r of responses.filter((r) => r.status !== 200)) expectErrorResponse(r, 400, 'invalid_grant')
    expect(validator.saved).toHaveLength(1)
  })

  it('is used by the grants that consume something (code, refresh token), not by those whose only write is the token', async () => {
    class CountingValidator extends MemoryValidator {
      transactions = 0
      override async transaction<T>(request: Parameters<MemoryValidator['transaction']>[0], work: () => Promise<T>): Promise<T> {
        this.transactions++
        return super.transaction(request, work)
      }
    }
    const validator = new CountingValidator()
    const { headers } = setup(validator)
    const legacy = new LegacyApplicationServer(validator)
    const web = new WebApplicationServer(validator)
    const counted = async (respond: () => ReturnType<typeof legacy.createTokenResponse>) => {
      const before = validator.transactions
      const response = expectTokenResponse(await respond())
      return { response, transactions: validator.transactions - before }
    }
    const password = await counted(() => legacy.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=password&username=alice&password=wonderland', headers))
    expect(password.transactions).toBe(0)
    const refresh = await counted(() => legacy.createTokenResponse(TOKEN_URI, 'POST', `grant_type=refresh_token&refresh_token=${password.response.refresh_token as string}`, headers))
    expect(refresh.transactions).toBe(1)
    const code = await counted(() => web.createTokenResponse(TOKEN_URI, 'POST', `grant_type=authorization_code&code=the-code&code_verifier=${VERIFIER}`, headers))
    expect(code.transactions).toBe(1)
    expect(validator.saved).toHaveLength(3)
  })
})
