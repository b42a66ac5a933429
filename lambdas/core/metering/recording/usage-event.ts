/**
 * A usage event as the seller's app reports it (this many units of a dimension, for a subscriber, at a time), the
 * checks that need nothing but the event and the clock, and the answer the recorder gives for each event.
 *
 * The bounds are Marketplace's where it has them: a record's quantity and an allocation's are 0-2,147,483,647, tags are
 * 1-5 per allocation with keys of 1-100 and values of 1-256 characters of `^[a-zA-Z0-9+ -=._:\/@]+$`, a dimension is
 * 1-255 characters. An event's quantity is 1 or more: zero-usage records are the metering run's job (it sends one every
 * hour a live subscriber has none), so a zero event would add nothing and is more likely a caller's bug (a count that
 * failed to parse) than a report.
 *
 * @example
 * const parsed = parseUsageEvent({ subscriberId, dimension: 'requests', quantity: 3, timestamp: '2026-11-26T10:15:00Z' });
 * if (parsed.outcome === 'rejected') return parsed.result;
 * const late = timingRejection(parsed.event.at, new Date(), 24); // undefined while the hour can still be metered
 */
import * as z from 'zod';
import { SUBSCRIBER_ID_PATTERN } from '../../subscriber.ts';
import { acceptanceDeadline, canonicalTags, HOUR_MS, hourOf, type AllocationTags } from '../bucket/index.ts';

/** At most this many events per call: with their event ids, one transaction (100 items) holds every write. */
export const MAX_USAGE_EVENTS_PER_CALL = 50;

/** Marketplace's largest quantity (a signed 32-bit integer), for an event and for a bucket's hourly total. */
export const MAX_QUANTITY = 2_147_483_647;

/** How far ahead of our clock an event may be: the skew between the seller's servers and ours. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/**
 * How much of an hour's acceptance window must be left, counted from the start of the current hour, for usage of that
 * hour to be taken. A bucket still open now is metered by the run that follows the current hour's end, at the latest at
 * minute 59 of the next hour (`scheduleMinute` is at most 59): two hours from the current hour's start.
 */
const METERING_LEAD_HOURS = 2;

export type UsageRejectionReason =
  | 'unknown-subscriber'
  | 'not-subscribed'
  | 'unknown-dimension'
  | 'bad-quantity'
  | 'in-the-future'
  | 'too-old'
  | 'bad-tags'
  | 'bad-event'
  /** The event's hour and every later hour it could be carried into are already frozen by the metering run. */
  | 'no-open-hour'
  /** The hour's record cannot take another tag set: 2,500 allocations, or the size one record can carry. */
  | 'bucket-full';

export type UsageRejection = {
  readonly status: 'rejected';
  readonly reason: UsageRejectionReason;
  readonly message: string;
  /**
   * For usage refused as after the subscription's end (`not-subscribed`): the last instant whose usage is billed, so
   * that a caller who summed usage from both sides of the end can send again what came before it.
   */
  readonly billableUntil?: string;
};

/** The recorder's answer for one event. */
export type UsageEventResult =
  /** Counted in the bucket of `hour`; `carriedFrom` is the hour it happened in when that hour was already frozen. */
  | { readonly status: 'accepted'; readonly hour: string; readonly carriedFrom?: string }
  /** The same event (same id, same contents) was counted before, in an earlier call or earlier in this one. */
  | { readonly status: 'duplicate' }
  /** The event id was counted before for another event: this one was not counted, and the message says what differs. */
  | { readonly status: 'conflict'; readonly message: string }
  | UsageRejection;

/** What a caller sends: the JSON of `POST /usage`, or the same from TypeScript. */
export interface UsageEventInput {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly quantity: number;
  /** When the usage happened: an RFC 3339 date-time with seconds and a time zone (`Z` or an offset), or a Date. */
  readonly timestamp: string | Date;
  /**
   * Makes sending the event again safe: an event id names one event across the deployment, counted once while it is
   * remembered (`metering.eventIdRetentionDays`); the id sent again with other contents is a `conflict`.
   */
  readonly eventId?: string;
  /** The allocation the units belong to (`UsageAllocations` of the record). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** A well-formed event. */
export interface UsageEvent {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly quantity: number;
  readonly at: Date;
  /** The hour `at` falls in: the bucket the units go into unless that hour is frozen. */
  readonly hour: Date;
  readonly eventId?: string;
  /** Sorted by key, so that one tag set has one spelling. */
  readonly tags?: AllocationTags;
}

/**
 * The longest id taken: its bucket's partition key (`USAGE#<id>`) stays well under the 2,048 bytes DynamoDB allows,
 * whose refusal would fail the whole call rather than the one event.
 */
export const MAX_SUBSCRIBER_ID_LENGTH = 1600;

const EVENT_ID = /^[ -~]{1,128}$/;

/** Marketplace's pattern for tag keys and values; ` -=` is a range (space to `=`), as it is in Marketplace's. */
const TAG_TEXT = /^[a-zA-Z0-9+ -=._:/@]+$/;
export const MAX_TAGS = 5;
export const MAX_TAG_KEY_LENGTH = 100;
export const MAX_TAG_VALUE_LENGTH = 256;

/** Marketplace's longest dimension name. */
export const MAX_DIMENSION_LENGTH = 255;

/**
 * Read from the object's own entries rather than through `z.record`, which silently drops a `__proto__` key that
 * `JSON.parse` made an own property (the units would land in another allocation). That key is refused instead: the
 * DynamoDB marshaller cannot carry it either, and would fail the whole call.
 */
const tagsSchema = z.unknown().transform((value, context): AllocationTags => {
  const problem = tagsProblem(value);
  if (problem !== undefined) {
    context.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return canonicalTags(Object.fromEntries(Object.entries(value as object)));
});

function tagsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'tags must be an object of tag keys to values';
  }
  const entries = Object.entries(value);
  if (entries.length < 1 || entries.length > MAX_TAGS) {
    return `tags must hold 1 to ${MAX_TAGS} tags (leave tags out for untagged usage)`;
  }
  for (const [key, text] of entries) {
    if (key === '__proto__') return 'a tag key cannot be __proto__';
    if (key.length > MAX_TAG_KEY_LENGTH || !TAG_TEXT.test(key)) {
      return `every tag key must be 1 to ${MAX_TAG_KEY_LENGTH} characters of ${TAG_TEXT.source}`;
    }
    if (typeof text !== 'string' || text.length > MAX_TAG_VALUE_LENGTH || !TAG_TEXT.test(text)) {
      return `every tag value must be a string of 1 to ${MAX_TAG_VALUE_LENGTH} characters of ${TAG_TEXT.source}`;
    }
  }
  return undefined;
}

const usageEventSchema = z.strictObject(
  {
    subscriberId: z
      .string({ error: 'subscriberId must be a string' })
      .max(MAX_SUBSCRIBER_ID_LENGTH, {
        error: `subscriberId must be at most ${MAX_SUBSCRIBER_ID_LENGTH} characters`,
      })
      .regex(SUBSCRIBER_ID_PATTERN, {
        error: 'subscriberId must be license:<LicenseArn> or legacy:<ProductCode>:<CustomerIdentifier>',
      }),
    dimension: z
      .string({ error: 'dimension must be a string' })
      .min(1, { error: 'dimension must not be empty' })
      .max(MAX_DIMENSION_LENGTH, { error: `dimension must be at most ${MAX_DIMENSION_LENGTH} characters` }),
    quantity: z
      .number({ error: `quantity must be a whole number from 1 to ${MAX_QUANTITY}` })
      .int({ error: `quantity must be a whole number from 1 to ${MAX_QUANTITY}` })
      .min(1, { error: `quantity must be a whole number from 1 to ${MAX_QUANTITY}` })
      .max(MAX_QUANTITY, { error: `quantity must be a whole number from 1 to ${MAX_QUANTITY}` }),
    timestamp: z.union(
      [
        z.date(),
        // RFC 3339 lets the T and Z be lower case too.
        z
          .string()
          .transform((text) => text.toUpperCase())
          .pipe(z.iso.datetime({ offset: true }))
          .transform((text) => new Date(text)),
      ],
      { error: 'timestamp must be an RFC 3339 date-time with seconds and a time zone, like 2026-11-26T10:15:00Z' },
    ),
    eventId: z
      .string({ error: 'eventId must be a string' })
      .regex(EVENT_ID, { error: 'eventId must be 1 to 128 printable ASCII characters' })
      .optional(),
    tags: tagsSchema.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? 'an event has only subscriberId, dimension, quantity, timestamp, eventId and tags'
        : 'an event must be an object',
  },
);

/** Which rejection a field's problem is; any other problem makes the event malformed. */
const reasonOfField: Readonly<Record<string, UsageRejectionReason>> = { quantity: 'bad-quantity', tags: 'bad-tags' };

/** The event, or why it is not a well-formed one: `bad-event` before `bad-quantity` before `bad-tags`. */
export function parseUsageEvent(
  input: unknown,
):
  | { readonly outcome: 'parsed'; readonly event: UsageEvent }
  | { readonly outcome: 'rejected'; readonly result: UsageRejection } {
  const parsed = usageEventSchema.safeParse(input);
  if (!parsed.success) {
    const reasons = parsed.error.issues.map((issue) => reasonOfField[String(issue.path[0])] ?? 'bad-event');
    const order: readonly UsageRejectionReason[] = ['bad-event', 'bad-quantity', 'bad-tags'];
    const reason = order.find((candidate) => reasons.includes(candidate)) ?? 'bad-event';
    const message = [...new Set(parsed.error.issues.map((issue) => issue.message))].join('; ');
    return { outcome: 'rejected', result: rejection(reason, message) };
  }
  const { subscriberId, dimension, quantity, timestamp, eventId, tags } = parsed.data;
  return {
    outcome: 'parsed',
    event: {
      subscriberId,
      dimension,
      quantity,
      at: timestamp,
      hour: hourOf(timestamp),
      ...(eventId === undefined ? {} : { eventId }),
      ...(tags === undefined ? {} : { tags }),
    },
  };
}

/**
 * Why usage at `at` cannot be taken at `now`: more than {@link FUTURE_TOLERANCE_MS} ahead, or (`too-old`) its hour's
 * acceptance deadline comes less than {@link METERING_LEAD_HOURS} after the start of the current hour, so that the run
 * would send it out of bounds, and Marketplace rejects a whole batch for one such record. Taking it into a later hour
 * instead would bill it as usage of an hour it did not happen in.
 */
export function timingRejection(at: Date, now: Date, acceptanceWindowHours: number): UsageRejection | undefined {
  if (at.getTime() - now.getTime() > FUTURE_TOLERANCE_MS) {
    return rejection('in-the-future', `${at.toISOString()} is more than 5 minutes ahead of ${now.toISOString()}`);
  }
  const deadline = acceptanceDeadline(hourOf(at), acceptanceWindowHours);
  if (deadline.getTime() < hourOf(now).getTime() + METERING_LEAD_HOURS * HOUR_MS) {
    return rejection(
      'too-old',
      `usage of the hour ${hourOf(at).toISOString()} can be metered only until ${deadline.toISOString()}, too soon ` +
        'for the next metering run',
    );
  }
  return undefined;
}

export function rejection(reason: UsageRejectionReason, message: string, billableUntil?: Date): UsageRejection {
  return { status: 'rejected', reason, message, ...(billableUntil && { billableUntil: billableUntil.toISOString() }) };
}
