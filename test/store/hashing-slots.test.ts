/**
 * The process-wide bound on password hashes (issue 16, item 1): a flood of sign-ins runs at most a few scrypt
 * computations at once, queues a bounded number, and refuses the rest at once with 503 and Retry-After, so that it
 * cannot starve token requests of the thread pool and memory.
 */
import { describe, expect, it } from 'vitest'
import { TemporarilyUnavailableError } from '../../src/core/errors.js'
import { HashingSlots, PASSWORD_HASHING } from '../../src/store/hashing-slots.js'
import { hashPassword, verifySecret } from '../../src/store/secrets.js'

/** A job that runs until released, recording how many run at once. */
function gate() {
  let running = 0
  let most = 0
  const releases: Array<() => void> = []
  const job = async () => {
    running++
    most = Math.max(most, running)
    await new Promise<void>((resolve) => releases.push(resolve))
    running--
    return 'done'
  }
  return { job, releases, most: () => most, running: () => running }
}

describe('HashingSlots', () => {
  it('runs at most its bound at once, queues the next ones in order, and refuses past the queue with 503 and Retry-After', async () => {
    const slots = new HashingSlots(2, 3)
    const { job, releases, most } = gate()
    const admitted = Array.from({ length: 5 }, () => slots.run(job))
    await expect(slots.run(job)).rejects.toSatisfy(
      (error: unknown) => error instanceof TemporarilyUnavailableError && error.status === 503 && error.headers['Retry-After'] === '1',
    )
    await new Promise((resolve) => setImmediate(resolve))
    expect(releases).toHaveLength(2)
    while (releases.length > 0) {
      releases.shift()?.()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await Promise.all(admitted)).toEqual(['done', 'done', 'done', 'done', 'done'])
    expect(most()).toBe(2)
    // Freed again: the next job runs at once.
    const next = slots.run(async () => 'again')
    expect(await next).toBe('again')
  })

  it('frees the slot of a job that fails', async () => {
    const slots = new HashingSlots(1, 0)
    await expect(slots.run(async () => Promise.reject(new Error('scrypt failed')))).rejects.toThrow('scrypt failed')
    expect(await slots.run(async () => 'ok')).toBe('ok')
  })

  it('bounds the store’s own password hashing: a burst of verifications never runs more than four scrypt at once', async () => {
    const stored = await hashPassword('correct horse')
    const original = PASSWORD_HASHING.run.bind(PASSWORD_HASHING)
    let running = 0
    let most = 0
    PASSWORD_HASHING.run = async (job) =>
      original(async () => {
        running++
        most = Math.max(most, running)
        try {
          return await job()
        } finally {
          running--
        }
      })
    try {
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => verifySecret(i === 0 ? 'correct horse' : `guess-${i}`, stored)))
      expect(results.every((result) => result.status === 'fulfilled')).toBe(true)
      expect(most).toBeLessThanOrEqual(4)
      expect(most).toBeGreaterThan(1)
    } finally {
      PASSWORD_HASHING.run = original
    }
  })
})
