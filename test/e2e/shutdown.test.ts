/**
 * `oauthkit serve` ends in bounded time on SIGTERM (issue 21): requests in flight are answered, connections stalled
 * mid-headers or mid-body are cut after the grace period, and a second signal exits at once.
 */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { addClient, startServer, tempDir, type RunningServer } from './support.js'

const TIMEOUT = 60_000

/** A raw connection to the server, with everything it received and whether the server closed it. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let received = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('error', () => undefined)
  return { socket, received: () => received, closed }
}

describe('oauthkit serve: shutdown', () => {
  let server: RunningServer | undefined
  let remove: (() => Promise<void>) | undefined

  afterEach(async () => {
    await server?.stop()
    server = undefined
    await remove?.()
  })

  async function start(args: readonly string[]): Promise<{ url: string; basic: string }> {
    const dir = await tempDir('shutdown')
    remove = dir.remove
    const db = `sqlite:${dir.path}/oauthkit.db`
    const client = await addClient(db, { name: 'machine', grantTypes: ['client_credentials'], scope: 'read' })
    server = await startServer(db, args)
    return { url: server.url, basic: Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64') }
  }

  it('answers a request completed during the grace period, cuts stalled ones after it, and exits 0 within it', async () => {
    const { url, basic } = await start(['--shutdown-grace', '2'])
    const host = new URL(url).host
    const body = 'grant_type=client_credentials&scope=read'
    // Stalled mid-headers, and mid-body: neither will ever finish.
    const midHeaders = await rawConnection(url)
    midHeaders.socket.write(`POST /token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-`)
    const midBody = await rawConnection(url)
    midBody.socket.write(`POST /token HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Basic ${basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length + 10}\r\n\r\n${body}`)
    // In flight at the signal: its body ends during the grace period.
    const inFlight = await rawConnection(url)
    inFlight.socket.write(`POST /token HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Basic ${basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)
    // An idle keep-alive connection.
    const idle = await rawConnection(url)
    idle.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
    await expect.poll(() => idle.received()).toMatch(/^HTTP\/1\.1 200/)
    await new Promise((resolve) => setTimeout(resolve, 100))

    const signalled = Date.now()
    // Twice, as npm passes on the SIGTERM a process manager also sends to the group: still a graceful stop.
    server!.signal('SIGTERM')
    await server!.waitForOutput(/shutting down/)
    server!.signal('SIGTERM')
    await idle.closed
    inFlight.socket.write(body.slice(10))
    await expect.poll(() => inFlight.received()).toMatch(/\r\n\r\n\{/)
    expect(inFlight.received()).toMatch(/^HTTP\/1\.1 200 /)
    expect(inFlight.received()).toMatch(/^Connection: close\r$/im)
    expect(inFlight.received()).toContain('"access_token"')

    const exit = await server!.exited()
    const took = Date.now() - signalled
    server = undefined
    await Promise.all([midHeaders.closed, midBody.closed])
    expect(took).toBeGreaterThanOrEqual(1_900)
    expect(took).toBeLessThan(2_000 + 2_000)
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null })
    expect(exit.stdout).toContain('oauthkit: shutting down')
    expect(exit.stderr).toBe('')
  }, TIMEOUT)

  it('exits at once, with status 1, on a second signal a second or more after the first', async () => {
    const { url } = await start(['--shutdown-grace', '30'])
    const stalled = await rawConnection(url)
    stalled.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${new URL(url).host}\r\n`)
    server!.signal('SIGTERM')
    await server!.waitForOutput(/shutting down/)
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    const again = Date.now()
    server!.signal('SIGINT')
    const exit = await server!.exited()
    server = undefined
    expect(Date.now() - again).toBeLessThan(2_000)
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 1, signal: null })
    expect(exit.stderr).toContain('second signal')
    await stalled.closed
  }, TIMEOUT)
})
