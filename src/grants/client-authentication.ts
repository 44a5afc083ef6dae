/**
 * Client authentication (RFC 6749 §2.3, §3.2.1), shared by the grants and by the revocation and introspection
 * endpoints.
 *
 * @module
 */
import { InvalidClientError } from '../core/errors.js'
import { type OAuth2Request } from '../core/request.js'
import { type RequestValidator } from '../validator.js'
import { type Client } from '../types.js'

/**
 * Authenticates the client of a request: with its credentials (`client_secret_basic` or `client_secret_post`) when it
 * sent any; otherwise, when `allowPublic` and the validator's `clientAuthenticationRequired` answers `false`, it is
 * identified by its `client_id` alone (`none`, for public clients).
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-3.2.1 | RFC 6749 §3.2.1}
 * @throws {@link InvalidClientError} (401 with `WWW-Authenticate`) when authentication fails or is missing
 */
export async function authenticateClient(requestValidator: RequestValidator, request: OAuth2Request, allowPublic: boolean): Promise<Client> {
  const credentials = request.clientCredentials
  if (credentials !== undefined) {
    const client = await requestValidator.authenticateClient(request)
    // The identity check guards against a validator that answers for another client than the one presented.
    if (client === undefined || client.clientId !== credentials.clientId) throw new InvalidClientError('Client authentication failed')
    return client
  }
  const clientId = request.params.get('client_id')
  if (clientId === undefined || !allowPublic || (await requestValidator.clientAuthenticationRequired(request))) {
    throw new InvalidClientError('Client authentication is required')
  }
  const client = await requestValidator.authenticateClientId(clientId, request)
  if (client === undefined || client.clientId !== clientId) throw new InvalidClientError('Client authentication failed')
  return client
}
