/** The memory store's former path, for the CLI and the tests that import it from here; it is exported by `oauthkit/store`. @module @internal */
export * from './memory/index.js'
