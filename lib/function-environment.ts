/**
 * The configuration-derived environment variables of the functions, in the form their contract
 * (`lambdas/core/environment.ts`) reads. The CDK constructs and the local stack both call these, so a function sees
 * the same configuration in AWS and on a laptop. Plain data: no CDK here.
 */
import type { Config } from './config.ts';

/**
 * `POWERTOOLS_TRACE_ENABLED`: whether the function sends X-Ray traces. Every deployed function has it; a function
 * without it (the local stack's) traces nothing.
 */
export function tracingVariable(enabled: boolean): { POWERTOOLS_TRACE_ENABLED: string } {
  return { POWERTOOLS_TRACE_ENABLED: String(enabled) };
}

/** `PRODUCTS`: the products this deployment sells, for every function that meets a product code. */
export function productsVariable(config: Config): { PRODUCTS: string } {
  return {
    PRODUCTS: JSON.stringify(config.products.map(({ code, name, identityModel }) => ({ code, name, identityModel }))),
  };
}

/** `PRODUCTS` and `REGISTRATION`: what the fulfillment URL and the registration page need to know. */
export function registrationVariables(config: Config): { PRODUCTS: string; REGISTRATION: string } {
  return { ...productsVariable(config), REGISTRATION: JSON.stringify(config.registration) };
}

/** `FINAL_METERING_GRACE_SECONDS`: how long after a cancellation final usage is accepted (and the buyer let in). */
export function finalMeteringGraceVariable(config: Config): { FINAL_METERING_GRACE_SECONDS: string } {
  return { FINAL_METERING_GRACE_SECONDS: String(config.lifecycle.finalMeteringGraceMinutes * 60) };
}

/**
 * `METERED_DIMENSIONS` and `METERING`: which dimensions of each product are billed from usage, and how the metering
 * functions meter it (the schedule itself is the stack's business).
 */
export function meteringVariables(config: Config): { METERED_DIMENSIONS: string; METERING: string } {
  const {
    closedHourGraceMinutes,
    acceptanceWindowHours,
    finalHourMarginMinutes,
    zeroUsageRecords,
    callsPerSecond,
    eventIdRetentionDays,
  } = config.metering;
  return {
    METERED_DIMENSIONS: JSON.stringify(
      Object.fromEntries(
        config.products.map((product) => [
          product.code,
          product.dimensions.filter((dimension) => dimension.kind === 'metered').map((dimension) => dimension.name),
        ]),
      ),
    ),
    METERING: JSON.stringify({
      closedHourGraceMinutes,
      acceptanceWindowHours,
      finalHourMarginMinutes,
      zeroUsageRecords,
      callsPerSecond,
      eventIdRetentionDays,
    }),
  };
}
