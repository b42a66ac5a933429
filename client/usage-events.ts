/**
 * The events of the usage client: what the app records, and the aggregated events it sends to `POST /usage` in their
 * place, one per subscriber, dimension, hour and tag set, each carrying the app events summed into it.
 */
import { InvalidUsageEventError } from './errors.ts';

/** Usage as the app records it: this many units of a dimension, for a subscriber, at a time. */
export interface UsageEvent {
  /** `license:<LicenseArn>` or `legacy:<ProductCode>:<CustomerIdentifier>`, as the seller events name the buyer. */
  readonly subscriberId: string;
  /** A metered dimension of the subscriber's product. */
  readonly dimension: string;
  /** Whole units, 1 to 2,147,483,647. */
  readonly quantity: number;
  /** When the usage happened; the client's clock when left out. */
  readonly timestamp?: Date;
  /** The cost allocation the units belong to: 1-5 tags (Marketplace's rules for keys and values). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** An app event as the client keeps it: a copy, its time filled in. */
export interface RecordedUsageEvent extends UsageEvent {
  readonly timestamp: Date;
}

/** One event of a call: the app events of one subscriber, dimension, hour and tag set, summed. */
export interface AggregatedUsageEvent {
  /** Stable from the first attempt on: every call that carries this event carries it with this id and these contents. */
  readonly eventId: string;
  readonly subscriberId: string;
  readonly dimension: string;
  /** The sum of the app events' quantities. */
  readonly quantity: number;
  /** The latest time among the app events: inside their hour, as ISO 8601. */
  readonly timestamp: string;
  /** The start of the UTC hour of the app events, as ISO 8601. */
  readonly hour: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** The app events summed into this one. */
  readonly appEvents: readonly RecordedUsageEvent[];
}

/** Marketplace's largest quantity, for one event and for an hour's total. */
export const MAX_QUANTITY = 2_147_483_647;

/** The API's most events in one call. */
export const MAX_EVENTS_PER_CALL = 50;

/** The API's largest body (512 KiB): a call is cut short of it, whatever its events hold. */
export const MAX_CALL_BYTES = 512 * 1024;

/**
 * The API's longest subscriber id, dimension, tag key and tag value, and its most tags: beyond them no sum could be
 * billed, and its size could take the whole call past {@link MAX_CALL_BYTES}, the other sums of the call with it.
 */
export const MAX_SUBSCRIBER_ID_LENGTH = 1600;
export const MAX_DIMENSION_LENGTH = 255;
export const MAX_TAGS = 5;
export const MAX_TAG_KEY_LENGTH = 100;
export const MAX_TAG_VALUE_LENGTH = 256;

const HOUR_MS = 3_600_000;

/** What a usage event may hold: anything else is a mistake of its caller (an `eventId` would be dropped unseen). */
const EVENT_FIELDS: readonly string[] = [
  'subscriberId',
  'dimension',
  'quantity',
  'timestamp',
  'tags',
] satisfies readonly (keyof UsageEvent)[];

/** How far ahead of its clock the API takes usage. */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** A copy of `event` that later changes to the app's object cannot reach, its time filled in with `now`. */
export function recordedEvent(event: UsageEvent, now: Date): RecordedUsageEvent {
  const problem = eventProblem(event) ?? unknownFieldProblem(event) ?? timeProblem(event, now);
  if (problem !== undefined) throw new InvalidUsageEventError(problem);
  return {
    subscriberId: event.subscriberId,
    dimension: event.dimension,
    quantity: event.quantity,
    timestamp: new Date(event.timestamp ?? now),
    ...(event.tags === undefined ? {} : { tags: { ...event.tags } }),
  };
}

/**
 * What makes the event impossible to sum, or too large to send beside others: the API checks everything else
 * (subscriber, dimension, the characters of tags, time) and answers each aggregated event on its own, so those
 * problems reach the `onRefused` callback instead.
 */
function eventProblem(event: UsageEvent): string | undefined {
  if (event === null || typeof event !== 'object') return 'an event must be an object';
  if (
    typeof event.subscriberId !== 'string' ||
    event.subscriberId === '' ||
    event.subscriberId.length > MAX_SUBSCRIBER_ID_LENGTH
  ) {
    return `subscriberId must be a string of 1 to ${MAX_SUBSCRIBER_ID_LENGTH} characters`;
  }
  if (typeof event.dimension !== 'string' || event.dimension === '' || event.dimension.length > MAX_DIMENSION_LENGTH) {
    return `dimension must be a string of 1 to ${MAX_DIMENSION_LENGTH} characters`;
  }
  if (!Number.isInteger(event.quantity) || event.quantity < 1 || event.quantity > MAX_QUANTITY) {
    return `quantity must be a whole number from 1 to ${MAX_QUANTITY}, not ${asGiven(event.quantity)}`;
  }
  if (
    event.timestamp !== undefined &&
    !(event.timestamp instanceof Date && Number.isFinite(event.timestamp.getTime()))
  ) {
    return 'timestamp must be a valid Date';
  }
  if (event.tags !== undefined) {
    const tags: unknown = event.tags;
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return 'tags must be an object';
    const entries = Object.entries(tags);
    if (entries.length < 1 || entries.length > MAX_TAGS) {
      return `tags must hold 1 to ${MAX_TAGS} tags (leave tags out for untagged usage)`;
    }
    for (const [key, value] of entries) {
      if (key === '' || key.length > MAX_TAG_KEY_LENGTH) {
        return `every tag key must be 1 to ${MAX_TAG_KEY_LENGTH} characters`;
      }
      if (typeof value !== 'string' || value === '' || value.length > MAX_TAG_VALUE_LENGTH) {
        return `every tag value must be a string of 1 to ${MAX_TAG_VALUE_LENGTH} characters`;
      }
    }
  }
  return undefined;
}

/** A field the caller added that a usage event does not have: it would be dropped without a word. */
function unknownFieldProblem(event: UsageEvent): string | undefined {
  const unknownField = Object.keys(event).find((name) => !EVENT_FIELDS.includes(name));
  if (unknownField === 'eventId') {
    return 'eventId is not a field of a usage event: the client sums events and gives each sum its own id';
  }
  return unknownField === undefined
    ? undefined
    : `${unknownField} is not a field of a usage event; the fields are ${EVENT_FIELDS.join(', ')}`;
}

/**
 * Usage stamped further ahead than the API takes (5 minutes, for clock skew) is refused here, not summed: the API
 * judges a sum by its latest time, so it would refuse the usage summed with it too.
 */
function timeProblem(event: UsageEvent, now: Date): string | undefined {
  if (event.timestamp === undefined || event.timestamp.getTime() - now.getTime() <= FUTURE_TOLERANCE_MS) {
    return undefined;
  }
  return `timestamp ${event.timestamp.toISOString()} is more than 5 minutes ahead of the client's clock (${now.toISOString()})`;
}

/** App events being summed into one aggregated event. */
interface Aggregate {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly hourMs: number;
  readonly tags: Readonly<Record<string, string>> | undefined;
  quantity: number;
  latestMs: number;
  readonly appEvents: RecordedUsageEvent[];
}

/**
 * Sums app events per subscriber, dimension, UTC hour and tag set until they are sealed into aggregated events. An
 * aggregate that one more event would take past {@link MAX_QUANTITY} is closed and a new one opened beside it.
 */
export class UsageAggregator {
  private readonly open = new Map<string, Aggregate>();
  private readonly full: Aggregate[] = [];
  private recorded = 0;

  /** App events added since the last seal. */
  get size(): number {
    return this.recorded;
  }

  add(event: RecordedUsageEvent): void {
    const at = event.timestamp.getTime();
    const hourMs = Math.floor(at / HOUR_MS) * HOUR_MS;
    const tags = event.tags === undefined ? undefined : sortedTags(event.tags);
    const key = JSON.stringify([event.subscriberId, event.dimension, hourMs, tags ?? null]);
    let aggregate = this.open.get(key);
    if (aggregate !== undefined && aggregate.quantity + event.quantity > MAX_QUANTITY) {
      this.full.push(aggregate);
      aggregate = undefined;
    }
    if (aggregate === undefined) {
      aggregate = {
        subscriberId: event.subscriberId,
        dimension: event.dimension,
        hourMs,
        tags,
        quantity: 0,
        latestMs: at,
        appEvents: [],
      };
      this.open.set(key, aggregate);
    }
    aggregate.quantity += event.quantity;
    aggregate.latestMs = Math.max(aggregate.latestMs, at);
    aggregate.appEvents.push(event);
    this.recorded++;
  }

  /** Takes every aggregate out as an aggregated event, the `index`-th named by `eventIdOf(index)`. */
  seal(eventIdOf: (index: number) => string): AggregatedUsageEvent[] {
    const aggregates = [...this.full, ...this.open.values()];
    this.full.length = 0;
    this.open.clear();
    this.recorded = 0;
    return aggregates.map((aggregate, index) => ({
      eventId: eventIdOf(index),
      subscriberId: aggregate.subscriberId,
      dimension: aggregate.dimension,
      quantity: aggregate.quantity,
      timestamp: new Date(aggregate.latestMs).toISOString(),
      hour: new Date(aggregate.hourMs).toISOString(),
      ...(aggregate.tags === undefined ? {} : { tags: aggregate.tags }),
      appEvents: aggregate.appEvents,
    }));
  }
}

/** One spelling per tag set, so that `{a, b}` and `{b, a}` are summed together. */
function sortedTags(tags: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The longest event id the API takes. */
const MAX_EVENT_ID_LENGTH = 128;

/**
 * A sum the API refused as after the subscription's end, split at the last instant it bills (`billableUntil`): the
 * app events up to it, summed again under an id of their own (the refused id was answered for good), and the rest,
 * refused. `undefined` when there is nothing to split off (every app event on one side, or `billableUntil` not a
 * date), or no room for the new id.
 */
export function splitAtEnd(
  event: AggregatedUsageEvent,
  billableUntil: Date,
): { readonly billable: AggregatedUsageEvent; readonly refused: AggregatedUsageEvent } | undefined {
  const until = billableUntil.getTime();
  const before = event.appEvents.filter((appEvent) => appEvent.timestamp.getTime() <= until);
  const after = event.appEvents.filter((appEvent) => appEvent.timestamp.getTime() > until);
  const eventId = `${event.eventId}-billable`;
  if (before.length === 0 || after.length === 0 || eventId.length > MAX_EVENT_ID_LENGTH) return undefined;
  return { billable: summedAgain(event, before, eventId), refused: summedAgain(event, after, event.eventId) };
}

/** Some of `event`'s app events, summed as the aggregator sums them, under `eventId`. */
function summedAgain(
  event: AggregatedUsageEvent,
  appEvents: readonly RecordedUsageEvent[],
  eventId: string,
): AggregatedUsageEvent {
  const latestMs = appEvents.reduce((latest, appEvent) => Math.max(latest, appEvent.timestamp.getTime()), -Infinity);
  return {
    eventId,
    subscriberId: event.subscriberId,
    dimension: event.dimension,
    quantity: appEvents.reduce((sum, appEvent) => sum + appEvent.quantity, 0),
    timestamp: new Date(latestMs).toISOString(),
    hour: event.hour,
    ...(event.tags === undefined ? {} : { tags: event.tags }),
    appEvents,
  };
}

/** The event as the API takes it. */
export function wireEvent(event: AggregatedUsageEvent): Record<string, unknown> {
  return {
    eventId: event.eventId,
    subscriberId: event.subscriberId,
    dimension: event.dimension,
    quantity: event.quantity,
    timestamp: event.timestamp,
    ...(event.tags === undefined ? {} : { tags: event.tags }),
  };
}

/**
 * A copy of an aggregated event handed back to be sent again (`resend()`), checked: it must go out exactly as it was
 * first sent, so anything missing or malformed is refused rather than mended. Takes it as `JSON.parse` gives it back
 * too (its app events' times as strings).
 */
export function handedBackEvent(event: AggregatedUsageEvent): AggregatedUsageEvent {
  // Typed as it may come back from a store: anything.
  const given = event as Partial<Record<keyof AggregatedUsageEvent, unknown>> | null;
  const problem =
    typeof given !== 'object' || given === null
      ? `an event must be an object, not ${asGiven(given)}`
      : typeof given.eventId !== 'string' || !/^[ -~]{1,128}$/.test(given.eventId)
        ? 'eventId must be 1 to 128 printable ASCII characters, as the API takes it'
        : typeof given.timestamp !== 'string' || Number.isNaN(Date.parse(given.timestamp))
          ? 'timestamp must be the ISO 8601 time it was sent with'
          : typeof given.hour !== 'string' || Number.isNaN(Date.parse(given.hour))
            ? 'hour must be an ISO 8601 time'
            : !Array.isArray(given.appEvents) || given.appEvents.length === 0
              ? 'appEvents must be the app events summed into it'
              : (eventProblem({ ...event, timestamp: undefined }) ??
                appEventsProblem(given.appEvents) ??
                sumProblem(event));
  if (problem !== undefined) {
    throw new InvalidUsageEventError(`a handed-back event cannot be sent again: ${problem}`);
  }
  return {
    ...event,
    ...(event.tags === undefined ? {} : { tags: { ...event.tags } }),
    appEvents: event.appEvents.map((appEvent) => ({ ...appEvent, timestamp: new Date(appEvent.timestamp) })),
  };
}

function appEventsProblem(appEvents: readonly unknown[]): string | undefined {
  for (const appEvent of appEvents) {
    if (typeof appEvent !== 'object' || appEvent === null) return 'every app event must be an object';
    const { timestamp } = appEvent as { timestamp?: unknown };
    const time = timestamp instanceof Date || typeof timestamp === 'string' ? new Date(timestamp) : undefined;
    if (time === undefined || Number.isNaN(time.getTime())) return 'every app event must have its timestamp';
    const problem = eventProblem({ ...(appEvent as UsageEvent), timestamp: time });
    if (problem !== undefined) return `an app event: ${problem}`;
  }
  return undefined;
}

/**
 * An event whose app events do not make it (another subscriber, dimension, hour or tag set, or a sum other than its
 * quantity) was changed after it was handed back: sent as it stands, it would bill what the app never recorded and
 * report the app events delivered.
 */
function sumProblem(event: AggregatedUsageEvent): string | undefined {
  const tagsOf = (tags: Readonly<Record<string, string>> | undefined): string =>
    JSON.stringify(tags === undefined ? null : sortedTags(tags));
  let quantity = 0;
  let latestMs = -Infinity;
  for (const appEvent of event.appEvents) {
    if (appEvent.subscriberId !== event.subscriberId || appEvent.dimension !== event.dimension) {
      return 'its app events must be of its subscriberId and dimension';
    }
    if (tagsOf(appEvent.tags) !== tagsOf(event.tags)) return 'its app events must have its tags';
    quantity += appEvent.quantity;
    latestMs = Math.max(latestMs, new Date(appEvent.timestamp).getTime());
  }
  if (quantity !== event.quantity) {
    return `quantity must be the sum of its app events' quantities (${quantity}), not ${event.quantity}`;
  }
  if (Date.parse(event.timestamp) !== latestMs) return 'timestamp must be the latest of its app events';
  const hourMs = Math.floor(latestMs / HOUR_MS) * HOUR_MS;
  if (Date.parse(event.hour) !== hourMs) return 'hour must be the start of the UTC hour of its app events';
  const outsideItsHour = event.appEvents.some(
    (appEvent) => Math.floor(new Date(appEvent.timestamp).getTime() / HOUR_MS) * HOUR_MS !== hourMs,
  );
  return outsideItsHour ? 'its app events must all be in its hour' : undefined;
}

/**
 * How many of `events`, from the first, go in the next call: at most {@link MAX_EVENTS_PER_CALL}, and no more than fit
 * in {@link MAX_CALL_BYTES} (always one: an event within the limits above is a few tens of KiB at most).
 */
export function nextCallLength(events: readonly AggregatedUsageEvent[]): number {
  const encoder = new TextEncoder();
  // `{"events":[` and `]}`, then each event and the comma before it.
  let bytes = 13;
  let count = 0;
  for (const event of events.slice(0, MAX_EVENTS_PER_CALL)) {
    bytes += encoder.encode(JSON.stringify(wireEvent(event))).length + (count === 0 ? 0 : 1);
    if (count > 0 && bytes > MAX_CALL_BYTES) break;
    count++;
  }
  return count;
}

/** How many app events `events` carry. */
export function appEventCount(events: readonly AggregatedUsageEvent[]): number {
  return events.reduce((sum, event) => sum + event.appEvents.length, 0);
}

/** A value as its caller wrote it, for a message: a string or a bigint given for a number says it is one. */
export function asGiven(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}
