/**
 * `Lock`, the first-come, first-served lock the memory and SQLite stores take turns on.
 */
import { describe, expect, it } from 'vitest'
import { Lock } from '../../src/store/lock.js'

describe('Lock', () => {
  it('runs critical sections one at a time, in the order they asked, even when one fails', async () => {
    const lock = new Lock()
    const events: string[] = []
    const section = (name: string, ms: number, fail = false) =>
      lock.run(async () => {
        events.push(`${name} begins`)
        await new Promise((resolve) => setTimeout(resolve, ms))
        events.push(`${name} ends`)
        if (fail) throw new Error(`${name} failed`)
        return name
      })
    const results = await Promise.allSettled([section('a', 10), section('b', 1, true), section('c', 1)])
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : String(result.reason)))).toEqual(['a', 'Error: b failed', 'c'])
    expect(events).toEqual(['a begins', 'a ends', 'b begins', 'b ends', 'c begins', 'c ends'])
  })

  it('is busy while a section runs or waits, idle settles after them, and free again afterwards', async () => {
    const lock = new Lock()
    expect(lock.busy).toBe(false)
    let released = false
    void lock.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      released = true
    })
    expect(lock.busy).toBe(true)
    await lock.idle()
    expect(released).toBe(true)
    expect(lock.busy).toBe(false)
  })
})
