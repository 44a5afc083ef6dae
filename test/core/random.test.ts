import { afterEach, describe, expect, it, vi } from 'vitest'
import { randomBase64url } from '../../src/core/random.js'

describe('randomBase64url', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('encodes exactly byteCount random bytes as unpadded base64url, for every length', () => {
    for (let bytes = 1; bytes <= 70; bytes++) {
      const text = randomBase64url(bytes)
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/)
      expect(text).toHaveLength(Math.ceil((bytes * 4) / 3))
      const decoded = Buffer.from(text, 'base64url')
      expect(decoded).toHaveLength(bytes)
      // Canonical: re-encoding the bytes gives the same text (no stray bits in the last character).
      expect(decoded.toString('base64url')).toBe(text)
    }
  })

  it('never repeats a value over 5,000 draws, and uses every character of the alphabet', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 5000; i++) seen.add(randomBase64url(32))
    expect(seen.size).toBe(5000)
    const characters = new Set([...seen].join(''))
    expect(characters.size).toBe(64)
  })

  it('spreads the bits evenly: each of the 256 bits of a token is set about half the time', () => {
    const ones = new Array<number>(256).fill(0)
    const draws = 4000
    for (let i = 0; i < draws; i++) {
      const bytes = Buffer.from(randomBase64url(32), 'base64url')
      for (let bit = 0; bit < 256; bit++) ones[bit] = (ones[bit] as number) + ((bytes[bit >> 3] as number) >> (bit & 7) & 1)
    }
    // 4000 fair coin flips: the mean is 2000 and the standard deviation 31.6; 7 standard deviations is never reached.
    for (const count of ones) expect(Math.abs(count - draws / 2)).toBeLessThan(7 * 31.7)
  })

  it('asks Web Crypto for 8 KiB at a time, not once per value (the pool the bench case cc-opaque needs)', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues')
    for (let i = 0; i < 1024; i++) randomBase64url(32)
    // 1024 × 32 bytes = 32 KiB: four refills of 8 KiB, five at most depending on what was left in the pool.
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(4)
    expect(spy.mock.calls.length).toBeLessThanOrEqual(5)
    for (const [array] of spy.mock.calls) expect((array as Uint8Array).byteLength).toBe(8192)
  })

  it('hands each pooled byte out once and zeroes it in the pool: no token stays readable there', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues')
    // Use up whatever is left, so that the next value starts a fresh pool this test can see.
    while (spy.mock.calls.length === 0) randomBase64url(64)
    const pool = spy.mock.calls[0]?.[0] as Uint8Array
    const texts: string[] = []
    while (spy.mock.calls.length === 1 && texts.length < 100) texts.push(randomBase64url(32))
    const handedOut = texts.length * 32 + 64
    expect(pool.subarray(0, Math.min(handedOut, pool.length)).every((byte) => byte === 0)).toBe(true)
    expect(new Set(texts).size).toBe(texts.length)
  })

  it('refuses a byte count it cannot serve', () => {
    for (const count of [0, -1, 1.5, 8193, Number.NaN]) expect(() => randomBase64url(count)).toThrow(RangeError)
  })
})
