/**
 * StoreValidator over the memory store. The SQLite and PostgreSQL runs of the same suite live with those backends'
 * tests, which know how to open them.
 */
import { MemoryStore } from '../../src/store/index.js'
import { describeStoreValidator } from './validator-suite.js'

describeStoreValidator('memory', async () => {
  const store = await MemoryStore.open()
  return { store, cleanup: () => store.close() }
})
