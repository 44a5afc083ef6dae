/**
 * Preloaded into the server under load (`node --expose-gc --import load/memory-probe.mjs dist/bin.js serve …`): when
 * the process was started with an IPC channel, it answers `{ type: 'memory' }` with `process.memoryUsage()` taken
 * after a full garbage collection. The server itself is untouched and publishes nothing: without the channel (any
 * other start) this module does nothing, and the channel does not keep the process alive.
 */
if (process.send !== undefined) {
  process.on('message', (message) => {
    if (message?.type !== 'memory') return
    // Twice: the first collection may leave objects that only the second finds unreachable (weak references).
    globalThis.gc?.()
    globalThis.gc?.()
    process.send({ type: 'memory', collected: typeof globalThis.gc === 'function', usage: process.memoryUsage() })
  })
  process.channel?.unref()
}
