/**
 * The wiring of the access check (`GET /subscribers/{id}`): its dependencies from the runtime's variables, clock and
 * AWS settings, see `subscriber-access-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { documentClient, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS } from '../core/aws-clients.ts';
import { readEnvironment, subscriberAccessEnvironment } from '../core/environment.ts';
import { createSubscriberAccessHandler } from './subscriber-access-handler.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function subscriberAccessFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(subscriberAccessEnvironment, runtime.variables);
  const observability = observabilityOf('subscriber-access', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;

  return observed(
    createSubscriberAccessHandler({
      client: tracer.captureAWSv3Client(
        documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS),
      ),
      tableName: environment.SUBSCRIBERS_TABLE,
      finalMeteringGraceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
      clock: runtime.clock,
      logger,
    }),
    observability,
  );
}
