/**
 * The wiring of the registration page (`GET|POST /register`): its dependencies from the runtime's variables, clock and
 * AWS settings, see `registration-page-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { documentClient, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS } from '../core/aws-clients.ts';
import { readEnvironment, registrationPageEnvironment } from '../core/environment.ts';
import { RegistrationSessions } from '../core/registration-sessions.ts';
import { SubscriberRepository } from '../core/subscriber-repository.ts';
import { PageResponses } from './page-responses.ts';
import { createRegistrationPageHandler } from './registration-page-handler.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function registrationPageFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(registrationPageEnvironment, runtime.variables);
  const observability = observabilityOf('registration-page', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;
  const database = tracer.captureAWSv3Client(
    documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS),
  );

  return observed(
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
    observability,
  );
}
