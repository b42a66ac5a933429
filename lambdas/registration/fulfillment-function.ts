/**
 * The wiring of the fulfillment URL (`POST /fulfillment`): its dependencies from the runtime's variables, clock and AWS
 * settings, see `fulfillment-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in its own.
 */
import { documentClient, meteringClient, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS } from '../core/aws-clients.ts';
import { fulfillmentEnvironment, readEnvironment } from '../core/environment.ts';
import { resolveCustomer } from '../core/marketplace-customers.ts';
import { RegistrationSessions } from '../core/registration-sessions.ts';
import { ResolvedTokens } from '../core/resolved-tokens.ts';
import { SubscriberRepository } from '../core/subscriber-repository.ts';
import { createFulfillmentHandler } from './fulfillment-handler.ts';
import { PageResponses } from './page-responses.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

/** ResolveCustomer, retries included, must answer well inside API Gateway's 29 s integration timeout. */
const RESOLVE_DEADLINE_MS = 10_000;

export function fulfillmentFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(fulfillmentEnvironment, runtime.variables);
  const observability = observabilityOf('fulfillment', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;
  const database = tracer.captureAWSv3Client(
    documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS),
  );
  const marketplace = tracer.captureAWSv3Client(
    meteringClient(environment.MARKETPLACE_REGION, environment.MARKETPLACE_ENDPOINT, undefined, runtime.aws),
  );

  return observed(
    createFulfillmentHandler({
      resolve: (token) => resolveCustomer(marketplace, token, { deadlineMs: RESOLVE_DEADLINE_MS }),
      resolvedTokens: new ResolvedTokens(database, environment.SUBSCRIBERS_TABLE),
      subscribers: new SubscriberRepository(database, environment.SUBSCRIBERS_TABLE),
      sessions: new RegistrationSessions(
        database,
        environment.SUBSCRIBERS_TABLE,
        environment.REGISTRATION.sessionMinutes,
      ),
      products: environment.PRODUCTS,
      clock: runtime.clock,
      pages: new PageResponses(environment.REGISTRATION, environment.PRODUCTS),
      logger,
    }),
    observability,
  );
}
