/**
 * The ready server's log: one JSON line per entry on stdout, written in batches.
 *
 * @module
 */

/**
 * Lines for stdout, written once per turn of the event loop (or every 64 KiB) instead of once each: on Node a write to
 * stdout is a system call, made synchronously for a file or a pipe, and one per request cost more than most of the
 * request. Whatever is pending is written when the process exits and by `close`.
 */
export function stdoutLines(): { write(line: string): void; close(): void } {
  let pending = ''
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === '') return
    const chunk = pending
    pending = ''
    process.stdout.write(chunk)
  }
  if (!exitHooked) {
    exitHooked = true
    process.once('exit', () => pendingAtExit.forEach((flushOne) => flushOne()))
  }
  pendingAtExit.add(flush)
  return {
    write(line) {
      pending += `${line}\n`
      if (pending.length >= 65_536) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    close() {
      flush()
      pendingAtExit.delete(flush)
    },
  }
}
/** The flushes of the apps not closed yet, run by one `exit` listener. */
const pendingAtExit = new Set<() => void>()
let exitHooked = false

