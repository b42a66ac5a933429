/**
 * A usage bucket as the metering run reads it from the table: the recorder's attributes, the ledger's, and the tagged
 * quantities, which the recorder keeps as pairs of top-level attributes (`allocationAttributes`) because `ADD` works
 * on top-level numbers only.
 */
import type { ItemKey } from '../../table-keys.ts';
import { allocationAttributes, hourOf, type AllocationTags, type BucketState } from './usage-bucket.ts';

export interface BucketItem {
  readonly key: ItemKey;
  readonly subscriberId: string;
  readonly dimension: string;
  /** The hour's start. */
  readonly hour: Date;
  /** The record's `Timestamp`: inside the hour, fixed when the bucket was frozen (the hour's start until then). */
  readonly timestamp: Date;
  readonly quantity: number;
  readonly state: BucketState;
  readonly frozenAt: string | undefined;
  readonly reason: string | undefined;
  /** Tagged quantities, in one stable order, so that a re-sent record is the same record. */
  readonly allocations: readonly { readonly tags: AllocationTags; readonly quantity: number }[];
}

const states: ReadonlySet<string> = new Set<BucketState>(['open', 'frozen', 'billed', 'rejected', 'expired']);

/** Set on a bucket rejected or expired after an earlier run froze it: Marketplace may have billed an unanswered send. */
export const UNCONFIRMED_SEND = 'unconfirmedSend';

export const SETTLED_STATES: ReadonlySet<BucketState> = new Set<BucketState>(['billed', 'rejected', 'expired']);

/** The bucket an item holds, or `undefined` when the item is not a well-formed bucket. */
export function bucketItemOf(item: Record<string, unknown>): BucketItem | undefined {
  const { pk, sk, subscriberId, dimension, hour, quantity, state, frozenAt, reason, recordTimestamp } = item;
  if (typeof pk !== 'string' || typeof sk !== 'string') return undefined;
  if (typeof subscriberId !== 'string' || typeof dimension !== 'string' || typeof hour !== 'string') return undefined;
  if (typeof quantity !== 'number' || typeof state !== 'string' || !states.has(state)) return undefined;
  const start = new Date(hour);
  if (Number.isNaN(start.getTime()) || hourOf(start).getTime() !== start.getTime()) return undefined;
  const timestamp = typeof recordTimestamp === 'string' ? new Date(recordTimestamp) : start;
  if (hourOf(timestamp).getTime() !== start.getTime()) return undefined;
  return {
    key: { pk, sk },
    subscriberId,
    dimension,
    hour: start,
    timestamp,
    quantity,
    state: state as BucketState,
    frozenAt: typeof frozenAt === 'string' ? frozenAt : undefined,
    reason: typeof reason === 'string' ? reason : undefined,
    allocations: allocationsOf(item),
  };
}

/**
 * Each map attribute that is the tag set its name is derived from, with the quantity beside it. Deriving the name
 * again, rather than trusting a prefix, also ignores any map that merely looks like a tag set.
 */
function allocationsOf(item: Record<string, unknown>) {
  const found: { name: string; tags: AllocationTags; quantity: number }[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!isTagSet(value)) continue;
    const attributes = allocationAttributes(value);
    const quantity = item[attributes.quantity];
    if (attributes.tags === name && typeof quantity === 'number') found.push({ name, tags: value, quantity });
  }
  return found
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(({ tags, quantity }) => ({ tags, quantity }));
}

function isTagSet(value: unknown): value is AllocationTags {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((tag) => typeof tag === 'string')
  );
}
