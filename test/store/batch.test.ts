/**
 * `TurnBatch`, the one batching primitive of the stores: the calls of a turn meet in one batch, nobody is answered
 * before the batch is committed, a failure stays with its call, and batches are bounded.
 */
import { describe, expect, it } from 'vitest'
import { CallFailure, TurnBatch, type TurnBatchOptions } from '../../src/store/batch.js'

/** A batch whose `run` records each batch's inputs and "commits" them after a timer, answering each input doubled. */
function recording(options: Partial<TurnBatchOptions<number, number>> = {}) {
  const batches: number[][] = []
  const committed = new Set<number>()
  const batch = new TurnBatch<number, number>({
    run: async (inputs) => {
      batches.push([...inputs])
      await new Promise((resolve) => setTimeout(resolve, 5))
      for (const input of inputs) committed.add(input)
      return inputs.map((input) => input * 2)
    },
    maxWeight: 100,
    closedError: () => new Error('closed'),
    ...options,
  })
  return { batch, batches, committed }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

describe('TurnBatch', () => {
  it('runs the calls of one turn as one batch, in the order they were made, and the next turn as another', async () => {
    const { batch, batches } = recording()
    const first = [1, 2, 3].map((input) => batch.add(input))
    // Calls made by promise jobs of the same turn join too.
    const joined = Promise.resolve().then(() => batch.add(4))
    expect(await Promise.all([...first, joined])).toEqual([2, 4, 6, 8])
    await nextTurn()
    expect(await batch.add(5)).toBe(10)
    expect(batches).toEqual([[1, 2, 3, 4], [5]])
  })

  it('answers no caller before its batch is committed', async () => {
    const { batch, committed } = recording()
    const seen: boolean[] = []
    await Promise.all([1, 2, 3].map((input) => batch.add(input).then(() => seen.push(committed.has(input)))))
    expect(seen).toEqual([true, true, true])
  })

  it('settles the callers of a batch in the order of their calls', async () => {
    const { batch } = recording()
    const order: number[] = []
    await Promise.all([3, 1, 2].map((input) => batch.add(input).then(() => order.push(input))))
    expect(order).toEqual([3, 1, 2])
  })

  it('rejects a call that failed alone, and answers the others of its batch', async () => {
    const batch = new TurnBatch<number, number>({
      run: async (inputs) => inputs.map((input) => (input === 2 ? new CallFailure(new Error('two failed')) : input)),
      maxWeight: 100,
      closedError: () => new Error('closed'),
    })
    const results = await Promise.allSettled([1, 2, 3].map((input) => batch.add(input)))
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: new Error('two failed') },
      { status: 'fulfilled', value: 3 },
    ])
  })

  it('rejects every call of a batch that failed whole, unless told to isolate the failure', async () => {
    const runs: number[][] = []
    const run = async (inputs: readonly number[]) => {
      runs.push([...inputs])
      if (inputs.includes(2)) throw new Error(inputs.length === 1 ? 'two is refused' : 'the batch failed')
      return inputs
    }
    const whole = new TurnBatch<number, number>({ run, maxWeight: 100, closedError: () => new Error('closed') })
    const wholeResults = await Promise.allSettled([1, 2, 3].map((input) => whole.add(input)))
    expect(wholeResults.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(runs).toEqual([[1, 2, 3]])

    runs.length = 0
    const isolated = new TurnBatch<number, number>({ run, maxWeight: 100, isolate: (error) => String(error).includes('batch'), closedError: () => new Error('closed') })
    const results = await Promise.allSettled([1, 2, 3].map((input) => isolated.add(input)))
    expect(results).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'rejected', reason: new Error('two is refused') },
      { status: 'fulfilled', value: 3 },
    ])
    expect(runs).toEqual([[1, 2, 3], [1], [2], [3]])
  })

  it('runs a batch at once when it reaches its weight, and a call heavier than a batch alone', async () => {
    const { batch, batches } = recording({ maxWeight: 4 })
    const calls = [batch.add(1), batch.add(2), batch.add(3, 2)]
    // The third call filled the batch: it runs in this turn, before any setImmediate.
    expect(batches).toEqual([[1, 2, 3]])
    calls.push(batch.add(4, 3), batch.add(5, 9), batch.add(6))
    await Promise.all(calls)
    expect(batches).toEqual([[1, 2, 3], [4], [5], [6]])
    expect(batches.every((inputs) => inputs.length <= 4)).toBe(true)
  })

  it('close runs the calls still waiting, waits for them, and refuses later ones', async () => {
    const { batch, committed } = recording()
    const pending = [batch.add(1), batch.add(2)]
    await batch.close()
    expect([...committed]).toEqual([1, 2])
    expect(await Promise.all(pending)).toEqual([2, 4])
    await expect(batch.add(3)).rejects.toThrow('closed')
  })
})
