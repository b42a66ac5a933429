/**
 * The wiring of the seller notifier (Subscribers table stream): its dependencies from the runtime's variables, clock
 * and AWS settings, see `seller-notifier-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { eventBridgeClient } from '../core/aws-clients.ts';
import { readEnvironment, sellerNotifierEnvironment } from '../core/environment.ts';
import { createSellerNotifier } from './seller-notifier-handler.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';

export function sellerNotifierFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(sellerNotifierEnvironment, runtime.variables);
  const logger = loggerOf('seller-notifier', runtime);
  const tracer = new Tracer({ serviceName: 'seller-notifier', enabled: environment.POWERTOOLS_TRACE_ENABLED });

  return middy(
    createSellerNotifier({
      events: tracer.captureAWSv3Client(eventBridgeClient(environment.EVENTS_ENDPOINT, runtime.aws)),
      busName: environment.EVENT_BUS_NAME,
      source: environment.EVENT_SOURCE,
      logger,
    }),
    // Never log the event (its images carry the buyer's contact details), whatever POWERTOOLS_LOGGER_LOG_EVENT says.
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
