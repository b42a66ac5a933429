/**
 * Which buckets a run meters: every unsettled bucket of an hour before `dueBefore`, from every shard of the `pending`
 * index and every page of each (or, for the final flush, from the subscriber's own partition), plus the zero-usage
 * buckets it made sure of. The latter are kept even if the index does not list them yet: it lags behind the table.
 */
import type { ItemKey } from '../table-keys.ts';
import { bucketItemOf, type BucketItem } from './bucket-item.ts';
import type { BucketLedger } from './bucket-ledger.ts';
import type { MeteringSubscribers } from './metering-subscribers.ts';
import { bucketKey, HOUR_MS } from './usage-bucket.ts';
import { ensureZeroUsage, type ProductDimensions, type ZeroUsageBucket } from './zero-usage.ts';

export interface DueBucket {
  readonly key: ItemKey;
  /** The bucket as the query found it: it may be out of date (an index lags), never trusted for a quantity. */
  readonly found?: BucketItem | undefined;
  /** Set when the run made sure of this bucket as a zero-usage record. */
  readonly zero?: ZeroUsageBucket | undefined;
}

export interface DueBuckets {
  readonly buckets: readonly DueBucket[];
  readonly zeroUsage: number;
  readonly zeroUsageFailures: number;
}

export async function findDueBuckets(
  dependencies: {
    readonly ledger: BucketLedger;
    readonly subscribers: MeteringSubscribers;
    readonly products: readonly ProductDimensions[];
    readonly zeroUsageRecords: boolean;
    readonly onZeroUsageFailure: (bucket: ZeroUsageBucket, error: unknown) => void;
  },
  scope: {
    readonly dueBefore: Date;
    readonly now: Date;
    readonly subscriberId?: string | undefined;
    readonly dryRun: boolean;
  },
): Promise<DueBuckets> {
  const { ledger, subscribers } = dependencies;
  const due = new Map<string, DueBucket>();
  const identify = (key: ItemKey) => JSON.stringify([key.pk, key.sk]);
  let zeroUsage = { buckets: [] as readonly ZeroUsageBucket[], failures: 0 };
  // The final flush meters what the subscriber recorded; zero-usage records are the hourly runs' business.
  if (dependencies.zeroUsageRecords && scope.subscriberId === undefined) {
    const lastClosedHour = new Date(scope.dueBefore.getTime() - HOUR_MS);
    zeroUsage = await ensureZeroUsage(
      { subscribers, ledger, products: dependencies.products, onFailure: dependencies.onZeroUsageFailure },
      lastClosedHour,
      scope.dryRun,
    );
    for (const zero of zeroUsage.buckets) {
      const key = bucketKey(zero.subscriberId, zero.hour, zero.dimension);
      due.set(identify(key), { key, zero });
    }
  }
  const items =
    scope.subscriberId === undefined
      ? ledger.pendingBefore(scope.dueBefore)
      : ledger.unsettledOf(scope.subscriberId, scope.now);
  for await (const item of items) {
    const key = { pk: String(item.pk), sk: String(item.sk) };
    due.set(identify(key), { ...due.get(identify(key)), key, found: bucketItemOf(item) });
  }
  return { buckets: [...due.values()], zeroUsage: zeroUsage.buckets.length, zeroUsageFailures: zeroUsage.failures };
}
