/**
 * One server under test, in its own process (the harness starts it pinned to the server core):
 * `node bench/child.mjs <module> <store> <scenario>`. It listens on a free loopback port and answers the harness over
 * IPC: `cpu` (process.cpuUsage, read before and after the measured window), `codes` (pre-issue authorization codes),
 * `jwks` (the public keys of JWT access tokens), `stop`.
 */
import { createServer } from 'node:http'

const [moduleName, store, scenario] = process.argv.slice(2)
const options = JSON.parse(process.env.BENCH_OPTIONS ?? '{}')

process.on('disconnect', () => process.exit(1))

const http = createServer()
await new Promise((resolve, reject) => {
  http.once('error', reject)
  http.listen(0, '127.0.0.1', resolve)
})
const { port } = http.address()
const { start } = await import(`./servers/${moduleName}.mjs`)
const server = await start({ scenario, store, port, ...options })
http.on('request', server.handler)

process.on('message', async (message) => {
  const reply = (value) => process.send({ id: message.id, value })
  try {
    switch (message.type) {
      case 'cpu':
        return reply(process.cpuUsage())
      case 'codes':
        if (server.issueCodes === undefined) throw new Error(`${moduleName} cannot pre-issue codes`)
        return reply(await server.issueCodes(message.count))
      case 'jwks':
        return reply(server.jwks?.() ?? null)
      case 'stop':
        http.close()
        http.closeAllConnections()
        await server.close?.()
        // The harness waits for the exit. Exiting normally lets --cpu-prof write its profile.
        return process.exit(0)
      default:
        throw new Error(`unknown message ${message.type}`)
    }
  } catch (error) {
    process.send({ id: message.id, error: error instanceof Error ? `${error.stack}` : String(error) })
  }
})

process.send({
  type: 'ready',
  port,
  clientId: server.clientId,
  clientSecret: server.clientSecret,
  paths: server.paths,
  fixed: server.fixed === true,
})
