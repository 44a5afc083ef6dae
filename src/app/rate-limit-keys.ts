/**
 * The keys of the ready server's rate-limit counters: HMACs of usernames, addresses and client_ids under the
 * installation's secret, and how an address is bucketed (IPv6 per /64).
 *
 * @module
 */
import { createHmac } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { normalizeUsername } from '../store/users.js'

// Keys. Values are keyed-hashed: keys stay short whatever a client sends, and the store never holds a username (nor a
// password typed into the username field) in clear, nor a digest that a dictionary of names would reverse.

/**
 * The counters' keys: HMAC-SHA-256 of the value under the installation's secret, base64url. Without the secret (kept
 * in the store, not in the keys' table), a key cannot be tested against a guessed username or address.
 */
export class RateLimitKeys {
  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 32) throw new TypeError('The rate-limit key secret must be at least 32 bytes')
  }

  /** Shared by the login page and the password grant. */
  username(username: string): string {
    // The account's own name: "Alice" and "ａｌｉｃｅ" count on one counter, as they sign in to one account.
    return `login:user:${this.mac(`user:${normalizeUsername(username)}`)}`
  }

  loginAddress(address: string): string {
    return `login:addr:${this.mac(`addr:${addressBucket(address)}`)}`
  }

  tokenAddress(address: string): string {
    return `token:addr:${this.mac(`addr:${addressBucket(address)}`)}`
  }

  registrationAddress(address: string): string {
    return `register:addr:${this.mac(`addr:${addressBucket(address)}`)}`
  }

  client(clientId: string): string {
    return `token:client:${this.mac(`client:${clientId}`)}`
  }

  private mac(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('base64url')
  }
}

/**
 * What an address counts as: an IPv4 address (an IPv4-mapped IPv6 one included) as itself, an IPv6 address as its
 * /64 prefix, anything else as it is.
 */
export function addressBucket(address: string): string {
  let value = address.trim().toLowerCase()
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1)
  const zone = value.indexOf('%')
  if (zone >= 0) value = value.slice(0, zone)
  if (isIPv4(value)) return value
  if (!isIPv6(value)) return value
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(value)
  if (mapped !== null) return mapped[1] as string
  return `${ipv6Groups(value).slice(0, 4).join(':')}::/64`
}

/** The eight groups of a valid IPv6 address, without leading zeros; an IPv4 tail counts as two groups. */
function ipv6Groups(address: string): string[] {
  let text = address
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (tail !== null) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', rest] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups = rest === undefined ? left : [...left, ...Array.from({ length: 8 - left.length - right.length }, () => '0'), ...right]
  return groups.map((group) => parseInt(group, 16).toString(16))
}
