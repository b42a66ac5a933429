/**
 * The metering run under the faults Marketplace can throw at it, injected by the simulator with fixed seeds:
 * throttling, 5xx, connections dropped before and after the call was processed, `UnprocessedRecords`, a caller
 * Marketplace refuses, and a rate quota. Whatever happens, each bucket ends billed exactly once or stays pending
 * (frozen) for the next run; nothing is dropped, nothing is marked failed, nothing is billed twice.
 */
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import type { FaultPlanInput } from '../../../simulator/control-client.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, bucketsOf, hoursBefore, subscribeBuyer, type Buyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import { meteredProduct, meteringClient, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
const now = SIMULATOR_NOW;

/** Two buyers, two dimensions, fifteen hours: sixty buckets, three calls. */
async function sixtyBuckets() {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  const { code } = await sim.control.createProduct(meteredProduct());
  const listing = { code, meteredDimensions: ['users', 'gb'] };
  const buyers: Buyer[] = [];
  for (let index = 0; index < 2; index++) {
    buyers.push(
      await subscribeBuyer({ control: sim.control, client, subscribersTable: tables.subscribers }, code, now),
    );
  }
  let recorded = 0;
  for (const { subscriberId } of buyers) {
    for (let hours = 1; hours <= 15; hours++) {
      for (const dimension of ['users', 'gb']) {
        await addUsage(client, tables.usage, {
          subscriberId,
          hour: hoursBefore(now, hours),
          dimension,
          quantity: hours,
        });
        recorded += hours;
      }
    }
  }
  const buckets = async () =>
    (await Promise.all(buyers.map((buyer) => bucketsOf(client, tables.usage, buyer.subscriberId)))).flat();
  return { tables, listing, recorded, buckets };
}

/** A product of its own with one buyer (subscribed two days before now) and one bucket of `users` in `hour`. */
async function productWithOneBucket(
  tables: Awaited<ReturnType<typeof freshTables>>,
  client: ReturnType<typeof documentClient>,
  hour: Date,
  quantity: number,
) {
  const { code } = await sim.control.createProduct(meteredProduct());
  const buyer = await subscribeBuyer({ control: sim.control, client, subscribersTable: tables.subscribers }, code, now);
  await addUsage(client, tables.usage, { subscriberId: buyer.subscriberId, hour, dimension: 'users', quantity });
  return { code, meteredDimensions: ['users'] };
}

/** What Marketplace billed for the product is what was recorded, each record once, and never `DuplicateRecord`. */
async function expectBilledExactlyOnce(productCode: string, recorded: number) {
  const billed = await sim.control.billed({ productCode });
  expect(billed.records).toHaveLength(60);
  expect(billed.totalQuantity).toBe(recorded);
  expect((await sim.control.results({ productCode, status: 'DuplicateRecord' })).results).toEqual([]);
}

const faultCases: readonly [
  string,
  FaultPlanInput,
  (stats: { throttled: number; internalErrors: number; dropped: number; unprocessedRecords: number }) => number,
][] = [
  [
    'throttling',
    { seed: 1, rules: [{ kind: 'throttle', operations: ['BatchMeterUsage'], times: 4 }] },
    (stats) => stats.throttled,
  ],
  [
    'internal errors (500)',
    { seed: 2, rules: [{ kind: 'internal-error', times: 4 }] },
    (stats) => stats.internalErrors,
  ],
  [
    'connections dropped before processing',
    { seed: 3, rules: [{ kind: 'drop-connection', when: 'before-processing', times: 3 }] },
    (stats) => stats.dropped,
  ],
  [
    'connections dropped after processing (billed, but the caller never hears)',
    { seed: 4, rules: [{ kind: 'drop-connection', when: 'after-processing', times: 3 }] },
    (stats) => stats.dropped,
  ],
  [
    'UnprocessedRecords',
    { seed: 5, rules: [{ kind: 'unprocessed', fraction: 0.5, times: 4 }] },
    (stats) => stats.unprocessedRecords,
  ],
];

describe('transient faults', () => {
  test.each(faultCases)('%s: every bucket is billed exactly once', async (_, plan, injected) => {
    const { tables, listing, recorded, buckets } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, { products: [listing] });
    await sim.control.setFaults(plan);

    const summary = await metering.run({ now });

    const stats = (await sim.control.stats()).operations.BatchMeterUsage;
    expect(injected(stats)).toBeGreaterThan(0);
    expect(summary).toMatchObject({ billed: 60, pending: 0, rejected: {}, expired: 0 });
    expect(summary.retries).toBeGreaterThan(0);
    expect(summary.calls).toBe(stats.requests);
    await expectBilledExactlyOnce(listing.code, recorded);
    for (const bucket of await buckets())
      expect(bucket).toMatchObject({ state: 'billed', meteringRecordId: expect.any(String) as unknown });
  });

  test('throttles are counted', async () => {
    const { tables, listing } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, { products: [listing] });
    await sim.control.setFaults({ seed: 1, rules: [{ kind: 'throttle', times: 4 }] });
    expect(await metering.run({ now })).toMatchObject({ throttles: 4, retries: 4, calls: 7 });
  });

  test('only the unprocessed records are sent again', async () => {
    const { tables, listing } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, { products: [listing] });
    await sim.control.setFaults({ seed: 9, rules: [{ kind: 'unprocessed', fraction: 0.4, times: 3 }] });

    await metering.run({ now });

    const { unprocessedRecords } = (await sim.control.stats()).operations.BatchMeterUsage;
    const sent = metering.requests.flatMap((request) => request.UsageRecords ?? []);
    // Every record once, and once more for each time it came back unprocessed: nothing else was sent again.
    expect(unprocessedRecords).toBeGreaterThan(0);
    expect(sent).toHaveLength(60 + unprocessedRecords);
    expect(
      new Set(sent.map((record) => `${record.LicenseArn}|${record.Dimension}|${String(record.Timestamp)}`)).size,
    ).toBe(60);
  });

  test('seeded chaos of every kind at once: runs until nothing is pending, each bucket billed once', async () => {
    const { tables, listing, recorded, buckets } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, { products: [listing] });
    // Concurrent sends reach the simulator in an order that depends on the machine, so the seed alone does not
    // promise that every kind fires: the first five requests get one kind each, then the dice decide.
    const chaosFrom = 5;
    const operations: ['BatchMeterUsage'] = ['BatchMeterUsage'];
    await sim.control.setFaults({
      seed: 2026,
      rules: [
        { operations, kind: 'throttle', times: 1 },
        { operations, kind: 'internal-error', skip: 1, times: 1 },
        { operations, kind: 'drop-connection', when: 'before-processing', skip: 2, times: 1 },
        { operations, kind: 'drop-connection', when: 'after-processing', skip: 3, times: 1 },
        { operations, kind: 'unprocessed', fraction: 1, skip: 4, times: 1 },
        { operations, kind: 'throttle', probability: 0.25, skip: chaosFrom },
        { operations, kind: 'internal-error', probability: 0.2, skip: chaosFrom },
        { operations, kind: 'drop-connection', when: 'before-processing', probability: 0.1, skip: chaosFrom },
        { operations, kind: 'drop-connection', when: 'after-processing', probability: 0.15, skip: chaosFrom },
        { operations, kind: 'unprocessed', fraction: 0.3, probability: 0.5, skip: chaosFrom },
      ],
    });

    let pending = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 12 && pending > 0; run++) {
      ({ pending } = await metering.run({ now: minutesFrom(now, run) }));
    }

    expect(pending).toBe(0);
    const stats = (await sim.control.stats()).operations.BatchMeterUsage;
    for (const injected of [stats.throttled, stats.internalErrors, stats.dropped, stats.unprocessedRecords]) {
      expect(injected).toBeGreaterThan(0);
    }
    await expectBilledExactlyOnce(listing.code, recorded);
    for (const bucket of await buckets()) expect(bucket.state).toBe('billed');
  });
});

describe('what still fails stays pending', () => {
  test('retries run out: the buckets stay frozen and pending, and the next run bills them', async () => {
    const { tables, listing, recorded, buckets } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, {
      products: [listing],
      retryPolicy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    });
    await sim.control.setFaults({ rules: [{ kind: 'internal-error' }] });

    const failed = await metering.run({ now });

    expect(failed).toMatchObject({ billed: 0, pending: 60, rejected: {}, calls: 9, retries: 6 });
    expect(failed.oldestPending).toEqual({ hour: hoursBefore(now, 15).toISOString(), ageMinutes: 15 * 60 + 30 });
    for (const bucket of await buckets()) {
      expect(bucket).toMatchObject({ state: 'frozen', pendingShard: expect.any(String) as unknown });
      expect(bucket).not.toHaveProperty('reason');
    }

    await sim.control.clearFaults();
    expect(await metering.run({ now: minutesFrom(now, 60) })).toMatchObject({ billed: 60, pending: 0 });
    await expectBilledExactlyOnce(listing.code, recorded);
  });

  test('a bucket whose acceptance window closes before the next hourly run is retried longer: this run is its last', async () => {
    /** One bucket of the hour `hoursAgo` before now's, under twelve throttles in a row; what the run made of it. */
    const throttledBucket = async (hoursAgo: number) => {
      const tables = await freshTables(dynamoDb);
      const client = documentClient(dynamoDb.endpoint);
      const product = await productWithOneBucket(tables, client, hoursBefore(now, hoursAgo), 7);
      const metering = meteringHarness(tables, sim.url, {
        products: [product],
        retryPolicy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
        lastChanceRetryPolicy: { maxAttempts: 20, baseDelayMs: 1, maxDelayMs: 1 },
      });
      await sim.control.setFaults({ rules: [{ kind: 'throttle', operations: ['BatchMeterUsage'], times: 12 }] });
      const summary = await metering.run({ now });
      await sim.control.clearFaults();
      return { summary, billed: (await sim.control.billed({ productCode: product.code })).totalQuantity };
    };

    // 23 hours before 12:00, its window closes at 13:00, half an hour after this 12:30 run: retried until billed.
    expect(await throttledBucket(23)).toMatchObject({ summary: { billed: 1, pending: 0, calls: 13 }, billed: 7 });
    // 22 hours before, the window closes at 14:00, after the next run: the usual retries, then pending for that run.
    expect(await throttledBucket(22)).toMatchObject({ summary: { billed: 0, pending: 1, calls: 3 }, billed: 0 });
  });

  test('a caller Marketplace refuses (API disabled in the region) rejects no record and stops sending', async () => {
    const { tables, listing, buckets } = await sixtyBuckets();
    const metering = meteringHarness(tables, sim.url, {
      products: [listing],
      metering: meteringClient(sim.url, { region: 'eu-west-1' }),
      callsPerSecond: 1,
    });

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({ billed: 0, pending: 60, rejected: {}, calls: 1, retries: 0 });
    for (const bucket of await buckets())
      expect(bucket).toMatchObject({ state: 'frozen', pendingShard: expect.any(String) as unknown });
  });
});

describe('the rate limit', () => {
  /** Twelve products with one bucket each: twelve calls. */
  async function twelveCalls() {
    const tables = await freshTables(dynamoDb);
    const client = documentClient(dynamoDb.endpoint);
    const products = [];
    for (let index = 0; index < 12; index++) {
      products.push(await productWithOneBucket(tables, client, hoursBefore(now, 1), 1));
    }
    return { tables, products };
  }

  test('calls are spaced to stay under the quota: no throttling', async () => {
    const { tables, products } = await twelveCalls();
    await sim.control.setFaults({ tpsLimits: { BatchMeterUsage: 10 } });
    // Paced at half the simulator's limit: calls leave the client spaced out, but the network and a busy machine can
    // bunch them up on the way, and a pace close to the limit would then be throttled by chance. Twelve calls unpaced
    // (or a pacer that let them all go at once) would still be well over it.
    const metering = meteringHarness(tables, sim.url, { products, callsPerSecond: 5, sleep: undefined });

    const started = performance.now();
    const summary = await metering.run({ now });

    expect(summary).toMatchObject({ billed: 12, calls: 12, throttles: 0 });
    // Twelve calls at 5 a second leave over eleven intervals: the pacer spaced them.
    expect(performance.now() - started).toBeGreaterThanOrEqual((11 / 5) * 1000 - 50);
  });

  test('over the quota, throttled calls are retried after a pause until they go through', async () => {
    const { tables, products } = await twelveCalls();
    await sim.control.setFaults({ tpsLimits: { BatchMeterUsage: 4 } });
    const metering = meteringHarness(tables, sim.url, {
      products,
      callsPerSecond: 1000,
      sleep: undefined,
      retryPolicy: { maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 1000 },
    });

    const summary = await metering.run({ now });

    expect(summary.throttles).toBeGreaterThan(0);
    expect(summary).toMatchObject({ billed: 12, pending: 0 });
  });
});
