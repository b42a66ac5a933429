/**
 * The contributors' tools take only what their docs give them: a benchmark size that is not a positive whole number,
 * an argument where none is taken, any argument to `npm run bench` (which would otherwise start every benchmark at
 * full size) or to `npm run docs:config` stops before anything is set up or written, saying what was expected.
 */
import { expect, test } from 'vitest';
import { runNodeCommand } from '../../support/node-command.ts';

test.each([
  [['bench/run.ts', '--subscribers', '10'], {}, 'npm run bench takes no argument'],
  [['bench/simulator-batch-meter-usage.ts', '0'], {}, 'The argument (calls) must be a positive whole number, not "0".'],
  [['bench/function-bundles.ts', '1', '2'], {}, 'Expected at most one argument, [runs=15], got 2.'],
  [['bench/metering-throughput.ts', '500'], {}, 'Expected no argument, got 500. Sizes: BENCH_SUBSCRIBERS'],
  [['bench/metering-backlog.ts'], { BENCH_HOURS: '2.5' }, 'BENCH_HOURS must be a positive whole number, not "2.5".'],
  [['tools/config-reference.ts', '--check'], {}, 'npm run docs:config takes no argument, not --check'],
])('%j %j: exit 2, %s', async (args, env, message) => {
  const run = await runNodeCommand(args, env);
  expect(run.stderr).toContain(message);
  expect(run.status).toBe(2);
  expect(run.stdout).toBe('');
});

test.each([
  ['bench/function-bundles.ts', 'usage: node --import tsx bench/function-bundles.ts [runs=15] (docs/benchmarks.md)'],
  [
    'bench/metering-throughput.ts',
    'usage: node --import tsx bench/metering-throughput.ts (no argument; sizes: BENCH_SUBSCRIBERS, BENCH_SIMULATOR ' +
      '(environment variables)) (docs/benchmarks.md)',
  ],
])('%s --help prints its usage line and exits 0 before setting anything up', async (script, usage) => {
  const run = await runNodeCommand([script, '--help'], {});
  expect(run.stdout.trim()).toBe(usage);
  expect(run.status).toBe(0);
});

test('npm run bench -- --help says how to run one benchmark, and exits 0 without running any', async () => {
  const run = await runNodeCommand(['bench/run.ts', '--help'], {});
  expect(run.stderr).toContain('as docs/benchmarks.md says');
  expect(run.stdout).not.toContain('## bench/');
  expect(run.status).toBe(0);
});
