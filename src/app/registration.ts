/**
 * The ready server's client registration endpoint (RFC 7591) at `/register`: the core's endpoint under the
 * per-address registration limit.
 *
 * @module
 */
import { type Route } from '../adapters/router.js'
import { TemporarilyUnavailableError } from '../core/errors.js'
import { errorResponse } from '../core/response.js'
import { type RegistrationEndpoint } from '../endpoints/registration.js'
import { type RateLimiter } from './rate-limit.js'

/**
 * `/register`: each request is counted per address before it runs (so that nobody fills the store with clients);
 * past the limit, 429 with `Retry-After`, as the token endpoint answers its own limits.
 */
export function registrationRoute(endpoint: RegistrationEndpoint, limiter: RateLimiter | undefined): Route {
  return async (request) => {
    if (request.method === 'POST' && limiter !== undefined) {
      let wait: number
      try {
        wait = await limiter.admitRegistration(request.remoteAddress)
      } catch {
        return errorResponse(new TemporarilyUnavailableError('The authorization server cannot reach its database; retry later', { headers: { 'Retry-After': '5' } }))
      }
      if (wait > 0) {
        return errorResponse(
          new TemporarilyUnavailableError(`Too many registrations from this address: retry after ${wait} seconds`, {
            status: 429,
            headers: { 'Retry-After': String(wait) },
          }),
        )
      }
    }
    return endpoint.createRegistrationResponse(request.url, request.method, await request.body(), request.headers)
  }
}
