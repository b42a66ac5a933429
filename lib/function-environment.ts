/**
 * The configuration-derived environment variables of the functions, in the form their contract
 * (`lambdas/core/environment.ts`) reads. The CDK constructs and the local stack both call these, so a function sees
 * the same configuration in AWS and on a laptop. Plain data: no CDK here.
 */
import type { Config } from './config.ts';

/** `PRODUCTS` and `REGISTRATION`: what the fulfillment URL and the registration page need to know. */
export function registrationVariables(config: Config): { PRODUCTS: string; REGISTRATION: string } {
  return {
    PRODUCTS: JSON.stringify(config.products.map(({ code, name, identityModel }) => ({ code, name, identityModel }))),
    REGISTRATION: JSON.stringify(config.registration),
  };
}
