/**
 * The metering function: the hourly schedule's `Scheduled Event` meters every closed hour, and a `Subscriber Ending`
 * seller event (the final flush) meters that subscriber's remaining usage at once, the open hour included. Each run
 * ends in one log line (with the request ids to find its calls in CloudTrail) and metrics in CloudWatch's embedded
 * metric format, which the stack's alarms and dashboard read.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import type { Clock } from '../core/clock.ts';
import { meterUsage, type MeteringDependencies, type MeteringRunSummary } from '../core/metering/metering-run.ts';
import { SELLER_EVENT } from '../core/seller-events.ts';

export interface MeteringHandlerDependencies {
  readonly run: MeteringDependencies;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The metric names, for the stack's alarms and dashboard (`lib/metering.ts` names them too; a test holds them equal). */
export const METERING_METRICS = {
  billed: 'RecordsBilled',
  rejected: 'RecordsRejected',
  expired: 'RecordsExpired',
  pending: 'RecordsPending',
  retries: 'MeteringRetries',
  throttles: 'MeteringThrottles',
  oldestPendingAge: 'OldestPendingAge',
} as const;

const trigger = z.union([
  z.object({ 'detail-type': z.literal('Scheduled Event') }),
  z.object({
    'detail-type': z.literal(SELLER_EVENT.ending),
    detail: z.object({ subscriberId: z.string().min(1) }),
  }),
]);

export function createMeteringHandler(dependencies: MeteringHandlerDependencies) {
  const { logger, metrics } = dependencies;

  function publish(summary: MeteringRunSummary): void {
    metrics.addMetric(METERING_METRICS.billed, MetricUnit.Count, summary.billed);
    const rejected = Object.values(summary.rejected).reduce((sum, count) => sum + count, 0);
    metrics.addMetric(METERING_METRICS.rejected, MetricUnit.Count, rejected);
    metrics.addMetric(METERING_METRICS.expired, MetricUnit.Count, summary.expired);
    metrics.addMetric(METERING_METRICS.pending, MetricUnit.Count, summary.pending);
    metrics.addMetric(METERING_METRICS.retries, MetricUnit.Count, summary.retries);
    metrics.addMetric(METERING_METRICS.throttles, MetricUnit.Count, summary.throttles);
    // Zero when nothing is left: the alarm on it must see a value every run, not stay in INSUFFICIENT_DATA.
    metrics.addMetric(
      METERING_METRICS.oldestPendingAge,
      MetricUnit.Seconds,
      (summary.oldestPending?.ageMinutes ?? 0) * 60,
    );
    metrics.publishStoredMetrics();
    // Per reason, for the dashboard: one metric each, dimensioned by the reason.
    for (const [reason, count] of Object.entries(summary.rejected)) {
      const byReason = metrics.singleMetric();
      byReason.addDimension('Reason', reason);
      byReason.addMetric(METERING_METRICS.rejected, MetricUnit.Count, count);
    }
  }

  return async (event: unknown): Promise<MeteringRunSummary | undefined> => {
    const parsed = trigger.safeParse(event);
    if (!parsed.success) {
      // Only the schedule and the final-flush rule invoke this function; anything else is a wiring mistake.
      logger.error('Not a metering trigger: ignored', {
        detailType:
          typeof event === 'object' && event !== null ? (event as Record<string, unknown>)['detail-type'] : undefined,
      });
      return undefined;
    }
    const subscriberId = 'detail' in parsed.data ? parsed.data.detail.subscriberId : undefined;
    const summary = await meterUsage(dependencies.run, { now: dependencies.clock.now(), subscriberId });
    publish(summary);
    logger.info(subscriberId === undefined ? 'Metering run finished' : 'Final metering flush finished', {
      ...(subscriberId === undefined ? {} : { subscriberId }),
      summary,
    });
    return summary;
  };
}
