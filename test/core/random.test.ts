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

  it('draws each value from Web Crypto, exactly byteCount fresh bytes, sharing none with another value', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues')
    const texts = [randomBase64url(32), randomBase64url(16), randomBase64url(32)]
    expect(spy.mock.calls.map(([array]) => (array as Uint8Array).byteLength)).toEqual([32, 16, 32])
    expect(spy.mock.results.map(({ value }) => Buffer.from(value as Uint8Array).toString('base64url'))).toEqual(texts)
  })

  it('refuses a byte count it cannot serve', () => {
    for (const count of [0, -1, 1.5, 8193, Number.NaN]) expect(() => randomBase64url(count)).toThrow(RangeError)
  })
})
