/**
 * Base64url without padding (RFC 4648 §5), for the bytes of tokens and JWS parts. A table and a loop: about four
 * times faster on Node than going through `btoa` and a binary string, as jose's encoder does, for the few hundred
 * bytes of a JWT.
 *
 * @module
 * @internal
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const CODES = Uint8Array.from(ALPHABET, (char) => char.charCodeAt(0))
/** Characters per `String.fromCharCode` call: well below any engine's limit on the number of arguments. */
const CHUNK = 8192
/**
 * Arrays of character codes by length, up to 512 characters, reused from one call to the next: `String.fromCharCode`
 * copies them into the string, and tokens are always the same length.
 */
const scratch: number[][] = []
const MAX_SCRATCH = 512

/**
 * `bytes[start, end)` in base64url without padding. The character codes are collected first and made into one string
 * at the end: a string grown with `+=` is a tree of pieces (V8's cons strings), which a token kept in a store holds on
 * to, and which is slower to build.
 */
export function encodeBase64url(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const length = Math.floor(((end - start) * 4 + 2) / 3)
  if (length <= 0) return ''
  const codes = length <= MAX_SCRATCH ? (scratch[length] ??= new Array<number>(length).fill(0)) : new Array<number>(length)
  let at = 0
  let i = start
  for (; i + 3 <= end; i += 3) {
    const bits = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    codes[at++] = CODES[bits >>> 18] as number
    codes[at++] = CODES[(bits >>> 12) & 63] as number
    codes[at++] = CODES[(bits >>> 6) & 63] as number
    codes[at++] = CODES[bits & 63] as number
  }
  if (end - i === 1) {
    const bits = bytes[i] as number
    codes[at++] = CODES[bits >>> 2] as number
    codes[at++] = CODES[(bits & 3) << 4] as number
  } else if (end - i === 2) {
    const bits = ((bytes[i] as number) << 8) | (bytes[i + 1] as number)
    codes[at++] = CODES[bits >>> 10] as number
    codes[at++] = CODES[(bits >>> 4) & 63] as number
    codes[at++] = CODES[(bits & 15) << 2] as number
  }
  if (length <= CHUNK) return String.fromCharCode.apply(null, codes)
  let text = ''
  for (let from = 0; from < length; from += CHUNK) text += String.fromCharCode.apply(null, codes.slice(from, from + CHUNK))
  return text
}

const encoder = new TextEncoder()

/**
 * The UTF-8 bytes of `text` in base64url without padding. ASCII text (a JWT's JSON nearly always) is its own UTF-8
 * and a valid `btoa` input, which encodes it natively, several times faster than the loop above on its bytes.
 */
export function encodeTextBase64url(text: string): string {
  if (!/^[\x00-\x7F]*$/.test(text)) return encodeBase64url(encoder.encode(text))
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}
