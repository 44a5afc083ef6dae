import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { equalDigests } from '../../src/core/constant-time.js'
import { timingSafeEqual } from '../../src/index.js'

describe('timingSafeEqual', () => {
  it('is true for equal secrets', async () => {
    expect(await timingSafeEqual('7Fjfp0ZBr1KtDRbnfVdmIw', '7Fjfp0ZBr1KtDRbnfVdmIw')).toBe(true)
  })

  it('is true for two empty strings', async () => {
    expect(await timingSafeEqual('', '')).toBe(true)
  })

  it('is false for secrets of the same length that differ in one character', async () => {
    expect(await timingSafeEqual('7Fjfp0ZBr1KtDRbnfVdmIw', '7Fjfp0ZBr1KtDRbnfVdmIx')).toBe(false)
    expect(await timingSafeEqual('secret', 'Secret')).toBe(false)
  })

  it('is false for secrets of different lengths, a prefix included', async () => {
    expect(await timingSafeEqual('secret', 'secret1')).toBe(false)
    expect(await timingSafeEqual('secret1', 'secret')).toBe(false)
    expect(await timingSafeEqual('', 'secret')).toBe(false)
    expect(await timingSafeEqual('secret', '')).toBe(false)
  })

  it('compares non-ASCII secrets by their UTF-8 bytes', async () => {
    expect(await timingSafeEqual('🔑 sécret €', '🔑 sécret €')).toBe(true)
    expect(await timingSafeEqual('🔑 sécret €', '🔑 secret €')).toBe(false)
  })

  it('tells apart strings that differ only in lone surrogates, which UTF-8 would both encode as U+FFFD', async () => {
    expect(await timingSafeEqual('\uD800', '\uFFFD')).toBe(false)
    expect(await timingSafeEqual('a\uDC00', 'a\uD800')).toBe(false)
  })

  it('does not normalize Unicode: composed and decomposed é differ', async () => {
    expect(await timingSafeEqual('caf\u00e9', 'cafe\u0301')).toBe(false)
  })

  it('does not truncate long secrets', async () => {
    const long = 'x'.repeat(10_000)
    expect(await timingSafeEqual(long + 'a', long + 'b')).toBe(false)
    expect(await timingSafeEqual(long, long)).toBe(true)
  })

  // RFC 6749 §10.10: every byte of the digests must decide, not only some. A comparison that kept only the last byte's
  // difference would accept about one unequal pair in 256: thousands of random pairs catch it.
  it('is false for thousands of random unequal secrets and verifiers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 64 }), fc.string({ maxLength: 64 }), async (a, b) => {
        fc.pre(a !== b)
        expect(await timingSafeEqual(a, b)).toBe(false)
      }),
      { numRuns: 4000, seed: 20261207 },
    )
  })
})

describe('equalDigests', () => {
  const digest = () => Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 255)

  it('is false for digests that differ only in their first byte, or only in their last', () => {
    for (const at of [0, 31]) {
      for (const flip of [1, 0x80, 0xff]) {
        const other = digest()
        other[at] = (other[at] as number) ^ flip
        expect(equalDigests(digest(), other)).toBe(false)
      }
    }
  })

  it('is false for every single-byte difference at every position, and true for equal digests', () => {
    expect(equalDigests(digest(), digest())).toBe(true)
    for (let at = 0; at < 32; at++) {
      const other = digest()
      other[at] = (other[at] as number) ^ 1
      expect(equalDigests(digest(), other)).toBe(false)
    }
  })
})
