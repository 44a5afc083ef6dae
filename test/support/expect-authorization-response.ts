/**
 * Whole-response assertions for authorization endpoint answers: where the parameters travel (query, fragment or an
 * auto-posted form, RFC 6749 §4.1.2, §4.2.2, Form Post Response Mode), that nothing is cached, and that errors about
 * the client or its redirect URI are shown, never redirected (RFC 6749 §4.1.2.1).
 */
import { expect } from 'vitest'
import { type OAuth2ErrorCode, type OAuth2Response } from '../../src/index.js'

/** The authorization endpoint the tests call; its origin is the default issuer (RFC 9207 §2). */
export const AUTHORIZE_URI = 'https://as.example.com/authorize'
export const DEFAULT_ISSUER = 'https://as.example.com'

/** How an authorization response reaches the client. */
export type Delivery = 'query' | 'fragment' | 'form_post'

// RFC 6749 §4.1.2.1, §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * An authorization request URI: `params` encoded into the query of `base`, in order. An `undefined` value leaves the
 * parameter out; pairs allow a parameter to be repeated.
 */
export function authorizationUri(params: Readonly<Record<string, string | undefined>> | ReadonlyArray<readonly [string, string]>, base = AUTHORIZE_URI): string {
  const url = new URL(base)
  const pairs = Array.isArray(params) ? params : Object.entries(params)
  for (const [name, value] of pairs as Array<readonly [string, string | undefined]>) {
    if (value !== undefined) url.searchParams.append(name, value)
  }
  return url.href
}

/** A header by name, in any case. */
export function headerOf(res: OAuth2Response, name: string): string | undefined {
  return Object.entries(res.headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1]
}

/** `uri` without its query and fragment. */
function withoutQueryAndFragment(uri: string): string {
  const url = new URL(uri)
  url.search = ''
  url.hash = ''
  return url.href
}

function decodeHtml(value: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
  return value.replace(/&(?:#(\d+)|#x([0-9a-f]+)|([a-z]+));/gi, (entity, dec?: string, hex?: string, name?: string) => {
    if (dec !== undefined) return String.fromCodePoint(Number.parseInt(dec, 10))
    if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex, 16))
    return named[(name as string).toLowerCase()] ?? entity
  })
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag)
  return match === null ? undefined : decodeHtml(match[1] as string)
}

/** Parses a form post page: its action, method and hidden inputs, HTML-decoded. */
export function parseFormPost(html: string): { action: string | undefined; method: string | undefined; params: Array<[string, string]> } {
  const form = /<form\b[^>]*>/i.exec(html)?.[0] ?? ''
  const params = [...html.matchAll(/<input\b[^>]*>/gi)]
    .map((match) => match[0])
    .filter((tag) => attribute(tag, 'type')?.toLowerCase() === 'hidden')
    .map((tag): [string, string] => [attribute(tag, 'name') ?? '', attribute(tag, 'value') ?? ''])
  return { action: attribute(form, 'action'), method: attribute(form, 'method'), params }
}

function uniqueRecord(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const names = pairs.map(([name]) => name)
  // RFC 6749 §3.1: response parameters MUST NOT be included more than once.
  expect(new Set(names).size, `repeated response parameter in ${names.join(', ')}`).toBe(names.length)
  return Object.fromEntries(pairs)
}

/**
 * Asserts that `res` delivers parameters to `redirectUri` by `delivery`, without caching, keeping the redirect URI's
 * own query (RFC 6749 §3.1.2), and returns the parameters delivered.
 */
export function expectDelivered(res: OAuth2Response, redirectUri: string, delivery: Delivery): Record<string, string> {
  expect(headerOf(res, 'Cache-Control')).toBe('no-store')
  if (delivery === 'form_post') {
    expect(res.status, res.body).toBe(200)
    expect(headerOf(res, 'Location')).toBeUndefined()
    expect(headerOf(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('text/html')
    const page = parseFormPost(res.body)
    expect(page.action).toBe(redirectUri)
    expect(page.method?.toLowerCase()).toBe('post')
    // The page posts itself: no user action needed when scripts run.
    expect(res.body).toMatch(/\.submit\(\)/)
    return uniqueRecord(page.params)
  }
  expect(res.status, res.body).toBe(302)
  expect(res.body).toBe('')
  const location = headerOf(res, 'Location')
  expect(location).toEqual(expect.any(String))
  const url = new URL(location as string)
  const own = new URL(redirectUri)
  expect(withoutQueryAndFragment(url.href)).toBe(withoutQueryAndFragment(redirectUri))
  if (delivery === 'query') {
    expect(url.hash).toBe('')
    const entries = [...url.searchParams]
    const ownEntries = [...own.searchParams]
    expect(entries.slice(0, ownEntries.length)).toEqual(ownEntries)
    return uniqueRecord(entries.slice(ownEntries.length))
  }
  // Fragment: the query is the redirect URI's own, untouched.
  expect(url.search).toBe(own.search)
  expect(url.hash.startsWith('#')).toBe(true)
  return uniqueRecord([...new URLSearchParams(url.hash.slice(1))])
}

/**
 * Asserts an authorization error response delivered to the client (RFC 6749 §4.1.2.1, §4.2.2.1, RFC 9207 §2):
 * exactly `error`, a useful `error_description` in the §5.2 character set, `state` when the request had one, and `iss`.
 */
export function expectDeliveredError(
  res: OAuth2Response,
  redirectUri: string,
  delivery: Delivery,
  error: OAuth2ErrorCode,
  expected: { readonly state?: string | undefined; readonly iss: string; readonly description?: RegExp },
): Record<string, string> {
  const params = expectDelivered(res, redirectUri, delivery)
  expect(params).toEqual({
    error,
    error_description: expect.stringMatching(DESCRIPTION_CHARSET),
    ...(expected.state === undefined ? {} : { state: expected.state }),
    iss: expected.iss,
  })
  if (expected.description !== undefined) expect(params.error_description).toMatch(expected.description)
  return params
}

/**
 * Asserts an error shown to the user instead of redirected (RFC 6749 §3.1.2.4, §4.1.2.1): no `Location`, a JSON
 * body with exactly `error` and a useful `error_description`, no caching, and neither `state` nor `iss`.
 */
export function expectNotRedirected(res: OAuth2Response, status: number, error: OAuth2ErrorCode, description: RegExp = /\S/): void {
  expect(res.status, res.body).toBe(status)
  expect(headerOf(res, 'Location')).toBeUndefined()
  expect(headerOf(res, 'Cache-Control')).toBe('no-store')
  expect(headerOf(res, 'Content-Type')?.split(';')[0]?.trim().toLowerCase()).toBe('application/json')
  const body: unknown = JSON.parse(res.body)
  expect(body).toEqual({ error, error_description: expect.stringMatching(DESCRIPTION_CHARSET) })
  expect((body as { error_description: string }).error_description).toMatch(description)
}
