/**
 * The options of `StoreValidator`, and the user it hands to the core.
 *
 * @module
 */
import { type User } from '../types.js'
import { type StoreClientMetadataDocumentsPolicy } from './document-clients.js'
import { type StoreRegistrationPolicy } from './registration.js'

/** A user as `StoreValidator` hands it to the core: the `sub` of tokens, and the username for introspection. */
export interface StoreUser extends User {
  readonly username: string
}

/** Options of `StoreValidator`. */
export interface StoreValidatorOptions {
  /**
   * The authorization server's issuer identifier. Tokens requested without a `resource` (RFC 8707) get it as their
   * audience, as `signedTokenGenerator` does for `aud`, so introspection answers the same `aud` a JWT carries.
   */
  readonly issuer?: string | undefined
  /** Lifetime of refresh tokens in seconds; default 30 days. Rotation gives each new refresh token a full lifetime. */
  readonly refreshTokenExpiresIn?: number | undefined
  /**
   * Seconds during which a refresh token that was just rotated may be presented again by its client, as a client whose
   * refresh response was lost retries: it gets a fresh pair and nothing is revoked, as long as the token that replaced
   * it has not been used. After that, or once its successor was used, presenting it is reuse and ends the grant (RFC
   * 9700 §4.14.2). Default 30; 0 turns the window off.
   */
  readonly refreshTokenRetryWindow?: number | undefined
  /**
   * Which clients must use PKCE: `'always'` (default; RFC 9700 §2.1.1 recommends it for every client) or `'public'`
   * (public clients only, as RFC 9700 §2.1.1 requires at the least).
   */
  readonly pkceRequired?: 'always' | 'public' | undefined
  /** Seconds a client is told to wait (`Retry-After`) when the database is unreachable; default 5. */
  readonly retryAfter?: number | undefined
  /**
   * Who may register a client at a registration endpoint (RFC 7591), and manage it (RFC 7592): nobody when absent (the
   * default); with `policy: 'open'` anyone, with `policy: 'token'` whoever has an initial access token, for the
   * `scopes` given (a request for others is narrowed to these).
   */
  readonly registration?: StoreRegistrationPolicy | undefined
  /**
   * The protected resources (RFC 8707 absolute URIs) this server issues tokens for: any client may ask for them with
   * `resource`, a self-registered one included, besides the resources it is registered for. Default none.
   */
  readonly resources?: readonly string[] | undefined
  /**
   * Clients identified by the URL of their client ID metadata document (draft-ietf-oauth-client-id-metadata-document):
   * a `client_id` that is an https URL, and not a client of the store, is the client its document describes, fetched
   * safely and cached (see `ClientIdMetadataDocuments`). Off when absent.
   */
  readonly clientMetadataDocuments?: StoreClientMetadataDocumentsPolicy | undefined
}
