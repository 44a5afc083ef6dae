import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A PostgreSQL server for the store tests: DATABASE_URL, or a throwaway cluster started once per run.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // A test fails on what it asserts, never on wall time: scrypt at full cost takes a fifth of a second on an idle
    // core and seconds on a loaded one. A hang still fails, after half a minute.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Fail loudly on an unhandled rejection anywhere in a test run.
    dangerouslyIgnoreUnhandledErrors: false,
  },
})
