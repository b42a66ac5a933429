/**
 * The `BatchMeterUsage` record of a frozen bucket. Everything in it comes from the bucket and the subscriber's stored
 * identity, never from the time of sending, so every send of one bucket (a retry, a re-run after a crash, a second
 * run at the same time) is the identical record, which Marketplace bills once.
 */
import type { UsageAllocation, UsageRecord } from '@aws-sdk/client-marketplace-metering';
import type { BucketItem } from '../bucket/index.ts';

/**
 * Who a record is for. A license (Concurrent Agreements) is named by `LicenseArn` + `CustomerAWSAccountId` in a call
 * without `ProductCode`; a legacy customer by `CustomerIdentifier` in a call for its `ProductCode`. A subscriber is one
 * or the other, never both: a customer-hour metered both ways is billed twice.
 */
export type MeteringIdentity =
  | { readonly model: 'license'; readonly productCode: string; readonly licenseArn: string; readonly accountId: string }
  | { readonly model: 'legacy'; readonly productCode: string; readonly customerIdentifier: string };

export function usageRecordOf(bucket: BucketItem, identity: MeteringIdentity): UsageRecord {
  const customer =
    identity.model === 'license'
      ? { LicenseArn: identity.licenseArn, CustomerAWSAccountId: identity.accountId }
      : { CustomerIdentifier: identity.customerIdentifier };
  const allocations = usageAllocationsOf(bucket);
  return {
    ...customer,
    Dimension: bucket.dimension,
    Timestamp: bucket.timestamp,
    Quantity: bucket.quantity,
    ...(allocations === undefined ? {} : { UsageAllocations: allocations }),
  };
}

/**
 * Tagged quantities, plus the untagged rest as an allocation without tags (the allocations must add up to the
 * quantity). A bucket with no tagged usage sends no allocations at all, which Marketplace reads as all untagged.
 */
function usageAllocationsOf(bucket: BucketItem): UsageAllocation[] | undefined {
  const tagged = bucket.allocations.filter((allocation) => allocation.quantity > 0);
  if (tagged.length === 0) return undefined;
  const untagged = bucket.quantity - tagged.reduce((sum, allocation) => sum + allocation.quantity, 0);
  return [
    ...tagged.map((allocation) => ({
      AllocatedUsageQuantity: allocation.quantity,
      Tags: Object.entries(allocation.tags)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([Key, Value]) => ({ Key, Value })),
    })),
    ...(untagged === 0 ? [] : [{ AllocatedUsageQuantity: untagged }]),
  ];
}

/**
 * What names a record among the records of one call, to match `Results` and `UnprocessedRecords` (which echo the
 * records sent) to the buckets they came from: one bucket per customer, dimension and hour.
 */
export function recordKey(record: UsageRecord): string {
  return JSON.stringify([
    record.LicenseArn ?? null,
    record.CustomerAWSAccountId ?? null,
    record.CustomerIdentifier ?? null,
    record.Dimension ?? null,
    record.Timestamp === undefined ? null : new Date(record.Timestamp).getTime(),
  ]);
}
