/**
 * AWS asks for a record every hour for every customer, `Quantity: 0` when there was no usage. Once a run has metered
 * what the `pending` index lists, it gives each live subscriber of a product with metered dimensions that has no
 * bucket for the hour just closed, of any of them, an empty one (of its first metered dimension), and meters it like
 * any other. A subscriber with usage of one dimension has its record for the hour: a zero one beside it would only
 * take a place in a call.
 */
import { effectiveStatus, statusOf, type LifecycleFacts } from '../../lifecycle/subscription-state.ts';
import type { RunLedger } from './run-ledger.ts';
import { mapConcurrently } from './concurrently.ts';
import type { MeteringSubscribers } from './metering-subscribers.ts';
import { itemId } from '../../table-keys.ts';
import { bucketKey, isRecordableHour, isRecordableHourAt, type FinalMeteringSettings } from '../bucket/index.ts';

/** Writes in flight at once, so that thousands of subscribers take seconds, not minutes. */
const CONCURRENT_WRITES = 16;
/** Subscribers looked up at once: a `BatchGetItem` of theirs for each metered dimension (100 keys a call). */
const EXISTENCE_READ_SUBSCRIBERS = 100;

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
 * The zero-usage buckets of `hour` that the live subscribers need, each created (a dry run only looks whether it would
 * be) and handed on as soon as it is, read from the `live` index a page at a time. A subscriber that has a bucket for
 * the hour already needs none: the index listed it (or will, to the next run). One that cannot be made is reported,
 * and the run goes on: a missing zero record is no lost usage.
 */
export async function* zeroUsageBuckets(
  dependencies: {
    readonly subscribers: MeteringSubscribers;
    readonly ledger: RunLedger;
    readonly products: readonly ProductDimensions[];
    readonly onZeroUsage: (outcome: 'made' | 'failed', bucket: ZeroUsageBucket, error?: unknown) => void;
    /** How long an ending subscription stays billable: one past its deadline gets no more records. */
    readonly finalMetering: FinalMeteringSettings;
  },
  hour: Date,
  now: Date,
): AsyncGenerator<ZeroUsageBucket> {
  const dimensions = new Map(dependencies.products.map((product) => [product.code, product.meteredDimensions]));
  const owed = async function* () {
    for await (const subscriber of dependencies.subscribers.live()) {
      const metered = dimensions.get(subscriber.productCode) ?? [];
      const dimension = metered[0];
      const { finalMetering } = dependencies;
      // Nor, once its final records are sent, for the hour of a subscription the buyer has subscribed again after.
      const billable =
        effectiveStatus(subscriber.lifecycle, now, finalMetering.graceSeconds) !== 'ended' &&
        isRecordableHourAt(hour, subscriber.lifecycle, now, finalMetering);
      // A buyer not yet arrived (a license heard of first) has no usage, and no account a record could name: a zero
      // record would only wait, pending, for the buyer.
      if (
        dimension !== undefined &&
        billable &&
        subscriber.identified &&
        subscribedDuring(subscriber.lifecycle, hour)
      ) {
        const { subscriberId } = subscriber;
        // Every bucket the subscriber could have for the hour: with any of them, it has its record.
        const keys = metered.map((each) => bucketKey(subscriberId, hour, each));
        yield { bucket: { subscriberId, hour, dimension }, keys };
      }
    }
  };
  // Most live subscribers have usage, and so a bucket, already: one read tells which of a hundred do not.
  for await (const chunk of chunked(owed(), EXISTENCE_READ_SUBSCRIBERS)) {
    let missing: readonly ZeroUsageBucket[];
    try {
      const existing = await dependencies.ledger.existing(chunk.flatMap(({ keys }) => keys));
      missing = chunk.filter(({ keys }) => !keys.some((key) => existing.has(itemId(key)))).map(({ bucket }) => bucket);
    } catch (error) {
      for (const { bucket } of chunk) dependencies.onZeroUsage('failed', bucket, error);
      continue;
    }
    const made = mapConcurrently(missing, CONCURRENT_WRITES, async (bucket) => {
      try {
        const created = await dependencies.ledger.createZeroBucket(bucket.subscriberId, hour, bucket.dimension);
        if (created) dependencies.onZeroUsage('made', bucket);
        return created ? bucket : undefined;
      } catch (error) {
        dependencies.onZeroUsage('failed', bucket, error);
        return undefined;
      }
    });
    for await (const bucket of made) if (bucket !== undefined) yield bucket;
  }
}

/** The items in arrays of `size` (the last one shorter). */
async function* chunked<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Whether the subscription was live during (part of) the hour. Marketplace refuses a record before the license started
 * or after it ended (`InvalidLicenseException`, which would take its whole batch down), so a subscriber that started
 * after the hour (or in its last second, or was between two subscriptions: `isRecordableHour`), or had asked to end
 * before it began, gets no zero-usage record for it.
 */
export function subscribedDuring(facts: LifecycleFacts, hour: Date): boolean {
  const { status, since } = statusOf(facts);
  if (!isRecordableHour(hour, facts)) return false;
  if (status === 'active') return true;
  return status === 'ending' && since !== undefined && hour.getTime() < Date.parse(since);
}
