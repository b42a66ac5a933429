/**
 * The bucket ledger's conditional writes against DynamoDB Local: what a crashed or concurrent run, or the recorder,
 * can and cannot do to a bucket in each state, and how a run reads a race it lost.
 */
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { BucketLedger } from '../../../lambdas/core/metering/run/bucket-ledger.ts';
import { bucketKey } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import { bucketItemOf } from '../../../lambdas/core/metering/bucket/bucket-item.ts';
import { RunTally } from '../../../lambdas/core/metering/run/metering-summary.ts';
import type { RunContext } from '../../../lambdas/core/metering/run/run-context.ts';
import { Settler } from '../../../lambdas/core/metering/run/settle.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage } from '../../support/metering-fixtures.ts';
import { freshTables } from '../../support/metering-run.ts';

const dynamoDb = useDynamoDb();
const hour = new Date('2026-11-18T10:00:00Z');
const now = new Date('2026-11-18T11:10:00Z');
const later = new Date('2026-11-18T11:40:00Z');
const subscriberId = 'license:arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';
const key = bucketKey(subscriberId, hour, 'users');

async function ledgerWithBucket(quantity = 5) {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  await addUsage(client, tables.usage, { subscriberId, hour, dimension: 'users', quantity });
  return {
    ledger: new BucketLedger(client, tables.usage),
    record: (units: number) =>
      addUsage(client, tables.usage, { subscriberId, hour, dimension: 'users', quantity: units }),
  };
}

describe('freezing', () => {
  test('happens once: a second freeze (a rerun, a concurrent run) reads the quantity the first one froze', async () => {
    const { ledger, record } = await ledgerWithBucket(5);

    expect(await ledger.freeze(key, { now, recordTimestamp: hour })).toMatchObject({
      state: 'frozen',
      frozenAt: now.toISOString(),
      recordTimestamp: hour.toISOString(),
      quantity: 5,
    });
    expect(await record(3)).toBe(false);
    expect(await ledger.freeze(key, { now: later, recordTimestamp: hour })).toMatchObject({
      state: 'frozen',
      frozenAt: now.toISOString(),
      quantity: 5,
    });
  });

  test('never creates a bucket that is not there', async () => {
    const { ledger } = await ledgerWithBucket();
    const missing = bucketKey(subscriberId, hour, 'gb');
    expect(await ledger.freeze(missing, { now, recordTimestamp: hour })).toBeUndefined();
    expect(await ledger.read(missing)).toBeUndefined();
  });
});

describe('settling', () => {
  test('happens once, from frozen; the loser of a race is told so', async () => {
    const { ledger } = await ledgerWithBucket();
    await ledger.freeze(key, { now, recordTimestamp: hour });

    expect(await ledger.settleBilled(key, { meteringRecordId: 'id-1', requestId: 'r-1' }, now)).toBe(true);
    expect(await ledger.settleBilled(key, { meteringRecordId: 'id-1', requestId: 'r-2' }, later)).toBe(false);
    expect(
      await ledger.settleRejected(
        key,
        { reason: 'CustomerNotSubscribed', requestId: 'r-3', unconfirmedSend: false },
        later,
      ),
    ).toBe(false);
    expect(await ledger.expire(key, 'acceptance-window-passed', later)).toEqual({
      expired: false,
      frozenEarlier: false,
      units: undefined,
    });
    const bucket = await ledger.read(key);
    expect(bucket).toMatchObject({
      state: 'billed',
      meteringRecordId: 'id-1',
      requestId: 'r-1',
      settledAt: now.toISOString(),
    });
    expect(bucket).not.toHaveProperty('pendingShard');
  });

  test('an open bucket cannot be settled before it is frozen (its quantity could still change)', async () => {
    const { ledger } = await ledgerWithBucket();
    expect(await ledger.settleBilled(key, { meteringRecordId: 'id', requestId: 'r' }, now)).toBe(false);
    expect(
      await ledger.settleRejected(
        key,
        { reason: 'unknown-subscriber', requestId: undefined, unconfirmedSend: false },
        now,
      ),
    ).toBe(false);
    expect(await ledger.read(key)).toMatchObject({ state: 'open' });
  });

  test('Success stands over a DuplicateRecord answer to a concurrent identical send, and over a concurrent expiry', async () => {
    const { ledger } = await ledgerWithBucket();
    await ledger.freeze(key, { now, recordTimestamp: hour });
    expect(
      await ledger.settleRejected(key, { reason: 'DuplicateRecord', requestId: 'r-1', unconfirmedSend: false }, now),
    ).toBe(true);
    expect(await ledger.settleBilled(key, { meteringRecordId: 'id', requestId: 'r-2' }, now)).toBe(true);
    const billed = await ledger.read(key);
    expect(billed).toMatchObject({ state: 'billed', requestId: 'r-2' });
    expect(billed).not.toHaveProperty('reason');

    const other = await ledgerWithBucket();
    await other.ledger.freeze(key, { now, recordTimestamp: hour });
    expect(await other.ledger.expire(key, 'acceptance-window-passed', later)).toEqual({
      expired: true,
      frozenEarlier: true,
      units: 5,
    });
    expect(await other.ledger.read(key)).toMatchObject({ state: 'expired', unconfirmedSend: true });
    expect(await other.ledger.settleBilled(key, { meteringRecordId: 'id', requestId: 'r' }, later)).toBe(true);
    expect(await other.ledger.read(key)).toMatchObject({ state: 'billed' });
    expect(await other.ledger.read(key)).not.toHaveProperty('unconfirmedSend');
  });

  test('a rejection after an unconfirmed send is marked on the bucket, for the report', async () => {
    const { ledger } = await ledgerWithBucket();
    await ledger.freeze(key, { now, recordTimestamp: hour });
    const rejected = { reason: 'InvalidLicenseException', requestId: 'r-1', unconfirmedSend: true };
    expect(await ledger.settleRejected(key, rejected, later)).toBe(true);
    expect(await ledger.read(key)).toMatchObject({ state: 'rejected', unconfirmedSend: true, requestId: 'r-1' });
  });

  test('expiry freezes an open bucket too, so that later usage is carried into an open hour', async () => {
    const { ledger, record } = await ledgerWithBucket(4);
    expect(await ledger.expire(key, 'month-closed', now)).toEqual({ expired: true, frozenEarlier: false, units: 4 });
    expect(await record(1)).toBe(false);
    expect(await ledger.read(key)).toMatchObject({
      state: 'expired',
      reason: 'month-closed',
      quantity: 4,
      frozenAt: now.toISOString(),
    });
    expect(await ledger.read(key)).not.toHaveProperty('unconfirmedSend');
  });
});

describe("a subscriber's unsettled buckets", () => {
  test('are every hour up to the one asked, from the first hour there is to the last one of year 9999', async () => {
    const tables = await freshTables(dynamoDb);
    const client = documentClient(dynamoDb.endpoint);
    const ledger = new BucketLedger(client, tables.usage);
    const hours = ['0001-01-01T00:00:00Z', '2026-11-18T10:00:00Z', '9999-12-31T23:00:00Z'].map((at) => new Date(at));
    for (const at of hours)
      await addUsage(client, tables.usage, { subscriberId, hour: at, dimension: 'users', quantity: 1 });
    const unsettled = async (through: Date) => {
      const found: unknown[] = [];
      for await (const item of ledger.unsettledOf(subscriberId, through)) found.push(item.hour);
      return found;
    };
    expect(await unsettled(new Date('0000-01-01T00:30:00Z'))).toEqual([]);
    expect(await unsettled(new Date('0001-01-01T00:59:59Z'))).toEqual(['0001-01-01T00:00:00.000Z']);
    expect(await unsettled(new Date('9999-12-31T23:59:59Z'))).toEqual(hours.map((at) => at.toISOString()));
  });
});

describe('zero-usage buckets', () => {
  test('are made only where the hour has no bucket: one with usage, frozen or not, is left as it is', async () => {
    const { ledger } = await ledgerWithBucket(5);
    expect(await ledger.createZeroBucket(subscriberId, hour, 'users')).toBe(false);
    expect(await ledger.read(key)).toMatchObject({ quantity: 5, state: 'open' });
    await ledger.freeze(key, { now, recordTimestamp: hour });
    expect(await ledger.createZeroBucket(subscriberId, hour, 'users')).toBe(false);
    const empty = bucketKey(subscriberId, hour, 'gb');
    expect(await ledger.createZeroBucket(subscriberId, hour, 'gb')).toBe(true);
    expect(await ledger.read(empty)).toMatchObject({ quantity: 0, state: 'open', pendingHour: hour.toISOString() });
  });
});

describe("a run's refusal of a bucket another run billed meanwhile", () => {
  test('is settled elsewhere: not counted rejected, no unconfirmed-send alarm, the billing stands', async () => {
    const { ledger } = await ledgerWithBucket();
    // An earlier run froze and sent it, unanswered; this run resends it and is refused (the hour aged meanwhile) ...
    const frozen = bucketItemOf((await ledger.freeze(key, { now, recordTimestamp: hour }))!)!;
    // ... while another run's resend was billed and settled first.
    expect(await ledger.settleBilled(key, { meteringRecordId: 'record-1', requestId: 'request-1' }, later)).toBe(true);
    const errors: string[] = [];
    const tally = new RunTally(later, later, false);
    const run = {
      ledger,
      tally,
      now: later,
      logger: { info: () => {}, warn: () => {}, error: (message: string) => errors.push(message) },
    } as unknown as RunContext;

    await new Settler(run).reject(frozen, 'TimestampOutOfBoundsException', 'request-2');

    expect(tally).toMatchObject({ unconfirmedSends: 0, settledElsewhere: 1 });
    expect(tally.summary(undefined, { durationMs: 1, quotaRecordsPerSecond: 250 }).rejected).toEqual({});
    expect(errors).toEqual([]);
    expect(await ledger.read(key)).toMatchObject({ state: 'billed', meteringRecordId: 'record-1' });
  });
});

describe('a refusal in the run that froze the bucket', () => {
  const refusedInItsRun = async (answerLost: boolean) => {
    const { ledger } = await ledgerWithBucket();
    const frozen = bucketItemOf((await ledger.freeze(key, { now, recordTimestamp: hour }))!)!;
    const errors: string[] = [];
    const tally = new RunTally(now, now, false);
    const run = {
      ledger,
      tally,
      now,
      logger: { info: () => {}, warn: () => {}, error: (message: string) => errors.push(message) },
    } as unknown as RunContext;
    await new Settler(run).settle(frozen, {
      kind: 'rejected',
      reason: 'TimestampOutOfBoundsException',
      requestId: 'request-2',
      answerLost,
    });
    return { tally, errors, bucket: await ledger.read(key) };
  };

  test('after a send of it went unanswered is marked: Marketplace may have billed that send', async () => {
    const { tally, errors, bucket } = await refusedInItsRun(true);
    expect(tally).toMatchObject({ unconfirmedSends: 1 });
    expect(errors).toEqual(['Usage bucket rejected after an unconfirmed send']);
    expect(bucket).toMatchObject({ state: 'rejected', unconfirmedSend: true });
  });

  test('with every send answered is a plain rejection: nothing of it was billed', async () => {
    const { tally, errors, bucket } = await refusedInItsRun(false);
    expect(tally).toMatchObject({ unconfirmedSends: 0 });
    expect(errors).toEqual([]);
    expect(bucket).toMatchObject({ state: 'rejected' });
    expect(bucket).not.toHaveProperty('unconfirmedSend', true);
  });
});
