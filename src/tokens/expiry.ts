/**
 * Access token lifetimes: a fixed number of seconds, or a policy that decides per client and grant type.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type Client } from '../types.js'

/**
 * The lifetime of an access token in seconds, or a function that decides it per client and grant type (authlib's
 * `expires_generator`).
 *
 * @example
 * ```ts
 * const expiresIn: ExpiresIn = (client, grantType) => (grantType === 'client_credentials' ? 600 : 3600)
 * ```
 */
export type ExpiresIn = number | ((client: Client, grantType: string, request: OAuth2Request) => number | Promise<number>)

/**
 * The lifetimes used when no `expiresIn` is given, in seconds, by grant type: one hour for every grant except the
 * implicit grant, whose token travels through the browser and lives 15 minutes (RFC 9700 §2.1.2).
 */
export const DEFAULT_EXPIRES_IN: Readonly<Record<string, number>> = Object.freeze({
  authorization_code: 3600,
  password: 3600,
  client_credentials: 3600,
  refresh_token: 3600,
  implicit: 900,
})

/** The fallback for grant types not in {@link DEFAULT_EXPIRES_IN}. */
const FALLBACK_EXPIRES_IN = 3600

/**
 * The default expiry policy: {@link DEFAULT_EXPIRES_IN} by grant type.
 */
export const defaultExpiresIn: ExpiresIn = (_client, grantType) => DEFAULT_EXPIRES_IN[grantType] ?? FALLBACK_EXPIRES_IN

/**
 * Applies an expiry policy: a number when the policy answers synchronously (a number, or the default policy), so that
 * making a token waits for nothing it does not have to.
 *
 * @throws TypeError when the policy gives anything but a positive whole number of seconds (a rejection when it gives
 *   it asynchronously)
 */
export function resolveExpiresIn(expiresIn: ExpiresIn, client: Client, grantType: string, request: OAuth2Request): number | Promise<number> {
  const seconds = typeof expiresIn === 'number' ? expiresIn : expiresIn(client, grantType, request)
  return typeof seconds === 'number' ? checkedSeconds(seconds) : Promise.resolve(seconds).then(checkedSeconds)
}

function checkedSeconds(seconds: unknown): number {
  if (!Number.isSafeInteger(seconds) || (seconds as number) <= 0) {
    throw new TypeError(`expiresIn must be a positive whole number of seconds, got ${String(seconds)}`)
  }
  return seconds as number
}
