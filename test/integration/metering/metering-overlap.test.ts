/**
 * Runs that die part-way and runs that overlap (EventBridge delivers its schedule at least once): a rerun re-sends
 * exactly the records the dead run froze, and two runs at once bill each bucket once.
 */
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, bucketsOf, hoursBefore, subscribeBuyer, type Buyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness, type MeteringHarness } from '../../support/metering-run.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
const now = SIMULATOR_NOW;

/** The process dying: nothing in the run catches it. */
class Crash extends Error {
  override readonly name = 'Crash';
}

const crashOnPause = () => Promise.reject(new Crash('the function timed out'));

async function buyersWithUsage(buyerCount: number, hours: number) {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  const { code } = await sim.control.createProduct(meteredProduct());
  const listing = { code, meteredDimensions: ['users', 'gb'] };
  const buyers: Buyer[] = [];
  for (let index = 0; index < buyerCount; index++) {
    buyers.push(
      await subscribeBuyer({ control: sim.control, client, subscribersTable: tables.subscribers }, code, now),
    );
  }
  let recorded = 0;
  for (const { subscriberId } of buyers) {
    for (let hour = 1; hour <= hours; hour++) {
      for (const dimension of ['users', 'gb']) {
        await addUsage(client, tables.usage, { subscriberId, hour: hoursBefore(now, hour), dimension, quantity: hour });
        recorded += hour;
      }
    }
  }
  return {
    tables,
    client,
    listing,
    buyers,
    recorded,
    buckets: async () =>
      (await Promise.all(buyers.map((buyer) => bucketsOf(client, tables.usage, buyer.subscriberId)))).flat(),
  };
}

describe('a run that dies', () => {
  test('after freezing, before anything was billed: the rerun sends the identical records, with the frozen quantities', async () => {
    const { tables, client, listing, buyers, recorded, buckets } = await buyersWithUsage(1, 5);
    await sim.control.setFaults({ rules: [{ kind: 'internal-error', times: 1 }] });
    const dying = meteringHarness(tables, sim.url, { products: [listing], sleep: crashOnPause });

    await expect(dying.run({ now })).rejects.toThrow(Crash);

    expect((await sim.control.billed({ productCode: listing.code })).records).toEqual([]);
    for (const bucket of await buckets())
      expect(bucket).toMatchObject({ state: 'frozen', frozenAt: now.toISOString() });
    // Usage arriving now for a frozen hour is refused there (the recorder carries it into an open hour).
    const late = {
      subscriberId: buyers[0]!.subscriberId,
      hour: hoursBefore(now, 1),
      dimension: 'users',
      quantity: 100,
    };
    expect(await addUsage(client, tables.usage, late)).toBe(false);

    const rerun = meteringHarness(tables, sim.url, { products: [listing] });
    expect(await rerun.run({ now: minutesFrom(now, 20) })).toMatchObject({ billed: 10, pending: 0 });

    expect(rerun.requests).toEqual(dying.requests);
    const billed = await sim.control.billed({ productCode: listing.code });
    expect(billed.totalQuantity).toBe(recorded);
  });

  test('after Marketplace billed, before the outcome was recorded: the rerun is answered Success with the same ids', async () => {
    const { tables, listing, recorded, buckets } = await buyersWithUsage(1, 5);
    await sim.control.setFaults({ rules: [{ kind: 'drop-connection', when: 'after-processing', times: 1 }] });
    const dying = meteringHarness(tables, sim.url, { products: [listing], sleep: crashOnPause });

    await expect(dying.run({ now })).rejects.toThrow(Crash);

    const billedBefore = await sim.control.billed({ productCode: listing.code });
    expect(billedBefore.totalQuantity).toBe(recorded);
    for (const bucket of await buckets())
      expect(bucket).toMatchObject({ state: 'frozen', pendingShard: expect.any(String) as unknown });

    const rerun = meteringHarness(tables, sim.url, { products: [listing] });
    expect(await rerun.run({ now: minutesFrom(now, 20) })).toMatchObject({ billed: 10, pending: 0, rejected: {} });

    expect(rerun.requests).toEqual(dying.requests);
    const billedAfter = await sim.control.billed({ productCode: listing.code });
    expect(billedAfter).toEqual(billedBefore);
    const ids = new Map(
      billedAfter.records.map((record) => [`${record.dimension}@${record.hour}`, record.meteringRecordId]),
    );
    for (const bucket of await buckets()) {
      expect(bucket.meteringRecordId).toBe(ids.get(`${String(bucket.dimension)}@${String(bucket.hour)}`));
    }
    const statuses = (await sim.control.results({ productCode: listing.code })).results.map((result) => result.status);
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 'Success'));
  });
});

/**
 * Holds each harness's first `BatchMeterUsage` call until every one has reached its own, so that the runs overlap
 * whatever the machine's timing: the buckets of a held call stay pending, for the other run to find. `release` lets
 * them all go: called when a run ends, so that one that never makes a call fails the test instead of hanging it.
 */
function holdFirstCallsTogether(harnesses: readonly MeteringHarness[]): { release: () => void } {
  let notYetReached = harnesses.length;
  let release = () => {};
  const together = new Promise<void>((resolve) => (release = resolve));
  for (const harness of harnesses) {
    let reached = false;
    harness.dependencies.metering.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchMeterUsageCommand' && !reached) {
          reached = true;
          if (--notYetReached === 0) release();
          await together;
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdFirstBatchMeterUsage' },
    );
  }
  return { release };
}

describe('two runs at once', () => {
  test('bill each bucket once and settle it once', async () => {
    const { tables, listing, recorded, buckets, client } = await buyersWithUsage(2, 15);
    const idle = await subscribeBuyer(
      { control: sim.control, client, subscribersTable: tables.subscribers },
      listing.code,
      now,
    );
    // Answers a little late now and then, so that the two runs' later calls interleave in varied ways.
    await sim.control.setFaults({ seed: 11, rules: [{ kind: 'latency', latencyMs: 15, probability: 0.5 }] });
    const first = meteringHarness(tables, sim.url, { products: [listing], zeroUsageRecords: true });
    const second = meteringHarness(tables, sim.url, { products: [listing], zeroUsageRecords: true });
    // Each run's first call waits for the other's: the two overlap for certain, and both make calls.
    const held = holdFirstCallsTogether([first, second]);

    const summaries = await Promise.all([
      first.run({ now }).finally(held.release),
      second.run({ now: minutesFrom(now, 0.5) }).finally(held.release),
    ]);

    // Both sent records; exactly one settled each bucket.
    expect(summaries.every((summary) => summary.calls > 0)).toBe(true);
    expect(summaries.reduce((sum, summary) => sum + summary.billed, 0)).toBe(61);
    expect(summaries.every((summary) => summary.pending === 0)).toBe(true);
    const billed = await sim.control.billed({ productCode: listing.code });
    expect(billed.records).toHaveLength(61);
    expect(billed.totalQuantity).toBe(recorded);
    expect((await sim.control.billed({ licenseId: idle.license.id })).records).toMatchObject([{ quantity: 0 }]);
    expect((await sim.control.results({ productCode: listing.code, status: 'DuplicateRecord' })).results).toEqual([]);
    for (const bucket of await buckets()) expect(bucket.state).toBe('billed');
  });
});
