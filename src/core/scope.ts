/**
 * Scope strings (RFC 6749 §3.3): a list of space-delimited, case-sensitive scope tokens.
 *
 * @module
 */
import { InvalidScopeError } from './errors.js'

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), tokens separated by one space.
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/

/**
 * Parses a `scope` parameter into its tokens, in order, without duplicates.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.3 | RFC 6749 §3.3}
 * @throws {@link InvalidScopeError} when the value is not a space-delimited list of scope tokens
 */
export function parseScope(scope: string): readonly string[] {
  if (!SCOPE.test(scope)) {
    throw new InvalidScopeError('scope must be scope tokens separated by single spaces (RFC 6749 section 3.3)')
  }
  // One scope (the common request) has nothing to split or to deduplicate.
  return scope.includes(' ') ? [...new Set(scope.split(' '))] : [scope]
}

/** Joins scope tokens into the space-delimited string of RFC 6749 §3.3. */
export function scopeToString(scopes: readonly string[]): string {
  return scopes.join(' ')
}

/** Whether every scope in `requested` is one of `granted`. */
export function isSubsetOf(requested: readonly string[], granted: readonly string[]): boolean {
  // Short lists (nearly all) are compared directly, without building a Set.
  if (granted.length <= 16) return requested.every((scope) => granted.includes(scope))
  const allowed = new Set(granted)
  return requested.every((scope) => allowed.has(scope))
}

/** Whether two scope lists hold the same tokens, in any order. */
export function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && isSubsetOf(a, b)
}
