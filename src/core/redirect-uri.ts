/**
 * Redirect URI checks: exact matching against the registered URIs (RFC 9700 §4.1.3), with the loopback port
 * exception for native apps (RFC 8252 §7.3).
 *
 * @module
 */

// RFC 8252 §7.3 names the loopback IP literals; §8.3 advises against `localhost`, so it gets no port exception.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]'])
// Schemes that run code in the browser instead of reaching a client (RFC 6749 §10.6, RFC 9700 §4.1.3).
const UNSAFE_SCHEMES = /^\s*(javascript|data|vbscript|file):/i

/**
 * Whether a value may serve as a redirect URI: an absolute URI without a fragment (RFC 6749 §3.1.2), and not a
 * `javascript:`, `data:`, `vbscript:` or `file:` URI.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2 | RFC 6749 §3.1.2}
 */
export function isValidRedirectUri(value: string): boolean {
  if (value.includes('#') || UNSAFE_SCHEMES.test(value)) return false
  try {
    // A scheme followed by ':' makes a URI absolute; URL.canParse would accept relative forms with a base only.
    return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && new URL(value).protocol !== ''
  } catch {
    return false
  }
}

/**
 * Finds the registered redirect URI that `presented` matches: the identical string, or, for an `http` loopback IP
 * literal, the same URI with any port (RFC 8252 §7.3). No prefix, suffix, case or normalization games.
 *
 * @returns the matching registered URI, or `undefined`
 * @see {@link https://www.rfc-editor.org/rfc/rfc9700#section-4.1.3 | RFC 9700 §4.1.3}
 * @see {@link https://www.rfc-editor.org/rfc/rfc8252#section-7.3 | RFC 8252 §7.3}
 */
export function matchRedirectUri(presented: string, registered: readonly string[]): string | undefined {
  if (registered.includes(presented)) return presented
  const loopback = parseLoopback(presented)
  if (loopback === undefined) return undefined
  return registered.find((candidate) => {
    const other = parseLoopback(candidate)
    return other !== undefined && other.host === loopback.host && other.rest === loopback.rest
  })
}

/** An `http` URI on a loopback IP literal, split into its host and everything but the port. */
function parseLoopback(uri: string): { host: string; rest: string } | undefined {
  // Matched on the raw string, not a normalized URL, so that only the port may differ.
  const match = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(\/[^#]*)?$/.exec(uri)
  if (match === null || !LOOPBACK_HOSTS.has(match[1] as string) || Number(match[2] ?? 0) > 65535) return undefined
  return { host: match[1] as string, rest: match[3] ?? '' }
}
