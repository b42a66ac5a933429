/**
 * Latency of a 25-record `BatchMeterUsage` call against the simulator, through the real SDK client, with the
 * simulator in its own process (as `npm run simulator` runs it). Prints p50/p90/p99 over the measured calls.
 *
 *   npx tsx bench/simulator-batch-meter-usage.ts [calls=2000]
 */
import '../local/sdk-environment.ts';
import {
  BatchMeterUsageCommand,
  MarketplaceMeteringClient,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { SimulatorControl, type LicenseView } from '../simulator/control-client.ts';
import { startLocalSimulatorProcess } from './simulator-process.ts';
import { percentile, summarize } from './stats.ts';
import { positiveIntegerArgument } from './arguments.ts';

const calls = positiveIntegerArgument('calls', 2000);
const warmUpCalls = 100;
const licenseCount = 1000;
const recordsPerCall = 25;

const simulator = await startLocalSimulatorProcess();
try {
  const control = new SimulatorControl(simulator.url);
  const now = Date.parse((await control.clock()).now);
  await control.setClock(new Date(now - 23 * 3_600_000), false);
  const product = await control.createProduct({
    code: 'bench-product',
    name: 'Benchmark',
    pricingModel: 'subscriptions',
    dimensions: [
      { name: 'users', kind: 'metered' },
      { name: 'gb', kind: 'metered' },
    ],
  });
  const licenses: LicenseView[] = [];
  for (let index = 0; index < licenseCount; index++) {
    licenses.push((await control.createLicense({ productCode: product.code })).license);
  }
  await control.setClock(new Date(now), false);

  const client = new MarketplaceMeteringClient({
    endpoint: simulator.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });

  // Call n meters 25 distinct licenses for one dimension and hour, so most calls bill new records.
  const batch = (call: number): UsageRecord[] => {
    const group = call % (licenseCount / recordsPerCall);
    const hour = Math.floor(call / (licenseCount / recordsPerCall)) % 22;
    return Array.from({ length: recordsPerCall }, (_, offset) => {
      const license = licenses[group * recordsPerCall + offset]!;
      return {
        Timestamp: new Date(now - (hour + 1) * 3_600_000),
        Dimension: Math.floor(call / 880) % 2 === 0 ? 'users' : 'gb',
        Quantity: 1 + (call % 7),
        CustomerAWSAccountId: license.customerAWSAccountId,
        LicenseArn: license.licenseArn,
      };
    });
  };

  for (let call = 0; call < warmUpCalls; call++)
    await client.send(new BatchMeterUsageCommand({ UsageRecords: batch(call) }));
  const latencies: number[] = [];
  let billed = 0;
  const started = performance.now();
  for (let call = warmUpCalls; call < warmUpCalls + calls; call++) {
    const before = performance.now();
    const output = await client.send(new BatchMeterUsageCommand({ UsageRecords: batch(call) }));
    latencies.push(performance.now() - before);
    billed += output.Results?.filter((result) => result.Status === 'Success').length ?? 0;
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  client.destroy();

  const summary = summarize(latencies);
  console.log(
    `BatchMeterUsage, ${recordsPerCall} records per call, ${calls} sequential calls (after ${warmUpCalls} warm-up)`,
  );
  console.log(
    `  latency ms: p50 ${summary.p50.toFixed(2)}  p90 ${percentile(latencies, 90).toFixed(2)}  p99 ${summary.p99.toFixed(2)}  max ${summary.max.toFixed(2)}  mean ${summary.mean.toFixed(2)}`,
  );
  console.log(
    `  throughput: ${(calls / elapsedSeconds).toFixed(0)} calls/s, ${((calls * recordsPerCall) / elapsedSeconds).toFixed(0)} records/s (${billed} records answered Success)`,
  );
} finally {
  await simulator.stop();
}
