/**
 * Generated client secrets at rest: the stored form is `sha256:` and the 43-character base64url digest, and only the
 * exact stored form of a secret accepts it. Tokens and codes at rest: the key a store keeps (`tokenHash`).
 */
import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { generateToken } from '../../src/tokens/random-token.js'
import { generateTimeOrderedToken } from '../../src/tokens/time-ordered.js'
import { hashGeneratedSecret, tokenHash, verifyGeneratedSecret, verifySecret } from '../../src/store/secrets.js'

describe('verifyGeneratedSecret', () => {
  it('accepts the secret of a stored form and nothing else', async () => {
    const secret = randomBytes(32).toString('base64url')
    const stored = hashGeneratedSecret(secret)
    expect(stored).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/)
    expect(verifyGeneratedSecret(secret, stored)).toBe(true)
    expect(await verifySecret(secret, stored)).toBe(true)
    for (const wrong of ['', `${secret}x`, secret.slice(1), secret.toUpperCase(), hashGeneratedSecret(secret).slice(7)]) {
      expect(verifyGeneratedSecret(wrong, stored)).toBe(false)
    }
  })

  it('refuses every stored form that is not exactly the digest, even one that decodes to the same bytes', () => {
    const secret = 'a generated secret'
    const stored = hashGeneratedSecret(secret)
    const digest = stored.slice('sha256:'.length)
    for (const tampered of [`${stored}=`, `${stored}A`, stored.slice(0, -1), `sha256:${digest.replace(/-/g, '+').replace(/_/g, '/')}`, `sha256: ${digest}`, 'sha256:', 'sha256']) {
      if (tampered === stored) continue
      expect([tampered, verifyGeneratedSecret(secret, tampered)]).toEqual([tampered, false])
    }
  })

  it('tells apart the secrets of many clients, each against its own stored form only', () => {
    const secrets = Array.from({ length: 2500 }, (_, i) => `secret ${i}`)
    const stored = secrets.map(hashGeneratedSecret)
    for (let round = 0; round < 2; round++) {
      secrets.forEach((secret, i) => {
        expect(verifyGeneratedSecret(secret, stored[i] as string)).toBe(true)
        expect(verifyGeneratedSecret(secret, stored[(i + 1) % stored.length] as string)).toBe(false)
      })
    }
  })
})

describe('tokenHash', () => {
  const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url')
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const jwt = (claims: Record<string, unknown>) => `${part({ alg: 'ES256', typ: 'at+jwt' })}.${part(claims)}.${randomBytes(64).toString('base64url')}`

  it("keys oauthkit's own tokens by the digest of the whole token alone: nothing of the token in clear", () => {
    const token = generateTimeOrderedToken()
    const key = tokenHash(token)
    expect(key).toBe(sha256(token))
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(key).not.toContain(token.slice(0, 9))
    expect(key).not.toContain(token.slice(10))
  })

  it('keys a JWT by the digest of the whole JWT, whatever its jti', () => {
    const own = generateTimeOrderedToken()
    for (const claims of [{ jti: own }, { jti: own, sub: 'client', scope: 'read', aud: ['https://api.example', 'https://b.example'] }]) {
      const token = jwt(claims)
      expect(tokenHash(token)).toBe(sha256(token))
    }
  })

  it('gives two tokens that differ anywhere different keys, even tokens issued in the same millisecond', () => {
    const own = generateTimeOrderedToken()
    const variants = [own, `${own.slice(0, 9)}.${generateTimeOrderedToken().slice(10)}`, `${own.slice(0, -1)}${own.endsWith('A') ? 'B' : 'A'}`, `${own.startsWith('z') ? 'y' : 'z'}${own.slice(1)}`]
    const keys = variants.map(tokenHash)
    expect(new Set(variants).size).toBe(variants.length)
    expect(new Set(keys).size).toBe(variants.length)
    const many = Array.from({ length: 500 }, () => tokenHash(generateTimeOrderedToken()))
    expect(new Set(many).size).toBe(many.length)
  })

  it('keys every other value by its digest alone: random tokens of before, JWTs, custom tokens and look-alikes', () => {
    const random = generateToken()
    const own = generateTimeOrderedToken()
    const values = [
      random, // a 43-character token, as the default generator made them before
      'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', // a JWT
      'a custom token',
      '',
      own.toUpperCase(), // the time part in capitals: not the form
      `${own}A`, // one character too many
      own.slice(0, -1), // one too few
      `${own.slice(0, 9)}_${own.slice(10)}`, // no dot
      `${own.slice(0, 8)}.${own.slice(9, 10)}${own.slice(10)}`, // the dot one place early
      `${own.slice(0, 10)}${own.slice(10, 52)}=`, // a character outside base64url in the random part
      `${own.slice(0, 10)}${own.slice(10, 20)}.${own.slice(21)}`, // a second dot, as in a JWT
      `${own.slice(0, 9)}.${own.slice(10)}\n`, // a trailing newline
      jwt({ jti: random }), // a JWT whose jti is not time-ordered
      jwt({ sub: 'x', jti: own }), // a JWT whose jti does not come first
      jwt({ jti: own.toUpperCase() }),
      jwt({ jti: `${own.slice(0, 9)}_${own.slice(10)}` }),
      jwt({ jti: 42 }),
      `${jwt({ jti: own }).split('.')[0]}.${jwt({ jti: own }).split('.')[1]?.slice(0, 20)}`, // cut short in the time
      'a.eyJqdGki', // cut short after "jti
    ]
    for (const value of values) expect([value, tokenHash(value)]).toEqual([value, sha256(value)])
  })
})
