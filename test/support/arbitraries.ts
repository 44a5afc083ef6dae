/**
 * fast-check arbitraries shared by the endpoint property tests: nasty strings, form and object bodies, headers,
 * methods and URIs. Each endpoint's test gives the parameter names, values and credentials it knows; these add the
 * garbage around them.
 */
import fc from 'fast-check'
import { type RequestBody, type RequestHeaders } from '../../src/index.js'

/** Base64 of the UTF-8 bytes of `text` (lone surrogates become U+FFFD, as any encoder would send them). */
export function base64Utf8(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit))
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).map((point) => String.fromCodePoint(point))
const asciiChar = fc.integer({ min: 0, max: 0x7f }).map((unit) => String.fromCharCode(unit))
const formGarbage = fc.constantFrom('%', '+', '=', '&', ';', ' ', ':', '%zz', '%FF%FE', '%00', '%C3%A9', '%ED%A0%80', '%25', '%3A', '%2B')

/** Strings of any code units: ASCII, all of Unicode, lone surrogates and percent garbage. */
export const nasty = fc.string({
  unit: fc.oneof({ arbitrary: asciiChar, weight: 4 }, { arbitrary: anyCodePoint, weight: 2 }, loneSurrogate, formGarbage),
  maxLength: 24,
})

/** Values far larger than any parameter: long runs of plain, percent, non-ASCII and scope characters. */
export const huge = fc.constantFrom('x'.repeat(200_000), '%'.repeat(100_000), 'é'.repeat(100_000), 'read '.repeat(40_000).trim())

/** A parameter name: mostly one the endpoint knows, sometimes garbage. */
export function parameterNameOf(known: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: known, weight: 6 }, nasty)
}

/** A parameter value: mostly one the endpoint knows, else garbage, now and then a huge one. */
export function parameterValueOf(known: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: known, weight: 6 }, { arbitrary: nasty, weight: 3 }, { arbitrary: huge, weight: 1 })
}

/** Up to eight name/value pairs, names repeating at will. */
export function pairsOf(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<Array<[string, string]>> {
  return fc.array(fc.tuple(name, value), { maxLength: 8 })
}

/**
 * Form bodies: encoded, raw (percent garbage and bare `+` reach the decoder as they are), `URLSearchParams`, the
 * endpoint's own `garbage` forms, nasty text, or none.
 */
export function formBodyOf(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>, garbage: fc.Arbitrary<string>): fc.Arbitrary<RequestBody | undefined> {
  const pairs = pairsOf(name, value)
  return fc.oneof(
    pairs.map((list) => new URLSearchParams(list).toString()),
    // Raw concatenation: percent garbage and bare '+' reach the decoder as they are; some names have no '='.
    fc.array(fc.tuple(name, value, fc.boolean()), { maxLength: 8 }).map((list) =>
      list.map(([entryName, entryValue, bare]) => (bare ? entryName : `${entryName}=${entryValue}`)).join('&'),
    ),
    pairs.map((list) => new URLSearchParams(list)),
    garbage,
    nasty,
    fc.constant(undefined),
  )
}

/** Values an application might wrongly put in an object body: everything `RequestBody` does not allow, too. */
function looseValueOf(value: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: value, weight: 4 },
    { arbitrary: fc.array(value, { maxLength: 3 }), weight: 2 },
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.bigInt(),
    fc.constant(null),
    fc.constant(undefined),
    fc.object({ maxDepth: 1 }),
    fc.array(fc.anything({ maxDepth: 1, withNullPrototype: true }), { maxLength: 3 }),
    // Array items without a string form.
    fc.constant([Object.create(null)]),
  )
}

/** Object bodies, as a framework's body parser hands them over, with values of any type; an array; `null`. */
export function objectBodyOf(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<RequestBody> {
  return fc.oneof(
    fc.array(fc.tuple(name, looseValueOf(value)), { maxLength: 8 }).map((entries) => Object.fromEntries(entries) as unknown as RequestBody),
    // An array where an object was expected.
    pairsOf(name, value).map((list) => list as unknown as RequestBody),
    // A Fetch Request's `body` is null when there is none.
    fc.constant(null as unknown as RequestBody),
  )
}

/** Any body: form bodies three times as often as object bodies. */
export function bodyOf(name: fc.Arbitrary<string>, value: fc.Arbitrary<string>, garbage: fc.Arbitrary<string>): fc.Arbitrary<RequestBody | undefined> {
  return fc.oneof({ arbitrary: formBodyOf(name, value, garbage), weight: 3 }, { arbitrary: objectBodyOf(name, value), weight: 1 })
}

export const authorizationName = fc.constantFrom('Authorization', 'authorization', 'AUTHORIZATION')
export const contentTypeName = fc.constantFrom('Content-Type', 'content-type', 'CONTENT-TYPE')

/** Authorization values: mostly the endpoint's `known` ones, else garbage and Basic credentials of random bytes. */
export function authorizationValueOf(known: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: known, weight: 5 },
    { arbitrary: nasty, weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 32 }).map((bytes) => 'Basic ' + btoa(String.fromCharCode(...bytes))), weight: 1 },
    { arbitrary: fc.tuple(nasty, nasty).map(([id, secret]) => 'Basic ' + base64Utf8(`${id}:${secret}`)), weight: 1 },
  )
}

export const contentTypeValue = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded; charset=UTF-8',
      'APPLICATION/X-WWW-FORM-URLENCODED',
      'application/json',
      'text/plain',
      'multipart/form-data; boundary=x',
      '',
      ';',
    ),
    weight: 4,
  },
  nasty,
)

/**
 * Headers in every shape `RequestHeaders` allows: none, a plain object (some values arrays, as Node's
 * `IncomingHttpHeaders`, so Authorization repeats), name/value pairs, a `Headers` object.
 */
export function headersOf(authorizationValue: fc.Arbitrary<string>): fc.Arbitrary<RequestHeaders | undefined> {
  const headerEntry: fc.Arbitrary<[string, string]> = fc.oneof(
    { arbitrary: fc.tuple(authorizationName, authorizationValue), weight: 3 },
    { arbitrary: fc.tuple(contentTypeName, contentTypeValue), weight: 3 },
    fc.tuple(fc.oneof(fc.constantFrom('Accept', 'Cookie', 'X-Forwarded-Proto', 'Host', ''), nasty), nasty),
  )
  const headerEntries = fc.array(headerEntry, { maxLength: 5 })
  return fc.oneof(
    fc.constant(undefined),
    // A plain object, some values as arrays (Node's IncomingHttpHeaders), including repeated Authorization.
    fc
      .array(
        fc.tuple(
          fc.oneof(authorizationName, contentTypeName, nasty),
          fc.oneof(authorizationValue, contentTypeValue, fc.array(authorizationValue, { maxLength: 3 }), fc.constant(undefined)),
        ),
        { maxLength: 5 },
      )
      .map((entries) => Object.fromEntries(entries) as RequestHeaders),
    headerEntries.map((entries): RequestHeaders => entries),
    headerEntries.map((entries): RequestHeaders => {
      const result = new Headers()
      for (const [name, value] of entries) {
        try {
          result.append(name, value)
        } catch {
          // Headers refuses names and values no HTTP stack would deliver; leave them out.
        }
      }
      return result
    }),
  )
}

/** Methods: mostly `usual`, else the endpoint's `others` (other cases, other methods), else garbage. */
export function methodOf(usual: string, others: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof({ arbitrary: fc.constant(usual), weight: 8 }, { arbitrary: others, weight: 2 }, { arbitrary: nasty, weight: 1 })
}

/** URIs: mostly `usual`, else the endpoint's `others`, random https and http URLs, and garbage. */
export function uriOf(usual: string, others: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constant(usual), weight: 8 },
    { arbitrary: others, weight: 2 },
    fc.webUrl({ validSchemes: ['https'] }),
    fc.webUrl({ validSchemes: ['http'] }),
    nasty,
  )
}
