import type { UsageRecord } from '@aws-sdk/client-marketplace-metering';
import { expect, test } from 'vitest';
import {
  MAX_RECORDS_PER_CALL,
  MAX_REQUEST_BYTES,
  planCalls,
  serializedBytes,
  type PlannedRecord,
} from '../../lambdas/core/metering/batch-plan.ts';
import type { MeteringIdentity } from '../../lambdas/core/metering/usage-record.ts';

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
    order: String(order).padStart(6, '0'),
    source: order,
  };
}

test('one product and one identity model per call; legacy calls name their product, license calls none', () => {
  const { calls } = planCalls([
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

test('at most 25 records per call, in an order that does not depend on the input order', () => {
  const entries = Array.from({ length: 60 }, (_, index) => planned(license('p', index), index));
  const forward = planCalls(entries);
  const backward = planCalls([...entries].reverse());

  expect(forward.calls.map((call) => call.records.length)).toEqual([MAX_RECORDS_PER_CALL, MAX_RECORDS_PER_CALL, 10]);
  expect(backward).toEqual(forward);
});

test('a call stays under 1 MB: large records (many tagged allocations) are spread over more calls', () => {
  const allocations = Array.from({ length: 800 }, (_, index) => ({
    AllocatedUsageQuantity: 1,
    Tags: [{ Key: 'cost-centre', Value: `team-${index}-${'x'.repeat(200)}` }],
  }));
  const entries = Array.from({ length: 10 }, (_, index) =>
    planned(license('p', index), index, { Quantity: 800, UsageAllocations: allocations }),
  );
  const size = serializedBytes(entries[0]!.record);
  expect(size).toBeGreaterThan(MAX_REQUEST_BYTES / 6);

  const { calls, oversized } = planCalls(entries);

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

test('a record that alone exceeds a request is set aside, not sent', () => {
  const huge = planned(license('p', 1), 1, {
    UsageAllocations: Array.from({ length: 2500 }, (_, index) => ({
      AllocatedUsageQuantity: 0,
      Tags: [
        { Key: 'first', Value: `${index}${'v'.repeat(250)}` },
        { Key: 'second', Value: `${index}${'w'.repeat(250)}` },
      ],
    })),
  });
  const { calls, oversized } = planCalls([huge, planned(license('p', 2), 2)]);
  expect(oversized.map((entry) => entry.source)).toEqual([1]);
  expect(calls.map((call) => call.records.map((entry) => entry.source))).toEqual([[2]]);
});
