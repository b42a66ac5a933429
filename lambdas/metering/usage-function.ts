/**
 * The wiring of `POST /usage`: its dependencies from the runtime's variables, clock and AWS settings, see `usage-
 * handler.ts`. The Lambda entry runs it in Lambda's runtime; the local stack, in its own.
 */
import { documentClient, DYNAMODB_SINGLE_ATTEMPT } from '../core/aws-clients.ts';
import { meteredProducts, readEnvironment, usageEnvironment } from '../core/environment.ts';
import { createUsageHandler } from './usage-handler.ts';
import type { FunctionRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';

export function usageFunction(runtime: FunctionRuntime) {
  const environment = readEnvironment(usageEnvironment, runtime.variables);
  const observability = observabilityOf('usage', runtime, environment.POWERTOOLS_TRACE_ENABLED);
  const { logger, tracer } = observability;

  return observed(
    createUsageHandler({
      client: tracer.captureAWSv3Client(
        documentClient(environment.DYNAMODB_ENDPOINT, runtime.aws, DYNAMODB_SINGLE_ATTEMPT),
      ),
      usageTable: environment.USAGE_TABLE,
      subscribersTable: environment.SUBSCRIBERS_TABLE,
      products: meteredProducts(environment.PRODUCTS, environment.METERED_DIMENSIONS),
      acceptanceWindowHours: environment.METERING.acceptanceWindowHours,
      eventIdRetentionDays: environment.METERING.eventIdRetentionDays,
      finalMetering: {
        graceSeconds: environment.FINAL_METERING_GRACE_SECONDS,
        finalHourMarginMinutes: environment.METERING.finalHourMarginMinutes,
      },
      clock: runtime.clock,
      logger,
    }),
    observability,
  );
}
