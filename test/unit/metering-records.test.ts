/**
 * From a bucket item to the record sent for it, and from an error to what the run does about it.
 */
import {
  InternalServiceErrorException,
  InvalidLicenseException,
  MarketplaceMeteringServiceException,
  ThrottlingException,
  TimestampOutOfBoundsException,
} from '@aws-sdk/client-marketplace-metering';
import { describe, expect, test } from 'vitest';
import { bucketItemOf } from '../../lambdas/core/metering/bucket/bucket-item.ts';
import { classifyFailure } from '../../lambdas/core/metering/run/call-failure.ts';
import { allocationAttributes, bucketKey } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { recordKey, usageRecordOf, type MeteringIdentity } from '../../lambdas/core/metering/run/usage-record.ts';

const hour = new Date('2026-11-18T10:00:00Z');
const licensed: MeteringIdentity = {
  model: 'license',
  productCode: 'prod',
  licenseArn: 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef',
  accountId: '123456789012',
};
const legacy: MeteringIdentity = { model: 'legacy', productCode: 'prod', customerIdentifier: 'customer-1' };

/** A bucket item as the recorder leaves it, with tagged quantities under their attribute pairs. */
function item(quantity: number, tagged: readonly [Record<string, string>, number][] = []): Record<string, unknown> {
  return {
    ...bucketKey('license:x', hour, 'users'),
    subscriberId: 'license:x',
    dimension: 'users',
    hour: hour.toISOString(),
    quantity,
    state: 'frozen',
    frozenAt: '2026-11-18T11:10:00.000Z',
    pendingShard: 'pending#3',
    pendingHour: hour.toISOString(),
    ...Object.fromEntries(
      tagged.flatMap(([tags, units]): [string, unknown][] => {
        const names = allocationAttributes(tags);
        return [
          [names.tags, tags],
          [names.quantity, units],
        ];
      }),
    ),
  };
}

describe('the record of a bucket', () => {
  test('carries the hour as its timestamp and one identity only', () => {
    const bucket = bucketItemOf(item(7))!;
    expect(usageRecordOf(bucket, licensed)).toEqual({
      LicenseArn: licensed.licenseArn,
      CustomerAWSAccountId: '123456789012',
      Dimension: 'users',
      Timestamp: hour,
      Quantity: 7,
    });
    expect(usageRecordOf(bucket, legacy)).toEqual({
      CustomerIdentifier: 'customer-1',
      Dimension: 'users',
      Timestamp: hour,
      Quantity: 7,
    });
  });

  test('sends tagged quantities as allocations, the untagged rest as one allocation without tags', () => {
    const bucket = bucketItemOf(
      item(10, [
        [{ team: 'b', env: 'prod' }, 2],
        [{ team: 'a' }, 3],
      ]),
    )!;
    const { UsageAllocations } = usageRecordOf(bucket, licensed);
    expect(UsageAllocations).toHaveLength(3);
    expect(UsageAllocations).toEqual(
      expect.arrayContaining([
        { AllocatedUsageQuantity: 3, Tags: [{ Key: 'team', Value: 'a' }] },
        {
          AllocatedUsageQuantity: 2,
          Tags: [
            { Key: 'env', Value: 'prod' },
            { Key: 'team', Value: 'b' },
          ],
        },
      ]),
    );
    expect(UsageAllocations![2]).toEqual({ AllocatedUsageQuantity: 5 });
    // The same bucket read again (attributes in another order) makes the same record: a re-send is identical.
    const shuffled = Object.fromEntries(
      Object.entries(
        item(10, [
          [{ team: 'a' }, 3],
          [{ env: 'prod', team: 'b' }, 2],
        ]),
      ).reverse(),
    );
    expect(usageRecordOf(bucketItemOf(shuffled)!, licensed)).toEqual(usageRecordOf(bucket, licensed));
  });

  test('sends no untagged allocation when everything is tagged, and no allocations when nothing is', () => {
    expect(usageRecordOf(bucketItemOf(item(3, [[{ team: 'a' }, 3]]))!, licensed).UsageAllocations).toEqual([
      { AllocatedUsageQuantity: 3, Tags: [{ Key: 'team', Value: 'a' }] },
    ]);
    expect(usageRecordOf(bucketItemOf(item(3))!, licensed)).not.toHaveProperty('UsageAllocations');
  });

  test('ignores a map that is not the tag set its name says', () => {
    const bucket = bucketItemOf({
      ...item(4),
      'allocationTags#0000000000000000': { team: 'a' },
      'allocation#0000000000000000': 4,
    })!;
    expect(bucket.allocations).toEqual([]);
  });

  test('a malformed item is no bucket', () => {
    expect(bucketItemOf({ ...item(1), quantity: '1' })).toBeUndefined();
    expect(bucketItemOf({ ...item(1), hour: '2026-11-18T10:30:00.000Z' })).toBeUndefined();
    expect(bucketItemOf({ ...item(1), state: 'lost' })).toBeUndefined();
    const anonymous = item(1);
    delete anonymous.subscriberId;
    expect(bucketItemOf(anonymous)).toBeUndefined();
  });

  test('an echoed record (as Marketplace returns it) has the key of the record sent', () => {
    const record = usageRecordOf(bucketItemOf(item(2))!, licensed);
    expect(recordKey({ ...record, Timestamp: new Date(hour.getTime()) })).toBe(recordKey(record));
    expect(recordKey({ ...record, Dimension: 'gb' })).not.toBe(recordKey(record));
  });
});

describe('what a failed call means', () => {
  const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, requestId: 'r' } });

  test.each([
    ['throttled', new ThrottlingException({ message: '', ...metadata(400) })],
    ['transient', new InternalServiceErrorException({ message: '', ...metadata(500) })],
    [
      'transient',
      new MarketplaceMeteringServiceException({ name: 'ServiceUnavailable', $fault: 'server', ...metadata(503) }),
    ],
    ['transient', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['transient', new SyntaxError('Unexpected token < in JSON')],
    ['record-rejected', new TimestampOutOfBoundsException({ message: '', ...metadata(400) })],
    ['record-rejected', new InvalidLicenseException({ message: '', ...metadata(400) })],
    [
      'record-rejected',
      new MarketplaceMeteringServiceException({ name: 'ValidationException', $fault: 'client', ...metadata(400) }),
    ],
    [
      'caller-refused',
      new MarketplaceMeteringServiceException({ name: 'DisabledApiException', $fault: 'client', ...metadata(400) }),
    ],
    [
      'caller-refused',
      new MarketplaceMeteringServiceException({
        name: 'UnrecognizedClientException',
        $fault: 'client',
        ...metadata(403),
      }),
    ],
  ])('%s: %s', (kind, error) => {
    expect(classifyFailure(error).kind).toBe(kind);
  });

  test('a connection error names its code', () => {
    expect(classifyFailure(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toEqual({
      kind: 'transient',
      reason: 'Error (ECONNRESET)',
      requestId: undefined,
    });
  });
});
