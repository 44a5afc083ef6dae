/**
 * The shape of a token generator: anything that turns a token request into a token string.
 *
 * @module
 */
import { type OAuth2Request } from '../core/request.js'
import { type TokenContext } from '../validator.js'

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

const CONTEXT_FIELDS = ['client', 'user', 'scopes', 'refreshTokenScopes', 'grantType', 'resources', 'refreshTokenResources'] as const

/**
 * A copy of `context` without its `omit` field, for the token path: the fields of {@link TokenContext} named one by
 * one, and whatever else a custom grant put there. Not rest destructuring, `Object.assign` nor a spread with added
 * properties: V8 (Node 20) builds those on a slow path, 0.2–3 µs per object.
 *
 * @internal
 */
export function copyTokenContext(context: TokenContext, omit?: string): TokenContext {
  const copy = {
    client: context.client,
    user: context.user,
    scopes: context.scopes,
    refreshTokenScopes: context.refreshTokenScopes,
    grantType: context.grantType,
    resources: context.resources,
    refreshTokenResources: context.refreshTokenResources,
  }
  return copyOtherFields(context, copy, omit)
}

/**
 * `context` with the generation fields added ({@link copyTokenContext}, the same way).
 *
 * @internal
 */
export function generationContext(context: TokenContext, request: OAuth2Request, expiresIn: number, issuedAt: number): TokenGenerationContext {
  const copy = {
    client: context.client,
    user: context.user,
    scopes: context.scopes,
    refreshTokenScopes: context.refreshTokenScopes,
    grantType: context.grantType,
    resources: context.resources,
    refreshTokenResources: context.refreshTokenResources,
    request,
    expiresIn,
    issuedAt,
  }
  return copyOtherFields(context, copy, undefined)
}

/** Adds to `copy` the own fields of `context` it lacks, `omit` aside; the loop runs only when there are such fields. */
function copyOtherFields<T extends object>(context: object, copy: T, omit: string | undefined): T {
  // Counted with for-in, which V8 runs on the object's cached keys: Object.keys would build an array per token. (An
  // inherited enumerable field would count too, and only send this to the loop, which copies own fields.)
  let count = 0
  for (const _ in context) count++
  let known = omit !== undefined && omit in context ? 1 : 0
  for (const field of CONTEXT_FIELDS) if (field in context) known++
  if (count !== known) {
    const target = copy as Record<string, unknown>
    for (const key of Object.keys(context)) if (key !== omit && !(key in copy)) target[key] = (context as Record<string, unknown>)[key]
  }
  return copy
}
