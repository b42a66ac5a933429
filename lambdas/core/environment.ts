/**
 * The functions' side of the environment contract (`contracts/function-environment.ts`): each function's variables,
 * validated once at cold start. Each schema has exactly the variables the contract names for its function, and parses
 * the JSON ones into the contract's shapes. A missing or malformed variable fails the cold start loudly rather than a
 * buyer's request quietly.
 */
import * as z from 'zod';
import {
  MONTH_END_CUTOFF_HOURS,
  REGISTRATION_FIELDS,
  type FUNCTION_ENVIRONMENT,
  type FunctionName,
  type MeteredDimensionsVariable,
  type MeteringVariable,
  type ProductsVariable,
  type RegistrationVariable,
} from '../../contracts/index.ts';
import { BackendError } from './errors.ts';

const json = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, context): z.output<T> => {
    try {
      return schema.parse(JSON.parse(text));
    } catch (error) {
      context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

/** Links a buyer may follow: web addresses only (a `javascript:` URL in a link would run in the buyer's page). */
const webUrl = () => z.url({ protocol: /^https?$/ });
const optionalUrl = webUrl().optional();

export const productsVariable = json(
  z
    .array(
      z.strictObject({
        code: z.string().min(1),
        name: z.string().min(1),
        identityModel: z.enum(['license', 'legacy']),
      }) satisfies z.ZodType<ProductsVariable>,
    )
    .min(1),
);

export type { RegistrationField } from '../../contracts/index.ts';

const registrationSettingsVariable = json(
  z.strictObject({
    appUrl: webUrl(),
    supportEmail: z.email().optional(),
    supportUrl: optionalUrl,
    logoUrl: optionalUrl,
    requiredFields: z.array(z.enum(REGISTRATION_FIELDS)),
    freeTrialLandingUrl: optionalUrl,
    sessionMinutes: z.number().int().positive(),
  }) satisfies z.ZodType<RegistrationVariable>,
);

export type RegistrationSettings = z.output<typeof registrationSettingsVariable>;
export type ProductListing = z.output<typeof productsVariable>[number];

type ShapeOf<Name extends FunctionName> = Record<(typeof FUNCTION_ENVIRONMENT)[Name][number], z.ZodType>;

/** A function's schema: the compiler holds its variables to exactly those the contract names for the function. */
function environmentOf<Name extends FunctionName, Shape extends ShapeOf<Name>>(
  _name: Name,
  shape: Shape & Record<Exclude<keyof Shape, keyof ShapeOf<Name>>, never>,
) {
  return z.object(shape);
}

/**
 * `POWERTOOLS_TRACE_ENABLED`: whether the function sends X-Ray traces. The stack sets it on every function, from
 * `observability.tracing`; where it is not set (the local stack, the tests) nothing is traced.
 */
const tracing = {
  POWERTOOLS_TRACE_ENABLED: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
};

/** Where the metering APIs are called: the configuration's `marketplaceRegion`, whose default is set there alone. */
const marketplaceRegion = z.string().min(1);

/** Variables every function has. The endpoints are set only locally, to reach DynamoDB Local and the simulator. */
const common = {
  ...tracing,
  SUBSCRIBERS_TABLE: z.string().min(1),
  DYNAMODB_ENDPOINT: optionalUrl,
};

export const fulfillmentEnvironment = environmentOf('fulfillment', {
  ...common,
  MARKETPLACE_REGION: marketplaceRegion,
  MARKETPLACE_ENDPOINT: optionalUrl,
  PRODUCTS: productsVariable,
  REGISTRATION: registrationSettingsVariable,
});

export const registrationPageEnvironment = environmentOf('registration-page', {
  ...common,
  PRODUCTS: productsVariable,
  REGISTRATION: registrationSettingsVariable,
});

export const sellerNotifierEnvironment = environmentOf('seller-notifier', {
  ...tracing,
  EVENT_BUS_NAME: z.string().min(1),
  EVENT_SOURCE: z.string().min(1),
  EVENTS_ENDPOINT: optionalUrl,
});

/** How long after an end request final usage is still accepted: the state machine's `ending` lasts this long. */
const finalMeteringGraceSeconds = z
  .string()
  .regex(/^[1-9]\d*$/, 'must be a whole number of seconds')
  .transform(Number)
  .pipe(
    z
      .number()
      .max(
        MONTH_END_CUTOFF_HOURS * 3600,
        `must be at most ${MONTH_END_CUTOFF_HOURS} hours (${MONTH_END_CUTOFF_HOURS * 3600} seconds), as the configuration allows`,
      ),
  );

export const lifecycleEnvironment = environmentOf('lifecycle', {
  ...common,
  PRODUCTS: productsVariable,
  /** The Entitlement Service exists in us-east-1 only; set only locally, to reach the simulator. */
  ENTITLEMENT_ENDPOINT: optionalUrl,
  FINAL_METERING_GRACE_SECONDS: finalMeteringGraceSeconds,
});

export const finalMeteringWindowsEnvironment = environmentOf('final-metering-windows', {
  ...common,
  FINAL_METERING_GRACE_SECONDS: finalMeteringGraceSeconds,
});

export const webhookEnvironment = environmentOf('webhook', {
  ...tracing,
  /** The seller's HTTPS endpoint. */
  WEBHOOK_URL: webUrl(),
  /** The Secrets Manager secret holding the signing key. */
  WEBHOOK_SECRET_ARN: z.string().min(1),
  /** The queue the events arrive through, to defer a failed delivery's retry. */
  WEBHOOK_QUEUE_URL: z.url(),
});

export const subscriberAccessEnvironment = environmentOf('subscriber-access', {
  ...common,
  FINAL_METERING_GRACE_SECONDS: finalMeteringGraceSeconds,
});

/** `METERED_DIMENSIONS`: product code -> the API names of its metered dimensions (what usage may be recorded for). */
export const meteredDimensionsVariable = json(
  z.record(z.string().min(1), z.array(z.string().min(1))) satisfies z.ZodType<MeteredDimensionsVariable>,
);

/** `METERING`: the `metering` section of the configuration that the functions act on. */
export const meteringSettingsVariable = json(
  z.strictObject({
    closedHourGraceMinutes: z.number().int().min(0),
    acceptanceWindowHours: z.number().int().min(1),
    finalHourMarginMinutes: z.number().int().min(1),
    zeroUsageRecords: z.boolean(),
    callsPerSecond: z.number().positive(),
    eventIdRetentionDays: z.number().int().positive(),
  }) satisfies z.ZodType<MeteringVariable>,
);

/** A product as metering sees it: how its buyers are identified and what usage it bills. */
export interface MeteredProduct {
  readonly code: string;
  readonly identityModel: ProductListing['identityModel'];
  readonly meteredDimensions: readonly string[];
}

export function meteredProducts(
  products: readonly ProductListing[],
  meteredDimensions: Readonly<Record<string, readonly string[]>>,
): MeteredProduct[] {
  return products.map(({ code, identityModel }) => ({
    code,
    identityModel,
    meteredDimensions: meteredDimensions[code] ?? [],
  }));
}

const meteringCommon = {
  ...common,
  USAGE_TABLE: z.string().min(1),
  PRODUCTS: productsVariable,
  METERED_DIMENSIONS: meteredDimensionsVariable,
  METERING: meteringSettingsVariable,
  FINAL_METERING_GRACE_SECONDS: finalMeteringGraceSeconds,
};

/** `POST /usage`: records the seller app's usage events into hourly buckets. */
export const usageEnvironment = environmentOf('usage', meteringCommon);

/** The metering runs: hourly, and final metering of ending subscribers. */
export const meteringEnvironment = environmentOf('metering', {
  ...meteringCommon,
  MARKETPLACE_REGION: marketplaceRegion,
  MARKETPLACE_ENDPOINT: optionalUrl,
  /** The CloudWatch namespace of the run's metrics, which the stack's alarms and dashboard read. */
  METRICS_NAMESPACE: z.string().min(1),
});

/** A function's environment lacks a variable, or holds one it cannot read: the function cannot start. */
export class FunctionEnvironmentError extends BackendError {
  override readonly name = 'FunctionEnvironmentError';
}

/** Parses a function's environment, naming every missing or malformed variable. */
export function readEnvironment<T extends z.ZodType>(
  schema: T,
  environment: Record<string, string | undefined> = process.env,
): z.output<T> {
  const result = schema.safeParse(environment);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const [name] = issue.path;
    const missing = typeof name === 'string' && environment[name] === undefined;
    return missing ? `${name}: missing` : `${issue.path.join('.')}: ${issue.message}`;
  });
  throw new FunctionEnvironmentError(`Invalid function environment:\n  ${problems.join('\n  ')}`);
}
