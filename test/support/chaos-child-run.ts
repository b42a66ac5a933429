/**
 * One metering run in a process of its own, for the chaos suite to kill with SIGKILL at a random moment: the real SDK
 * clients, real pauses, nothing caught on the way out. Takes its settings as JSON in the first argument; prints
 * `metering` when the run starts and `done <summary>` when it ends.
 *
 *   node --import tsx test/support/chaos-child-run.ts '{"endpoint":"http://127.0.0.1:8000",...}'
 */
import '../../local/sdk-environment.ts';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import { meterUsage, type ProductDimensions } from '../../lambdas/core/metering/run/metering-run.ts';

export interface ChildRunSettings {
  readonly endpoint: string;
  readonly usageTable: string;
  readonly subscribersTable: string;
  readonly simulatorUrl: string;
  /** ISO 8601: the run's clock. */
  readonly now: string;
  readonly products: readonly ProductDimensions[];
  readonly callsPerSecond: number;
}

const settings = JSON.parse(process.argv[2] ?? '') as ChildRunSettings;
const metering = new MarketplaceMeteringClient({
  endpoint: settings.simulatorUrl,
  region: 'us-east-1',
  maxAttempts: 1,
  credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
});
process.stdout.write('metering\n');
const summary = await meterUsage(
  {
    client: documentClient(settings.endpoint),
    usageTable: settings.usageTable,
    subscribersTable: settings.subscribersTable,
    metering,
    closedHourGraceMinutes: 5,
    acceptanceWindowHours: 24,
    finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
    callsPerSecond: settings.callsPerSecond,
    zeroUsageRecords: false,
    products: settings.products,
  },
  { now: new Date(settings.now) },
);
process.stdout.write(`done ${JSON.stringify(summary)}\n`);
metering.destroy();
