/**
 * Browser sessions of the ready server: a signed cookie naming the signed-in user, and CSRF tokens bound to a second
 * cookie (double submit, HMAC-bound so that a token cannot be forged without the server's secret).
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * The cookies' names. With `Secure` they carry the `__Host-` prefix: a browser then accepts them only from this exact
 * host, with `Path=/` and no `Domain`, so a sibling subdomain cannot toss in a cookie of the same name.
 */
const SESSION_COOKIE = 'oauthkit_session'
const CSRF_COOKIE = 'oauthkit_csrf'
const HOST_PREFIX = '__Host-'

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
  /** When the user signed in, seconds since the epoch (for `max_age`); 0 for a session from before it was kept. */
  readonly authTime: number
}

/** Options of {@link Sessions}. */
export interface SessionOptions {
  /** Signs cookies and CSRF tokens; at least 32 bytes. Share it between instances behind one load balancer. */
  readonly secret: Uint8Array
  /** Send cookies with `Secure`; off only for a loopback issuer in development. */
  readonly secure: boolean
  /** Session lifetime in seconds; default 8 hours. */
  readonly maxAge?: number | undefined
}

/**
 * Cookie sessions and CSRF protection for the login, consent and sign-out forms. Cookies are `HttpOnly`,
 * `SameSite=Lax` and, unless on loopback, `Secure`.
 */
export class Sessions {
  private readonly maxAge: number
  /** Sessions ended by sign-out before their expiry: sid → expiry. Kept per process (see {@link Sessions.revoke}). */
  private readonly revoked = new Map<string, number>()

  private readonly sessionCookie: string
  private readonly csrfCookie: string

  /** @throws TypeError when the secret is shorter than 32 bytes */
  constructor(private readonly options: SessionOptions) {
    if (options.secret.length < 32) throw new TypeError('The session secret must be at least 32 bytes')
    this.maxAge = options.maxAge ?? 8 * 3600
    const prefix = options.secure ? HOST_PREFIX : ''
    this.sessionCookie = `${prefix}${SESSION_COOKIE}`
    this.csrfCookie = `${prefix}${CSRF_COOKIE}`
  }

  /** The session of a request, when its cookie is present, authentic and not expired. */
  read(request: CookieSource): Session | undefined {
    const value = cookie(request, this.sessionCookie)
    if (value === undefined) return undefined
    const dot = value.lastIndexOf('.')
    if (dot < 0) return undefined
    const payload = value.slice(0, dot)
    if (!this.verify(`session:${payload}`, value.slice(dot + 1))) return undefined
    try {
      const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session
      if (typeof session.userId !== 'string' || typeof session.sid !== 'string' || !(session.expiresAt > Date.now() / 1000)) return undefined
      if (this.revoked.has(session.sid)) return undefined
      return typeof session.authTime === 'number' ? session : { ...session, authTime: 0 }
    } catch {
      return undefined
    }
  }

  /**
   * Starts a session for a user who just signed in, with a fresh session id and a fresh CSRF cookie.
   *
   * @returns the `Set-Cookie` values to send
   */
  start(userId: string): string[] {
    const now = Math.floor(Date.now() / 1000)
    const session: Session = { sid: randomBytes(16).toString('base64url'), userId, expiresAt: now + this.maxAge, authTime: now }
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url')
    return [
      this.cookie(this.sessionCookie, `${payload}.${this.sign(`session:${payload}`)}`, this.maxAge),
      this.cookie(this.csrfCookie, randomBytes(16).toString('base64url'), this.maxAge),
    ]
  }

  /**
   * Ends the session of a request: its cookie no longer works, even if a copy of it is replayed later.
   *
   * The revocation is kept in this process until the session would have expired; instances behind a load balancer
   * do not share it (a copied cookie stays valid on the others until it expires).
   *
   * @returns the `Set-Cookie` values that clear the browser's cookies
   */
  end(request: CookieSource): string[] {
    const session = this.read(request)
    const now = Date.now() / 1000
    for (const [sid, expiresAt] of this.revoked) if (expiresAt <= now) this.revoked.delete(sid)
    if (session !== undefined) this.revoked.set(session.sid, session.expiresAt)
    return [this.cookie(this.sessionCookie, '', 0), this.cookie(this.csrfCookie, '', 0)]
  }

  /**
   * The CSRF token to put in a form, and the cookie to set when the browser has none yet. The token is an HMAC of the
   * CSRF cookie's value and of the session it is used in (none before sign-in): a token obtained for a cookie an
   * attacker chose, or in another session, is worth nothing in the victim's.
   */
  csrf(request: CookieSource): { token: string; setCookie: string | undefined } {
    const existing = cookie(request, this.csrfCookie)
    const value = existing !== undefined && /^[A-Za-z0-9_-]{22}$/.test(existing) ? existing : randomBytes(16).toString('base64url')
    return {
      token: this.sign(this.csrfData(request, value)),
      setCookie: value === existing ? undefined : this.cookie(this.csrfCookie, value, this.maxAge),
    }
  }

  /** Whether a form's `csrf_token` belongs to this browser's CSRF cookie and to its session. */
  checkCsrf(request: CookieSource, token: string | null): boolean {
    const value = cookie(request, this.csrfCookie)
    return value !== undefined && token !== null && this.verify(this.csrfData(request, value), token)
  }

  /** What a CSRF token signs: the cookie's value and the session id, if a session is live. */
  private csrfData(request: CookieSource, value: string): string {
    return `csrf:${value}:${this.read(request)?.sid ?? ''}`
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
