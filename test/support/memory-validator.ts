/**
 * A small but real in-memory RequestValidator for the tests: clients, users, codes and tokens in Maps, secrets
 * compared in constant time, codes and refresh tokens consumed once.
 */
import {
  RequestValidator,
  timingSafeEqual,
  type AuthorizationCode,
  type BearerTokenResponse,
  type Client,
  type IssuedAuthorizationCode,
  type StoredToken,
  type OAuth2Request,
  type RefreshTokenRecord,
  type TokenContext,
  type User,
  type UserClaims,
} from '../../src/index.js'

export interface TestClient extends Client {
  readonly secret?: string
  readonly redirectUris: readonly string[]
  readonly responseTypes: readonly string[]
  /** Default true; a confidential client may be exempted from PKCE. */
  readonly pkceRequired: boolean
  /** The resources (RFC 8707) the client may ask tokens for; default none. */
  readonly resources: readonly string[]
  readonly grantTypes: readonly string[]
  readonly scopes: readonly string[]
  readonly defaultScopes: readonly string[]
  /** A resource server: may introspect every token (the hook's default lets a client see only its own). */
  readonly resourceServer?: boolean
  /**
   * The one method a store-backed validator accepts the secret by (RFC 7591 §2); default `client_secret_basic`. The
   * double accepts either.
   */
  readonly tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post'
}

export interface TestUser extends User {
  readonly username: string
  readonly password: string
}

interface StoredCode extends AuthorizationCode<TestUser> {
  used: boolean
}

interface StoredRefreshToken extends RefreshTokenRecord<TestUser> {
  revoked: boolean
}

/** An access or refresh token as saved, with the refresh token it was issued with (its family). */
interface StoredTokenEntry extends StoredToken<TestUser> {
  revoked: boolean
  /** For an access token: the refresh token issued with it or used to obtain it. */
  readonly refreshToken?: string | undefined
}

export interface SavedToken {
  readonly token: BearerTokenResponse
  readonly context: TokenContext<TestClient, TestUser>
}

export class MemoryValidator extends RequestValidator<TestClient, TestUser> {
  readonly clients = new Map<string, TestClient>()
  readonly users = new Map<string, TestUser>()
  readonly codes = new Map<string, StoredCode>()
  readonly refreshTokens = new Map<string, StoredRefreshToken>()
  /** Every access and refresh token saved, by value. */
  readonly tokens = new Map<string, StoredTokenEntry>()
  readonly saved: SavedToken[] = []
  /** The claims of each user (OpenID Connect Core §5.1), by userId, for `getUserInfoClaims`. */
  readonly claims = new Map<string, UserClaims>()
  /** Undo steps of the transaction in progress; transactions run one at a time. */
  private journal: Array<() => void> | undefined
  private queue: Promise<unknown> = Promise.resolve()

  addClient(client: Partial<TestClient> & { clientId: string }): TestClient {
    const full: TestClient = {
      redirectUris: ['https://client.example.com/cb'],
      responseTypes: ['code'],
      pkceRequired: true,
      resources: [],
      grantTypes: ['authorization_code', 'password', 'client_credentials', 'refresh_token'],
      scopes: ['read', 'write'],
      defaultScopes: ['read'],
      ...client,
    }
    this.clients.set(full.clientId, full)
    return full
  }

  addUser(username: string, password: string): TestUser {
    const user = { userId: `user-${username}`, username, password }
    this.users.set(username, user)
    return user
  }

  addCode(code: string, stored: AuthorizationCode<TestUser>): void {
    this.codes.set(code, { ...stored, used: false })
  }

  addRefreshToken(token: string, stored: RefreshTokenRecord<TestUser>): void {
    this.refreshTokens.set(token, { ...stored, revoked: false })
  }

  override async clientAuthenticationRequired(request: OAuth2Request): Promise<boolean> {
    const client = request.clientId === undefined ? undefined : this.clients.get(request.clientId)
    return client === undefined || client.secret !== undefined
  }

  override async authenticateClient(request: OAuth2Request): Promise<TestClient | undefined> {
    const credentials = request.clientCredentials
    if (credentials === undefined) return undefined
    const client = this.clients.get(credentials.clientId)
    if (client?.secret === undefined) return undefined
    return (await timingSafeEqual(credentials.clientSecret, client.secret)) ? client : undefined
  }

  override async authenticateClientId(clientId: string): Promise<TestClient | undefined> {
    const client = this.clients.get(clientId)
    return client !== undefined && client.secret === undefined ? client : undefined
  }

  override async validateGrantType(_clientId: string, grantType: string, client: TestClient): Promise<boolean> {
    return client.grantTypes.includes(grantType)
  }

  override async getDefaultScopes(clientId: string): Promise<readonly string[]> {
    return this.clients.get(clientId)?.defaultScopes ?? []
  }

  override async validateScopes(_clientId: string, scopes: readonly string[], client: TestClient): Promise<boolean> {
    return scopes.every((scope) => client.scopes.includes(scope))
  }

  override async validateCode(_clientId: string, code: string): Promise<AuthorizationCode<TestUser> | undefined> {
    const stored = this.codes.get(code)
    return stored === undefined || stored.used ? undefined : stored
  }

  override async transaction<T>(_request: OAuth2Request, work: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const journal: Array<() => void> = []
      this.journal = journal
      try {
        return await work()
      } catch (error) {
        for (const undo of journal.reverse()) undo()
        throw error
      } finally {
        this.journal = undefined
      }
    }
    const result = this.queue.then(run, run)
    this.queue = result.catch(() => undefined)
    return result
  }

  override async invalidateAuthorizationCode(_clientId: string, code: string): Promise<boolean> {
    const stored = this.codes.get(code)
    if (stored === undefined || stored.used) return false
    stored.used = true
    this.journal?.push(() => {
      stored.used = false
    })
    return true
  }

  override async validateUser(username: string, password: string): Promise<TestUser | undefined> {
    const user = this.users.get(username)
    return user !== undefined && (await timingSafeEqual(password, user.password)) ? user : undefined
  }

  override async validateRefreshToken(refreshToken: string): Promise<RefreshTokenRecord<TestUser> | undefined> {
    const stored = this.refreshTokens.get(refreshToken)
    return stored === undefined || stored.revoked ? undefined : stored
  }

  override async invalidateRefreshToken(refreshToken: string): Promise<boolean> {
    const stored = this.refreshTokens.get(refreshToken)
    if (stored === undefined || stored.revoked) return false
    stored.revoked = true
    this.journal?.push(() => {
      stored.revoked = false
    })
    return true
  }

  override async saveBearerToken(token: BearerTokenResponse, context: TokenContext<TestClient, TestUser>, request: OAuth2Request): Promise<void> {
    this.saved.push({ token, context })
    const now = Math.floor(Date.now() / 1000)
    const owner = { clientId: context.client.clientId, user: context.user, username: context.user?.username }
    // The family: a new refresh token, or the one presented to a refresh without rotation.
    const family = token.refresh_token ?? (context.grantType === 'refresh_token' ? request.params.get('refresh_token') : undefined)
    this.tokens.set(token.access_token, {
      ...owner,
      tokenType: 'access_token',
      scopes: context.scopes,
      issuedAt: now,
      expiresAt: now + token.expires_in,
      revoked: false,
      refreshToken: family,
      audience: context.resources !== undefined && context.resources.length > 0 ? context.resources : undefined,
    })
    if (token.refresh_token !== undefined) {
      this.addRefreshToken(token.refresh_token, {
        clientId: context.client.clientId,
        user: context.user,
        scopes: context.refreshTokenScopes,
        resources: context.refreshTokenResources,
        authentication: context.authentication,
      })
      this.tokens.set(token.refresh_token, { ...owner, tokenType: 'refresh_token', scopes: context.refreshTokenScopes, issuedAt: now, revoked: false })
    }
  }

  override async getUserInfoClaims(user: TestUser): Promise<UserClaims> {
    return this.claims.get(user.userId) ?? {}
  }

  override async validateClientId(clientId: string): Promise<TestClient | undefined> {
    return this.clients.get(clientId)
  }

  override async getRedirectUris(_clientId: string, client: TestClient): Promise<readonly string[]> {
    return client.redirectUris
  }

  override async validateResponseType(_clientId: string, responseType: string, client: TestClient): Promise<boolean> {
    return client.responseTypes.includes(responseType)
  }

  override async isPkceRequired(_clientId: string, client: TestClient): Promise<boolean> {
    return client.pkceRequired
  }

  override async saveAuthorizationCode(code: string, issued: IssuedAuthorizationCode<TestUser>): Promise<void> {
    this.addCode(code, issued)
  }

  override async validateResources(_clientId: string, resources: readonly string[], client: TestClient): Promise<boolean> {
    return resources.every((resource) => client.resources.includes(resource))
  }

  override async validateBearerToken(token: string): Promise<StoredToken<TestUser> | undefined> {
    const stored = this.tokens.get(token)
    return stored === undefined || stored.revoked || stored.tokenType !== 'access_token' ? undefined : stored
  }

  override async mayIntrospect(token: StoredToken<TestUser>, client: TestClient, request: OAuth2Request): Promise<boolean> {
    return client.resourceServer === true || super.mayIntrospect(token, client, request)
  }

  override async introspectToken(token: string): Promise<StoredToken<TestUser> | undefined> {
    const stored = this.tokens.get(token)
    return stored === undefined || stored.revoked ? undefined : stored
  }

  override async revokeToken(token: string, tokenType: StoredToken['tokenType']): Promise<void> {
    const stored = this.tokens.get(token)
    if (stored === undefined) return
    stored.revoked = true
    if (tokenType === 'refresh_token') {
      const refresh = this.refreshTokens.get(token)
      if (refresh !== undefined) refresh.revoked = true
      // RFC 7009 §2.1: revoking a refresh token revokes the access tokens issued with it.
      for (const entry of this.tokens.values()) if (entry.refreshToken === token) entry.revoked = true
    }
  }
}

/** The `Authorization` header of HTTP Basic client authentication, encoded per RFC 6749 §2.3.1. */
export function basic(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return 'Basic ' + btoa(String.fromCharCode(...new TextEncoder().encode(`${encode(clientId)}:${encode(secret)}`)))
}

export const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' } as const
export const TOKEN_URI = 'https://as.example.com/token'
