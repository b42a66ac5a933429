/**
 * An operator command whose reader stops early (`npm run report | head`) ends quietly with its own status, as Unix
 * tools do, not with an EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import { expect, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';

/** A command's shape: the shared command-line module loaded, then far more output than a pipe holds. */
const LONG_OUTPUT = `
  await import('./local/commands/command-line.ts');
  for (let line = 0; line < 100_000; line++) console.log('row ' + line + ' ' + 'x'.repeat(60));
`;

test('a command whose output pipe closes ends with status 0 and nothing on stderr', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', LONG_OUTPUT], {
    cwd: projectRoot,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // Read the first chunk, then go away, as `head` does.
  child.stdout.once('data', () => child.stdout.destroy());
  const status = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  expect(stderr).toBe('');
  expect(status).toBe(0);
});
