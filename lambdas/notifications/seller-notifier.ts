/** Lambda entry point of the seller notifier (Subscribers table stream): wiring only. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { eventBridgeClient } from '../core/aws-clients.ts';
import { readEnvironment, sellerNotifierEnvironment } from '../core/environment.ts';
import { createSellerNotifier } from './seller-notifier-handler.ts';

const environment = readEnvironment(sellerNotifierEnvironment);
const logger = new Logger({ serviceName: 'seller-notifier' });
const tracer = new Tracer({ serviceName: 'seller-notifier', enabled: environment.POWERTOOLS_TRACE_ENABLED });

export const handler = middy(
  createSellerNotifier({
    events: tracer.captureAWSv3Client(eventBridgeClient(environment.EVENTS_ENDPOINT)),
    busName: environment.EVENT_BUS_NAME,
    source: environment.EVENT_SOURCE,
    logger,
  }),
  // Never log the event (its images carry the buyer's contact details), whatever POWERTOOLS_LOGGER_LOG_EVENT says.
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
