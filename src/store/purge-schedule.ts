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
    void purge().finally(() => (running = false))
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
