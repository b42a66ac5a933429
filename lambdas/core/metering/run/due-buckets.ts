/**
 * The buckets a run looks at, as a stream that reads a page only when the run is ready for more: every unsettled
 * bucket of an hour before `dueBefore` from the `pending` index, oldest hour first across its shards, then the
 * zero-usage buckets it creates for the hour just closed (each one as soon as it is made, since the index lags behind
 * the table); or, for final metering, every unsettled bucket of the subscribers in scope, from their own partitions.
 * Whether each is sent now is the run's decision (`bucket-timing.ts`).
 */
import type { ItemKey } from '../../table-keys.ts';
import {
  bucketItemOf,
  bucketCoordinatesOf,
  bucketKey,
  HOUR_MS,
  type BucketState,
  type FinalMeteringSettings,
} from '../bucket/index.ts';
import type { RunLedger } from './run-ledger.ts';
import type { MeteringSubscribers } from './metering-subscribers.ts';
import { zeroUsageBuckets, type ProductDimensions, type ZeroUsageBucket } from './zero-usage.ts';

/**
 * Which buckets a run looks at: every closed hour's (absent), one subscriber's (its final metering, when it is
 * ending), or every ending subscriber's.
 */
export type MeteringScope = { readonly subscriberId: string } | 'ending' | undefined;

export interface DueBucket {
  readonly key: ItemKey;
  /** Whose bucket, of which hour and dimension, read from its key; `undefined` for a key no bucket has. */
  readonly coordinates: ZeroUsageBucket | undefined;
  /** Its state when a consistent read of the table found it; unknown from the index (which also lags). */
  readonly state?: BucketState | undefined;
  /** Set when the run created this bucket as a zero-usage record. */
  readonly zero?: true;
}

export interface DueBucketSources {
  readonly ledger: RunLedger;
  readonly subscribers: MeteringSubscribers;
  readonly products: readonly ProductDimensions[];
  readonly zeroUsageRecords: boolean;
  readonly onZeroUsage: (outcome: 'made' | 'failed', bucket: ZeroUsageBucket, error?: unknown) => void;
  readonly finalMetering: FinalMeteringSettings;
}

export async function* dueBuckets(
  sources: DueBucketSources,
  scope: {
    readonly dueBefore: Date;
    readonly now: Date;
    readonly scope: MeteringScope;
  },
): AsyncGenerator<DueBucket> {
  const { ledger, subscribers } = sources;
  const items =
    scope.scope === undefined
      ? ledger.pendingBefore(scope.dueBefore)
      : scope.scope === 'ending'
        ? endingSubscribersBuckets(ledger, subscribers, scope.now)
        : ledger.unsettledOf(scope.scope.subscriberId, scope.now);
  for await (const item of items) {
    const key = { pk: String(item.pk), sk: String(item.sk) };
    yield { key, coordinates: bucketCoordinatesOf(key), state: bucketItemOf(item)?.state };
  }
  // Final metering sends what the subscribers recorded; zero-usage records are the hourly runs' business.
  if (sources.zeroUsageRecords && scope.scope === undefined) {
    const lastClosedHour = new Date(scope.dueBefore.getTime() - HOUR_MS);
    for await (const zero of zeroUsageBuckets(sources, lastClosedHour, scope.now)) {
      yield {
        key: bucketKey(zero.subscriberId, zero.hour, zero.dimension),
        coordinates: zero,
        state: 'open',
        zero: true,
      };
    }
  }
}

async function* endingSubscribersBuckets(
  ledger: RunLedger,
  subscribers: MeteringSubscribers,
  now: Date,
): AsyncGenerator<Record<string, unknown>> {
  for await (const subscriberId of subscribers.ending()) yield* ledger.unsettledOf(subscriberId, now);
}
