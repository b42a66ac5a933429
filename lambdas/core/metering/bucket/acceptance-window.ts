/**
 * Whether Marketplace still accepts a record for an hour. It refuses a record more than the acceptance window (24 h
 * today) after its timestamp, and records of a previous month once 06:00 UTC on the 1st has passed, even inside that
 * window; a refused record would take its whole batch down with it (`TimestampOutOfBoundsException`), so such a
 * bucket is settled `expired` instead of being sent.
 *
 * No margin is taken off the window: a bucket that crosses the line while its call is in flight is refused alone
 * (bisection) and settled `rejected` with the exception's name, whereas a margin would give up usage that
 * Marketplace would still have billed.
 */
import { MONTH_END_CUTOFF_HOURS } from '../../../../contracts/index.ts';
import { HOUR_MS } from './usage-bucket.ts';

export type ExpiryReason = 'acceptance-window-passed' | 'month-closed';

/** The instant Marketplace stops accepting records of `hour`: the end of its window, or its month's cut-off if sooner. */
export function acceptanceDeadline(hour: Date, acceptanceWindowHours: number): Date {
  return new Date(Math.min(windowEndOf(hour, acceptanceWindowHours), monthCutoffOf(hour)));
}

export function expiryOf(hour: Date, now: Date, acceptanceWindowHours: number): ExpiryReason | undefined {
  if (now.getTime() >= windowEndOf(hour, acceptanceWindowHours)) return 'acceptance-window-passed';
  if (now.getTime() >= monthCutoffOf(hour)) return 'month-closed';
  return undefined;
}

function windowEndOf(hour: Date, acceptanceWindowHours: number): number {
  return hour.getTime() + acceptanceWindowHours * HOUR_MS;
}

/** 06:00 UTC on the 1st of the month after the hour's. */
function monthCutoffOf(hour: Date): number {
  return Date.UTC(hour.getUTCFullYear(), hour.getUTCMonth() + 1, 1) + MONTH_END_CUTOFF_HOURS * HOUR_MS;
}
