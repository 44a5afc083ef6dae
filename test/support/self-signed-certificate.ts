/**
 * A self-signed TLS certificate made in the test, for https servers on loopback (client ID metadata documents must be
 * https): an ECDSA P-256 key and an X.509 v3 certificate for the names and addresses given, DER written by hand with
 * node:crypto signing it. No fixture key in the repository, no openssl on the machine.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'

/** A certificate and its key, in PEM: `cert` for the server and for the client's `ca`. */
export interface SelfSignedCertificate {
  readonly cert: string
  readonly key: string
}

/** Makes a certificate for `names` (DNS names) and `addresses` (IPv4 or IPv6 literals), valid from an hour ago for a day. */
export function selfSignedCertificate(names: readonly string[], addresses: readonly string[] = []): SelfSignedCertificate {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const algorithm = seq(oid('1.2.840.10045.4.3.2')) // ecdsa-with-SHA256
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(names[0] ?? addresses[0] ?? 'test', 'utf8'))))) // CN
  const now = Date.now()
  const subjectAltNames = seq(...names.map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))), ...addresses.map((ip) => tlv(0x87, ipBytes(ip))))
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, seq(tlv(0x01, Buffer.from([0xff]))))), // basicConstraints CA:TRUE
      seq(oid('2.5.29.17'), tlv(0x04, subjectAltNames)), // subjectAltName
    ),
  )
  const serial = randomBytes(16)
  serial[0] = (serial[0] as number) & 0x7f
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    algorithm,
    name,
    seq(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    extensions,
  )
  const signature = sign('sha256', tbs, privateKey)
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n')
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  }
}

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length
  const header =
    length < 0x80 ? Buffer.from([tag, length]) : length < 0x100 ? Buffer.from([tag, 0x81, length]) : Buffer.from([tag, 0x82, length >> 8, length & 0xff])
  return Buffer.concat([header, content])
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items))
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items))
}

function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number)
  const bytes = [first * 40 + second]
  for (const arc of rest) {
    const digits = [arc & 0x7f]
    for (let value = arc >> 7; value > 0; value >>= 7) digits.unshift((value & 0x7f) | 0x80)
    bytes.push(...digits)
  }
  return tlv(0x06, Buffer.from(bytes))
}

function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'
  return tlv(0x17, Buffer.from(text, 'ascii'))
}

function ipBytes(ip: string): Buffer {
  if (ip.includes('.')) return Buffer.from(ip.split('.').map(Number))
  const [head = '', tail = ''] = ip.split('::')
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)))
  const left = groups(head)
  const right = groups(tail)
  const all = ip.includes('::') ? [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right] : left
  return Buffer.from(all.flatMap((group) => [group >> 8, group & 0xff]))
}
