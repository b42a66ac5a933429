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
