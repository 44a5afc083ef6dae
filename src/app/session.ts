/**
 * Browser sessions of the ready server: a random session id in a cookie, kept in the store by its digest, so that
 * signing out, a password change or removing the user ends a session on every instance at once; and CSRF tokens
 * bound to a second cookie and to the session (double submit, HMAC-bound so that a token cannot be forged without
 * the installation's secret).
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { tokenHash } from '../store/secrets.js'
import { type SessionTable } from '../store/tables.js'

/**
 * The cookies' names. With `Secure` they carry the `__Host-` prefix: a browser then accepts them only from this exact
 * host, with `Path=/` and no `Domain`, so a sibling subdomain cannot toss in a cookie of the same name.
 */
const SESSION_COOKIE = 'oauthkit_session'
const CSRF_COOKIE = 'oauthkit_csrf'
const HOST_PREFIX = '__Host-'

/** A session id: 256 random bits, base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/** What sessions read of a request: its headers (`Cookie`). */
export interface CookieSource {
  header(name: string): string | undefined
}

/** A signed-in browser. */
export interface Session {
  /** Random per sign-in: a new one on every login, so a session id planted before login is worthless (session fixation). */
  readonly sid: string
  readonly userId: string
  /** Expiry, seconds since the epoch. */
  readonly expiresAt: number
  /** When the user signed in, seconds since the epoch (for `max_age`). */
  readonly authTime: number
}

/** Options of {@link Sessions}. */
export interface SessionOptions {
  /** Where sessions are kept: `store.sessions`. */
  readonly table: SessionTable
  /** Signs CSRF tokens; at least 32 bytes. Every instance behind one load balancer needs the same. */
  readonly secret: Uint8Array
  /** Send cookies with `Secure`; off only for a loopback issuer in development. */
  readonly secure: boolean
  /** Session lifetime in seconds; default 8 hours. */
  readonly maxAge?: number | undefined
}

/**
 * Store-backed sessions and CSRF protection for the login, consent and sign-out forms. Cookies are `HttpOnly`,
 * `SameSite=Lax` and, unless on loopback, `Secure`.
 */
export class Sessions {
  private readonly maxAge: number
  private readonly sessionCookie: string
  private readonly csrfCookie: string
  /** The session of each request, looked up once however often a page asks. */
  private readonly found = new WeakMap<CookieSource, Promise<Session | undefined>>()

  /** @throws TypeError when the secret is shorter than 32 bytes */
  constructor(private readonly options: SessionOptions) {
    if (options.secret.length < 32) throw new TypeError('The session secret must be at least 32 bytes')
    this.maxAge = options.maxAge ?? 8 * 3600
    const prefix = options.secure ? HOST_PREFIX : ''
    this.sessionCookie = `${prefix}${SESSION_COOKIE}`
    this.csrfCookie = `${prefix}${CSRF_COOKIE}`
  }

  /** The session of a request, when its cookie names a session the store holds and it has not expired. */
  read(request: CookieSource): Promise<Session | undefined> {
    let session = this.found.get(request)
    if (session === undefined) {
      session = this.lookUp(request)
      this.found.set(request, session)
    }
    return session
  }

  /**
   * Starts a session for a user who just signed in, with a fresh session id and a fresh CSRF cookie. `stillValid` is
   * asked once the session is stored: when it says no (the password changed while this sign-in checked the old one),
   * the session is ended at once, so that a password change ends every session, even one a sign-in was starting.
   *
   * @returns the `Set-Cookie` values to send, or `undefined` when the session was ended
   */
  async start(userId: string, stillValid: () => Promise<boolean> = async () => true): Promise<string[] | undefined> {
    const now = Math.floor(Date.now() / 1000)
    const sid = randomBytes(32).toString('base64url')
    await this.options.table.insert({ sessionHash: tokenHash(sid), userId, authTime: now, expiresAt: now + this.maxAge })
    if (!(await stillValid())) {
      await this.options.table.delete(tokenHash(sid))
      return undefined
    }
    return [this.cookie(this.sessionCookie, sid, this.maxAge), this.cookie(this.csrfCookie, randomBytes(16).toString('base64url'), this.maxAge)]
  }

  /**
   * Ends the session of a request: it is deleted from the store, so its cookie no longer works on any instance, even
   * if a copy of it is replayed later.
   *
   * @returns the `Set-Cookie` values that clear the browser's cookies
   */
  async end(request: CookieSource): Promise<string[]> {
    const session = await this.read(request)
    if (session !== undefined) await this.options.table.delete(tokenHash(session.sid))
    this.found.delete(request)
    return [this.cookie(this.sessionCookie, '', 0), this.cookie(this.csrfCookie, '', 0)]
  }

  /**
   * The CSRF token to put in a form, and the cookie to set when the browser has none yet. The token is an HMAC of the
   * CSRF cookie's value and of the session it is used in (none before sign-in): a token obtained for a cookie an
   * attacker chose, or in another session, is worth nothing in the victim's.
   */
  async csrf(request: CookieSource): Promise<{ token: string; setCookie: string | undefined }> {
    const existing = cookie(request, this.csrfCookie)
    const value = existing !== undefined && /^[A-Za-z0-9_-]{22}$/.test(existing) ? existing : randomBytes(16).toString('base64url')
    return {
      token: this.sign(await this.csrfData(request, value)),
      setCookie: value === existing ? undefined : this.cookie(this.csrfCookie, value, this.maxAge),
    }
  }

  /** Whether a form's `csrf_token` belongs to this browser's CSRF cookie and to its session. */
  async checkCsrf(request: CookieSource, token: string | null): Promise<boolean> {
    const value = cookie(request, this.csrfCookie)
    return value !== undefined && token !== null && this.verify(await this.csrfData(request, value), token)
  }

  private async lookUp(request: CookieSource): Promise<Session | undefined> {
    const sid = cookie(request, this.sessionCookie)
    if (sid === undefined || !SESSION_ID.test(sid)) return undefined
    const record = await this.options.table.get(tokenHash(sid), Math.floor(Date.now() / 1000))
    return record === undefined ? undefined : { sid, userId: record.userId, expiresAt: record.expiresAt, authTime: record.authTime }
  }

  /** What a CSRF token signs: the cookie's value and the session id, if a session is live. */
  private async csrfData(request: CookieSource, value: string): Promise<string> {
    return `csrf:${value}:${(await this.read(request))?.sid ?? ''}`
  }

  private sign(data: string): string {
    return createHmac('sha256', this.options.secret).update(data).digest('base64url')
  }

  private verify(data: string, mac: string): boolean {
    const expected = Buffer.from(this.sign(data))
    const presented = Buffer.from(mac)
    return expected.length === presented.length && timingSafeEqual(expected, presented)
  }

  private cookie(name: string, value: string, maxAge: number): string {
    return `${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${this.options.secure ? '; Secure' : ''}`
  }
}

/**
 * The value of the cookie `name`; `undefined` when the request carries none, or carries it more than once (cookie
 * tossing: a second cookie of the same name set by a sibling host or path, which the browser sends beside the real one).
 */
function cookie(request: CookieSource, name: string): string | undefined {
  let found: string | undefined
  let seen = 0
  for (const part of (request.header('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq <= 0 || part.slice(0, eq).trim() !== name) continue
    seen++
    found = part.slice(eq + 1).trim()
  }
  return seen === 1 ? found : undefined
}
