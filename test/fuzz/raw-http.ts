/**
 * A raw HTTP/1.1 client over node:net, for what `fetch` and `http.request` refuse to send: invalid UTF-8 bodies, odd
 * methods, malformed header lines, a `Content-Length` that lies, a body that never ends, requests pipelined on one
 * connection. It writes bytes as given and parses the answers itself (status line, headers, a body framed by
 * `Content-Length`, chunked, or by the end of the connection; 1xx interim answers skipped).
 */
import { connect } from 'node:net'

/** One answer of the server. */
export interface RawResponse {
  readonly status: number
  /** Header values by lower-case name, in the order received. */
  readonly headers: ReadonlyMap<string, readonly string[]>
  readonly body: Buffer
}

/** What came back on one connection. */
export interface RawExchange {
  /** The final (non-1xx) answers, in order. */
  readonly responses: readonly RawResponse[]
  /** How the exchange ended: every expected answer arrived, the server closed (or reset), or the client gave up. */
  readonly ending: 'answered' | 'closed' | 'timeout'
  /** The socket error, when the server reset the connection. */
  readonly error?: string | undefined
  /** What was wrong with bytes the server sent that are not an HTTP/1.1 response. */
  readonly malformed?: string | undefined
  /** Milliseconds from connecting to the ending. */
  readonly ms: number
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** How many final answers to wait for; for each, whether it answers a `HEAD` (no body however it is framed). */
  readonly heads: readonly boolean[]
  /** Half-close the connection (FIN) after writing: the client sends nothing more. */
  readonly halfClose?: boolean | undefined
  /** Give up after this many milliseconds. */
  readonly timeoutMs: number
}

/** Connects to 127.0.0.1:`port`, writes `bytes`, and collects the answers. Never rejects. */
export function exchange(port: number, bytes: Buffer, options: ExchangeOptions): Promise<RawExchange> {
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const responses: RawResponse[] = []
    let buffer = Buffer.alloc(0)
    let done = false
    let error: string | undefined
    let malformed: string | undefined
    const finish = (ending: RawExchange['ending']) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({ responses, ending, error, malformed, ms: performance.now() - started })
    }
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs)
    const parseAvailable = (closed: boolean) => {
      for (;;) {
        const head = options.heads[responses.length] ?? false
        let parsed
        try {
          parsed = parseResponse(buffer, head, closed)
        } catch (cause) {
          malformed = cause instanceof Error ? cause.message : String(cause)
          finish('closed')
          return
        }
        if (parsed === undefined) return
        buffer = buffer.subarray(parsed.consumed)
        if (parsed.response.status >= 200) responses.push(parsed.response)
        if (responses.length >= options.heads.length) {
          finish('answered')
          return
        }
      }
    }
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      parseAvailable(false)
    })
    socket.on('error', (cause: NodeJS.ErrnoException) => {
      error = cause.code ?? cause.message
    })
    socket.on('close', () => {
      parseAvailable(true)
      finish('closed')
    })
    socket.on('connect', () => {
      socket.write(bytes, () => {
        if (options.halfClose === true && !socket.destroyed) socket.end()
      })
    })
  })
}

/** Parses one response at the start of `buffer`; `undefined` when it is not complete yet. */
function parseResponse(buffer: Buffer, head: boolean, closed: boolean): { response: RawResponse; consumed: number } | undefined {
  const end = buffer.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n')
  const match = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '')
  if (match === null) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(lines[0])}`)
  const status = Number(match[1])
  const headers = new Map<string, string[]>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`malformed response header line: ${JSON.stringify(line)}`)
    const name = line.slice(0, colon).toLowerCase()
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()])
  }
  const bodyStart = end + 4
  const complete = (bodyLength: number) => ({ response: { status, headers, body: buffer.subarray(bodyStart, bodyStart + bodyLength) }, consumed: bodyStart + bodyLength })
  if (status < 200 || status === 204 || status === 304 || head) return complete(0)
  if (headers.get('transfer-encoding')?.some((value) => /chunked/i.test(value)) === true) {
    const chunks: Buffer[] = []
    let at = bodyStart
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at)
      if (lineEnd < 0) return undefined
      const size = Number.parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16)
      if (!Number.isSafeInteger(size)) throw new Error('malformed chunk size in a response')
      if (size === 0) {
        // No trailers from node:http: the last chunk is followed by an empty line.
        if (buffer.length < lineEnd + 4) return undefined
        return { response: { status, headers, body: Buffer.concat(chunks) }, consumed: lineEnd + 4 }
      }
      if (buffer.length < lineEnd + 2 + size + 2) return undefined
      chunks.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size))
      at = lineEnd + 2 + size + 2
    }
  }
  const length = headers.get('content-length')?.[0]
  if (length !== undefined) {
    const size = Number(length)
    return buffer.length >= bodyStart + size ? complete(size) : undefined
  }
  // Neither: the body ends with the connection.
  return closed ? complete(buffer.length - bodyStart) : undefined
}
