/**
 * The wiring both metering functions share (the hourly run and final metering): the run's dependencies from the
 * function's environment, its logger and metrics, Powertools' context. See `metering-handler.ts` for what each does.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient, meteringClient } from '../core/aws-clients.ts';
import { meteredProducts, meteringEnvironment, readEnvironment } from '../core/environment.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';
import { createMeteringHandler, emfMetrics, noMetrics, type MeteringHandlerDependencies } from './metering-handler.ts';
import { METERING_METRICS_SERVICE } from '../../contracts/index.ts';

export function meteringFunction(
  serviceName: string,
  scheduled: MeteringHandlerDependencies['scheduled'],
  runtime: FunctionRuntime,
) {
  const environment = readEnvironment(meteringEnvironment, runtime.variables);
  const logger = loggerOf(serviceName, runtime);
  const tracer = new Tracer({ serviceName, enabled: environment.POWERTOOLS_TRACE_ENABLED });
  const metrics =
    runtime.metrics === false
      ? noMetrics
      : // One `service` dimension for both functions' metrics, so that each alarm watches all of the usage.
        emfMetrics(new Metrics({ namespace: environment.METRICS_NAMESPACE, serviceName: METERING_METRICS_SERVICE }));
  const settings = environment.METERING;
  return (
    middy(
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
    )
      // The run's summary is in its log line and metrics; traced, it would name subscribers.
      .use(captureLambdaHandler(tracer, { captureResponse: false }))
      .use(injectLambdaContext(logger, { logEvent: false }))
  );
}
