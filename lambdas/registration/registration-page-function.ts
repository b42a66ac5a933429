/**
 * The wiring of the registration page (`GET|POST /register`): its dependencies from the runtime's variables, clock and
 * AWS settings, see `registration-page-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { readEnvironment, registrationPageEnvironment } from '../core/environment.ts';
import { RegistrationSessions } from '../core/registration-sessions.ts';
import { SubscriberRepository } from '../core/subscriber-repository.ts';
import { PageResponses } from './page-responses.ts';
import { createRegistrationPageHandler } from './registration-page-handler.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';

export function registrationPageFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(registrationPageEnvironment, runtime.variables);
  const logger = loggerOf('registration-page', runtime);
  const tracer = new Tracer({ serviceName: 'registration-page', enabled: environment.POWERTOOLS_TRACE_ENABLED });
  const database = tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws));

  return middy(
    createRegistrationPageHandler({
      subscribers: new SubscriberRepository(database, environment.SUBSCRIBERS_TABLE),
      sessions: new RegistrationSessions(
        database,
        environment.SUBSCRIBERS_TABLE,
        environment.REGISTRATION.sessionMinutes,
      ),
      pages: new PageResponses(environment.REGISTRATION, environment.PRODUCTS),
      clock: runtime.clock,
      logger,
    }),
    // Never log the event (it carries the session cookie and the buyer's details), whatever POWERTOOLS_LOGGER_LOG_EVENT says;
    // never trace the response (the page shows the buyer's details).
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
