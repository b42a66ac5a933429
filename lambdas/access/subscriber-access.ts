/** Lambda entry point of the access check (`GET /subscribers/{id}`): wiring only. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { readEnvironment, subscriberAccessEnvironment } from '../core/environment.ts';
import { createSubscriberAccessHandler } from './subscriber-access-handler.ts';

const environment = readEnvironment(subscriberAccessEnvironment);
const logger = new Logger({ serviceName: 'subscriber-access' });

export const handler = middy(
  createSubscriberAccessHandler({
    client: documentClient(environment.DYNAMODB_ENDPOINT),
    tableName: environment.SUBSCRIBERS_TABLE,
    finalMeteringGraceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
    clock: lambdaClock,
    logger,
  }),
).use(injectLambdaContext(logger, { logEvent: false }));
