/**
 * How every function is observed: Powertools' logger and tracer for its service, and the handler wrapped in middy with
 * their middlewares. Events and answers carry what must not reach a log or a trace (Marketplace tokens, session
 * cookies, buyers' contact details, who used what), so the event is never logged and the answer never traced, whatever
 * `POWERTOOLS_LOGGER_LOG_EVENT` or `POWERTOOLS_TRACER_CAPTURE_RESPONSE` say.
 *
 * @example
 * const observability = observabilityOf('usage', runtime, environment.POWERTOOLS_TRACE_ENABLED);
 * const client = observability.tracer.captureAWSv3Client(documentClient(endpoint, runtime.aws));
 * export const handler = observed(createUsageHandler({ client, logger: observability.logger, ... }), observability);
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Handler } from 'aws-lambda';
import { loggerOf, type FunctionRuntime } from './function-runtime.ts';

export interface Observability {
  readonly logger: Logger;
  readonly tracer: Tracer;
}

/** The logger (at the runtime's log level) and the tracer (on or off) of the function serving `serviceName`. */
export function observabilityOf(serviceName: string, runtime: FunctionRuntime, tracing: boolean): Observability {
  return { logger: loggerOf(serviceName, runtime), tracer: new Tracer({ serviceName, enabled: tracing }) };
}

/** `handler` with the Lambda context in its log lines and a trace segment around it; more middlewares may follow. */
export function observed<TEvent, TResult>(handler: Handler<TEvent, TResult>, { logger, tracer }: Observability) {
  return middy(handler)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger, { logEvent: false }));
}
