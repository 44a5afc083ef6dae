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

/** The first ```ts block of the '## Usage' section. */
function usageExample(readme: string): string {
  const usage = readme.split(/^## /m).find((section) => section.startsWith('Usage\n'))
  const block = usage === undefined ? null : /^```ts\n([\s\S]*?)^```$/m.exec(usage)
  if (block?.[1] === undefined) throw new Error("README.md has no ```ts block under '## Usage'")
  return block[1]
}

describe('README usage example', () => {
  let dir: string
  let source: string

  beforeAll(async () => {
    await mkdir(scratch, { recursive: true })
    dir = await mkdtemp(join(scratch, 'run-'))
    // The example leaves `status`, `headers` and `body` in scope: print them for the test to read.
    source = `${usageExample(await readFile(join(root, 'README.md'), 'utf8'))}\nconsole.log(JSON.stringify({ status, headers, body }))\n`
  })

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('issues a client credentials token when run against the built package', async () => {
    expect(existsSync(join(root, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    })
    const file = join(dir, 'example.mjs')
    await writeFile(file, outputText)
    const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: root, timeout: 20_000 })
    const { status, headers, body } = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { status: number; headers: Record<string, string>; body: string }
    expect(status, body).toBe(200)
    expect(headers['Cache-Control']).toBe('no-store')
    const token = JSON.parse(body) as Record<string, unknown>
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 3600 })
    expect(token.access_token).toEqual(expect.any(String))
  }, 30_000)

  it("type-checks against the package's published declarations", async () => {
    expect(existsSync(join(root, 'dist', 'index.d.ts')), 'dist/ is missing: run `npm run build` (npm test does)').toBe(true)
    const file = join(dir, 'example.ts')
    await writeFile(file, source)
    const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), (path) => ts.sys.readFile(path))
    const { options } = ts.convertCompilerOptionsFromJson(base.config.compilerOptions, root)
    const program = ts.createProgram([file], { ...options, noEmit: true, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [] })
    const diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))
    expect(diagnostics).toEqual([])
  }, 30_000)
})
