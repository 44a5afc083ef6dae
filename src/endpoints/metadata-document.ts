/**
 * The authorization server metadata document (RFC 8414 §2), as a type.
 *
 * @module
 */

/**
 * Authorization server metadata: the fields of RFC 8414 §2 (and RFC 9207 §3), as given to {@link MetadataEndpoint}
 * and as it serves them. Any other claim (an extension's, e.g. `dpop_signing_alg_values_supported`) is passed
 * through as given; its value must be JSON.
 *
 * @see {@link https://www.rfc-editor.org/rfc/rfc8414#section-2 | RFC 8414 §2}
 */
export interface AuthorizationServerMetadata {
  /**
   * REQUIRED. The issuer identifier: an `https` URL with no query or fragment, served exactly as given (RFC 8414
   * §3.3). It must be the `iss` the authorization endpoint sends (RFC 9207 §2.4): give the endpoint the same `issuer`.
   */
  readonly issuer: string
  /** URL of the authorization endpoint. Default: `issuer` + `/authorize` when an `AuthorizationEndpoint` is given. */
  readonly authorization_endpoint?: string | undefined
  /** URL of the token endpoint. Default: `issuer` + `/token` when a `TokenEndpoint` is given. */
  readonly token_endpoint?: string | undefined
  /** URL of the server's JWK Set (e.g. the keys of signed access tokens). */
  readonly jwks_uri?: string | undefined
  /** URL of the dynamic client registration endpoint (RFC 7591). */
  readonly registration_endpoint?: string | undefined
  /** RECOMMENDED. The scope values the server supports, each an RFC 6749 §3.3 scope token. */
  readonly scopes_supported?: readonly string[] | undefined
  /** REQUIRED. Computed from the authorization endpoint; a claim may only narrow it. */
  readonly response_types_supported?: readonly string[] | undefined
  /** Computed: `query`, `fragment`, `form_post` when there is an authorization endpoint; a claim may only narrow it. */
  readonly response_modes_supported?: readonly string[] | undefined
  /** Computed from the token endpoint's grants, plus `implicit`; a claim may only narrow it. */
  readonly grant_types_supported?: readonly string[] | undefined
  /** Computed: `client_secret_basic`, `client_secret_post`, and `none` when a grant admits public clients. */
  readonly token_endpoint_auth_methods_supported?: readonly string[] | undefined
  /** JWS algorithms for `private_key_jwt` / `client_secret_jwt` at the token endpoint; oauthkit supports neither. */
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[] | undefined
  /** URL of human-readable documentation for developers. */
  readonly service_documentation?: string | undefined
  /** Languages of the user interface, as BCP 47 tags. */
  readonly ui_locales_supported?: readonly string[] | undefined
  /** URL of the policy on how a client may use the data the server provides. */
  readonly op_policy_uri?: string | undefined
  /** URL of the server's terms of service. */
  readonly op_tos_uri?: string | undefined
  /** URL of the revocation endpoint (RFC 7009). Default: `issuer` + `/revoke` when a revocation endpoint is given. */
  readonly revocation_endpoint?: string | undefined
  /** Computed from the revocation endpoint; a claim may only narrow it. */
  readonly revocation_endpoint_auth_methods_supported?: readonly string[] | undefined
  /** JWS algorithms for JWT client authentication at the revocation endpoint. */
  readonly revocation_endpoint_auth_signing_alg_values_supported?: readonly string[] | undefined
  /** URL of the introspection endpoint (RFC 7662). Default: `issuer` + `/introspect` when one is given. */
  readonly introspection_endpoint?: string | undefined
  /** Computed from the introspection endpoint; a claim may only narrow it. */
  readonly introspection_endpoint_auth_methods_supported?: readonly string[] | undefined
  /** JWS algorithms for JWT client authentication at the introspection endpoint. */
  readonly introspection_endpoint_auth_signing_alg_values_supported?: readonly string[] | undefined
  /** Computed from the `code` response type's PKCE methods (RFC 7636); a claim may only narrow it. */
  readonly code_challenge_methods_supported?: readonly string[] | undefined
  /** A JWT whose claims are metadata values (RFC 8414 §2.1), signed by the application. */
  readonly signed_metadata?: string | undefined
  /** Computed: `true` when there is an authorization endpoint, which sends `iss` in every response (RFC 9207 §3). */
  readonly authorization_response_iss_parameter_supported?: boolean | undefined
  /**
   * `true` when the server accepts a `client_id` that is the URL of a client ID metadata document
   * (draft-ietf-oauth-client-id-metadata-document §5). Given by the application, passed through.
   */
  readonly client_id_metadata_document_supported?: boolean | undefined
  /** Any other claim, passed through. */
  readonly [claim: string]: unknown
}
