/**
 * A planned event (`chaos-plan.ts`) made concrete against the subscriptions as they are now: which buyer, which
 * dimension, and a timestamp (whole seconds) where its timing says: inside the subscription (this hour or up to three
 * back), before it started, after the license's end, too old for Marketplace, or too far ahead.
 */
import type { PlannedEvent } from './chaos-plan.ts';
import type { UsageEvent } from './seller-api.ts';
import type { ChaosSubscription } from './timeline.ts';
import { HOUR_MS, hourOf, MINUTE_MS } from './usage-rules.ts';

/** An event as sent, with the subscription it is for (none for a subscriber nobody knows). */
export interface SentEvent {
  readonly event: UsageEvent;
  readonly subscription: ChaosSubscription | undefined;
}

/** A dimension no product meters. */
const UNMETERED_DIMENSION = 'no_such_dimension';

export function resolveEvent(
  planned: PlannedEvent,
  subscriptions: readonly ChaosSubscription[],
  now: Date,
  eventId: string | undefined,
): SentEvent {
  const cancelled = subscriptions.filter(({ window }) => window !== undefined);
  // Usage after the end needs an end: with no cancelled buyer yet, the event falls inside a subscription instead.
  const afterEnd = planned.timing === 'after-end' && cancelled.length > 0;
  const candidates = afterEnd ? cancelled : subscriptions;
  const subscription = candidates[Math.floor(planned.buyer * candidates.length)]!;
  const { dimensions } = subscription.buyer;
  const event: UsageEvent = {
    subscriberId: subscription.buyer.subscriberId,
    dimension:
      planned.dimension === 'unknown'
        ? UNMETERED_DIMENSION
        : dimensions[Math.floor(planned.dimension * dimensions.length)]!,
    quantity: planned.quantity,
    timestamp: timestampOf(planned, subscription, now.getTime(), afterEnd).toISOString(),
    ...(eventId === undefined ? {} : { eventId }),
    ...(planned.tags === undefined ? {} : { tags: planned.tags }),
  };
  return { event, subscription };
}

function timestampOf(planned: PlannedEvent, subscription: ChaosSubscription, now: number, afterEnd: boolean): Date {
  const { window, buyer } = subscription;
  const at = (from: number, span: number) => wholeSecond(from + planned.position * span);
  switch (planned.timing) {
    case 'before-start':
      return at(buyer.activatedAt.getTime() - 50 * MINUTE_MS, 50 * MINUTE_MS - 1000);
    case 'too-old':
      return at(now - 36 * HOUR_MS, 10 * HOUR_MS);
    case 'in-the-future':
      return at(now + 5 * MINUTE_MS + 1000, 2 * HOUR_MS);
    case 'after-end':
      return afterEnd ? at(window!.end.getTime() + 1000, 40 * MINUTE_MS) : inPeriod(planned, subscription, now);
    case 'in-period':
      return inPeriod(planned, subscription, now);
  }
}

/** A time in the subscription, in the hour `hoursBack` before its latest one, or anywhere in it if that is outside. */
function inPeriod(planned: PlannedEvent, { buyer, window }: ChaosSubscription, now: number): Date {
  const start = buyer.activatedAt.getTime();
  const end = Math.min(now, window?.end.getTime() ?? now);
  const hour = hourOf(end).getTime() - planned.hoursBack * HOUR_MS;
  const lastSecondOfHour = hour + HOUR_MS - 1000;
  const [from, to] = lastSecondOfHour < start ? [start, end] : [Math.max(hour, start), Math.min(lastSecondOfHour, end)];
  return wholeSecond(from + planned.position * (to - from));
}

const wholeSecond = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
