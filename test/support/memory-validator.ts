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
  type OAuth2Request,
  type RefreshTokenRecord,
  type TokenContext,
  type User,
} from '../../src/index.js'

export interface TestClient extends Client {
  readonly secret?: string
  readonly grantTypes: readonly string[]
  readonly scopes: readonly string[]
  readonly defaultScopes: readonly string[]
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

export interface SavedToken {
  readonly token: BearerTokenResponse
  readonly context: TokenContext<TestClient, TestUser>
}

export class MemoryValidator extends RequestValidator<TestClient, TestUser> {
  readonly clients = new Map<string, TestClient>()
  readonly users = new Map<string, TestUser>()
  readonly codes = new Map<string, StoredCode>()
  readonly refreshTokens = new Map<string, StoredRefreshToken>()
  readonly saved: SavedToken[] = []

  addClient(client: Partial<TestClient> & { clientId: string }): TestClient {
    const full: TestClient = {
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

  override async invalidateAuthorizationCode(_clientId: string, code: string): Promise<boolean> {
    const stored = this.codes.get(code)
    if (stored === undefined || stored.used) return false
    stored.used = true
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
    return true
  }

  override async saveBearerToken(token: BearerTokenResponse, context: TokenContext<TestClient, TestUser>): Promise<void> {
    this.saved.push({ token, context })
    if (token.refresh_token !== undefined) {
      this.addRefreshToken(token.refresh_token, {
        clientId: context.client.clientId,
        user: context.user,
        scopes: context.refreshTokenScopes,
      })
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
