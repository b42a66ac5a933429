/**
 * What `POST /usage` must answer an event, from the documented rules alone (docs/architecture/metering.md and its
 * section "The end of a subscription"): the same event id again is `duplicate` (or `conflict` with other contents)
 * before anything else; then a time more than 5 minutes ahead is `in-the-future`, an hour that can no longer reach Marketplace `too-old`; then
 * `not-subscribed` for an ended subscription, an ending one whose final usage has been sent (from F on), or a time
 * outside the subscription (before it started, after the license's end); then `unknown-dimension` for a dimension its
 * product does not meter. Everything else is billable, and accepted: into its own hour, or (that one frozen) carried
 * into a later open hour, an ending subscriber's final hour at the latest.
 */
import type { Buyer, FinalWindow } from './buyers.ts';
import type { UsageEvent, UsageResult } from './seller-api.ts';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
const FUTURE_TOLERANCE_MS = 5 * MINUTE_MS;
const ACCEPTANCE_WINDOW_MS = 24 * HOUR_MS;
/** Records of a month are taken until 06:00 UTC on the 1st of the next. */
const MONTH_END_CUTOFF_MS = 6 * HOUR_MS;
/** An hour must still be meterable this long after the start of the current hour: the latest the next run reaches it. */
const METERING_LEAD_MS = 2 * HOUR_MS;

/** `accepted`, `duplicate`, `conflict`, or `rejected:<reason>`. */
export type Outcome = string;

export interface Subscription {
  readonly buyer: Buyer;
  /** Once cancelled. */
  window?: FinalWindow;
}

export type SubscriptionStatus = 'active' | 'ending' | 'ended';

export function statusOf(subscription: Subscription, now: Date): SubscriptionStatus {
  if (subscription.window === undefined) return 'active';
  return now < subscription.window.deadline ? 'ending' : 'ended';
}

export const hourOf = (at: Date | number) => new Date(Math.floor(new Date(at).getTime() / HOUR_MS) * HOUR_MS);

export function outcomeOf(result: UsageResult): Outcome {
  return result.status === 'rejected' ? `rejected:${result.reason}` : result.status;
}

/** The event ids the backend has counted, with what each was counted for. */
export class CountedEvents {
  private readonly fingerprints = new Map<string, string>();

  /** What the answer must be for an event whose id was counted before; `undefined` when it was not. */
  answerToRepeat(event: UsageEvent): Outcome | undefined {
    const counted = event.eventId === undefined ? undefined : this.fingerprints.get(event.eventId);
    if (counted === undefined) return undefined;
    return counted === fingerprintOf(event) ? 'duplicate' : 'conflict';
  }

  learn(event: UsageEvent, result: UsageResult): void {
    if (event.eventId !== undefined && result.status === 'accepted') {
      this.fingerprints.set(event.eventId, fingerprintOf(event));
    }
  }
}

function fingerprintOf(event: UsageEvent): string {
  const tags = Object.entries(event.tags ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([event.subscriberId, event.dimension, event.quantity, Date.parse(event.timestamp), tags]);
}

/** The answer the rules give an event that no counted id covers. */
export function expectedOutcome(event: UsageEvent, subscription: Subscription | undefined, now: Date): Outcome {
  const at = new Date(event.timestamp);
  if (at.getTime() - now.getTime() > FUTURE_TOLERANCE_MS) return 'rejected:in-the-future';
  if (acceptanceDeadline(hourOf(at)) < hourOf(now).getTime() + METERING_LEAD_MS) return 'rejected:too-old';
  if (subscription === undefined) return 'rejected:unknown-subscriber';
  const status = statusOf(subscription, now);
  const finalUsageSent = status === 'ending' && now >= subscription.window!.sendFrom;
  if (status === 'ended' || finalUsageSent || !isInPeriod(subscription, at)) return 'rejected:not-subscribed';
  if (!subscription.buyer.dimensions.includes(event.dimension)) return 'rejected:unknown-dimension';
  return 'accepted';
}

/** Between the activation and the license's end, which notifications give to the second (usage in it counts). */
function isInPeriod(subscription: Subscription, at: Date): boolean {
  if (at < subscription.buyer.activatedAt) return false;
  return subscription.window === undefined || at.getTime() < subscription.window.end.getTime() + 1000;
}

/**
 * Why an accepted answer names an hour it may not: usage goes into its own hour or, carried (`carriedFrom` its own),
 * into a later one: the current open hour or the next, and never past an ending subscriber's final hour.
 */
export function misplacedHour(
  event: UsageEvent,
  result: Extract<UsageResult, { status: 'accepted' }>,
  subscription: Subscription,
  now: Date,
): string | undefined {
  const own = hourOf(Date.parse(event.timestamp)).getTime();
  const hour = Date.parse(result.hour);
  const latest = Math.max(hourOf(now).getTime(), own + HOUR_MS) + HOUR_MS;
  if (hour < own || hour > latest) return `hour ${result.hour} is not one the usage may go into`;
  const expectedCarriedFrom = hour === own ? undefined : new Date(own).toISOString();
  if (result.carriedFrom !== expectedCarriedFrom) {
    return `carriedFrom ${result.carriedFrom} for usage of ${new Date(own).toISOString()} put in ${result.hour}`;
  }
  const { window } = subscription;
  if (window !== undefined && hour > hourOf(window.end).getTime()) {
    return `hour ${result.hour} is after the final hour ${hourOf(window.end).toISOString()}`;
  }
  return undefined;
}

/** When Marketplace stops taking records of `hour`: the end of its window, or its month's cut-off if sooner. */
function acceptanceDeadline(hour: Date): number {
  const monthCutoff = Date.UTC(hour.getUTCFullYear(), hour.getUTCMonth() + 1, 1) + MONTH_END_CUTOFF_MS;
  return Math.min(hour.getTime() + ACCEPTANCE_WINDOW_MS, monthCutoff);
}
