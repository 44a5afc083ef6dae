/**
 * The signing keys of the ready server's JWT access tokens: generated on first start, kept in the store, published as
 * a JWKS, and rotated with the old key still published until the last token it signed has expired.
 *
 * @module
 */
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose'
import { type OAuth2Response } from '../core/response.js'
import { type SigningKeyRecord, type StoreBackend } from '../store/store.js'
import { type SigningAlgorithm } from '../tokens/signed-token.js'

/** Options of {@link SigningKeys.load}. */
export interface SigningKeysOptions {
  /**
   * The algorithm of the keys this instance generates (on first start and on rotation). Default: `ES256` on first
   * start, and at a rotation the algorithm of the key that signs until then, so that a rotation never changes what
   * relying parties were told (OpenID Connect Discovery's `id_token_signing_alg_values_supported`). A key already in the
   * store keeps its own algorithm, so a change takes effect at the next rotation.
   */
  readonly alg?: SigningAlgorithm | undefined
  /**
   * The longest lifetime, in seconds, of a token signed with these keys. A rotated key stays published this long
   * (plus {@link SigningKeysOptions.reloadInterval}), so every token it signed verifies until it expires.
   */
  readonly maxTokenLifetime: number
  /**
   * How often, in seconds, the keys are re-read from the store, so that a rotation made by another process (`oauthkit
   * keys rotate` while `serve` runs, another instance on the same PostgreSQL) is picked up; default 60, `0` to
   * re-read only on {@link SigningKeys.reload}. A retired key stays published this much longer, since an instance that
   * has not re-read yet still signs with it.
   */
  readonly reloadInterval?: number | undefined
  /** Receives a failed periodic re-read; the keys read last stay in use. Default: `console.error`. */
  readonly onReloadError?: ((error: unknown) => void) | undefined
  /** The clock, in seconds since the epoch; for tests. */
  readonly now?: (() => number) | undefined
}

/** The key that signs now: what `signedTokenGenerator(privateKey, { issuer, alg, kid })` takes. */
export interface CurrentSigningKey {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly privateKey: CryptoKey
}

/** What {@link SigningKeys.jwks} publishes: public members only, with `kid`, `alg` and `use`. */
export interface PublishedJwks extends JSONWebKeySet {
  readonly keys: JWK[]
}

const ALGORITHMS: ReadonlySet<string> = new Set<SigningAlgorithm>(['ES256', 'RS256', 'EdDSA'])
const DEFAULT_RELOAD_INTERVAL = 60

/**
 * The public members of a JWK, by key type (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2). Published keys are built from these
 * alone, so a private member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`) can never reach the JWKS.
 */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = { EC: ['crv', 'x', 'y'], RSA: ['n', 'e'], OKP: ['crv', 'x'] }

/** A stored key, its private half imported, its public half ready to publish. */
interface LoadedKey {
  readonly record: SigningKeyRecord
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

/**
 * The signing keys of JWT access tokens, kept in a {@link StoreBackend}'s `keys` table.
 *
 * - **First start**: {@link SigningKeys.load} generates a key pair when the store has no key that signs, with `kid`
 *   its RFC 7638 thumbprint, and stores it. A restart finds it there and signs on with it.
 * - **Rotation**: {@link SigningKeys.rotate} stores a new key, which signs from then on, and retires the old one: it
 *   stays in the JWKS until `maxTokenLifetime + reloadInterval` seconds later, when no token it signed is valid any
 *   more, and `purgeExpired` then deletes it.
 * - **Other processes**: the keys are re-read from the store every `reloadInterval` seconds (a timer that does not
 *   keep the process alive; {@link SigningKeys.stop} ends it), and at once by {@link SigningKeys.reload}. A periodic
 *   re-read rather than a re-read on an unknown `kid`: the instance that must learn of a rotation is the one that
 *   signs, and signing never meets a `kid` it does not know. Until it re-reads, it signs with the retired key, which
 *   is why a retired key stays published `reloadInterval` seconds longer.
 *
 * Two processes that rotate (or first start on an empty PostgreSQL database) at the same moment may each leave a key
 * that signs. Nothing breaks: every such key is published, all instances sign with the newest after their next
 * re-read, and the next rotation retires them all.
 *
 * **Warning:** the private keys are stored in clear (a signing key cannot be hashed); protect the database like the
 * keys themselves.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc7517#section-5 | RFC 7517 §5 (JWK Set)}
 * @see {@link https://www.rfc-editor.org/rfc/rfc7638 | RFC 7638 (JWK Thumbprint)}
 * @example
 * ```ts
 * const keys = await SigningKeys.load(store, { maxTokenLifetime: 3600 })
 * const { kid, alg, privateKey } = keys.current()
 * const generator = signedTokenGenerator(privateKey, { issuer, alg, kid })
 * ```
 */
export class SigningKeys {
  /** The keys read last, newest first; never empty of a signing key after `load`. */
  private keys: readonly LoadedKey[] = []
  /** Imported keys by kid, so that a re-read imports only new keys. */
  private readonly imported = new Map<string, LoadedKey>()
  /** Re-reads and rotations, one after another: a re-read that started earlier never overwrites a rotation's keys. */
  private queue: Promise<unknown> = Promise.resolve()
  private timer: ReturnType<typeof setInterval> | undefined

  private constructor(
    private readonly store: StoreBackend,
    private readonly alg: SigningAlgorithm | undefined,
    private readonly maxTokenLifetime: number,
    private readonly reloadInterval: number,
    private readonly now: () => number,
  ) {}

  /**
   * Reads the keys from the store, first generating and storing one when none signs (first start), and starts the
   * periodic re-read.
   *
   * @throws TypeError when an option is missing or malformed
   * @throws the store's errors, or jose's when a stored key cannot be imported
   */
  static async load(store: StoreBackend, options: SigningKeysOptions): Promise<SigningKeys> {
    const alg = options.alg
    if (alg !== undefined && !ALGORITHMS.has(alg)) throw new TypeError(`SigningKeys does not support alg ${String(alg)}: use ES256, RS256 or EdDSA`)
    if (!Number.isSafeInteger(options.maxTokenLifetime) || options.maxTokenLifetime <= 0) {
      throw new TypeError('SigningKeys needs maxTokenLifetime, a positive whole number of seconds')
    }
    const reloadInterval = options.reloadInterval ?? DEFAULT_RELOAD_INTERVAL
    if (!Number.isSafeInteger(reloadInterval) || reloadInterval < 0) throw new TypeError('reloadInterval must be a non-negative whole number of seconds')
    const keys = new SigningKeys(store, alg, options.maxTokenLifetime, reloadInterval, options.now ?? (() => Math.floor(Date.now() / 1000)))
    await keys.reload()
    if (reloadInterval > 0) {
      const onError = options.onReloadError ?? ((error: unknown) => console.error('oauthkit: reading the signing keys failed', error))
      keys.timer = setInterval(() => {
        keys.reload().catch(onError)
      }, reloadInterval * 1000)
      keys.timer.unref()
    }
    return keys
  }

  /** The key that signs now: the newest key not retired. */
  current(): CurrentSigningKey {
    const key = this.keys.find(({ record }) => record.retiredAt === undefined)
    // `reload` never leaves the list without a signing key.
    if (key === undefined) throw new Error('SigningKeys has no signing key')
    return { kid: key.record.kid, alg: key.record.alg, privateKey: key.privateKey }
  }

  /**
   * The JSON Web Key Set to publish: the public keys of the key that signs and of retired keys whose tokens may still
   * be valid (until their `expiresAt`), newest first, each with `kid`, `alg` and `use: 'sig'`, never a private member.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc7517#section-5 | RFC 7517 §5}
   */
  jwks(): PublishedJwks {
    const now = this.now()
    return {
      keys: this.keys
        .filter(({ record }) => record.expiresAt === undefined || now < record.expiresAt)
        .map(({ publicJwk, record }) => ({ ...publicJwk, kid: record.kid, alg: record.alg, use: 'sig' })),
    }
  }

  /**
   * {@link SigningKeys.jwks} as the response of the `jwks_uri` endpoint (RFC 8414 §2): `application/jwk-set+json`,
   * cacheable for five minutes.
   */
  jwksResponse(): OAuth2Response {
    return {
      status: 200,
      headers: { 'Content-Type': 'application/jwk-set+json', 'Cache-Control': 'public, max-age=300' },
      body: JSON.stringify(this.jwks()),
    }
  }

  /**
   * Generates a key pair that signs from now on, and retires every other key that still signs: each stays published
   * until `maxTokenLifetime + reloadInterval` seconds from now, so the tokens it signed verify until they expire.
   *
   * @returns the new key's `kid`
   */
  rotate(): Promise<{ kid: string }> {
    return this.serialized(async () => {
      const record = await generate(this.alg ?? this.current().alg, this.now())
      const expiresAt = record.createdAt + this.maxTokenLifetime + this.reloadInterval
      await this.store.transaction(async () => {
        await this.store.keys.insert(record)
        for (const key of await this.store.keys.list()) {
          if (key.kid !== record.kid && key.retiredAt === undefined) await this.store.keys.retire(key.kid, record.createdAt, expiresAt)
        }
      })
      await this.read()
      return { kid: record.kid }
    })
  }

  /**
   * Re-reads the keys from the store now, to pick up another process's rotation (which the periodic re-read does on
   * its own); generates a key if none signs any more.
   *
   * @throws the store's errors; the keys read last stay in use
   */
  reload(): Promise<void> {
    return this.serialized(() => this.read())
  }

  /** Stops the periodic re-read (call it on shutdown, before closing the store). Idempotent. */
  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(work)
    this.queue = turn.catch(() => undefined)
    return turn
  }

  /** Reads the table, first storing a new key if none signs, and replaces the keys in use. */
  private async read(): Promise<void> {
    let records = await this.store.keys.list()
    if (!records.some((key) => key.retiredAt === undefined)) {
      // Generated outside the transaction: an RSA key takes a while, and the transaction may hold the write lock.
      const record = await generate(this.alg ?? 'ES256', this.now())
      records = await this.store.transaction(async () => {
        const again = await this.store.keys.list()
        // Another process may have stored one meanwhile; then ours is not needed.
        if (again.some((key) => key.retiredAt === undefined)) return again
        await this.store.keys.insert(record)
        return this.store.keys.list()
      })
    }
    const loaded: LoadedKey[] = []
    for (const record of records) loaded.push(await this.importKey(record))
    for (const kid of this.imported.keys()) if (!records.some((record) => record.kid === kid)) this.imported.delete(kid)
    this.keys = loaded
  }

  private async importKey(record: SigningKeyRecord): Promise<LoadedKey> {
    const known = this.imported.get(record.kid)
    if (known !== undefined && known.record.privateJwk === record.privateJwk) {
      // Same key; the record may have changed (retired since).
      const updated = { ...known, record }
      this.imported.set(record.kid, updated)
      return updated
    }
    const privateKey = (await importJWK(JSON.parse(record.privateJwk) as JWK, record.alg)) as CryptoKey
    const loaded: LoadedKey = { record, privateKey, publicJwk: publicMembers(JSON.parse(record.publicJwk) as JWK) }
    this.imported.set(record.kid, loaded)
    return loaded
  }
}

/** A new key pair as a record: `kid` is the RFC 7638 thumbprint of its public key. */
async function generate(alg: SigningAlgorithm, now: number): Promise<SigningKeyRecord> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = publicMembers(await exportJWK(publicKey))
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, alg, privateJwk: JSON.stringify(await exportJWK(privateKey)), publicJwk: JSON.stringify(publicJwk), createdAt: now }
}

/** Only `kty` and the public members of its key type: whatever else a stored JWK holds is dropped. */
function publicMembers(jwk: JWK): JWK {
  const members = jwk.kty === undefined ? undefined : PUBLIC_MEMBERS[jwk.kty]
  if (members === undefined) throw new TypeError(`A signing key of type ${String(jwk.kty)} cannot be published`)
  const source = jwk as Record<string, unknown>
  const published: Record<string, unknown> = { kty: jwk.kty }
  for (const member of members) if (source[member] !== undefined) published[member] = source[member]
  return published as JWK
}
