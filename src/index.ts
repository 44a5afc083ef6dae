/**
 * oauthkit: a framework-agnostic OAuth 2.0 authorization-server core.
 *
 * @module
 */
export {
  AccessDeniedError,
  ConsentRequiredError,
  InteractionRequiredError,
  LoginRequiredError,
  InsufficientScopeError,
  InvalidClientError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  InvalidClientMetadataError,
  InvalidRedirectUriError,
  InvalidTokenError,
  OAuth2Error,
  ServerError,
  TemporarilyUnavailableError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
  UnsupportedResponseTypeError,
  UnsupportedTokenTypeError,
  ValidatorNotImplementedError,
  type OAuth2ErrorCode,
  type OAuth2ErrorOptions,
} from './core/errors.js'
export { normalizeMethod, OAuth2Request, parseRequest, type ClientCredentials, type ParameterSource, type RequestBody, type RequestHeaders, type RequestUri } from './core/request.js'
export { errorResponse, type OAuth2Response } from './core/response.js'
export { parseScope, scopeToString } from './core/scope.js'
export { parseResources } from './core/resource-indicator.js'
export { timingSafeEqual } from './core/constant-time.js'
export { isWellFormedVerifier, verifyCodeChallenge, type CodeChallengeMethod } from './core/pkce.js'
export { RequestValidator, type UserClaims } from './validator.js'
export {
  type Authentication,
  type AuthorizationCode,
  type BearerTokenResponse,
  type IssuedAuthorizationCode,
  type StoredToken,
  type Client,
  type RefreshTokenRecord,
  type TokenContext,
  type User,
} from './types.js'
export { BearerToken, type CreateTokenOptions } from './tokens/bearer-token.js'
export { DEFAULT_EXPIRES_IN, defaultExpiresIn, type ExpiresIn } from './tokens/expiry.js'
export { type TokenGenerationContext, type TokenGenerator } from './tokens/generator.js'
export { generateToken, randomTokenGenerator } from './tokens/random-token.js'
export { generateTimeOrderedToken } from './tokens/time-ordered.js'
export { signedTokenGenerator, type JwsSigner, type SignedTokenOptions, type SigningAlgorithm } from './tokens/signed-token.js'
export {
  accessTokenHash,
  DEFAULT_ID_TOKEN_EXPIRES_IN,
  IdTokenIssuer,
  idTokenSigner,
  type IdTokenIssuerOptions,
  type IdTokenKey,
  type IdTokenSigner,
  type IdTokenSignerOptions,
} from './tokens/id-token.js'
export { claimsForScopes, OPENID_SCOPE, SCOPE_CLAIMS, STANDARD_CLAIMS } from './core/claims.js'
export { UserInfoEndpoint, type UserInfoEndpointOptions } from './endpoints/userinfo.js'
export {
  OPENID_CONFIGURATION_PATH,
  OpenIDConfigurationEndpoint,
  openIdProviderMetadata,
  type OpenIDProviderOptions,
} from './endpoints/openid-configuration.js'
export { GrantTypeBase, type TokenGrantType, type ValidatedTokenRequest } from './grants/base.js'
export { AuthorizationCodeGrant, MAX_NONCE_LENGTH, type AuthorizationCodeGrantOptions } from './grants/authorization-code.js'
export { ClientCredentialsGrant, type ClientCredentialsGrantOptions } from './grants/client-credentials.js'
export { PasswordGrant, type PasswordGrantOptions } from './grants/password.js'
export { RefreshTokenGrant } from './grants/refresh-token.js'
export { TokenEndpoint, type TokenEndpointOptions, type TokenRequestHooks, type TokenRequestOutcome } from './endpoints/token.js'
export { type EndpointOptions, type ErrorHook } from './endpoints/base.js'
export {
  AuthorizationEndpoint,
  type AuthorizationEndpointOptions,
  type AuthorizationRequestCredentials,
  type AuthorizationResponseType,
  type ValidatedAuthorizationRequest,
} from './endpoints/authorization.js'
export { ImplicitGrant } from './grants/implicit.js'
export { isValidRedirectUri, matchRedirectUri } from './core/redirect-uri.js'
export { type ResponseMode } from './core/response-mode.js'
export {
  BackendApplicationServer,
  LegacyApplicationServer,
  MobileApplicationServer,
  Server,
  WebApplicationServer,
  type AuthorizationServerOptions,
  type BackendApplicationServerOptions,
  type FullServerOptions,
  type ServerOptions,
} from './servers.js'
export { RevocationEndpoint, type RevocationEndpointOptions } from './endpoints/revocation.js'
export { IntrospectEndpoint, type IntrospectEndpointOptions } from './endpoints/introspection.js'
export {
  DEFAULT_REGISTRATION_GRANT_TYPES,
  parseClientMetadata,
  RegistrationEndpoint,
  type ClientMetadata,
  type ClientMetadataPolicy,
  type RegisteredAuthMethod,
  type RegisteredClient,
  type RegistrationEndpointOptions,
} from './endpoints/registration.js'
export { ClientConfigurationEndpoint, type ClientConfigurationEndpointOptions } from './endpoints/client-configuration.js'
export {
  isClientIdUrl,
  MAX_CLIENT_ID_URL_LENGTH,
  parseClientIdMetadataDocument,
  parseClientIdUrl,
  type ClientIdUrlOptions,
} from './endpoints/client-id-metadata-document.js'
export { DEFAULT_ENDPOINT_PATHS, MetadataEndpoint, type AuthorizationServerMetadata } from './endpoints/metadata.js'
export {
  protectedResourceMetadataPath,
  protectedResourceMetadataResponder,
  protectedResourceMetadataUrl,
  type ProtectedResourceMetadata,
} from './endpoints/protected-resource-metadata.js'
export { ResourceEndpoint, type ProtectedResourceResult, type ResourceEndpointOptions } from './endpoints/resource.js'
export { BearerTokenValidator, type BearerTokenValidatorOptions } from './endpoints/bearer-token-validator.js'
export {
  DEFAULT_VERIFICATION_ALGORITHMS,
  isSignedTokenFormat,
  signedTokenVerifier,
  type SignedTokenVerificationOptions,
  type SignedTokenVerifier,
  type VerifiedSignedToken,
} from './tokens/signed-token-verification.js'
