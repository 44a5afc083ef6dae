/**
 * OpenID Provider metadata (OpenID Connect Discovery 1.0 §3) served at `/.well-known/openid-configuration` (§4): the
 * RFC 8414 document of the server plus what a relying party needs for OpenID Connect.
 *
 * @module
 */
import { OPENID_SCOPE, STANDARD_CLAIMS } from '../core/claims.js'
import { type RequestBody, type RequestHeaders, type RequestUri } from '../core/request.js'
import { type OAuth2Response } from '../core/response.js'
import { type IdTokenSigner } from '../tokens/id-token.js'
import { type AuthorizationServerMetadata } from './metadata-document.js'
import { type MetadataEndpoint } from './metadata.js'

/** The well-known path of OpenID Connect Discovery §4, appended to the issuer. */
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration'

/** What {@link openIdProviderMetadata} adds to a server's metadata. */
export interface OpenIDProviderOptions {
  /** Signs the ID tokens: its `algorithms` are `id_token_signing_alg_values_supported`, its issuer must be the server's. */
  readonly idTokenSigner: IdTokenSigner
  /** URL of the UserInfo endpoint; default the issuer + `/userinfo`. */
  readonly userinfoEndpoint?: string | undefined
  /** The claims the server can answer (`claims_supported`); default every standard claim (Core §5.1). */
  readonly claimsSupported?: readonly string[] | undefined
}

/**
 * The claims OpenID Connect Discovery §3 adds to `metadata` (which holds the RFC 8414 claims the application gives):
 * `userinfo_endpoint`, `subject_types_supported` (`public`), `id_token_signing_alg_values_supported`,
 * `claims_supported`, `scopes_supported` with `openid`, and `request_uri_parameter_supported: false` (its default is
 * `true`, and oauthkit takes no `request_uri`). A `scopes_supported` given without `openid` gets it added.
 *
 * @throws TypeError when `jwks_uri` is missing (Discovery §3 requires it: relying parties verify ID tokens with it) or
 *   the signer's issuer is not `issuer`
 * @see {@link https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata | OpenID Connect Discovery §3}
 */
export function openIdProviderMetadata(
  issuer: string,
  metadata: Omit<AuthorizationServerMetadata, 'issuer'>,
  options: OpenIDProviderOptions,
): Omit<AuthorizationServerMetadata, 'issuer'> {
  if (metadata.jwks_uri === undefined) throw new TypeError('OpenID Connect needs jwks_uri in the metadata (OpenID Connect Discovery section 3)')
  if (options.idTokenSigner.issuer !== issuer) {
    throw new TypeError(`The ID token signer's issuer ${options.idTokenSigner.issuer} differs from the server's ${issuer} (OpenID Connect Discovery section 3)`)
  }
  const scopes = metadata.scopes_supported as readonly string[] | undefined
  return {
    ...metadata,
    scopes_supported: scopes === undefined ? [OPENID_SCOPE] : scopes.includes(OPENID_SCOPE) ? scopes : [OPENID_SCOPE, ...scopes],
    userinfo_endpoint: options.userinfoEndpoint ?? `${issuer.replace(/\/$/, '')}/userinfo`,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...options.idTokenSigner.algorithms],
    claims_supported: [...(options.claimsSupported ?? STANDARD_CLAIMS)],
    request_uri_parameter_supported: false,
  }
}

/** The claims Discovery §3 marks REQUIRED, beside `issuer`. */
const REQUIRED = ['authorization_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported'] as const

/**
 * Serves a server's metadata document, built with {@link openIdProviderMetadata}, at the OpenID Connect well-known
 * URI. The same document as RFC 8414's, so that `issuer` and every endpoint are identical in both (§4.3: the
 * `issuer` must be the one the relying party asked, and the `iss` of the ID tokens).
 *
 * @see {@link https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig | OpenID Connect Discovery §4}
 */
export class OpenIDConfigurationEndpoint {
  /** `issuer` + `/.well-known/openid-configuration` (Discovery §4: appended, after any path of the issuer). */
  readonly wellKnownUri: string

  /** @throws TypeError when the document lacks a claim Discovery §3 requires, or `openid` in `scopes_supported` */
  constructor(private readonly metadata: MetadataEndpoint) {
    const { claims } = metadata
    for (const name of REQUIRED) {
      if (claims[name] === undefined) throw new TypeError(`The OpenID Provider metadata needs ${name} (OpenID Connect Discovery section 3)`)
    }
    if (!(claims.scopes_supported ?? []).includes(OPENID_SCOPE)) throw new TypeError('scopes_supported must list openid (OpenID Connect Discovery section 3)')
    this.wellKnownUri = `${claims.issuer.replace(/\/$/, '')}${OPENID_CONFIGURATION_PATH}`
  }

  /** The document. */
  get claims(): Readonly<AuthorizationServerMetadata> {
    return this.metadata.claims
  }

  /**
   * Answers a request for the document: 200 with the JSON for `GET` (headers only for `HEAD`), 405 otherwise;
   * public, cacheable, readable from any origin. Never rejects.
   *
   * @see {@link https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationResponse | OpenID Connect Discovery §4.2}
   */
  createOpenIDConfigurationResponse(uri: RequestUri, httpMethod = 'GET', body?: RequestBody, headers?: RequestHeaders): Promise<OAuth2Response> {
    return this.metadata.createMetadataResponse(uri, httpMethod, body, headers)
  }
}
