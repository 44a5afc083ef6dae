/**
 * The ready server's pages: login, consent, sign-out and errors. Server-rendered HTML, no script, readable on a
 * phone, every value escaped.
 *
 * @module
 */

/** Headers of every page: no caching, no framing, no referrer, no script (RFC 9700 §4.16, §4.2.4). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
  // No form-action: browsers apply it to the redirect that follows a form post, which leaves for the client.
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
})

/** Escapes text for HTML content and double-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const STYLE = `
  *{box-sizing:border-box}body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2129}
  main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}
  h1{font-size:1.35rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
  input[type=text],input[type=password]{width:100%;padding:.65rem;font-size:1rem;border:1px solid #c4c8cf;border-radius:.4rem}
  button{font-size:1rem;padding:.65rem 1.2rem;border-radius:.4rem;border:1px solid #1a56db;background:#1a56db;color:#fff;margin:1rem .5rem 0 0;cursor:pointer}
  button.secondary{background:#fff;color:#1a56db}ul{padding-left:1.25rem}.error{color:#b42318;background:#fef3f2;padding:.5rem .75rem;border-radius:.4rem}
  .muted{color:#5f6672;font-size:.9rem}
  .warning{background:#fff4e5;border:1px solid #f0b45c;border-radius:6px;padding:.6rem .8rem}`

function layout(title: string, body: string): string {
  return (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`
  )
}

/** The login page. */
export function loginPage(options: { csrf: string; returnTo: string; error?: string | undefined; username?: string | undefined }): string {
  return layout(
    'Sign in',
    '<h1>Sign in</h1>' +
      (options.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(options.error)}</p>`) +
      '<form method="post" action="/login">' +
      `<input type="hidden" name="csrf_token" value="${escapeHtml(options.csrf)}">` +
      `<input type="hidden" name="return_to" value="${escapeHtml(options.returnTo)}">` +
      '<label for="username">Username</label>' +
      `<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" required value="${escapeHtml(options.username ?? '')}">` +
      '<label for="password">Password</label>' +
      '<input id="password" name="password" type="password" autocomplete="current-password" required>' +
      '<button type="submit">Sign in</button></form>',
  )
}

/**
 * What the OpenID Connect scopes let the application learn (OpenID Connect Core §5.4), in plain words for the consent
 * page; any other scope is shown by its name.
 */
const SCOPE_WORDS: Readonly<Record<string, string>> = {
  openid: 'Know who you are when you sign in (your account identifier on this server)',
  profile: 'Your profile: your name, nickname, picture, website, gender, birthdate, time zone and language',
  email: 'Your email address, and whether it was verified',
  address: 'Your postal address',
  phone: 'Your phone number, and whether it was verified',
}

/**
 * The consent page: which client asks for which scopes, with Allow and Deny. A client that registered itself
 * (`selfRegistered`) is marked as such, with the host it sends the user back to: its name is only what it claims. A
 * client known by its client ID metadata document (`documentHost`) is marked with the host that publishes the document
 * too (draft-ietf-oauth-client-id-metadata-document §6.4: show the client_id's host).
 */
export function consentPage(options: {
  csrf: string
  returnTo: string
  clientName: string
  scopes: readonly string[]
  username: string
  selfRegistered?: { readonly redirectHost: string; readonly documentHost?: string | undefined } | undefined
}): string {
  const scopes = options.scopes
    .map((scope) => {
      const words = SCOPE_WORDS[scope]
      return words === undefined ? `<li>${escapeHtml(scope)}</li>` : `<li>${words} <span class="muted">(${scope})</span></li>`
    })
    .join('')
  const self = options.selfRegistered
  const unverified =
    self === undefined
      ? ''
      : `<p class="warning" id="unverified">` +
        (self.documentHost === undefined
          ? 'This application registered itself: '
          : `This application describes itself in a document published at <strong>${escapeHtml(self.documentHost)}</strong>: `) +
        `its name is not verified by the operator of this server. ` +
        `If you allow it, you will be sent to <strong>${escapeHtml(self.redirectHost)}</strong>.</p>`
  return layout(
    'Allow access?',
    `<h1>Allow ${escapeHtml(options.clientName)} to access your account?</h1>` +
      unverified +
      `<p><strong>${escapeHtml(options.clientName)}</strong> asks for:</p><ul>${scopes}</ul>` +
      `<p class="muted">Signed in as ${escapeHtml(options.username)}.</p>` +
      '<form method="post" action="/consent">' +
      `<input type="hidden" name="csrf_token" value="${escapeHtml(options.csrf)}">` +
      `<input type="hidden" name="return_to" value="${escapeHtml(options.returnTo)}">` +
      '<button type="submit" name="decision" value="allow">Allow</button>' +
      '<button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>',
  )
}

/** The sign-out page: a form, since signing out changes state (no GET side effect). */
export function logoutPage(options: { csrf: string; signedOut: boolean }): string {
  return layout(
    'Sign out',
    options.signedOut
      ? '<h1>You are signed out</h1>'
      : '<h1>Sign out?</h1><form method="post" action="/logout">' +
          `<input type="hidden" name="csrf_token" value="${escapeHtml(options.csrf)}">` +
          '<button type="submit">Sign out</button></form>',
  )
}

/** The home page, where a user lands after signing in without an authorization request. */
export function homePage(options: { username: string | undefined }): string {
  return layout(
    'oauthkit',
    options.username === undefined
      ? '<h1>oauthkit authorization server</h1><p><a href="/login">Sign in</a></p>'
      : `<h1>Signed in as ${escapeHtml(options.username)}</h1><p>Applications can now ask you for access.</p><p><a href="/logout">Sign out</a></p>`,
  )
}

/** An error shown to the user, never sent to a client (e.g. an unknown client or redirect URI). */
export function errorPage(title: string, description: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p class="error">${escapeHtml(description)}</p>`)
}
