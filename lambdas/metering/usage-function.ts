/**
 * The wiring of `POST /usage`: its dependencies from the runtime's variables, clock and AWS settings, see `usage-
 * handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in its own.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { meteredProducts, readEnvironment, usageEnvironment } from '../core/environment.ts';
import { createUsageHandler } from './usage-handler.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';

export function usageFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(usageEnvironment, runtime.variables);
  const logger = loggerOf('usage', runtime);
  const tracer = new Tracer({ serviceName: 'usage', enabled: environment.POWERTOOLS_TRACE_ENABLED });

  return middy(
    createUsageHandler({
      client: tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
      usageTable: environment.USAGE_TABLE,
      subscribersTable: environment.SUBSCRIBERS_TABLE,
      products: meteredProducts(environment.PRODUCTS, environment.METERED_DIMENSIONS),
      acceptanceWindowHours: environment.METERING.acceptanceWindowHours,
      eventIdRetentionDays: environment.METERING.eventIdRetentionDays,
      finalMetering: {
        graceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
        finalHourMarginMinutes: environment.METERING.finalHourMarginMinutes,
      },
      clock: runtime.clock,
      logger,
    }),
    // Never log the event, nor trace the response: they name subscribers and what they used.
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
