/**
 * The standard claims of OpenID Connect Core §5.1 and the scopes that ask for them (§5.4): which claims a UserInfo
 * answer may carry for the scopes granted, and the checks a `sub` must pass before it is signed or sent (§2).
 *
 * @module
 */

/** The scope that turns an authorization request into an OpenID Connect one (OpenID Connect Core §3.1.2.1). */
export const OPENID_SCOPE = 'openid'

/**
 * The claims each scope asks for (OpenID Connect Core §5.4). A claim of one of these lists is released only when its
 * scope was granted.
 *
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims | OpenID Connect Core §5.4}
 */
export const SCOPE_CLAIMS: Readonly<Record<'profile' | 'email' | 'address' | 'phone', readonly string[]>> = Object.freeze({
  profile: Object.freeze([
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ]),
  email: Object.freeze(['email', 'email_verified']),
  address: Object.freeze(['address']),
  phone: Object.freeze(['phone_number', 'phone_number_verified']),
})

/** Every standard claim but `sub`, each with the scope that releases it. */
const SCOPE_OF_CLAIM: ReadonlyMap<string, string> = new Map(
  Object.entries(SCOPE_CLAIMS).flatMap(([scope, claims]) => claims.map((claim) => [claim, scope] as const)),
)

/** The standard claims (OpenID Connect Core §5.1), `sub` first: what discovery lists as `claims_supported`. */
export const STANDARD_CLAIMS: readonly string[] = Object.freeze(['sub', ...SCOPE_OF_CLAIM.keys()])

/**
 * The claims of `claims` that `scopes` release (OpenID Connect Core §5.4): a standard claim only with its scope,
 * any other claim as it is; `sub` is always left out (the caller sets it), and so is a claim whose value is
 * `undefined` or `null` (§5.3.2: a claim without a value is omitted, not sent as null).
 */
export function claimsForScopes(claims: Readonly<Record<string, unknown>>, scopes: readonly string[]): Record<string, unknown> {
  const released: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [name, value] of Object.entries(claims)) {
    if (name === 'sub' || value === undefined || value === null) continue
    const scope = SCOPE_OF_CLAIM.get(name)
    if (scope === undefined || scopes.includes(scope)) released[name] = value
  }
  return released
}

/**
 * A `sub` oauthkit may sign or send: 1 to 255 ASCII characters, none a control character (OpenID Connect Core §2).
 *
 * @throws Error (answered `server_error`) when the validator's `getSubject` answered anything else
 */
export function checkSubject(sub: unknown): string {
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 255 || !/^[\x20-\x7E]+$/.test(sub)) {
    throw new Error('getSubject must answer 1 to 255 printable ASCII characters (OpenID Connect Core section 2)')
  }
  return sub
}
