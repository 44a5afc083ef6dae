/**
 * The shape of a token generator: anything that turns a token request into a token string.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type TokenContext } from '../types.js'

/** What a {@link TokenGenerator} knows about the token it makes. */
export interface TokenGenerationContext extends TokenContext {
  /** The parsed request; `request.claims` holds extra claims a validator added. */
  readonly request: OAuth2Request
  /** Lifetime of the access token in seconds. */
  readonly expiresIn: number
  /** Issue time, in seconds since the epoch. */
  readonly issuedAt: number
}

/**
 * Makes an access or refresh token. `randomTokenGenerator` and `signedTokenGenerator(...)` are generators, and so is
 * any function of this shape.
 */
export type TokenGenerator = (context: TokenGenerationContext) => string | Promise<string>
