/**
 * Which errors of `pg` mean that PostgreSQL cannot be reached right now, as opposed to a bug.
 *
 * @module
 * @internal
 */

/** Node's codes for a connection that could not be made or was lost. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
])
/** SQLSTATEs (besides class 08, connection exception) that mean the server cannot serve right now. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300'])
/** What `pg` and `pg-pool` say when a connection drops or a pool cannot hand one out in time. */
const CONNECTION_ERROR_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i

/**
 * Whether `error` (or an error it wraps, up to a few levels) means PostgreSQL cannot be reached right now: a connection
 * refused, reset, timed out or lost, SQLSTATE class 08, 57P01–57P03 or 53300.
 */
export function isUnavailable(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 3) return false
  const { code, message, errors, cause } = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown }
  if (typeof code === 'string') {
    if (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true
  }
  if (typeof message === 'string' && CONNECTION_ERROR_MESSAGE.test(message)) return true
  // Node reports a refused connection to a name with several addresses as an AggregateError of one error per address.
  if (Array.isArray(errors) && errors.some((inner) => isUnavailable(inner, depth + 1))) return true
  return isUnavailable(cause, depth + 1)
}


/** What a call to a store that was closed rejects with. */
export function closedError(): Error {
  return new Error('This PostgresStore is closed')
}
