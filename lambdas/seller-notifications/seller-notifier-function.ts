/**
 * The wiring of the seller notifier (Subscribers table stream): its dependencies from the runtime's variables, clock
 * and AWS settings, see `seller-notifier-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in
 * its own.
 */
import { eventBridgeClient } from '../core/aws-clients.ts';
import { readEnvironment, sellerNotifierEnvironment } from '../core/environment.ts';
import { createSellerNotifier } from './seller-notifier-handler.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function sellerNotifierFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(sellerNotifierEnvironment, runtime.variables);
  const observability = observabilityOf('seller-notifier', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;

  return observed(
    createSellerNotifier({
      events: tracer.captureAWSv3Client(eventBridgeClient(environment.EVENTS_ENDPOINT, runtime.aws)),
      busName: environment.EVENT_BUS_NAME,
      source: environment.EVENT_SOURCE,
      logger,
    }),
    observability,
  );
}
