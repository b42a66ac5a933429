/** Lambda entry point of the metering function (hourly runs and final flushes): wiring only, see `metering-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import { documentClient, meteringClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { meteredProducts, meteringEnvironment, readEnvironment } from '../core/environment.ts';
import { createMeteringHandler } from './metering-handler.ts';

const environment = readEnvironment(meteringEnvironment);
const logger = new Logger({ serviceName: 'metering' });
const metrics = new Metrics({ namespace: environment.METRICS_NAMESPACE, serviceName: 'metering' });
const settings = environment.METERING;

export const handler = middy(
  createMeteringHandler({
    run: {
      client: documentClient(environment.DYNAMODB_ENDPOINT),
      usageTable: environment.USAGE_TABLE,
      subscribersTable: environment.SUBSCRIBERS_TABLE,
      metering: meteringClient(environment.MARKETPLACE_REGION, environment.MARKETPLACE_ENDPOINT, 1),
      closedHourGraceMinutes: settings.closedHourGraceMinutes,
      acceptanceWindowHours: settings.acceptanceWindowHours,
      callsPerSecond: settings.callsPerSecond,
      zeroUsageRecords: settings.zeroUsageRecords,
      products: meteredProducts(environment.PRODUCTS, environment.METERED_DIMENSIONS),
      logger,
    },
    clock: lambdaClock,
    logger,
    metrics,
  }),
).use(injectLambdaContext(logger, { logEvent: false }));
