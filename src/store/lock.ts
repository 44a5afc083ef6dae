/**
 * A first-come, first-served lock for async work, shared by the stores: the memory store's transactions take turns
 * on one, and the SQLite store's writes and transactions on one per transaction level.
 *
 * @module
 * @internal
 */

/** First come, first served mutual exclusion for async work. */
export class Lock {
  private tail: Promise<unknown> = Promise.resolve()
  /** Critical sections queued or running. */
  private pending = 0

  /** Whether a critical section is running or waiting: a caller that finds it free may act at once. */
  get busy(): boolean {
    return this.pending > 0
  }

  /** Runs `critical` after everything queued before it has settled. */
  run<T>(critical: () => T | Promise<T>): Promise<T> {
    this.pending++
    const turn = this.tail.then(critical)
    this.tail = turn.then(this.done, this.done)
    return turn
  }

  /** Settles when everything queued so far has. */
  idle(): Promise<unknown> {
    return this.tail
  }

  private readonly done = (): void => {
    this.pending--
  }
}
