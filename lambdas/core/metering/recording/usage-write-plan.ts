/**
 * What one call of the recorder writes, as the items of one DynamoDB transaction: per bucket, the sum of the call's
 * units for it (a transaction may touch an item once), and per event id, a key that exists only if the event was
 * counted. The plan is built from what the last failed attempt taught (which buckets are frozen, how full they are and
 * which tag sets they hold, which event ids were counted already and for what), so that every attempt differs from
 * the last by what it learned.
 *
 * A bucket is one `BatchMeterUsage` record, so what one record may carry bounds it, checked here rather than found out
 * by Marketplace after the usage was accepted: a quantity up to {@link MAX_QUANTITY}, up to
 * {@link MAX_ALLOCATIONS_PER_RECORD} tag sets, and tags that fit one DynamoDB item and one request
 * ({@link MAX_TAG_BYTES_PER_RECORD}). The bucket counts its tag sets and their size as it gains them; to know which tag
 * sets of a call are new, an attempt first assumes none is (the common case: usage of a tag set seen before) and, when
 * a condition shows otherwise, learns the bucket's tag sets from the item the failed condition returns.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import {
  allocationAttributes,
  bucketKey,
  HOUR_MS,
  hourOf,
  pendingShardOf,
  usageEventKey,
  type AllocationTags,
} from '../bucket/index.ts';
import { MAX_QUANTITY, rejection, type UsageEvent, type UsageEventResult } from './usage-event.ts';
import { itemId, type ItemKey } from '../../table-keys.ts';
import { PENDING_INDEX, TABLE_KEY } from '../../../../contracts/index.ts';

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Marketplace's most allocations (tag sets, plus the untagged rest) in one record. */
export const MAX_ALLOCATIONS_PER_RECORD = 2500;

/**
 * The most tag bytes one bucket takes, counted by {@link tagSetBytes}: with the rest of the item this stays under
 * DynamoDB's 400 KB item limit, and the record it becomes under Marketplace's 1 MB request limit.
 */
export const MAX_TAG_BYTES_PER_RECORD = 350_000;

/**
 * What a tag set adds to a bucket, at most, in the item (two attribute names, a number, a map) and in the record's JSON
 * (`{"AllocatedUsageQuantity":…,"Tags":[{"Key":…,"Value":…}]}`): an upper bound on both.
 */
export function tagSetBytes(tags: AllocationTags): number {
  return 100 + Object.entries(tags).reduce((sum, [key, value]) => sum + key.length + value.length + 24, 0);
}

/** An event that passed every check but the ones only the table can answer. */
export interface Candidate {
  /** Its position in the call, which its result keeps. */
  readonly index: number;
  readonly event: UsageEvent;
  /** The last hour its units may go into (the hour an ending subscription ends in); any hour when absent. */
  readonly lastHour?: Date | undefined;
  /** Whether its units may go into an hour (`isRecordableHour`: a record of it can be stamped inside the subscription). */
  readonly recordable?: ((hour: Date) => boolean) | undefined;
}

/** What an event key says of the event it was counted for. */
export interface CountedEvent {
  readonly subscriberId?: unknown;
  readonly dimension?: unknown;
  readonly quantity?: unknown;
  readonly timestamp?: unknown;
  readonly fingerprint?: unknown;
}

/** What failed conditions have shown about a bucket. */
export interface KnownBucket {
  readonly frozen: boolean;
  readonly quantity: number;
  /** The tag-set attributes it holds (`allocationAttributes(tags).tags`), their count and their bytes. */
  readonly tagSets: ReadonlySet<string>;
  readonly tagSetCount: number;
  readonly tagBytes: number;
}

/** What failed conditions have shown about the table; absent means nothing is known (and the condition guards it). */
export interface TableKnowledge {
  /** By {@link itemId}. */
  readonly buckets: Map<string, KnownBucket>;
  /** By {@link itemId}: event keys found to exist, with the event each was counted for. */
  readonly countedEvents: Map<string, CountedEvent>;
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

interface PlannedAllocation {
  readonly tags: AllocationTags;
  quantity: number;
  /** `undefined` while the bucket's tag sets are not known: assumed held, and the condition checks it. */
  readonly isNew: boolean | undefined;
}

interface PlannedBucket {
  readonly key: ItemKey;
  readonly subscriberId: string;
  readonly dimension: string;
  readonly hour: Date;
  quantity: number;
  /** Per tag set (by its tags attribute): the tags and this call's units for them. */
  readonly allocations: Map<string, PlannedAllocation>;
  newTagSets: number;
  newTagBytes: number;
}

interface PlannedEventKey {
  readonly key: ItemKey;
  readonly event: UsageEvent;
  readonly hour: Date;
}

/**
 * The key of an event id. An event id names one event across the deployment (whichever subscriber it is for); escaped,
 * it holds no character that could make two ids one key.
 */
export function eventKeyOf(eventId: string): ItemKey {
  return usageEventKey(encodeURIComponent(eventId));
}

/** One digest of everything that makes an event the event it is, to tell a resend from another event with its id. */
export function eventFingerprint(event: UsageEvent): string {
  return createHash('sha256')
    .update(
      JSON.stringify([event.subscriberId, event.dimension, event.quantity, event.at.getTime(), event.tags ?? null]),
    )
    .digest('base64url');
}

/** What differs between an event and the one its id was counted for, or `undefined` when it is the same event again. */
export function conflictOf(event: UsageEvent, counted: CountedEvent): string | undefined {
  if (counted.fingerprint === eventFingerprint(event)) return undefined;
  const differences = [
    counted.subscriberId !== event.subscriberId ? 'subscriberId' : undefined,
    counted.dimension !== event.dimension ? 'dimension' : undefined,
    counted.quantity !== event.quantity ? 'quantity' : undefined,
    typeof counted.timestamp === 'string' && Date.parse(counted.timestamp) !== event.at.getTime()
      ? 'timestamp'
      : undefined,
  ].filter((field) => field !== undefined);
  return (
    `eventId ${JSON.stringify(event.eventId)} was already used for another event (its ` +
    `${differences.length === 0 ? 'tags' : differences.join(', ')} differed); this one was not counted: give each ` +
    'event an id of its own'
  );
}

/**
 * The hours the units of `hour` may go into, in order: their own; once that is frozen, the current hour (or, for usage
 * of the current or a later hour, the hour after its own), which a final flush may have frozen too; then the hour after
 * that. Always later, so a record's timestamp is never before the usage (invariant 5). An ending subscription's usage
 * goes into no hour after `lastHour`, the one it ended in, and into that one even once the clock has moved past it; no
 * usage goes into an hour that is not `recordable`.
 */
export function candidateHours(
  hour: Date,
  now: Date,
  lastHour?: Date,
  recordable: (hour: Date) => boolean = () => true,
): readonly Date[] {
  const carried = new Date(Math.max(hourOf(now).getTime(), hour.getTime() + HOUR_MS));
  const hours = [hour, carried, new Date(carried.getTime() + HOUR_MS)].filter(recordable);
  if (lastHour === undefined) return hours;
  const within = hours.filter((candidate) => candidate <= lastHour);
  if (lastHour > hour && !within.some((candidate) => candidate.getTime() === lastHour.getTime())) within.push(lastHour);
  return within;
}

/**
 * The plan for `candidates`, in their order: an event already counted (before, or earlier in this call) is a
 * duplicate when it is the same event, a conflict when its id names another; one whose every hour is frozen, or that
 * its bucket cannot take (quantity, tag sets), is rejected; the others are summed into their buckets.
 */
export function planWrites(
  candidates: readonly Candidate[],
  knowledge: TableKnowledge,
  settings: PlanSettings,
): WritePlan {
  const results = new Map<number, UsageEventResult>();
  const buckets = new Map<string, PlannedBucket>();
  const eventKeys = new Map<string, PlannedEventKey>();
  for (const { index, event, lastHour, recordable } of candidates) {
    const eventKey = event.eventId === undefined ? undefined : eventKeyOf(event.eventId);
    const counted =
      eventKey === undefined
        ? undefined
        : (knowledge.countedEvents.get(itemId(eventKey)) ?? countedOf(eventKeys.get(itemId(eventKey))));
    if (counted !== undefined) {
      results.set(index, answerToCounted(event, counted));
      continue;
    }
    const hours = candidateHours(event.hour, settings.now, lastHour, recordable);
    const hour = hours.find(
      (candidate) =>
        knowledge.buckets.get(itemId(bucketKey(event.subscriberId, candidate, event.dimension)))?.frozen !== true,
    );
    if (hour === undefined) {
      results.set(index, noOpenHour(event, hours, lastHour));
      continue;
    }
    const key = bucketKey(event.subscriberId, hour, event.dimension);
    const known = knowledge.buckets.get(itemId(key));
    const bucket: PlannedBucket = buckets.get(itemId(key)) ?? {
      key,
      subscriberId: event.subscriberId,
      dimension: event.dimension,
      hour,
      quantity: 0,
      allocations: new Map(),
      newTagSets: 0,
      newTagBytes: 0,
    };
    const refusal = bucketRefusal(bucket, known, event, hour);
    if (refusal !== undefined) {
      results.set(index, refusal);
      continue;
    }
    addTo(bucket, known, event);
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

function countedOf(planned: PlannedEventKey | undefined): CountedEvent | undefined {
  return planned === undefined ? undefined : eventKeyAttributes(planned.event);
}

function answerToCounted(event: UsageEvent, counted: CountedEvent): UsageEventResult {
  const conflict = conflictOf(event, counted);
  return conflict === undefined ? { status: 'duplicate' } : { status: 'conflict', message: conflict };
}

function noOpenHour(event: UsageEvent, hours: readonly Date[], lastHour: Date | undefined): UsageEventResult {
  if (hours.length === 0) {
    return rejection(
      'not-subscribed',
      `no hour from ${event.hour.toISOString()} to the subscription's end can carry a record of it: the subscription ` +
        'started in the last second of its hour and ended before the next',
    );
  }
  const metered = `the hours ${hours.map((frozen) => frozen.toISOString()).join(', ')} of ${event.dimension} are already metered`;
  return rejection(
    'no-open-hour',
    lastHour === undefined
      ? metered
      : `${metered}, and the subscription ended in the hour ${lastHour.toISOString()}: its final usage has been sent`,
  );
}

/** Why the bucket cannot take the event (with what this call already put in it), or `undefined` if it can. */
function bucketRefusal(
  bucket: PlannedBucket,
  known: KnownBucket | undefined,
  event: UsageEvent,
  hour: Date,
): UsageEventResult | undefined {
  const record = `the ${event.dimension} record of ${hour.toISOString()}`;
  if ((known?.quantity ?? 0) + bucket.quantity + event.quantity > MAX_QUANTITY) {
    return rejection('bad-quantity', `it would take ${record} past ${MAX_QUANTITY}, the most Marketplace takes`);
  }
  if (event.tags === undefined || known === undefined) return undefined;
  const { tags: attribute } = allocationAttributes(event.tags);
  if (known.tagSets.has(attribute) || bucket.allocations.has(attribute)) return undefined;
  // One allocation is kept for the untagged rest of the quantity.
  if (known.tagSetCount + bucket.newTagSets + 1 > MAX_ALLOCATIONS_PER_RECORD - 1) {
    return rejection(
      'bucket-full',
      `${record} already carries ${known.tagSetCount + bucket.newTagSets} tag sets: Marketplace takes at most ` +
        `${MAX_ALLOCATIONS_PER_RECORD} allocations in one record`,
    );
  }
  if (known.tagBytes + bucket.newTagBytes + tagSetBytes(event.tags) > MAX_TAG_BYTES_PER_RECORD) {
    return rejection(
      'bucket-full',
      `another tag set would take ${record} past ${MAX_TAG_BYTES_PER_RECORD} bytes of tags, the most one record ` +
        'can carry (DynamoDB item and Marketplace request limits)',
    );
  }
  return undefined;
}

function addTo(bucket: PlannedBucket, known: KnownBucket | undefined, event: UsageEvent): void {
  bucket.quantity += event.quantity;
  if (event.tags === undefined) return;
  const { tags: attribute } = allocationAttributes(event.tags);
  const planned = bucket.allocations.get(attribute);
  if (planned !== undefined) {
    planned.quantity += event.quantity;
    return;
  }
  const isNew = known === undefined ? undefined : !known.tagSets.has(attribute);
  bucket.allocations.set(attribute, { tags: event.tags, quantity: event.quantity, isNew });
  if (isNew === true) {
    bucket.newTagSets++;
    bucket.newTagBytes += tagSetBytes(event.tags);
  }
}

/** What the item a failed bucket condition returned shows about the bucket. */
export function knownBucketOf(stored: Record<string, unknown>): KnownBucket {
  const number = (value: unknown) => (typeof value === 'number' ? value : 0);
  return {
    frozen: stored.frozenAt !== undefined,
    quantity: number(stored.quantity),
    tagSets: new Set(Object.keys(stored).filter((name) => name.startsWith(TAG_SET_ATTRIBUTE_PREFIX))),
    tagSetCount: number(stored[BUCKET_COUNTERS.tagSetCount]),
    tagBytes: number(stored[BUCKET_COUNTERS.tagBytes]),
  };
}

const TAG_SET_ATTRIBUTE_PREFIX = 'allocationTags#';

/** The bucket's running count of its tag sets and of their bytes ({@link tagSetBytes}). */
const BUCKET_COUNTERS = { tagSetCount: 'tagSetCount', tagBytes: 'tagBytes' } as const;

/**
 * Adds the units to the bucket unless the metering run has frozen it or it cannot take them; creates it open, in the
 * `pending` index, if it is new. Each tag set is conditioned on being held (or, once the bucket's tag sets are known,
 * on being new, and then counted). On a failed condition the bucket as it was comes back, to learn from.
 */
function bucketUpdate(tableName: string, bucket: PlannedBucket): TransactItem {
  const names: Record<string, string> = {
    '#quantity': 'quantity',
    '#frozenAt': 'frozenAt',
    '#subscriberId': 'subscriberId',
    '#dimension': 'dimension',
    '#hour': 'hour',
    '#state': 'state',
    '#pendingShard': PENDING_INDEX.partitionKey,
    '#pendingHour': PENDING_INDEX.sortKey,
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
  const conditions = ['attribute_not_exists(#frozenAt)', '(attribute_not_exists(#quantity) OR #quantity <= :headroom)'];
  [...bucket.allocations.values()].forEach(({ tags, quantity, isNew }, position) => {
    const attributes = allocationAttributes(tags);
    names[`#allocation${position}`] = attributes.quantity;
    names[`#allocationTags${position}`] = attributes.tags;
    values[`:allocation${position}`] = quantity;
    add.push(`#allocation${position} :allocation${position}`);
    if (isNew === true) {
      // As a Map: the marshaller takes a plain object by its constructor and toString, which tag keys of those names
      // (valid Marketplace tags) would shadow.
      values[`:allocationTags${position}`] = new Map(Object.entries(tags));
      set.push(`#allocationTags${position} = :allocationTags${position}`);
      conditions.push(`attribute_not_exists(#allocationTags${position})`);
    } else {
      conditions.push(`attribute_exists(#allocationTags${position})`);
    }
  });
  if (bucket.newTagSets > 0) {
    names['#tagSetCount'] = BUCKET_COUNTERS.tagSetCount;
    names['#tagBytes'] = BUCKET_COUNTERS.tagBytes;
    values[':newTagSets'] = bucket.newTagSets;
    values[':newTagBytes'] = bucket.newTagBytes;
    values[':tagSetRoom'] = MAX_ALLOCATIONS_PER_RECORD - 1 - bucket.newTagSets;
    values[':tagByteRoom'] = MAX_TAG_BYTES_PER_RECORD - bucket.newTagBytes;
    add.push('#tagSetCount :newTagSets', '#tagBytes :newTagBytes');
    conditions.push(
      '(attribute_not_exists(#tagSetCount) OR #tagSetCount <= :tagSetRoom)',
      '(attribute_not_exists(#tagBytes) OR #tagBytes <= :tagByteRoom)',
    );
  }
  return {
    Update: {
      TableName: tableName,
      Key: bucket.key,
      UpdateExpression: `SET ${set.join(', ')} ADD ${add.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** What an event key keeps of its event: enough to tell a resend of it from another event with its id. */
function eventKeyAttributes(event: UsageEvent): CountedEvent {
  return {
    subscriberId: event.subscriberId,
    dimension: event.dimension,
    quantity: event.quantity,
    timestamp: event.at.toISOString(),
    fingerprint: eventFingerprint(event),
  };
}

/**
 * The event's key, created only if it does not exist: a second copy of the event fails it and is not counted, and the
 * key as it was comes back, to tell a resend from a conflict.
 */
function eventKeyPut(settings: PlanSettings, planned: PlannedEventKey): TransactItem {
  const { event } = planned;
  return {
    Put: {
      TableName: settings.usageTable,
      Item: {
        ...planned.key,
        ...eventKeyAttributes(event),
        eventId: event.eventId,
        hour: planned.hour.toISOString(),
        recordedAt: settings.now.toISOString(),
        [TABLE_KEY.timeToLive]: Math.ceil(settings.now.getTime() / 1000) + settings.eventIdRetentionDays * 86_400,
      },
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': TABLE_KEY.partitionKey },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}
