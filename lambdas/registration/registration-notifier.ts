/** Lambda entry point of the registration notifier (Subscribers table stream): wiring only. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { eventBridgeClient } from '../core/aws-clients.ts';
import { readEnvironment, registrationNotifierEnvironment } from '../core/environment.ts';
import { createRegistrationNotifier } from './registration-notifier-handler.ts';

const environment = readEnvironment(registrationNotifierEnvironment);
const logger = new Logger({ serviceName: 'registration-notifier' });

export const handler = middy(
  createRegistrationNotifier({
    events: eventBridgeClient(environment.EVENTS_ENDPOINT),
    busName: environment.EVENT_BUS_NAME,
    source: environment.EVENT_SOURCE,
    logger,
  }),
  // Never log the event (its images carry the buyer's contact details), whatever POWERTOOLS_LOGGER_LOG_EVENT says.
).use(injectLambdaContext(logger, { logEvent: false }));
