/**
 * Temporary directories that tests leave nothing of: each is removed when the test that made it finishes, pass or
 * fail (after its `afterEach` hooks, so after whatever a test stopped there has let go of it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * A new directory under the system's temporary folder, named `<prefix><random>`; call it inside a test. In a
 * concurrent test, pass the test context's `onTestFinished`: vitest's global one may attach to another test running
 * at the same time.
 */
export async function scratchDirectory(prefix: string, onFinished: typeof onTestFinished = onTestFinished) {
  // Before the first await, while the test calling is still the current one.
  const made: { path?: string } = {};
  onFinished(() => (made.path === undefined ? undefined : removeDirectory(made.path)));
  made.path = await mkdtemp(join(tmpdir(), prefix));
  return made.path;
}

/** Removes a directory and what is in it; retried, as a process just stopped may still be closing files there. */
export function removeDirectory(path: string): Promise<void> {
  return rm(path, { recursive: true, force: true, maxRetries: 5 });
}
