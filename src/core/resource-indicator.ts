/**
 * Resource indicators (RFC 8707): the `resource` parameter that names the protected resources a token is for.
 *
 * @module
 */
import { InvalidTargetError } from './errors.js'

/**
 * Checks `resource` values: each must be an absolute URI without a fragment (RFC 8707 §2). Duplicates are dropped.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc8707#section-2 | RFC 8707 §2}
 * @throws {@link InvalidTargetError} for a value that is not an absolute URI or has a fragment
 */
export function parseResources(values: readonly string[]): readonly string[] {
  for (const value of values) {
    let absolute = false
    try {
      absolute = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(value) && new URL(value).href !== ''
    } catch {
      absolute = false
    }
    if (!absolute || value.includes('#')) {
      throw new InvalidTargetError('resource must be an absolute URI without a fragment (RFC 8707 section 2)')
    }
  }
  return [...new Set(values)]
}
