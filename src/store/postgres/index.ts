/**
 * `oauthkit/store/postgres`: a {@link Store} on PostgreSQL through a `pg` pool, the backend for many instances of an
 * authorization server behind a load balancer.
 *
 * Every instance may open the same database at once: schema migrations are versioned (table `schema_migrations`) and
 * applied on open, in one transaction under an advisory lock. The atomic steps of the protocol are single
 * conditional `UPDATE`s, so of any number of concurrent redemptions of a code, on any number of instances, exactly one
 * wins. Only digests of tokens, codes and secrets are stored (see `secrets.ts`); the exception is the private signing
 * keys of JWT access tokens (table `signing_keys`), stored in clear, so protect the database like the keys themselves.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'oauthkit/store/postgres'
 *
 * const store = await PostgresStore.open(process.env.DATABASE_URL!, { schema: 'oauth' })
 * ```
 *
 * @module
 */
export { PostgresStore, type PostgresStoreOptions } from './store.js'
