/**
 * `oauthkit/store`: the `Store` interface, client registration and user management over it, secrets at rest, the
 * in-memory backend, and `StoreValidator`, a complete `RequestValidator` over any store. The SQLite and PostgreSQL
 * backends have their own entries (`oauthkit/store/sqlite`, `oauthkit/store/postgres`), so that their drivers load
 * only when used.
 *
 * @module
 */
export {
  Store,
  type ClientRecord,
  type ClientRegistration,
  type ClientTable,
  type CodeRecord,
  type CodeTable,
  type ConsentRecord,
  type ConsentTable,
  type InstallationSecretTable,
  type KeyTable,
  type RateLimitTable,
  type RateLimitWindow,
  type SessionRecord,
  type SessionTable,
  type SigningKeyRecord,
  type StoreBackend,
  type TokenEndpointAuthMethod,
  type TokenRecord,
  type TokenTable,
  type UserRecord,
  type UserTable,
} from './store.js'
export { CLIENT_GRANT_TYPES, Clients, type CreatedClient, type NewClient } from './clients.js'
export { normalizeUsername, Users, type NewUser } from './users.js'
export { checkUserClaims, parseClaimArgument } from './user-claims.js'
export { hashPassword, SCRYPT_PARAMETERS, tokenHash, verifySecret } from './secrets.js'
export { MemoryStore } from './memory/index.js'
export { StoreValidator, type StoreRegistrationPolicy, type StoreUser, type StoreValidatorOptions } from './validator.js'
