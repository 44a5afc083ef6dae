/** The memory store, exported by `oauthkit/store`. @module @internal */
export { MemoryStore } from './store.js'
export { MemoryStoreFullError, DEFAULT_MAX_TOKENS } from './database.js'
export { type MemoryStoreOptions } from './store.js'
