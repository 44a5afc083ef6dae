/**
 * `SqliteStore`: the embedded default store, one SQLite file through `better-sqlite3` (the `oauthkit/store/sqlite`
 * entry).
 *
 * One process owns the file. It writes through one connection, in WAL mode, and reads committed data through a
 * second one, so a read never waits for a write and never sees another request's unfinished transaction. Other
 * processes (an admin CLI, a backup) may open the file too; SQLite's locks keep them consistent.
 *
 * @module
 */
export { SqliteStore, type SqliteStoreOptions } from './store.js'
