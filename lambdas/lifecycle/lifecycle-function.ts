/**
 * The wiring of the lifecycle queue's consumer: its dependencies from the runtime's variables, clock and AWS settings,
 * see `lifecycle-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in its own.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient, entitlementClient } from '../core/aws-clients.ts';
import { lifecycleEnvironment, readEnvironment } from '../core/environment.ts';
import { LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { createLifecycleHandler } from './lifecycle-handler.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';

export function lifecycleFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(lifecycleEnvironment, runtime.variables);
  const logger = loggerOf('lifecycle', runtime);
  const tracer = new Tracer({ serviceName: 'lifecycle', enabled: environment.POWERTOOLS_TRACE_ENABLED });

  return middy(
    createLifecycleHandler({
      lifecycle: new LifecycleRepository(
        tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
        environment.SUBSCRIBERS_TABLE,
        environment.FINAL_METERING_GRACE_SECONDS,
      ),
      entitlements: tracer.captureAWSv3Client(entitlementClient(environment.ENTITLEMENT_ENDPOINT, runtime.aws)),
      products: environment.PRODUCTS,
      clock: runtime.clock,
      logger,
    }),
    // Never log the event, nor trace the response: notifications name buyers' accounts.
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
