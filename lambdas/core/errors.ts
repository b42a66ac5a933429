/**
 * The functions' own errors, each a `BackendError`: a handler tells what it raised on purpose from a bug, and every
 * one is named with the `Error` suffix, written out (bundling minifies class names), with the failure it wraps as its
 * `cause`.
 */
export class BackendError extends Error {
  override readonly name: string = 'BackendError';
}

/**
 * An error's message on one line, with its cause's: `fetch failed` says little without `ECONNREFUSED`. An error that
 * already says its cause (wrapped with `messageOf` of it) does not say it twice.
 */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = (error.message || error.name).replace(/\s+/g, ' ');
  const cause = error.cause === undefined ? '' : messageOf(error.cause);
  return cause === '' || message.includes(cause) ? message : `${message} (${cause})`;
}
