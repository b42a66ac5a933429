/**
 * The functions' own errors, each a `BackendError`: a handler tells what it raised on purpose from a bug, and every
 * one is named with the `Error` suffix, written out (bundling minifies class names), with the failure it wraps as its
 * `cause`.
 */
export class BackendError extends Error {
  override readonly name: string = 'BackendError';
}
