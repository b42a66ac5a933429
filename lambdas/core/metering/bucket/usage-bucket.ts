/**
 * The hourly usage bucket: the one item per subscriber, dimension and hour that usage is added to and that is metered
 * as one `BatchMeterUsage` record. AWS deduplicates per customer, dimension and hour and never sums two records of one
 * hour, so every tag set of that hour is an allocation inside the same bucket, not a bucket of its own.
 *
 * An item's life: `open` (usage is added atomically) -> `frozen` (the metering run fixed its quantity; usage for its
 * hour is carried into a later open hour from then on) -> `billed` | `rejected` | `expired`. Until it is settled it
 * carries `pendingShard`/`pendingHour`, the sparse `pending` index a run reads instead of scanning the table.
 */
import { createHash } from 'node:crypto';
import { PENDING_SHARDS, usageItemPrefixes } from '../../../../contracts/index.ts';
import type { ItemKey } from '../../table-keys.ts';

export const HOUR_MS = 3_600_000;

export type BucketState = 'open' | 'frozen' | 'billed' | 'rejected' | 'expired';

/** A tag set of an allocation: 1-5 tags, kept sorted by key so that one set has one spelling. */
export type AllocationTags = Readonly<Record<string, string>>;

/** The start of the UTC hour that `at` falls in. */
export function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * Buckets of a subscriber share its partition, sorted by hour then dimension, so that one query reads a subscriber's
 * day (the report) or everything it has pending (the final flush). The hour is fixed-width, so the dimension after it
 * may hold any character.
 */
export function bucketKey(subscriberId: string, hour: Date, dimension: string): ItemKey {
  return { pk: usagePartition(subscriberId), sk: `${bucketSortPrefix(hour)}${dimension}` };
}

/** Whose bucket a key is, of which hour and dimension: what `bucketKey` made it of, or `undefined` if it made none. */
export function bucketCoordinatesOf(
  key: ItemKey,
): { readonly subscriberId: string; readonly hour: Date; readonly dimension: string } | undefined {
  const partition = usagePartition('');
  const sort = /^HOUR#(\d{4}-\d{2}-\d{2}T\d{2}:00:00\.000Z)#(.*)$/s.exec(key.sk);
  if (!key.pk.startsWith(partition) || key.pk.length === partition.length || sort === null) return undefined;
  const hour = new Date(sort[1]!);
  if (Number.isNaN(hour.getTime()) || sort[2] === '') return undefined;
  return { subscriberId: key.pk.slice(partition.length), hour, dimension: sort[2]! };
}

export function usagePartition(subscriberId: string): string {
  return `${usageItemPrefixes.bucket}${subscriberId}`;
}

/** A sort key before every bucket, of any hour: the inclusive lower bound of a `BETWEEN` over all hours up to one. */
export const BUCKET_SORT_FLOOR = 'HOUR#';

/** The sort-key prefix of every bucket of one hour (`begins_with` for an hour's buckets). */
export function bucketSortPrefix(hour: Date): string {
  return `${BUCKET_SORT_FLOOR}${hourOf(hour).toISOString()}#`;
}

/**
 * A sort key after every bucket of `hour` and before any bucket of the next hour (the hour's prefix with its last `#`
 * raised to `$`): the inclusive upper bound of a `BETWEEN` that ends with that hour, even the last one of year 9999.
 */
export function bucketSortLimit(hour: Date): string {
  return `${BUCKET_SORT_FLOOR}${hourOf(hour).toISOString()}$`;
}

/** The `pending` index partition of a subscriber's buckets: stable, from its id. */
export function pendingShardOf(subscriberId: string): string {
  return `pending#${createHash('sha256').update(subscriberId).digest()[0]! % PENDING_SHARDS}`;
}

/** Idempotency keys of recorded usage events: one per event id (escaped by the caller), expiring by TTL. */
export function usageEventKey(escapedEventId: string): ItemKey {
  return { pk: `${usageItemPrefixes.usageEvent}${escapedEventId}`, sk: 'EVENT' };
}

/** A tag set in one canonical spelling: keys sorted. */
export function canonicalTags(tags: AllocationTags): AllocationTags {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The top-level attribute that holds one tag set's quantity in a bucket (`ADD` works on top-level numbers only), and
 * the one beside it holding the tag set itself. Named by a digest of the canonical tag set.
 */
export function allocationAttributes(tags: AllocationTags): { quantity: string; tags: string } {
  const digest = createHash('sha256')
    .update(JSON.stringify(canonicalTags(tags)))
    .digest('hex')
    .slice(0, 16);
  return { quantity: `allocation#${digest}`, tags: `allocationTags#${digest}` };
}
