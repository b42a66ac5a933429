/**
 * The wiring of the lifecycle queue's consumer: its dependencies from the runtime's variables, clock and AWS settings,
 * see `lifecycle-handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in its own.
 */
import { documentClient, entitlementClient } from '../core/aws-clients.ts';
import { lifecycleEnvironment, readEnvironment } from '../core/environment.ts';
import { LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { createLifecycleHandler } from './lifecycle-handler.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function lifecycleFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(lifecycleEnvironment, runtime.variables);
  const observability = observabilityOf('lifecycle', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;

  return observed(
    createLifecycleHandler({
      lifecycle: new LifecycleRepository(
        tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
        environment.SUBSCRIBERS_TABLE,
        environment.FINAL_METERING_GRACE_SECONDS,
      ),
      entitlements: tracer.captureAWSv3Client(entitlementClient(environment.ENTITLEMENT_ENDPOINT, runtime.aws)),
      products: environment.PRODUCTS,
      clock: runtime.clock,
      logger,
    }),
    observability,
  );
}
