/** Lambda entry point of `POST /usage`: wiring only, see `usage-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { meteredProducts, readEnvironment, usageEnvironment } from '../core/environment.ts';
import { createUsageHandler } from './usage-handler.ts';

const environment = readEnvironment(usageEnvironment);
const logger = new Logger({ serviceName: 'usage' });
const tracer = new Tracer({ serviceName: 'usage', enabled: environment.POWERTOOLS_TRACE_ENABLED });

export const handler = middy(
  createUsageHandler({
    client: tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT)),
    usageTable: environment.USAGE_TABLE,
    subscribersTable: environment.SUBSCRIBERS_TABLE,
    products: meteredProducts(environment.PRODUCTS, environment.METERED_DIMENSIONS),
    acceptanceWindowHours: environment.METERING.acceptanceWindowHours,
    eventIdRetentionDays: environment.METERING.eventIdRetentionDays,
    finalMetering: {
      graceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
      finalHourMarginMinutes: environment.METERING.finalHourMarginMinutes,
    },
    clock: lambdaClock,
    logger,
  }),
  // Never log the event, nor trace the response: they name subscribers and what they used.
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
