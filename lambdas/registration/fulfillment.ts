/** Lambda entry point of the fulfillment URL (`POST /fulfillment`): wiring only, see `fulfillment-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient, meteringClient } from '../core/aws-clients.ts';
import { lambdaClock } from '../core/clock.ts';
import { fulfillmentEnvironment, readEnvironment } from '../core/environment.ts';
import { resolveCustomer } from '../core/marketplace-customers.ts';
import { RegistrationSessions } from '../core/registration-sessions.ts';
import { SubscriberRepository } from '../core/subscriber-repository.ts';
import { createFulfillmentHandler } from './fulfillment-handler.ts';
import { PageResponses } from './page-responses.ts';

/** ResolveCustomer, retries included, must answer well inside API Gateway's 29 s integration timeout. */
const RESOLVE_DEADLINE_MS = 10_000;

const environment = readEnvironment(fulfillmentEnvironment);
const logger = new Logger({ serviceName: 'fulfillment' });
const tracer = new Tracer({ serviceName: 'fulfillment', enabled: environment.POWERTOOLS_TRACE_ENABLED });
const database = tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT));
const marketplace = tracer.captureAWSv3Client(
  meteringClient(environment.MARKETPLACE_REGION, environment.MARKETPLACE_ENDPOINT),
);

export const handler = middy(
  createFulfillmentHandler({
    resolve: (token) => resolveCustomer(marketplace, token, { deadlineMs: RESOLVE_DEADLINE_MS }),
    subscribers: new SubscriberRepository(database, environment.SUBSCRIBERS_TABLE),
    sessions: new RegistrationSessions(
      database,
      environment.SUBSCRIBERS_TABLE,
      environment.REGISTRATION.sessionMinutes,
    ),
    products: environment.PRODUCTS,
    clock: lambdaClock,
    pages: new PageResponses(environment.REGISTRATION, environment.PRODUCTS),
    logger,
  }),
  // Never log the event (its body carries the Marketplace token), whatever POWERTOOLS_LOGGER_LOG_EVENT says; never
  // trace the response (it sets the session cookie).
)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { logEvent: false }));
