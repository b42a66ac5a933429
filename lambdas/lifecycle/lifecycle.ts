/** Lambda entry point of the lifecycle queue's consumer: wiring only, see `lifecycle-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { documentClient, entitlementClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { lifecycleEnvironment, readEnvironment } from '../core/environment.ts';
import { LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { createLifecycleHandler } from './lifecycle-handler.ts';

const environment = readEnvironment(lifecycleEnvironment);
const logger = new Logger({ serviceName: 'lifecycle' });

export const handler = middy(
  createLifecycleHandler({
    lifecycle: new LifecycleRepository(
      documentClient(environment.DYNAMODB_ENDPOINT),
      environment.SUBSCRIBERS_TABLE,
      environment.FINAL_METERING_GRACE_SECONDS,
    ),
    entitlements: entitlementClient(environment.ENTITLEMENT_ENDPOINT),
    products: environment.PRODUCTS,
    clock: lambdaClock,
    logger,
  }),
  // Never log the event: notifications name buyers' accounts.
).use(injectLambdaContext(logger, { logEvent: false }));
