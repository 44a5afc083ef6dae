/**
 * The claims a user's profile may hold: the standard claims of OpenID Connect Core §5.1 (`sub` aside, which is the
 * user's id), each checked for the type §5.1 gives it, so that a UserInfo answer never carries a malformed value.
 *
 * @module
 */
import { STANDARD_CLAIMS } from '../core/claims.js'

/** Claims whose value is a boolean (§5.1). */
const BOOLEAN_CLAIMS: ReadonlySet<string> = new Set(['email_verified', 'phone_number_verified'])
/** The members of an address (§5.1.1). */
const ADDRESS_MEMBERS: ReadonlySet<string> = new Set(['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country'])
/** The longest string value kept: a profile field, not a document. */
const MAX_VALUE_LENGTH = 1000

/**
 * A copy of `claims` fit to store: only standard claims but `sub`, strings of printable characters (at most 1000),
 * booleans for `email_verified` and `phone_number_verified`, a whole number of seconds for `updated_at`, an object of
 * the §5.1.1 members (or a string, taken as `formatted`) for `address`.
 *
 * @throws TypeError naming the claim that does not fit
 * @see {@link https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims | OpenID Connect Core §5.1}
 */
export function checkUserClaims(claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TypeError('claims must be an object of claim names and values')
  const checked: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(claims)) {
    if (name === 'sub') throw new TypeError('sub is the user id; it is not a profile claim')
    if (!STANDARD_CLAIMS.includes(name)) throw new TypeError(`${name} is not a standard claim (OpenID Connect Core section 5.1)`)
    checked[name] = checkValue(name, value)
  }
  return checked
}

/**
 * A claim given as text (`name=value`, as on the command line) as its name and value: `true`/`false` for the boolean
 * claims, a number for `updated_at`, a JSON object or a plain string (`formatted`) for `address`; an empty value
 * means "remove it" (`undefined`).
 *
 * @throws TypeError when the text has no `=`, or the value does not fit the claim
 */
export function parseClaimArgument(text: string): [name: string, value: unknown] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new TypeError(`--claim takes name=value, got ${JSON.stringify(text)}`)
  const name = text.slice(0, eq)
  const raw = text.slice(eq + 1)
  if (raw === '') return [name, undefined]
  let value: unknown = raw
  if (BOOLEAN_CLAIMS.has(name)) value = raw === 'true' ? true : raw === 'false' ? false : raw
  else if (name === 'updated_at') value = /^\d+$/.test(raw) ? Number(raw) : raw
  else if (name === 'address' && raw.startsWith('{')) {
    try {
      value = JSON.parse(raw)
    } catch {
      throw new TypeError('address must be a JSON object of the members of OpenID Connect Core section 5.1.1, or a plain string')
    }
  }
  return [name, checkUserClaims({ [name]: value })[name]]
}

function checkValue(name: string, value: unknown): unknown {
  if (BOOLEAN_CLAIMS.has(name)) {
    if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false`)
    return value
  }
  if (name === 'updated_at') {
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw new TypeError('updated_at must be a whole number of seconds since the epoch')
    return value
  }
  if (name === 'address') {
    if (typeof value === 'string') return { formatted: checkString(name, value) }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('address must be an object or a string')
    const address: Record<string, string> = {}
    for (const [member, text] of Object.entries(value)) {
      if (!ADDRESS_MEMBERS.has(member)) throw new TypeError(`address has no member ${member} (OpenID Connect Core section 5.1.1)`)
      address[member] = checkString(`address.${member}`, text, true)
    }
    return address
  }
  return checkString(name, value)
}

function checkString(name: string, value: unknown, multiline = false): string {
  // Control characters (line breaks only in an address) and format characters would mislead whoever reads them.
  const forbidden = multiline ? /[\x00-\x09\x0B\x0C\x0E-\x1F\x7F\p{Cf}]/u : /[\p{Cc}\p{Cf}]/u
  if (typeof value !== 'string' || value === '' || value.length > MAX_VALUE_LENGTH || forbidden.test(value)) {
    throw new TypeError(`${name} must be a non-empty printable string of at most ${MAX_VALUE_LENGTH} characters`)
  }
  return value
}
