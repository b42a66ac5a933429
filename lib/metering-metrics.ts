/**
 * The metering runs' metrics, as `lambdas/metering/metering-handler.ts` publishes them (`METERING_METRICS`; an infra test holds
 * the two equal), under the `service` dimension Powertools adds.
 */
export const meteringMetricNames = {
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
