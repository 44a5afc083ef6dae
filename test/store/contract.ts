/**
 * The one contract every `Store` backend must pass: `describeStoreContract('sqlite', open)` in a backend's test file
 * declares the whole suite against it.
 *
 * It asks only what `store.ts` documents. Rows are inserted through the tables with made-up hashes wherever hashing is
 * not the point, because scrypt costs some 100 ms: the suite runs in about a second per backend. Every code, token and
 * consent refers to a client and user that exist, so that a backend with foreign keys passes too.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  tokenHash,
  hashPassword,
  type ClientRecord,
  type CodeRecord,
  type ConsentRecord,
  type Store,
  type TokenRecord,
  type UserRecord,
} from '../../src/store/index.js'
import { type SessionRecord, type SigningKeyRecord } from '../../src/store/store.js'

/** The metadata of a client that registers itself, as the registration endpoint hands it to `registerClient`. */
export const SELF_REGISTERED = {
  redirect_uris: ['https://self.example/cb'],
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code'],
  response_types: ['code'],
} as const

/** A fixed clock: the tables take `now` as an argument and never read the time themselves. */
const NOW = 1_800_000_000
const DAY = 86_400
/** After 2038, beyond a 32-bit integer: a timestamp column must hold it. */
const YEAR_2100 = 4_102_444_800

/** A stored form that looks like an scrypt hash; no password matches it. */
const FAKE_PASSWORD_HASH = 'scrypt:32768:8:1:c2FsdHNhbHRzYWx0c2FsdA:aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'

/** The real scrypt hash of `wonderland`, computed once for all backends. */
let wonderlandHash: Promise<string> | undefined
function hashOfWonderland(): Promise<string> {
  wonderlandHash ??= hashPassword('wonderland')
  return wonderlandHash
}

function clientRecord(clientId: string, fields: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId,
    name: `Client ${clientId}`,
    secretHash: `sha256:${tokenHash(`secret of ${clientId}`)}`,
    redirectUris: [`https://${clientId}.example/callback`],
    grantTypes: ['authorization_code', 'refresh_token'],
    responseTypes: ['code'],
    scopes: ['read', 'write'],
    resources: [],
    tokenEndpointAuthMethod: 'client_secret_basic',
    createdAt: NOW,
    ...fields,
  }
}

function userRecord(userId: string, username: string = userId): UserRecord {
  return { userId, username, passwordHash: FAKE_PASSWORD_HASH, createdAt: NOW }
}

function codeRecord(code: string, fields: Partial<CodeRecord> = {}): CodeRecord {
  return {
    codeHash: tokenHash(code),
    clientId: 'app',
    userId: 'alice',
    scopes: ['read'],
    resources: [],
    expiresAt: NOW + 600,
    grantId: `grant of ${code}`,
    ...fields,
  }
}

function tokenRecord(token: string, fields: Partial<TokenRecord> = {}): TokenRecord {
  return {
    tokenHash: tokenHash(token),
    type: 'access_token',
    clientId: 'app',
    userId: 'alice',
    scopes: ['read'],
    resources: [],
    issuedAt: NOW,
    expiresAt: NOW + 3600,
    grantId: 'grant-1',
    ...fields,
  }
}

function consentRecord(clientId: string, userId: string, scopes: readonly string[] = ['read']): ConsentRecord {
  return { clientId, userId, scopes, grantedAt: NOW }
}

/** How many of `results` are `true`. */
function wins(results: readonly boolean[]): number {
  return results.filter((result) => result).length
}

/**
 * Changes every field of a record a caller holds: strings, numbers, and the arrays (which may be frozen, so a push
 * may throw). The store must not notice.
 */
function scribble(record: object): void {
  const fields = record as Record<string, unknown>
  for (const [key, value] of Object.entries(fields)) {
    if (Array.isArray(value)) {
      try {
        value.push('scribbled')
      } catch {
        // A frozen array: as good as a copy.
      }
    } else if (typeof value === 'string') {
      fields[key] = 'scribbled'
    } else if (typeof value === 'number') {
      fields[key] = -1
    }
  }
}

/** A deferred promise, to hold a transaction open while something else happens. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((done) => (resolve = done))
  return { promise, resolve }
}

/** Declares the Store contract suite against one backend; `open` gives a fresh, empty store for each test. */
export function describeStoreContract(name: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store
    let cleanup: () => Promise<void>

    beforeEach(async () => {
      ;({ store, cleanup } = await open())
    })

    afterEach(async () => {
      await cleanup()
    })

    /** Two clients (`app`, `other`) and two users (`alice`, `bob`), inserted through the tables. */
    async function seed(): Promise<void> {
      await store.clientTable.insert(clientRecord('app'))
      await store.clientTable.insert(clientRecord('other'))
      await store.userTable.insert(userRecord('alice'))
      await store.userTable.insert(userRecord('bob'))
    }

    describe('clients', () => {
      it('keeps the resources a client protects as a resource server, and no such field for a client that protects none', async () => {
        const { client: api } = await store.clients.create({ name: 'API', grantTypes: ['client_credentials'], scopes: ['read'], protectedResources: ['https://api.example.com'] })
        expect((await store.clients.get(api.clientId))?.protectedResources).toEqual(['https://api.example.com'])
        const { client: plain } = await store.clients.create({ name: 'Plain', grantTypes: ['client_credentials'], scopes: ['read'] })
        expect(await store.clients.get(plain.clientId)).not.toHaveProperty('protectedResources')
        await expect(store.clients.create({ name: 'Bad', scopes: ['read'], grantTypes: ['client_credentials'], protectedResources: ['not a uri'] })).rejects.toThrow(TypeError)
      })

      it('creates a confidential client with a generated id and a 256-bit secret, returned once and stored only as its sha256 digest', async () => {
        const created = await store.clients.create({ name: 'Billing', redirectUris: ['https://billing.example/cb'], scopes: ['read'] })
        expect(created.clientId).toMatch(/^[A-Za-z0-9_-]{16,}$/)
        expect(created.clientSecret).toBeDefined()
        expect(Buffer.from(created.clientSecret as string, 'base64url')).toHaveLength(32)
        const stored = await store.clients.get(created.clientId)
        expect(stored).toEqual(created.client)
        expect(stored?.secretHash).toBe(`sha256:${tokenHash(created.clientSecret as string)}`)
        expect(stored?.tokenEndpointAuthMethod).toBe('client_secret_basic')
        expect(JSON.stringify(await store.clients.list())).not.toContain(created.clientSecret)
        const another = await store.clients.create({ name: 'Billing', redirectUris: ['https://billing.example/cb'], scopes: ['read'] })
        expect(another.clientId).not.toBe(created.clientId)
        expect(another.clientSecret).not.toBe(created.clientSecret)
      })

      it('stores an imported secret as an scrypt hash, and authenticates the client with it', async () => {
        const secret = 'an imported secret of unknown entropy'
        const created = await store.clients.create({ name: 'Legacy', clientId: 'legacy', clientSecret: secret, grantTypes: ['client_credentials'], scopes: ['read'] })
        expect(created.clientSecret).toBe(secret)
        const stored = await store.clients.get('legacy')
        expect(stored?.secretHash).toMatch(/^scrypt:/)
        expect(stored?.secretHash).not.toContain(secret)
        expect(await store.clients.authenticate('legacy', secret)).toEqual(stored)
      })

      it('creates a public client without a secret, authenticating with none, whose secret cannot be rotated', async () => {
        const created = await store.clients.create({ name: 'Mobile', public: true, redirectUris: ['com.example.app:/cb'], scopes: ['read'] })
        expect(created.clientSecret).toBeUndefined()
        const stored = await store.clients.get(created.clientId)
        expect(stored?.secretHash).toBeUndefined()
        expect(stored?.tokenEndpointAuthMethod).toBe('none')
        expect(await store.clients.authenticate(created.clientId, '')).toBeUndefined()
        expect(await store.clients.rotateSecret(created.clientId)).toBeUndefined()
      })

      it('rejects malformed input with a TypeError and stores nothing', async () => {
        const valid = { name: 'App', redirectUris: ['https://app.example/cb'], scopes: ['read'] }
        const invalid = [
          { ...valid, name: ' ' },
          { ...valid, grantTypes: ['device_code' as 'implicit'] },
          { ...valid, redirectUris: ['https://app.example/cb#fragment'] },
          { ...valid, redirectUris: ['/relative'] },
          { ...valid, redirectUris: [] },
          { ...valid, scopes: ['read "quoted"'] },
          { ...valid, resources: ['not a uri'] },
          { ...valid, public: true, clientSecret: 'secret' },
          { ...valid, public: true, grantTypes: ['client_credentials' as const] },
          { ...valid, clientSecret: '' },
          { ...valid, clientId: '' },
          { ...valid, clientId: 'line\nbreak' },
        ]
        for (const input of invalid) await expect(store.clients.create(input), JSON.stringify(input)).rejects.toThrow(TypeError)
        expect(await store.clients.list()).toEqual([])
      })

      it('rejects a second client with the same clientId and keeps the first', async () => {
        await store.clients.create({ name: 'First', clientId: 'fixed', grantTypes: ['client_credentials'], scopes: ['read'] })
        await expect(store.clients.create({ name: 'Second', clientId: 'fixed', grantTypes: ['client_credentials'], scopes: ['read'] })).rejects.toThrow()
        expect((await store.clients.get('fixed'))?.name).toBe('First')
        expect(await store.clients.list()).toHaveLength(1)
      })

      it('lists clients and removes them; removing an unknown client is false', async () => {
        const first = await store.clients.create({ name: 'First', grantTypes: ['client_credentials'], scopes: ['read'] })
        const second = await store.clients.create({ name: 'Second', grantTypes: ['client_credentials'], scopes: ['read'] })
        expect((await store.clients.list()).map((client) => client.clientId).sort()).toEqual([first.clientId, second.clientId].sort())
        expect(await store.clients.remove(first.clientId)).toBe(true)
        expect(await store.clients.get(first.clientId)).toBeUndefined()
        expect(await store.clients.remove(first.clientId)).toBe(false)
        expect(await store.clients.list()).toEqual([second.client])
        expect(await store.clients.get('unknown')).toBeUndefined()
      })

      it('rotateSecret gives a new secret that works, and the old one fails at once', async () => {
        const { clientId, clientSecret } = await store.clients.create({ name: 'App', grantTypes: ['client_credentials'], scopes: ['read'] })
        const rotated = await store.clients.rotateSecret(clientId)
        expect(rotated).toBeDefined()
        expect(rotated).not.toBe(clientSecret)
        expect(await store.clients.authenticate(clientId, clientSecret as string)).toBeUndefined()
        expect((await store.clients.authenticate(clientId, rotated as string))?.clientId).toBe(clientId)
        expect((await store.clients.get(clientId))?.secretHash).toBe(`sha256:${tokenHash(rotated as string)}`)
        expect(await store.clients.rotateSecret('unknown')).toBeUndefined()
        expect(await store.clientTable.updateSecretHash('unknown', 'sha256:x')).toBe(false)
      })

      it('authenticate gives the client for its secret, and undefined for a wrong secret or an unknown client', async () => {
        const { clientId, clientSecret, client } = await store.clients.create({ name: 'App', grantTypes: ['client_credentials'], scopes: ['read'] })
        expect(await store.clients.authenticate(clientId, clientSecret as string)).toEqual(client)
        expect(await store.clients.authenticate(clientId, `${clientSecret as string}x`)).toBeUndefined()
        expect(await store.clients.authenticate(clientId, '')).toBeUndefined()
        expect(await store.clients.authenticate('unknown', clientSecret as string)).toBeUndefined()
      })
    })

    describe('users', () => {
      it('creates a user with only an scrypt hash of the password, found by id and username, and authenticates them (an unknown username fails)', async () => {
        const alice = await store.users.create({ username: 'alice', password: 'wonderland', userId: 'user-alice' })
        expect(alice.userId).toBe('user-alice')
        expect(alice.passwordHash).toMatch(/^scrypt:/)
        expect(alice.passwordHash).not.toContain('wonderland')
        expect(await store.users.get('user-alice')).toEqual(alice)
        expect(await store.users.getByUsername('alice')).toEqual(alice)
        expect(await store.users.getByUsername('bob')).toBeUndefined()
        expect(await store.users.authenticate('alice', 'wonderland')).toEqual(alice)
        expect(await store.users.authenticate('nobody', 'wonderland')).toBeUndefined()
      })

      it('rejects a malformed username or an empty password with a TypeError and stores nothing', async () => {
        await expect(store.users.create({ username: '', password: 'pw' })).rejects.toThrow(TypeError)
        await expect(store.users.create({ username: 'line\nbreak', password: 'pw' })).rejects.toThrow(TypeError)
        await expect(store.users.create({ username: 'alice', password: '' })).rejects.toThrow(TypeError)
        expect(await store.users.list()).toEqual([])
      })

      it('rejects a second user with the same username or userId and keeps the first', async () => {
        await store.userTable.insert(userRecord('u1', 'alice'))
        await expect(store.userTable.insert(userRecord('u2', 'alice'))).rejects.toThrow()
        await expect(store.userTable.insert(userRecord('u1', 'bob'))).rejects.toThrow()
        expect((await store.users.getByUsername('alice'))?.userId).toBe('u1')
        expect(await store.users.getByUsername('bob')).toBeUndefined()
        expect(await store.users.list()).toEqual([userRecord('u1', 'alice')])
      })

      it('setPassword makes the new password work and the old one fail; for an unknown user it is false', async () => {
        await store.userTable.insert({ ...userRecord('alice'), passwordHash: await hashOfWonderland() })
        expect(await store.users.setPassword('alice', 'looking glass')).toBe(true)
        expect(await store.users.authenticate('alice', 'wonderland')).toBeUndefined()
        expect((await store.users.authenticate('alice', 'looking glass'))?.userId).toBe('alice')
        expect(await store.userTable.updatePasswordHash('nobody', FAKE_PASSWORD_HASH)).toBe(false)
        await expect(store.users.setPassword('alice', '')).rejects.toThrow(TypeError)
      })

      it('lists users and removes them, which frees the username; removing an unknown user is false', async () => {
        await store.userTable.insert(userRecord('u1', 'alice'))
        await store.userTable.insert(userRecord('u2', 'bob'))
        expect((await store.users.list()).map((user) => user.userId).sort()).toEqual(['u1', 'u2'])
        expect(await store.users.remove('u1')).toBe(true)
        expect(await store.users.get('u1')).toBeUndefined()
        expect(await store.users.getByUsername('alice')).toBeUndefined()
        expect(await store.users.remove('u1')).toBe(false)
        await store.userTable.insert(userRecord('u3', 'alice'))
        expect((await store.users.getByUsername('alice'))?.userId).toBe('u3')
      })
    })

    describe('codes', () => {
      beforeEach(seed)

      it('inserts a code and gets it by digest; an unknown digest gives undefined', async () => {
        const code = codeRecord('code-1', { redirectUri: 'https://app.example/callback', codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', codeChallengeMethod: 'S256' })
        await store.codes.insert(code)
        expect(await store.codes.get(code.codeHash)).toEqual(code)
        expect(await store.codes.get(tokenHash('code-2'))).toBeUndefined()
      })

      it('consume succeeds once and records when; a second consume and an unknown code are false', async () => {
        const code = codeRecord('code-1')
        await store.codes.insert(code)
        expect(await store.codes.consume(code.codeHash, NOW + 5)).toBe(true)
        expect(await store.codes.consume(code.codeHash, NOW + 6)).toBe(false)
        expect(await store.codes.get(code.codeHash)).toEqual({ ...code, consumedAt: NOW + 5 })
        expect(await store.codes.consume(tokenHash('unknown'), NOW)).toBe(false)
      })

      it('of 50 concurrent consume calls on one code, exactly one is true', async () => {
        const code = codeRecord('code-1')
        await store.codes.insert(code)
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.codes.consume(code.codeHash, NOW + i)))
        expect(wins(results)).toBe(1)
        expect((await store.codes.get(code.codeHash))?.consumedAt).toBe(NOW + results.indexOf(true))
      })
    })

    describe('OpenID Connect (issue 18): claims, nonces and sign-ins', () => {
      beforeEach(seed)

      it("keeps a user's claims as JSON, replaces them with updateClaims, and answers no field for a user without any", async () => {
        const claims = { name: 'Zoë', email_verified: true, updated_at: 1_700_000_000, address: { formatted: 'Line 1\nLine 2', country: 'GB' } }
        await store.userTable.insert({ ...userRecord('carol'), claims })
        expect(await store.userTable.get('carol')).toEqual({ ...userRecord('carol'), claims })
        expect(await store.userTable.updateClaims('carol', { locale: 'fr-FR' })).toBe(true)
        expect((await store.userTable.get('carol'))?.claims).toEqual({ locale: 'fr-FR' })
        expect(await store.userTable.updateClaims('carol', {})).toBe(true)
        expect(await store.userTable.get('carol')).toEqual(userRecord('carol'))
        expect(await store.userTable.get('carol')).not.toHaveProperty('claims')
        expect(await store.userTable.updateClaims('nobody', { name: 'x' })).toBe(false)
        expect(await store.users.setClaims('alice', { email: 'alice@example.com' })).toBe(true)
        expect((await store.users.getByUsername('alice'))?.claims).toEqual({ email: 'alice@example.com' })
        await expect(store.users.setClaims('alice', { shoe_size: 42 })).rejects.toThrow(TypeError)
      })

      it('keeps the nonce and the sign-in of a code, and the sign-in of a token', async () => {
        const authentication = { authTime: NOW - 30, acr: 'urn:example:loa:2', amr: ['pwd', 'otp'] }
        const code = codeRecord('code-oidc', { nonce: 'n-0S6_WzA2Mj', authentication })
        await store.codes.insert(code)
        expect(await store.codes.get(code.codeHash)).toEqual(code)
        const refresh = tokenRecord('refresh-oidc', { type: 'refresh_token', authentication: { authTime: NOW } })
        await store.tokens.insert([tokenRecord('access-oidc'), refresh])
        expect(await store.tokens.get(refresh.tokenHash)).toEqual(refresh)
        expect((await store.tokens.get(tokenHash('access-oidc')))?.authentication).toBeUndefined()
        expect((await store.tokens.family(refresh.grantId)).find((token) => token.tokenHash === refresh.tokenHash)?.authentication).toEqual({ authTime: NOW })
      })
    })

    describe('tokens', () => {
      beforeEach(seed)

      it('inserts an access and a refresh token together and gets each by digest', async () => {
        const access = tokenRecord('access-1')
        const refresh = tokenRecord('refresh-1', { type: 'refresh_token', expiresAt: undefined })
        await store.tokens.insert([access, refresh])
        expect(await store.tokens.get(access.tokenHash)).toEqual(access)
        expect(await store.tokens.get(refresh.tokenHash)).toEqual(refresh)
        expect(await store.tokens.get(tokenHash('unknown'))).toBeUndefined()
      })

      it('revoke sets revokedAt once; it is true for a known token and false for an unknown one', async () => {
        const access = tokenRecord('access-1')
        await store.tokens.insert([access])
        expect(await store.tokens.revoke(access.tokenHash, NOW + 10)).toBe(true)
        expect(await store.tokens.revoke(access.tokenHash, NOW + 20)).toBe(true)
        expect(await store.tokens.get(access.tokenHash)).toEqual({ ...access, revokedAt: NOW + 10 })
        expect(await store.tokens.revoke(tokenHash('unknown'), NOW)).toBe(false)
      })

      it('rotate succeeds once and records when; a second rotate and an unknown token are false', async () => {
        const refresh = tokenRecord('refresh-1', { type: 'refresh_token' })
        await store.tokens.insert([refresh])
        expect(await store.tokens.rotate(refresh.tokenHash, NOW + 5)).toBe(true)
        expect(await store.tokens.rotate(refresh.tokenHash, NOW + 6)).toBe(false)
        expect(await store.tokens.get(refresh.tokenHash)).toEqual({ ...refresh, rotatedAt: NOW + 5 })
        expect(await store.tokens.rotate(tokenHash('unknown'), NOW)).toBe(false)
      })

      it('rotate of a revoked refresh token is false and leaves it unrotated', async () => {
        const refresh = tokenRecord('refresh-1', { type: 'refresh_token' })
        await store.tokens.insert([refresh])
        await store.tokens.revoke(refresh.tokenHash, NOW)
        expect(await store.tokens.rotate(refresh.tokenHash, NOW + 1)).toBe(false)
        expect((await store.tokens.get(refresh.tokenHash))?.rotatedAt).toBeUndefined()
      })

      it('of 50 concurrent rotate calls on one refresh token, exactly one is true', async () => {
        const refresh = tokenRecord('refresh-1', { type: 'refresh_token' })
        await store.tokens.insert([refresh])
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.tokens.rotate(refresh.tokenHash, NOW + i)))
        expect(wins(results)).toBe(1)
        expect((await store.tokens.get(refresh.tokenHash))?.rotatedAt).toBe(NOW + results.indexOf(true))
      })

      it('revokeFamily revokes the unrevoked tokens of that family only and counts them', async () => {
        const family = [
          tokenRecord('access-1', { grantId: 'grant-1' }),
          tokenRecord('refresh-1', { grantId: 'grant-1', type: 'refresh_token', rotatedAt: NOW }),
          tokenRecord('access-2', { grantId: 'grant-1' }),
          tokenRecord('refresh-2', { grantId: 'grant-1', type: 'refresh_token' }),
        ]
        const earlier = tokenRecord('access-0', { grantId: 'grant-1', revokedAt: NOW - 100 })
        const stranger = tokenRecord('access-9', { grantId: 'grant-2' })
        await store.tokens.insert(family.slice(0, 2))
        await store.tokens.insert(family.slice(2))
        await store.tokens.insert([earlier, stranger])
        expect(await store.tokens.revokeFamily('grant-1', NOW + 1)).toBe(4)
        for (const token of family) expect((await store.tokens.get(token.tokenHash))?.revokedAt).toBe(NOW + 1)
        expect((await store.tokens.get(earlier.tokenHash))?.revokedAt).toBe(NOW - 100)
        expect((await store.tokens.get(stranger.tokenHash))?.revokedAt).toBeUndefined()
        expect(await store.tokens.revokeFamily('grant-1', NOW + 2)).toBe(0)
        expect(await store.tokens.revokeFamily('unknown', NOW)).toBe(0)
      })

      it('revokeFamily finds a family of one token, and one that a purge shrank to one and a rotation grew again', async () => {
        await store.tokens.insert([tokenRecord('alone', { grantId: 'grant-alone' })])
        await store.tokens.insert([tokenRecord('old', { grantId: 'grant-3', expiresAt: NOW - 30 * 24 * 3600 }), tokenRecord('kept', { grantId: 'grant-3' })])
        expect(await store.purgeExpired(NOW)).toBe(1)
        await store.tokens.insert([tokenRecord('added', { grantId: 'grant-3' })])
        expect(await store.tokens.revokeFamily('grant-alone', NOW)).toBe(1)
        expect((await store.tokens.get(tokenHash('alone')))?.revokedAt).toBe(NOW)
        expect(await store.tokens.revokeFamily('grant-3', NOW)).toBe(2)
        for (const value of ['kept', 'added']) expect((await store.tokens.get(tokenHash(value)))?.revokedAt).toBe(NOW)
        expect(await store.tokens.get(tokenHash('old'))).toBeUndefined()
      })
    })

    describe('consents', () => {
      beforeEach(seed)

      it('puts a consent, replaces it with a second put, and deletes it, per client and user', async () => {
        expect(await store.consents.get('app', 'alice')).toBeUndefined()
        await store.consents.put(consentRecord('app', 'alice', ['read']))
        await store.consents.put(consentRecord('app', 'bob', ['write']))
        await store.consents.put(consentRecord('other', 'alice', ['admin']))
        expect(await store.consents.get('app', 'alice')).toEqual(consentRecord('app', 'alice', ['read']))
        const replacement = { ...consentRecord('app', 'alice', ['read', 'write']), grantedAt: NOW + 60 }
        await store.consents.put(replacement)
        expect(await store.consents.get('app', 'alice')).toEqual(replacement)
        expect(await store.consents.delete('app', 'alice')).toBe(true)
        expect(await store.consents.get('app', 'alice')).toBeUndefined()
        expect(await store.consents.delete('app', 'alice')).toBe(false)
        expect(await store.consents.get('app', 'bob')).toEqual(consentRecord('app', 'bob', ['write']))
        expect(await store.consents.get('other', 'alice')).toEqual(consentRecord('other', 'alice', ['admin']))
      })
    })

    describe('removing a client or user', () => {
      beforeEach(seed)

      /** For each client and user: a code, a token and a consent; plus a client credentials token of each client. */
      async function populate(): Promise<void> {
        for (const clientId of ['app', 'other']) {
          for (const userId of ['alice', 'bob']) {
            await store.codes.insert(codeRecord(`code ${clientId} ${userId}`, { clientId, userId }))
            await store.tokens.insert([tokenRecord(`token ${clientId} ${userId}`, { clientId, userId, grantId: `${clientId} ${userId}` })])
            await store.consents.put(consentRecord(clientId, userId))
          }
          await store.tokens.insert([tokenRecord(`token ${clientId}`, { clientId, userId: undefined, grantId: clientId })])
        }
      }

      async function present(clientId: string, userId: string): Promise<boolean[]> {
        return [
          (await store.codes.get(tokenHash(`code ${clientId} ${userId}`))) !== undefined,
          (await store.tokens.get(tokenHash(`token ${clientId} ${userId}`))) !== undefined,
          (await store.consents.get(clientId, userId)) !== undefined,
        ]
      }

      it("removing a client removes its codes, tokens and consents, and nobody else's", async () => {
        await populate()
        expect(await store.clients.remove('app')).toBe(true)
        expect(await present('app', 'alice')).toEqual([false, false, false])
        expect(await present('app', 'bob')).toEqual([false, false, false])
        expect(await store.tokens.get(tokenHash('token app'))).toBeUndefined()
        expect(await present('other', 'alice')).toEqual([true, true, true])
        expect(await present('other', 'bob')).toEqual([true, true, true])
        expect(await store.tokens.get(tokenHash('token other'))).toBeDefined()
        expect(await store.tokens.revokeFamily('app alice', NOW)).toBe(0)
      })

      it("removing a user removes their codes, tokens and consents, and nobody else's", async () => {
        await populate()
        expect(await store.users.remove('alice')).toBe(true)
        expect(await present('app', 'alice')).toEqual([false, false, false])
        expect(await present('other', 'alice')).toEqual([false, false, false])
        expect(await present('app', 'bob')).toEqual([true, true, true])
        expect(await present('other', 'bob')).toEqual([true, true, true])
        expect(await store.tokens.get(tokenHash('token app'))).toBeDefined()
        expect(await store.tokens.get(tokenHash('token other'))).toBeDefined()
      })
    })

    describe('transactions', () => {
      beforeEach(seed)

      it('commits the writes of work that resolves, which sees its own writes, and resolves to its result', async () => {
        const code = codeRecord('code-1')
        const access = tokenRecord('access-1')
        const result = await store.transaction(async () => {
          await store.codes.insert(code)
          expect(await store.codes.consume(code.codeHash, NOW)).toBe(true)
          await store.tokens.insert([access])
          expect(await store.tokens.get(access.tokenHash)).toEqual(access)
          return 'done'
        })
        expect(result).toBe('done')
        expect((await store.codes.get(code.codeHash))?.consumedAt).toBe(NOW)
        expect(await store.tokens.get(access.tokenHash)).toEqual(access)
      })

      it('undoes every write of work that throws, consume and rotate included, and rethrows the error', async () => {
        const code = codeRecord('code-1')
        const refresh = tokenRecord('refresh-1', { type: 'refresh_token', grantId: 'grant-1' })
        const access = tokenRecord('access-1', { grantId: 'grant-1' })
        const otherFamily = tokenRecord('access-2', { grantId: 'grant-2' })
        await store.codes.insert(code)
        await store.codes.insert(codeRecord('code of other', { clientId: 'other' }))
        await store.tokens.insert([access, refresh, otherFamily])
        await store.consents.put(consentRecord('app', 'alice'))
        await store.consents.put(consentRecord('other', 'bob'))
        const snapshot = async () => ({
          clients: [...(await store.clients.list())].sort((a, b) => a.clientId.localeCompare(b.clientId)),
          users: [...(await store.users.list())].sort((a, b) => a.userId.localeCompare(b.userId)),
          codes: await Promise.all(['code-1', 'code-2', 'code of other'].map((value) => store.codes.get(tokenHash(value)))),
          tokens: await Promise.all(['access-1', 'refresh-1', 'access-2', 'access-3'].map((value) => store.tokens.get(tokenHash(value)))),
          consents: await Promise.all([store.consents.get('app', 'alice'), store.consents.get('app', 'bob'), store.consents.get('other', 'bob')]),
        })
        const before = await snapshot()
        const failure = new Error('saving the tokens failed')
        const outcome = store.transaction(async () => {
          await store.clientTable.insert(clientRecord('third'))
          await store.clientTable.updateSecretHash('app', 'sha256:changed')
          await store.userTable.insert(userRecord('carol'))
          await store.userTable.updatePasswordHash('alice', 'scrypt:changed')
          await store.codes.insert(codeRecord('code-2'))
          expect(await store.codes.consume(code.codeHash, NOW)).toBe(true)
          expect(await store.tokens.rotate(refresh.tokenHash, NOW)).toBe(true)
          await store.tokens.insert([tokenRecord('access-3', { grantId: 'grant-1' })])
          expect(await store.tokens.revoke(otherFamily.tokenHash, NOW)).toBe(true)
          expect(await store.tokens.revokeFamily('grant-1', NOW)).toBe(3)
          await store.consents.put(consentRecord('app', 'alice', ['read', 'write']))
          await store.consents.put(consentRecord('app', 'bob'))
          expect(await store.clients.remove('other')).toBe(true)
          expect(await store.users.remove('bob')).toBe(true)
          throw failure
        })
        await expect(outcome).rejects.toBe(failure)
        expect(await snapshot()).toEqual(before)
        expect(await store.users.getByUsername('bob')).toEqual(userRecord('bob'))
        expect(await store.users.getByUsername('carol')).toBeUndefined()
        expect(await store.tokens.revokeFamily('grant-1', NOW)).toBe(2)
      })

      it('a code consumed in a transaction that rolls back can be consumed by a concurrent transaction', async () => {
        const code = codeRecord('code-1')
        await store.codes.insert(code)
        const consumed = deferred()
        const gate = deferred()
        const failure = new Error('saving the tokens failed')
        const first = store.transaction(async () => {
          expect(await store.codes.consume(code.codeHash, NOW)).toBe(true)
          consumed.resolve()
          await gate.promise
          throw failure
        })
        const firstOutcome = first.then(
          () => undefined,
          (error: unknown) => error,
        )
        await consumed.promise
        const second = store.transaction(() => store.codes.consume(code.codeHash, NOW + 1))
        gate.resolve()
        expect(await firstOutcome).toBe(failure)
        expect(await second).toBe(true)
        expect((await store.codes.get(code.codeHash))?.consumedAt).toBe(NOW + 1)
      })

      it('a write outside a transaction is kept when a concurrent transaction rolls back', async () => {
        const wrote = deferred()
        const gate = deferred()
        const failure = new Error('saving the tokens failed')
        const failing = store.transaction(async () => {
          await store.codes.insert(codeRecord('code-inside'))
          wrote.resolve()
          await gate.promise
          throw failure
        })
        const failingOutcome = failing.then(
          () => undefined,
          (error: unknown) => error,
        )
        await wrote.promise
        const outside = Promise.all([store.consents.put(consentRecord('other', 'bob')), store.codes.insert(codeRecord('code-outside', { clientId: 'other', userId: 'bob' }))])
        // Let the outside writes run as far as they can before the transaction fails.
        await new Promise((resolve) => setTimeout(resolve, 20))
        gate.resolve()
        expect(await failingOutcome).toBe(failure)
        await outside
        expect(await store.codes.get(tokenHash('code-inside'))).toBeUndefined()
        expect(await store.consents.get('other', 'bob')).toEqual(consentRecord('other', 'bob'))
        expect(await store.codes.get(tokenHash('code-outside'))).toEqual(codeRecord('code-outside', { clientId: 'other', userId: 'bob' }))
      })
    })

    describe('purgeExpired', () => {
      beforeEach(seed)

      it('deletes codes and tokens expired long ago, keeps live ones, and counts what it deleted', async () => {
        const longAgo = NOW - 30 * DAY
        const expiredCodes = [codeRecord('old code', { expiresAt: longAgo }), codeRecord('old consumed code', { expiresAt: longAgo, consumedAt: longAgo - 60 })]
        const liveCodes = [codeRecord('live code'), codeRecord('live consumed code', { consumedAt: NOW - 10 })]
        const expiredTokens = [
          tokenRecord('old access', { expiresAt: longAgo }),
          tokenRecord('old refresh', { type: 'refresh_token', expiresAt: longAgo, rotatedAt: longAgo - 60 }),
          tokenRecord('old revoked access', { expiresAt: longAgo, revokedAt: longAgo - 60 }),
        ]
        const liveTokens = [
          tokenRecord('live access'),
          tokenRecord('live revoked access', { revokedAt: NOW - 10 }),
          tokenRecord('refresh without expiry', { type: 'refresh_token', expiresAt: undefined }),
          tokenRecord('rotated refresh without expiry', { type: 'refresh_token', expiresAt: undefined, rotatedAt: longAgo }),
        ]
        for (const code of [...expiredCodes, ...liveCodes]) await store.codes.insert(code)
        await store.tokens.insert([...expiredTokens, ...liveTokens])
        expect(await store.purgeExpired(NOW)).toBe(5)
        for (const code of expiredCodes) expect(await store.codes.get(code.codeHash)).toBeUndefined()
        for (const code of liveCodes) expect(await store.codes.get(code.codeHash)).toEqual(code)
        for (const token of expiredTokens) expect(await store.tokens.get(token.tokenHash)).toBeUndefined()
        for (const token of liveTokens) expect(await store.tokens.get(token.tokenHash)).toEqual(token)
        expect(await store.purgeExpired(NOW)).toBe(0)
        // The family holds only what is left: three live tokens not yet revoked.
        expect(await store.tokens.revokeFamily('grant-1', NOW)).toBe(3)
      })

      it('deletes a refresh token without expiry once it has been revoked for the grace period, in every backend alike', async () => {
        const revokedLongAgo = tokenRecord('revoked long ago', { type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - 30 * DAY })
        const revokedJustNow = tokenRecord('revoked just now', { type: 'refresh_token', expiresAt: undefined, revokedAt: NOW - 10 })
        await store.tokens.insert([revokedLongAgo, revokedJustNow])
        expect(await store.purgeExpired(NOW)).toBe(1)
        expect(await store.tokens.get(revokedLongAgo.tokenHash)).toBeUndefined()
        expect(await store.tokens.get(revokedJustNow.tokenHash)).toEqual(revokedJustNow)
      })
    })

    describe('records', () => {
      beforeEach(seed)

      it('returns copies: changing a record got back, or one passed in, does not change the store', async () => {
        const input = {
          client: { ...clientRecord('third'), redirectUris: ['https://third.example/cb'], scopes: ['read'] },
          user: userRecord('carol'),
          code: { ...codeRecord('code-1'), scopes: ['read'], resources: ['https://api.example/'] },
          token: { ...tokenRecord('access-1'), scopes: ['read'] },
          consent: { ...consentRecord('app', 'alice'), scopes: ['read'] },
        }
        const expected = structuredClone(input)
        await store.clientTable.insert(input.client)
        await store.userTable.insert(input.user)
        await store.codes.insert(input.code)
        await store.tokens.insert([input.token])
        await store.consents.put(input.consent)
        const read = async () => ({
          client: await store.clients.get('third'),
          user: await store.users.get('carol'),
          code: await store.codes.get(expected.code.codeHash),
          token: await store.tokens.get(expected.token.tokenHash),
          consent: await store.consents.get('app', 'alice'),
        })
        for (const record of Object.values(input)) scribble(record)
        expect(await read()).toEqual(expected)
        for (const record of Object.values(await read())) scribble(record as object)
        for (const record of [...(await store.clients.list()), ...(await store.users.list())]) scribble(record)
        expect(await read()).toEqual(expected)
        expect(await store.users.getByUsername('carol')).toEqual(expected.user)
      })

      it('round-trips timestamps, strings and arrays exactly: order, empty arrays, and absent optional fields', async () => {
        const client = clientRecord('Café ☕ 𝄞', {
          name: 'Ünïcode “client”',
          secretHash: undefined,
          redirectUris: ['https://b.example/cb?x=1&y=2', 'https://a.example/cb', 'com.example.app:/cb'],
          grantTypes: ['refresh_token', 'authorization_code'],
          responseTypes: ['code'],
          scopes: ['write', 'read', 'https://api.example/read', 'openid'],
          resources: ['https://z.example/', 'https://a.example/'],
          tokenEndpointAuthMethod: 'none',
          createdAt: YEAR_2100,
        })
        const user: UserRecord = { userId: 'zoë', username: 'Zoë Ångström', passwordHash: FAKE_PASSWORD_HASH, createdAt: 0 }
        const fullCode = codeRecord('full code', {
          clientId: client.clientId,
          userId: user.userId,
          scopes: ['write', 'read'],
          redirectUri: 'https://b.example/cb?x=1&y=2',
          codeChallenge: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
          codeChallengeMethod: 'plain',
          resources: ['https://z.example/', 'https://a.example/'],
          expiresAt: YEAR_2100,
          grantId: 'grant-ü',
          consumedAt: YEAR_2100 - 1,
        })
        const bareCode = codeRecord('bare code', { scopes: [], resources: [] })
        const fullToken = tokenRecord('full token', {
          type: 'refresh_token',
          clientId: client.clientId,
          userId: user.userId,
          scopes: ['write', 'read'],
          resources: ['https://z.example/', 'https://a.example/'],
          issuedAt: YEAR_2100 - 10,
          expiresAt: YEAR_2100,
          grantId: 'grant-ü',
          revokedAt: YEAR_2100 - 2,
          rotatedAt: YEAR_2100 - 3,
        })
        const bareToken = tokenRecord('bare token', { userId: undefined, scopes: [], expiresAt: undefined, issuedAt: 0 })
        const consent: ConsentRecord = { clientId: client.clientId, userId: user.userId, scopes: [], grantedAt: YEAR_2100 }
        await store.clientTable.insert(client)
        await store.userTable.insert(user)
        await store.codes.insert(fullCode)
        await store.codes.insert(bareCode)
        await store.tokens.insert([fullToken, bareToken])
        await store.consents.put(consent)

        expect(await store.clients.get(client.clientId)).toEqual(client)
        expect(await store.users.get(user.userId)).toEqual(user)
        expect(await store.users.getByUsername(user.username)).toEqual(user)
        expect(await store.codes.get(fullCode.codeHash)).toEqual(fullCode)
        expect(await store.tokens.get(fullToken.tokenHash)).toEqual(fullToken)
        expect(await store.consents.get(client.clientId, user.userId)).toEqual(consent)

        const code = await store.codes.get(bareCode.codeHash)
        expect(code).toEqual(bareCode)
        expect([code?.redirectUri, code?.codeChallenge, code?.codeChallengeMethod, code?.consumedAt]).toEqual([undefined, undefined, undefined, undefined])
        const token = await store.tokens.get(bareToken.tokenHash)
        expect(token).toEqual(bareToken)
        expect([token?.userId, token?.expiresAt, token?.revokedAt, token?.rotatedAt]).toEqual([undefined, undefined, undefined, undefined])
        expect((await store.clients.get(client.clientId))?.secretHash).toBeUndefined()
        // Numbers stay numbers (a driver may hand back a BIGINT as a string).
        expect(typeof (await store.clients.get(client.clientId))?.createdAt).toBe('number')
        expect(typeof token?.issuedAt).toBe('number')
      })
    })

    describe('signing keys', () => {
      /** A made-up key record: the table stores the JWKs as text and never parses them. */
      function keyRecord(kid: string, fields: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
        return {
          kid,
          alg: 'ES256',
          privateJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: `x of ${kid}`, y: `y of ${kid}`, d: `d of ${kid}` }),
          publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: `x of ${kid}`, y: `y of ${kid}` }),
          createdAt: NOW,
          ...fields,
        }
      }

      it('inserts keys and lists them newest first, the last inserted first among keys of the same second', async () => {
        await store.keys.insert(keyRecord('middle', { createdAt: NOW - 10 }))
        await store.keys.insert(keyRecord('same second, first', { createdAt: NOW }))
        await store.keys.insert(keyRecord('oldest', { createdAt: NOW - 20 }))
        await store.keys.insert(keyRecord('same second, second', { createdAt: NOW }))
        await store.keys.insert(keyRecord('same second, third', { createdAt: NOW }))
        expect((await store.keys.list()).map((key) => key.kid)).toEqual(['same second, third', 'same second, second', 'same second, first', 'middle', 'oldest'])
      })

      it('round-trips a key exactly, private JWK included, with absent optional fields absent', async () => {
        const rsa = keyRecord('rsa', {
          alg: 'RS256',
          privateJwk: '{"kty":"RSA","n":"…","e":"AQAB","d":"…","p":"…","q":"…","dp":"…","dq":"…","qi":"…"}',
          publicJwk: '{"kty":"RSA","n":"…","e":"AQAB"}',
          createdAt: YEAR_2100 - 10,
          retiredAt: YEAR_2100 - 5,
          expiresAt: YEAR_2100,
        })
        const ed = keyRecord('ed', {
          alg: 'EdDSA',
          privateJwk: '{"kty":"OKP","crv":"Ed25519","x":"x","d":"d"}',
          publicJwk: '{"kty":"OKP","crv":"Ed25519","x":"x"}',
          createdAt: 0,
        })
        await store.keys.insert(rsa)
        await store.keys.insert(ed)
        const [first, second] = await store.keys.list()
        expect(first).toEqual(rsa)
        expect(second).toEqual(ed)
        expect([second?.retiredAt, second?.expiresAt]).toEqual([undefined, undefined])
        expect(typeof first?.expiresAt).toBe('number')
      })

      it('refuses a second key with the same kid and keeps the first', async () => {
        await store.keys.insert(keyRecord('k1'))
        await expect(store.keys.insert(keyRecord('k1', { alg: 'RS256', createdAt: NOW + 1 }))).rejects.toThrow()
        expect(await store.keys.list()).toEqual([keyRecord('k1')])
      })

      it('returns copies: changing a key got back, or one passed in, does not change the store', async () => {
        const input = keyRecord('k1')
        await store.keys.insert(input)
        scribble(input)
        for (const key of await store.keys.list()) scribble(key)
        expect(await store.keys.list()).toEqual([keyRecord('k1')])
      })

      it('retire sets retiredAt and expiresAt of a key that signs, once; a retired or unknown key gives false', async () => {
        await store.keys.insert(keyRecord('k1'))
        await store.keys.insert(keyRecord('k2', { createdAt: NOW + 1 }))
        expect(await store.keys.retire('k1', NOW + 1, NOW + 3601)).toBe(true)
        expect(await store.keys.retire('k1', NOW + 2, NOW + 9999)).toBe(false)
        expect(await store.keys.retire('unknown', NOW, NOW)).toBe(false)
        expect(await store.keys.list()).toEqual([keyRecord('k2', { createdAt: NOW + 1 }), keyRecord('k1', { retiredAt: NOW + 1, expiresAt: NOW + 3601 })])
      })

      it('retires a key exactly once among concurrent calls', async () => {
        await store.keys.insert(keyRecord('k1'))
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.keys.retire('k1', NOW + i, NOW + 3600 + i)))
        expect(wins(results)).toBe(1)
        const winner = results.indexOf(true)
        expect(await store.keys.list()).toEqual([keyRecord('k1', { retiredAt: NOW + winner, expiresAt: NOW + 3600 + winner })])
      })

      it('deletes a key; deleting an unknown key is false', async () => {
        await store.keys.insert(keyRecord('k1'))
        await store.keys.insert(keyRecord('k2'))
        expect(await store.keys.delete('k1')).toBe(true)
        expect(await store.keys.delete('k1')).toBe(false)
        expect(await store.keys.delete('unknown')).toBe(false)
        expect((await store.keys.list()).map((key) => key.kid)).toEqual(['k2'])
      })

      it('purgeExpired deletes the keys whose expiresAt passed, with no grace, keeps the others, and counts them', async () => {
        const gone = [
          keyRecord('expired long ago', { retiredAt: NOW - 30 * DAY, expiresAt: NOW - 29 * DAY }),
          keyRecord('expired a second ago', { retiredAt: NOW - 3601, expiresAt: NOW - 1 }),
        ]
        const kept = [
          keyRecord('signing', { createdAt: NOW - 40 * DAY }),
          keyRecord('expires now', { retiredAt: NOW - 3600, expiresAt: NOW }),
          keyRecord('expires later', { retiredAt: NOW - 10, expiresAt: NOW + 3590 }),
        ]
        for (const key of [...gone, ...kept]) await store.keys.insert(key)
        expect(await store.purgeExpired(NOW)).toBe(2)
        expect((await store.keys.list()).map((key) => key.kid).sort()).toEqual(kept.map((key) => key.kid).sort())
        expect(await store.purgeExpired(NOW)).toBe(0)
      })

      it('undoes key writes of a transaction whose work throws', async () => {
        await store.keys.insert(keyRecord('old'))
        await store.keys.insert(keyRecord('doomed'))
        const before = await store.keys.list()
        const failure = new Error('rotation failed')
        await expect(
          store.transaction(async () => {
            await store.keys.insert(keyRecord('new', { createdAt: NOW + 1 }))
            expect(await store.keys.retire('old', NOW + 1, NOW + 3601)).toBe(true)
            expect(await store.keys.delete('doomed')).toBe(true)
            throw failure
          }),
        ).rejects.toBe(failure)
        expect(await store.keys.list()).toEqual(before)
      })
    })

    describe('rate limits', () => {
      /** Keys as the ready server makes them: a namespace and a SHA-256 digest. */
      const key = (name: string) => `test:${tokenHash(name)}`

      it('counts hits in a window that starts at the first hit and is not extended by the next ones', async () => {
        expect(await store.rateLimits.hit(key('a'), 60, NOW)).toEqual({ count: 1, resetAt: NOW + 60 })
        expect(await store.rateLimits.hit(key('a'), 60, NOW + 10)).toEqual({ count: 2, resetAt: NOW + 60 })
        expect(await store.rateLimits.hit(key('a'), 600, NOW + 59)).toEqual({ count: 3, resetAt: NOW + 60 })
        expect(await store.rateLimits.hit(key('b'), 60, NOW + 30)).toEqual({ count: 1, resetAt: NOW + 90 })
      })

      it('starts a new window with a count of 1 once the window ended (at resetAt exactly)', async () => {
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.hit(key('a'), 60, NOW)
        expect(await store.rateLimits.hit(key('a'), 60, NOW + 60)).toEqual({ count: 1, resetAt: NOW + 120 })
        expect(await store.rateLimits.hit(key('a'), 60, YEAR_2100)).toEqual({ count: 1, resetAt: YEAR_2100 + 60 })
      })

      it('peek gives the running windows of several keys in their order, without counting; ended or unknown ones are undefined', async () => {
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.hit(key('b'), 10, NOW)
        const peeked = await store.rateLimits.peek([key('unknown'), key('b'), key('a')], NOW + 5)
        expect(peeked).toEqual([undefined, { count: 1, resetAt: NOW + 10 }, { count: 2, resetAt: NOW + 60 }])
        expect(await store.rateLimits.peek([key('a'), key('b')], NOW + 10)).toEqual([{ count: 2, resetAt: NOW + 60 }, undefined])
        expect(await store.rateLimits.peek([], NOW)).toEqual([])
        // Peeking counted nothing.
        expect(await store.rateLimits.hit(key('a'), 60, NOW + 20)).toEqual({ count: 3, resetAt: NOW + 60 })
        // A hit is seen by the next peek at once, in the same turn of the event loop too.
        expect(await store.rateLimits.peek([key('unknown'), key('b'), key('a')], NOW + 5)).toEqual([undefined, { count: 1, resetAt: NOW + 10 }, { count: 3, resetAt: NOW + 60 }])
      })

      it('reset ends a window at once; the next hit starts from 1; resetting an unknown key is false', async () => {
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.hit(key('b'), 60, NOW)
        expect(await store.rateLimits.reset(key('a'))).toBe(true)
        expect(await store.rateLimits.reset(key('a'))).toBe(false)
        expect(await store.rateLimits.reset(key('unknown'))).toBe(false)
        expect(await store.rateLimits.peek([key('a'), key('b')], NOW)).toEqual([undefined, { count: 1, resetAt: NOW + 60 }])
        expect(await store.rateLimits.hit(key('a'), 30, NOW + 1)).toEqual({ count: 1, resetAt: NOW + 31 })
      })

      it('of 50 concurrent hits on one key, the counts returned are 1 to 50, each once, and all share one window', async () => {
        const windows = await Promise.all(Array.from({ length: 50 }, () => store.rateLimits.hit(key('busy'), 60, NOW)))
        expect(windows.map((window) => window.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
        expect(new Set(windows.map((window) => window.resetAt))).toEqual(new Set([NOW + 60]))
        expect(await store.rateLimits.peek([key('busy')], NOW)).toEqual([{ count: 50, resetAt: NOW + 60 }])
      })

      it('release gives one hit back in a running window, never below zero, and leaves an ended window and an unknown key alone', async () => {
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.hit(key('a'), 60, NOW)
        await store.rateLimits.release(key('a'), NOW + 1)
        expect(await store.rateLimits.peek([key('a')], NOW + 1)).toEqual([{ count: 1, resetAt: NOW + 60 }])
        await store.rateLimits.release(key('a'), NOW + 1)
        await store.rateLimits.release(key('a'), NOW + 1)
        expect(await store.rateLimits.peek([key('a')], NOW + 1)).toEqual([{ count: 0, resetAt: NOW + 60 }])
        expect(await store.rateLimits.hit(key('a'), 60, NOW + 2)).toEqual({ count: 1, resetAt: NOW + 60 })
        await store.rateLimits.hit(key('ended'), 10, NOW)
        await store.rateLimits.release(key('ended'), NOW + 10)
        expect(await store.rateLimits.hit(key('ended'), 10, NOW + 10)).toEqual({ count: 1, resetAt: NOW + 20 })
        await store.rateLimits.release(key('unknown'), NOW)
        expect(await store.rateLimits.peek([key('unknown')], NOW)).toEqual([undefined])
      })

      it('of 50 concurrent hits and 20 concurrent releases on one key, the count ends at 30', async () => {
        await Promise.all(Array.from({ length: 50 }, () => store.rateLimits.hit(key('busy'), 60, NOW)))
        await Promise.all(Array.from({ length: 20 }, () => store.rateLimits.release(key('busy'), NOW)))
        expect(await store.rateLimits.peek([key('busy')], NOW)).toEqual([{ count: 30, resetAt: NOW + 60 }])
      })

      it('purgeExpired deletes the windows that ended, with no grace, keeps running ones, and counts them', async () => {
        await store.rateLimits.hit(key('ended long ago'), 60, NOW - DAY)
        await store.rateLimits.hit(key('ends now'), 60, NOW - 60)
        await store.rateLimits.hit(key('running'), 60, NOW - 59)
        expect(await store.purgeExpired(NOW)).toBe(2)
        expect(await store.purgeExpired(NOW)).toBe(0)
        expect(await store.rateLimits.reset(key('ended long ago'))).toBe(false)
        expect(await store.rateLimits.reset(key('ends now'))).toBe(false)
        expect(await store.rateLimits.peek([key('running')], NOW)).toEqual([{ count: 1, resetAt: NOW + 1 }])
      })
    })

    describe('sessions', () => {
      beforeEach(seed)

      function sessionRecord(id: string, fields: Partial<SessionRecord> = {}): SessionRecord {
        return { sessionHash: tokenHash(id), userId: 'alice', authTime: NOW, expiresAt: NOW + 3600, ...fields }
      }

      it('inserts a session, finds it by digest until it expires, and deletes it once', async () => {
        await store.sessions.insert(sessionRecord('s1', { authTime: NOW - 5 }))
        expect(await store.sessions.get(tokenHash('s1'), NOW)).toEqual(sessionRecord('s1', { authTime: NOW - 5 }))
        expect(await store.sessions.get(tokenHash('s1'), NOW + 3599)).toBeDefined()
        expect(await store.sessions.get(tokenHash('s1'), NOW + 3600)).toBeUndefined()
        expect(await store.sessions.get(tokenHash('unknown'), NOW)).toBeUndefined()
        expect(await store.sessions.delete(tokenHash('s1'))).toBe(true)
        expect(await store.sessions.delete(tokenHash('s1'))).toBe(false)
        expect(await store.sessions.get(tokenHash('s1'), NOW)).toBeUndefined()
      })

      it('refuses a duplicate digest or an unknown user, and keeps the first', async () => {
        await store.sessions.insert(sessionRecord('s1'))
        await expect(store.sessions.insert(sessionRecord('s1', { userId: 'bob' }))).rejects.toThrow()
        await expect(store.sessions.insert(sessionRecord('s2', { userId: 'nobody' }))).rejects.toThrow()
        expect((await store.sessions.get(tokenHash('s1'), NOW))?.userId).toBe('alice')
        expect(await store.sessions.get(tokenHash('s2'), NOW)).toBeUndefined()
      })

      it('deleteForUser ends every session of that user only, and counts them', async () => {
        await store.sessions.insert(sessionRecord('a1'))
        await store.sessions.insert(sessionRecord('a2'))
        await store.sessions.insert(sessionRecord('b1', { userId: 'bob' }))
        expect(await store.sessions.deleteForUser('alice')).toBe(2)
        expect(await store.sessions.deleteForUser('alice')).toBe(0)
        expect(await store.sessions.get(tokenHash('a1'), NOW)).toBeUndefined()
        expect(await store.sessions.get(tokenHash('b1'), NOW)).toBeDefined()
      })

      it('removing a user ends their sessions', async () => {
        await store.sessions.insert(sessionRecord('a1'))
        await store.sessions.insert(sessionRecord('b1', { userId: 'bob' }))
        expect(await store.users.remove('alice')).toBe(true)
        expect(await store.sessions.get(tokenHash('a1'), NOW)).toBeUndefined()
        expect(await store.sessions.get(tokenHash('b1'), NOW)).toBeDefined()
      })

      it('setPassword signs the user out everywhere and revokes every token issued to them, and no one else’s', async () => {
        await store.sessions.insert(sessionRecord('a1'))
        await store.sessions.insert(sessionRecord('b1', { userId: 'bob' }))
        await store.tokens.insert([tokenRecord('alice access'), tokenRecord('alice refresh', { type: 'refresh_token', expiresAt: undefined })])
        await store.tokens.insert([tokenRecord('bob access', { userId: 'bob', grantId: 'grant-2' })])
        expect(await store.users.setPassword('alice', 'looking glass')).toBe(true)
        expect(await store.sessions.get(tokenHash('a1'), NOW)).toBeUndefined()
        expect(await store.sessions.get(tokenHash('b1'), NOW)).toBeDefined()
        expect((await store.tokens.get(tokenHash('alice access')))?.revokedAt).toEqual(expect.any(Number))
        expect((await store.tokens.get(tokenHash('alice refresh')))?.revokedAt).toEqual(expect.any(Number))
        expect((await store.tokens.get(tokenHash('bob access')))?.revokedAt).toBeUndefined()
        // An unknown user: nothing changes.
        expect(await store.users.setPassword('nobody', 'pw')).toBe(false)
      })

      it('purgeExpired deletes the sessions that ended, with no grace, keeps live ones, and counts them', async () => {
        await store.sessions.insert(sessionRecord('ended', { expiresAt: NOW - DAY }))
        await store.sessions.insert(sessionRecord('ends now', { expiresAt: NOW }))
        await store.sessions.insert(sessionRecord('live', { expiresAt: NOW + 1 }))
        expect(await store.purgeExpired(NOW)).toBe(2)
        expect(await store.sessions.delete(tokenHash('ended'))).toBe(false)
        expect(await store.sessions.delete(tokenHash('ends now'))).toBe(false)
        expect(await store.sessions.get(tokenHash('live'), NOW)).toBeDefined()
      })
    })

    describe('self-registered clients', () => {
      it('keeps what a client said of itself, and none for an operator’s client', async () => {
        const registration = { clientUri: 'https://self.example', contacts: ['ops@self.example'], applicationType: 'native' as const }
        await store.clientTable.insert(clientRecord('self', { registration }))
        await store.clientTable.insert(clientRecord('operator'))
        expect((await store.clients.get('self'))?.registration).toEqual(registration)
        expect(await store.clients.get('operator')).not.toHaveProperty('registration')
      })

      it('deleteUnusedRegistrations removes old self-registered clients without codes or tokens, and nothing else', async () => {
        await store.userTable.insert(userRecord('alice'))
        await store.clientTable.insert(clientRecord('old-unused', { registration: {}, createdAt: NOW - 2 * DAY }))
        await store.clientTable.insert(clientRecord('old-with-token', { registration: {}, createdAt: NOW - 2 * DAY }))
        await store.clientTable.insert(clientRecord('old-with-code', { registration: {}, createdAt: NOW - 2 * DAY }))
        await store.clientTable.insert(clientRecord('new-unused', { registration: {}, createdAt: NOW }))
        await store.clientTable.insert(clientRecord('operator-unused', { createdAt: NOW - 2 * DAY }))
        // Used once, its tokens since expired and purged: not unused, left to deleteInactiveRegistrations.
        await store.clientTable.insert(clientRecord('old-used', { registration: {}, createdAt: NOW - 2 * DAY, lastUsedAt: NOW - 2 * DAY }))
        await store.tokens.insert([tokenRecord('a token', { clientId: 'old-with-token' })])
        await store.codes.insert(codeRecord('a code', { clientId: 'old-with-code' }))
        expect(await store.clientTable.deleteUnusedRegistrations(NOW - DAY)).toBe(1)
        expect((await store.clients.list()).map((client) => client.clientId).sort()).toEqual(['new-unused', 'old-used', 'old-with-code', 'old-with-token', 'operator-unused'])
        expect(await store.clientTable.deleteUnusedRegistrations(NOW - DAY)).toBe(0)
      })

      it('deleteInactiveRegistrations removes self-registered clients last used (or registered) before the cutoff, with their tokens', async () => {
        await store.clientTable.insert(clientRecord('idle', { registration: {}, createdAt: NOW - 200 * DAY, lastUsedAt: NOW - 100 * DAY }))
        await store.clientTable.insert(clientRecord('never-used', { registration: {}, createdAt: NOW - 100 * DAY }))
        await store.clientTable.insert(clientRecord('active', { registration: {}, createdAt: NOW - 200 * DAY, lastUsedAt: NOW - DAY }))
        await store.clientTable.insert(clientRecord('operator', { createdAt: NOW - 200 * DAY }))
        await store.tokens.insert([tokenRecord('idle token', { clientId: 'idle', userId: undefined })])
        expect(await store.clientTable.deleteInactiveRegistrations(NOW - 90 * DAY)).toBe(2)
        expect((await store.clients.list()).map((client) => client.clientId).sort()).toEqual(['active', 'operator'])
        expect(await store.tokens.get(tokenHash('idle token'))).toBeUndefined()
      })

      it('markUsed sets lastUsedAt of a self-registered client only, and the registration token digest is kept', async () => {
        await store.clientTable.insert(clientRecord('self', { registration: {}, registrationTokenHash: tokenHash('rat') }))
        await store.clientTable.insert(clientRecord('operator'))
        expect((await store.clientTable.get('self'))?.lastUsedAt).toBeUndefined()
        await store.clientTable.markUsed('self', NOW + 5)
        await store.clientTable.markUsed('operator', NOW + 5)
        expect(await store.clientTable.get('self')).toMatchObject({ lastUsedAt: NOW + 5, registrationTokenHash: tokenHash('rat') })
        expect((await store.clientTable.get('operator'))?.lastUsedAt).toBeUndefined()
      })

      it('updateRegistration replaces the client if its token digest is still the one given: of concurrent updates, one', async () => {
        await store.clientTable.insert(clientRecord('self', { registration: { clientUri: 'https://self.example' }, registrationTokenHash: tokenHash('old'), lastUsedAt: NOW }))
        const update = (token: string) =>
          store.clientTable.updateRegistration(
            clientRecord('self', { name: `by ${token}`, redirectUris: ['https://new.example/cb'], secretHash: undefined, tokenEndpointAuthMethod: 'none', registration: {}, registrationTokenHash: tokenHash(token), createdAt: NOW + 99 }),
            tokenHash('old'),
          )
        const results = await Promise.all(['a', 'b', 'c'].map(update))
        expect(results.filter(Boolean)).toHaveLength(1)
        const stored = await store.clientTable.get('self')
        const winner = ['a', 'b', 'c'][results.indexOf(true)] as string
        expect(stored).toMatchObject({ name: `by ${winner}`, redirectUris: ['https://new.example/cb'], tokenEndpointAuthMethod: 'none', registration: {}, registrationTokenHash: tokenHash(winner), createdAt: NOW, lastUsedAt: NOW })
        expect(stored?.secretHash).toBeUndefined()
        expect(await update('d')).toBe(false)
        await store.clientTable.insert(clientRecord('operator'))
        expect(await store.clientTable.updateRegistration(clientRecord('operator', { name: 'taken' }), tokenHash('old'))).toBe(false)
        expect((await store.clientTable.get('operator'))?.name).toBe('Client operator')
      })

      it('updateRegistration with forgetConsents deletes the consents given to that client only, and only when it matched', async () => {
        await store.userTable.insert(userRecord('alice'))
        for (const clientId of ['self', 'other']) {
          await store.clientTable.insert(clientRecord(clientId, { registration: {}, registrationTokenHash: tokenHash(`${clientId} 1`) }))
          await store.consents.put(consentRecord(clientId, 'alice'))
        }
        const update = (token: string, next: string, forget: boolean) =>
          store.clientTable.updateRegistration(clientRecord('self', { registration: {}, registrationTokenHash: tokenHash(next) }), tokenHash(token), forget)
        // A stale token matches nothing, and forgets nothing.
        expect(await update('self 0', 'self 2', true)).toBe(false)
        expect(await store.consents.get('self', 'alice')).toBeDefined()
        expect(await update('self 1', 'self 2', false)).toBe(true)
        expect(await store.consents.get('self', 'alice')).toBeDefined()
        expect(await update('self 2', 'self 3', true)).toBe(true)
        expect(await store.consents.get('self', 'alice')).toBeUndefined()
        expect(await store.consents.get('other', 'alice')).toBeDefined()
      })
    })

    describe('initial access tokens', () => {
      it('inserts, lists oldest first, finds by digest and deletes by id', async () => {
        await store.initialAccessTokenTable.insert({ id: 'b', tokenHash: tokenHash('token b'), createdAt: NOW + 1 })
        await store.initialAccessTokenTable.insert({ id: 'a', tokenHash: tokenHash('token a'), createdAt: NOW, expiresAt: NOW + DAY, usesLeft: 3 })
        expect(await store.initialAccessTokenTable.list()).toEqual([
          { id: 'a', tokenHash: tokenHash('token a'), createdAt: NOW, expiresAt: NOW + DAY, usesLeft: 3 },
          { id: 'b', tokenHash: tokenHash('token b'), createdAt: NOW + 1 },
        ])
        expect(await store.initialAccessTokenTable.get(tokenHash('token b'))).toEqual({ id: 'b', tokenHash: tokenHash('token b'), createdAt: NOW + 1 })
        await expect(store.initialAccessTokenTable.insert({ id: 'c', tokenHash: tokenHash('token a'), createdAt: NOW })).rejects.toThrow()
        expect(await store.initialAccessTokenTable.delete('a')).toBe(true)
        expect(await store.initialAccessTokenTable.delete('a')).toBe(false)
        expect(await store.initialAccessTokenTable.get(tokenHash('token a'))).toBeUndefined()
      })

      it('purgeExpired deletes the tokens expired at or before now, and counts them', async () => {
        await store.initialAccessTokenTable.insert({ id: 'expired', tokenHash: tokenHash('expired'), createdAt: NOW - DAY, expiresAt: NOW })
        await store.initialAccessTokenTable.insert({ id: 'live', tokenHash: tokenHash('live'), createdAt: NOW - DAY, expiresAt: NOW + 1 })
        await store.initialAccessTokenTable.insert({ id: 'forever', tokenHash: tokenHash('forever'), createdAt: NOW - DAY })
        expect(await store.purgeExpired(NOW)).toBe(1)
        expect((await store.initialAccessTokenTable.list()).map((token) => token.id).sort()).toEqual(['forever', 'live'])
      })

      it('use spends one use atomically: of 10 concurrent uses of a 3-use token exactly 3 succeed; an expired or unknown token none', async () => {
        await store.initialAccessTokenTable.insert({ id: 'three', tokenHash: tokenHash('three'), createdAt: NOW, usesLeft: 3 })
        await store.initialAccessTokenTable.insert({ id: 'expired', tokenHash: tokenHash('expired'), createdAt: NOW - DAY, expiresAt: NOW })
        await store.initialAccessTokenTable.insert({ id: 'unlimited', tokenHash: tokenHash('unlimited'), createdAt: NOW })
        const results = await Promise.all(Array.from({ length: 10 }, () => store.initialAccessTokenTable.use(tokenHash('three'), NOW)))
        expect(results.filter(Boolean)).toHaveLength(3)
        expect((await store.initialAccessTokenTable.get(tokenHash('three')))?.usesLeft).toBe(0)
        expect(await store.initialAccessTokenTable.use(tokenHash('expired'), NOW)).toBe(false)
        expect(await store.initialAccessTokenTable.use(tokenHash('nobody'), NOW)).toBe(false)
        expect(await store.initialAccessTokenTable.use(tokenHash('unlimited'), NOW)).toBe(true)
        expect(await store.initialAccessTokenTable.get(tokenHash('unlimited'))).not.toHaveProperty('usesLeft')
      })
    })

    describe('installation secrets', () => {
      it('keeps the first value stored under a name, whoever asks and however many ask at once', async () => {
        const first = await Promise.all(['a', 'b', 'c', 'd'].map((candidate) => store.installationSecrets.getOrInsert('csrf', candidate, NOW)))
        expect(new Set(first).size).toBe(1)
        expect(await store.installationSecrets.getOrInsert('csrf', 'later', NOW)).toBe(first[0])
        expect(await store.installationSecrets.getOrInsert('rate-limit', 'other', NOW)).toBe('other')
      })

      it('installationSecret gives 32 random bytes, the same each time for a name and different between names', async () => {
        const one = await store.installationSecret('csrf')
        expect(one).toHaveLength(32)
        expect(Buffer.from(await store.installationSecret('csrf')).equals(Buffer.from(one))).toBe(true)
        expect(Buffer.from(await store.installationSecret('rate-limit')).equals(Buffer.from(one))).toBe(false)
      })
    })
  })
}
