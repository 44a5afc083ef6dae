/**
 * What the database fault tests share: a seeded store, a steady stream of concurrent requests against the running
 * server (client credentials tokens, introspection, refresh-token rotation, redemption of pre-issued codes), the
 * verdict on every answer, and the checks of the data once the database is back.
 *
 * The load behaves as a careful client does: a 503 is retried with the same code or refresh token. When such a retry
 * is refused with `invalid_grant`, the request that got the 503 may have committed before the connection broke (a
 * commit whose answer is lost is indistinguishable from one that did not happen); such answers are counted as
 * `uncertain`, and the data checks prove that the commit behind them was whole.
 */
import { createHash, randomBytes } from 'node:crypto'
import { type AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { createApp, type App } from '../../../src/app/app.js'
import { createServeServer } from '../../../src/cli.js'
import { tokenHash } from '../../../src/store/secrets.js'
import { type Store } from '../../../src/store/store.js'

/** A request without an answer after this long is a hang, unless {@link LoadOptions.requestTimeoutMs} says otherwise. */
export const REQUEST_TIMEOUT_MS = 8_000

export type Kind = 'client_credentials' | 'introspection' | 'refresh_token' | 'authorization_code'
export const KINDS: readonly Kind[] = ['client_credentials', 'introspection', 'refresh_token', 'authorization_code']

/** `oauthkit serve` run in this process from the sources: the CLI's node:http server around the app. */
export interface RunningServer {
  readonly url: string
  readonly store: Store
  /** The app's log entries of level `error` (every 5xx, and failures of its background work). */
  readonly errors: Record<string, unknown>[]
  close(): Promise<void>
}

/** Serves the app over `store` on a free loopback port as `oauthkit serve` does; `close` closes the store too. */
export async function serve(store: Store): Promise<RunningServer> {
  let app: App | undefined
  const server = createServeServer({ app: () => app, trustProxy: false })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const errors: Record<string, unknown>[] = []
  app = await createApp({ store, issuer: url, log: (entry) => void (entry['level'] === 'error' && errors.push(entry)) })
  const ready = app
  return {
    url,
    store,
    errors,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await ready.close()
      await store.close()
    },
  }
}

/**
 * The app's error entries that are not an unreachable database answered 503: a 500 (`server error` with any other
 * error, or `request failed`). Background work that failed for want of the database (purging, reading keys, the rate
 * limiter's counters) is expected while it is down.
 */
export function serverFaults(server: RunningServer): Record<string, unknown>[] {
  return server.errors.filter(
    (entry) => (entry['message'] === 'server error' || entry['message'] === 'request failed') && !String(entry['error']).startsWith('TemporarilyUnavailableError'),
  )
}

/** A code inserted straight into the store, with the PKCE verifier that redeems it. */
export interface IssuedCode {
  readonly code: string
  readonly verifier: string
}

/** The client, user and codes the load uses. */
export interface Seed {
  readonly clientId: string
  readonly clientSecret: string
  readonly redirectUri: string
  readonly codes: readonly IssuedCode[]
}

/** Creates a confidential client (client credentials, code, refresh), a user, and `codes` codes issued to them. */
export async function seedStore(store: Store, codes: number): Promise<Seed> {
  const redirectUri = 'https://client.example/callback'
  const created = await store.clients.create({
    name: 'fault load',
    redirectUris: [redirectUri],
    grantTypes: ['client_credentials', 'authorization_code', 'refresh_token'],
    scopes: ['read'],
  })
  if (created.clientSecret === undefined) throw new Error('a confidential client has a secret')
  const now = Math.floor(Date.now() / 1000)
  const userId = 'fault-user'
  // No one signs in: a made-up hash saves the scrypt.
  await store.userTable.insert({ userId, username: 'fault-user', passwordHash: 'scrypt:32768:8:1:c2FsdA:aGFzaA', createdAt: now })
  const issued: IssuedCode[] = []
  await store.transaction(async () => {
    for (let i = 0; i < codes; i++) {
      const code = randomBytes(32).toString('base64url')
      const verifier = randomBytes(32).toString('base64url')
      await store.codes.insert({
        codeHash: tokenHash(code),
        clientId: created.clientId,
        userId,
        scopes: ['read'],
        redirectUri,
        codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
        codeChallengeMethod: 'S256',
        resources: [],
        expiresAt: now + 600,
        grantId: randomBytes(16).toString('base64url'),
      })
      issued.push({ code, verifier })
    }
  })
  return { clientId: created.clientId, clientSecret: created.clientSecret, redirectUri, codes: issued }
}

/**
 * The verdict on one answer: `success` (200, as the request deserved), `unavailable` (503 `temporarily_unavailable`
 * with `Retry-After` and `Cache-Control: no-store`), `uncertain` (`invalid_grant` for a retry after a 503, see the
 * module's comment), `hang` (no answer in time) or `wrong` (anything else: a 500, a malformed error, a refusal the
 * request did not deserve).
 */
export type Verdict = 'success' | 'unavailable' | 'uncertain' | 'hang' | 'wrong'

export interface Answer {
  readonly kind: Kind
  /** `performance.now()` when the request was sent and when its answer (or the timeout) came. */
  readonly started: number
  readonly finished: number
  readonly status: number | undefined
  readonly verdict: Verdict
  readonly detail: string
}

/** A refresh token family rotated again and again by one worker. */
export interface Chain {
  /** The last refresh token answered 200. */
  latest: string
  /** Every access token it was answered 200 with. */
  readonly accessTokens: string[]
  /** The last request with `latest` got a 503 or no answer: it may have rotated `latest` (see the module's comment). */
  pending: boolean
  /** The retry after a 503 was refused: that 503'd rotation committed, and the reuse revoked the family. */
  uncertain: boolean
}

/** The fate of a pre-issued code. */
export interface Redemption {
  readonly code: IssuedCode
  /** The tokens it was answered 200 with. */
  tokens?: { readonly accessToken: string; readonly refreshToken: string }
  /** How many attempts got a 503 or no answer. */
  unanswered: number
  /** A retry after a 503 was refused: that 503'd redemption committed. */
  uncertain: boolean
}

interface Reply {
  readonly status: number | undefined
  readonly body: Record<string, unknown> | undefined
  readonly text: string
  readonly headers: Headers | undefined
  readonly hang: boolean
}

export interface LoadOptions {
  /** Concurrent workers of each kind; refresh workers each rotate one family. */
  readonly workers?: Partial<Record<Kind, number>> | undefined
  /** Pause of each worker between two requests (keeps the load steady, and the machine shared). */
  readonly pauseMs?: number | undefined
  /** A request without an answer after this long is a hang; default {@link REQUEST_TIMEOUT_MS}. */
  readonly requestTimeoutMs?: number | undefined
}

const DEFAULT_WORKERS: Record<Kind, number> = { client_credentials: 3, introspection: 2, refresh_token: 3, authorization_code: 2 }

/** A steady stream of concurrent requests against `baseUrl`, recorded answer by answer until {@link Load.stop}. */
export class Load {
  readonly answers: Answer[] = []
  /** Access tokens answered 200 to client credentials requests. */
  readonly clientCredentialsTokens: string[] = []
  readonly chains: Chain[] = []
  readonly redemptions: Redemption[] = []
  /** Every pre-issued code was used: no more code redemptions (seed more). */
  codesExhausted = false
  private readonly codes: IssuedCode[]
  private running = true
  private workers: Promise<void>[] = []
  private readonly authorization: string
  private readonly pauseMs: number
  readonly requestTimeoutMs: number

  private constructor(
    readonly baseUrl: string,
    readonly seed: Seed,
    options: LoadOptions,
  ) {
    this.codes = [...seed.codes]
    this.authorization = `Basic ${Buffer.from(`${encodeURIComponent(seed.clientId)}:${encodeURIComponent(seed.clientSecret)}`).toString('base64')}`
    this.pauseMs = options.pauseMs ?? 10
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
  }

  /** Redeems one code per refresh worker for its first refresh token (the database must be up), then starts. */
  static async start(baseUrl: string, seed: Seed, options: LoadOptions = {}): Promise<Load> {
    const load = new Load(baseUrl, seed, options)
    const workers = { ...DEFAULT_WORKERS, ...options.workers }
    for (let i = 0; i < workers.refresh_token; i++) {
      const code = load.codes.shift()
      if (code === undefined) throw new Error('not enough codes for the refresh chains')
      const reply = await load.post('/token', load.codeParameters(code))
      const refreshToken = reply.body?.['refresh_token']
      const accessToken = reply.body?.['access_token']
      if (reply.status !== 200 || typeof refreshToken !== 'string' || typeof accessToken !== 'string') {
        throw new Error(`the first redemption failed: ${String(reply.status)} ${reply.text}`)
      }
      load.chains.push({ latest: refreshToken, accessTokens: [accessToken], pending: false, uncertain: false })
    }
    const spawn = (count: number, worker: () => Promise<void>) => Array.from({ length: count }, () => worker())
    load.workers = [
      ...spawn(workers.client_credentials, () => load.clientCredentialsWorker()),
      ...spawn(workers.introspection, () => load.introspectionWorker()),
      ...load.chains.map((chain) => load.refreshWorker(chain)),
      ...spawn(workers.authorization_code, () => load.codeWorker()),
    ]
    return load
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.workers)
  }

  /** Answers of `kind` with `verdict` to requests sent at or after `since`. */
  count(verdict: Verdict, since = 0, kinds: readonly Kind[] = KINDS): number {
    return this.answers.filter((answer) => answer.verdict === verdict && answer.started >= since && kinds.includes(answer.kind)).length
  }

  /**
   * Waits until `condition` holds (checked every 20 ms), for at most `timeoutMs`.
   *
   * @throws Error naming `what` when it does not
   */
  async until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (!condition()) {
      if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${summarize(this)}`)
      await sleep(20)
    }
  }

  /** Sends one form POST with the client's Basic credentials; never rejects. */
  async post(path: string, parameters: Record<string, string>): Promise<Reply> {
    try {
      const response = await fetch(new URL(path, this.baseUrl), {
        method: 'POST',
        headers: { Authorization: this.authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(parameters).toString(),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      })
      const text = await response.text()
      let body: Record<string, unknown> | undefined
      try {
        const parsed: unknown = JSON.parse(text)
        if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>
      } catch {
        body = undefined
      }
      return { status: response.status, body, text, headers: response.headers, hang: false }
    } catch (error) {
      const hang = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      const cause = error instanceof Error && error.cause !== undefined ? ` (${String(error.cause)})` : ''
      return { status: undefined, body: undefined, text: `${String(error)}${cause}`, headers: undefined, hang }
    }
  }

  codeParameters(code: IssuedCode): Record<string, string> {
    return { grant_type: 'authorization_code', code: code.code, redirect_uri: this.seed.redirectUri, code_verifier: code.verifier }
  }

  private async clientCredentialsWorker(): Promise<void> {
    while (this.running) {
      const { reply } = await this.send('client_credentials', '/token', { grant_type: 'client_credentials' }, tokenShape)
      if (reply.status === 200) this.clientCredentialsTokens.push(reply.body?.['access_token'] as string)
      await sleep(this.pauseMs)
    }
  }

  private async introspectionWorker(): Promise<void> {
    while (this.running) {
      const tokens = this.clientCredentialsTokens
      const token = tokens[Math.floor(Math.random() * tokens.length)]
      if (token !== undefined) {
        // A token answered 200 is active for as long as it lives: `active: false` would be a lost token.
        await this.send('introspection', '/introspect', { token }, (body) => (body['active'] === true ? undefined : `a token answered 200 is inactive: ${JSON.stringify(body)}`))
      }
      await sleep(this.pauseMs)
    }
  }

  private async refreshWorker(chain: Chain): Promise<void> {
    while (this.running && !chain.uncertain) {
      const { reply, verdict } = await this.send('refresh_token', '/token', { grant_type: 'refresh_token', refresh_token: chain.latest }, tokenShape, chain.pending)
      if (verdict === 'success') {
        chain.latest = reply.body?.['refresh_token'] as string
        chain.accessTokens.push(reply.body?.['access_token'] as string)
        chain.pending = false
      } else if (verdict === 'unavailable' || verdict === 'hang') chain.pending = true
      else if (verdict === 'uncertain') chain.uncertain = true
      await sleep(this.pauseMs)
    }
  }

  private async codeWorker(): Promise<void> {
    while (this.running) {
      const code = this.codes.shift()
      if (code === undefined) {
        this.codesExhausted = true
        return
      }
      const redemption: Redemption = { code, unanswered: 0, uncertain: false }
      this.redemptions.push(redemption)
      // A 503 (or no answer) is retried with the same code, as a client does, until the load stops.
      while (this.running) {
        const { reply, verdict } = await this.send('authorization_code', '/token', this.codeParameters(code), tokenShape, redemption.unanswered > 0)
        if (verdict === 'success') {
          redemption.tokens = { accessToken: reply.body?.['access_token'] as string, refreshToken: reply.body?.['refresh_token'] as string }
        } else if (verdict === 'unavailable' || verdict === 'hang') redemption.unanswered++
        else if (verdict === 'uncertain') redemption.uncertain = true
        // Slower than the others: the codes are counted.
        await sleep(3 * this.pauseMs)
        if (verdict !== 'unavailable' && verdict !== 'hang') break
      }
    }
  }

  /**
   * Sends a request and records its verdict. `successShape` says what is wrong with a 200's body, if anything.
   * `retryAfter503`: an `invalid_grant` is `uncertain` rather than `wrong` (the last attempt got a 503 or no answer).
   */
  private async send(
    kind: Kind,
    path: string,
    parameters: Record<string, string>,
    successShape: (body: Record<string, unknown>) => string | undefined,
    retryAfter503 = false,
  ): Promise<{ reply: Reply; verdict: Verdict }> {
    const started = performance.now()
    const reply = await this.post(path, parameters)
    const finished = performance.now()
    let verdict: Verdict
    let detail = ''
    if (reply.hang) {
      verdict = 'hang'
      detail = `no answer within ${this.requestTimeoutMs} ms`
    } else if (reply.status === 200 && reply.body !== undefined) {
      const wrong = successShape(reply.body)
      verdict = wrong === undefined ? 'success' : 'wrong'
      detail = wrong ?? ''
    } else if (reply.status === 503) {
      const whole =
        reply.body?.['error'] === 'temporarily_unavailable' &&
        typeof reply.body['error_description'] === 'string' &&
        /^\d+$/.test(reply.headers?.get('retry-after') ?? '') &&
        (reply.headers?.get('cache-control') ?? '').includes('no-store')
      verdict = whole ? 'unavailable' : 'wrong'
      detail = whole ? '' : `a 503 that is not a whole temporarily_unavailable: ${reply.text}`
    } else if (reply.status === 400 && reply.body?.['error'] === 'invalid_grant' && retryAfter503) {
      verdict = 'uncertain'
    } else {
      verdict = 'wrong'
      detail = `${String(reply.status)} ${reply.text.slice(0, 300)}`
    }
    this.answers.push({ kind, started, finished, status: reply.status, verdict, detail })
    return { reply, verdict }
  }
}

function tokenShape(body: Record<string, unknown>): string | undefined {
  return typeof body['access_token'] === 'string' && body['token_type'] === 'Bearer' ? undefined : `not a token response: ${JSON.stringify(body)}`
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** One line of figures: answers by verdict and kind, and the slowest answer. */
export function summarize(load: Load): string {
  const byVerdict = new Map<string, number>()
  for (const answer of load.answers) byVerdict.set(answer.verdict, (byVerdict.get(answer.verdict) ?? 0) + 1)
  const byKind = KINDS.map((kind) => `${kind} ${load.answers.filter((answer) => answer.kind === kind).length}`).join(', ')
  const slowest = Math.max(0, ...load.answers.map((answer) => answer.finished - answer.started))
  const wrong = [...new Map(load.answers.filter((answer) => answer.verdict === 'wrong' || answer.verdict === 'hang').map((answer) => [`${answer.kind} ${answer.detail.slice(0, 120)}`, answer])).values()].slice(0, 8)
  return (
    `${load.answers.length} requests (${byKind}): ${[...byVerdict].map(([verdict, n]) => `${n} ${verdict}`).join(', ')}; slowest ${Math.round(slowest)} ms` +
    (load.codesExhausted ? '; every pre-issued code was used' : '') +
    wrong.map((answer) => `\n  ${answer.kind} ${answer.verdict}: ${answer.detail}`).join('')
  )
}

/**
 * The verdicts every fault test demands: no hang, no wrong answer (listing the first ones otherwise), and every
 * answer within the load's request timeout.
 */
export function expectOnlySuccessesAndUnavailable(load: Load): void {
  const bad = load.answers.filter((answer) => answer.verdict === 'hang' || answer.verdict === 'wrong')
  expect(bad.slice(0, 10).map((answer) => `${answer.kind}: ${answer.verdict} ${answer.detail}`), summarize(load)).toEqual([])
  for (const answer of load.answers) expect(answer.finished - answer.started).toBeLessThan(load.requestTimeoutMs)
}

/** A fault's time line, in `performance.now()` terms. */
export interface Outage {
  readonly name: string
  /** When the fault was injected. */
  readonly began: number
  /** When the database was back (the server restarted, the lock released, the file returned). */
  readonly ended: number
}

/** How long after the database was back the first success of each kind came, in ms (for the report). */
export function recoveryTimes(load: Load, outage: Outage, kinds: readonly Kind[] = KINDS): Record<string, number> {
  const times: Record<string, number> = {}
  for (const kind of kinds) {
    const first = load.answers.find((answer) => answer.kind === kind && answer.verdict === 'success' && answer.started >= outage.ended)
    if (first !== undefined) times[kind] = Math.round(first.finished - outage.ended)
  }
  return times
}

/** A row of the `tokens` table, as either database gives it. */
export interface TokenRow {
  readonly token_hash: string
  readonly type: string
  readonly grant_id: string
  readonly revoked_at: number | string | null
  readonly rotated_at: number | string | null
}

/** A row of the `codes` table. */
export interface CodeRow {
  readonly code_hash: string
  readonly grant_id: string
  readonly consumed_at: number | string | null
}

/**
 * The data after the run, read straight from the tables:
 *
 * - nothing half-written: a consumed code has exactly its tokens (its family holds as many access as refresh tokens,
 *   and all refresh tokens but one rotated, one per rotation), an unconsumed code has none, and a token of no code's
 *   family is a lone client credentials access token;
 * - every code answered 200 is consumed, and no code was redeemed twice (one family of tokens per code);
 * - every access token answered 200 is stored, not revoked, not rotated; only the families of `uncertain` chains were
 *   revoked (by the reuse that detected the lost answer), as RFC 9700 §4.14.2 wants.
 *
 * @returns how many commits answered 503 were found whole (the `uncertain` ones and those never retried)
 */
export function expectWholeData(load: Load, tokens: readonly TokenRow[], codes: readonly CodeRow[]): { committedDespite503: number } {
  const families = new Map<string, { access: number; refresh: number; rotated: number }>()
  for (const token of tokens) {
    const family = families.get(token.grant_id) ?? { access: 0, refresh: 0, rotated: 0 }
    if (token.type === 'access_token') family.access++
    else family.refresh++
    if (token.rotated_at !== null) family.rotated++
    families.set(token.grant_id, family)
  }
  const problems: string[] = []
  const codeFamilies = new Set<string>()
  for (const code of codes) {
    codeFamilies.add(code.grant_id)
    const family = families.get(code.grant_id)
    if (code.consumed_at === null) {
      if (family !== undefined) problems.push(`code ${code.code_hash} is not consumed, yet has tokens ${JSON.stringify(family)}`)
    } else if (family === undefined || family.access !== family.refresh || family.refresh !== family.rotated + 1) {
      problems.push(`code ${code.code_hash} is consumed, with tokens ${JSON.stringify(family)}: not one new pair per redemption or rotation`)
    }
  }
  let lone = 0
  for (const [grantId, family] of families) {
    if (codeFamilies.has(grantId)) continue
    lone++
    if (family.access !== 1 || family.refresh !== 0) problems.push(`family ${grantId} of no code has ${JSON.stringify(family)}`)
  }
  expect(problems.slice(0, 10), `${problems.length} families half-written`).toEqual([])

  const byHash = new Map(tokens.map((token) => [token.token_hash, token]))
  const consumed = new Map(codes.map((code) => [code.code_hash, code.consumed_at !== null]))
  const revokedFamilies = new Set(load.chains.filter((chain) => chain.uncertain).flatMap((chain) => chain.accessTokens.map((token) => byHash.get(tokenHash(token))?.grant_id)))
  const answered = [
    ...load.clientCredentialsTokens,
    ...load.chains.flatMap((chain) => chain.accessTokens),
    ...load.redemptions.flatMap((redemption) => (redemption.tokens === undefined ? [] : [redemption.tokens.accessToken])),
  ]
  const lost: string[] = []
  for (const token of answered) {
    const row = byHash.get(tokenHash(token))
    if (row === undefined) lost.push(`${token.slice(0, 8)}…: not stored`)
    else if (row.type !== 'access_token' || row.rotated_at !== null) lost.push(`${token.slice(0, 8)}…: ${JSON.stringify(row)}`)
    else if (row.revoked_at !== null && !revokedFamilies.has(row.grant_id)) lost.push(`${token.slice(0, 8)}…: revoked`)
  }
  expect(lost.slice(0, 10), `${lost.length} of ${answered.length} access tokens answered 200 are not valid`).toEqual([])
  for (const redemption of load.redemptions) {
    if (redemption.tokens !== undefined) expect(consumed.get(tokenHash(redemption.code.code)), 'a code answered 200 is consumed').toBe(true)
  }

  // Commits whose answer was a 503: client credentials tokens stored but never answered, codes consumed without a 200.
  const committedCodes = load.redemptions.filter((redemption) => redemption.tokens === undefined && consumed.get(tokenHash(redemption.code.code)) === true)
  for (const redemption of committedCodes) expect(redemption.unanswered, 'a code consumed without a 200 had a 503').toBeGreaterThan(0)
  const unansweredClientCredentials = lone - load.clientCredentialsTokens.length
  expect(unansweredClientCredentials).toBeGreaterThanOrEqual(0)
  return { committedDespite503: committedCodes.length + unansweredClientCredentials + load.chains.filter((chain) => chain.uncertain).length }
}

/**
 * Through the server, with the database back: a sample of the access tokens answered 200 introspect as active, and
 * the latest refresh token of every family still rotates once (a family whose last request got a 503 may have
 * rotated it already: then it must be refused, never half-served).
 */
export async function expectTokensUsable(load: Load, sample = 30): Promise<void> {
  const tokens = [...load.clientCredentialsTokens.slice(-sample), ...load.chains.filter((chain) => !chain.uncertain).flatMap((chain) => chain.accessTokens.slice(-3))]
  for (const token of tokens) {
    const reply = await load.post('/introspect', { token })
    expect({ status: reply.status, active: reply.body?.['active'] }).toEqual({ status: 200, active: true })
  }
  for (const chain of load.chains.filter((candidate) => !candidate.uncertain)) {
    const reply = await load.post('/token', { grant_type: 'refresh_token', refresh_token: chain.latest })
    if (chain.pending && reply.status === 400) expect(reply.body?.['error']).toBe('invalid_grant')
    else expect(reply.status, reply.text).toBe(200)
  }
}
