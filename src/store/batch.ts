/**
 * The one way the stores batch: calls made in one turn of the event loop are collected, run together as one batch
 * (one statement, one `COMMIT`), and each caller's promise is settled with its own outcome once the batch is done.
 *
 * The PostgreSQL store coalesces its token inserts and its client and token reads this way (one multi-row `INSERT`,
 * one `SELECT … = ANY($1)`); the SQLite store commits the token inserts and the transactions of a turn under one
 * `COMMIT`. What a batch costs (a round trip, SQLite's per-commit work) is then shared by the requests of a turn.
 *
 * @module
 * @internal
 */

/**
 * What a batch's `run` puts in place of a call's output when that call alone failed: its promise rejects with
 * `error`, and the other calls of the batch settle with their own outputs.
 */
export class CallFailure {
  constructor(readonly error: unknown) {}
}

/** How a {@link TurnBatch} runs its batches. */
export interface TurnBatchOptions<I, O> {
  /**
   * Runs one batch: the inputs of its calls, in the order they were added. Resolves, once what the batch wrote is
   * committed, with one output per input, in the same order, or a {@link CallFailure} for a call that failed alone.
   * Rejects when the batch failed as a whole.
   */
  readonly run: (inputs: readonly I[]) => Promise<readonly (O | CallFailure)[]>
  /** The most a batch weighs (e.g. rows); a batch that reaches it is run at once, and more calls wait for the next. */
  readonly maxWeight: number
  /**
   * Whether a batch that failed as a whole with `error` is run again call by call, so that the failure stays with the
   * calls that cause it (a duplicate key, a missing client). Not given: every call of the batch fails with `error`.
   */
  readonly isolate?: ((error: unknown) => boolean) | undefined
  /** What a call added after {@link TurnBatch.close} rejects with. */
  readonly closedError: () => Error
}

/** A call waiting in a batch: its input, and how to settle its promise. */
interface Waiting<I, O> {
  readonly input: I
  readonly resolve: (output: O) => void
  readonly reject: (error: unknown) => void
}

/**
 * Collects the calls of one turn of the event loop and runs them as one batch.
 *
 * - A batch is run by a `setImmediate` queued with its first call, after every callback and promise job of the turn
 *   that added it, so the calls of the requests read in one turn meet in one batch. A batch that reaches `maxWeight`
 *   runs at once; a call heavier than a whole batch runs alone.
 * - A caller's promise settles only after `run` resolved, that is after the batch is committed: nothing is answered
 *   before it is saved.
 * - The calls of a batch settle in the order they were added, and batches start in the order they were made; `run`
 *   decides whether batches may overlap (the SQLite store runs them under its write lock, one after another).
 * - A call that fails alone rejects alone. A batch that fails whole rejects all its calls, unless `isolate` says to
 *   run them again one by one.
 */
export class TurnBatch<I, O> {
  private queue: Waiting<I, O>[] = []
  private weight = 0
  private scheduled: NodeJS.Immediate | undefined
  /** Batches started and not yet settled, for `close` to wait for. */
  private readonly inFlight = new Set<Promise<void>>()
  private closed = false

  constructor(private readonly options: TurnBatchOptions<I, O>) {}

  /** Queues a call weighing `weight`; its promise settles once its batch is done. */
  add(input: I, weight = 1): Promise<O> {
    if (this.closed) return Promise.reject(this.options.closedError())
    if (this.weight > 0 && this.weight + weight > this.options.maxWeight) this.flush()
    const output = new Promise<O>((resolve, reject) => this.queue.push({ input, resolve, reject }))
    this.weight += weight
    if (this.weight >= this.options.maxWeight) this.flush()
    else this.scheduled ??= setImmediate(this.flush)
    return output
  }

  /** Runs what is queued now, refuses later calls, and settles when every batch started has settled. */
  async close(): Promise<void> {
    this.closed = true
    this.flush()
    await Promise.all(this.inFlight)
  }

  /** Starts the batch queued so far, if any. */
  private readonly flush = (): void => {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled)
    this.scheduled = undefined
    const batch = this.queue
    if (batch.length === 0) return
    this.queue = []
    this.weight = 0
    const sent = this.send(batch)
    this.inFlight.add(sent)
    void sent.then(() => this.inFlight.delete(sent))
  }

  /** Runs `batch` and settles each of its calls; never rejects. */
  private async send(batch: readonly Waiting<I, O>[]): Promise<void> {
    let outputs: readonly (O | CallFailure)[]
    try {
      outputs = await this.options.run(batch.map((call) => call.input))
    } catch (error) {
      if (batch.length === 1 || this.options.isolate?.(error) !== true) {
        for (const call of batch) call.reject(error)
        return
      }
      await Promise.all(batch.map((call) => this.send([call])))
      return
    }
    batch.forEach((call, i) => {
      const output = outputs[i] as O | CallFailure
      if (output instanceof CallFailure) call.reject(output.error)
      else call.resolve(output)
    })
  }
}
