/**
 * The command line as npm hands it over. An option written before the `--` of `npm run` is npm's, not the command's:
 * npm keeps it as `npm_config_<name>` and runs the script without it. The commands refuse to run so, since `npm run
 * meter --dry-run` would bill for real. And each command answers `--help` with its usage line.
 */
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { expect, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';
import { runProcess } from '../../support/node-command.ts';

// No stack to find: the command line is refused before any is looked for.
const env = { ...process.env, LOCAL_STACK_STATE: join(tmpdir(), 'no-stack-here.json') };
const npmRun = (...args: string[]) => runProcess('npm', ['run', '-s', ...args], { cwd: projectRoot, env });

test.each([
  [['meter', '--dry-run'], '--dry-run', 'npm run meter -- --dry-run'],
  [['report', '--from=2026-12-01'], '--from', 'npm run report -- --from 2026-12-01'],
  // Without `=`, npm takes the option as a flag and hands its value to the command: the fix still carries it.
  [['meter', '--subscriber', 'legacy:a:b'], '--subscriber', 'npm run meter -- --subscriber legacy:a:b'],
  [['subscribers', '--json'], '--json', 'npm run subscribers -- --json'],
  // npm's own -c, its --call: preflight would check cdk.json's configuration, not the one deployed.
  [['preflight', '-c', 'marketplace.region=eu-west-1'], '-c', 'npm run preflight -- -c marketplace.region=eu-west-1'],
])('npm run %j: refused (exit 2), naming where the option goes', async (args, taken, fix) => {
  const run = await npmRun(...args);
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toContain(`npm took ${taken} for its own option`);
  expect(run.stderr).toContain(fix);
});

test.each(['redrive', 'subscribers', 'sample-usage'])(
  'npm run %s --dry-run: refused (exit 2), as the command has no dry run and would run for real',
  async (command) => {
    const run = await npmRun(command, '--dry-run', 'lifecycle');
    expect(run.status, run.stderr).toBe(2);
    expect(run.stderr).toContain(
      `npm run ${command}: npm took --dry-run for its own option, and npm run ${command} has none`,
    );
  },
);

test('an unknown option is refused in the same words by a command that takes arguments (redrive)', async () => {
  const run = await npmRun('redrive', '--', '--bogus');
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toMatch(/^npm run redrive: Unknown option '--bogus'\nusage: /);
});

test.each(['subscribers', 'meter', 'report', 'redrive', 'sample-usage', 'preflight'])(
  'npm run %s -- --help prints the usage line alone (exit 0)',
  async (command) => {
    const run = await npmRun(command, '--', '--help');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^usage: npm run ${command} -- .+\\n$`));
  },
);

test('an option of one value given twice is refused: which one was meant cannot be told', async () => {
  const run = await npmRun('meter', '--', '--subscriber', 'legacy:a:b', '--subscriber', 'legacy:a:c', '--dry-run');
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toContain('npm run meter: --subscriber is given more than once');
});
