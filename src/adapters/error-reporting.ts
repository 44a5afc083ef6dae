/**
 * How adapters report the failures they answer with 500: to the application's hook, or `console.error`.
 *
 * @module
 * @internal
 */

/** Receives the unexpected failures an adapter answers with 500, with the request that caused them. */
export type AdapterErrorHook = (error: unknown, request: Request | undefined) => void

const defaultErrorHook: AdapterErrorHook = (error) => {
  console.error('oauthkit: adapter failed to handle a request', error)
}

/** Passes an unexpected failure to `onError` (default `console.error`); the hook's own failure is ignored. */
export function reportAdapterError(onError: AdapterErrorHook | undefined, error: unknown, request: Request | undefined): void {
  try {
    ;(onError ?? defaultErrorHook)(error, request)
  } catch {
    // A failing hook must not turn an answer into a rejection.
  }
}
