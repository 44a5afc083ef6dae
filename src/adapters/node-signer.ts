/**
 * A JWS signer on `node:crypto`, for `signedTokenGenerator` on Node: it signs in the calling thread, where
 * `crypto.subtle.sign` queues a job to Node's thread pool and back. The signature is the same; what differs is the
 * CPU per token, which the bench case `cc-jwt` (bench/README.md) compares with oidc-provider's.
 *
 * @module
 */
import { createPrivateKey, KeyObject, sign, type webcrypto } from 'node:crypto'
import { type JwsSigner, type SigningAlgorithm } from '../tokens/signed-token.js'

/** What each JWS `alg` needs of a Node key (RFC 7518 §3.3, §3.4; RFC 8037 §3.1). */
const KEY_TYPES: Readonly<Record<SigningAlgorithm, (key: KeyObject) => boolean>> = {
  RS256: (key) => key.asymmetricKeyType === 'rsa',
  ES256: (key) => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  EdDSA: (key) => key.asymmetricKeyType === 'ed25519',
}

/**
 * A {@link JwsSigner} for `signedTokenGenerator(nodeSigner(privateKey, alg), { issuer, alg })`: the signature of
 * `alg` made with `node:crypto` (ES256 in the raw `R || S` form of RFC 7518 §3.4).
 *
 * @param privateKey - a private `CryptoKey` (e.g. from jose's `generateKeyPair` or `importJWK`), a `KeyObject`, or a
 *   PKCS#8 PEM string
 * @param alg - the JWS algorithm, the same as `signedTokenGenerator`'s
 * @throws TypeError when the key is not a private key of `alg`
 * @example
 * ```ts
 * const { privateKey } = await generateKeyPair('ES256')
 * const tokenGenerator = signedTokenGenerator(nodeSigner(privateKey, 'ES256'), { issuer, alg: 'ES256', kid })
 * ```
 */
export function nodeSigner(privateKey: CryptoKey | KeyObject | string, alg: SigningAlgorithm): JwsSigner {
  const key =
    typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey as webcrypto.CryptoKey)
  const fits = KEY_TYPES[alg] as ((key: KeyObject) => boolean) | undefined
  if (fits === undefined) throw new TypeError(`nodeSigner does not support alg ${String(alg)}: use RS256, ES256 or EdDSA`)
  if (key.type !== 'private' || !fits(key)) throw new TypeError(`The key is not a private signing key for ${alg}`)
  // RS256 and ES256 sign a SHA-256 digest; Ed25519 signs the message itself.
  const digest = alg === 'EdDSA' ? null : 'sha256'
  return (signingInput) => sign(digest, signingInput, { key, dsaEncoding: 'ieee-p1363' })
}
