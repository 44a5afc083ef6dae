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

/**
 * A copy of `context` for the token path: the fields of {@link TokenContext} named one by one, then whatever other
 * field a custom grant put there (`omit` aside), then `extra`. Built as one literal: Object.assign, spreads and rest
 * destructuring of these objects take V8's generic copying path, several times the cost of a literal.
 *
 * @internal
 */
export function copyTokenContext<C extends TokenContext, E extends object>(context: C, extra: E, omit?: string): C & E {
  const copy: Record<string, unknown> = {
    client: context.client,
    user: context.user,
    scopes: context.scopes,
    refreshTokenScopes: context.refreshTokenScopes,
    grantType: context.grantType,
    resources: context.resources,
    refreshTokenResources: context.refreshTokenResources,
    authentication: context.authentication,
    nonce: context.nonce,
  }
  for (const key of Object.keys(context)) {
    if (key !== omit && !(key in copy)) copy[key] = (context as unknown as Record<string, unknown>)[key]
  }
  for (const key of Object.keys(extra)) copy[key] = (extra as Record<string, unknown>)[key]
  return copy as C & E
}
