/** Lambda entry point of the registration page (`GET|POST /register`): wiring only, see `registration-page-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { readEnvironment, registrationPageEnvironment } from '../core/environment.ts';
import { RegistrationSessions } from '../core/registration-sessions.ts';
import { SubscriberRepository } from '../core/subscriber-repository.ts';
import { PageResponses } from './page-responses.ts';
import { createRegistrationPageHandler } from './registration-page-handler.ts';

const environment = readEnvironment(registrationPageEnvironment);
const logger = new Logger({ serviceName: 'registration-page' });
const tracer = new Tracer({ serviceName: 'registration-page', enabled: environment.POWERTOOLS_TRACE_ENABLED });
const database = tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT));

export const handler = middy(
  createRegistrationPageHandler({
    subscribers: new SubscriberRepository(database, environment.SUBSCRIBERS_TABLE),
    sessions: new RegistrationSessions(
      database,
      environment.SUBSCRIBERS_TABLE,
      environment.REGISTRATION.sessionMinutes,
    ),
    pages: new PageResponses(environment.REGISTRATION, environment.PRODUCTS),
    clock: lambdaClock,
    logger,
  }),
  // Never log the event (it carries the session cookie and the buyer's details), whatever POWERTOOLS_LOGGER_LOG_EVENT says;
  // never trace the response (the page shows the buyer's details).
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
