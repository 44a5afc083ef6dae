import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeBase64url, encodeTextBase64url } from '../../src/core/base64url.js'

describe('encodeBase64url', () => {
  it('encodes any bytes, or any range of them, exactly as base64url without padding (RFC 4648 §5)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        expect(encodeBase64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'))
        const start = bytes.length === 0 ? 0 : a % bytes.length
        const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
        expect(encodeBase64url(bytes, start, end)).toBe(Buffer.from(bytes.subarray(start, end)).toString('base64url'))
      }),
      { seed: 20261123, numRuns: 500 },
    )
  })

  it('encodes inputs longer than one string-building chunk (8,192 characters) without a seam', () => {
    // 6,144 bytes make exactly 8,192 characters; the others cross the boundary by a byte or by several chunks.
    for (const length of [6143, 6144, 6145, 6147, 20000, 65536]) {
      const bytes = crypto.getRandomValues(new Uint8Array(length))
      expect(encodeBase64url(bytes)).toBe(Buffer.from(bytes).toString('base64url'))
      expect(encodeBase64url(bytes, 1, length - 1)).toBe(Buffer.from(bytes.subarray(1, length - 1)).toString('base64url'))
    }
  })

  it('gives the empty string for no bytes, and the alphabet of RFC 4648 Table 2 with - and _', () => {
    expect(encodeBase64url(new Uint8Array(0))).toBe('')
    expect(encodeBase64url(new Uint8Array([0xfb, 0xff]))).toBe('-_8')
  })
})

describe('encodeTextBase64url', () => {
  it('encodes the UTF-8 bytes of any text, ASCII or not, as base64url without padding', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 })), (text) => {
        expect(encodeTextBase64url(text)).toBe(Buffer.from(text, 'utf8').toString('base64url'))
      }),
      { seed: 20261123, numRuns: 500 },
    )
  })

  it('pads nothing and uses - and _ for ASCII text (the btoa path) as for the rest', () => {
    expect(encodeTextBase64url('')).toBe('')
    expect(encodeTextBase64url('>>?')).toBe('Pj4_')
    expect(encodeTextBase64url('a~~')).toBe('YX5-')
    expect(encodeTextBase64url('ab')).toBe('YWI')
    expect(encodeTextBase64url('é')).toBe('w6k')
  })
})
