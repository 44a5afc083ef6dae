import { generateKeyPairSync } from 'node:crypto'
import { exportPKCS8, generateKeyPair, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { nodeSigner } from '../../src/adapters/node.js'
import { BackendApplicationServer, signedTokenGenerator, type SigningAlgorithm, type TokenGenerator } from '../../src/index.js'
import { expectTokenResponse } from '../support/expect-response.js'
import { basic, FORM, MemoryValidator, TOKEN_URI } from '../support/memory-validator.js'

const ISSUER = 'https://as.example.com'

async function issue(tokenGenerator: TokenGenerator): Promise<string> {
  const validator = new MemoryValidator()
  validator.addClient({ clientId: 'backend', secret: 'backend-secret' })
  const server = new BackendApplicationServer(validator, { tokenGenerator })
  const response = await server.createTokenResponse(TOKEN_URI, 'POST', 'grant_type=client_credentials', { ...FORM, Authorization: basic('backend', 'backend-secret') })
  return expectTokenResponse(response).access_token as string
}

describe('nodeSigner (oauthkit/node)', () => {
  it.each<SigningAlgorithm>(['ES256', 'RS256', 'EdDSA'])('signs %s tokens that verify with the public key, from a CryptoKey and from a PEM', async (alg) => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
    for (const key of [privateKey, await exportPKCS8(privateKey)]) {
      const token = await issue(signedTokenGenerator(nodeSigner(key, alg), { issuer: ISSUER, alg, kid: 'k' }))
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { issuer: ISSUER, typ: 'at+jwt', algorithms: [alg] })
      expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: 'k' })
      expect(payload).toMatchObject({ client_id: 'backend', sub: 'backend', aud: ISSUER })
    }
  })

  it('takes a Node KeyObject, and signs ES256 in the 64-byte R || S form of RFC 7518 §3.4', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const signature = await nodeSigner(privateKey, 'ES256')(new TextEncoder().encode('a.b'))
    expect(signature).toHaveLength(64)
  })

  it('refuses a key that does not fit the algorithm, or a public key, with a TypeError', async () => {
    const ec = await generateKeyPair('ES256', { extractable: true })
    const rsa = await generateKeyPair('RS256', { extractable: true })
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(() => nodeSigner(ec.privateKey, 'RS256')).toThrow(TypeError)
    expect(() => nodeSigner(rsa.privateKey, 'ES256')).toThrow(TypeError)
    expect(() => nodeSigner(ec.privateKey, 'EdDSA')).toThrow(TypeError)
    expect(() => nodeSigner(p384.privateKey, 'ES256')).toThrow(TypeError)
    expect(() => nodeSigner(ec.publicKey, 'ES256')).toThrow(TypeError)
    expect(() => nodeSigner(ec.privateKey, 'HS256' as SigningAlgorithm)).toThrow(TypeError)
  })
})
