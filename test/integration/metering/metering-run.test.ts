/**
 * The metering run against DynamoDB Local and the simulator, through the real SDK clients: which buckets it meters,
 * what it sends for them (identity, timestamp, allocations, batches), and where each bucket ends.
 */
import { BatchMeterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, test, vi } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { LifecycleRepository } from '../../../lambdas/core/lifecycle/lifecycle-repository.ts';
import { bucketKey, pendingShardOf } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import { subscriberIdOf } from '../../../lambdas/core/subscriber.ts';
import { subscriberKey } from '../../../lambdas/core/table-keys.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import {
  addUsage,
  bucketsOf,
  cancelSubscription,
  hoursBefore,
  subscribeBuyer,
  type BuyerOptions,
} from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import {
  meteredProduct,
  minutesFrom,
  SIMULATOR_NOW,
  uniqueProductCode,
  useSimulator,
} from '../../support/simulator.ts';
import { PENDING_INDEX } from '../../../contracts/index.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
const now = SIMULATOR_NOW;

async function product(identityModel: 'license' | 'legacy' = 'license') {
  const created = await sim.control.createProduct(meteredProduct({ identityModel }));
  return { code: created.code, meteredDimensions: ['users', 'gb'] };
}

/** Tables of the test's own, and what it does with them. */
async function fixtures(at: Date = now) {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  return {
    tables,
    client,
    metering: (overrides: Parameters<typeof meteringHarness>[2]) => meteringHarness(tables, sim.url, overrides),
    usage: (usage: Parameters<typeof addUsage>[2]) => addUsage(client, tables.usage, usage),
    buyer: (code: string, options?: BuyerOptions) =>
      subscribeBuyer({ control: sim.control, client, subscribersTable: tables.subscribers }, code, at, options),
    buckets: (subscriberId: string) => bucketsOf(client, tables.usage, subscriberId),
    /** Changes stored identity attributes of a subscriber, as another writer might have left them. */
    alterSubscriber: (subscriberId: string, attributes: Record<string, string>) =>
      client.send(
        new UpdateCommand({
          TableName: tables.subscribers,
          Key: subscriberKey(subscriberId),
          UpdateExpression: `SET ${Object.keys(attributes)
            .map((name) => `#${name} = :${name}`)
            .join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(Object.keys(attributes).map((name) => [`#${name}`, name])),
          ExpressionAttributeValues: Object.fromEntries(
            Object.entries(attributes).map(([name, value]) => [`:${name}`, value]),
          ),
        }),
      ),
  };
}

const byKey = (bucket: Record<string, unknown>) => `${String(bucket.dimension)}@${String(bucket.hour)}`;

async function bucketMap(buckets: Promise<Record<string, unknown>[]>) {
  return new Map((await buckets).map((bucket) => [byKey(bucket), bucket]));
}

describe('what a run meters', () => {
  test('bills each closed bucket once, with its hour as timestamp, and settles it billed', async () => {
    const { usage, buyer, buckets, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const metering = harness({ products: [listing] });
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 7 });
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 3 });
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 3), dimension: 'gb', quantity: 2 });

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({ billed: 2, pending: 0, expired: 0, rejected: {}, calls: 1 });
    expect(summary.oldestPending).toBeUndefined();
    const { records } = await sim.control.billed({ licenseId: alice.license.id });
    expect(records.map((record) => [record.dimension, record.timestamp, record.quantity]).sort()).toEqual(
      [
        ['gb', hoursBefore(now, 3).toISOString(), 2],
        ['users', hoursBefore(now, 1).toISOString(), 10],
      ].sort(),
    );
    for (const bucket of await buckets(alice.subscriberId)) {
      const billed = records.find((record) => record.dimension === bucket.dimension)!;
      expect(bucket).toMatchObject({
        state: 'billed',
        meteringRecordId: billed.meteringRecordId,
        requestId: billed.requestId,
        settledAt: now.toISOString(),
        frozenAt: now.toISOString(),
      });
      expect(summary.requestIds).toContain(bucket.requestId);
      expect(bucket).not.toHaveProperty(PENDING_INDEX.partitionKey);
    }
    // Late usage for a metered hour is refused there (the recorder carries it into an open hour), so a second run in
    // the same hour has nothing to send and no other total to be told DuplicateRecord about.
    const late = { subscriberId: alice.subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 1 };
    expect(await usage(late)).toBe(false);
    expect(await metering.run({ now: minutesFrom(now, 1) })).toMatchObject({ due: 0, calls: 0 });
    expect((await sim.control.results({ status: 'DuplicateRecord' })).results).toEqual([]);
  });

  test('leaves the open hour and the closed hour inside its grace period alone', async () => {
    const { usage, buyer, buckets, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const metering = harness({ products: [listing], closedHourGraceMinutes: 5 });
    const early = new Date('2026-11-18T12:04:00Z');
    await sim.control.setClock(early, false);
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(early, 1), dimension: 'users', quantity: 4 });
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(early, 0), dimension: 'users', quantity: 5 });

    expect(await metering.run({ now: early })).toMatchObject({ due: 0, calls: 0 });
    expect(metering.requests).toEqual([]);

    const afterGrace = new Date('2026-11-18T12:05:00Z');
    await sim.control.setClock(afterGrace, false);
    expect(await metering.run({ now: afterGrace })).toMatchObject({ due: 1, billed: 1 });
    const states = await bucketMap(buckets(alice.subscriberId));
    expect(states.get(`users@${hoursBefore(early, 1).toISOString()}`)).toMatchObject({ state: 'billed', quantity: 4 });
    expect(states.get(`users@${hoursBefore(early, 0).toISOString()}`)).toMatchObject({ state: 'open', quantity: 5 });
  });

  test('sends tagged usage as allocations, with the untagged rest as an allocation without tags', async () => {
    const { usage, buyer, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const metering = harness({ products: [listing] });
    const hour = hoursBefore(now, 2);
    const at = { subscriberId: alice.subscriberId, hour, dimension: 'users' };
    await usage({ ...at, quantity: 3, tags: { team: 'a' } });
    await usage({ ...at, quantity: 2, tags: { team: 'b', env: 'prod' } });
    await usage({ ...at, quantity: 1, tags: { team: 'a' } });
    await usage({ ...at, quantity: 4 });
    await usage({ subscriberId: alice.subscriberId, hour, dimension: 'gb', quantity: 6 });

    expect(await metering.run({ now })).toMatchObject({ billed: 2 });

    const { records } = await sim.control.billed({ licenseId: alice.license.id });
    const users = records.find((record) => record.dimension === 'users')!;
    expect(users.quantity).toBe(10);
    expect(users.allocations).toEqual(
      expect.arrayContaining([
        { quantity: 4, tags: [{ key: 'team', value: 'a' }] },
        {
          quantity: 2,
          tags: [
            { key: 'env', value: 'prod' },
            { key: 'team', value: 'b' },
          ],
        },
        { quantity: 4, tags: [] },
      ]),
    );
    expect(users.allocations).toHaveLength(3);
    const sent = metering.requests.flatMap((request) => request.UsageRecords ?? []);
    expect(sent.find((record) => record.Dimension === 'gb')).not.toHaveProperty('UsageAllocations');
  });
});

describe('identities', () => {
  test('license records carry LicenseArn and account without ProductCode; legacy ones CustomerIdentifier, in calls for their product', async () => {
    const { usage, buyer, alterSubscriber, metering: harness } = await fixtures();
    const licensed = await product('license');
    const legacy = await product('legacy');
    const otherLegacy = await product('legacy');
    const alice = await buyer(licensed.code);
    const bob = await buyer(legacy.code);
    const carol = await buyer(otherLegacy.code);
    // A legacy buyer whose ResolveCustomer answer also carried a license: still metered as legacy only.
    await alterSubscriber(bob.subscriberId, {
      licenseArn: `arn:aws:license-manager::${bob.license.customerAWSAccountId}:license:l-0123456789abcdef0123456789abcdef`,
      customerAWSAccountId: bob.license.customerAWSAccountId,
    });
    const metering = harness({ products: [licensed, legacy, otherLegacy] });
    const hour = hoursBefore(now, 1);
    for (const subscriberId of [alice.subscriberId, bob.subscriberId, carol.subscriberId]) {
      await usage({ subscriberId, hour, dimension: 'users', quantity: 5 });
    }

    expect(await metering.run({ now })).toMatchObject({ billed: 3, calls: 3 });

    for (const request of metering.requests) {
      for (const record of request.UsageRecords ?? []) {
        if (request.ProductCode === undefined) {
          expect(record.LicenseArn).toBe(alice.license.licenseArn);
          expect(record.CustomerAWSAccountId).toBe(alice.license.customerAWSAccountId);
          expect(record).not.toHaveProperty('CustomerIdentifier');
        } else {
          expect(Object.keys(record).sort()).toEqual(['CustomerIdentifier', 'Dimension', 'Quantity', 'Timestamp']);
          const buyerOfCall = request.ProductCode === legacy.code ? bob : carol;
          expect(record.CustomerIdentifier).toBe(buyerOfCall.license.customerIdentifier);
        }
      }
    }
    expect(metering.requests.map((request) => request.ProductCode).sort()).toEqual(
      [legacy.code, otherLegacy.code, undefined].sort(),
    );
    const bobBilled = await sim.control.billed({ licenseId: bob.license.id });
    expect(bobBilled.records).toHaveLength(1);
    expect(bobBilled.records[0]).toMatchObject({ productCode: legacy.code, quantity: 5 });
    expect(bobBilled.records[0]!.licenseArn).toBeUndefined();
  });

  test('usage of an unknown subscriber is rejected without being sent; an incomplete identity waits', async () => {
    const { usage, buckets, client, tables, metering: harness } = await fixtures();
    const listing = await product();
    const metering = harness({ products: [listing] });
    const stranger = subscriberIdOf({
      model: 'license',
      licenseArn: 'arn:aws:license-manager::222233334444:license:l-00000000000000000000000000000000',
    });
    // Heard of through a license event before the buyer arrived: no buyer account yet.
    const early = {
      model: 'license' as const,
      productCode: listing.code,
      licenseArn: 'arn:aws:license-manager::555566667777:license:l-11111111111111111111111111111111',
    };
    await new LifecycleRepository(client, tables.subscribers, 3600).applyToSubscriber(
      { subscriber: early, facts: ['activatedAt'], at: minutesFrom(now, -600) },
      now,
    );
    const hour = hoursBefore(now, 2);
    await usage({ subscriberId: stranger, hour, dimension: 'users', quantity: 5 });
    await usage({ subscriberId: subscriberIdOf(early), hour, dimension: 'users', quantity: 6 });
    // Not a bucket the recorder could have written: quarantined, not sent, not left to block the index.
    const malformed = {
      ...bucketKey(stranger, hour, 'gb'),
      subscriberId: stranger,
      dimension: 'gb',
      hour: hour.toISOString(),
      quantity: 'lots',
      state: 'open',
      pendingShard: pendingShardOf(stranger),
      pendingHour: hour.toISOString(),
    };
    await client.send(new PutCommand({ TableName: tables.usage, Item: malformed }));

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({
      rejected: { 'malformed-bucket': 1, 'unknown-subscriber': 1 },
      pending: 1,
      calls: 0,
      oldestPending: { hour: hour.toISOString(), ageMinutes: 150 },
    });
    const strangers = await bucketMap(buckets(stranger));
    expect(strangers.get(`users@${hour.toISOString()}`)).toMatchObject({
      state: 'rejected',
      reason: 'unknown-subscriber',
    });
    expect(strangers.get(`gb@${hour.toISOString()}`)).toMatchObject({ state: 'rejected', reason: 'malformed-bucket' });
    for (const bucket of strangers.values()) expect(bucket).not.toHaveProperty('pendingShard');
    expect((await buckets(subscriberIdOf(early)))[0]).toMatchObject({
      state: 'frozen',
      pendingShard: expect.any(String) as unknown,
    });
  });
});

describe('batches', () => {
  test('splits more than 25 records into calls of at most 25', async () => {
    const { usage, buyer, metering: harness } = await fixtures();
    const listing = await product();
    const buyers = [await buyer(listing.code), await buyer(listing.code)];
    const metering = harness({ products: [listing] });
    let recorded = 0;
    for (const { subscriberId } of buyers) {
      for (let hours = 1; hours <= 15; hours++) {
        for (const dimension of ['users', 'gb']) {
          await usage({ subscriberId, hour: hoursBefore(now, hours), dimension, quantity: hours });
          recorded += hours;
        }
      }
    }

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({ due: 60, billed: 60, calls: 3, pending: 0 });
    // Calls waiting on the rate limiter together may leave in either order.
    const sizes = metering.requests.map((request) => request.UsageRecords?.length ?? 0);
    expect(sizes.sort((left, right) => left - right)).toEqual([10, 25, 25]);
    const billed = await sim.control.billed({ productCode: listing.code });
    expect(billed.records).toHaveLength(60);
    expect(billed.totalQuantity).toBe(recorded);
  });

  test('meters every bucket when the pending index, or a final flush, takes many 1 MB pages', async () => {
    const { usage, buyer, client, tables, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const bob = await buyer(listing.code);
    const metering = harness({ products: [listing] });
    for (const { subscriberId } of [alice, bob]) {
      for (let hours = 1; hours <= 20; hours++) {
        for (const dimension of ['users', 'gb']) {
          // 100 KB each: a 1 MB page holds about ten of a subscriber's forty.
          await usage({
            subscriberId,
            hour: hoursBefore(now, hours),
            dimension,
            quantity: hours,
            paddingBytes: 100_000,
          });
        }
      }
    }
    const firstPage = await client.send(
      new QueryCommand({
        TableName: tables.usage,
        IndexName: PENDING_INDEX.indexName,
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': PENDING_INDEX.partitionKey },
        ExpressionAttributeValues: { ':shard': pendingShardOf(alice.subscriberId) },
      }),
    );
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    expect(firstPage.Items!.length).toBeLessThan(40);
    const recorded = (2 * (20 * 21)) / 2;

    expect(await metering.run({ now, scope: { subscriberId: bob.subscriberId } })).toMatchObject({
      due: 40,
      billed: 40,
    });
    expect((await sim.control.billed({ licenseId: bob.license.id })).totalQuantity).toBe(recorded);

    expect(await metering.run({ now })).toMatchObject({ due: 40, billed: 40, pending: 0 });
    expect((await sim.control.billed({ licenseId: alice.license.id })).totalQuantity).toBe(recorded);
  });

  test('a batch rejected whole is bisected: the bad records are rejected alone, the others billed', async () => {
    const { usage, buyer, buckets, alterSubscriber, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const mallory = await buyer(listing.code);
    // The stored account is not the license's: Marketplace refuses the license for it.
    await alterSubscriber(mallory.subscriberId, { customerAWSAccountId: '999999999999' });
    const metering = harness({ products: [listing] });
    for (let hours = 1; hours <= 6; hours++) {
      await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, hours), dimension: 'users', quantity: 2 });
      await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, hours), dimension: 'gb', quantity: 3 });
    }
    // A dimension the product does not have.
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 2), dimension: 'cpu', quantity: 9 });
    await usage({ subscriberId: mallory.subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 4 });

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({
      billed: 12,
      rejected: { InvalidUsageDimensionException: 1, InvalidLicenseException: 1 },
      pending: 0,
    });
    expect(metering.requests[0]!.UsageRecords).toHaveLength(14);
    expect(summary.calls).toBeLessThanOrEqual(2 * 14 - 1);
    const billed = await sim.control.billed({ productCode: listing.code });
    expect(billed.totalQuantity).toBe(6 * 2 + 6 * 3);
    const cpu = (await buckets(alice.subscriberId)).find((bucket) => bucket.dimension === 'cpu');
    expect(cpu).toMatchObject({
      state: 'rejected',
      reason: 'InvalidUsageDimensionException',
      requestId: expect.any(String) as unknown,
    });
    expect(cpu).not.toHaveProperty('pendingShard');
    expect((await buckets(mallory.subscriberId))[0]).toMatchObject({
      state: 'rejected',
      reason: 'InvalidLicenseException',
    });
  });

  test('CustomerNotSubscribed is settled rejected with that reason', async () => {
    const { usage, buyer, buckets, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    await sim.control.setClock(minutesFrom(now, -180), false);
    await sim.control.end(alice.license.id);
    await sim.control.setClock(now, false);
    const metering = harness({ products: [listing] });
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 4), dimension: 'users', quantity: 3 });

    expect(await metering.run({ now })).toMatchObject({ rejected: { CustomerNotSubscribed: 1 }, billed: 0 });
    expect((await buckets(alice.subscriberId))[0]).toMatchObject({
      state: 'rejected',
      reason: 'CustomerNotSubscribed',
      requestId: expect.any(String) as unknown,
    });
  });
  test('DuplicateRecord is settled rejected and logged as an error; the rest of the call is billed, once', async () => {
    const { usage, buyer, buckets, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const hour = hoursBefore(now, 2);
    // Another quantity for the same customer-hour, billed by someone else before this run.
    await sim.metering.send(
      new BatchMeterUsageCommand({
        UsageRecords: [
          {
            LicenseArn: alice.license.licenseArn,
            CustomerAWSAccountId: alice.license.customerAWSAccountId,
            Dimension: 'users',
            Timestamp: hour,
            Quantity: 1,
          },
        ],
      }),
    );
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const metering = harness({ products: [listing], logger });
    await usage({ subscriberId: alice.subscriberId, hour, dimension: 'users', quantity: 5 });
    await usage({ subscriberId: alice.subscriberId, hour, dimension: 'gb', quantity: 6 });

    expect(await metering.run({ now })).toMatchObject({ rejected: { DuplicateRecord: 1 }, billed: 1, pending: 0 });

    const states = await bucketMap(buckets(alice.subscriberId));
    expect(states.get(`users@${hour.toISOString()}`)).toMatchObject({ state: 'rejected', reason: 'DuplicateRecord' });
    expect(states.get(`gb@${hour.toISOString()}`)).toMatchObject({ state: 'billed' });
    expect(logger.error).toHaveBeenCalledWith('Marketplace answered DuplicateRecord', expect.anything() as unknown);
    // Settled, so a rerun sends nothing: the record that succeeded is not sent (or billed) again.
    expect(await metering.run({ now: minutesFrom(now, 30) })).toMatchObject({ calls: 0 });
    expect((await sim.control.billed({ licenseId: alice.license.id })).totalQuantity).toBe(1 + 6);
  });
});

describe('the acceptance window', () => {
  test('a bucket past the window is settled expired and never sent; the last hour inside it is billed', async () => {
    const { usage, buyer, buckets, metering: harness } = await fixtures();
    const listing = await product();
    const alice = await buyer(listing.code);
    const metering = harness({ products: [listing], acceptanceWindowHours: 24 });
    const outside = hoursBefore(now, 24);
    const inside = hoursBefore(now, 23);
    await usage({ subscriberId: alice.subscriberId, hour: outside, dimension: 'users', quantity: 3 });
    await usage({ subscriberId: alice.subscriberId, hour: inside, dimension: 'users', quantity: 4 });

    expect(await metering.run({ now })).toMatchObject({ expired: 1, billed: 1, calls: 1 });

    expect(
      metering.requests.flatMap((request) => request.UsageRecords ?? []).map((record) => record.Timestamp),
    ).toEqual([inside]);
    const states = await bucketMap(buckets(alice.subscriberId));
    const expired = states.get(`users@${outside.toISOString()}`);
    expect(expired).toMatchObject({
      state: 'expired',
      reason: 'acceptance-window-passed',
      quantity: 3,
      frozenAt: now.toISOString(),
    });
    expect(expired).not.toHaveProperty('pendingShard');
    // Usage still arriving for that hour is refused there: the recorder carries it into an open hour.
    expect(await usage({ subscriberId: alice.subscriberId, hour: outside, dimension: 'users', quantity: 1 })).toBe(
      false,
    );
  });

  test('records of the previous month expire at 06:00 UTC on the 1st, even inside the window', async () => {
    const beforeCutoff = new Date('2026-12-01T05:30:00Z');
    const afterCutoff = new Date('2026-12-01T06:30:00Z');
    const { usage, buyer, buckets, metering: harness } = await fixtures(beforeCutoff);
    const listing = await product();
    const alice = await buyer(listing.code);
    const bob = await buyer(listing.code);
    const metering = harness({ products: [listing] });
    const lastHourOfNovember = new Date('2026-11-30T23:00:00Z');
    await usage({ subscriberId: alice.subscriberId, hour: lastHourOfNovember, dimension: 'users', quantity: 3 });

    expect(await metering.run({ now: beforeCutoff })).toMatchObject({ billed: 1, expired: 0 });

    await sim.control.setClock(afterCutoff, false);
    await usage({ subscriberId: bob.subscriberId, hour: lastHourOfNovember, dimension: 'users', quantity: 4 });
    await usage({
      subscriberId: bob.subscriberId,
      hour: new Date('2026-12-01T05:00:00Z'),
      dimension: 'users',
      quantity: 5,
    });
    expect(await metering.run({ now: afterCutoff })).toMatchObject({ billed: 1, expired: 1 });
    const states = await bucketMap(buckets(bob.subscriberId));
    expect(states.get(`users@${lastHourOfNovember.toISOString()}`)).toMatchObject({
      state: 'expired',
      reason: 'month-closed',
    });
    expect((await sim.control.billed({ licenseId: bob.license.id })).totalQuantity).toBe(5);
  });
});

describe('zero-usage records', () => {
  test('every live subscriber with metered dimensions gets a record for the last closed hour, and one only', async () => {
    const { usage, buyer, buckets, client, tables, metering: harness } = await fixtures();
    const listing = await product();
    const contract = await sim.control.createProduct({
      code: uniqueProductCode(),
      name: 'Contract',
      pricingModel: 'contracts',
      dimensions: [{ name: 'seats', kind: 'contract' }],
    });
    const idle = await buyer(listing.code);
    const busy = await buyer(listing.code);
    const newcomer = await buyer(listing.code, { since: minutesFrom(now, -20) });
    const contractBuyer = await buyer(contract.code);
    // Asked to end before the hour began (its final-metering window is still open): nothing is due for that hour.
    const leaving = await buyer(listing.code);
    const leavingReference = {
      model: 'license' as const,
      productCode: listing.code,
      licenseArn: leaving.license.licenseArn!,
      customerAWSAccountId: leaving.license.customerAWSAccountId,
    };
    const lifecycle = new LifecycleRepository(client, tables.subscribers, 4 * 3600);
    await lifecycle.applyToSubscriber(
      { subscriber: leavingReference, facts: ['endRequestedAt'], at: minutesFrom(now, -150) },
      now,
    );
    // Heard of through a license event, its buyer not arrived: no account to name, so no record that could be sent.
    const notArrived = {
      model: 'license' as const,
      productCode: listing.code,
      licenseArn: 'arn:aws:license-manager::555566667777:license:l-22222222222222222222222222222222',
    };
    await lifecycle.applyToSubscriber({ subscriber: notArrived, facts: ['activatedAt'], at: hoursBefore(now, 3) }, now);
    const metering = harness({
      products: [listing, { code: contract.code, meteredDimensions: [] }],
      zeroUsageRecords: true,
    });
    const hour = hoursBefore(now, 1);
    await usage({ subscriberId: busy.subscriberId, hour, dimension: 'gb', quantity: 8 });

    const summary = await metering.run({ now });

    expect(summary).toMatchObject({ zeroUsage: 1, billed: 2, rejected: {}, pending: 0 });
    const idleBilled = await sim.control.billed({ licenseId: idle.license.id });
    expect(idleBilled.records).toMatchObject([{ dimension: 'users', quantity: 0, timestamp: hour.toISOString() }]);
    // Usage of its second dimension is its record for the hour: no zero one of the first beside it.
    const busyBilled = await sim.control.billed({ licenseId: busy.license.id });
    expect(busyBilled.records.map((record) => [record.dimension, record.quantity])).toEqual([['gb', 8]]);
    for (const absent of [newcomer, contractBuyer, leaving, { subscriberId: subscriberIdOf(notArrived) }]) {
      expect(await buckets(absent.subscriberId)).toEqual([]);
    }
    expect((await buckets(idle.subscriberId))[0]).toMatchObject({
      state: 'billed',
      quantity: 0,
      subscriberId: idle.subscriberId,
      hour: hour.toISOString(),
      pendingHour: hour.toISOString(),
    });

    // EventBridge delivers the schedule twice: the hour has its records, nothing more is sent.
    const again = await metering.run({ now: minutesFrom(now, 2) });
    expect(again).toMatchObject({ zeroUsage: 0, due: 0, calls: 0 });
  });
});

describe('final metering', () => {
  /**
   * Alice cancels at 12:10 unless told otherwise (`now` is 12:30): her deadline is then 13:10, and her final hour
   * (12:00) goes out from 12:55.
   */
  async function cancelled(endMinute = 10) {
    const context = await fixtures();
    const listing = await product();
    const alice = await context.buyer(listing.code);
    const bob = await context.buyer(listing.code);
    const end = minutesFrom(hoursBefore(now, 0), endMinute);
    for (const hours of [0, 1, 2]) {
      await context.usage({
        subscriberId: alice.subscriberId,
        hour: hoursBefore(now, hours),
        dimension: 'users',
        quantity: 10 + hours,
      });
    }
    await context.usage({ subscriberId: bob.subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 5 });
    await cancelSubscription(
      { control: sim.control, client: context.client, subscribersTable: context.tables.subscribers },
      alice,
      end,
    );
    const metering = context.metering({ products: [listing], zeroUsageRecords: true });
    const at = async (instant: Date) => {
      await sim.control.setClock(instant, false);
      return instant;
    };
    return { ...context, listing, alice, bob, end, metering, at };
  }

  test("meters an ending subscriber's closed hours at once and nobody else's; its final hour waits", async () => {
    const { alice, bob, buckets, metering, at, end } = await cancelled();
    const summary = await metering.run({
      now: await at(minutesFrom(end, 1)),
      scope: { subscriberId: alice.subscriberId },
    });

    expect(summary).toMatchObject({ due: 2, billed: 2, waiting: 1, zeroUsage: 0 });
    const billed = await sim.control.billed({ licenseId: alice.license.id });
    expect(billed.records.map((record) => [record.timestamp, record.quantity]).sort()).toEqual(
      [1, 2].map((hours) => [hoursBefore(now, hours).toISOString(), 10 + hours]).sort(),
    );
    expect((await buckets(bob.subscriberId))[0]).toMatchObject({ state: 'open' });
    // The final hour is still open: usage of it (and of the earlier hours, carried into it) is still taken.
    const final = (await buckets(alice.subscriberId)).find(
      (bucket) => bucket.hour === hoursBefore(now, 0).toISOString(),
    );
    expect(final).toMatchObject({ state: 'open', quantity: 10 });
  });

  test('sends the final hour from its send time (deadline less the margin), on every ending subscriber', async () => {
    const { alice, metering, at, end, usage } = await cancelled();
    await metering.run({ now: await at(minutesFrom(end, 1)), scope: 'ending' });
    expect(await metering.run({ now: await at(minutesFrom(end, 44)), scope: 'ending' })).toMatchObject({
      billed: 0,
      waiting: 1,
    });
    expect(
      await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 0), dimension: 'users', quantity: 1 }),
    ).toBe(true);
    expect(await metering.run({ now: await at(minutesFrom(end, 45)), scope: 'ending' })).toMatchObject({
      billed: 1,
      waiting: 0,
    });
    const billed = await sim.control.billed({ licenseId: alice.license.id });
    expect(billed.records.find((record) => record.hour === hoursBefore(now, 0).toISOString())?.quantity).toBe(11);
    // Frozen now: late usage of that hour has no open hour left (the recorder says so, and refuses it).
    expect(
      await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, 0), dimension: 'users', quantity: 1 }),
    ).toBe(false);
  });

  test("the hourly run holds an ending subscriber's final hour back too, and meters its closed ones", async () => {
    // Cancelled at 12:50: the 13:06 hourly run finds the 12:00 hour closed, but it is the final one, due from 13:35.
    const { alice, metering, at } = await cancelled(50);
    // Alice's two closed hours, Bob's, and Bob's zero-usage record of the 12:00 hour.
    expect(await metering.run({ now: await at(minutesFrom(hoursBefore(now, -1), 6)) })).toMatchObject({
      billed: 4,
      waiting: 1,
    });
    const billed = await sim.control.billed({ licenseId: alice.license.id });
    expect(billed.records.map((record) => record.hour).sort()).toEqual(
      [2, 1].map((hours) => hoursBefore(now, hours).toISOString()),
    );
  });

  test('past the deadline nothing is sent: the final hour expires, counted as missed, and usage after the end is refused unsent', async () => {
    const { alice, metering, at, end, usage, buckets } = await cancelled();
    // Usage of an hour after the end, accepted before the end was known: never billable.
    await usage({ subscriberId: alice.subscriberId, hour: hoursBefore(now, -1), dimension: 'gb', quantity: 3 });
    expect(await metering.run({ now: await at(minutesFrom(end, 1)), scope: 'ending' })).toMatchObject({ billed: 2 });
    const summary = await metering.run({
      now: await at(minutesFrom(end, 61)),
      scope: { subscriberId: alice.subscriberId },
    });
    expect(summary).toMatchObject({
      billed: 0,
      expired: 1,
      rejected: { 'after-subscription-end': 1 },
      finalDeadlineMissed: { records: 1, units: 10 },
    });
    const byHour = new Map((await buckets(alice.subscriberId)).map((bucket) => [bucket.hour, bucket]));
    expect(byHour.get(hoursBefore(now, 0).toISOString())).toMatchObject({
      state: 'expired',
      reason: 'final-window-passed',
    });
    expect(byHour.get(hoursBefore(now, -1).toISOString())).toMatchObject({
      state: 'rejected',
      reason: 'after-subscription-end',
    });
    expect((await sim.control.results({ licenseId: alice.license.id })).results).toHaveLength(2);
  });

  test("a final record refused once Marketplace's window (shorter than the hour assumed) closed is a missed deadline", async () => {
    await sim.control.updateSettings({ finalMeteringGraceSeconds: 50 * 60 });
    const { alice, metering, at, end, buckets } = await cancelled();
    await metering.run({ now: await at(minutesFrom(end, 1)), scope: 'ending' });
    // No final run between the send time (45 minutes after the end) and Marketplace's 50: the first one comes at 55.
    const summary = await metering.run({ now: await at(minutesFrom(end, 55)), scope: 'ending' });
    expect(summary).toMatchObject({
      billed: 0,
      expired: 1,
      rejected: {},
      finalDeadlineMissed: { records: 1, units: 10 },
      unconfirmedSends: 0,
    });
    const final = (await buckets(alice.subscriberId)).find(
      (bucket) => bucket.hour === hoursBefore(now, 0).toISOString(),
    );
    expect(final).toMatchObject({ state: 'expired', reason: 'final-window-passed' });
    expect(final?.unconfirmedSend).toBeUndefined();
  });
});

describe('a dry run', () => {
  test('plans exactly the calls a real run makes, and writes and sends nothing', async () => {
    const { usage, buyer, tables, metering: harness } = await fixtures();
    const licensed = await product('license');
    const legacy = await product('legacy');
    const alice = await buyer(licensed.code);
    const bob = await buyer(legacy.code);
    await buyer(licensed.code); // idle: a zero-usage record
    for (let hours = 1; hours <= 14; hours++) {
      await usage({
        subscriberId: alice.subscriberId,
        hour: hoursBefore(now, hours),
        dimension: 'users',
        quantity: hours,
      });
      await usage({
        subscriberId: alice.subscriberId,
        hour: hoursBefore(now, hours),
        dimension: 'gb',
        quantity: 1,
        tags: { team: 'x' },
      });
    }
    await usage({ subscriberId: bob.subscriberId, hour: hoursBefore(now, 2), dimension: 'gb', quantity: 3 });
    await usage({ subscriberId: bob.subscriberId, hour: hoursBefore(now, 30), dimension: 'gb', quantity: 3 });
    await usage({
      subscriberId: 'license:arn:aws:license-manager::1:license:l-gone',
      hour: hoursBefore(now, 2),
      dimension: 'gb',
      quantity: 1,
    });
    const metering = harness({ products: [licensed, legacy], zeroUsageRecords: true });
    const table = async () =>
      (await metering.dependencies.client.send(new ScanCommand({ TableName: tables.usage, ConsistentRead: true })))
        .Items;
    const before = await table();

    const dry = await metering.run({ now, dryRun: true });

    expect(await table()).toEqual(before);
    expect(metering.requests).toEqual([]);
    expect((await sim.control.stats()).operations.BatchMeterUsage.requests).toBe(0);
    expect(dry).toMatchObject({ dryRun: true, expired: 1, rejected: { 'unknown-subscriber': 1 }, billed: 0, calls: 0 });
    // Full calls as soon as they fill (alice's 28 records of 14 hours), then what is left of each product.
    expect(dry.batches?.map((batch) => batch.records.length)).toEqual([25, 2, 4]);

    const real = await metering.run({ now });

    // The same calls, in whatever order the rate limiter let them leave.
    const inAnyOrder = (batches: readonly unknown[] | undefined) =>
      (batches ?? []).map((batch) => JSON.stringify(batch)).sort();
    const sent = metering.requests.map(({ ProductCode, UsageRecords }) => ({
      ...(ProductCode ? { productCode: ProductCode } : {}),
      records: UsageRecords,
    }));
    expect(inAnyOrder(sent)).toEqual(inAnyOrder(dry.batches));
    expect(real).toMatchObject({ billed: 31, expired: 1, rejected: { 'unknown-subscriber': 1 } });
    // Once the hour has its records, a dry run has nothing to plan: not even zero-usage records.
    expect(await metering.run({ now: minutesFrom(now, 5), dryRun: true })).toMatchObject({
      due: 0,
      zeroUsage: 0,
      batches: [],
    });
  });
});
