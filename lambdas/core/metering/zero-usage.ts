/**
 * AWS asks for a record every hour for every customer, `Quantity: 0` when there was no usage. Before metering an hour,
 * the run gives each live subscriber of a product with metered dimensions a bucket for it (of its first metered
 * dimension), adding nothing to one that exists; from then on it is metered like any other bucket.
 */
import { statusOf, type LifecycleFacts } from '../lifecycle/subscription-state.ts';
import type { BucketLedger } from './bucket-ledger.ts';
import { forEachConcurrently } from './concurrently.ts';
import type { MeteringSubscribers } from './metering-subscribers.ts';
import { bucketKey, hourOf } from './usage-bucket.ts';

/** Writes in flight at once, so that thousands of subscribers take seconds, not minutes. */
const CONCURRENT_WRITES = 16;

/** What the run needs of a product: a configured product listing with its metered dimensions fits. */
export interface ProductDimensions {
  readonly code: string;
  /** The API names of its metered dimensions; the first one carries the zero-usage records. */
  readonly meteredDimensions: readonly string[];
}

export interface ZeroUsageBucket {
  readonly subscriberId: string;
  readonly hour: Date;
  readonly dimension: string;
}

/**
 * The zero-usage buckets of `hour` that the live subscribers need, made sure of (a dry run only reads them). A bucket
 * that is frozen already is left out: that hour has its record.
 */
export async function ensureZeroUsage(
  dependencies: {
    readonly subscribers: MeteringSubscribers;
    readonly ledger: BucketLedger;
    readonly products: readonly ProductDimensions[];
    readonly onFailure: (bucket: ZeroUsageBucket, error: unknown) => void;
  },
  hour: Date,
  dryRun: boolean,
): Promise<{ readonly buckets: readonly ZeroUsageBucket[]; readonly failures: number }> {
  const dimensions = new Map(dependencies.products.map((product) => [product.code, product.meteredDimensions[0]]));
  const owed: ZeroUsageBucket[] = [];
  for await (const subscriber of dependencies.subscribers.live()) {
    const dimension = dimensions.get(subscriber.productCode);
    if (dimension !== undefined && subscribedDuring(subscriber.lifecycle, hour)) {
      owed.push({ subscriberId: subscriber.subscriberId, hour, dimension });
    }
  }
  const buckets: ZeroUsageBucket[] = [];
  let failures = 0;
  await forEachConcurrently(owed, CONCURRENT_WRITES, async (bucket) => {
    const { subscriberId, dimension } = bucket;
    try {
      const needed = dryRun
        ? (await dependencies.ledger.read(bucketKey(subscriberId, hour, dimension)))?.frozenAt === undefined
        : await dependencies.ledger.ensureBucket(subscriberId, hour, dimension);
      if (needed) buckets.push(bucket);
    } catch (error) {
      // A missing zero record is no lost usage: it must not keep the run from metering the rest.
      failures++;
      dependencies.onFailure(bucket, error);
    }
  });
  return { buckets, failures };
}

/**
 * Whether the subscription was live during (part of) the hour. Marketplace refuses a record before the hour the
 * license started or after it ended (`InvalidLicenseException`, which would take its whole batch down), so a
 * subscriber that started after the hour, or had asked to end before it began, gets no zero-usage record for it.
 */
export function subscribedDuring(facts: LifecycleFacts, hour: Date): boolean {
  const { status, since } = statusOf(facts);
  if (facts.activatedAt === undefined || hourOf(new Date(facts.activatedAt)) > hour) return false;
  if (status === 'active') return true;
  return status === 'ending' && since !== undefined && hour.getTime() < Date.parse(since);
}
