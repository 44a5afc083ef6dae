/**
 * Which addresses a server may fetch from on a client's word, and DNS lookups pinned to the vetted ones (for the
 * client ID metadata document fetcher: every such fetch is a server-side request forgery attempt until shown
 * otherwise).
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'

/** One address a host name resolves to. */
export interface LookupAddress {
  readonly address: string
  readonly family: 4 | 6
}

/** Resolves a host name to every address it has, as `dns.promises.lookup(host, { all: true })` does. */
export type HostLookup = (hostname: string) => Promise<readonly LookupAddress[]>

/** What an address is, for the purpose of fetching from it. */
export type AddressKind = 'public' | 'loopback' | 'not-public'

/**
 * IPv4 space that is not public (RFC 6890 and the IANA special-purpose registry): this network, private, shared
 * (CGNAT), loopback, link-local, IETF protocol assignments, documentation, 6to4 relay, benchmarking, AS112 and AMT,
 * multicast, reserved and broadcast.
 */
const NOT_PUBLIC_V4 = subnets('ipv4', [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.31.196.0', 24],
  ['192.52.193.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['192.175.48.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
])
const LOOPBACK_V4 = subnets('ipv4', [['127.0.0.0', 8]])
/** Global unicast IPv6: everything outside it (::1, fc00::/7, fe80::/10, ff00::/8, 100::/64, …) is not public. */
const GLOBAL_V6 = subnets('ipv6', [['2000::', 3]])
/**
 * Within global unicast, space that is not public: IETF protocol assignments (Teredo, benchmarking, ORCHID among
 * them), documentation (2001:db8::/32, 3fff::/20) and 6to4 (2002::/16, which embeds IPv4 addresses).
 */
const NOT_PUBLIC_V6 = subnets('ipv6', [
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['3fff::', 20],
])

/**
 * Classifies an IP address: `loopback` (127.0.0.0/8, ::1, and ::ffff:127.0.0.0/104), `public`, or `not-public`
 * (anything else a server must not be made to call: private, link-local, CGNAT, unique local, multicast, reserved,
 * documentation, …). An IPv4-mapped IPv6 address (::ffff:0:0/96) and one of the NAT64 well-known prefix
 * (64:ff9b::/96) are classified by the IPv4 address they carry; a NAT64 one is never `loopback`. Anything that is not
 * an IP address is `not-public`.
 */
export function classifyAddress(address: string): AddressKind {
  const bare = address.split('%')[0] ?? ''
  const family = isIP(bare)
  if (family === 4) return classifyV4(bare)
  if (family !== 6) return 'not-public'
  const groups = ipv6Groups(bare)
  if (groups === undefined) return 'not-public'
  if (groups.every((group, i) => group === (i === 7 ? 1 : 0))) return 'loopback'
  const [high, low] = [groups[6] as number, groups[7] as number]
  const embedded = `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
  // ::ffff:a.b.c.d, which a dual-stack socket connects to as a.b.c.d.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) return classifyV4(embedded)
  // 64:ff9b::a.b.c.d (RFC 6052): a NAT64 gateway connects to a.b.c.d.
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) {
    return classifyV4(embedded) === 'public' ? 'public' : 'not-public'
  }
  return GLOBAL_V6.check(bare, 'ipv6') && !NOT_PUBLIC_V6.check(bare, 'ipv6') ? 'public' : 'not-public'
}

function classifyV4(address: string): AddressKind {
  if (LOOPBACK_V4.check(address, 'ipv4')) return 'loopback'
  return NOT_PUBLIC_V4.check(address, 'ipv4') ? 'not-public' : 'public'
}

/** The eight 16-bit groups of an IPv6 address (already checked by `isIP`), a trailing dotted quad included. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase()
  const tail: number[] = []
  const quad = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number]
    tail.push((a << 8) | b, (c << 8) | d)
    text = text.slice(0, quad.index)
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1)
  }
  const hex = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)))
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = hex(halves[0] ?? '')
  const rest = halves.length === 2 ? hex(halves[1] ?? '') : undefined
  const groups = rest === undefined ? [...head, ...tail] : [...head, ...new Array<number>(8 - head.length - rest.length - tail.length).fill(0), ...rest, ...tail]
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff) ? groups : undefined
}

function subnets(type: 'ipv4' | 'ipv6', list: readonly (readonly [string, number])[]): BlockList {
  const blocks = new BlockList()
  for (const [network, prefix] of list) blocks.addSubnet(network, prefix, type)
  return blocks
}

/** `dns.promises.lookup` with every address, in the resolver's order. */
export async function systemLookup(hostname: string): Promise<readonly LookupAddress[]> {
  const found = await dnsLookup(hostname, { all: true, verbatim: true })
  return found.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))
}

/** A socket lookup that answers the vetted addresses whatever it is asked. */
export function pinnedLookup(addresses: readonly LookupAddress[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const first = addresses[0] as LookupAddress
    if (options?.all === true) callback(null, addresses.map(({ address, family }) => ({ address, family })))
    else callback(null, first.address, first.family)
  }) as unknown as LookupFunction
}
