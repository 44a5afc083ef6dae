import { describe, expect, it } from 'vitest'
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
})
