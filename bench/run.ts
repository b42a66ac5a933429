/**
 * `npm run bench`: every benchmark, one after the other, each in its own process so that none warms the JIT or the
 * caches of the next. Each prints its own figures; docs/benchmarks.md records them with the machine they came from.
 */
import { spawnSync } from 'node:child_process';
import { projectRoot } from '../local/config.ts';

const benchmarks = [
  'dynamodb-local-startup.ts',
  'simulator-batch-meter-usage.ts',
  'fulfillment-latency.ts',
  'function-bundles.ts',
  'usage-recording-cost.ts',
  'usage-client-cost.ts',
  'metering-throughput.ts',
  'metering-backlog.ts',
];

if (process.argv.length > 2) {
  console.error(
    'npm run bench takes no argument: it runs every benchmark at its full size, the 300,000-bucket backlog included. ' +
      'Run one on its own, at a smaller size if it takes one, as docs/benchmarks.md says: e.g. ' +
      'BENCH_SUBSCRIBERS=500 node --import tsx bench/metering-throughput.ts',
  );
  process.exit(process.argv.slice(2).every((argument) => ['--help', '-h'].includes(argument)) ? 0 : 2);
}

let failures = 0;
for (const benchmark of benchmarks) {
  console.log(`\n## bench/${benchmark}`);
  const { status } = spawnSync(process.execPath, ['--import', 'tsx', `bench/${benchmark}`], {
    cwd: projectRoot,
    stdio: 'inherit',
  });
  if (status !== 0) failures++;
}
process.exit(failures === 0 ? 0 : 1);
