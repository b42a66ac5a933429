/**
 * The wiring of the scheduled sweep that ends subscriptions whose final-metering window has passed: its dependencies
 * from the runtime's variables, clock and AWS settings. The Lambda entry runs it in Lambda's runtime; the local stack,
 * in its own.
 */
import { documentClient } from '../core/aws-clients.ts';
import { finalMeteringWindowsEnvironment, readEnvironment } from '../core/environment.ts';
import { FinalMeteringSweepIncompleteError, LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function finalMeteringWindowsFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(finalMeteringWindowsEnvironment, runtime.variables);
  const observability = observabilityOf('final-metering-windows', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;
  const lifecycle = new LifecycleRepository(
    tracer.captureAWSv3Client(documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws)),
    environment.SUBSCRIBERS_TABLE,
    environment.FINAL_METERING_GRACE_SECONDS,
  );

  return observed(async () => {
    try {
      const closed = await lifecycle.closeFinalMeteringWindows(runtime.clock.now());
      logger.info('Final-metering windows closed', { count: closed.length, subscriberIds: closed });
      return { closed: closed.length };
    } catch (error) {
      if (error instanceof FinalMeteringSweepIncompleteError) {
        logger.error('Final-metering windows left open', { closed: error.closed, failures: error.failures });
      }
      // The run fails, so the alarm on the sweep's errors fires; the next run tries the rest again.
      throw error;
    }
  }, observability);
}
