/**
 * Clients known by their client ID metadata document (draft-ietf-oauth-client-id-metadata-document), as
 * `StoreValidator` sees them: which `client_id`s are such clients, the client a document describes (fetched or cached),
 * and the row stored for their codes, tokens and consents to refer to.
 *
 * @module
 */
import { InvalidClientMetadataError, InvalidRequestError, TemporarilyUnavailableError, type OAuth2Error } from '../core/errors.js'
import { isClientIdUrl } from '../endpoints/client-id-metadata-document.js'
import { ClientIdMetadataDocumentError, ClientIdMetadataDocuments, type ClientIdMetadataDocumentsOptions } from './client-id-metadata-documents.js'
import { metadataDocumentClient } from './registration.js'
import { type ClientRecord, type Store } from './store.js'

/**
 * What {@link StoreValidatorOptions.clientMetadataDocuments} allows, and how documents are fetched: the options of
 * {@link ClientIdMetadataDocuments} (`allowLoopback` is for local development and tests only), or one built already.
 */
export interface StoreClientMetadataDocumentsPolicy extends ClientIdMetadataDocumentsOptions {
  /** The scopes a client of a metadata document may obtain; one whose document names no `scope` gets all of them. */
  readonly scopes: readonly string[]
  /** The fetcher to use instead of one made from the other options (e.g. to share its cache). */
  readonly documents?: ClientIdMetadataDocuments | undefined
}

/** The metadata-document clients of a `StoreValidator`. */
export class DocumentClients {
  /** The fetcher, with its cache. */
  readonly documents: ClientIdMetadataDocuments

  /** @param run - the validator's store call wrapper (an unreachable database becomes `temporarily_unavailable`) */
  constructor(
    private readonly store: Store,
    private readonly policy: StoreClientMetadataDocumentsPolicy,
    private readonly run: <T>(call: () => Promise<T>) => Promise<T>,
  ) {
    this.documents = policy.documents ?? new ClientIdMetadataDocuments(policy)
  }

  /**
   * Whether `clientId` is meant as a metadata document's URL: it starts with `https://`, or `http://`, which the
   * fetcher refuses with its reason unless the development option allows it.
   */
  mayBe(clientId: string): boolean {
    return isClientIdUrl(clientId, { allowHttpLoopback: true })
  }

  /**
   * Whether `clientId` is resolved through its metadata document, given the store's row under it: an operator's client
   * stored under a URL (a pre-registered document URL, draft §6.10) is the store's; a row stored for a metadata document
   * is never trusted as it is, and with documents off it stands for nothing.
   */
  isDocumentClient(clientId: string, stored: ClientRecord | undefined): boolean {
    if (stored !== undefined && stored.registration?.metadataDocument !== true) return false
    return this.mayBe(clientId)
  }

  /**
   * The client a metadata document describes, fetched or cached.
   *
   * @param refuse - makes the error of a document that cannot be used (a busy fetcher is `temporarily_unavailable`)
   */
  async resolve(clientId: string, refuse: (description: string) => OAuth2Error): Promise<ClientRecord> {
        try {
      return metadataDocumentClient(clientId, this.policy.scopes, await this.documents.resolve(clientId), Math.floor(Date.now() / 1000))
    } catch (error) {
      if (error instanceof ClientIdMetadataDocumentError && error.reason === 'busy') {
        throw new TemporarilyUnavailableError(error.description, { redirectable: false, headers: { 'Retry-After': '5' }, cause: error })
      }
      if (error instanceof ClientIdMetadataDocumentError || error instanceof InvalidClientMetadataError) {
        throw refuse(`The client ID metadata document cannot be used: ${error.description.charAt(0).toLowerCase()}${error.description.slice(1)}`)
      }
      throw error
    }
  }

  /**
   * Stores the row of a metadata document's client, if `clientId` is one and there is none yet, for its codes, tokens and consents to refer
   * to (the rows of the memory, SQLite and PostgreSQL stores have foreign keys to the client table).
   */
  async storeRow(clientId: string): Promise<void> {
    if (!this.mayBe(clientId)) return
    const stored = await this.run(() => this.store.clientTable.get(clientId))
    if (stored !== undefined) return
    const record = await this.resolve(clientId, (description) => new InvalidRequestError(description, { redirectable: false }))
    try {
      await this.run(() => this.store.clientTable.insert(record))
    } catch (error) {
      // Another request stored it at the same time.
      if ((await this.run(() => this.store.clientTable.get(clientId))) === undefined) throw error
    }
  }
}

/**
 * A client row as it may be used as it is: not the row of a metadata document's client, which is only a record (its
 * client is resolved through the document, or, with documents off, is no client at all).
 */
export function trustedClient(client: ClientRecord | undefined): ClientRecord | undefined {
  return client?.registration?.metadataDocument === true ? undefined : client
}
