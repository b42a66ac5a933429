/** Lambda entry point of the access check (`GET /subscribers/{id}`): wiring only. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { readEnvironment, subscriberAccessEnvironment } from '../core/environment.ts';
import { createSubscriberAccessHandler } from './subscriber-access-handler.ts';

const environment = readEnvironment(subscriberAccessEnvironment);
const logger = new Logger({ serviceName: 'subscriber-access' });
const tracer = new Tracer({ serviceName: 'subscriber-access', enabled: environment.POWERTOOLS_TRACE_ENABLED });

export const handler = middy(
  createSubscriberAccessHandler({
    client: tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT)),
    tableName: environment.SUBSCRIBERS_TABLE,
    finalMeteringGraceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
    clock: lambdaClock,
    logger,
  }),
  // Never trace the response: it carries the buyer's registration details.
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
