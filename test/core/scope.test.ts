import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidScopeError, parseScope, scopeToString } from '../../src/index.js'
import { isSubsetOf, sameScopes } from '../../src/core/scope.js'

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const scopeToken = fc.string({
  unit: fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 12,
})

describe('parseScope (RFC 6749 §3.3)', () => {
  it('parses a single scope token', () => {
    expect(parseScope('read')).toEqual(['read'])
  })

  it('splits tokens separated by single spaces, in order', () => {
    expect(parseScope('openid profile email')).toEqual(['openid', 'profile', 'email'])
  })

  it('accepts every character the scope-token ABNF allows, at its boundaries', () => {
    expect(parseScope('! # [ ] ~ https://api.example.com/read:all')).toEqual(['!', '#', '[', ']', '~', 'https://api.example.com/read:all'])
  })

  it('drops duplicates and keeps the order of first appearance', () => {
    expect(parseScope('write read write admin read')).toEqual(['write', 'read', 'admin'])
  })

  it('is case-sensitive', () => {
    expect(parseScope('Read read READ')).toEqual(['Read', 'read', 'READ'])
  })

  it.each([
    ['an empty string', ''],
    ['a single space', ' '],
    ['a leading space', ' read'],
    ['a trailing space', 'read '],
    ['a double space', 'read  write'],
    ['a tab', 'read\twrite'],
    ['a newline', 'read\nwrite'],
    ['a double quote', 'read "write"'],
    ['a backslash', 'read\\write'],
    ['a DEL', 'read\x7f'],
    ['a non-ASCII letter', 'réad'],
    ['a non-breaking space', 'read\u00a0write'],
  ])('rejects %s with InvalidScopeError', (_case, scope) => {
    expect(() => parseScope(scope)).toThrow(InvalidScopeError)
  })

  it('round-trips any list of distinct scope tokens through scopeToString', () => {
    fc.assert(
      fc.property(fc.uniqueArray(scopeToken, { minLength: 1, maxLength: 8 }), (tokens) => {
        expect(parseScope(scopeToString(tokens))).toEqual(tokens)
      }),
      { seed: 20261123, numRuns: 200 },
    )
  })
})

describe('scopeToString (RFC 6749 §3.3)', () => {
  it('joins tokens with single spaces', () => {
    expect(scopeToString(['read', 'write'])).toBe('read write')
  })

  it('gives a single token unchanged and an empty list as an empty string', () => {
    expect(scopeToString(['read'])).toBe('read')
    expect(scopeToString([])).toBe('')
  })
})

describe('isSubsetOf and sameScopes', () => {
  it('answer as a Set would, for short lists and long ones, duplicates included', () => {
    const token = fc.constantFrom('read', 'write', 'admin', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', '')
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), fc.array(token, { maxLength: 24 }), (requested, granted) => {
        const allowed = new Set(granted)
        expect(isSubsetOf(requested, granted)).toBe(requested.every((scope) => allowed.has(scope)))
        expect(sameScopes(requested, granted)).toBe(requested.length === granted.length && requested.every((scope) => allowed.has(scope)))
      }),
      { seed: 20261124, numRuns: 2000 },
    )
    expect(isSubsetOf(['read'], ['read', 'write'])).toBe(true)
    expect(isSubsetOf(['admin'], ['read', 'write'])).toBe(false)
    expect(isSubsetOf([], [])).toBe(true)
  })
})
