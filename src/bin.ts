#!/usr/bin/env node
/**
 * The `oauthkit` executable (package.json `bin`): runs the CLI and exits with its code.
 *
 * @module
 */
import { main, oneLine } from './cli.js'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(`oauthkit: ${oneLine(error)}`)
    process.exitCode = 1
  },
)
