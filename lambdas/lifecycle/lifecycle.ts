/** Lambda entry point of the lifecycle queue's consumer: wiring only, see `lifecycle-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient, entitlementClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { lifecycleEnvironment, readEnvironment } from '../core/environment.ts';
import { LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { createLifecycleHandler } from './lifecycle-handler.ts';

const environment = readEnvironment(lifecycleEnvironment);
const logger = new Logger({ serviceName: 'lifecycle' });
const tracer = new Tracer({ serviceName: 'lifecycle', enabled: environment.POWERTOOLS_TRACE_ENABLED });

export const handler = middy(
  createLifecycleHandler({
    lifecycle: new LifecycleRepository(
      tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT)),
      environment.SUBSCRIBERS_TABLE,
      environment.FINAL_METERING_GRACE_SECONDS,
    ),
    entitlements: tracer.captureAWSv3Client(entitlementClient(environment.ENTITLEMENT_ENDPOINT)),
    products: environment.PRODUCTS,
    clock: lambdaClock,
    logger,
  }),
  // Never log the event, nor trace the response: notifications name buyers' accounts.
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
