/**
 * `oauthkit/app`: the ready-to-run authorization server as a Fetch API handler, with its login and consent pages and
 * signing keys kept in the store. The `oauthkit` command (`oauthkit serve`) runs it on node:http.
 *
 * @module
 */
export { createApp, DEFAULT_TOKEN_EXPIRES_IN, type App, type AppOptions, type ConnectionInfo } from './app.js'
export { SigningKeys, type CurrentSigningKey, type SigningKeysOptions } from './keys.js'
export { DEFAULT_RATE_LIMITS, type RateLimit, type RateLimitOptions } from './rate-limit.js'
