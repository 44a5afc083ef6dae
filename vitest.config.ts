import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A PostgreSQL server for the store tests: DATABASE_URL, or a throwaway cluster started once per run.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // Fail loudly on an unhandled rejection anywhere in a test run.
    dangerouslyIgnoreUnhandledErrors: false,
  },
})
