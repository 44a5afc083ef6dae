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
 * @throws TypeError when `everySeconds` is not a positive number, or `firstAfterSeconds` not a number from 0
 */
export function schedulePurges(purge: () => Promise<unknown>, everySeconds: number, firstAfterSeconds: number): () => void {
  if (!(everySeconds > 0) || !Number.isFinite(everySeconds)) throw new TypeError('The purge interval must be a positive number of seconds')
  if (!(firstAfterSeconds >= 0) || !Number.isFinite(firstAfterSeconds)) throw new TypeError('The first purge must be a number of seconds from now')
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
  const first = setTimeout(run, timerDelay(firstAfterSeconds))
  const timer = setInterval(run, timerDelay(everySeconds))
  first.unref()
  timer.unref()
  return () => {
    clearTimeout(first)
    clearInterval(timer)
  }
}

/**
 * The most milliseconds a Node timer waits (2^31 - 1, about 24.8 days): a longer delay makes it fire after 1 ms, so
 * a long interval would purge without pause. Purging more often than asked is harmless; this is as rare as it gets.
 */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1

function timerDelay(seconds: number): number {
  return Math.min(seconds * 1000, MAX_TIMER_DELAY_MS)
}
