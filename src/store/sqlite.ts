/** The SQLite store's former path, for the CLI and the tests that import it from here; its entry is `sqlite/index.ts`. @module @internal */
export * from './sqlite/index.js'
