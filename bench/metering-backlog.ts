/**
 * A backlog bigger than one run, in compressed time: N subscribers x 3 dimensions x H closed hours of buckets (300,000
 * at the defaults: 10,000 x 3 x 10), the simulator's quota and the run's rate scaled up together (100 calls a second
 * instead of 10), and a short time budget per run (20 s instead of Lambda's 14 minutes), so that the backlog drains
 * across many hand-overs, as the metering state machine invokes run after run. Prints the records billed per second
 * against the quota, the calls against ceil(N / 25), the hand-overs, whether each run billed its hours oldest first,
 * and the peak heap and resident memory while draining against before it; then checks that every bucket was billed
 * exactly once (exit code 1 if not).
 *
 *   node --import tsx bench/metering-backlog.ts
 *   BENCH_SUBSCRIBERS=1000 BENCH_HOURS=3 node --import tsx bench/metering-backlog.ts      (a quick try)
 *   BENCH_CALLS_PER_SECOND=50 BENCH_BUDGET_SECONDS=10 ...
 */
import '../local/sdk-environment.ts';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { meterUsage, type MeteringRunSummary } from '../lambdas/core/metering/run/index.ts';
import { HOUR_MS } from '../lambdas/core/metering/bucket/index.ts';
import { createDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { createTables } from '../local/dynamodb/tables.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import {
  activeSubscriberItem,
  batchPut,
  documentClientOn,
  fixed,
  licenseBuyers,
  loadLine,
  machineLine,
  openBucketItem,
  simulatorModeFromEnvironment,
  startBenchSimulator,
  thousands,
  type BenchSimulator,
} from './metering-bench-support.ts';
import { noArguments, positiveIntegerFromEnvironment } from './arguments.ts';

noArguments(
  'BENCH_SUBSCRIBERS, BENCH_HOURS, BENCH_CALLS_PER_SECOND, BENCH_BUDGET_SECONDS, BENCH_SIMULATOR (environment variables)',
);
const subscriberCount = positiveIntegerFromEnvironment('BENCH_SUBSCRIBERS', 10_000);
const hourCount = positiveIntegerFromEnvironment('BENCH_HOURS', 10);
const callsPerSecond = positiveIntegerFromEnvironment('BENCH_CALLS_PER_SECOND', 100);
const budgetSeconds = positiveIntegerFromEnvironment('BENCH_BUDGET_SECONDS', 20);
const DIMENSIONS = ['requests', 'storage', 'seats'] as const;
const PRODUCT_CODE = 'bench-metering-backlog';
const RECORDS_PER_CALL = 25;

// Mid-month; the run starts 10 minutes into the hour after the newest bucket hour, all of them inside the window.
const NEWEST_HOUR = new Date('2026-11-18T12:00:00.000Z');
const RUN_AT = new Date(NEWEST_HOUR.getTime() + HOUR_MS + 10 * 60_000);
const SINCE = new Date(NEWEST_HOUR.getTime() - 48 * HOUR_MS);
const hourAt = (index: number) => new Date(NEWEST_HOUR.getTime() - index * HOUR_MS);
const quantityOf = (subscriber: number, dimension: number, hour: number) =>
  1 + ((subscriber * 7919 + dimension * 104_729 + hour * 15_485_863) % 5000);

const failures: string[] = [];
const simulatorMode = simulatorModeFromEnvironment();
let dynamoDb: DynamoDbLocal | undefined;
let simulator: BenchSimulator | undefined;
try {
  const setupStarted = performance.now();
  [dynamoDb, simulator] = await Promise.all([startDynamoDbLocal(), startBenchSimulator(simulatorMode)]);
  const lowLevel = createDynamoDbClient(dynamoDb.endpoint);
  const client = documentClientOn(lowLevel);
  const tables = await createTables(lowLevel);
  const control = new SimulatorControl(simulator.url);
  const subscribers = await licenseBuyers(
    control,
    { code: PRODUCT_CODE, name: 'Metering backlog benchmark', dimensions: DIMENSIONS },
    subscriberCount,
    SINCE,
  );
  await control.setClock(RUN_AT, false);
  await batchPut(
    client,
    tables.Subscribers,
    subscribers.map((subscriber) => activeSubscriberItem(subscriber, SINCE)),
  );
  let recordedTotal = 0;
  // An hour at a time, so that the setup does not hold the whole backlog in memory either.
  for (let hour = 0; hour < hourCount; hour++) {
    const items = subscribers.flatMap((subscriber, index) =>
      DIMENSIONS.map((dimension, position) => {
        const quantity = quantityOf(index, position, hour);
        recordedTotal += quantity;
        return openBucketItem(subscriber.subscriberId, hourAt(hour), dimension, quantity);
      }),
    );
    await batchPut(client, tables.Usage, items);
  }
  const bucketCount = subscriberCount * DIMENSIONS.length * hourCount;
  await control.setFaults({ tpsLimits: { BatchMeterUsage: callsPerSecond } });
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  // --- The drain: run after run, each to its time budget, until one finishes without handing over. ----------------
  const metering = new MarketplaceMeteringClient({
    endpoint: simulator.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  /** The hour of each record sent, in order, per run: oldest first within a run. */
  const hoursSent: string[][] = [];
  metering.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'BatchMeterUsageCommand') {
        const records = (args.input as { UsageRecords?: { Timestamp?: Date }[] }).UsageRecords ?? [];
        hoursSent.at(-1)?.push(...records.map((record) => record.Timestamp?.toISOString() ?? ''));
      }
      return next(args);
    },
    { step: 'initialize', name: 'benchHoursSent' },
  );
  const runClient = documentClientOn(createDynamoDbClient(dynamoDb.endpoint));
  globalThis.gc?.();
  const before = process.memoryUsage();
  const peak = { heapUsed: before.heapUsed, rss: before.rss };
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
    peak.rss = Math.max(peak.rss, now.rss);
  }, 50);
  const summaries: MeteringRunSummary[] = [];
  const drainStarted = performance.now();
  for (let handOver = true; handOver;) {
    hoursSent.push([]);
    const summary = await meterUsage(
      {
        client: runClient,
        usageTable: tables.Usage,
        subscribersTable: tables.Subscribers,
        metering,
        closedHourGraceMinutes: 5,
        acceptanceWindowHours: 24,
        finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
        callsPerSecond,
        zeroUsageRecords: false,
        products: [{ code: PRODUCT_CODE, meteredDimensions: [...DIMENSIONS] }],
      },
      { now: RUN_AT, timeBudgetMs: budgetSeconds * 1000 },
    );
    summaries.push(summary);
    handOver = summary.handOver;
    // On stderr, so that a drain of many minutes shows it is moving; the figures stay on stdout.
    console.error(`run ${summaries.length}: ${thousands(summary.billed)} billed${handOver ? ', handing over' : ''}`);
    // A run that hands over having settled nothing would be followed by the same run, forever: the drain is stuck.
    const settled = summary.billed + summary.expired + Object.values(summary.rejected).reduce((a, b) => a + b, 0);
    if (handOver && settled === 0) {
      failures.push(`run ${summaries.length} handed over without settling a bucket (${summary.waiting} waiting)`);
      break;
    }
  }
  const drainSeconds = (performance.now() - drainStarted) / 1000;
  clearInterval(sampler);
  metering.destroy();

  // --- Verification --------------------------------------------------------------------------------------------------
  const billed = await control.billed({ productCode: PRODUCT_CODE });
  const duplicates = (await control.results({ productCode: PRODUCT_CODE, status: 'DuplicateRecord' })).results;
  const stats = (await control.stats()).operations.BatchMeterUsage;
  const keys = new Set(billed.records.map((record) => `${record.licenseArn}|${record.dimension}|${record.hour}`));
  const settledBilled = await countBilled(runClient, tables.Usage);
  const billedTotal = summaries.reduce((sum, summary) => sum + summary.billed, 0);
  const calls = summaries.reduce((sum, summary) => sum + summary.calls, 0);
  const throttles = summaries.reduce((sum, summary) => sum + summary.throttles, 0);
  const oldestFirst = hoursSent.every((hours) =>
    hours.every((hour, index) => index === 0 || hours[index - 1]! <= hour),
  );
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok ? 'yes' : 'NO';
  };
  const quota = callsPerSecond * RECORDS_PER_CALL;
  const perSecond = billedTotal / drainSeconds;
  const minimumCalls = Math.ceil(bucketCount / RECORDS_PER_CALL);
  const mib = (bytes: number) => `${fixed(bytes / 2 ** 20, 1)} MiB`;

  console.log(`Metering backlog in compressed time: ${thousands(subscriberCount)} subscribers x ${DIMENSIONS.length} dimensions x ${hourCount} hours = ${thousands(bucketCount)} closed buckets; simulator throttling beyond ${callsPerSecond} calls/s and the run at ${callsPerSecond} calls/s; a ${budgetSeconds} s time budget per run
  machine: ${machineLine()}
  ${loadLine()}; setup (not measured) ${fixed(setupSeconds, 1)} s
  drain: ${fixed(drainSeconds, 1)} s over ${summaries.length} runs (${summaries.length - 1} hand-overs); run lengths ${summaries.map((summary) => fixed(summary.durationMs / 1000, 1)).join(', ')} s
  records billed per second, whole drain: ${fixed(perSecond, 1)} = ${fixed((100 * perSecond) / quota, 1)}% of the ${thousands(quota)} the scaled quota allows
  BatchMeterUsage calls: ${thousands(calls)} against the minimum ceil(${thousands(bucketCount)} / 25) = ${thousands(minimumCalls)}: ${fixed(calls / minimumCalls, 3)}x; throttles ${throttles} (simulator: ${stats.throttled} of ${thousands(stats.requests)} requests)
  memory while draining: heap ${mib(before.heapUsed)} before, ${mib(peak.heapUsed)} at peak (+${mib(peak.heapUsed - before.heapUsed)}); resident ${mib(before.rss)} before, ${mib(peak.rss)} at peak
  each run sent its hours oldest first: ${check(oldestFirst, 'a run sent a newer hour before an older one')}
  exactly once:
    billed records = buckets: ${thousands(billed.records.length)} = ${thousands(bucketCount)}: ${check(billed.records.length === bucketCount && keys.size === bucketCount, 'billed records differ from the buckets')}
    billed quantity = recorded quantity: ${thousands(billed.totalQuantity)} = ${thousands(recordedTotal)}: ${check(billed.totalQuantity === recordedTotal, 'billed quantity differs')}
    buckets settled billed in the table: ${thousands(settledBilled)} of ${thousands(bucketCount)}: ${check(settledBilled === bucketCount, 'buckets left unbilled')}
    DuplicateRecord answers: ${duplicates.length}: ${check(duplicates.length === 0, 'DuplicateRecord answered')}`);
} catch (error) {
  failures.push(String(error));
  console.error(error);
} finally {
  await Promise.allSettled([dynamoDb?.stop(), simulator?.stop()]);
}
if (failures.length > 0) {
  console.error(`FAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
}

async function countBilled(client: DynamoDBDocumentClient, table: string): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: '#state = :billed',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':billed': 'billed' },
        Select: 'COUNT',
        ExclusiveStartKey: startKey,
      }),
    );
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return count;
}
