/**
 * The async context the stores find their running transaction in, enabled only while a transaction runs.
 *
 * On Node 20, an `AsyncLocalStorage` that has run once makes Node run promise hooks for every promise of the process
 * from then on, transactions or not: one code redemption at start-up (or the ready server's signing-key set-up) and
 * every later request pays for them. This storage disables itself when its last transaction ends, which turns the
 * hooks off again (unless the application uses an `AsyncLocalStorage` of its own), and the next transaction enables
 * it.
 *
 * @module
 * @internal
 */
import { AsyncLocalStorage } from 'node:async_hooks'

/** An `AsyncLocalStorage` for transactions that is enabled only while one runs. */
export class TransactionStorage<T> {
  private readonly storage = new AsyncLocalStorage<T>()
  private running = 0

  /**
   * The value of the transaction whose async context the caller is in; `undefined` outside every transaction. A call
   * left over from a transaction that ended may still see that transaction's value: the stores check it is running.
   */
  getStore(): T | undefined {
    return this.running === 0 ? undefined : this.storage.getStore()
  }

  /** Runs `work` with `value` as its context's store, and disables the storage when no transaction runs any more. */
  async run<R>(value: T, work: () => Promise<R>): Promise<R> {
    this.running++
    try {
      return await this.storage.run(value, work)
    } finally {
      if (--this.running === 0) this.storage.disable()
    }
  }
}
