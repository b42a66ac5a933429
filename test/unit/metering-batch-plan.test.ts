import type { UsageRecord } from '@aws-sdk/client-marketplace-metering';
import { expect, test } from 'vitest';
import {
  batchCalls,
  MAX_RECORDS_PER_CALL,
  MAX_REQUEST_BYTES,
  serializedBytes,
  type PlannedCall,
  type PlannedRecord,
} from '../../lambdas/core/metering/run/batch-plan.ts';
import type { MeteringIdentity } from '../../lambdas/core/metering/run/usage-record.ts';

const hour = new Date('2026-11-18T10:00:00Z');
const license = (productCode: string, n: number): MeteringIdentity => ({
  model: 'license',
  productCode,
  licenseArn: `arn:aws:license-manager::123456789012:license:l-${String(n).padStart(32, '0')}`,
  accountId: '123456789012',
});
const legacy = (productCode: string, n: number): MeteringIdentity => ({
  model: 'legacy',
  productCode,
  customerIdentifier: `customer-${n}`,
});

function planned(identity: MeteringIdentity, order: number, extra: Partial<UsageRecord> = {}): PlannedRecord<number> {
  const customer =
    identity.model === 'license'
      ? { LicenseArn: identity.licenseArn, CustomerAWSAccountId: identity.accountId }
      : { CustomerIdentifier: identity.customerIdentifier };
  return {
    record: { ...customer, Dimension: 'users', Timestamp: hour, Quantity: order, ...extra },
    identity,
    source: order,
  };
}

/** The calls the batcher makes of `entries` as they stream in, and the records it set aside as too large. */
async function planCalls(entries: readonly PlannedRecord<number>[]) {
  async function* stream() {
    await Promise.resolve();
    yield* entries;
  }
  const oversized: PlannedRecord<number>[] = [];
  const calls: PlannedCall<number>[] = [];
  for await (const call of batchCalls(stream(), (entry) => Promise.resolve(void oversized.push(entry))))
    calls.push(call);
  return { calls, oversized };
}

test('one product and one identity model per call; legacy calls name their product, license calls none', async () => {
  const { calls } = await planCalls([
    planned(license('p1', 1), 1),
    planned(legacy('p2', 2), 2),
    planned(license('p3', 3), 3),
    planned(license('p1', 4), 4),
    planned(legacy('p4', 5), 5),
  ]);

  expect(calls.map((call) => [call.productCode, call.records.map((entry) => entry.source)])).toEqual([
    ['p2', [2]],
    ['p4', [5]],
    [undefined, [1, 4]],
    [undefined, [3]],
  ]);
});

test('at most 25 records per call; a full call goes out as soon as its last record comes, the rest at the end', async () => {
  const entries = Array.from({ length: 60 }, (_, index) => planned(license('p', index), index));
  const { calls } = await planCalls(entries);
  expect(calls.map((call) => call.records.length)).toEqual([MAX_RECORDS_PER_CALL, MAX_RECORDS_PER_CALL, 10]);
  expect(calls.flatMap((call) => call.records.map((entry) => entry.source))).toEqual(entries.map((_, index) => index));

  async function* slow() {
    yield* entries.slice(0, MAX_RECORDS_PER_CALL);
    // Nothing more comes for now: the first call must not wait for it.
    await new Promise<never>(() => {});
  }
  const stream = batchCalls(slow(), () => Promise.resolve());
  const first = (await stream.next()) as IteratorYieldResult<PlannedCall<number>>;
  expect(first.value.records).toHaveLength(MAX_RECORDS_PER_CALL);
});

test('a call stays under 1 MB: large records (many tagged allocations) are spread over more calls', async () => {
  const allocations = Array.from({ length: 800 }, (_, index) => ({
    AllocatedUsageQuantity: 1,
    Tags: [{ Key: 'cost-centre', Value: `team-${index}-${'x'.repeat(200)}` }],
  }));
  const entries = Array.from({ length: 10 }, (_, index) =>
    planned(license('p', index), index, { Quantity: 800, UsageAllocations: allocations }),
  );
  const size = serializedBytes(entries[0]!.record);
  expect(size).toBeGreaterThan(MAX_REQUEST_BYTES / 6);

  const { calls, oversized } = await planCalls(entries);

  expect(oversized).toEqual([]);
  expect(calls.length).toBeGreaterThan(1);
  expect(calls.flatMap((call) => call.records.map((entry) => entry.source))).toEqual(
    entries.map((entry) => entry.source),
  );
  for (const call of calls) {
    const body = JSON.stringify({
      UsageRecords: call.records.map((entry) => ({ ...entry.record, Timestamp: hour.getTime() / 1000 })),
    });
    expect(Buffer.byteLength(body)).toBeLessThan(MAX_REQUEST_BYTES);
  }
});

test('a record that alone exceeds a request is set aside, not sent', async () => {
  const huge = planned(license('p', 1), 1, {
    UsageAllocations: Array.from({ length: 2500 }, (_, index) => ({
      AllocatedUsageQuantity: 0,
      Tags: [
        { Key: 'first', Value: `${index}${'v'.repeat(250)}` },
        { Key: 'second', Value: `${index}${'w'.repeat(250)}` },
      ],
    })),
  });
  const { calls, oversized } = await planCalls([huge, planned(license('p', 2), 2)]);
  expect(oversized.map((entry) => entry.source)).toEqual([1]);
  expect(calls.map((call) => call.records.map((entry) => entry.source))).toEqual([[2]]);
});
