/**
 * The books of the metering chaos suite: what the recorder answered, kept as the seller's app would keep it, and the
 * final check of the Usage table and of what Marketplace billed against those answers, unit for unit.
 *
 * The invariant is "accepted means billable": every unit answered `accepted` is billed exactly once, or expired
 * because Marketplace could not be reached for its whole window (a final window in which no run got through, or an
 * acceptance window the schedule skipped over); none is refused by Marketplace, since the schedule injects no refusal
 * of a valid record. What is billed carries the bucket's own quantity, allocations and record id; nothing is billed
 * that no bucket accounts for, and Marketplace never answers `DuplicateRecord`.
 */
import { eventFingerprint } from '../../lambdas/core/metering/recording/usage-write-plan.ts';
import { bucketItemOf, type BucketItem } from '../../lambdas/core/metering/bucket/bucket-item.ts';
import { canonicalTags, hourOf } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import type { UsageEventResult } from '../../lambdas/core/metering/recording/usage-event.ts';
import type { BilledRecordView } from '../../simulator/control-client.ts';

const MINUTE_MS = 60_000;

/** What happened, for the report: not checked, only counted. */
export interface ChaosStats {
  steps: Record<string, number>;
  runs: number;
  /** Runs cut short by their time budget, handing over to the next. */
  handOvers: number;
  killsFired: number;
  eventsSent: number;
  eventsAccepted: number;
  eventsCarried: number;
  eventsDuplicate: number;
  eventsConflict: number;
  lostAnswersResolved: number;
  recorderRejections: Record<string, number>;
  bucketStates: Record<string, number>;
  settledReasons: Record<string, number>;
  unitsAccepted: number;
  unitsBilled: number;
  unitsRejected: number;
  unitsExpired: number;
  unitsPending: number;
  /** Units answered `accepted` that Marketplace then refused: must stay 0. */
  unitsAcceptedThenRefused: number;
  /**
   * Units of an hour after the subscription's end, accepted while it was still live (usage stamped a few minutes
   * ahead, then a cancellation): nobody could know at acceptance that they would fall after the end.
   */
  unitsAfterALaterEnd: number;
  /** Units expired because a final window passed with no run getting through. */
  unitsExpiredFinalWindow: number;
  /** Buckets settled `expired` or `rejected` that Marketplace had billed from a send whose answer was lost. */
  settledAfterUnconfirmedSend: number;
  finalWindowsGuaranteed: number;
  faults: { throttled: number; internalErrors: number; dropped: number; delayed: number; unprocessedRecords: number };
  drainRuns: number;
  /** DynamoDB calls made to fail by `FlakyTable`. */
  tableFailures: number;
  /** Runs that gave up because a DynamoDB call failed. */
  runsFailedOnTable: number;
  loggedErrors: Record<string, number>;
}

export function emptyStats(): ChaosStats {
  return {
    steps: {},
    runs: 0,
    handOvers: 0,
    killsFired: 0,
    eventsSent: 0,
    eventsAccepted: 0,
    eventsCarried: 0,
    eventsDuplicate: 0,
    eventsConflict: 0,
    lostAnswersResolved: 0,
    recorderRejections: {},
    bucketStates: {},
    settledReasons: {},
    unitsAccepted: 0,
    unitsBilled: 0,
    unitsRejected: 0,
    unitsExpired: 0,
    unitsPending: 0,
    unitsAcceptedThenRefused: 0,
    unitsAfterALaterEnd: 0,
    unitsExpiredFinalWindow: 0,
    settledAfterUnconfirmedSend: 0,
    finalWindowsGuaranteed: 0,
    faults: { throttled: 0, internalErrors: 0, dropped: 0, delayed: 0, unprocessedRecords: 0 },
    drainRuns: 0,
    tableFailures: 0,
    runsFailedOnTable: 0,
    loggedErrors: {},
  };
}

export const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/** One key per customer, dimension and hour, for buckets, sent records and billed records alike. */
export function recordId(subscriberId: string, dimension: string, hour: string | Date): string {
  return JSON.stringify([subscriberId, dimension, hourOf(new Date(hour)).toISOString()]);
}

/** A usage event as the chaos world sends it. */
export interface SentEvent {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly quantity: number;
  readonly timestamp: string;
  readonly eventId?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** The recorder's fingerprint of a sent event: two events with one id are one event exactly when these are equal. */
function fingerprintOf(event: SentEvent): string {
  const at = new Date(event.timestamp);
  return eventFingerprint({
    subscriberId: event.subscriberId,
    dimension: event.dimension,
    quantity: event.quantity,
    at,
    hour: hourOf(at),
    ...(event.tags === undefined ? {} : { tags: canonicalTags(event.tags) }),
  });
}

/** A tag set in one spelling, whatever the order of its tags. */
export function tagSetOf(tags: readonly { readonly key: string; readonly value: string }[]): string {
  return JSON.stringify(tags.map(({ key, value }) => [key, value]).sort());
}

/** What the seller's app learned from the recorder's answers. */
export class RecorderBooks {
  /** Units answered `accepted`, by the bucket (customer, dimension, hour) the answer named. */
  readonly expected = new Map<string, number>();
  /** Of those, the tagged units, by bucket and tag set. */
  readonly expectedTagged = new Map<string, Map<string, number>>();
  /** Event ids counted, with the fingerprint of the event each was counted for. */
  readonly counted = new Map<string, string>();
  /** Event ids a call whose answer was lost may have counted, with the events of that call that carried them. */
  private readonly countedByLostCalls = new Map<string, SentEvent[]>();

  constructor(
    private readonly stats: ChaosStats,
    private readonly violations: string[],
    private readonly acceptanceWindowHours: number,
  ) {}

  private accept(event: SentEvent, hour: string): void {
    const id = recordId(event.subscriberId, event.dimension, hour);
    this.expected.set(id, (this.expected.get(id) ?? 0) + event.quantity);
    this.stats.unitsAccepted += event.quantity;
    if (event.tags === undefined) return;
    const tagged = this.expectedTagged.get(id) ?? new Map<string, number>();
    const tagSet = tagSetOf(Object.entries(event.tags).map(([key, value]) => ({ key, value })));
    tagged.set(tagSet, (tagged.get(tagSet) ?? 0) + event.quantity);
    this.expectedTagged.set(id, tagged);
  }

  /**
   * Books the answers to one call made at `at`. `lost`: an earlier attempt of the same call died without its answer,
   * so an id answered `duplicate` or `conflict` that the books never saw counted was counted by that attempt.
   */
  answered(events: readonly SentEvent[], results: readonly UsageEventResult[], at: Date, lost: boolean): void {
    results.forEach((result, index) => {
      const event = events[index]!;
      switch (result.status) {
        case 'accepted':
          this.accepted(event, result, at);
          return;
        case 'duplicate':
        case 'conflict':
          this.answeredCounted(event, result.status, events, lost);
          return;
        case 'rejected':
          bump(this.stats.recorderRejections, result.reason);
          return;
      }
    });
  }

  private accepted(event: SentEvent, result: Extract<UsageEventResult, { status: 'accepted' }>, at: Date): void {
    this.stats.eventsAccepted++;
    const described = JSON.stringify(event);
    if (event.eventId !== undefined) {
      if (this.counted.has(event.eventId)) this.violations.push(`event id ${event.eventId} accepted twice`);
      this.counted.set(event.eventId, fingerprintOf(event));
    }
    const happened = Date.parse(event.timestamp);
    const ownHour = hourOf(new Date(happened)).toISOString();
    if (result.carriedFrom !== undefined) {
      this.stats.eventsCarried++;
      if (result.carriedFrom !== ownHour || !(Date.parse(result.hour) > happened)) {
        this.violations.push(`event ${described} carried from ${result.carriedFrom} to ${result.hour}`);
      }
    } else if (result.hour !== ownHour) {
      this.violations.push(`event ${described} accepted into ${result.hour}, not its own hour`);
    }
    if (happened - at.getTime() > 5 * MINUTE_MS) {
      this.violations.push(`event ${described} more than 5 minutes ahead of ${at.toISOString()} accepted`);
    }
    if (Date.parse(result.hour) + this.acceptanceWindowHours * 3_600_000 <= at.getTime()) {
      this.violations.push(`event ${described} accepted into ${result.hour}, already out of the window`);
    }
    this.accept(event, result.hour);
  }

  private answeredCounted(
    event: SentEvent,
    status: 'duplicate' | 'conflict',
    call: readonly SentEvent[],
    lost: boolean,
  ): void {
    if (status === 'duplicate') this.stats.eventsDuplicate++;
    else this.stats.eventsConflict++;
    const described = JSON.stringify(event);
    if (event.eventId === undefined) {
      this.violations.push(`event without an id answered ${status}: ${described}`);
      return;
    }
    const counted = this.counted.get(event.eventId);
    if (counted === undefined) {
      // Counted by a call whose answer was lost: which of its events it was, its event key tells at the end.
      if (this.countedByLostCalls.has(event.eventId)) return;
      if (lost)
        this.countedByLostCalls.set(
          event.eventId,
          call.filter((other) => other.eventId === event.eventId),
        );
      else this.violations.push(`event ${described} answered ${status} but its id was never counted`);
      return;
    }
    const same = counted === fingerprintOf(event);
    if (status === 'duplicate' && !same) {
      this.violations.push(`event ${described} answered duplicate, but its id was counted for another event`);
    }
    if (status === 'conflict' && same) {
      this.violations.push(`event ${described} answered conflict, but its id was counted for this very event`);
    }
  }

  /**
   * Settles what calls with lost answers counted, from their event keys (which name the event by its fingerprint and
   * the hour it went into), and checks that the keys and the ids counted are the same set.
   */
  settleLostCalls(eventKeys: readonly Record<string, unknown>[]): void {
    const keys = new Map(eventKeys.map((key) => [String(key.eventId), key]));
    for (const [eventId, candidates] of this.countedByLostCalls) {
      if (this.counted.has(eventId)) continue;
      const key = keys.get(eventId);
      if (key === undefined) {
        this.violations.push(`event id ${eventId} answered as counted after a lost call, but has no event key`);
        continue;
      }
      const sent = candidates.find((candidate) => fingerprintOf(candidate) === key.fingerprint);
      if (sent === undefined) {
        this.violations.push(`event key ${JSON.stringify(key)} matches no event sent: ${JSON.stringify(candidates)}`);
        continue;
      }
      this.stats.lostAnswersResolved++;
      this.counted.set(eventId, fingerprintOf(sent));
      this.accept(sent, String(key.hour));
    }
    for (const eventId of keys.keys()) {
      if (!this.counted.has(eventId)) this.violations.push(`event key ${eventId} for an event never counted`);
    }
    for (const eventId of this.counted.keys()) {
      if (!keys.has(eventId)) this.violations.push(`event id ${eventId} counted but has no event key`);
    }
  }
}

/** What the books are checked against. */
export interface Ledgers {
  /** Every item of the Usage table. */
  readonly items: readonly Record<string, unknown>[];
  /** What Marketplace billed, each under the subscriber id it bills. */
  readonly billed: readonly (BilledRecordView & { readonly subscriberId: string })[];
  /** Records a run sent without learning the answer (a dropped connection, a killed process). */
  readonly unconfirmed: ReadonlySet<string>;
  /** Subscribers whose final window had a run that nothing disturbed: nothing of theirs may expire in it. */
  readonly reachableInFinalWindow: ReadonlySet<string>;
  /** When each subscriber that ended ended. */
  readonly ends: ReadonlyMap<string, Date>;
}

/** Checks the Usage table and Marketplace's records against the books; adds to `violations` and `stats`. */
export function checkBooks(books: RecorderBooks, ledgers: Ledgers, stats: ChaosStats, violations: string[]): void {
  const buckets: { bucket: BucketItem; item: Record<string, unknown> }[] = [];
  for (const item of ledgers.items) {
    if (String(item.pk).startsWith('EVENT#')) continue;
    const bucket = bucketItemOf(item);
    if (bucket === undefined) violations.push(`malformed item in the Usage table: ${JSON.stringify(item)}`);
    else buckets.push({ bucket, item });
  }
  const billedById = new Map<string, Ledgers['billed'][number]>();
  for (const record of ledgers.billed) {
    const id = recordId(record.subscriberId, record.dimension, record.hour);
    if (billedById.has(id)) violations.push(`Marketplace billed ${id} twice`);
    billedById.set(id, record);
    const stamped = Date.parse(record.timestamp);
    if (hourOf(new Date(stamped)).toISOString() !== record.hour) {
      violations.push(`billed record ${id} has timestamp ${record.timestamp}, outside its hour`);
    }
    stats.unitsBilled += record.quantity;
  }

  const seen = new Set<string>();
  for (const { bucket, item } of buckets) {
    const id = recordId(bucket.subscriberId, bucket.dimension, bucket.hour);
    seen.add(id);
    bump(stats.bucketStates, bucket.state);
    const accepted = books.expected.get(id) ?? 0;
    if (bucket.quantity !== accepted) {
      violations.push(
        `bucket ${id} (${bucket.state}) holds ${bucket.quantity}; the recorder accepted ${accepted} for it`,
      );
    }
    const billed = billedById.get(id);
    if (billed !== undefined) checkBilledRecord(books, id, bucket, billed, violations);
    checkSettlement({ id, bucket, item, billed, ledgers, stats, violations });
  }
  for (const [id, quantity] of books.expected) {
    if (!seen.has(id) && quantity > 0)
      violations.push(`the recorder accepted ${quantity} for ${id}, which has no bucket`);
  }
  for (const id of billedById.keys()) {
    if (!seen.has(id)) violations.push(`Marketplace billed ${id}, which no bucket accounts for`);
  }
  const unsettled = buckets.filter(({ bucket }) => bucket.state === 'open' || bucket.state === 'frozen');
  if (unsettled.length > 0) {
    violations.push(
      `still pending after the drain: ${unsettled
        .map(({ bucket }) => `${bucket.subscriberId} ${bucket.dimension} ${bucket.hour.toISOString()} ${bucket.state}`)
        .join('; ')}`,
    );
  }
  const accounted = stats.unitsBilled + stats.unitsRejected + stats.unitsExpired + stats.unitsPending;
  if (accounted !== stats.unitsAccepted) {
    violations.push(
      `accepted ${stats.unitsAccepted} units, but billed ${stats.unitsBilled} + rejected ${stats.unitsRejected} + ` +
        `expired ${stats.unitsExpired} + pending ${stats.unitsPending} = ${accounted}`,
    );
  }
}

/** The billed record carries the bucket's quantity, and each tag set's units as accepted (the untagged rest apart). */
function checkBilledRecord(
  books: RecorderBooks,
  id: string,
  bucket: BucketItem,
  billed: BilledRecordView,
  violations: string[],
): void {
  if (billed.quantity !== bucket.quantity) {
    violations.push(`bucket ${id} holds ${bucket.quantity}; Marketplace billed ${billed.quantity} for its hour`);
  }
  const tagged = books.expectedTagged.get(id) ?? new Map<string, number>();
  const untagged = bucket.quantity - [...tagged.values()].reduce((sum, units) => sum + units, 0);
  const want = new Map<string, number>([...tagged, ['[]', untagged] as const].filter(([, units]) => units !== 0));
  const got = new Map<string, number>(
    billed.allocations
      .filter((allocation) => allocation.quantity !== 0)
      .map((allocation) => [tagSetOf(allocation.tags), allocation.quantity]),
  );
  const text = (allocations: Map<string, number>) => JSON.stringify([...allocations].sort());
  if (text(want) !== text(got)) {
    violations.push(`bucket ${id} was billed with allocations ${text(got)}; the accepted events make ${text(want)}`);
  }
}

/** Where the bucket's units ended, and whether that is allowed. */
function checkSettlement(check: {
  readonly id: string;
  readonly bucket: BucketItem;
  readonly item: Record<string, unknown>;
  readonly billed: BilledRecordView | undefined;
  readonly ledgers: Ledgers;
  readonly stats: ChaosStats;
  readonly violations: string[];
}): void {
  const { id, bucket, item, billed, ledgers, stats, violations } = check;
  switch (bucket.state) {
    case 'billed':
      if (billed === undefined)
        violations.push(`bucket ${id} is settled billed, but Marketplace billed nothing for it`);
      else if (item.meteringRecordId !== billed.meteringRecordId) {
        violations.push(
          `bucket ${id} has record id ${String(item.meteringRecordId)}, Marketplace billed ${billed.meteringRecordId}`,
        );
      }
      return;
    case 'rejected':
    case 'expired':
      bump(stats.settledReasons, `${bucket.state}:${bucket.reason ?? '(none)'}`);
      if (bucket.reason === undefined) violations.push(`bucket ${id} is ${bucket.state} without a reason`);
      if (billed !== undefined) {
        // The run cannot learn the answer of a send it lost once Marketplace takes no more: the bucket must say so,
        // durably, for the report and its alarm. The units are billed (once), which is what the books count.
        stats.settledAfterUnconfirmedSend++;
        if (!ledgers.unconfirmed.has(id) || item.unconfirmedSend !== true) {
          violations.push(
            `bucket ${id} is settled ${bucket.state} (${bucket.reason ?? ''}) but Marketplace billed it` +
              (ledgers.unconfirmed.has(id) ? ', and the bucket is not marked unconfirmedSend' : ''),
          );
        }
        return;
      }
      if (bucket.state === 'rejected') {
        stats.unitsRejected += bucket.quantity;
        const end = ledgers.ends.get(bucket.subscriberId);
        if (bucket.reason === 'after-subscription-end' && end !== undefined && bucket.hour > end) {
          stats.unitsAfterALaterEnd += bucket.quantity;
        } else if (bucket.quantity > 0) {
          stats.unitsAcceptedThenRefused += bucket.quantity;
          violations.push(`bucket ${id}: ${bucket.quantity} units accepted, then refused (${bucket.reason ?? ''})`);
        }
        return;
      }
      stats.unitsExpired += bucket.quantity;
      if (bucket.reason === 'final-window-passed') {
        stats.unitsExpiredFinalWindow += bucket.quantity;
        if (bucket.quantity > 0 && ledgers.reachableInFinalWindow.has(bucket.subscriberId)) {
          violations.push(
            `bucket ${id}: ${bucket.quantity} units expired unbilled although a run reached Marketplace in its final window`,
          );
        }
      }
      return;
    case 'open':
    case 'frozen':
      if (billed !== undefined) violations.push(`bucket ${id} is still ${bucket.state}, but Marketplace billed it`);
      else stats.unitsPending += bucket.quantity;
      return;
  }
}
