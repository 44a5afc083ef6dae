/**
 * TransactionStorage: the async context of the stores' transactions, enabled only while one runs.
 */
import { describe, expect, it } from 'vitest'
import { TransactionStorage } from '../../src/store/transaction-storage.js'

const turn = () => new Promise((resolve) => setImmediate(resolve))

describe('TransactionStorage', () => {
  it('gives each concurrent run its own value across awaits, and nothing outside', async () => {
    const storage = new TransactionStorage<string>()
    expect(storage.getStore()).toBeUndefined()
    const seen: string[] = []
    const work = (name: string) => async () => {
      await turn()
      seen.push(`${name}:${storage.getStore()}`)
      await turn()
      seen.push(`${name}:${storage.getStore()}`)
      return name
    }
    const results = await Promise.all([storage.run('a', work('a')), storage.run('b', work('b'))])
    expect(results).toEqual(['a', 'b'])
    expect(seen.sort()).toEqual(['a:a', 'a:a', 'b:b', 'b:b'])
    expect(storage.getStore()).toBeUndefined()
  })

  it("keeps a running transaction's value while another one ends", async () => {
    const storage = new TransactionStorage<string>()
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const long = storage.run('long', async () => {
      await gate
      return storage.getStore()
    })
    await storage.run('short', async () => {
      await turn()
    })
    release()
    expect(await long).toBe('long')
  })

  it('once the last run has ended, work it left behind sees no value; the next run has its own', async () => {
    const storage = new TransactionStorage<string>()
    let leftover!: Promise<string | undefined>
    await storage.run('first', async () => {
      leftover = (async () => {
        await turn()
        await turn()
        return storage.getStore()
      })()
    })
    expect(await leftover).toBeUndefined()
    expect(await storage.run('second', async () => storage.getStore())).toBe('second')
    expect(storage.getStore()).toBeUndefined()
  })

  it('ends its run when the work rejects', async () => {
    const storage = new TransactionStorage<string>()
    await expect(storage.run('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
    expect(storage.getStore()).toBeUndefined()
    expect(await storage.run('y', async () => storage.getStore())).toBe('y')
  })
})
