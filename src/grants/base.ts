/**
 * The steps every grant shares, written once: repeated-parameter checks, client authentication, the grant-type
 * check, scope resolution and token issuance.
 *
 * @module
 */
import { InvalidScopeError, InvalidTargetError, UnauthorizedClientError } from '../core/errors.js'
import { rejectRepeated, type OAuth2Request } from '../core/request.js'
import { noStoreJsonResponse, type OAuth2Response } from '../core/response.js'
import { parseResources } from '../core/resource-indicator.js'
import { isSubsetOf, parseScope, sameScopes } from '../core/scope.js'
import { OPENID_SCOPE } from '../core/claims.js'
import { type BearerToken } from '../tokens/bearer-token.js'
import { copyTokenContext } from '../tokens/generator.js'
import { type IdTokenIssuer } from '../tokens/id-token.js'
import { type RequestValidator } from '../validator.js'
import { type Client, type TokenContext } from '../types.js'
import { authenticateClient } from './client-authentication.js'

// Parameters every token request may carry (RFC 6749 §2.3.1, §4.1.3): a repeat of any of them is invalid_request.
const COMMON_PARAMETERS = ['grant_type', 'client_id', 'client_secret'] as const

/** A token request that passed every check, ready for tokens. */
export interface ValidatedTokenRequest extends TokenContext {
  /** The scopes the request named, when it named any; `scope` goes in the response when they differ (§5.1). */
  readonly requestedScopes: readonly string[] | undefined
}

/**
 * A grant type of the token endpoint. Implementations: `AuthorizationCodeGrant`, `PasswordGrant`,
 * `ClientCredentialsGrant`, `RefreshTokenGrant`; an application may add its own (e.g. a device grant).
 */
export interface TokenGrantType {
  /** The `grant_type` value this grant handles. */
  readonly grantType: string
  /**
   * Whether public clients (RFC 6749 §2.1) may use this grant, identified by `client_id` alone (`none`). Metadata
   * advertises `none` when a grant says so. Default `false`.
   */
  readonly allowsPublicClients?: boolean
  /**
   * Validates the request and issues tokens.
   *
   * @returns the RFC 6749 §5.1 response
   * @throws an `OAuth2Error` for every protocol failure
   */
  createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response>
}

/**
 * The base of the built-in grants. Subclasses name their parameters and implement `validateTokenRequest`.
 */
export abstract class GrantTypeBase implements TokenGrantType {
  abstract readonly grantType: string
  abstract readonly allowsPublicClients: boolean
  /** The RFC parameters this grant reads, besides `grant_type` and client authentication. */
  protected abstract readonly parameters: readonly string[]
  /**
   * Issues an ID token with the tokens of a grant that has the `openid` scope (OpenID Connect Core §3.1.3.3, §12.2);
   * set by the grants that may (authorization code, refresh token) when configured with one.
   */
  protected idTokens: IdTokenIssuer | undefined

  constructor(protected readonly requestValidator: RequestValidator) {}

  /**
   * Checks the request against the grant's section of RFC 6749 and returns who and what tokens are for.
   *
   * @throws an `OAuth2Error` for every protocol failure
   */
  abstract validateTokenRequest(request: OAuth2Request): Promise<ValidatedTokenRequest>

  abstract createTokenResponse(request: OAuth2Request, bearerToken: BearerToken): Promise<OAuth2Response>

  /**
   * RFC 6749 §3.2: request parameters MUST NOT be included more than once. Only the parameters this grant reads are
   * checked; the others are ignored, as §3.2 requires for unrecognized parameters.
   *
   * @throws {@link InvalidRequestError} naming the repeated parameter
   */
  protected rejectRepeatedParameters(request: OAuth2Request): void {
    if (request.repeated.size > 0) rejectRepeated(request, [...COMMON_PARAMETERS, ...this.parameters])
  }

  /**
   * Authenticates the client (RFC 6749 §3.2.1), admitting public clients when the grant does; see
   * {@link authenticateClient}.
   *
   * @throws {@link InvalidClientError} (401 with `WWW-Authenticate`) when authentication fails or is missing
   */
  protected authenticateClient(request: OAuth2Request): Promise<Client> {
    return authenticateClient(this.requestValidator, request, this.allowsPublicClients)
  }

  /**
   * @throws {@link UnauthorizedClientError} when the client may not use this grant type
   */
  protected async checkGrantType(client: Client, request: OAuth2Request): Promise<void> {
    if (!(await this.requestValidator.validateGrantType(client.clientId, this.grantType, client, request))) {
      throw new UnauthorizedClientError(`The client is not allowed to use the ${this.grantType} grant type`)
    }
  }

  /**
   * The scopes requested, or the client's default scopes when none were (RFC 6749 §3.3), checked by the validator.
   *
   * @throws {@link InvalidScopeError} when the scope is malformed, empty or not allowed for the client
   */
  protected async resolveScopes(client: Client, request: OAuth2Request): Promise<{ scopes: readonly string[]; requestedScopes: readonly string[] | undefined }> {
    const requestedScopes = request.scope === undefined ? undefined : parseScope(request.scope)
    const scopes = requestedScopes ?? (await this.requestValidator.getDefaultScopes(client.clientId, request))
    if (scopes.length === 0) throw new InvalidScopeError('scope is required: the client has no default scope')
    if (!(await this.requestValidator.validateScopes(client.clientId, scopes, client, request))) {
      throw new InvalidScopeError('The requested scope is invalid, unknown or not allowed for this client')
    }
    return { scopes, requestedScopes }
  }

  /**
   * The resources (RFC 8707) the token is for. With `granted` (the resources of an earlier authorization: a code or
   * a refresh token), the request may only narrow them, and names none to keep them all (§2.2). Without, the
   * validator's `validateResources` decides.
   *
   * @throws {@link InvalidTargetError} when a resource is malformed, not granted, or not allowed for the client
   */
  protected async resolveResources(client: Client, request: OAuth2Request, granted?: readonly string[]): Promise<readonly string[]> {
    const requested = parseResources(request.resources)
    if (granted !== undefined) {
      if (!isSubsetOf(requested, granted)) throw new InvalidTargetError('resource was not part of the original grant (RFC 8707 section 2.2)')
      return requested.length > 0 ? requested : granted
    }
    if (requested.length > 0 && !(await this.requestValidator.validateResources(client.clientId, requested, client, request))) {
      throw new InvalidTargetError('The client may not obtain a token for the requested resource')
    }
    return requested
  }

  /**
   * Creates, saves and returns the token response; `scope` is included when the granted scope differs from the
   * requested one (RFC 6749 §5.1). The tokens are made first (signing may take time), then `redeem` (consuming a
   * code or rotating a refresh token) and `saveBearerToken` run inside one `RequestValidator.transaction`, so that
   * nothing is consumed without the new tokens being saved. Without `redeem`, `saveBearerToken` is the only write and
   * runs on its own.
   */
  protected async issueToken(
    request: OAuth2Request,
    bearerToken: BearerToken,
    validated: ValidatedTokenRequest,
    refreshToken: boolean,
    redeem?: () => Promise<void>,
  ): Promise<OAuth2Response> {
    const requestedScopes = validated.requestedScopes
    const context: TokenContext = copyTokenContext(validated, {}, 'requestedScopes')
    const token = await bearerToken.createToken(request, {
      context,
      refreshToken,
      includeScope: requestedScopes === undefined || !sameScopes(requestedScopes, context.scopes),
      saveToken: false,
    })
    // OpenID Connect Core §3.1.3.3 (and §12.2 for a refresh): a grant with openid gets an ID token beside its tokens,
    // signed before anything is consumed, as the access token is. It is not saved: nothing ever looks it up.
    const response =
      this.idTokens !== undefined && context.refreshTokenScopes.includes(OPENID_SCOPE)
        ? { ...token, id_token: await this.idTokens.createIdToken(context, token.access_token, request) }
        : token
    if (redeem === undefined) {
      // Nothing to consume: one write, with no transaction around it (a store makes each write whole on its own).
      await this.requestValidator.saveBearerToken(token, context, request)
    } else {
      await this.requestValidator.transaction(request, async () => {
        await redeem()
        await this.requestValidator.saveBearerToken(token, context, request)
      })
    }
    return noStoreJsonResponse(200, response)
  }
}
