/**
 * The ready server's routes for people: the authorization endpoint with its sign-in and consent pages, sign-out and
 * the home page. Each takes the router's request and answers with `{ status, headers, body, cookies }`.
 *
 * @module
 */
import {
  AccessDeniedError,
  ConsentRequiredError,
  InvalidRequestError,
  LoginRequiredError,
  OAuth2Error,
  TemporarilyUnavailableError,
} from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type Server } from '../servers.js'
import { type Authentication } from '../types.js'
import { type ClientRecord, type Store } from '../store/store.js'
import { type StoreValidator } from '../store/validator.js'
import { type HttpResponse, type RouteRequest } from '../adapters/router.js'
import { consentPage, errorPage, homePage, loginPage, logoutPage, PAGE_HEADERS } from './pages.js'
import { type PasswordCheck, type RateLimiter } from './rate-limit.js'
import { type Sessions } from './session.js'

/** The login, consent and sign-out flow around the authorization endpoint. */
export class LoginAndConsent {
  constructor(
    private readonly server: Server,
    private readonly validator: StoreValidator,
    private readonly store: Store,
    private readonly sessions: Sessions,
    private readonly limiter: RateLimiter | undefined,
    private readonly issuer: string,
  ) {}

  /**
   * `/authorize`: verifies the request, sends the user to sign in and to consent when needed, then redirects to the
   * client with the code (or the error).
   */
  async authorize(request: RouteRequest): Promise<HttpResponse> {
    const { url: uri, method, headers } = request
    const body = await request.body()
    // Sign-in and consent come back to the same request as a GET, whatever its method was (RFC 6749 §3.1).
    const query = new URLSearchParams(method.toUpperCase() === 'POST' ? (body ?? '') : uri.search.slice(1))
    // RFC 9700 §4.11.2: a client that registered itself (or publishes its own metadata document) chose its redirect
    // URI, so an error sent there before the user took part would make this server an open redirector; such errors are
    // shown on a page instead.
    const selfRegistered = await this.isSelfRegistered(query.get('client_id'))
    let validated
    try {
      validated = await this.server.validateAuthorizationRequest(uri, method, body, headers)
    } catch (error) {
      if (error instanceof OAuth2Error && error.redirectable && !selfRegistered) {
        return this.server.createAuthorizationErrorResponse(uri, method, body, headers, error)
      }
      return shownError(error instanceof OAuth2Error && error.redirectable ? new InvalidRequestError(error.description) : error)
    }
    const returnTo = `/authorize?${query.toString()}`
    const { request: parsed, client } = validated.credentials
    const session = await this.signedIn(request)
    const refuse = (error: OAuth2Error) =>
      selfRegistered && session === undefined ? shownError(new InvalidRequestError(error.description)) : this.server.createAuthorizationErrorResponse(uri, method, body, headers, error)
    let asked: Interaction
    try {
      asked = interactionOf(parsed)
    } catch (error) {
      if (error instanceof OAuth2Error) return refuse(error)
      throw error
    }
    const signedInRecently = session !== undefined && (asked.maxAge === undefined || Math.floor(Date.now() / 1000) - session.authTime <= asked.maxAge)
    // RFC 6749 §10.2, RFC 8252 §8.6: a client that cannot authenticate may be anyone who knows its client_id (any local
    // program can open the user's browser with a loopback redirect URI), so a consent given before is not applied to
    // it: the user is asked every time. Only an authenticated client's request may reuse a remembered consent.
    const remembered =
      session !== undefined &&
      !asked.consent &&
      !(await this.isPublic(client.clientId)) &&
      (await this.validator.hasConsent(client.clientId, session.userId, validated.scopes))
    if (asked.none) {
      // OpenID Connect Core §3.1.2.1: no page at all; what would need one is an error for the client.
      if (!signedInRecently) return refuse(new LoginRequiredError('The user is not signed in, and prompt=none forbids asking'))
      if (!remembered) return refuse(new ConsentRequiredError('The user has not consented to this client, and prompt=none forbids asking'))
    }
    if (session === undefined || !signedInRecently || asked.login) {
      // Signed in again, the request is answered without asking a second time: prompt=login and max_age are met.
      for (const name of ['prompt', 'max_age']) query.delete(name)
      if (asked.consent) query.set('prompt', 'consent')
      return redirect(`/login?return_to=${encodeURIComponent(`/authorize?${query.toString()}`)}`)
    }
    if (!remembered) return redirect(`/consent?return_to=${encodeURIComponent(returnTo)}`)
    return this.server.createAuthorizationResponse(uri, method, body, headers, validated.scopes, { userId: session.userId }, signInOf(session))
  }

  /** `/login`: the form, and signing in under the rate limits per username and per address. */
  async login(request: RouteRequest): Promise<HttpResponse> {
    if (request.method === 'GET') {
      const returnTo = localReturnTo(request.url.searchParams.get('return_to'))
      const csrf = await this.sessions.csrf(request)
      return page(200, loginPage({ csrf: csrf.token, returnTo }), csrf.setCookie)
    }
    if (request.method !== 'POST') return methodNotAllowed('GET, POST')
    const form = await formOf(request)
    const returnTo = localReturnTo(form.get('return_to'))
    const csrf = await this.sessions.csrf(request)
    if (!(await this.sessions.checkCsrf(request, form.get('csrf_token')))) {
      return page(403, loginPage({ csrf: csrf.token, returnTo, error: 'Your session expired. Please try again.' }), csrf.setCookie)
    }
    const username = form.get('username') ?? ''
    const unavailable = () =>
      page(503, errorPage('Temporarily unavailable', 'The server cannot sign you in right now. Please try again in a moment.'), undefined, { 'Retry-After': '5' })
    // Counted before the password is hashed, atomically: however many attempts arrive at once, no more than the limit
    // are checked, and a refused one costs no scrypt.
    let check: PasswordCheck | undefined
    try {
      check = await this.limiter?.admitSignIn(username, request.remoteAddress)
    } catch {
      // The database cannot be reached (the limiter rethrows nothing else): no sign-in can succeed now.
      return unavailable()
    }
    if (check !== undefined && check.wait > 0) {
      return page(429, loginPage({ csrf: csrf.token, returnTo, username, error: `Too many failed attempts. Try again in ${check.wait} seconds.` }), undefined, {
        'Retry-After': String(check.wait),
      })
    }
    let user
    try {
      user = username === '' ? undefined : await this.store.users.authenticate(username, form.get('password') ?? '')
    } catch (error) {
      // Too many passwords being hashed at once, or the database gone: nothing was checked, so nothing is counted.
      if (!(error instanceof TemporarilyUnavailableError) && !this.store.isUnavailableError(error)) throw error
      await check?.released()
      return unavailable()
    }
    if (user === undefined) return page(401, loginPage({ csrf: csrf.token, returnTo, username, error: 'The username or password is incorrect.' }))
    await check?.succeeded()
    // A new session id (and CSRF cookie) on every sign-in: a session fixed before login is worthless. It lives only if
    // the password it was checked against is still the user's once it is stored: a password change (which ends every
    // session) between the check and now ends this one too.
    const verifiedHash = user.passwordHash
    const cookies = await this.sessions.start(user.userId, async () => (await this.store.users.get(user.userId))?.passwordHash === verifiedHash)
    if (cookies === undefined) return page(401, loginPage({ csrf: csrf.token, returnTo, username, error: 'The username or password is incorrect.' }))
    return redirect(returnTo, cookies)
  }

  /** `/consent`: names the client and the scopes, and answers Allow or Deny. */
  async consent(request: RouteRequest): Promise<HttpResponse> {
    const session = await this.signedIn(request)
    const isPost = request.method === 'POST'
    if (!isPost && request.method !== 'GET') return methodNotAllowed('GET, POST')
    const form = isPost ? await formOf(request) : request.url.searchParams
    const returnTo = localReturnTo(form.get('return_to'))
    if (session === undefined) return redirect(`/login?return_to=${encodeURIComponent(returnTo)}`)
    if (!returnTo.startsWith('/authorize?')) return page(400, errorPage('Nothing to consent to', 'This page is reached from an authorization request.'))
    const authorizeUri = `${this.issuer}${returnTo}`
    let validated
    try {
      validated = await this.server.validateAuthorizationRequest(authorizeUri, 'GET')
    } catch (error) {
      if (error instanceof OAuth2Error && error.redirectable) {
        return this.server.createAuthorizationErrorResponse(authorizeUri, 'GET', undefined, {}, error)
      }
      return shownError(error)
    }
    const { client } = validated.credentials
    const csrf = await this.sessions.csrf(request)
    if (!isPost) {
      // The client as the validator found it for this request: the store's, or the one its metadata document describes.
      const registered = client as ClientRecord
      // A client that registered itself, or publishes its own metadata document, is only what it claims: the page says
      // so, where the document is, and where the user will be sent.
      const selfRegistered =
        registered.registration === undefined
          ? undefined
          : {
              redirectHost: redirectHostOf(validated.credentials.redirectUri),
              ...(registered.registration.metadataDocument === true ? { documentHost: new URL(registered.clientId).host } : {}),
            }
      return page(
        200,
        consentPage({ csrf: csrf.token, returnTo, clientName: registered.name, scopes: validated.scopes, username: session.username, selfRegistered }),
        csrf.setCookie,
      )
    }
    if (!(await this.sessions.checkCsrf(request, form.get('csrf_token')))) {
      return page(403, errorPage('Your session expired', 'Go back to the application and try again.'))
    }
    if (form.get('decision') !== 'allow') {
      // RFC 6749 §4.1.2.1: the resource owner denied the request.
      const denied = new AccessDeniedError('The user denied the request')
      return this.server.createAuthorizationErrorResponse(authorizeUri, 'GET', undefined, {}, denied)
    }
    // A public client's consent is asked for every time (see authorize), so there is nothing to remember of it.
    if (!(await this.isPublic(client.clientId))) await this.validator.saveConsent(client.clientId, session.userId, validated.scopes)
    // OpenID Connect Core §3.1.2.1: the sign-in may have grown older than max_age while the page was open (or the page
    // was reached without /authorize): back to the authorization request, which asks the user to sign in again.
    const maxAge = validated.credentials.request.params.get('max_age')
    if (maxAge !== undefined && (!/^\d{1,10}$/.test(maxAge) || Math.floor(Date.now() / 1000) - session.authTime > Number(maxAge))) return redirect(returnTo)
    return this.server.createAuthorizationResponse(authorizeUri, 'GET', undefined, {}, validated.scopes, { userId: session.userId }, signInOf(session))
  }

  /** `/`: where a sign-in without an authorization request lands. */
  async home(request: RouteRequest): Promise<HttpResponse> {
    if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed('GET')
    return page(200, homePage({ username: (await this.signedIn(request))?.username }))
  }

  /** `/logout`: a confirmation form (GET) and signing out (POST). */
  async logout(request: RouteRequest): Promise<HttpResponse> {
    const csrf = await this.sessions.csrf(request)
    if (request.method === 'GET') return page(200, logoutPage({ csrf: csrf.token, signedOut: false }), csrf.setCookie)
    if (request.method !== 'POST') return methodNotAllowed('GET, POST')
    const form = await formOf(request)
    if (!(await this.sessions.checkCsrf(request, form.get('csrf_token')))) return page(403, logoutPage({ csrf: csrf.token, signedOut: false }))
    return page(200, logoutPage({ csrf: '', signedOut: true }), await this.sessions.end(request))
  }

  /** Whether the client of this `client_id` registered itself (RFC 7591) or is the URL of its metadata document. */
  private async isSelfRegistered(clientId: string | null): Promise<boolean> {
    if (clientId === null) return false
    return this.validator.isSelfAsserted(clientId)
  }

  /** Whether a client is registered without a means to authenticate (`token_endpoint_auth_method` `none`). */
  private async isPublic(clientId: string): Promise<boolean> {
    const registered = await this.store.clients.get(clientId)
    return registered === undefined || registered.tokenEndpointAuthMethod === 'none'
  }

  /** The signed-in user of a request: a live session of a user who still exists (a removed user is signed out). */
  private async signedIn(request: RouteRequest): Promise<{ userId: string; username: string; authTime: number } | undefined> {
    const session = await this.sessions.read(request)
    if (session === undefined) return undefined
    const user = await this.store.users.get(session.userId)
    return user === undefined ? undefined : { userId: user.userId, username: user.username, authTime: session.authTime }
  }
}

/**
 * The session's sign-in as the ID tokens name it (OpenID Connect Core §2): its time, and the password it was made with
 * (`amr` `pwd`, RFC 8176 §2), the only way this server signs people in.
 */
function signInOf(session: { readonly authTime: number }): Authentication {
  return { authTime: session.authTime, amr: ['pwd'] }
}

/** What an authorization request asks of the interaction with the user (OpenID Connect Core §3.1.2.1). */
interface Interaction {
  /** `prompt=none`: no page; an error for the client instead. */
  readonly none: boolean
  /** `prompt=login` (or `select_account`, which has no accounts to choose from here): sign in again. */
  readonly login: boolean
  /** `prompt=consent`: ask even when a consent is remembered. */
  readonly consent: boolean
  /** `max_age`: the most seconds since the user signed in. */
  readonly maxAge: number | undefined
}

/**
 * The `prompt` and `max_age` of a verified authorization request. OAuth clients send them too, so the ready server
 * honours them whether or not `openid` is in the scope.
 *
 * @throws {@link InvalidRequestError} (redirected to the client) for a repeated or unknown value, `none` with another,
 *   or a `max_age` that is not a non-negative whole number
 */
function interactionOf(request: OAuth2Request): Interaction {
  for (const name of ['prompt', 'max_age']) {
    if (request.repeated.has(name)) throw new InvalidRequestError(`${name} is repeated`)
  }
  const prompts = new Set((request.params.get('prompt') ?? '').split(' ').filter((value) => value !== ''))
  for (const prompt of prompts) {
    if (!['none', 'login', 'consent', 'select_account'].includes(prompt)) throw new InvalidRequestError('prompt must be none, login, consent or select_account')
  }
  if (prompts.has('none') && prompts.size > 1) throw new InvalidRequestError('prompt=none cannot be combined with another value')
  const maxAgeText = request.params.get('max_age')
  if (maxAgeText !== undefined && !/^\d{1,10}$/.test(maxAgeText)) throw new InvalidRequestError('max_age must be a whole number of seconds')
  return {
    none: prompts.has('none'),
    // OpenID Connect Core §3.1.2.1: max_age=0 is prompt=login (a sign-in of the same second would otherwise pass).
    login: prompts.has('login') || prompts.has('select_account') || maxAgeText === '0',
    consent: prompts.has('consent'),
    maxAge: maxAgeText === undefined ? undefined : Number(maxAgeText),
  }
}

/** An error about the client or its redirect URI, shown to the user rather than redirected (RFC 6749 §4.1.2.1). */
function shownError(error: unknown): OAuth2Response {
  if (error instanceof OAuth2Error && error.status < 500) return page(error.status === 405 ? 405 : 400, errorPage('This request cannot be completed', error.description))
  // The database cannot be reached, or too many client metadata documents are being fetched: try again shortly.
  if (error instanceof TemporarilyUnavailableError) {
    return page(503, errorPage('Temporarily unavailable', error.description), undefined, { 'Retry-After': error.headers['Retry-After'] ?? '5' })
  }
  throw error
}

/**
 * Only a path of this server may be returned to after sign-in: `/` or `/authorize?…`, never another origin (no open
 * redirect). The path is returned as the URL parser serializes it, so it holds only characters a `Location` header
 * may carry (control characters dropped or percent-encoded, non-ASCII percent-encoded); anything else becomes `/`.
 */
function localReturnTo(value: string | null): string {
  if (value === null || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/'
  let url: URL
  try {
    url = new URL(value, LOCAL_ORIGIN)
  } catch {
    return '/'
  }
  if (url.origin !== LOCAL_ORIGIN || url.hash !== '') return '/'
  if (url.pathname === '/' && url.search === '') return '/'
  return url.pathname === '/authorize' && url.search.length > 1 ? `${url.pathname}${url.search}` : '/'
}
/** A stand-in origin to resolve a return path against: only its path and query are kept. */
const LOCAL_ORIGIN = 'http://return-to.invalid'


/** Where a redirect URI sends the user, as a person reads it: the host and port, or a native app's scheme. */
function redirectHostOf(uri: string): string {
  const url = new URL(uri)
  return url.host === '' ? url.protocol : url.host
}

/** The fields of a form post; none unless the body is `application/x-www-form-urlencoded`. */
async function formOf(request: RouteRequest): Promise<URLSearchParams> {
  const type = request.header('content-type') ?? ''
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return new URLSearchParams()
  return new URLSearchParams((await request.body()) ?? '')
}

/** An HTML page with the headers every page has. */
export function page(status: number, html: string, setCookie?: string | readonly string[], extra: Record<string, string> = {}): HttpResponse {
  const cookies = typeof setCookie === 'string' ? [setCookie] : setCookie
  return { status, headers: { ...PAGE_HEADERS, ...extra }, body: html, cookies }
}

function redirect(location: string, cookies: readonly string[] = []): HttpResponse {
  return { status: 303, headers: { Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }, body: '', cookies }
}

function methodNotAllowed(allow: string): HttpResponse {
  return page(405, errorPage('Method not allowed', `Use ${allow}.`), undefined, { Allow: allow })
}
