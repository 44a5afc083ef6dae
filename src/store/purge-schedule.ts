/**
 * When `StoreValidator.startPurging` purges: soon after start, then at a fixed interval, never two runs at once.
 *
 * @module
 * @internal
 */

/**
 * Runs `purge` after `firstAfterSeconds`, then every `everySeconds`; a run still going when the next is due makes that
 * one skip, so a slow purge never piles up behind itself. The timers do not keep the process alive.
 *
 * @returns a function that stops it
 */
export function schedulePurges(purge: () => Promise<unknown>, everySeconds: number, firstAfterSeconds: number): () => void {
  let running = false
  const run = () => {
    if (running) return
    running = true
    let pending: Promise<unknown>
    try {
      pending = purge()
    } catch (error) {
      pending = Promise.reject(error)
    }
    // `purge` reports its own errors; one that still escapes (a reporter that threw) has nowhere to go, and must not
    // end the process as an unhandled rejection, nor leave `running` set so that no purge ever runs again.
    pending.catch(() => undefined).finally(() => (running = false))
  }
  const first = setTimeout(run, firstAfterSeconds * 1000)
  const timer = setInterval(run, everySeconds * 1000)
  first.unref()
  timer.unref()
  return () => {
    clearTimeout(first)
    clearInterval(timer)
  }
}
