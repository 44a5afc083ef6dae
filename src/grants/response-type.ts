/**
 * What the authorization endpoint asks of a response type (`code`, `token`), and the verified request it hands them.
 * Here, beside the grants that implement it, so that grants never import the endpoint that serves them.
 *
 * @module
 */
import { type CodeChallengeMethod } from '../core/pkce.js'
import { type OAuth2Request } from '../core/request.js'
import { type ResponseMode } from '../core/response-mode.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { type Authentication, type Client, type User } from '../types.js'

/** A verified authorization request: what a consent page shows and what the response is built from. */
export interface AuthorizationRequestCredentials {
  /** The client, identified by `validateClientId`. */
  readonly client: Client
  /** The redirect URI the response goes to, verified against the registered ones. */
  readonly redirectUri: string
  /** Whether the request carried `redirect_uri` (the token request must then repeat it, RFC 6749 §4.1.3). */
  readonly redirectUriIncluded: boolean
  /** `code` or `token`. */
  readonly responseType: string
  /** How the response travels to the client. */
  readonly responseMode: ResponseMode
  /** The client's `state`, echoed in the response. */
  readonly state: string | undefined
  /** The resources (RFC 8707) the token will be for, checked by the validator's `validateResources`. */
  readonly resources: readonly string[]
  /** The parsed request. */
  readonly request: OAuth2Request
}

/** What `validateAuthorizationRequest` returns: the requested scopes and the verified request. */
export interface ValidatedAuthorizationRequest {
  /** The scopes requested, or the client's defaults; show them on the consent page. */
  readonly scopes: readonly string[]
  /** The verified request. */
  readonly credentials: AuthorizationRequestCredentials
}

/**
 * A response type of the authorization endpoint. Implementations: `AuthorizationCodeGrant` (`code`) and
 * `ImplicitGrant` (`token`).
 */
export interface AuthorizationResponseType {
  /** The `response_type` value this handler serves. */
  readonly responseType: string
  /** The response mode used when the request names none (RFC 6749 §3.1.1: `query` for code, `fragment` for token). */
  readonly defaultResponseMode: ResponseMode
  /** The response modes this response type may use; tokens never travel in a query. */
  readonly responseModes: readonly ResponseMode[]
  /** The request parameters it reads besides the common ones, checked for repeats. */
  readonly authorizationParameters: readonly string[]
  /** The PKCE methods accepted, for a response type that issues codes (metadata `code_challenge_methods_supported`). */
  readonly codeChallengeMethods?: readonly CodeChallengeMethod[]
  /**
   * Checks what is specific to this response type (e.g. PKCE) after the client and redirect URI were verified.
   *
   * @throws an `OAuth2Error`, redirected to the client
   */
  validateAuthorizationRequest(request: OAuth2Request, client: Client): Promise<void>
  /**
   * Issues the code or token and returns the parameters to deliver (without `state` and `iss`, which the endpoint
   * adds). `authentication` is how and when the user signed in, when the application said (OpenID Connect Core §2).
   */
  createAuthorizationResponseParameters(
    credentials: AuthorizationRequestCredentials,
    scopes: readonly string[],
    user: User,
    bearerToken: BearerToken,
    authentication?: Authentication,
  ): Promise<Record<string, string>>
}
