/**
 * The ready server's client registration endpoint (RFC 7591) at `/register`, under the per-address registration
 * limit, and the client configuration endpoint (RFC 7592) at `/register/{client_id}`.
 *
 * @module
 */
import { type Route } from '../adapters/router.js'
import { TemporarilyUnavailableError } from '../core/errors.js'
import { errorResponse } from '../core/response.js'
import { withCors } from '../adapters/cors.js'
import { ClientConfigurationEndpoint } from '../endpoints/client-configuration.js'
import { RegistrationEndpoint, type RegistrationEndpointOptions } from '../endpoints/registration.js'
import { type RateLimiter } from './rate-limit.js'

/** `/register` and `/register/{client_id}`, open to browser clients (CORS) as the token endpoint is. */
export function registrationRoutes(options: RegistrationEndpointOptions, limiter: RateLimiter | undefined): readonly (readonly [string, Route])[] {
  return [
    ['/register', withCors(registrationRoute(new RegistrationEndpoint(options), limiter), ['POST'])],
    ['/register/*', withCors(clientConfigurationRoute(new ClientConfigurationEndpoint(options)), ['GET', 'PUT', 'DELETE'])],
  ]
}

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

/**
 * `/register/{client_id}`: a self-registered client reads (`GET`), updates (`PUT`) and deletes (`DELETE`) its
 * registration with its registration access token (RFC 7592 §2).
 */
export function clientConfigurationRoute(endpoint: ClientConfigurationEndpoint): Route {
  return async (request) => endpoint.createClientConfigurationResponse(request.url, request.method, await request.body(), request.headers)
}
