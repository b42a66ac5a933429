/**
 * What recording usage costs in DynamoDB, and how fast it goes:
 *
 * 1. Capacity consumed per recorded event by `recordUsage`, for one event without and with an event id, and for a
 *    batch of 50 events into 50 distinct buckets and into one bucket (each without and with event ids); then per
 *    metered bucket, the reads and writes of a `meterUsage` run divided by the buckets it billed.
 * 2. Events per second through `recordUsage` (batches of 1 and of 50, without and with event ids) with 8 concurrent
 *    callers, against a bare loop of one plain `UpdateItem ... ADD` per event at the same concurrency, on the same
 *    DynamoDB Local; rounds interleaved, the median reported.
 *
 *   node --import tsx bench/usage-recording-cost.ts
 *   BENCH_EVENTS=400 BENCH_ROUNDS=1 node --import tsx bench/usage-recording-cost.ts     (a quick try)
 *   BENCH_SIMULATOR=in-process ...      (the simulator, used for the metering run, on this event loop)
 *
 * Capacity is measured by SDK middleware on the document client that sets `ReturnConsumedCapacity: 'INDEXES'` on
 * every data-plane request (neither function asks for it) and sums the `ConsumedCapacity` DynamoDB Local answers,
 * except for `TransactWriteItems`, whose reported figure DynamoDB Local does not grow with the items written: those
 * are counted from the transaction's items (2 WCU per item under 1 KB, 2 more for a bucket entering the pending index).
 * The output says which is which, and checks the item sizes the per-item rules assume.
 */
import '../local/sdk-environment.ts';
import { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DYNAMODB_SINGLE_ATTEMPT } from '../lambdas/core/aws-clients.ts';
import type { MeteredProduct } from '../lambdas/core/environment.ts';
import { forEachConcurrently, meterUsage } from '../lambdas/core/metering/run/index.ts';
import { bucketKey, HOUR_MS } from '../lambdas/core/metering/bucket/index.ts';
import {
  type UsageEventInput,
  type UsageEventResult,
  recordUsage,
  type UsageRecorderDependencies,
  eventKeyOf,
} from '../lambdas/core/metering/recording/index.ts';
import { subscriberKey, type ItemKey } from '../lambdas/core/table-keys.ts';
import { createDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { createTables } from '../local/dynamodb/tables.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import {
  activeSubscriberItem,
  batchPut,
  licenseBuyers,
  documentClientOn,
  fixed,
  itemSizeBytes,
  loadLine,
  machineLine,
  meteringOperationLabel,
  openBucketItem,
  READ_COMMANDS,
  simulatorModeFromEnvironment,
  startBenchSimulator,
  tallyDynamoDb,
  thousands,
  type BenchSimulator,
  type DynamoDbTally,
  localLicenseSubscriber,
  type LicenseSubscriber,
  type OperationTally,
} from './metering-bench-support.ts';
import { percentile } from './stats.ts';
import { noArguments, positiveIntegerFromEnvironment } from './arguments.ts';

noArguments('BENCH_EVENTS, BENCH_ROUNDS, BENCH_SIMULATOR (environment variables)');

const CALLERS = 8;
const BATCH = 50;
/** Events per variant per round for batches of 1 and the bare loop; batches of 50 send five times as many. */
const eventsPerRound = positiveIntegerFromEnvironment('BENCH_EVENTS', 2_000);
const rounds = positiveIntegerFromEnvironment('BENCH_ROUNDS', 3);
/** Calls of each cost scenario, averaged. */
const COST_CALLS = 20;
/** Subscribers x dimensions metered for the per-bucket cost. */
const METERED_SUBSCRIBERS = 200;

const PRODUCT_CODE = 'bench-recording';
const DIMENSIONS = ['requests', 'storage', 'seats'] as const;
const PRODUCTS: readonly MeteredProduct[] = [
  { code: PRODUCT_CODE, identityModel: 'license', meteredDimensions: [...DIMENSIONS] },
];
const HOUR = new Date('2026-11-18T12:00:00.000Z');
/** The recorder's clock: half past, events a quarter past. */
const NOW = new Date(HOUR.getTime() + 30 * 60_000);
const QUARTER_HOUR_MS = 15 * 60_000;
const EVENT_AT = new Date(HOUR.getTime() + QUARTER_HOUR_MS).toISOString();
const SINCE = new Date(HOUR.getTime() - 48 * HOUR_MS);
/** The metering run: minute 10 of the next hour. */
const RUN_AT = new Date(HOUR.getTime() + HOUR_MS + 10 * 60_000);

/** A license subscriber the simulator need not know (the recorder never calls Marketplace). */

const simulatorMode = simulatorModeFromEnvironment();
let dynamoDb: DynamoDbLocal | undefined;
let simulator: BenchSimulator | undefined;
const failures: string[] = [];
try {
  [dynamoDb, simulator] = await Promise.all([startDynamoDbLocal(), startBenchSimulator(simulatorMode)]);
  const lowLevel = createDynamoDbClient(dynamoDb.endpoint);
  const setupClient = documentClientOn(lowLevel);
  const tables = await createTables(lowLevel);

  // Subscribers 0-49 for the cost scenarios, then 50 per concurrent caller.
  const subscribers = Array.from({ length: BATCH * (1 + CALLERS) }, (_, index) =>
    localLicenseSubscriber(PRODUCT_CODE, index),
  );
  await batchPut(
    setupClient,
    tables.Subscribers,
    subscribers.map((subscriber) => activeSubscriberItem(subscriber, SINCE)),
  );

  console.log('Recording usage: DynamoDB capacity and throughput');
  console.log(`  machine: ${machineLine()}`);
  console.log(`  at the start: ${loadLine()}`);
  console.log(
    '  capacity: SDK middleware on the document client sets ReturnConsumedCapacity: INDEXES (TOTAL, broken down by\n' +
      '  table and index) on every data-plane request the code under test sends, and sums the ConsumedCapacity\n' +
      '  DynamoDB Local answers. Reads are GetItem/BatchGetItem/Query capacity (RCU), writes the rest (WCU). A\n' +
      '  request that fails reports none (none failed below unless said).',
  );

  // --- 1a. Capacity per recorded event -------------------------------------------------------------------------------
  // As the usage function makes them: one attempt a request, recording sends again what is safe to.
  const costLowLevel = createDynamoDbClient(dynamoDb.endpoint, DYNAMODB_SINGLE_ATTEMPT);
  const costClient = documentClientOn(costLowLevel);
  const costTally = tallyDynamoDb(costClient, { consumedCapacity: true });
  const costRecorder = recorderOf(costClient, tables);
  const costSubscribers = subscribers.slice(0, BATCH);
  let eventSerial = 0;
  const event = (subscriber: LicenseSubscriber, dimension: string, withId: boolean): UsageEventInput => ({
    subscriberId: subscriber.subscriberId,
    dimension,
    quantity: 1 + (eventSerial % 9),
    timestamp: EVENT_AT,
    ...(withId ? { eventId: `cost-${eventSerial++}` } : {}),
  });
  const scenarios: { label: string; events: (call: number) => UsageEventInput[] }[] = [
    { label: '1 event, no event id', events: (call) => [event(costSubscribers[call % BATCH]!, 'requests', false)] },
    { label: '1 event, with an event id', events: (call) => [event(costSubscribers[call % BATCH]!, 'requests', true)] },
    {
      label: '50 events into 50 buckets, no ids',
      events: () => costSubscribers.map((subscriber) => event(subscriber, 'requests', false)),
    },
    {
      label: '50 events into 50 buckets, with ids',
      events: () => costSubscribers.map((subscriber) => event(subscriber, 'requests', true)),
    },
    {
      label: '50 events into 1 bucket, no ids',
      events: () => costSubscribers.map(() => event(costSubscribers[0]!, 'storage', false)),
    },
    {
      label: '50 events into 1 bucket, with ids',
      events: () => costSubscribers.map(() => event(costSubscribers[0]!, 'storage', true)),
    },
  ];
  // The buckets exist already, as most buckets an event meets do (the first write of one costs the same here).
  expectAccepted('priming', await recordUsage(costRecorder, scenarios[2]!.events(0), NOW));
  expectAccepted('priming', await recordUsage(costRecorder, [event(costSubscribers[0]!, 'storage', false)], NOW));

  console.log(`\n  Capacity per recorded event (recordUsage, mean of ${COST_CALLS} calls into existing buckets)`);
  console.log(
    `    ${'call'.padEnd(38)}${'requests'.padStart(9)}${'RCU/call'.padStart(10)}${'WCU/call'.padStart(10)}` +
      `${'(index)'.padStart(9)}${'RCU/event'.padStart(11)}${'WCU/event'.padStart(11)}${'keys not found'.padStart(16)}` +
      `${'Local said WCU'.padStart(16)}`,
  );
  const bareScenario = { label: '(reference: bare UpdateItem ADD)', events: () => [] as UsageEventInput[] };
  for (const scenario of [...scenarios, bareScenario]) {
    costTally.reset();
    let events = 0;
    for (let call = 0; call < COST_CALLS; call++) {
      if (scenario === bareScenario) {
        // What the throughput section's bare loop sends: one plain ADD to an existing bucket, per event.
        await costClient.send(bareAdd(tables.Usage, costSubscribers[call % BATCH]!));
        events++;
        continue;
      }
      const batch = scenario.events(call);
      events += batch.length;
      expectAccepted(scenario.label, await recordUsage(costRecorder, batch, NOW));
    }
    const reads = costTally.totals((operation) => READ_COMMANDS.has(`${operation}Command`));
    const writes = costTally.totals((operation) => !READ_COMMANDS.has(`${operation}Command`));
    const perCall = (value: number, digits = 1) => fixed(value / COST_CALLS, digits);
    console.log(
      `    ${scenario.label.padEnd(38)}${perCall(reads.requests + writes.requests, 0).padStart(9)}` +
        `${perCall(reads.capacity).padStart(10)}${perCall(writes.capacity).padStart(10)}` +
        `${perCall(writes.indexCapacity).padStart(9)}${fixed(reads.capacity / events).padStart(11)}` +
        `${fixed(writes.capacity / events).padStart(11)}${perCall(reads.keysRead - reads.itemsFound).padStart(16)}` +
        `${perCall(writes.reportedCapacity).padStart(16)}` +
        (reads.failed + writes.failed > 0 ? `   (${reads.failed + writes.failed} requests failed)` : ''),
    );
  }
  // The per-item rules above hold for items under 1 KB (writes) and 4 KB (reads): check the items are.
  const sizes = {
    bucket: itemSizeBytes(
      await getItem(setupClient, tables.Usage, bucketKey(costSubscribers[0]!.subscriberId, HOUR, 'requests')),
    ),
    eventKey: itemSizeBytes(await getItem(setupClient, tables.Usage, eventKeyOf('cost-0'))),
    subscriber: itemSizeBytes(
      await getItem(setupClient, tables.Subscribers, subscriberKey(costSubscribers[0]!.subscriberId)),
    ),
  };
  if (sizes.bucket >= 1024 || sizes.eventKey >= 1024 || sizes.subscriber >= 4096) {
    failures.push(`items larger than the per-item rules assume: ${JSON.stringify(sizes)}`);
  }
  console.log(
    `    Each call is 1 BatchGetItem (the subscribers, strongly consistent, and the event-id keys) + 1\n` +
      `    TransactWriteItems (one update per bucket, one conditional put per event id). Item sizes: bucket\n` +
      `    ${sizes.bucket} B, event-id key ${sizes.eventKey} B, subscriber ${sizes.subscriber} B, so each item write is 1 KB and each\n` +
      '    item read 4 KB or less. RCU as DynamoDB Local reports them. WCU of TransactWriteItems counted from\n' +
      '    its items: 2 per item written (DynamoDB bills transactional writes double) + 2 per bucket entering\n' +
      "    the pending index, as DynamoDB Local reports for a one-item transaction; DynamoDB Local's own figure for a\n" +
      '    transaction (last column) stays at one item\'s cost however many items it writes. "keys not found":\n' +
      '    DynamoDB Local bills 0 RCU for a key BatchGetItem does not find (every new event id is one), though 1\n' +
      "    for a GetItem that finds nothing; DynamoDB's documentation says a read of a missing item still costs,\n" +
      '    so in AWS those rows likely cost that many RCU more per call.',
  );

  // --- 1b. Capacity per metered bucket -------------------------------------------------------------------------------
  const meteredTables = await createTables(lowLevel, { prefix: 'metered-' });
  const control = new SimulatorControl(simulator.url);
  const metered = await licenseBuyers(
    control,
    { code: PRODUCT_CODE, name: 'Recording cost benchmark', dimensions: DIMENSIONS },
    METERED_SUBSCRIBERS,
    SINCE,
  );
  await control.setClock(RUN_AT, false);
  await batchPut(
    setupClient,
    meteredTables.Subscribers,
    metered.map((subscriber) => activeSubscriberItem(subscriber, SINCE)),
  );
  await batchPut(
    setupClient,
    meteredTables.Usage,
    metered.flatMap((subscriber, index) =>
      DIMENSIONS.map((dimension, position) =>
        openBucketItem(subscriber.subscriberId, HOUR, dimension, 1 + ((index + position) % 100)),
      ),
    ),
  );
  const meteringLowLevel = createDynamoDbClient(dynamoDb.endpoint);
  const meteringClient = documentClientOn(meteringLowLevel);
  const meteringTally = tallyDynamoDb(meteringClient, { consumedCapacity: true, label: meteringOperationLabel });
  const metering = new MarketplaceMeteringClient({
    endpoint: simulator.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const summary = await meterUsage(
    {
      client: meteringClient,
      usageTable: meteredTables.Usage,
      subscribersTable: meteredTables.Subscribers,
      metering,
      closedHourGraceMinutes: 5,
      acceptanceWindowHours: 24,
      finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
      zeroUsageRecords: true,
      products: PRODUCTS,
    },
    { now: RUN_AT },
  );
  metering.destroy();
  const bucketCount = METERED_SUBSCRIBERS * DIMENSIONS.length;
  if (summary.billed !== bucketCount) failures.push(`the metering run billed ${summary.billed} of ${bucketCount}`);
  printMeteringCost(meteringTally, summary.billed, METERED_SUBSCRIBERS);

  // --- 2. Throughput -------------------------------------------------------------------------------------------------
  const throughputLowLevel = createDynamoDbClient(dynamoDb.endpoint, DYNAMODB_SINGLE_ATTEMPT);
  const throughputClient = documentClientOn(throughputLowLevel);
  const requestTally = tallyDynamoDb(throughputClient, { consumedCapacity: false });
  const recorder = recorderOf(throughputClient, tables);
  const callerSubscribers = (caller: number) => subscribers.slice(BATCH * (1 + caller), BATCH * (2 + caller));

  interface Variant {
    readonly label: string;
    readonly batch: number;
    /** One call's work for caller `caller`, its `call`-th; answers the events it carried. */
    readonly call: (caller: number, call: number, tag: string) => Promise<number>;
  }
  const recordCall =
    (batch: number, withIds: boolean, oneBucket: boolean) => async (caller: number, call: number, tag: string) => {
      const own = callerSubscribers(caller);
      const events: UsageEventInput[] = Array.from({ length: batch }, (_, position) => {
        const subscriber = oneBucket ? own[call % BATCH]! : own[(call * batch + position) % BATCH]!;
        return {
          subscriberId: subscriber.subscriberId,
          dimension: oneBucket ? 'storage' : 'requests',
          quantity: 1,
          timestamp: EVENT_AT,
          ...(withIds ? { eventId: `${tag}-${caller}-${call}-${position}` } : {}),
        };
      });
      expectAccepted(tag, await recordUsage(recorder, events, NOW));
      return batch;
    };
  const variants: Variant[] = [
    {
      label: 'bare UpdateItem ADD, 1 item per event',
      batch: 1,
      call: async (caller, call) => {
        await throughputClient.send(bareAdd(tables.Usage, callerSubscribers(caller)[call % BATCH]!));
        return 1;
      },
    },
    { label: 'recordUsage, 1 event/call, no id', batch: 1, call: recordCall(1, false, false) },
    { label: 'recordUsage, 1 event/call, event id', batch: 1, call: recordCall(1, true, false) },
    { label: 'recordUsage, 50/call in 50 buckets, no ids', batch: BATCH, call: recordCall(BATCH, false, false) },
    { label: 'recordUsage, 50/call in 50 buckets, ids', batch: BATCH, call: recordCall(BATCH, true, false) },
    { label: 'recordUsage, 50/call in 1 bucket, ids', batch: BATCH, call: recordCall(BATCH, true, true) },
  ];
  const results = new Map<
    string,
    { rates: number[]; latencies: number[]; requestsPerEvent: number; cpuMicrosPerEvent: number[] }
  >();
  const runVariant = async (variant: Variant, events: number, tag: string) => {
    const callsPerCaller = Math.max(1, Math.round(events / variant.batch / CALLERS));
    const latencies: number[] = [];
    let carried = 0;
    requestTally.reset();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await forEachConcurrently(
      Array.from({ length: CALLERS }, (_, caller) => caller),
      CALLERS,
      async (caller) => {
        for (let call = 0; call < callsPerCaller; call++) {
          const before = performance.now();
          const events = await variant.call(caller, call, tag);
          carried += events;
          latencies.push(performance.now() - before);
        }
      },
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return {
      rate: carried / seconds,
      latencies,
      requestsPerEvent: requestTally.totals().requests / carried,
      cpuMicrosPerEvent: (cpu.user + cpu.system) / carried,
    };
  };
  const scale = (variant: Variant) => eventsPerRound * (variant.batch === 1 ? 1 : 5);
  // Warm-up: DynamoDB Local's JIT and this process's, unmeasured.
  for (const variant of variants) await runVariant(variant, Math.ceil(scale(variant) / 4), `warm-${variant.label}`);
  for (let round = 0; round < rounds; round++) {
    for (const variant of variants) {
      const measured = await runVariant(variant, scale(variant), `round${round}-${variant.label}`);
      const entry = results.get(variant.label) ?? {
        rates: [],
        latencies: [],
        requestsPerEvent: 0,
        cpuMicrosPerEvent: [],
      };
      entry.rates.push(measured.rate);
      entry.cpuMicrosPerEvent.push(measured.cpuMicrosPerEvent);
      entry.latencies.push(...measured.latencies);
      entry.requestsPerEvent = measured.requestsPerEvent;
      results.set(variant.label, entry);
    }
  }

  console.log(
    `\n  Throughput, ${CALLERS} concurrent callers, ${rounds} interleaved round(s) after a warm-up; per round ` +
      `${thousands(eventsPerRound)} events (batches of 50: ${thousands(eventsPerRound * 5)}); median events/s`,
  );
  console.log(
    `    ${'variant'.padEnd(44)}${'events/s'.padStart(10)}${'(min-max)'.padStart(16)}${'vs bare'.padStart(9)}` +
      `${'call p50 ms'.padStart(13)}${'call p99 ms'.padStart(13)}${'DDB req/event'.padStart(15)}` +
      `${'client CPU µs/event'.padStart(21)}`,
  );
  const bare = percentile(results.get(variants[0]!.label)!.rates, 50);
  for (const variant of variants) {
    const { rates, latencies, requestsPerEvent, cpuMicrosPerEvent } = results.get(variant.label)!;
    const median = percentile(rates, 50);
    console.log(
      `    ${variant.label.padEnd(44)}${thousands(median).padStart(10)}` +
        `${`(${thousands(Math.min(...rates))}-${thousands(Math.max(...rates))})`.padStart(16)}` +
        `${`${fixed(median / bare)}x`.padStart(9)}${fixed(percentile(latencies, 50)).padStart(13)}` +
        `${fixed(percentile(latencies, 99)).padStart(13)}${fixed(requestsPerEvent, 3).padStart(15)}` +
        `${fixed(percentile(cpuMicrosPerEvent, 50), 0).padStart(21)}`,
    );
  }
  console.log(
    '    vs bare: events/s of the variant / events/s of the bare UpdateItem loop (below 1: slower than one plain write\n' +
      '    per event). client CPU: this process (recorder, SDK, marshalling), median of the rounds; DynamoDB Local\n' +
      '    (a JVM on the same CPUs) does the rest, so these rates are of DynamoDB Local on this machine, not of AWS.',
  );

  console.log(`  at the end: ${loadLine()}`);
  for (const client of [lowLevel, costLowLevel, meteringLowLevel, throughputLowLevel]) client.destroy();
  if (failures.length > 0) console.log(`  FAILED: ${failures.join('; ')}`);
} catch (error) {
  failures.push(error instanceof Error ? error.message : String(error));
  console.error(error);
} finally {
  await Promise.allSettled([dynamoDb?.stop(), simulator?.stop()]);
}
process.exit(failures.length === 0 ? 0 : 1);

function recorderOf(
  client: DynamoDBDocumentClient,
  tables: { readonly Usage: string; readonly Subscribers: string },
): UsageRecorderDependencies {
  return {
    client,
    usageTable: tables.Usage,
    subscribersTable: tables.Subscribers,
    products: PRODUCTS,
    acceptanceWindowHours: 24,
    eventIdRetentionDays: 35,
    finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
  };
}

/** Every event must have been accepted into its own hour: anything else means the benchmark measured something else. */
function expectAccepted(what: string, results: readonly UsageEventResult[]): void {
  const other = results.find((result) => result.status !== 'accepted' || result.carriedFrom !== undefined);
  if (other !== undefined) throw new Error(`${what}: an event was not accepted as expected: ${JSON.stringify(other)}`);
}

/** The bare write: one unit added to the subscriber's bucket of the hour, no condition, no transaction. */
function bareAdd(usageTable: string, subscriber: LicenseSubscriber): UpdateCommand {
  return new UpdateCommand({
    TableName: usageTable,
    Key: bucketKey(subscriber.subscriberId, HOUR, 'requests'),
    UpdateExpression: 'ADD #quantity :quantity',
    ExpressionAttributeNames: { '#quantity': 'quantity' },
    ExpressionAttributeValues: { ':quantity': 1 },
  });
}

async function getItem(client: DynamoDBDocumentClient, tableName: string, key: ItemKey) {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
  if (Item === undefined) throw new Error(`No item ${JSON.stringify(key)} in ${tableName}`);
  return Item;
}

function printMeteringCost(tally: DynamoDbTally, buckets: number, subscriberCount: number): void {
  console.log(
    `\n  Capacity per metered bucket (meterUsage, ${thousands(buckets)} buckets = ${subscriberCount} subscribers x ` +
      `${DIMENSIONS.length} dimensions, zero-usage records on, as configured by default)`,
  );
  console.log(
    `    ${'operation'.padEnd(34)}${'requests'.padStart(10)}${'per bucket'.padStart(12)}${'capacity'.padStart(10)}` +
      `${'per bucket'.padStart(12)}${'(of which index)'.padStart(18)}`,
  );
  const row = (label: string, tally: OperationTally) =>
    console.log(
      `    ${label.padEnd(34)}${thousands(tally.requests).padStart(10)}${fixed(tally.requests / buckets, 3).padStart(12)}` +
        `${fixed(tally.capacity, 1).padStart(10)}${fixed(tally.capacity / buckets, 3).padStart(12)}` +
        `${fixed(tally.indexCapacity / buckets, 3).padStart(18)}${tally.failed > 0 ? `  (${tally.failed} failed)` : ''}`,
    );
  const isRead = (operation: string) => /^(GetItem|Query|BatchGetItem|Scan)\b/.test(operation);
  for (const [operation, operationTally] of [...tally.byOperation].sort(([a], [b]) => (a < b ? -1 : 1))) {
    row(operation, operationTally);
  }
  row('reads (RCU)', tally.totals(isRead));
  row(
    'writes (WCU)',
    tally.totals((operation) => !isRead(operation)),
  );
  console.log(
    `    The zero-usage update (one per live subscriber and hour) comes to ${fixed(1 / DIMENSIONS.length, 3)} per ` +
      'bucket here because each\n    subscriber has 3 buckets; a subscriber with usage in one dimension pays it on its one bucket.',
  );
}
