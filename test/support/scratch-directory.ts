/**
 * Temporary directories that tests leave nothing of: each is removed when the test that made it finishes, pass or
 * fail (after its `afterEach` hooks, so after whatever a test stopped there has let go of it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/** A new directory under the system's temporary folder, named `<prefix><random>`; call it inside a test. */
export async function scratchDirectory(prefix: string): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => removeDirectory(path));
  return path;
}

/** Removes a directory and what is in it; retried, as a process just stopped may still be closing files there. */
export function removeDirectory(path: string): Promise<void> {
  return rm(path, { recursive: true, force: true, maxRetries: 5 });
}
