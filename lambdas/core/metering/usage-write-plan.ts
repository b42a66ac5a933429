/**
 * What one call of the recorder writes, as the items of one DynamoDB transaction: per bucket, the sum of the call's
 * units for it (a transaction may touch an item once), and per event id, a key that exists only if the event was
 * counted. The plan is built from what the last failed attempt taught (which buckets are frozen, how full they are,
 * which event ids were counted already), so that every attempt differs from the last by what it learned.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import {
  allocationAttributes,
  bucketKey,
  HOUR_MS,
  hourOf,
  pendingShardOf,
  usageEventKey,
  USAGE_KEY,
  type AllocationTags,
} from './usage-bucket.ts';
import { MAX_QUANTITY, rejection, type UsageEvent, type UsageEventResult } from './usage-event.ts';
import type { ItemKey } from '../table-keys.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** An event that passed every check but the ones only the table can answer. */
export interface Candidate {
  /** Its position in the call, which its result keeps. */
  readonly index: number;
  readonly event: UsageEvent;
}

/** What failed conditions have shown about the table; absent means nothing is known (and the condition guards it). */
export interface TableKnowledge {
  /** By {@link itemId}: whether the bucket is frozen, and its quantity when last seen. */
  readonly buckets: Map<string, { readonly frozen: boolean; readonly quantity: number }>;
  /** By {@link itemId}: event keys found to exist, i.e. events counted before. */
  readonly countedEvents: Set<string>;
}

/** Which plan entry a transaction item is, by the item's position. */
export type ItemTarget =
  { readonly kind: 'bucket'; readonly id: string } | { readonly kind: 'event'; readonly id: string };

export interface WritePlan {
  readonly results: ReadonlyMap<number, UsageEventResult>;
  readonly items: readonly TransactItem[];
  readonly targets: readonly ItemTarget[];
}

export interface PlanSettings {
  readonly usageTable: string;
  readonly now: Date;
  readonly eventIdRetentionDays: number;
}

interface PlannedBucket {
  readonly key: ItemKey;
  readonly subscriberId: string;
  readonly dimension: string;
  readonly hour: Date;
  quantity: number;
  /** Per tag set (by its quantity attribute): the tags and this call's units for them. */
  readonly allocations: Map<string, { readonly tags: AllocationTags; quantity: number }>;
}

interface PlannedEventKey {
  readonly key: ItemKey;
  readonly event: UsageEvent;
  readonly hour: Date;
}

/** A key as one string, to tell items apart (a dimension may hold any character, so it is quoted). */
export function itemId(key: ItemKey): string {
  return JSON.stringify([key.pk, key.sk]);
}

/**
 * The event id as it appears in its key. `usageEventKey` joins subscriber id and event id with `#`, which either may
 * contain; escaped, the event id holds no `#`, so the last one separates the two and no two events share a key.
 */
export function eventKeyOf(subscriberId: string, eventId: string): ItemKey {
  return usageEventKey(subscriberId, encodeURIComponent(eventId));
}

/**
 * The hours the units of `hour` may go into, in order: their own; once that is frozen, the current hour (or, for usage
 * of the current or a later hour, the hour after its own), which a final flush may have frozen too; then the hour after
 * that. Always later, so a record's timestamp is never before the usage (invariant 5).
 */
export function candidateHours(hour: Date, now: Date): readonly Date[] {
  const carried = new Date(Math.max(hourOf(now).getTime(), hour.getTime() + HOUR_MS));
  return [hour, carried, new Date(carried.getTime() + HOUR_MS)];
}

/**
 * The plan for `candidates`, in their order: an event already counted (before, or earlier in this call) is a
 * duplicate; one whose every hour is frozen, or that would take its bucket past {@link MAX_QUANTITY}, is rejected; the
 * others are summed into their buckets.
 */
export function planWrites(
  candidates: readonly Candidate[],
  knowledge: TableKnowledge,
  settings: PlanSettings,
): WritePlan {
  const results = new Map<number, UsageEventResult>();
  const buckets = new Map<string, PlannedBucket>();
  const eventKeys = new Map<string, PlannedEventKey>();
  for (const { index, event } of candidates) {
    const eventKey = event.eventId === undefined ? undefined : eventKeyOf(event.subscriberId, event.eventId);
    if (eventKey !== undefined && (knowledge.countedEvents.has(itemId(eventKey)) || eventKeys.has(itemId(eventKey)))) {
      results.set(index, { status: 'duplicate' });
      continue;
    }
    const hours = candidateHours(event.hour, settings.now);
    const hour = hours.find(
      (candidate) =>
        knowledge.buckets.get(itemId(bucketKey(event.subscriberId, candidate, event.dimension)))?.frozen !== true,
    );
    if (hour === undefined) {
      results.set(
        index,
        rejection(
          'no-open-hour',
          `the hours ${hours.map((frozen) => frozen.toISOString()).join(', ')} of ${event.dimension} are already metered`,
        ),
      );
      continue;
    }
    const key = bucketKey(event.subscriberId, hour, event.dimension);
    const bucket: PlannedBucket = buckets.get(itemId(key)) ?? {
      key,
      subscriberId: event.subscriberId,
      dimension: event.dimension,
      hour,
      quantity: 0,
      allocations: new Map(),
    };
    const stored = knowledge.buckets.get(itemId(key))?.quantity ?? 0;
    if (stored + bucket.quantity + event.quantity > MAX_QUANTITY) {
      results.set(
        index,
        rejection(
          'bad-quantity',
          `it would take the ${event.dimension} usage of ${hour.toISOString()} past ${MAX_QUANTITY}, the most ` +
            'Marketplace takes for one hour',
        ),
      );
      continue;
    }
    bucket.quantity += event.quantity;
    if (event.tags !== undefined) {
      const attribute = allocationAttributes(event.tags).quantity;
      const allocation = bucket.allocations.get(attribute) ?? { tags: event.tags, quantity: 0 };
      allocation.quantity += event.quantity;
      bucket.allocations.set(attribute, allocation);
    }
    buckets.set(itemId(key), bucket);
    if (eventKey !== undefined) eventKeys.set(itemId(eventKey), { key: eventKey, event, hour });
    results.set(index, {
      status: 'accepted',
      hour: hour.toISOString(),
      ...(hour.getTime() === event.hour.getTime() ? {} : { carriedFrom: event.hour.toISOString() }),
    });
  }
  const items: TransactItem[] = [];
  const targets: ItemTarget[] = [];
  for (const [id, bucket] of buckets) {
    items.push(bucketUpdate(settings.usageTable, bucket));
    targets.push({ kind: 'bucket', id });
  }
  for (const [id, eventKey] of eventKeys) {
    items.push(eventKeyPut(settings, eventKey));
    targets.push({ kind: 'event', id });
  }
  return { results, items, targets };
}

/**
 * Adds the units to the bucket unless the metering run has frozen it or the total would pass {@link MAX_QUANTITY};
 * creates it open, in the `pending` index, if it is new. On a failed condition the bucket as it was comes back, to
 * tell the two apart.
 */
function bucketUpdate(tableName: string, bucket: PlannedBucket): TransactItem {
  const names: Record<string, string> = {
    '#quantity': 'quantity',
    '#frozenAt': 'frozenAt',
    '#subscriberId': 'subscriberId',
    '#dimension': 'dimension',
    '#hour': 'hour',
    '#state': 'state',
    '#pendingShard': 'pendingShard',
    '#pendingHour': 'pendingHour',
  };
  const hour = bucket.hour.toISOString();
  const values: Record<string, unknown> = {
    ':quantity': bucket.quantity,
    ':headroom': MAX_QUANTITY - bucket.quantity,
    ':subscriberId': bucket.subscriberId,
    ':dimension': bucket.dimension,
    ':hour': hour,
    ':open': 'open',
    ':pendingShard': pendingShardOf(bucket.subscriberId),
    ':pendingHour': hour,
  };
  const set = [
    '#subscriberId = :subscriberId',
    '#dimension = :dimension',
    '#hour = :hour',
    '#state = if_not_exists(#state, :open)',
    '#pendingShard = if_not_exists(#pendingShard, :pendingShard)',
    '#pendingHour = if_not_exists(#pendingHour, :pendingHour)',
  ];
  const add = ['#quantity :quantity'];
  [...bucket.allocations.values()].forEach(({ tags, quantity }, position) => {
    const attributes = allocationAttributes(tags);
    names[`#allocation${position}`] = attributes.quantity;
    names[`#allocationTags${position}`] = attributes.tags;
    values[`:allocation${position}`] = quantity;
    values[`:allocationTags${position}`] = tags;
    add.push(`#allocation${position} :allocation${position}`);
    set.push(`#allocationTags${position} = if_not_exists(#allocationTags${position}, :allocationTags${position})`);
  });
  return {
    Update: {
      TableName: tableName,
      Key: bucket.key,
      UpdateExpression: `SET ${set.join(', ')} ADD ${add.join(', ')}`,
      ConditionExpression:
        'attribute_not_exists(#frozenAt) AND (attribute_not_exists(#quantity) OR #quantity <= :headroom)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The event's key, created only if it does not exist: a second copy of the event fails it and is not counted. */
function eventKeyPut(settings: PlanSettings, planned: PlannedEventKey): TransactItem {
  const { event } = planned;
  return {
    Put: {
      TableName: settings.usageTable,
      Item: {
        ...planned.key,
        subscriberId: event.subscriberId,
        eventId: event.eventId,
        dimension: event.dimension,
        quantity: event.quantity,
        hour: planned.hour.toISOString(),
        recordedAt: settings.now.toISOString(),
        [USAGE_KEY.timeToLive]: Math.ceil(settings.now.getTime() / 1000) + settings.eventIdRetentionDays * 86_400,
      },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': USAGE_KEY.partitionKey },
    },
  };
}
