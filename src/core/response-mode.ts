/**
 * Delivering authorization responses to the client's redirect URI: in the query, in the fragment, or as an
 * auto-submitted HTML form (OAuth 2.0 Form Post Response Mode).
 *
 * @module
 */
import { type OAuth2Response } from './response.js'

/** How authorization response parameters travel to the client. */
export type ResponseMode = 'query' | 'fragment' | 'form_post'

/** The response modes oauthkit implements. */
export const RESPONSE_MODES: readonly ResponseMode[] = ['query', 'fragment', 'form_post']

/**
 * The response that delivers `params` to `redirectUri`: a 302 whose `Location` carries them in the query (keeping
 * the URI's own query, RFC 6749 §3.1.2) or the fragment, or a 200 HTML page that POSTs them.
 *
 * The redirect URI must already be verified against the client's registered URIs: this function sends anything
 * anywhere it is told.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 | RFC 6749 §4.1.2}
 * @see {@link https://openid.net/specs/oauth-v2-form-post-response-mode-1_0.html | Form Post Response Mode}
 */
export function deliverToRedirectUri(redirectUri: string, mode: ResponseMode, params: Readonly<Record<string, string>>): OAuth2Response {
  if (mode === 'form_post') return formPostPage(redirectUri, params)
  const url = new URL(redirectUri)
  if (mode === 'query') {
    for (const [name, value] of Object.entries(params)) url.searchParams.append(name, value)
  } else {
    url.hash = new URLSearchParams(params).toString()
  }
  return { status: 302, headers: { Location: url.href, 'Cache-Control': 'no-store', Pragma: 'no-cache' }, body: '' }
}

function formPostPage(action: string, params: Readonly<Record<string, string>>): OAuth2Response {
  const inputs = Object.entries(params)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('')
  const body =
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Submit this form</title></head>' +
    '<body onload="document.forms[0].submit()">' +
    `<form method="post" action="${escapeHtml(action)}">${inputs}` +
    '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
  return {
    status: 200,
    headers: {
      'Content-Type': 'text/html;charset=UTF-8',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
      // The page carries a code or token: no framing, no referrer, and only its own inline submit may run.
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
    },
    body,
  }
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
