/**
 * The parts of a node:http request every translation of the node adapter reads: the absolute URL (from the
 * connection, or from a trusted proxy's headers), the headers as received, and the client's address.
 *
 * @module
 * @internal
 */
import { type IncomingMessage } from 'node:http'
import { HttpError } from './router.js'

/** Methods whose body, if any, is not read. */
export const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD'])

/**
 * The request's headers as received, as name/value pairs; HTTP/2 pseudo-headers (RFC 9113 §8.3) left out: they are
 * not fields, and their meaning is in the URL and method already.
 */
export function headerPairs(raw: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = []
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string
    if (!name.startsWith(':')) pairs.push([name, raw[i + 1] as string])
  }
  return pairs
}

/**
 * The client's address: the connection's, or behind a trusted proxy the last `X-Forwarded-For` entry (the one the
 * proxy appended; earlier ones are the client's to forge).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  const forwarded = trustProxy ? req.headers['x-forwarded-for']?.toString().split(',').at(-1)?.trim() : undefined
  return forwarded === undefined || forwarded === '' ? req.socket.remoteAddress : forwarded
}

/**
 * The absolute request URL: scheme (`https` on TLS, or the proxy's), `Host` (or `:authority` on HTTP/2, or the
 * proxy's) and the origin-form target, concatenated, never resolved, so `//evil.example` stays a path.
 *
 * @throws {@link HttpError} (400) when the host or the target is missing or malformed
 */
export function requestUrl(req: IncomingMessage, target: string | undefined, trustProxy: boolean): URL {
  const encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true
  let protocol = encrypted ? 'https' : 'http'
  let host = req.headers.host ?? headerValue(req.headers[':authority'])
  if (trustProxy) {
    const forwardedProto = firstForwarded(req.headers['x-forwarded-proto'])?.toLowerCase()
    if (forwardedProto === 'http' || forwardedProto === 'https') protocol = forwardedProto
    host = firstForwarded(req.headers['x-forwarded-host']) ?? host
  }
  // RFC 9110 §7.2: a host and an optional port, nothing that could change the URL's structure.
  if (host === undefined || !/^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host)) {
    throw new HttpError(400, 'The Host header is missing or malformed')
  }
  // Origin-form only (RFC 9112 §3.2.1).
  if (target === undefined || !target.startsWith('/')) throw new HttpError(400, 'The request target must be an absolute path')
  try {
    return new URL(`${protocol}://${host}${target}`)
  } catch (cause) {
    // A port past 65535, a malformed IPv4 address.
    throw new HttpError(400, 'The request target is malformed', { cause })
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function firstForwarded(value: string | string[] | undefined): string | undefined {
  const first = headerValue(value)?.split(',', 1)[0]?.trim()
  return first === '' ? undefined : first
}

/** The UTF-8 length of a body in bytes. */
export function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? new TextEncoder().encode(body).byteLength : body.byteLength
}
