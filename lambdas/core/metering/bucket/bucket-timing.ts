/**
 * When a usage bucket is sent, as the subscription's life decides it. Marketplace bills a license only for usage inside
 * its activation period, and after an end request (`License Deprovisioned`, `unsubscribe-pending`) takes final records
 * for about an hour, then none. So:
 *
 * - a live subscriber's hour is sent once it has closed (past the grace for late usage);
 * - an ending subscriber's hours before its final one are sent at once, and its final (partial) hour, the one the end
 *   falls in, a margin before the final-metering deadline: late usage of that hour (and of earlier ones, carried into
 *   it) has until then to arrive, and the retries of a failed send have the margin to fit in;
 * - an hour that starts after the end can never be billed, and nothing of an ending subscriber can be once its
 *   deadline has passed: such buckets are settled without being sent;
 * - a buyer who subscribed again is billed for the hours of the subscription before as that subscription: at once,
 *   within its own final-metering window, and not after (`supersededSubscription`).
 *
 * @example
 * const timing = bucketTiming(hour, subscriber.lifecycle, now, dueBefore, { graceSeconds: 3600, finalHourMarginMinutes: 15 });
 * if (timing.kind === 'due') await send(bucket);
 */
import {
  billablePeriod,
  finalMeteringDeadline,
  restartOf,
  statusAsOf,
  supersededSubscription,
  type LifecycleFacts,
  type Restart,
  type SupersededSubscription,
} from '../../lifecycle/subscription-state.ts';
import { HOUR_MS, hourOf } from './usage-bucket.ts';

export interface FinalMeteringSettings {
  /** How long after an end request Marketplace takes final records (`lifecycle.finalMeteringGraceMinutes`). */
  readonly graceSeconds: number;
  /** How long before that deadline the final hour is frozen and sent: the time its retries have. */
  readonly finalHourMarginMinutes: number;
}

export type BucketTiming =
  | { readonly kind: 'due' }
  /** An open hour of a live subscriber, or an ending one's final hour before its send time. */
  | { readonly kind: 'not-yet'; readonly sendAt?: Date }
  /** An hour that starts after the subscription ended: Marketplace would refuse its record. */
  | { readonly kind: 'after-end'; readonly end: Date }
  /** The final-metering deadline passed before the bucket was billed: Marketplace takes nothing more. */
  | { readonly kind: 'final-window-passed'; readonly deadline: Date };

/**
 * When an ending subscriber's final hour is frozen and sent: `finalHourMarginMinutes` before its final-metering
 * deadline, or `undefined` when the subscription is not ending.
 */
export function finalHourSendTime(facts: LifecycleFacts, now: Date, settings: FinalMeteringSettings): Date | undefined {
  if (statusAsOf(facts, now, settings.graceSeconds).status !== 'ending') return undefined;
  const deadline = finalMeteringDeadline(facts, settings.graceSeconds);
  return deadline === undefined ? undefined : new Date(deadline.getTime() - settings.finalHourMarginMinutes * 60_000);
}

/** Whether the bucket of `hour` is to be sent now (`dueBefore`: the first hour not yet closed for a live subscriber). */
export function bucketTiming(
  hour: Date,
  facts: LifecycleFacts,
  now: Date,
  dueBefore: Date,
  settings: FinalMeteringSettings,
): BucketTiming {
  const { status } = statusAsOf(facts, now, settings.graceSeconds);
  const { end } = billablePeriod(facts);
  if (end !== undefined && hour > end) return { kind: 'after-end', end };
  const superseded = supersededSubscription(facts, settings.graceSeconds);
  if (superseded !== undefined && isSupersededHour(hour, superseded)) {
    const deadline = supersededDeadlineOf(hour, superseded);
    return now >= deadline ? { kind: 'final-window-passed', deadline } : { kind: 'due' };
  }
  if (status === 'ended' && end !== undefined) {
    return { kind: 'final-window-passed', deadline: finalMeteringDeadline(facts, settings.graceSeconds) ?? end };
  }
  if (status === 'ending' && end !== undefined) {
    if (hour < hourOf(end)) return { kind: 'due' };
    const sendAt = finalHourSendTime(facts, now, settings)!;
    return now >= sendAt ? { kind: 'due' } : { kind: 'not-yet', sendAt };
  }
  return hour < dueBefore ? { kind: 'due' } : { kind: 'not-yet' };
}

/**
 * The `Timestamp` of the bucket's record: the start of its hour, or, for the hour the subscription started in (or
 * started again in, after a gap: `restartOf`), the whole second after the one the start was notified in (Marketplace
 * may refuse a timestamp before a license's activation; notifications give their time to the second, and the SDK sends
 * whole seconds), but never after the end. Either way inside the hour, which is what Marketplace deduplicates by.
 * Fixed when the bucket is frozen, so that every send is the identical record.
 */
export function recordTimestampOf(hour: Date, facts: LifecycleFacts): Date {
  const { start: firstStart, end } = billablePeriod(facts);
  const start = startGoverning(hour, firstStart, restartOf(facts));
  // A start notified at the hour's very first second (EventBridge's `time`) may have come later in that second.
  if (start === undefined || start < hour) return hour;
  const lastSecond = hour.getTime() + HOUR_MS - 1000;
  const afterStart = Math.min(wholeSecond(start) + 1000, lastSecond);
  return new Date(end === undefined ? afterStart : Math.min(afterStart, Math.max(hour.getTime(), wholeSecond(end))));
}

/**
 * Whether usage may go into `hour`'s bucket now: a record of it can be stamped inside the subscription
 * (`isRecordableHour`), and, for an hour of a subscription the buyer has since subscribed again after, that
 * subscription's final records are not yet sent (its send time: `finalHourMarginMinutes` before its deadline).
 * Usage of an hour that may not goes into a later one, of the subscription now.
 */
export function isRecordableHourAt(
  hour: Date,
  facts: LifecycleFacts,
  now: Date,
  settings: FinalMeteringSettings,
): boolean {
  if (!isRecordableHour(hour, facts)) return false;
  const superseded = supersededSubscription(facts, settings.graceSeconds);
  if (superseded === undefined || !isSupersededHour(hour, superseded)) return true;
  return now.getTime() < supersededDeadlineOf(hour, superseded).getTime() - settings.finalHourMarginMinutes * 60_000;
}

/**
 * Until when Marketplace takes a record of a superseded subscription's hour: the first subscription's deadline for its
 * hours, the latest superseded one's for the others (usage it took while it was live).
 */
function supersededDeadlineOf(hour: Date, superseded: SupersededSubscription): Date {
  return hour <= hourOf(superseded.firstEndRequestedAt) ? superseded.firstDeadline : superseded.deadline;
}

/** Whether `hour` is the superseded subscription's: before the first hour the new one has a whole second of. */
function isSupersededHour(hour: Date, superseded: SupersededSubscription): boolean {
  return hour < hourOf(new Date(wholeSecond(superseded.restartedAt) + 1000));
}

/**
 * Whether a record of `hour` can be stamped inside the subscription: from the hour holding the whole second after its
 * start (not the start's own hour when it started in the hour's last second: no second of it is left after the start),
 * and after a restart, not in the hours of the gap (`restartOf`). Usage of an hour that cannot goes into a later one.
 */
export function isRecordableHour(hour: Date, facts: LifecycleFacts): boolean {
  const restart = restartOf(facts);
  if (restart !== undefined && hour > hourOf(restart.endedAt) && hour < hourOf(restart.restartedAt)) return false;
  const start = startGoverning(hour, billablePeriod(facts).start, restart);
  return start !== undefined && hour >= hourOf(new Date(wholeSecond(start) + 1000));
}

/**
 * The start a record of `hour` is held against: the restart's, for the hours from the one it started again in; else
 * the first start. The hour it started again in is the new subscription's when it has a whole second of it (its
 * records are taken as long as it lives), else the old one's when the gap began in it and the old subscription has a
 * whole second of it to stamp the record with (a legacy buyer's two subscriptions are one customer to Marketplace).
 */
function startGoverning(hour: Date, start: Date | undefined, restart: Restart | undefined): Date | undefined {
  if (start === undefined || restart === undefined || hour < hourOf(restart.restartedAt)) return start;
  if (hour.getTime() === hourOf(restart.restartedAt).getTime()) {
    const newHasTheHour = wholeSecond(restart.restartedAt) + 1000 < hour.getTime() + HOUR_MS;
    const oldStamp = Math.max(hour.getTime(), wholeSecond(start) + 1000);
    const oldHasTheHour =
      hourOf(restart.endedAt).getTime() === hour.getTime() && oldStamp <= wholeSecond(restart.endedAt);
    if (!newHasTheHour && oldHasTheHour) return start;
  }
  return restart.restartedAt;
}

const wholeSecond = (at: Date) => Math.floor(at.getTime() / 1000) * 1000;
