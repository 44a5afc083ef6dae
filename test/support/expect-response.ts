/**
 * Whole-response assertions for token endpoint answers (RFC 6749 §5.1, §5.2): status, headers and body together.
 */
import { expect } from 'vitest'
import { type OAuth2ErrorCode, type OAuth2Response } from '../../src/index.js'

/**
 * An opaque token of the default generators (`randomTokenGenerator`, codes): the time of issue in milliseconds (9
 * characters of base 36), a `.`, and 256 random bits in base64url.
 */
export const OPAQUE_TOKEN = /^[0-9a-z]{9}\.[A-Za-z0-9_-]{43}$/

/** The headers RFC 6749 §5.1 and §5.2 require on every token endpoint response, errors included. */
export const NO_STORE = {
  'Content-Type': 'application/json;charset=UTF-8',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
} as const

/**
 * Asserts an RFC 6749 §5.2 error response: its status, exactly `error` and a non-empty `error_description` (matching
 * `description` when given), and the no-store headers.
 */
export function expectErrorResponse(response: OAuth2Response, status: number, error: OAuth2ErrorCode, description: RegExp = /\S/): void {
  expect(response.status).toBe(status)
  expect(response.headers).toMatchObject(NO_STORE)
  const body: unknown = JSON.parse(response.body)
  expect(body).toEqual({ error, error_description: expect.stringMatching(description) })
}

/** Asserts a 200 RFC 6749 §5.1 token response with the no-store headers, and returns its body. */
export function expectTokenResponse(response: OAuth2Response): Record<string, unknown> {
  expect(response.status, response.body).toBe(200)
  expect(response.headers).toEqual(NO_STORE)
  const body = JSON.parse(response.body) as Record<string, unknown>
  expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), expires_in: expect.any(Number) })
  return body
}
