/**
 * The request shape revocation (RFC 7009 §2.1) and introspection (RFC 7662 §2.1) share: a `token` and an optional
 * `token_type_hint`, looked up through the validator.
 *
 * @module
 */
import { InvalidRequestError } from '../core/errors.js'
import { rejectRepeated, type OAuth2Request } from '../core/request.js'
import { type RequestValidator } from '../validator.js'
import { type StoredToken } from '../types.js'

/** The parameters of a token revocation or introspection request. */
export const TOKEN_PARAMETERS = ['token', 'token_type_hint'] as const

/**
 * Refuses repeated `token` / `token_type_hint` (RFC 6749 §3.2).
 *
 * @throws {@link InvalidRequestError}
 */
export function rejectRepeatedTokenParameters(request: OAuth2Request, citation: string): void {
  rejectRepeated(request, TOKEN_PARAMETERS, citation)
}

/**
 * Reads `token` and looks it up with `introspectToken`, passing `token_type_hint` when it names one of the two types
 * RFC 7009 §2.1 and RFC 7662 §2.1 define. Any other hint is ignored: the server MAY ignore the hint, and the token
 * found decides its type, never the hint.
 *
 * @returns the token and what the validator knows of it (`undefined` when unknown or revoked)
 * @throws {@link InvalidRequestError} when `token` is missing
 */
export async function lookUpToken(
  requestValidator: RequestValidator,
  request: OAuth2Request,
  citation: string,
): Promise<{ token: string; found: StoredToken | undefined }> {
  const token = request.params.get('token')
  if (token === undefined) throw new InvalidRequestError(`token is required (${citation})`)
  const hint = request.params.get('token_type_hint')
  const found = await requestValidator.introspectToken(token, hint === 'access_token' || hint === 'refresh_token' ? hint : undefined, request)
  return { token, found }
}
