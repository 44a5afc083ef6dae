/** The memory store, exported by `oauthkit/store`. @module @internal */
export { MemoryStore } from './store.js'
