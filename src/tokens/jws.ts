/**
 * JWS Compact Serialization (RFC 7515 §7.1) of a fixed header and a claims object, with any key the signed tokens
 * take: a {@link JwsSigner} of the application's (a key in an HSM or a KMS, `nodeSigner` of `oauthkit/node`), or Web
 * Crypto for a `CryptoKey`, a private JWK or a PKCS#8 PEM (imported once with `jose`), each checked once to be a private
 * signing key of `alg`. Any other key input `jose` accepts (a Node `KeyObject`) is signed through `jose`'s `SignJWT`.
 * Shared by JWT access tokens (`signed-token.ts`) and ID tokens (`id-token.ts`).
 *
 * @module
 * @internal
 */
import { base64url, importJWK, importPKCS8, SignJWT, type JWK, type JWTPayload, type KeyInput } from 'jose'

/** The signature algorithms oauthkit signs tokens with. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA'

/**
 * Signs a JWS Signing Input (RFC 7515 §5.1: `BASE64URL(header) '.' BASE64URL(payload)` as ASCII bytes) and returns
 * the JWS Signature bytes of the algorithm: for ES256 the 64-byte `R || S` of RFC 7518 §3.4, not DER.
 */
export type JwsSigner = (signingInput: Uint8Array) => Uint8Array | Promise<Uint8Array>

/** The algorithms {@link compactSigner} accepts. */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'EdDSA']

const encoder = new TextEncoder()

/**
 * A function that signs claims under `header` (whose `alg` must be `alg`) with `privateKey`.
 *
 * @throws TypeError when a `CryptoKey` is not a private signing key of `alg`; a PEM or JWK that does not import fails
 *   the first signature instead
 */
export function compactSigner(
  privateKey: KeyInput | string | JwsSigner,
  alg: SigningAlgorithm,
  header: Readonly<Record<string, string>>,
): (claims: Readonly<Record<string, unknown>>) => Promise<string> {
  let signer: JwsSigner | Promise<JwsSigner> | undefined
  if (typeof privateKey === 'function') signer = privateKey
  else if (isCryptoKey(privateKey)) signer = webCryptoSigner(privateKey, alg)
  else if (typeof privateKey === 'string' || isJwk(privateKey)) {
    const imported = (typeof privateKey === 'string' ? importPKCS8(privateKey, alg) : importJWK(privateKey, alg)).then((key) => {
      if (!isCryptoKey(key)) throw new TypeError('The imported key is not a CryptoKey')
      return webCryptoSigner(key, alg)
    })
    imported.catch(() => {}) // reported when the first token is signed, not as an unhandled rejection
    signer = imported
  }
  if (signer === undefined) {
    // A Node KeyObject or another input jose knows: signed through SignJWT.
    const key = privateKey as KeyInput
    return async (claims) => new SignJWT(claims as JWTPayload).setProtectedHeader({ ...header, alg }).sign(key)
  }
  const encodedHeader = base64url.encode(JSON.stringify(header))
  const sign = signer
  return async (claims) => {
    // RFC 7515 §7.1: BASE64URL(UTF8(header)) '.' BASE64URL(payload) '.' BASE64URL(signature).
    const signingInput = `${encodedHeader}.${base64url.encode(JSON.stringify(claims))}`
    const signature = await (await sign)(encoder.encode(signingInput))
    return `${signingInput}.${base64url.encode(signature)}`
  }
}

/** The Web Crypto algorithm of each JWS `alg`, and the key algorithm it needs (RFC 7518 §3.3, §3.4; RFC 8037 §3.1). */
const WEB_CRYPTO: Readonly<Record<SigningAlgorithm, { sign: AlgorithmIdentifier | EcdsaParams; key: (key: KeyAlgorithm) => boolean }>> = {
  RS256: { sign: { name: 'RSASSA-PKCS1-v1_5' }, key: (key) => key.name === 'RSASSA-PKCS1-v1_5' && (key as RsaHashedKeyAlgorithm).hash.name === 'SHA-256' },
  ES256: { sign: { name: 'ECDSA', hash: 'SHA-256' }, key: (key) => key.name === 'ECDSA' && (key as EcKeyAlgorithm).namedCurve === 'P-256' },
  EdDSA: { sign: { name: 'Ed25519' }, key: (key) => key.name === 'Ed25519' },
}

/** Signs with a private `CryptoKey` through `crypto.subtle.sign` (ECDSA answers in the raw `R || S` form JWS uses). */
function webCryptoSigner(key: CryptoKey, alg: SigningAlgorithm): JwsSigner {
  const algorithm = WEB_CRYPTO[alg]
  if (key.type !== 'private' || !key.usages.includes('sign') || !algorithm.key(key.algorithm)) {
    throw new TypeError(`The key is not a private signing key for ${alg}`)
  }
  // The input is always this module's own TextEncoder output, backed by a plain ArrayBuffer.
  return async (signingInput) => new Uint8Array(await crypto.subtle.sign(algorithm.sign, key, signingInput as Uint8Array<ArrayBuffer>))
}

function isCryptoKey(key: unknown): key is CryptoKey {
  return typeof CryptoKey !== 'undefined' && key instanceof CryptoKey
}

function isJwk(key: unknown): key is JWK {
  return typeof key === 'object' && key !== null && !isCryptoKey(key) && typeof (key as { kty?: unknown }).kty === 'string' && !(key instanceof Uint8Array)
}
