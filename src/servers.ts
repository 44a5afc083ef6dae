/**
 * Pre-configured servers, as oauthlib's: each wires the endpoints and grants of one kind of deployment.
 *
 * @module
 */
import {
  AuthorizationEndpoint,
  type AuthorizationResponseType,
  type ValidatedAuthorizationRequest,
} from './endpoints/authorization.js'
import { type ErrorHook } from './endpoints/base.js'
import { IntrospectEndpoint } from './endpoints/introspection.js'
import { MetadataEndpoint, type AuthorizationServerMetadata } from './endpoints/metadata.js'
import { ResourceEndpoint, type ProtectedResourceResult, type ResourceEndpointOptions } from './endpoints/resource.js'
import { RevocationEndpoint } from './endpoints/revocation.js'
import { TokenEndpoint, type TokenRequestHooks } from './endpoints/token.js'
import { AuthorizationCodeGrant } from './grants/authorization-code.js'
import { type TokenGrantType } from './grants/base.js'
import { ClientCredentialsGrant } from './grants/client-credentials.js'
import { ImplicitGrant } from './grants/implicit.js'
import { PasswordGrant } from './grants/password.js'
import { RefreshTokenGrant } from './grants/refresh-token.js'
import { type OAuth2Response } from './core/response.js'
import { BearerToken } from './tokens/bearer-token.js'
import { type ExpiresIn } from './tokens/expiry.js'
import { type TokenGenerator } from './tokens/generator.js'
import { IdTokenIssuer, type IdTokenSigner } from './tokens/id-token.js'
import { OpenIDConfigurationEndpoint, openIdProviderMetadata } from './endpoints/openid-configuration.js'
import { UserInfoEndpoint } from './endpoints/userinfo.js'
import { type RequestValidator } from './validator.js'

/** Options of every pre-configured server (oauthlib's `token_expires_in`, `token_generator`, …). */
export interface ServerOptions {
  /** Access token lifetime in seconds, or a policy; default `DEFAULT_EXPIRES_IN` by grant type. */
  readonly tokenExpiresIn?: ExpiresIn | undefined
  /** Makes access tokens; default `randomTokenGenerator`. Use `signedTokenGenerator(...)` for JWTs. */
  readonly tokenGenerator?: TokenGenerator | undefined
  /** Makes refresh tokens; default `randomTokenGenerator`. */
  readonly refreshTokenGenerator?: TokenGenerator | undefined
  /** Accept non-`https:` request URIs at the token endpoint; for loopback development and tests only. */
  readonly allowInsecureTransport?: boolean | undefined
  /** Receives unexpected errors (5xx); default `console.error`. */
  readonly onError?: ErrorHook | undefined
  /**
   * Watches, and may refuse, token requests (rate limits, metrics, audit): see {@link TokenRequestHooks}. Used by the
   * servers with a token endpoint.
   */
  readonly tokenRequestHooks?: TokenRequestHooks | undefined
  /**
   * The issuer identifier: `iss` of authorization responses (RFC 9207; default the request URI's origin), `iss` of
   * introspection responses, and the `issuer` of the metadata document, which is served only when this is set.
   */
  readonly issuer?: string | undefined
  /**
   * Metadata claims besides `issuer` (RFC 8414 §2): endpoint URLs (default `issuer` + `/authorize`, `/token`,
   * `/revoke`, `/introspect`), `scopes_supported`, `jwks_uri`, `service_documentation`, …
   */
  readonly metadata?: Omit<AuthorizationServerMetadata, 'issuer'> | undefined
  /** How protected resources find and check tokens: `realm`, `allowQueryToken`, `jwt` (see `ResourceEndpoint`). */
  readonly resource?: Omit<ResourceEndpointOptions, 'requestValidator' | 'onError'> | undefined
}

/** Options of servers with an authorization endpoint. */
export interface AuthorizationServerOptions extends ServerOptions {
  /** Lifetime of authorization codes in seconds; default 60. */
  readonly codeExpiresIn?: number | undefined
  /** Accept the `plain` PKCE method; default `false` (RFC 9700 §2.1.1). */
  readonly allowPlainCodeChallenge?: boolean | undefined
  /**
   * Makes the server an OpenID Provider (OpenID Connect Core 1.0), for the servers with the code flow
   * (`WebApplicationServer`, `Server`): a code granted with the `openid` scope gets an ID token signed with it at its
   * exchange (§3.1.3.3) and at every refresh (§12.2), the UserInfo endpoint is served (§5.3), and the metadata gains
   * the OpenID Provider claims, also served at `/.well-known/openid-configuration` (Discovery §3, §4). Needs `issuer`
   * (the signer's) and `metadata.jwks_uri` (where relying parties find its public key). See {@link idTokenSigner}.
   */
  readonly idTokenSigner?: IdTokenSigner | undefined
  /** Lifetime of ID tokens in seconds; default 600. */
  readonly idTokenExpiresIn?: number | undefined
}

/** Options of {@link Server}. */
export interface FullServerOptions extends AuthorizationServerOptions, BackendApplicationServerOptions {
  /** Serve the implicit grant (`response_type=token`). Default `false`: RFC 9700 §2.1.2 advises against it. */
  readonly enableImplicitGrant?: boolean | undefined
  /**
   * Serve the resource owner password credentials grant (RFC 6749 §4.3). Default `true`, as in oauthlib's `Server`;
   * RFC 9700 §2.4 says it MUST NOT be used, so turn it off unless a legacy client needs it (the ready server does).
   */
  readonly enablePasswordGrant?: boolean | undefined
}

/** Options of {@link BackendApplicationServer}. */
export interface BackendApplicationServerOptions extends ServerOptions {
  /** Issue refresh tokens with client credentials tokens. Default `false` (RFC 6749 §4.4.3). */
  readonly refreshTokenForClientCredentials?: boolean | undefined
}

/**
 * What every pre-configured server has, as oauthlib's servers: revocation (RFC 7009), introspection (RFC 7662), the
 * protected-resource check (RFC 6750) and, when an issuer is configured, metadata (RFC 8414).
 */
abstract class BaseServer {
  /** The revocation endpoint, for use on its own. */
  readonly revocationEndpoint: RevocationEndpoint
  /** The introspection endpoint, for use on its own. */
  readonly introspectEndpoint: IntrospectEndpoint
  /** The resource endpoint, for use on its own. */
  readonly resourceEndpoint: ResourceEndpoint
  /** The metadata endpoint; `undefined` when no `issuer` is configured. */
  readonly metadataEndpoint: MetadataEndpoint | undefined

  /** @throws TypeError when the options make an invalid metadata document (see `MetadataEndpoint`) */
  protected constructor(requestValidator: RequestValidator, options: ServerOptions, endpoints: readonly object[]) {
    const common = { requestValidator, onError: options.onError, allowInsecureTransport: options.allowInsecureTransport }
    this.revocationEndpoint = new RevocationEndpoint(common)
    this.introspectEndpoint = new IntrospectEndpoint({ ...common, issuer: options.issuer })
    this.resourceEndpoint = new ResourceEndpoint({ ...options.resource, requestValidator, onError: options.onError })
    this.metadataEndpoint =
      options.issuer === undefined
        ? undefined
        : new MetadataEndpoint([...endpoints, this.revocationEndpoint, this.introspectEndpoint], { ...options.metadata, issuer: options.issuer })
  }

  /** See {@link RevocationEndpoint.createRevocationResponse}. Never rejects. */
  createRevocationResponse(...args: Parameters<RevocationEndpoint['createRevocationResponse']>): Promise<OAuth2Response> {
    return this.revocationEndpoint.createRevocationResponse(...args)
  }

  /** See {@link IntrospectEndpoint.createIntrospectResponse}. Never rejects. */
  createIntrospectResponse(...args: Parameters<IntrospectEndpoint['createIntrospectResponse']>): Promise<OAuth2Response> {
    return this.introspectEndpoint.createIntrospectResponse(...args)
  }

  /** See {@link ResourceEndpoint.validateProtectedResourceRequest}. Never rejects. */
  validateProtectedResourceRequest(...args: Parameters<ResourceEndpoint['validateProtectedResourceRequest']>): Promise<ProtectedResourceResult> {
    return this.resourceEndpoint.validateProtectedResourceRequest(...args)
  }

  /**
   * See {@link MetadataEndpoint.createMetadataResponse}. Never rejects.
   *
   * @throws TypeError when the server was built without an `issuer`, so it has no metadata to serve
   */
  createMetadataResponse(...args: Parameters<MetadataEndpoint['createMetadataResponse']>): Promise<OAuth2Response> {
    if (this.metadataEndpoint === undefined) throw new TypeError('This server has no metadata: give it an issuer option')
    return this.metadataEndpoint.createMetadataResponse(...args)
  }
}

/** The token endpoint of a pre-configured server, wired from its options and grants. */
abstract class TokenServer extends BaseServer {
  /** The token endpoint, for use on its own. */
  readonly tokenEndpoint: TokenEndpoint

  protected constructor(requestValidator: RequestValidator, options: ServerOptions, grantTypes: readonly TokenGrantType[]) {
    const tokenEndpoint = tokenEndpointOf(options, grantTypes, bearerTokenOf(requestValidator, options))
    super(requestValidator, options, [tokenEndpoint])
    this.tokenEndpoint = tokenEndpoint
  }

  /**
   * Handles a token request; see {@link TokenEndpoint.createTokenResponse}. Never rejects.
   *
   * @see {@link https://www.rfc-editor.org/rfc/rfc6749#section-5 | RFC 6749 §5}
   */
  createTokenResponse(...args: Parameters<TokenEndpoint['createTokenResponse']>): Promise<OAuth2Response> {
    return this.tokenEndpoint.createTokenResponse(...args)
  }
}

/**
 * A server for machine-to-machine clients: the client credentials grant (RFC 6749 §4.4).
 *
 * @example
 * ```ts
 * const server = new BackendApplicationServer(validator, { tokenExpiresIn: 3600 })
 * const { status, headers, body } = await server.createTokenResponse(uri, 'POST', form, requestHeaders)
 * ```
 */
export class BackendApplicationServer extends TokenServer {
  constructor(requestValidator: RequestValidator, options: BackendApplicationServerOptions = {}) {
    super(requestValidator, options, [
      new ClientCredentialsGrant(requestValidator, { refreshToken: options.refreshTokenForClientCredentials ?? false }),
    ])
  }
}

/**
 * A server for legacy clients that hold the user's password: the password grant (RFC 6749 §4.3) and the refresh
 * token grant (§6). RFC 9700 §2.4 says the password grant MUST NOT be used; use this to migrate old clients.
 */
export class LegacyApplicationServer extends TokenServer {
  constructor(requestValidator: RequestValidator, options: ServerOptions = {}) {
    super(requestValidator, options, [new PasswordGrant(requestValidator), new RefreshTokenGrant(requestValidator)])
  }
}

/** The authorization endpoint of a pre-configured server, with oauthlib's three calls. */
abstract class AuthorizationServer extends BaseServer {
  /** The authorization endpoint, for use on its own. */
  readonly authorizationEndpoint: AuthorizationEndpoint

  protected constructor(
    requestValidator: RequestValidator,
    options: AuthorizationServerOptions,
    responseTypes: readonly AuthorizationResponseType[],
    bearerToken: BearerToken,
    tokenEndpoint?: TokenEndpoint,
  ) {
    const authorizationEndpoint = new AuthorizationEndpoint({
      requestValidator,
      responseTypes,
      bearerToken,
      issuer: options.issuer,
      onError: options.onError,
    })
    super(requestValidator, options, tokenEndpoint === undefined ? [authorizationEndpoint] : [authorizationEndpoint, tokenEndpoint])
    this.authorizationEndpoint = authorizationEndpoint
  }

  /** See {@link AuthorizationEndpoint.validateAuthorizationRequest}. */
  validateAuthorizationRequest(...args: Parameters<AuthorizationEndpoint['validateAuthorizationRequest']>): Promise<ValidatedAuthorizationRequest> {
    return this.authorizationEndpoint.validateAuthorizationRequest(...args)
  }

  /** See {@link AuthorizationEndpoint.createAuthorizationResponse}. Never rejects. */
  createAuthorizationResponse(...args: Parameters<AuthorizationEndpoint['createAuthorizationResponse']>): Promise<OAuth2Response> {
    return this.authorizationEndpoint.createAuthorizationResponse(...args)
  }

  /** See {@link AuthorizationEndpoint.createAuthorizationErrorResponse}. Never rejects. */
  createAuthorizationErrorResponse(...args: Parameters<AuthorizationEndpoint['createAuthorizationErrorResponse']>): Promise<OAuth2Response> {
    return this.authorizationEndpoint.createAuthorizationErrorResponse(...args)
  }
}

/** A server with an authorization endpoint and a token endpoint, and OpenID Connect when given an ID token signer. */
abstract class AuthorizationAndTokenServer extends AuthorizationServer {
  /** The token endpoint, for use on its own. */
  readonly tokenEndpoint: TokenEndpoint
  /** The UserInfo endpoint (OpenID Connect Core §5.3); `undefined` without `idTokenSigner`. */
  readonly userInfoEndpoint: UserInfoEndpoint | undefined
  /** The OpenID Provider configuration (Discovery §4); `undefined` without `idTokenSigner`. */
  readonly openIdConfigurationEndpoint: OpenIDConfigurationEndpoint | undefined

  /** @throws TypeError when `idTokenSigner` is given without `issuer` or `metadata.jwks_uri`, or with another issuer */
  protected constructor(
    requestValidator: RequestValidator,
    options: AuthorizationServerOptions,
    responseTypes: readonly AuthorizationResponseType[],
    grantTypes: readonly TokenGrantType[],
    bearerToken: BearerToken,
  ) {
    const tokenEndpoint = tokenEndpointOf(options, grantTypes, bearerToken)
    super(requestValidator, withOpenIdMetadata(options), responseTypes, bearerToken, tokenEndpoint)
    this.tokenEndpoint = tokenEndpoint
    const openid = options.idTokenSigner !== undefined && this.metadataEndpoint !== undefined
    this.userInfoEndpoint = openid ? new UserInfoEndpoint({ requestValidator, onError: options.onError, realm: options.resource?.realm, issuer: options.issuer }) : undefined
    this.openIdConfigurationEndpoint = openid ? new OpenIDConfigurationEndpoint(this.metadataEndpoint as MetadataEndpoint) : undefined
  }

  /** See {@link TokenEndpoint.createTokenResponse}. Never rejects. */
  createTokenResponse(...args: Parameters<TokenEndpoint['createTokenResponse']>): Promise<OAuth2Response> {
    return this.tokenEndpoint.createTokenResponse(...args)
  }

  /**
   * See {@link UserInfoEndpoint.createUserInfoResponse}. Never rejects.
   *
   * @throws TypeError when the server was built without `idTokenSigner`
   */
  createUserInfoResponse(...args: Parameters<UserInfoEndpoint['createUserInfoResponse']>): Promise<OAuth2Response> {
    if (this.userInfoEndpoint === undefined) throw new TypeError('This server has no UserInfo endpoint: give it an idTokenSigner option')
    return this.userInfoEndpoint.createUserInfoResponse(...args)
  }

  /**
   * See {@link OpenIDConfigurationEndpoint.createOpenIDConfigurationResponse}. Never rejects.
   *
   * @throws TypeError when the server was built without `idTokenSigner`
   */
  createOpenIDConfigurationResponse(...args: Parameters<OpenIDConfigurationEndpoint['createOpenIDConfigurationResponse']>): Promise<OAuth2Response> {
    if (this.openIdConfigurationEndpoint === undefined) throw new TypeError('This server is no OpenID Provider: give it an idTokenSigner option')
    return this.openIdConfigurationEndpoint.createOpenIDConfigurationResponse(...args)
  }
}

/**
 * A server for web applications: the authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636) and the refresh
 * token grant (§6).
 *
 * @example
 * ```ts
 * const server = new WebApplicationServer(validator, { issuer: 'https://as.example.com' })
 * const { scopes, credentials } = await server.validateAuthorizationRequest(uri, 'GET')
 * // …the user allows…
 * const { status, headers } = await server.createAuthorizationResponse(uri, 'GET', undefined, {}, scopes, { userId: 'alice' })
 * ```
 */
export class WebApplicationServer extends AuthorizationAndTokenServer {
  constructor(requestValidator: RequestValidator, options: AuthorizationServerOptions = {}) {
    const bearerToken = bearerTokenOf(requestValidator, options)
    const idTokens = idTokenIssuerOf(requestValidator, options)
    const code = authorizationCodeGrantOf(requestValidator, options, idTokens)
    super(requestValidator, options, [code], [code, new RefreshTokenGrant(requestValidator, { idTokens })], bearerToken)
  }
}

/**
 * A server for clients that run in the browser and cannot be changed to the code flow: the implicit grant
 * (RFC 6749 §4.2). Not recommended (RFC 9700 §2.1.2); see {@link ImplicitGrant}.
 */
export class MobileApplicationServer extends AuthorizationServer {
  constructor(requestValidator: RequestValidator, options: AuthorizationServerOptions = {}) {
    super(requestValidator, options, [new ImplicitGrant()], bearerTokenOf(requestValidator, options))
  }
}

/**
 * A server with every grant: authorization code with PKCE, password, client credentials and refresh token, plus the
 * implicit grant when `enableImplicitGrant` is set.
 */
export class Server extends AuthorizationAndTokenServer {
  constructor(requestValidator: RequestValidator, options: FullServerOptions = {}) {
    const bearerToken = bearerTokenOf(requestValidator, options)
    const idTokens = idTokenIssuerOf(requestValidator, options)
    const code = authorizationCodeGrantOf(requestValidator, options, idTokens)
    super(
      requestValidator,
      options,
      options.enableImplicitGrant === true ? [code, new ImplicitGrant()] : [code],
      [
        code,
        ...(options.enablePasswordGrant === false ? [] : [new PasswordGrant(requestValidator)]),
        new ClientCredentialsGrant(requestValidator, { refreshToken: options.refreshTokenForClientCredentials ?? false }),
        new RefreshTokenGrant(requestValidator, { idTokens }),
      ],
      bearerToken,
    )
  }
}

function bearerTokenOf(requestValidator: RequestValidator, options: ServerOptions): BearerToken {
  return new BearerToken(requestValidator, options.tokenGenerator, options.tokenExpiresIn, options.refreshTokenGenerator)
}

function tokenEndpointOf(options: ServerOptions, grantTypes: readonly TokenGrantType[], bearerToken: BearerToken): TokenEndpoint {
  return new TokenEndpoint({
    grantTypes,
    bearerToken,
    allowInsecureTransport: options.allowInsecureTransport,
    onError: options.onError,
    hooks: options.tokenRequestHooks,
  })
}

function authorizationCodeGrantOf(requestValidator: RequestValidator, options: AuthorizationServerOptions, idTokens: IdTokenIssuer | undefined): AuthorizationCodeGrant {
  return new AuthorizationCodeGrant(requestValidator, {
    idTokens,
    ...(options.codeExpiresIn === undefined ? {} : { codeExpiresIn: options.codeExpiresIn }),
    ...(options.allowPlainCodeChallenge === undefined ? {} : { allowPlainCodeChallenge: options.allowPlainCodeChallenge }),
  })
}

/** The ID token issuer of an OpenID Provider, `undefined` for a plain OAuth server. */
function idTokenIssuerOf(requestValidator: RequestValidator, options: AuthorizationServerOptions): IdTokenIssuer | undefined {
  if (options.idTokenSigner === undefined) return undefined
  if (options.issuer === undefined) throw new TypeError('idTokenSigner needs the issuer option: ID tokens and metadata name the same issuer')
  return new IdTokenIssuer(requestValidator, options.idTokenSigner, { expiresIn: options.idTokenExpiresIn })
}

/** The options with the OpenID Provider metadata merged in (Discovery §3), when the server is one. */
function withOpenIdMetadata<O extends AuthorizationServerOptions>(options: O): O {
  if (options.idTokenSigner === undefined || options.issuer === undefined) return options
  return { ...options, metadata: openIdProviderMetadata(options.issuer, options.metadata ?? {}, { idTokenSigner: options.idTokenSigner }) }
}
