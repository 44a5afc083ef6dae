/**
 * The README's usage example, run as a user would run it: against the built package (`dist/`, built by `npm test`),
 * imported as 'oauthkit' through the package's self-reference in package.json "exports".
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
// Inside the package, so that 'oauthkit' resolves to this package's dist/ (ignored by git and by tsconfig.json).
const scratch = join(root, 'test', '.tmp-readme')

/** The first ```ts block of a '## <title>' section. */
function example(readme: string, title: string): string {
  const section = readme.split(/^## /m).find((text) => text.startsWith(`${title}\n`))
  const block = section === undefined ? null : /^```ts\n([\s\S]*?)^```$/m.exec(section)
  if (block?.[1] === undefined) throw new Error(`README.md has no \`\`\`ts block under '## ${title}'`)
  return block[1]
}

/** Transpiles an example to JavaScript and runs it with Node in `cwd`; returns the JSON its last line printed. */
async function run(source: string, dir: string, cwd: string): Promise<Record<string, unknown>> {
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  })
  const file = join(dir, `example-${Math.random().toString(36).slice(2)}.mjs`)
  await writeFile(file, outputText)
  const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd, timeout: 20_000 })
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
}

describe('README usage example', () => {
  let dir: string
  let source: string

  beforeAll(async () => {
    await mkdir(scratch, { recursive: true })
    dir = await mkdtemp(join(scratch, 'run-'))
    // The example leaves `status`, `headers` and `body` in scope: print them for the test to read.
    source = `${example(await readFile(join(root, 'README.md'), 'utf8'), 'Usage')}\nconsole.log(JSON.stringify({ status, headers, body }))\n`
  })

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('issues a client credentials token when run against the built package', async () => {
    expect(existsSync(join(root, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const { status, headers, body } = (await run(source, dir, root)) as { status: number; headers: Record<string, string>; body: string }
    expect(status, body).toBe(200)
    expect(headers['Cache-Control']).toBe('no-store')
    const token = JSON.parse(body) as Record<string, unknown>
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    expect(token.access_token).toEqual(expect.any(String))
  }, 30_000)

  it.each(['Usage', 'Stores', 'OpenID Connect'])("the %s example type-checks against the package's published declarations", async (title) => {
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const file = join(dir, `example-${title}.ts`)
    await writeFile(file, example(await readFile(join(root, 'README.md'), 'utf8'), title))
    const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), (path) => ts.sys.readFile(path))
    const { options } = ts.convertCompilerOptionsFromJson(base.config.compilerOptions, root)
    // The core needs no Node types; the stores are Node batteries.
    const types = title === 'Usage' ? [] : ['node']
    // An example leaves its results for the reader: unused locals are fine there.
    const program = ts.createProgram([file], { ...options, noUnusedLocals: false, noEmit: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types, typeRoots: [join(root, 'node_modules', '@types')] })
    const diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
    expect(diagnostics).toEqual([])
  }, 30_000)

  it('the Stores example issues a token from a SQLite store it creates, with the client it registers', async () => {
    expect(existsSync(join(root, 'dist', 'store', 'sqlite', 'index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const stores = `${example(await readFile(join(root, 'README.md'), 'utf8'), 'Stores')}\nconsole.log(JSON.stringify({ status, body }))\n`
    // Run in the scratch directory, so that ./oauthkit.db is created there.
    const { status, body } = (await run(stores, dir, dir)) as { status: number; body: string }
    expect(status, body).toBe(200)
    expect(JSON.parse(body)).toMatchObject({ token_type: 'Bearer', scope: 'read' })
    expect(existsSync(join(dir, 'oauthkit.db'))).toBe(true)
  }, 30_000)

  it('the OpenID Connect example issues an ID token for its nonce and sign-in, and UserInfo answers the claims of email', async () => {
    expect(existsSync(join(root, 'dist', 'store', 'index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const openid = `${example(await readFile(join(root, 'README.md'), 'utf8'), 'OpenID Connect')}\nconsole.log(JSON.stringify({ id_token, clientId, userinfo }))\n`
    const { id_token, clientId, userinfo } = (await run(openid, dir, root)) as { id_token: string; clientId: string; userinfo: { status: number; headers: Record<string, string>; body: string } }
    const claims = JSON.parse(Buffer.from(id_token.split('.')[1] as string, 'base64url').toString()) as Record<string, unknown>
    expect(claims).toMatchObject({ iss: 'https://as.example.com', sub: 'alice', aud: clientId, nonce: 'n-0S6_WzA2Mj', amr: ['pwd'], auth_time: expect.any(Number) })
    expect(userinfo.status).toBe(200)
    expect(userinfo.headers['Cache-Control']).toBe('no-store')
    expect(JSON.parse(userinfo.body)).toEqual({ sub: 'alice', email: 'alice@example.com', email_verified: true })
  }, 30_000)
})
