/**
 * The wiring both metering functions share (the hourly run and final metering): the run's dependencies from the
 * function's environment, its logger and metrics, Powertools' context. See `metering-handler.ts` for what each does.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { documentClient, meteringClient } from '../core/aws-clients.ts';
import { meteredProducts, meteringEnvironment, readEnvironment } from '../core/environment.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';
import { createMeteringHandler, emfMetrics, noMetrics, type MeteringHandlerDependencies } from './metering-handler.ts';
import { METERING_METRICS_SERVICE } from '../../contracts/index.ts';

export function meteringFunction(
  serviceName: string,
  scheduled: MeteringHandlerDependencies['scheduled'],
  runtime: FunctionRuntime,
) {
  const environment = readEnvironment(meteringEnvironment, runtime.variables);
  const observability = observabilityOf(serviceName, runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;
  const metrics =
    runtime.metrics === false
      ? noMetrics
      : // One `service` dimension for both functions' metrics, so that each alarm watches all of the usage.
        emfMetrics(new Metrics({ namespace: environment.METRICS_NAMESPACE, serviceName: METERING_METRICS_SERVICE }));
  const settings = environment.METERING;
  return observed(
    createMeteringHandler({
      run: {
        client: tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
        usageTable: environment.USAGE_TABLE,
        subscribersTable: environment.SUBSCRIBERS_TABLE,
        metering: tracer.captureAWSv3Client(
          meteringClient(environment.MARKETPLACE_REGION, environment.MARKETPLACE_ENDPOINT, 1, runtime.aws),
        ),
        closedHourGraceMinutes: settings.closedHourGraceMinutes,
        acceptanceWindowHours: settings.acceptanceWindowHours,
        finalMetering: {
          graceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
          finalHourMarginMinutes: settings.finalHourMarginMinutes,
        },
        callsPerSecond: settings.callsPerSecond,
        zeroUsageRecords: settings.zeroUsageRecords,
        products: meteredProducts(environment.PRODUCTS, environment.METERED_DIMENSIONS),
        logger,
      },
      clock: runtime.clock,
      logger,
      metrics,
      scheduled,
    }),
    observability,
  );
}
