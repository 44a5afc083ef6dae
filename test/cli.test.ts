/**
 * The `oauthkit` command: `main(argv)` run in-process against temporary SQLite files and the memory store (help, exit
 * codes, one-line errors, clients, users, keys, databases that cannot be opened, serve's checks before it listens),
 * then `serve` as a user runs it, from the built `dist/bin.js` in a child process (startup lines, /healthz, the
 * request log, a graceful SIGINT).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request as httpRequest, type Server } from 'node:http'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SigningKeys } from '../src/app/keys.js'
import { main, openStore, serveRateLimit } from '../src/cli.js'
import { type Store } from '../src/store/store.js'
import { basic } from './support/memory-validator.js'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/** Everything a test opened, closed or removed after it, newest first. */
const cleanups: (() => Promise<void> | void)[] = []
let stdout: string[]
let stderr: string[]

beforeEach(() => {
  stdout = []
  stderr = []
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void stdout.push(args.map(String).join(' ')))
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void stderr.push(args.map(String).join(' ')))
})

afterEach(async () => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A fresh temporary directory, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oauthkit-cli-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `--db` of a fresh SQLite file, and its path. */
function sqlite(): { db: string; file: string } {
  const file = join(tempDir(), 'oauthkit.db')
  return { db: `sqlite:${file}`, file }
}

interface Run {
  code: number
  out: string
  err: string
}

/** Runs the CLI in-process; what it printed is what it printed during this run only. */
async function run(...argv: string[]): Promise<Run> {
  stdout.length = 0
  stderr.length = 0
  const code = await main(argv)
  return { code, out: stdout.join('\n'), err: stderr.join('\n') }
}

/** The JSON a `--json` command printed. */
async function json<T = Record<string, unknown>>(...argv: string[]): Promise<T> {
  const result = await run(...argv, '--json')
  expect(result, result.err).toMatchObject({ code: 0, err: '' })
  return JSON.parse(result.out) as T
}

/** A failure: the exit code, and one line on stderr starting with `oauthkit:`, without a stack trace. */
function expectFailure(result: Run, code: 1 | 2, message: RegExp): void {
  expect(result.code, result.err).toBe(code)
  expect(result.err.split('\n')).toHaveLength(1)
  expect(result.err).toMatch(/^oauthkit: /)
  expect(result.err).toMatch(message)
  expect(`${result.out}\n${result.err}`).not.toMatch(/\n\s+at /)
}

/** Opens the store a test's CLI runs used, closed after the test. */
async function open(db: string): Promise<Store> {
  const store = await openStore(db)
  cleanups.push(() => store.close())
  return store
}

/** Listens on a free loopback port, so that the port is in use; closed after the test. */
async function busyPort(): Promise<number> {
  const server: Server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

/** Fails when `promise` takes longer than `ms`: serve must return after an error, never hang. */
function within<T>(promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)))
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

describe('oauthkit --help', () => {
  it.each([
    [['--help'], ['serve', 'clients', 'users', 'keys', '--db', 'OAUTHKIT_DB']],
    [['-h'], ['serve', 'clients', 'users', 'keys']],
    [['help'], ['serve', 'clients', 'users', 'keys']],
    [
      ['serve', '--help'],
      ['--port', '--host', '--issuer', '--db', '--config', '--token-format', '--trust-proxy', 'OAUTHKIT_PORT', 'OAUTHKIT_DB'],
    ],
    [['serve', '--help'], ['--login-limit', '--token-client-limit', '--token-address-limit', '--no-rate-limit', '5/900', 'OAUTHKIT_LOGIN_LIMIT']],
    [
      ['serve', '--help'],
      ['--client-metadata-documents', '--client-metadata-documents-scope', '--client-metadata-documents-allow-loopback', 'DEVELOPMENT AND TESTS ONLY', 'OAUTHKIT_CLIENT_METADATA_DOCUMENTS'],
    ],
    [['clients', '--help'], ['add', 'list', 'show', 'remove', 'rotate-secret', '--name', '--redirect-uri', '--grant-type', '--scope', '--public', '--json', '--db']],
    [['clients', 'add', '--help'], ['--name', '--redirect-uri', '--grant-type', '--scope', '--public', '--json']],
    [['clients', 'rotate-secret', '-h'], ['rotate-secret']],
    [['users', '--help'], ['add', 'list', 'update', 'remove', 'passwd', 'signout', '--username', '--password', '--claim', 'stdin', '--db']],
    [['users', 'passwd', '--help'], ['passwd', '--password']],
    [['keys', '--help'], ['rotate', '--db', '--json']],
    [['keys', 'rotate', '--help'], ['rotate', '--db']],
  ])('oauthkit %j exits 0 and describes its options', async (argv, mentions) => {
    const result = await run(...argv)
    expect(result.code).toBe(0)
    expect(result.err).toBe('')
    expect(result.out).toMatch(/^Usage: oauthkit/)
    for (const mention of mentions) expect(result.out).toContain(mention)
  })

  it('prints the usage and exits 2 without a command', async () => {
    const result = await run()
    expect(result.code).toBe(2)
    expect(result.out).toMatch(/^Usage: oauthkit <command>/)
  })

  it.each([['clients'], ['users'], ['keys']])('prints the usage of %s and exits 2 without an action', async (command) => {
    const result = await run(command)
    expect(result.code).toBe(2)
    expect(result.out).toMatch(new RegExp(`^Usage: oauthkit ${command}`))
  })
})

describe('bad usage: one line, exit 2', () => {
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['clients', 'frob', '--db', 'memory'], /unknown clients action 'frob'/],
    [['users', 'frob', '--db', 'memory'], /unknown users action 'frob'/],
    [['keys', 'frob', '--db', 'memory'], /unknown keys action 'frob'/],
    [['clients', 'list', '--bogus', '--db', 'memory'], /--bogus/],
    [['users', 'add', '--nope', '--db', 'memory'], /--nope/],
    [['serve', '--bogus'], /--bogus/],
    [['keys', 'rotate', '--force'], /--force/],
    [['clients', 'add', '--name'], /--name/],
    [['users', 'list', '--db', 'sqlite:'], /--db sqlite: needs a path/],
  ])('oauthkit %j', async (argv, message) => {
    expectFailure(await run(...argv), 2, message)
  })
})

describe('oauthkit clients', () => {
  it('add --json prints the client with RFC 7591 names, and its client_secret authenticates it', async () => {
    const { db } = sqlite()
    const client = await json(
      'clients', 'add', '--name', 'Photo Printer', '--redirect-uri', 'https://printer.example/cb', '--redirect-uri', 'https://printer.example/cb2',
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--scope', 'read write', '--db', db,
    )
    expect(client).toEqual({
      client_id: expect.any(String),
      client_secret: expect.any(String),
      client_name: 'Photo Printer',
      redirect_uris: ['https://printer.example/cb', 'https://printer.example/cb2'],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'read write',
      token_endpoint_auth_method: 'client_secret_basic',
    })
    const store = await open(db)
    expect(await store.clients.authenticate(client.client_id as string, client.client_secret as string)).toMatchObject({ clientId: client.client_id })
    expect(await store.clients.authenticate(client.client_id as string, 'wrong')).toBeUndefined()
  })

  it('add --auth-method client_secret_post registers a client that authenticates in the form body (RFC 7591 §2)', async () => {
    const { db } = sqlite()
    const client = await json('clients', 'add', '--name', 'rp', '--redirect-uri', 'https://rp.example/cb', '--scope', 'openid', '--auth-method', 'client_secret_post', '--db', db)
    expect(client.token_endpoint_auth_method).toBe('client_secret_post')
    expect((await (await open(db)).clients.get(client.client_id as string))?.tokenEndpointAuthMethod).toBe('client_secret_post')
    expectFailure(await run('clients', 'add', '--name', 'x', '--scope', 'a', '--auth-method', 'private_key_jwt', '--db', db), 2, /--auth-method must be/)
    expectFailure(await run('clients', 'add', '--name', 'x', '--scope', 'a', '--public', '--auth-method', 'client_secret_post', '--db', db), 2, /confidential/)
  })

  it('add without --json prints the client_secret once, with a warning to keep it', async () => {
    const result = await run('clients', 'add', '--name', 'backend', '--grant-type', 'client_credentials', '--scope', 'read', '--db', 'memory')
    expect(result.code).toBe(0)
    expect(result.out).toMatch(/^client_id: \S+$/m)
    expect(result.out).toMatch(/^client_secret: \S+$/m)
    expect(result.out).toMatch(/shown only now/)
  })

  it('add --public prints no secret and token_endpoint_auth_method none', async () => {
    const { db } = sqlite()
    const client = await json('clients', 'add', '--public', '--name', 'SPA', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--scope', 'read', '--db', db)
    expect(client).not.toHaveProperty('client_secret')
    expect(client.token_endpoint_auth_method).toBe('none')
    const stored = await (await open(db)).clients.get(client.client_id as string)
    expect(stored?.tokenEndpointAuthMethod).toBe('none')
    expect(stored?.secretHash).toBeUndefined()
  })

  it('list, show and remove act on the same database', async () => {
    const { db } = sqlite()
    const a = await json('clients', 'add', '--name', 'A', '--redirect-uri', 'https://a.example/cb', '--scope', 'read', '--db', db)
    const b = await json('clients', 'add', '--name', 'B', '--grant-type', 'client_credentials', '--scope', 'admin', '--db', db)
    const { client_secret: _, ...shownA } = a
    const list = await json<Record<string, unknown>[]>('clients', 'list', '--db', db)
    expect(list).toHaveLength(2)
    expect(list).toContainEqual(shownA)
    expect(list.map((client) => client.client_id)).toContain(b.client_id)
    for (const client of list) expect(client).not.toHaveProperty('client_secret')

    expect(await json('clients', 'show', a.client_id as string, '--db', db)).toEqual(shownA)
    const plain = await run('clients', 'list', '--db', db)
    expect(plain.out).toContain(`${a.client_id as string}\tA\tauthorization_code,refresh_token`)

    const removed = await run('clients', 'remove', a.client_id as string, '--db', db)
    expect(removed.code).toBe(0)
    expect(removed.out).toContain(a.client_id as string)
    expectFailure(await run('clients', 'show', a.client_id as string, '--db', db), 1, /no client/)
    expectFailure(await run('clients', 'remove', a.client_id as string, '--db', db), 1, /no client/)
    expect((await json<unknown[]>('clients', 'list', '--db', db)).length).toBe(1)
  })

  it('rotate-secret gives a new secret that works, and the old one stops working', async () => {
    const { db } = sqlite()
    const client = await json('clients', 'add', '--name', 'backend', '--grant-type', 'client_credentials', '--scope', 'read', '--db', db)
    const rotated = await json('clients', 'rotate-secret', client.client_id as string, '--db', db)
    expect(rotated).toEqual({ client_id: client.client_id, client_secret: expect.any(String) })
    expect(rotated.client_secret).not.toBe(client.client_secret)
    const store = await open(db)
    expect(await store.clients.authenticate(client.client_id as string, client.client_secret as string)).toBeUndefined()
    expect(await store.clients.authenticate(client.client_id as string, rotated.client_secret as string)).toBeDefined()
  })

  it('rotate-secret refuses a public or unknown client (exit 1), and needs a CLIENT_ID (exit 2)', async () => {
    const { db } = sqlite()
    const spa = await json('clients', 'add', '--public', '--name', 'SPA', '--redirect-uri', 'http://127.0.0.1:8080/cb', '--scope', 'read', '--db', db)
    expectFailure(await run('clients', 'rotate-secret', spa.client_id as string, '--db', db), 1, /no confidential client/)
    expectFailure(await run('clients', 'rotate-secret', 'no-such-client', '--db', db), 1, /no-such-client/)
    expectFailure(await run('clients', 'rotate-secret', '--db', db), 2, /needs a CLIENT_ID/)
    expectFailure(await run('clients', 'show', '--db', db), 2, /needs a CLIENT_ID/)
  })

  it.each([
    ['an unknown grant type', ['--name', 'x', '--grant-type', 'magic', '--redirect-uri', 'https://a.example/cb'], /grant type magic/i],
    ['a redirect URI with a fragment', ['--name', 'x', '--redirect-uri', 'https://a.example/cb#top'], /Redirect URI https:\/\/a\.example\/cb#top .*fragment/],
    ['a relative redirect URI', ['--name', 'x', '--redirect-uri', '/cb'], /Redirect URI \/cb/],
    ['no redirect URI for the code grant', ['--name', 'x'], /redirect URI/],
    ['no --name', ['--redirect-uri', 'https://a.example/cb'], /needs --name/],
    ['a public client_credentials client', ['--name', 'x', '--public', '--grant-type', 'client_credentials'], /public client/],
    ['a malformed scope', ['--name', 'x', '--redirect-uri', 'https://a.example/cb', '--scope', 'read "write"'], /[Ss]cope/],
  ])('add refuses %s with one line and exit 2, and stores nothing', async (_, args, message) => {
    const { db } = sqlite()
    expectFailure(await run('clients', 'add', ...args, '--db', db), 2, message)
    expect(await (await open(db)).clients.list()).toEqual([])
  })
})

describe('oauthkit users', () => {
  it('add --password creates a user who can sign in with that password', async () => {
    const { db } = sqlite()
    const added = await json('users', 'add', '--username', 'alice', '--password', 'open sesame', '--db', db)
    expect(added).toEqual({ user_id: expect.any(String), username: 'alice' })
    const store = await open(db)
    expect(await store.users.authenticate('alice', 'open sesame')).toMatchObject({ userId: added.user_id })
  })

  it('add reads the password from stdin without --password', async () => {
    const { db } = sqlite()
    vi.spyOn(process, 'stdin', 'get').mockReturnValue(Readable.from(['piped secret\n']) as unknown as typeof process.stdin)
    const result = await run('users', 'add', '--username', 'bob', '--db', db)
    expect(result.code, result.err).toBe(0)
    expect(result.out).toMatch(/added user bob/)
    const store = await open(db)
    expect(await store.users.authenticate('bob', 'piped secret')).toBeDefined()
  })

  it('add refuses an empty password on stdin (exit 2) and a missing --username (exit 2)', async () => {
    const { db } = sqlite()
    vi.spyOn(process, 'stdin', 'get').mockReturnValue(Readable.from([]) as unknown as typeof process.stdin)
    expectFailure(await run('users', 'add', '--username', 'bob', '--db', db), 2, /needs a password/)
    expectFailure(await run('users', 'add', '--password', 'x', '--db', db), 2, /needs --username/)
    expect(await (await open(db)).users.list()).toEqual([])
  })

  it('add refuses a username that exists already, with exit 1', async () => {
    const { db } = sqlite()
    expect((await run('users', 'add', '--username', 'alice', '--password', 'one', '--db', db)).code).toBe(0)
    expectFailure(await run('users', 'add', '--username', 'alice', '--password', 'two', '--db', db), 1, /alice exists already/)
    const store = await open(db)
    expect(await store.users.authenticate('alice', 'one')).toBeDefined()
  })

  it('list, passwd and remove act on the same database', async () => {
    const { db } = sqlite()
    const alice = await json('users', 'add', '--username', 'alice', '--password', 'old password', '--db', db)
    const bob = await json('users', 'add', '--username', 'bob', '--password', 'bob password', '--db', db)
    const listed = await json<unknown[]>('users', 'list', '--db', db)
    expect(listed).toHaveLength(2)
    expect(listed).toEqual(expect.arrayContaining([alice, bob]))
    expect((await run('users', 'list', '--db', db)).out.split('\n').sort()).toEqual([`alice\t${alice.user_id as string}`, `bob\t${bob.user_id as string}`])

    // A session of alice's, as the ready server would have started it: passwd ends it, as signout ends the next.
    const store = await open(db)
    const aliceId = alice.user_id as string
    const session = (id: string) => ({ sessionHash: id, userId: aliceId, authTime: 1, expiresAt: Math.floor(Date.now() / 1000) + 3600 })
    await store.sessions.insert(session('first'))
    const passwd = await run('users', 'passwd', 'alice', '--password', 'new password', '--db', db)
    expect(passwd.code).toBe(0)
    expect(passwd.out).toMatch(/sessions are ended and their tokens revoked/)
    expect(await store.users.authenticate('alice', 'old password')).toBeUndefined()
    expect(await store.users.authenticate('alice', 'new password')).toBeDefined()
    expect(await store.sessions.get('first', 0)).toBeUndefined()
    expectFailure(await run('users', 'passwd', 'carol', '--password', 'x', '--db', db), 1, /no user carol/)

    await store.sessions.insert(session('second'))
    expect(await json('users', 'signout', 'alice', '--json', '--db', db)).toEqual({ username: 'alice', sessions_ended: 1 })
    expect(await store.sessions.get('second', 0)).toBeUndefined()
    expectFailure(await run('users', 'signout', 'carol', '--db', db), 1, /no user carol/)

    expect((await run('users', 'remove', 'alice', '--db', db)).code).toBe(0)
    expect(await json('users', 'list', '--db', db)).toEqual([bob])
    expectFailure(await run('users', 'remove', 'alice', '--db', db), 1, /no user alice/)
    expectFailure(await run('users', 'remove', '--db', db), 2, /needs a USERNAME/)
  })
})

describe('oauthkit users: profile claims (OpenID Connect, issue 18)', () => {
  it('add --claim (repeatable) stores standard claims of their types, which list --json shows', async () => {
    const { db } = sqlite()
    const added = await json(
      'users', 'add', '--username', 'alice', '--password', 'pw',
      '--claim', 'name=Alice Liddell', '--claim', 'email=alice@example.com', '--claim', 'email_verified=true',
      '--claim', 'updated_at=1700000000', '--claim', 'address={"country":"GB","locality":"Oxford"}', '--db', db,
    )
    const claims = { name: 'Alice Liddell', email: 'alice@example.com', email_verified: true, updated_at: 1_700_000_000, address: { country: 'GB', locality: 'Oxford' } }
    expect((await (await open(db)).users.get(added.user_id as string))?.claims).toEqual(claims)
    expect(await json('users', 'list', '--db', db)).toEqual([{ user_id: added.user_id, username: 'alice', claims }])
  })

  it('update USERNAME --claim sets and, with an empty value, removes claims, keeping the others', async () => {
    const { db } = sqlite()
    const added = await json('users', 'add', '--username', 'alice', '--password', 'pw', '--claim', 'name=Alice', '--claim', 'locale=en-GB', '--db', db)
    const updated = await run('users', 'update', 'alice', '--claim', 'given_name=Alice', '--claim', 'locale=', '--claim', 'address=1 Rabbit Hole', '--db', db)
    expect(updated.code, updated.err).toBe(0)
    expect(updated.out).toMatch(/updated the profile of alice/)
    expect((await (await open(db)).users.get(added.user_id as string))?.claims).toEqual({ name: 'Alice', given_name: 'Alice', address: { formatted: '1 Rabbit Hole' } })
  })

  it.each([
    [['--claim', 'nickname'], /name=value/],
    [['--claim', 'shoe_size=42'], /shoe_size is not a standard claim/],
    [['--claim', 'sub=someone'], /sub is the user id/],
    [['--claim', 'email_verified=yes'], /email_verified must be true or false/],
    [['--claim', 'updated_at=yesterday'], /updated_at must be a whole number/],
    [['--claim', 'name=a\u0007b'], /name must be a non-empty printable string/],
    [['--claim', 'address={"planet":"Mars"}'], /address has no member planet/],
  ])('refuses a malformed claim %j with exit 2, before asking for a password, and changes nothing', async (claim, message) => {
    const { db } = sqlite()
    // An empty stdin: were the password asked for first, the answer would be "needs a password", not the claim's error.
    vi.spyOn(process, 'stdin', 'get').mockReturnValue(Readable.from([]) as unknown as typeof process.stdin)

    expectFailure(await run('users', 'add', '--username', 'bob', ...claim, '--db', db), 2, message)
    expect(await (await open(db)).users.list()).toEqual([])
    await json('users', 'add', '--username', 'alice', '--password', 'pw', '--claim', 'name=Alice', '--db', db)
    expectFailure(await run('users', 'update', 'alice', ...claim, '--db', db), 2, message)
    expect((await (await open(db)).users.getByUsername('alice'))?.claims).toEqual({ name: 'Alice' })
  })

  it('update needs a --claim and an existing user', async () => {
    const { db } = sqlite()
    await json('users', 'add', '--username', 'alice', '--password', 'pw', '--db', db)
    expectFailure(await run('users', 'update', 'alice', '--db', db), 2, /needs at least one --claim/)
    expectFailure(await run('users', 'update', 'carol', '--claim', 'name=C', '--db', db), 1, /no user carol/)
  })
})

describe('oauthkit keys rotate', () => {
  it('starts signing with a new key and keeps the old one published', async () => {
    const { db } = sqlite()
    const store = await open(db)
    const keys = await SigningKeys.load(store, { maxTokenLifetime: 3600, reloadInterval: 0 })
    cleanups.push(() => keys.stop())
    const before = keys.current().kid
    const { kid } = await json<{ kid: string }>('keys', 'rotate', '--db', db)
    expect(kid).not.toBe(before)
    await keys.reload()
    expect(keys.current().kid).toBe(kid)
    expect(keys.jwks().keys.map((key) => key.kid)).toEqual([kid, before])
    expect((await run('keys', 'rotate', '--db', db)).out).toMatch(/^now signing with key \S+$/)
  })
})

describe('oauthkit registration-tokens', () => {
  it('add prints a token once, stored only as a digest with its expiry and uses; list shows no token; remove ends it', async () => {
    const { db } = sqlite()
    const before = Math.floor(Date.now() / 1000)
    const added = await json<{ id: string; token: string; expires_at: string; uses_left: number }>('registration-tokens', 'add', '--expires-in', '2h', '--uses', '3', '--db', db)
    expect(added.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(added.uses_left).toBe(3)
    const store = await open(db)
    const [record] = await store.initialAccessTokens.list()
    expect(record).toMatchObject({ id: added.id, usesLeft: 3 })
    expect(record?.expiresAt).toBeGreaterThanOrEqual(before + 7200)
    expect(record?.expiresAt).toBeLessThanOrEqual(before + 7202)
    expect(await store.initialAccessTokens.isValid(added.token, before)).toBe(true)
    const listed = await run('registration-tokens', 'list', '--db', db)
    expect(listed.out).toContain(added.id)
    expect(listed.out).not.toContain(added.token)
    // Defaults: seven days, unlimited uses; `never` for no expiry.
    const text = await run('registration-tokens', 'add', '--db', db)
    expect(text.out).toMatch(/^token: [A-Za-z0-9_-]{43}$/m)
    expect(text.out).toMatch(/uses_left: unlimited/)
    expect(text.out).toMatch(/shown only now/)
    expect((await json<{ expires_at: string }>('registration-tokens', 'add', '--expires-in', 'never', '--db', db)).expires_at).toBe('never')
    expect((await run('registration-tokens', 'remove', added.id, '--db', db)).code).toBe(0)
    expect((await run('registration-tokens', 'list', '--db', db)).out).not.toContain(added.id)
    expectFailure(await run('registration-tokens', 'remove', added.id, '--db', db), 1, /no registration token/)
  })

  it.each([
    ['an expiry of another form', ['add', '--expires-in', 'soon'], /--expires-in must be a duration/],
    ['zero uses', ['add', '--uses', '0'], /--uses must be a positive whole number/],
    ['remove without an id', ['remove'], /needs an ID/],
    ['an unknown action', ['rotate'], /unknown registration-tokens action/],
  ])('refuses %s with exit 2', async (_, args, message) => {
    expectFailure(await run('registration-tokens', ...args, '--db', 'memory'), 2, message)
  })
})

describe('the database', () => {
  it('reports an unreachable PostgreSQL server in one line, exit 1, naming the database without its password', async () => {
    const result = await within(run('clients', 'list', '--db', 'postgres://nobody:hunter2@127.0.0.1:1/x'), 10_000)
    expectFailure(result, 1, /cannot open the database PostgreSQL postgres:\/\/\*\*\*@127\.0\.0\.1:1\/x/)
    expect(result.err).not.toContain('hunter2')
    expect(result.err).not.toContain('nobody')
  })

  it('gives up on a database server that accepts the connection but never answers: exit 1 in one line, no hang', async () => {
    // A firewall that drops packets, or a port that is not PostgreSQL's, looks like this to the client.
    const sockets = new Set<Socket>()
    const silent = createNetServer((socket) => void sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy()
      return new Promise<void>((resolve) => silent.close(() => resolve()))
    })
    const { port } = silent.address() as AddressInfo
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OAUTHKIT_') && !name.startsWith('PG')))
    const child = spawn(process.execPath, [join(root, 'dist', 'bin.js'), 'clients', 'list', '--db', `postgres://nobody:hunter2@127.0.0.1:${port}/x`], { env })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    expect(await within(exited, 4000).catch(() => 'still waiting for the database after 4 s')).toBe(1)
    expectFailure({ code: 1, out: '', err: err.trimEnd() }, 1, new RegExp(`cannot open the database PostgreSQL postgres://\\*\\*\\*@127\\.0\\.0\\.1:${port}/x`))
  }, 10_000)

  it('reports a SQLite file in a missing directory in one line, exit 1', async () => {
    const missing = join(tempDir(), 'no', 'such', 'dir', 'oauthkit.db')
    expectFailure(await run('users', 'list', '--db', `sqlite:${missing}`), 1, new RegExp(`cannot open the database SQLite ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`))
    expect(existsSync(missing)).toBe(false)
  })

  it('takes the database from OAUTHKIT_DB when --db is not given', async () => {
    const { db } = sqlite()
    vi.stubEnv('OAUTHKIT_DB', db)
    const client = await json('clients', 'add', '--name', 'from env', '--grant-type', 'client_credentials', '--scope', 'read')
    expect(await (await open(db)).clients.get(client.client_id as string)).toBeDefined()
  })

  it('works on --db memory', async () => {
    const client = await json('clients', 'add', '--name', 'demo', '--grant-type', 'client_credentials', '--scope', 'read', '--db', 'memory')
    expect(client.client_secret).toEqual(expect.any(String))
  })
})

describe('oauthkit serve: refused before it listens', () => {
  it('fails with exit 1 and one line when the port is in use, and returns', async () => {
    const port = await busyPort()
    const result = await within(run('serve', '--port', String(port), '--db', 'memory'))
    expectFailure(result, 1, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`))
  })

  it('closes the store when the port is in use: the SQLite file can be opened and has no WAL left', async () => {
    const port = await busyPort()
    const { db, file } = sqlite()
    expectFailure(await within(run('serve', '--port', String(port), '--db', db)), 1, /already in use/)
    expect(existsSync(`${file}-wal`)).toBe(false)
    expect(await (await open(db)).clients.list()).toEqual([])
  })

  it.each([
    ['beyond loopback without --issuer', ['--host', '0.0.0.0'], /--issuer https/],
    // Issue 16, item 8: a loopback http issuer does not make listening on every interface safe.
    ['beyond loopback with a loopback http issuer', ['--host', '0.0.0.0', '--issuer', 'http://127.0.0.1:3114'], /beyond loopback, needs a TLS-terminating proxy/],
    ['beyond loopback with an https issuer but no --trust-proxy', ['--host', '0.0.0.0', '--issuer', 'https://as.example.com'], /needs a TLS-terminating proxy/],
    // Issue 16, item 16: it would start, then refuse every /token request as not TLS.
    ['an https issuer without --trust-proxy', ['--issuer', 'https://as.example.com'], /an https issuer needs --trust-proxy/],
    ['a plain http issuer beyond loopback', ['--issuer', 'http://example.com'], /plain http is accepted only for a loopback issuer/],
    ['an issuer that is not a URL', ['--issuer', 'example.com'], /--issuer must be a URL/],
    ['an unknown token format', ['--token-format', 'xml'], /--token-format must be opaque or jwt, got xml/],
    ['a signing algorithm oauthkit does not sign with', ['--signing-alg', 'HS256'], /--signing-alg must be ES256, RS256 or EdDSA, got HS256/],
    ['a port that is not a number', ['--port', 'http'], /--port must be a port number/],
    ['a port out of range', ['--port', '70000'], /--port must be a port number/],
    ['a rate limit without its window', ['--login-limit', '5'], /--login-limit must be N\/SECONDS .* or off, got 5 /],
    ['a rate limit of zero', ['--token-client-limit', '0/60'], /--token-client-limit must be N\/SECONDS/],
    ['an unknown registration policy', ['--registration', 'maybe'], /--registration must be off, open or token, got maybe/],
    ['a malformed registration scope', ['--registration', 'open', '--registration-scope', 'read  write'], /--registration-scope must be scope tokens/],
    ['an unused-registration ttl of zero', ['--registration', 'open', '--registration-unused-ttl', '0'], /--registration-unused-ttl must be a positive whole number/],
    ['an inactive-registration ttl that is not a number', ['--registration', 'token', '--registration-inactive-ttl', '90d'], /--registration-inactive-ttl must be a positive whole number/],
    ['a resource that is not an absolute URI', ['--resource', 'api'], /--resource must be an absolute URI/],
    ['a resource with a fragment', ['--resource', 'https://api.example.com/#x'], /--resource must be an absolute URI without a fragment/],
    ['a refresh retry window that is not a number', ['--refresh-retry-window', 'half'], /--refresh-retry-window must be a positive whole number/],
    ['a malformed client metadata documents scope', ['--client-metadata-documents', '--client-metadata-documents-scope', 'a "b'], /--client-metadata-documents-scope must be scope tokens/],
    ['the loopback development option alone', ['--client-metadata-documents-allow-loopback'], /--client-metadata-documents-allow-loopback needs --client-metadata-documents/],
    [
      'the loopback development option with an https issuer',
      ['--client-metadata-documents', '--client-metadata-documents-allow-loopback', '--issuer', 'https://as.example.com', '--trust-proxy'],
      /--client-metadata-documents-allow-loopback is for local development only/,
    ],
    [
      'the loopback development option beyond loopback',
      ['--client-metadata-documents', '--client-metadata-documents-allow-loopback', '--host', '0.0.0.0', '--issuer', 'https://as.example.com', '--trust-proxy'],
      /--client-metadata-documents-allow-loopback is for local development only/,
    ],
  ])('refuses %s with exit 2', async (_, args, message) => {
    expectFailure(await within(run('serve', ...args, '--db', 'memory')), 2, message)
  })

  it.each([
    ['a database that persists', { users: [] }, 'sqlite', /--seed is for --db memory/],
    ['a file that is not JSON', 'not json', 'memory', /cannot read --seed .*seed\.json/],
    ['an unknown member', { users: [], admins: [] }, 'memory', /unknown member admins/],
    ['a user without a password', { users: [{ username: 'alice' }] }, 'memory', /users\[0\] lacks password/],
    ['an unknown client field', { clients: [{ name: 'a', scopes: ['read'], secret: 'x' }] }, 'memory', /clients\[0\] has an unknown field secret/],
    ['a client the store refuses', { clients: [{ name: 'a', scopes: ['read'], grantTypes: ['authorization_code'], redirectUris: ['not a uri'] }] }, 'memory', /clients\[0\]: .*redirect/i],
  ])('refuses --seed with %s, exit 2', async (_, content, kind, message) => {
    const dir = tempDir()
    const seed = join(dir, 'seed.json')
    writeFileSync(seed, typeof content === 'string' ? content : JSON.stringify(content))
    const db = kind === 'memory' ? 'memory' : sqlite().db
    expectFailure(await within(run('serve', '--port', '0', '--seed', seed, '--db', db)), 2, message)
  })

  it('reads port, db and tokenFormat from --config FILE', async () => {
    const dir = tempDir()
    const config = join(dir, 'oauthkit.json')
    writeFileSync(config, JSON.stringify({ tokenFormat: 'xml' }))
    expectFailure(await run('serve', '--config', config, '--db', 'memory'), 2, /--token-format must be opaque or jwt, got xml/)
    const port = await busyPort()
    writeFileSync(config, JSON.stringify({ port, db: 'memory' }))
    expectFailure(await within(run('serve', '--config', config)), 1, new RegExp(`port ${port} .*already in use`))
    const missing = join(dir, 'missing', 'oauthkit.db')
    writeFileSync(config, JSON.stringify({ port: 0, db: `sqlite:${missing}` }))
    expectFailure(await within(run('serve', '--config', config)), 1, /cannot open the database SQLite .*missing/)
  })

  it.each([
    ['a missing file', null, /cannot read --config/],
    ['invalid JSON', '{ port: 3000 ', /is not a JSON object/],
    ['a JSON array', '[3000]', /is not a JSON object/],
    ['a JSON string', '"port"', /is not a JSON object/],
  ])('refuses --config with %s, exit 2', async (_, content, message) => {
    const config = join(tempDir(), 'oauthkit.json')
    if (content !== null) writeFileSync(config, content)
    expectFailure(await run('serve', '--config', config, '--db', 'memory'), 2, message)
  })

  it('takes the port from OAUTHKIT_PORT, the database from OAUTHKIT_DB and the config from OAUTHKIT_CONFIG', async () => {
    const port = await busyPort()
    vi.stubEnv('OAUTHKIT_PORT', String(port))
    vi.stubEnv('OAUTHKIT_DB', 'memory')
    expectFailure(await within(run('serve')), 1, new RegExp(`port ${port} .*already in use`))
    vi.stubEnv('OAUTHKIT_TOKEN_FORMAT', 'xml')
    expectFailure(await run('serve'), 2, /got xml/)
    const config = join(tempDir(), 'bad.json')
    writeFileSync(config, '[]')
    vi.stubEnv('OAUTHKIT_CONFIG', config)
    expectFailure(await run('serve'), 2, /--config .*bad\.json is not a JSON object/)
  })
})

describe('oauthkit serve: rate limits', () => {
  it('takes each limit from its flag, else the environment, else --config, else the default; off turns one off', () => {
    expect(serveRateLimit({}, {}, {})).toEqual({ loginPerUsername: undefined, loginPerAddress: undefined, tokenPerClient: undefined, tokenPerAddress: undefined })
    const env = { OAUTHKIT_LOGIN_LIMIT: '10/600', OAUTHKIT_TOKEN_CLIENT_LIMIT: 'off' }
    const file = { loginLimit: '1/1', tokenAddressLimit: '50/60' }
    expect(serveRateLimit({ 'login-limit': '3/60' }, env, file)).toEqual({
      loginPerUsername: { maxFailures: 3, windowSeconds: 60 },
      loginPerAddress: { maxFailures: 3, windowSeconds: 60 },
      tokenPerClient: false,
      tokenPerAddress: { maxFailures: 50, windowSeconds: 60 },
    })
    expect(serveRateLimit({}, env, file)).toMatchObject({ loginPerUsername: { maxFailures: 10, windowSeconds: 600 } })
  })

  it('turns every limit off with --no-rate-limit, OAUTHKIT_NO_RATE_LIMIT=1 or "rateLimit": false', () => {
    expect(serveRateLimit({ 'no-rate-limit': true }, {}, {})).toBe(false)
    expect(serveRateLimit({}, { OAUTHKIT_NO_RATE_LIMIT: '1' }, {})).toBe(false)
    expect(serveRateLimit({}, {}, { rateLimit: false })).toBe(false)
  })
})

describe('oauthkit serve, running (node dist/bin.js in a child process)', () => {
  /** A running `oauthkit serve`: its output so far, and a promise of its exit code. */
  interface Served {
    child: ChildProcess
    lines: () => string[]
    errors: () => string
    url: string
    exited: Promise<number | null>
  }

  /** Starts `node dist/bin.js serve --port 0 …` and waits for its "next step" lines. */
  async function serve(...args: string[]): Promise<Served> {
    expect(existsSync(join(root, 'dist', 'bin.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('OAUTHKIT_')))
    const child = spawn(process.execPath, [join(root, 'dist', 'bin.js'), 'serve', '--port', '0', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    const lines = () => out.split('\n').filter((line) => line !== '')
    await within(
      new Promise<void>((resolve, reject) => {
        const check = () => (/clients add|nothing persists/.test(out) ? resolve() : undefined)
        child.stdout.on('data', check)
        void exited.then((code) => reject(new Error(`serve exited with ${String(code)}: ${err}`)))
      }),
      10_000,
    )
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]
    if (url === undefined) throw new Error(`no listening line in:\n${out}`)
    return { child, lines, errors: () => err, url, exited }
  }

  it('--client-metadata-documents: the metadata says client_id_metadata_document_supported; the loopback development option warns loudly first', async () => {
    const plain = await serve('--db', 'memory', '--client-metadata-documents')
    const metadata = (await (await fetch(`${plain.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(metadata.client_id_metadata_document_supported).toBe(true)
    expect(plain.errors()).not.toMatch(/WARNING/)
    // Without the development option, a document on loopback is refused with a page saying why.
    const page = await fetch(`${plain.url}/authorize?response_type=code&client_id=${encodeURIComponent('https://127.0.0.1:9/client.json')}`)
    expect(page.status).toBe(400)
    expect(await page.text()).toContain('127.0.0.1, which is not a public address')

    const dev = await serve('--db', 'memory', '--client-metadata-documents', '--client-metadata-documents-allow-loopback')
    expect(dev.errors()).toMatch(/\*{20,}\noauthkit: WARNING: --client-metadata-documents-allow-loopback is on\. .*LOOPBACK/)
    expect(dev.errors()).toMatch(/local development and tests ONLY/)
    const off = await serve('--db', 'memory')
    expect((await (await fetch(`${off.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>).not.toHaveProperty('client_id_metadata_document_supported')
  })

  // Issue 16, item 6: connections that send nothing are closed, and the number open at once is capped.
  it('closes a connection that sends nothing after --idle-timeout, and refuses one past --max-connections with a log line', async () => {
    const served = await serve('--db', 'memory', '--idle-timeout', '1', '--max-connections', '3')
    const { port } = new URL(served.url)
    const open = async () => {
      const socket = connect(Number(port), '127.0.0.1')
      const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
      socket.on('error', () => {})
      await new Promise((resolve) => socket.once('connect', resolve))
      return { socket, closed }
    }
    const started = Date.now()
    const silent = await Promise.all([open(), open(), open()])
    const extra = await open()
    // Past the cap: closed at once, long before any timeout.
    expect((await within(extra.closed, 2_000)) - started).toBeLessThan(900)
    await vi.waitFor(() => expect(served.errors()).toMatch(/3 connections are open, the --max-connections cap/))
    // The silent ones: closed after about a second of silence, not kept.
    for (const { closed } of silent) expect((await within(closed, 5_000)) - started).toBeGreaterThanOrEqual(900)
    for (const { socket } of [...silent, extra]) socket.destroy()
    // Still serving.
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200)
  })

  it('--registration token: /register needs a token from registration-tokens add, spends its uses, and /register/CLIENT_ID manages the client', async () => {
    const { db } = sqlite()
    const { token } = await json<{ token: string }>('registration-tokens', 'add', '--uses', '1', '--db', db)
    const served = await serve('--db', db, '--registration', 'token', '--registration-inactive-ttl', '0')
    const register = (authorization?: string) =>
      fetch(`${served.url}/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(authorization === undefined ? {} : { Authorization: authorization }) },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
      })
    expect((await register()).status).toBe(401)
    const created = await register(`Bearer ${token}`)
    expect(created.status).toBe(201)
    const body = (await created.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string }
    expect(body.registration_client_uri).toBe(`${served.url}/register/${body.client_id}`)
    expect((await register(`Bearer ${token}`)).status).toBe(401)
    const read = await fetch(body.registration_client_uri, { headers: { Authorization: `Bearer ${body.registration_access_token}` } })
    expect(read.status).toBe(200)
    expect(((await read.json()) as { client_id: string }).client_id).toBe(body.client_id)
  })

  it('prints where it listens, where the data lives and the next step, answers /healthz and logs one line per request, without the query', async () => {
    const { db, file } = sqlite()
    const served = await serve('--db', db)
    const port = new URL(served.url).port
    const startup = served.lines().join('\n')
    expect(startup).toContain(`oauthkit: listening on http://127.0.0.1:${port}, issuer http://127.0.0.1:${port}`)
    expect(startup).toContain(`oauthkit: data in SQLite ${file}`)
    expect(startup).toMatch(/users add --username \S+ --db /)
    expect(startup).toMatch(/clients add --name \S+ --redirect-uri \S+ .*--db /)
    const before = served.lines().length

    const health = await fetch(`${served.url}/healthz?token=secret-in-query`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const metadata = (await (await fetch(`${served.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>
    expect(metadata.issuer).toBe(served.url)
    expect((await fetch(`${served.url}/authorize?client_id=x&state=secret-state`, { redirect: 'manual' })).status).toBe(400)

    await vi.waitFor(() => expect(served.lines().length).toBe(before + 3))
    const entries = served.lines().slice(before).map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(entries).toEqual([
      expect.objectContaining({ method: 'GET', path: '/healthz', status: 200, remote: '127.0.0.1' }),
      expect.objectContaining({ method: 'GET', path: '/.well-known/oauth-authorization-server', status: 200 }),
      expect.objectContaining({ method: 'GET', path: '/authorize', status: 400 }),
    ])
    expect(served.lines().slice(before).join('\n')).not.toMatch(/\?|secret/)

    served.child.kill('SIGINT')
    expect(await within(served.exited)).toBe(0)
  })

  /**
   * Sends a client credentials token request whose body arrives in two parts, with SIGINT in between (once serve said
   * it is shutting down); resolves to the answer.
   */
  function tokenRequestAcrossSigint(served: Served, client: Record<string, unknown>, agent: Agent | false): Promise<{ status: number; body: string; connection: string | undefined }> {
    const { hostname, port } = new URL(served.url)
    const body = 'grant_type=client_credentials&scope=read'
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        {
          host: hostname,
          port,
          path: '/token',
          method: 'POST',
          agent,
          headers: {
            Authorization: basic(client.client_id as string, client.client_secret as string),
            'Content-Type': 'application/x-www-form-urlencoded',
            'Content-Length': String(body.length),
          },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection }))
        },
      )
      request.on('error', reject)
      request.write(body.slice(0, 10), () => {
        // Give the server the time to start handling the request, then stop it while the body is still coming.
        setTimeout(() => {
          served.child.kill('SIGINT')
          vi.waitFor(() => expect(served.lines()).toContain('oauthkit: shutting down'))
            .then(() => request.end(body.slice(10)))
            .catch(reject)
        }, 150)
      })
    })
  }

  it('on SIGINT finishes the request in flight, closes the store and exits 0', async () => {
    const { db, file } = sqlite()
    const client = await json('clients', 'add', '--name', 'backend', '--grant-type', 'client_credentials', '--scope', 'read', '--db', db)
    const served = await serve('--db', db)
    const answer = await within(tokenRequestAcrossSigint(served, client, false))
    expect(answer.status, answer.body).toBe(200)
    expect(JSON.parse(answer.body)).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) })
    expect(await within(served.exited)).toBe(0)
    // Closed: SQLite removes the WAL when its last connection closes, and the file opens again with its data.
    expect(existsSync(`${file}-wal`)).toBe(false)
    const store = await open(db)
    expect(await store.clients.get(client.client_id as string)).toBeDefined()
  })

  it('on SIGINT closes a keep-alive connection once its request is answered, and exits at once', async () => {
    const { db } = sqlite()
    const client = await json('clients', 'add', '--name', 'backend', '--grant-type', 'client_credentials', '--scope', 'read', '--db', db)
    const served = await serve('--db', db)
    // Browsers and fetch keep connections open; shutting down must not wait for them to go idle and time out.
    const agent = new Agent({ keepAlive: true })
    cleanups.push(() => agent.destroy())
    const answer = await within(tokenRequestAcrossSigint(served, client, agent))
    expect(answer.status, answer.body).toBe(200)
    expect(await within(served.exited, 2000).catch(() => 'still running 2 s after answering the last request')).toBe(0)
  })
})
