/**
 * Redirect URI checks side by side: what RFC 6749 §3.1.2 accepts as a redirect URI, exact matching (RFC 9700 §4.1.3)
 * and the loopback port exception of RFC 8252 §7.3.
 */
import { describe, expect, it } from 'vitest'
import { isValidRedirectUri, matchRedirectUri } from '../../src/index.js'

describe('isValidRedirectUri (RFC 6749 §3.1.2)', () => {
  it.each([
    'https://client.example.com/cb',
    'https://client.example.com/cb?tenant=acme&lang=en',
    'https://client.example.com:8443/cb',
    'http://127.0.0.1:49152/cb',
    'http://[::1]/cb',
    'com.example.app:/oauth2redirect',
    'com.example.app:/oauth2redirect?x=1',
  ])('accepts the absolute URI %s', (uri) => {
    expect(isValidRedirectUri(uri)).toBe(true)
  })

  it.each([
    ['a fragment', 'https://client.example.com/cb#frag'],
    ['an empty fragment', 'https://client.example.com/cb#'],
    ['a fragment after a query', 'https://client.example.com/cb?x=1#y'],
    ['a fragment on a private-use scheme', 'com.example.app:/oauth2redirect#x'],
    ['an absolute path', '/cb'],
    ['a relative path', 'cb'],
    ['a network-path reference', '//client.example.com/cb'],
    ['a host without a scheme', 'client.example.com/cb'],
    ['a query only', '?code=x'],
    ['the empty string', ''],
    ['a scheme starting with a digit', '1https://client.example.com/cb'],
    ['an https URI without a host', 'https://'],
    ['a space inside the host', 'https://client example.com/cb'],
    ['a javascript: URI (RFC 6749 §10.6)', 'javascript:alert(document.cookie)'],
    ['a JavaScript: URI in another case', 'JavaScript:alert(1)'],
    ['a data: URI', 'data:text/html,<script>alert(1)</script>'],
    ['a vbscript: URI', 'vbscript:msgbox(1)'],
    ['a file: URI', 'file:///etc/passwd'],
  ])('rejects %s (%j)', (_case, uri) => {
    expect(isValidRedirectUri(uri)).toBe(false)
  })
})

describe('matchRedirectUri: exact matching (RFC 9700 §4.1.3)', () => {
  const registered = ['https://client.example.com/cb', 'https://client.example.com/cb2?tenant=acme']

  it.each(registered)('matches the registered URI %s itself', (uri) => {
    expect(matchRedirectUri(uri, registered)).toBe(uri)
  })

  it('matches nothing against an empty registration', () => {
    expect(matchRedirectUri('https://client.example.com/cb', [])).toBeUndefined()
  })

  it.each([
    ['a prefix', 'https://client.example.com/c'],
    ['a longer path', 'https://client.example.com/cb/evil'],
    ['a suffix', 'https://client.example.com/cbx'],
    ['path traversal', 'https://client.example.com/cb/../cb2?tenant=acme'],
    ['a dot segment', 'https://client.example.com/./cb'],
    ['a percent-encoded equivalent', 'https://client.example.com/%63b'],
    ['a trailing slash', 'https://client.example.com/cb/'],
    ['an added query', 'https://client.example.com/cb?x=1'],
    ['an empty query', 'https://client.example.com/cb?'],
    ['a query in another order', 'https://client.example.com/cb2?tenant=acme&x=1'],
    ['a query without its registration', 'https://client.example.com/cb2'],
    ['a fragment', 'https://client.example.com/cb#x'],
    ['an upper-case host', 'https://CLIENT.EXAMPLE.COM/cb'],
    ['an upper-case path', 'https://client.example.com/CB'],
    ['an upper-case scheme', 'HTTPS://client.example.com/cb'],
    ['another port', 'https://client.example.com:8443/cb'],
    ['the default port written out', 'https://client.example.com:443/cb'],
    ['http instead of https', 'http://client.example.com/cb'],
    ['userinfo before an attacker host', 'https://client.example.com@evil.example/cb'],
    ['userinfo before the registered host', 'https://user@client.example.com/cb'],
    ['a host suffix', 'https://client.example.com.evil.example/cb'],
    ['a subdomain', 'https://evil.client.example.com/cb'],
    ['leading whitespace', ' https://client.example.com/cb'],
    ['trailing whitespace', 'https://client.example.com/cb '],
  ])('does not match %s', (_case, presented) => {
    expect(matchRedirectUri(presented, registered)).toBeUndefined()
  })
})

describe('matchRedirectUri: the loopback port exception (RFC 8252 §7.3)', () => {
  it.each([
    ['127.0.0.1, registered without a port', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb'],
    ['127.0.0.1, registered with another port', 'http://127.0.0.1:8080/cb', 'http://127.0.0.1:49152/cb'],
    ['127.0.0.1, presented without a port', 'http://127.0.0.1:8080/cb', 'http://127.0.0.1/cb'],
    ['[::1], registered without a port', 'http://[::1]/cb', 'http://[::1]:49152/cb'],
    ['[::1], registered with another port', 'http://[::1]:8080/cb', 'http://[::1]:49152/cb'],
    ['127.0.0.1 with the same query', 'http://127.0.0.1/cb?x=1', 'http://127.0.0.1:1/cb?x=1'],
    ['127.0.0.1 with the highest port', 'http://127.0.0.1/cb', 'http://127.0.0.1:65535/cb'],
  ])('matches %s', (_case, registered, presented) => {
    expect(matchRedirectUri(presented, ['https://client.example.com/cb', registered])).toBe(registered)
  })

  it.each([
    ['another path', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/other'],
    ['a longer path', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb/x'],
    ['a trailing slash', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb/'],
    ['a missing path', 'http://127.0.0.1/', 'http://127.0.0.1:49152'],
    ['an added query', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb?x=1'],
    ['another query', 'http://127.0.0.1/cb?x=1', 'http://127.0.0.1:49152/cb?x=2'],
    ['a fragment', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152/cb#x'],
    ['the other loopback literal', 'http://127.0.0.1/cb', 'http://[::1]:49152/cb'],
    ['another loopback address', 'http://127.0.0.1/cb', 'http://127.0.0.2:49152/cb'],
    ['an expanded IPv6 loopback', 'http://[::1]/cb', 'http://[0:0:0:0:0:0:0:1]:49152/cb'],
    ['localhost (RFC 8252 §8.3)', 'http://localhost/cb', 'http://localhost:49152/cb'],
    ['localhost for a 127.0.0.1 registration', 'http://127.0.0.1/cb', 'http://localhost:49152/cb'],
    ['https on 127.0.0.1', 'https://127.0.0.1/cb', 'https://127.0.0.1:49152/cb'],
    ['https on [::1]', 'https://[::1]/cb', 'https://[::1]:49152/cb'],
    ['an upper-case scheme', 'http://127.0.0.1/cb', 'HTTP://127.0.0.1:49152/cb'],
    ['an empty port', 'http://127.0.0.1/cb', 'http://127.0.0.1:/cb'],
    ['a non-loopback host', 'http://app.example.com/cb', 'http://app.example.com:49152/cb'],
    ['a host that starts like a loopback', 'http://127.0.0.1/cb', 'http://127.0.0.1.evil.example:49152/cb'],
    ['a backslash for the first slash', 'http://127.0.0.1/cb', 'http://127.0.0.1:49152\\cb'],
    ['a port above 65535', 'http://127.0.0.1/cb', 'http://127.0.0.1:99999/cb'],
  ])('does not match %s', (_case, registered, presented) => {
    expect(matchRedirectUri(presented, [registered])).toBeUndefined()
  })

  it.each([
    ['a port as userinfo', 'http://127.0.0.1/', 'http://127.0.0.1:80@evil.com/'],
    ['a port as userinfo with a path', 'http://127.0.0.1/cb', 'http://127.0.0.1:80@evil.com/cb'],
    ['a loopback as userinfo', 'http://127.0.0.1/cb', 'http://127.0.0.1@evil.com/cb'],
    ['an IPv6 loopback as userinfo', 'http://[::1]/cb', 'http://[::1]:80@evil.com/cb'],
  ])('never matches userinfo tricks: %s', (_case, registered, presented) => {
    expect(matchRedirectUri(presented, [registered])).toBeUndefined()
    // The presented URI really points elsewhere: its host is not the loopback.
    expect(new URL(presented).hostname).not.toMatch(/^(127\.0\.0\.1|\[::1\])$/)
  })
})
