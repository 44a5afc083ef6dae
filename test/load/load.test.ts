/**
 * A short run of `npm run load` (load/run.mjs, issue 8 part 4): `oauthkit serve` from dist/ under mixed traffic for a
 * few seconds (client_credentials, introspection, the authorization code flow through the login and consent pages).
 * The bar is the script's own: zero errors and flat memory. No figure of speed is asserted.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, run } from '../e2e/support.js'

interface LoadReport {
  readonly requests: number
  readonly operations: Record<string, { readonly requests: number }>
  readonly flows: number
  readonly flows_with_consent: number
  readonly errors: { readonly total: number }
  readonly problems: readonly string[]
  readonly memory: { readonly garbage_collected: boolean; readonly heap_growth_mb: number; readonly rss_growth_mb: number }
  readonly bar: { readonly zero_errors: boolean; readonly flat_memory: boolean; readonly met: boolean }
}

describe('npm run load, a short run', () => {
  it('serves mixed traffic for 5 s with zero errors and flat memory', async () => {
    if (!existsSync(join(repoRoot, 'dist', 'bin.js'))) throw new Error('dist/bin.js is missing: run `npm run build` (npm test does)')
    const dir = await mkdtemp(join(tmpdir(), 'oauthkit-load-test-'))
    try {
      const json = join(dir, 'report.json')
      const result = await run(process.execPath, ['load/run.mjs', '--no-build', '--warmup', '2', '--duration', '5', '--json', json], { timeoutMs: 90_000 })
      const output = `${result.stdout}\n${result.stderr}`
      expect(existsSync(json), output).toBe(true)
      const report = JSON.parse(await readFile(json, 'utf8')) as LoadReport
      expect(report.errors.total, report.problems.join('\n')).toBe(0)
      expect(report.memory.garbage_collected, output).toBe(true)
      expect(report.bar.flat_memory, output).toBe(true)
      // Every kind of traffic ran: the API connections and whole code flows, through the consent page.
      expect(report.operations.token?.requests, output).toBeGreaterThan(0)
      expect(report.operations.introspect?.requests, output).toBeGreaterThan(0)
      expect(report.operations['token (code)']?.requests, output).toBeGreaterThan(0)
      expect(report.flows_with_consent, output).toBeGreaterThan(0)
      expect(report.bar.met, output).toBe(true)
      expect(result.code, output).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
