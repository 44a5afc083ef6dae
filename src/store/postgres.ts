/** The PostgreSQL store's former path, for the CLI and the tests that import it from here; its entry is `postgres/index.ts`. @module @internal */
export * from './postgres/index.js'
