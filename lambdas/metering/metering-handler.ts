/**
 * The two metering functions: the hourly one, whose `Scheduled Event` meters every closed hour, and the final-metering
 * one, whose schedule (every minute) meters every ending subscriber's usage as it comes due (closed hours at once, the
 * final hour near the deadline, a failed send again a minute later), and which a `Subscriber Ending` seller event
 * starts at once for that subscriber. Each run ends in one log line (with the request ids to find its calls in
 * CloudTrail) and metrics in CloudWatch's embedded metric format, which the stack's alarms and dashboard read.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import * as z from 'zod';
import type { Clock } from '../core/clock.ts';
import { meterUsage, type MeteringDependencies, type MeteringRunSummary } from '../core/metering/run/index.ts';
import { METERING_METRICS, SELLER_EVENT } from '../../contracts/index.ts';

export interface MeteringHandlerDependencies {
  readonly run: MeteringDependencies;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: MeteringMetrics;
  /** What the function's schedule meters: every closed hour (the hourly run), or every ending subscriber's usage. */
  readonly scheduled: 'closed-hours' | 'ending';
}

/**
 * How long before its timeout a run stops taking buckets: enough to send the calls it has prepared (two dozen at most,
 * at 10 a second, each retried for up to some 6 s) and settle them.
 */
const HAND_OVER_RESERVE_MS = 60_000;

const trigger = z.union([
  z.object({ 'detail-type': z.literal('Scheduled Event') }),
  z.object({
    'detail-type': z.literal(SELLER_EVENT.ending),
    detail: z.object({ subscriberId: z.string().min(1) }),
  }),
]);

/** Where a run's figures go: CloudWatch in AWS, which the alarms and dashboard read; locally its log line is enough. */
export interface MeteringMetrics {
  publish(summary: MeteringRunSummary): void;
}

export const noMetrics: MeteringMetrics = { publish: () => {} };

/** The run's figures as CloudWatch metrics, in the embedded metric format Powertools writes to the log. */
export function emfMetrics(metrics: Metrics): MeteringMetrics {
  return {
    publish(summary) {
      metrics.addMetric(METERING_METRICS.billed, MetricUnit.Count, summary.billed);
      const rejected = Object.values(summary.rejected).reduce((sum, count) => sum + count, 0);
      metrics.addMetric(METERING_METRICS.rejected, MetricUnit.Count, rejected);
      metrics.addMetric(METERING_METRICS.expired, MetricUnit.Count, summary.expired);
      metrics.addMetric(METERING_METRICS.pending, MetricUnit.Count, summary.pending);
      metrics.addMetric(METERING_METRICS.retries, MetricUnit.Count, summary.retries);
      metrics.addMetric(METERING_METRICS.throttles, MetricUnit.Count, summary.throttles);
      metrics.addMetric(METERING_METRICS.unconfirmedSends, MetricUnit.Count, summary.unconfirmedSends);
      metrics.addMetric(METERING_METRICS.finalDeadlineMissed, MetricUnit.Count, summary.finalDeadlineMissed.records);
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
    },
  };
}

export function createMeteringHandler(dependencies: MeteringHandlerDependencies) {
  const { logger, metrics } = dependencies;

  return async (event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
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
    const scope =
      subscriberId !== undefined
        ? { subscriberId }
        : dependencies.scheduled === 'ending'
          ? ('ending' as const)
          : undefined;
    // Stop taking buckets in time to finish what was started before the function's timeout, and hand over.
    const remaining = context?.getRemainingTimeInMillis();
    const summary: MeteringRunSummary = await meterUsage(dependencies.run, {
      now: dependencies.clock.now(),
      scope,
      ...(remaining === undefined ? {} : { timeBudgetMs: Math.max(0, remaining - HAND_OVER_RESERVE_MS) }),
    });
    metrics.publish(summary);
    logger.info(scope === undefined ? 'Metering run finished' : 'Final metering finished', {
      ...(subscriberId === undefined ? {} : { subscriberId }),
      summary,
    });
    return summary;
  };
}
