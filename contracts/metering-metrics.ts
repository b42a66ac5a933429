/**
 * The metering runs' CloudWatch metrics: the functions publish them (Powertools adds the `service` dimension), the
 * stack's alarms and dashboard read them.
 */
export const METERING_METRICS = {
  billed: 'RecordsBilled',
  rejected: 'RecordsRejected',
  expired: 'RecordsExpired',
  pending: 'RecordsPending',
  retries: 'MeteringRetries',
  throttles: 'MeteringThrottles',
  oldestPendingAge: 'OldestPendingAge',
  unconfirmedSends: 'UnconfirmedSends',
  finalDeadlineMissed: 'FinalMeteringMissed',
} as const;

/** The `service` dimension of every metering metric, whichever function (hourly or final) published it. */
export const METERING_METRICS_SERVICE = 'metering';

/**
 * The metering functions' timeouts: the hourly run has Lambda's longest, works to a time budget inside it and hands
 * over before it; the final flush of ending subscribers is short, as its schedule runs it every few minutes.
 */
export const METERING_FUNCTION_TIMEOUT_SECONDS = { hourly: 15 * 60, final: 3 * 60 } as const;
