/**
 * Throughput of one metering run at AWS's quota: N subscribers x 3 dimensions of closed, open buckets (30,000 at the
 * default N = 10,000), metered by `meterUsage` with its defaults (10 calls per second, zero-usage records on, 5 minutes
 * of grace, a 24-hour window) against the simulator throttling `BatchMeterUsage` beyond 10 calls per second of real
 * time, as AWS's quota does. Prints the records billed per second against the 250 the quota allows, the calls used
 * against the ceil(buckets / 25) minimum, throttles and retries, the wall time and its phases, and checks that every
 * bucket was billed exactly once (exit code 1 if not).
 *
 *   node --import tsx bench/metering-throughput.ts
 *   BENCH_SUBSCRIBERS=500 node --import tsx bench/metering-throughput.ts     (a quick try)
 *   BENCH_SIMULATOR=in-process ...                                          (the simulator on this event loop)
 *
 * Setup is not measured: licenses through the control API (32 calls at a time), subscriber and bucket items through
 * BatchWriteItem, shaped as the lifecycle and the recorder write them (one of each is written by the real code and
 * compared).
 */
import '../local/sdk-environment.ts';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LifecycleRepository } from '../lambdas/core/lifecycle/lifecycle-repository.ts';
import { meterUsage, type MeteringLogger, type MeteringRunSummary } from '../lambdas/core/metering/run/index.ts';
import { bucketKey, HOUR_MS } from '../lambdas/core/metering/bucket/index.ts';
import { recordUsage } from '../lambdas/core/metering/recording/index.ts';
import { subscriberKey } from '../lambdas/core/table-keys.ts';
import { itemsOfPages } from '../lambdas/core/table-pages.ts';
import { createDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { createTables } from '../local/dynamodb/tables.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import {
  activeSubscriberItem,
  assertSameItem,
  batchPut,
  licenseBuyers,
  documentClientOn,
  fixed,
  loadLine,
  machineLine,
  meteringOperationLabel,
  openBucketItem,
  simulatorModeFromEnvironment,
  startBenchSimulator,
  tallyDynamoDb,
  thousands,
  type BenchSimulator,
  type LicenseSubscriber,
} from './metering-bench-support.ts';
import { percentile } from './stats.ts';
import { noArguments, positiveIntegerFromEnvironment } from './arguments.ts';

noArguments('BENCH_SUBSCRIBERS, BENCH_SIMULATOR (environment variables)');
const subscriberCount = positiveIntegerFromEnvironment('BENCH_SUBSCRIBERS', 10_000);
const simulatorMode = simulatorModeFromEnvironment();
const DIMENSIONS = ['requests', 'storage', 'seats'] as const;
const PRODUCT_CODE = 'bench-metering-throughput';
/** AWS's quota for `BatchMeterUsage`, enforced by the simulator, and the run's own default rate. */
const QUOTA_CALLS_PER_SECOND = 10;
const RECORDS_PER_CALL = 25;

// Mid-month, so that no month-end rule applies. The run starts at minute 10 (the default schedule) of the hour after
// the buckets' hour: closed, past the 5 minutes of grace, 70 minutes into the 24-hour acceptance window.
const BUCKET_HOUR = new Date('2026-11-18T12:00:00.000Z');
const RUN_AT = new Date(BUCKET_HOUR.getTime() + HOUR_MS + 10 * 60_000);
const RECORDED_AT = new Date(BUCKET_HOUR.getTime() + 30 * 60_000);
/** When the licenses started and the subscribers were activated: two days before. */
const SINCE = new Date(BUCKET_HOUR.getTime() - 48 * HOUR_MS);

/** Units in a bucket: varied, so that a record billed with another bucket's quantity would not add up. */
const quantityOf = (subscriber: number, dimension: number) => 1 + ((subscriber * 7919 + dimension * 104_729) % 5000);

const setupStarted = performance.now();
let dynamoDb: DynamoDbLocal | undefined;
let simulator: BenchSimulator | undefined;
const failures: string[] = [];
const loadAtStart = loadLine();
try {
  [dynamoDb, simulator] = await Promise.all([startDynamoDbLocal(), startBenchSimulator(simulatorMode)]);
  const lowLevel = createDynamoDbClient(dynamoDb.endpoint);
  const setupClient = documentClientOn(lowLevel);
  const tables = await createTables(lowLevel);
  const control = new SimulatorControl(simulator.url);

  // --- Setup ---------------------------------------------------------------------------------------------------------
  const licensesStarted = performance.now();
  const subscribers = await licenseBuyers(
    control,
    { code: PRODUCT_CODE, name: 'Metering throughput benchmark', dimensions: DIMENSIONS },
    subscriberCount,
    SINCE,
  );
  const licenseSeconds = (performance.now() - licensesStarted) / 1000;
  await control.setClock(RUN_AT, false);

  const itemsStarted = performance.now();
  const products = [{ code: PRODUCT_CODE, identityModel: 'license' as const, meteredDimensions: [...DIMENSIONS] }];
  await checkItemShapes(setupClient, tables, subscribers[0]!, products);
  await batchPut(
    setupClient,
    tables.Subscribers,
    subscribers.slice(1).map((subscriber) => activeSubscriberItem(subscriber, SINCE)),
  );
  const buckets = subscribers.flatMap((subscriber, index) =>
    DIMENSIONS.map((dimension, position) => ({ subscriber, dimension, quantity: quantityOf(index, position) })),
  );
  await batchPut(
    setupClient,
    tables.Usage,
    // The first bucket was written by the recorder itself (checkItemShapes).
    buckets
      .slice(1)
      .map(({ subscriber, dimension, quantity }) =>
        openBucketItem(subscriber.subscriberId, BUCKET_HOUR, dimension, quantity),
      ),
  );
  const itemSeconds = (performance.now() - itemsStarted) / 1000;
  const recordedTotal = buckets.reduce((sum, bucket) => sum + bucket.quantity, 0);
  await control.setFaults({ tpsLimits: { BatchMeterUsage: QUOTA_CALLS_PER_SECOND } });
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  // --- The run -------------------------------------------------------------------------------------------------------
  const runLowLevel = createDynamoDbClient(dynamoDb.endpoint);
  const runClient = documentClientOn(runLowLevel);
  const dynamoTally = tallyDynamoDb(runClient, { consumedCapacity: false, label: meteringOperationLabel });
  const metering = new MarketplaceMeteringClient({
    endpoint: simulator.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const calls: { started: number; ended: number; outcome: string }[] = [];
  /** Failures other than throttling, by what the error said. */
  const otherFailures = new Map<string, number>();
  metering.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'BatchMeterUsageCommand') return next(args);
      const call = { started: performance.now(), ended: 0, outcome: 'answered' };
      calls.push(call);
      try {
        return await next(args);
      } catch (error) {
        call.outcome = error instanceof Error ? error.name : String(error);
        if (call.outcome !== 'ThrottlingException') {
          const code = (error as { code?: unknown }).code;
          const detail = `${call.outcome}${typeof code === 'string' ? ` (${code})` : ''}: ${(error as Error).message}`;
          otherFailures.set(detail, (otherFailures.get(detail) ?? 0) + 1);
        }
        throw error;
      } finally {
        call.ended = performance.now();
      }
    },
    { step: 'initialize', name: 'benchBatchMeterUsageTimes' },
  );
  const logged = new Map<string, number>();
  const logger: MeteringLogger = {
    info: () => {},
    warn: (message) => void logged.set(`warn: ${message}`, (logged.get(`warn: ${message}`) ?? 0) + 1),
    error: (message) => void logged.set(`error: ${message}`, (logged.get(`error: ${message}`) ?? 0) + 1),
  };

  const runStarted = performance.now();
  const summary: MeteringRunSummary = await meterUsage(
    {
      client: runClient,
      usageTable: tables.Usage,
      subscribersTable: tables.Subscribers,
      metering,
      // The configuration defaults (lib/config.ts); `callsPerSecond` left out, so the run's own default (10) applies.
      closedHourGraceMinutes: 5,
      acceptanceWindowHours: 24,
      finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
      zeroUsageRecords: true,
      products,
      logger,
    },
    { now: RUN_AT },
  );
  const runEnded = performance.now();
  metering.destroy();
  const runRequests = [...dynamoTally.byOperation].map(([operation, tally]) => [operation, tally.requests] as const);

  // --- Verification --------------------------------------------------------------------------------------------------
  const bucketCount = buckets.length;
  const billed = await control.billed({ productCode: PRODUCT_CODE });
  const duplicates = (await control.results({ productCode: PRODUCT_CODE, status: 'DuplicateRecord' })).results;
  const notSubscribed = (await control.results({ productCode: PRODUCT_CODE, status: 'CustomerNotSubscribed' })).results;
  const stats = (await control.stats()).operations.BatchMeterUsage;
  const expected = new Map<string, number>(
    buckets.map((bucket) => [`${bucket.subscriber.licenseArn}|${bucket.dimension}`, bucket.quantity]),
  );
  const billedKeys = new Set<string>();
  let mismatched = 0;
  for (const record of billed.records) {
    const key = `${record.licenseArn}|${record.dimension}`;
    if (billedKeys.has(key) || expected.get(key) !== record.quantity || record.hour !== BUCKET_HOUR.toISOString()) {
      mismatched++;
    }
    billedKeys.add(key);
  }
  const states = await bucketStates(runClient, tables.Usage);
  const check = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
    return ok ? 'yes' : 'NO';
  };

  // --- Figures -------------------------------------------------------------------------------------------------------
  const wallSeconds = (runEnded - runStarted) / 1000;
  const firstCall = Math.min(...calls.map((call) => call.started));
  const lastAnswer = Math.max(...calls.map((call) => call.ended));
  const prepareSeconds = (firstCall - runStarted) / 1000;
  const sendSeconds = (lastAnswer - firstCall) / 1000;
  const tailSeconds = (runEnded - lastAnswer) / 1000;
  const quotaRecordsPerSecond = QUOTA_CALLS_PER_SECOND * RECORDS_PER_CALL;
  const minimumCalls = Math.ceil(bucketCount / RECORDS_PER_CALL);
  const answeredCalls = calls.filter((call) => call.outcome === 'answered').length;
  const outcomes = new Map<string, number>();
  for (const call of calls) outcomes.set(call.outcome, (outcomes.get(call.outcome) ?? 0) + 1);
  const latencies = calls.map((call) => call.ended - call.started);
  const rate = (records: number, seconds: number) =>
    `${fixed(records / seconds, 1)} records/s = ${fixed((100 * records) / seconds / quotaRecordsPerSecond, 1)}% of ${quotaRecordsPerSecond}`;
  const idealSendSeconds = minimumCalls / QUOTA_CALLS_PER_SECOND;
  // How far apart, on this side, each call went out from the 10th call before it: the simulator (like AWS) throttles
  // a call that arrives less than 1 s after the 10th accepted call before it.
  const starts = calls.map((call) => call.started).sort((a, b) => a - b);
  const spans = starts.slice(QUOTA_CALLS_PER_SECOND).map((start, index) => start - starts[index]!);
  const throttled = calls.filter((call) => call.outcome === 'ThrottlingException').length;

  console.log(
    `Metering run at the quota: ${thousands(subscriberCount)} subscribers x ${DIMENSIONS.length} dimensions = ` +
      `${thousands(bucketCount)} closed buckets, simulator throttling BatchMeterUsage beyond ` +
      `${QUOTA_CALLS_PER_SECOND} calls/s (real time), run defaults (callsPerSecond 10, zero-usage records on)`,
  );
  console.log(`  machine: ${machineLine()}`);
  console.log(`  at the start: ${loadAtStart}; now: ${loadLine()}`);
  console.log(`  simulator: ${simulator.mode === 'process' ? 'its own Node process' : 'in this process'}`);
  console.log(
    `  setup (not measured): ${fixed(setupSeconds, 1)} s, of which ${thousands(subscriberCount)} licenses ` +
      `${fixed(licenseSeconds, 1)} s, subscriber and bucket items ${fixed(itemSeconds, 1)} s`,
  );
  console.log(`  wall time of meterUsage: ${fixed(wallSeconds, 1)} s`);
  console.log(
    `    preparing (zero-usage records, pending-index query, freezing, identity reads) until the first call: ` +
      `${fixed(prepareSeconds, 1)} s`,
  );
  console.log(
    `    sending, first call to last answer: ${fixed(sendSeconds, 1)} s (the quota's minimum for ` +
      `${thousands(minimumCalls)} calls: ${fixed(idealSendSeconds, 1)} s)`,
  );
  console.log(`    settling after the last answer: ${fixed(tailSeconds, 2)} s`);
  console.log(`  records billed per second, whole run: ${rate(summary.billed, wallSeconds)}`);
  console.log(`  records billed per second, while sending: ${rate(summary.billed, sendSeconds)}`);
  console.log(
    `  BatchMeterUsage calls: ${thousands(calls.length)} made (${thousands(answeredCalls)} answered) against the ` +
      `minimum ceil(${thousands(bucketCount)} / ${RECORDS_PER_CALL}) = ${thousands(minimumCalls)}: ` +
      `${fixed(calls.length / minimumCalls, 3)}x; ${fixed(calls.length / sendSeconds, 2)} calls/s while sending`,
  );
  console.log(
    `    outcomes: ${[...outcomes].map(([outcome, count]) => `${outcome} ${thousands(count)}`).join(', ')}; ` +
      `call latency p50 ${fixed(percentile(latencies, 50))} ms, p99 ${fixed(percentile(latencies, 99))} ms`,
  );
  console.log(
    `  throttles ${thousands(summary.throttles)}, retries ${thousands(summary.retries)} (run's counters); ` +
      `simulator saw ${thousands(stats.requests)} requests, throttled ${thousands(stats.throttled)}`,
  );
  for (const [detail, count] of otherFailures) console.log(`    other failed attempts (retried): ${count} x ${detail}`);
  if (spans.length > 0) {
    console.log(
      `    each throttled attempt took one of the limiter's ${1000 / QUOTA_CALLS_PER_SECOND} ms slots: ` +
        `${thousands(throttled)} x ${1000 / QUOTA_CALLS_PER_SECOND} ms = ${fixed((throttled * 1000) / QUOTA_CALLS_PER_SECOND / 1000, 1)} s ` +
        `of the ${fixed(sendSeconds - idealSendSeconds, 1)} s the sending took beyond the quota's minimum`,
    );
    console.log(
      `    time from each call's start to the start of the ${QUOTA_CALLS_PER_SECOND}th call after it (client clock): ` +
        `min ${fixed(Math.min(...spans), 1)} ms, p1 ${fixed(percentile(spans, 1), 1)} ms, p50 ` +
        `${fixed(percentile(spans, 50), 1)} ms, p99 ${fixed(percentile(spans, 99), 1)} ms (the quota's window: 1000 ms)`,
    );
  }
  console.log(
    `  run summary: due ${thousands(summary.due)}, zero-usage ${thousands(summary.zeroUsage)}, billed ` +
      `${thousands(summary.billed)}, pending ${thousands(summary.pending)}, expired ${summary.expired}, rejected ` +
      `${JSON.stringify(summary.rejected)}, settled elsewhere ${summary.settledElsewhere}`,
  );
  console.log(
    `  DynamoDB requests by the run: ${thousands(runRequests.reduce((sum, [, requests]) => sum + requests, 0))} ` +
      `(${runRequests
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([operation, requests]) => `${operation} ${thousands(requests)}`)
        .join(', ')})`,
  );
  if (logged.size > 0) {
    console.log(`  logged: ${[...logged].map(([message, count]) => `${message} (x${count})`).join('; ')}`);
  }
  console.log('  exactly once:');
  console.log(
    `    billed records = buckets: ${thousands(billed.records.length)} = ${thousands(bucketCount)}: ` +
      check(billed.records.length === bucketCount, 'billed records differ from buckets'),
  );
  console.log(
    `    billed quantity = recorded quantity: ${thousands(billed.totalQuantity)} = ${thousands(recordedTotal)}: ` +
      check(billed.totalQuantity === recordedTotal, 'billed quantity differs from recorded quantity'),
  );
  console.log(
    `    every bucket's record billed once, with its own quantity and hour: ` +
      check(
        mismatched === 0 && billedKeys.size === bucketCount && [...expected.keys()].every((key) => billedKeys.has(key)),
        `${mismatched} billed records do not match their bucket, ` +
          `${[...expected.keys()].filter((key) => !billedKeys.has(key)).length} buckets not billed`,
      ),
  );
  console.log(
    `    DuplicateRecord answers: ${duplicates.length}: ${check(duplicates.length === 0, 'DuplicateRecord answered')}; ` +
      `CustomerNotSubscribed answers: ${notSubscribed.length}: ` +
      check(notSubscribed.length === 0, 'CustomerNotSubscribed answered'),
  );
  console.log(
    `    buckets settled billed in the table: ${thousands(states.get('billed') ?? 0)} of ${thousands(bucketCount)} ` +
      `(${[...states].map(([state, count]) => `${state} ${thousands(count)}`).join(', ')}): ` +
      check(
        (states.get('billed') ?? 0) === bucketCount && summary.billed === bucketCount && summary.pending === 0,
        'not every bucket settled billed',
      ),
  );
  if (failures.length > 0) console.log(`  FAILED: ${failures.join('; ')}`);
  lowLevel.destroy();
  runLowLevel.destroy();
} catch (error) {
  failures.push(error instanceof Error ? error.message : String(error));
  console.error(error);
} finally {
  await Promise.allSettled([dynamoDb?.stop(), simulator?.stop()]);
}
process.exit(failures.length === 0 ? 0 : 1);

/**
 * Writes the first subscriber with the lifecycle's repository and its first bucket with the recorder, and checks that
 * the items the benchmark writes for all the others are the same, attribute for attribute.
 */
async function checkItemShapes(
  client: DynamoDBDocumentClient,
  tables: { readonly Usage: string; readonly Subscribers: string },
  subscriber: LicenseSubscriber,
  products: Parameters<typeof recordUsage>[0]['products'],
): Promise<void> {
  await new LifecycleRepository(client, tables.Subscribers, 3600).applyToSubscriber(
    {
      subscriber: {
        model: 'license',
        productCode: subscriber.productCode,
        licenseArn: subscriber.licenseArn,
        customerAWSAccountId: subscriber.customerAWSAccountId,
      },
      facts: ['activatedAt'],
      at: SINCE,
    },
    RECORDED_AT,
  );
  const storedSubscriber = await client.send(
    new GetCommand({
      TableName: tables.Subscribers,
      Key: subscriberKey(subscriber.subscriberId),
      ConsistentRead: true,
    }),
  );
  assertSameItem('Subscriber item', storedSubscriber.Item, activeSubscriberItem(subscriber, SINCE));

  const quantity = quantityOf(0, 0);
  const [result] = await recordUsage(
    {
      client,
      usageTable: tables.Usage,
      subscribersTable: tables.Subscribers,
      products,
      acceptanceWindowHours: 24,
      eventIdRetentionDays: 35,
      finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
    },
    [{ subscriberId: subscriber.subscriberId, dimension: DIMENSIONS[0], quantity, timestamp: RECORDED_AT }],
    RECORDED_AT,
  );
  if (result?.status !== 'accepted')
    throw new Error(`The recorder did not accept the first event: ${JSON.stringify(result)}`);
  const storedBucket = await client.send(
    new GetCommand({
      TableName: tables.Usage,
      Key: bucketKey(subscriber.subscriberId, BUCKET_HOUR, DIMENSIONS[0]),
      ConsistentRead: true,
    }),
  );
  assertSameItem(
    'Bucket item',
    storedBucket.Item,
    openBucketItem(subscriber.subscriberId, BUCKET_HOUR, DIMENSIONS[0], quantity),
  );
}

/** How many bucket items are in each state, read straight from the table. */
async function bucketStates(client: DynamoDBDocumentClient, usageTable: string): Promise<Map<string, number>> {
  const states = new Map<string, number>();
  const items = itemsOfPages((startKey) =>
    client.send(
      new ScanCommand({
        TableName: usageTable,
        FilterExpression: 'begins_with(#pk, :usage)',
        ProjectionExpression: '#state',
        ExpressionAttributeNames: { '#pk': 'pk', '#state': 'state' },
        ExpressionAttributeValues: { ':usage': 'USAGE#' },
        ExclusiveStartKey: startKey,
      }),
    ),
  );
  for await (const item of items) states.set(String(item.state), (states.get(String(item.state)) ?? 0) + 1);
  return states;
}
