/**
 * `oauthkit/store`: the `Store` interface, client registration and user management over it, secrets at rest, the
 * in-memory backend, `StoreValidator`, a complete `RequestValidator` over any store, and the safe fetcher of client ID
 * metadata documents it uses. The SQLite and PostgreSQL backends have their own entries (`oauthkit/store/sqlite`,
 * `oauthkit/store/postgres`), so that their drivers load only when used.
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
  type InitialAccessTokenRecord,
  type InitialAccessTokenTable,
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
export { InitialAccessTokens, type CreatedInitialAccessToken, type NewInitialAccessToken } from './initial-access-tokens.js'
export { normalizeUsername, Users, type NewUser } from './users.js'
export { checkUserClaims, parseClaimArgument } from './user-claims.js'
export { hashPassword, SCRYPT_PARAMETERS, tokenHash, verifySecret } from './secrets.js'
export { DEFAULT_MAX_TOKENS, MemoryStore, MemoryStoreFullError, type MemoryStoreOptions } from './memory/index.js'
export {
  StoreValidator,
  type StoreClientMetadataDocumentsPolicy,
  type StoreRegistrationPolicy,
  type StoreUser,
  type StoreValidatorOptions,
} from './validator.js'
export {
  classifyAddress,
  ClientIdMetadataDocumentError,
  ClientIdMetadataDocuments,
  type AddressKind,
  type ClientIdMetadataDocumentsOptions,
  type HostLookup,
  type LookupAddress,
} from './client-id-metadata-documents.js'
