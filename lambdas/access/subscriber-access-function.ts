/**
 * The wiring of the access check (`GET /subscribers/{id}`): its dependencies from the runtime's variables, clock and
 * AWS settings, see `subscriber-access-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import { documentClient } from '../core/aws-clients.ts';
import { readEnvironment, subscriberAccessEnvironment } from '../core/environment.ts';
import { createSubscriberAccessHandler } from './subscriber-access-handler.ts';
import { loggerOf, type FunctionRuntime } from '../core/function-runtime.ts';

export function subscriberAccessFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(subscriberAccessEnvironment, runtime.variables);
  const logger = loggerOf('subscriber-access', runtime);
  const tracer = new Tracer({ serviceName: 'subscriber-access', enabled: environment.POWERTOOLS_TRACE_ENABLED });

  return middy(
    createSubscriberAccessHandler({
      client: tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
      tableName: environment.SUBSCRIBERS_TABLE,
      finalMeteringGraceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
      clock: runtime.clock,
      logger,
    }),
    // Never trace the response: it carries the buyer's registration details.
  )
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
