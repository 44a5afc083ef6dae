/**
 * Tokens that sort by the time they were issued, and the keys stores make of them.
 *
 * A store looks a token up by a key made from the token alone (`tokenHash` in `oauthkit/store`): the SHA-256 digest
 * of the whole token, after the time of issue when the token carries it in a form read without decoding anything
 * secret. Keys of tokens issued together then sort together, and a store's index (a B-tree) takes them at its end: a
 * group of tokens saved together writes one page of the index instead of one random page each.
 *
 * @module
 */
import { randomBase64url, TIME_PREFIX_LENGTH, timePrefix } from '../core/random.js'

/**
 * A token that sorts by the time it was issued: the time in milliseconds (9 characters of `0-9a-z`), a `.`, and 256
 * random bits in base64url (43 characters), 53 characters in all, e.g. `0mwu349u9.XnSf…`. Only the random part is
 * secret; the time is what a JWT's `iat` would say. The default token generator, authorization codes and the `jti`
 * of signed tokens are made so.
 */
export function generateTimeOrderedToken(): string {
  return `${timePrefix()}.${randomBase64url(32)}`
}

/** Characters of a {@link generateTimeOrderedToken} token. */
const TOKEN_LENGTH = TIME_PREFIX_LENGTH + 1 + 43
const TOKEN_FORM = /^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/
/** base64url of `{"jti"` (6 bytes, 8 characters): how the payload of a signed token whose `jti` comes first starts. */
const JTI_FIRST = 'eyJqdGki'

/**
 * The part of `token` that a store's key starts with: its time and a `.` (10 characters), for a
 * {@link generateTimeOrderedToken} token, and for a JWT whose payload starts with such a `jti` (as
 * `signedTokenGenerator` writes it); `undefined` for any other token, whose key is its digest alone.
 *
 * Nothing here is secret: 43 random characters follow the time of a token of this form, and a JWT's payload is
 * readable by whoever holds the token.
 */
export function timeOrderedKeyPrefix(token: string): string | undefined {
  if (token.length === TOKEN_LENGTH && token.charCodeAt(TIME_PREFIX_LENGTH) === 46 && TOKEN_FORM.test(token)) return token.slice(0, TIME_PREFIX_LENGTH + 1)
  const payload = token.indexOf('.') + 1
  return payload > 0 && token.startsWith(JTI_FIRST, payload) ? jtiTime(token, payload + JTI_FIRST.length) : undefined
}

/**
 * After `{"jti"`, 16 characters of base64url hold 12 bytes: `:"`, then `<9 time characters>.` when the `jti` is one
 * of {@link generateTimeOrderedToken}. Decoded here, without `atob` (the characters are base64url).
 */
function jtiTime(token: string, at: number): string | undefined {
  if (token.length < at + 16) return undefined
  const bytes = JTI_BYTES
  for (let i = 0; i < 4; i++) {
    const a = sextet(token, at + 4 * i)
    const b = sextet(token, at + 4 * i + 1)
    const c = sextet(token, at + 4 * i + 2)
    const d = sextet(token, at + 4 * i + 3)
    if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
    const bits = (a << 18) | (b << 12) | (c << 6) | d
    bytes[3 * i] = bits >>> 16
    bytes[3 * i + 1] = (bits >>> 8) & 255
    bytes[3 * i + 2] = bits & 255
  }
  if (bytes[0] !== 0x3a || bytes[1] !== 0x22 || bytes[11] !== 0x2e) return undefined
  for (let i = 2; i < 11; i++) {
    const byte = bytes[i] as number
    if (!((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a))) return undefined
  }
  return String.fromCharCode(bytes[2] as number, bytes[3] as number, bytes[4] as number, bytes[5] as number, bytes[6] as number, bytes[7] as number, bytes[8] as number, bytes[9] as number, bytes[10] as number, 0x2e)
}
// The 12 bytes jtiTime decodes, reused from one call to the next.
const JTI_BYTES = new Uint8Array(12)

/** The 6 bits of a base64url character, or -1 for any other. */
function sextet(text: string, at: number): number {
  const code = text.charCodeAt(at)
  if (code >= 65 && code <= 90) return code - 65
  if (code >= 97 && code <= 122) return code - 71
  if (code >= 48 && code <= 57) return code + 4
  if (code === 45) return 62
  if (code === 95) return 63
  return -1
}
