/**
 * Generated client secrets at rest: the stored form is `sha256:` and the 43-character base64url digest, and only the
 * exact stored form of a secret accepts it.
 */
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { hashGeneratedSecret, verifyGeneratedSecret, verifySecret } from '../../src/store/secrets.js'

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
