/**
 * Base64url without padding (RFC 4648 §5), for the bytes of tokens and JWS parts. A table and a loop: about four
 * times faster on Node than going through `btoa` and a binary string, as jose's encoder does, for the few hundred
 * bytes of a JWT.
 *
 * @module
 * @internal
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** `bytes[start, end)` in base64url without padding. */
export function encodeBase64url(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let text = ''
  let i = start
  for (; i + 3 <= end; i += 3) {
    const bits = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    text += ALPHABET.charAt(bits >>> 18) + ALPHABET.charAt((bits >>> 12) & 63) + ALPHABET.charAt((bits >>> 6) & 63) + ALPHABET.charAt(bits & 63)
  }
  if (end - i === 1) {
    const bits = bytes[i] as number
    text += ALPHABET.charAt(bits >>> 2) + ALPHABET.charAt((bits & 3) << 4)
  } else if (end - i === 2) {
    const bits = ((bytes[i] as number) << 8) | (bytes[i + 1] as number)
    text += ALPHABET.charAt(bits >>> 10) + ALPHABET.charAt((bits >>> 4) & 63) + ALPHABET.charAt((bits & 15) << 2)
  }
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
