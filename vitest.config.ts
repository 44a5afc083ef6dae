import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fail loudly on an unhandled rejection anywhere in a test run.
    dangerouslyIgnoreUnhandledErrors: false,
  },
})
