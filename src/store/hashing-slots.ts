/**
 * A bound on the password hashes running at once in this process. scrypt is slow and memory-hard on purpose (32 MiB
 * and tens of milliseconds of a thread-pool thread per hash), so a flood of sign-ins or password-grant requests
 * could otherwise fill Node's thread pool and memory and starve every other request, token requests included.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6819#section-4.4.3.6 | RFC 6819 §4.4.3.6} (online guessing)
 * @module
 * @internal
 */
import { TemporarilyUnavailableError } from '../core/errors.js'

/** Runs at most `running` jobs at once; up to `waiting` more wait in line; past that, refuses at once. */
export class HashingSlots {
  private active = 0
  private readonly queue: Array<() => void> = []

  constructor(
    private readonly running: number,
    private readonly waiting: number,
  ) {}

  /**
   * Runs `job` in a slot, after those ahead of it.
   *
   * @throws {@link TemporarilyUnavailableError} (503, `Retry-After: 1`) when every slot is taken and the line is full
   */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.running) {
      if (this.queue.length >= this.waiting) {
        throw new TemporarilyUnavailableError('Too many sign-ins are being checked at once; retry in a moment', { headers: { 'Retry-After': '1' } })
      }
      await new Promise<void>((resolve) => this.queue.push(resolve))
    } else this.active++
    try {
      return await job()
    } finally {
      // The slot passes to the first in line, or is freed.
      const next = this.queue.shift()
      if (next === undefined) this.active--
      else next()
    }
  }
}

/**
 * The process's password hashing: four at once (a thread-pool's worth, 128 MiB at the default cost), 64 more waiting
 * at most (a few hundred milliseconds of work), the rest refused with 503.
 */
export const PASSWORD_HASHING = new HashingSlots(4, 64)
