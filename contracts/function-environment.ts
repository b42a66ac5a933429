/**
 * The environment contract between the stack and the functions: which variables each function reads at cold start,
 * and the shape of the JSON ones. The stack (`lib/function-environment.ts`) and the local stack write them; the
 * functions parse them with the schemas of `lambdas/core/environment.ts`, which are typed against these shapes.
 */

/** The registration form's fields, any of which the configuration may make required. */
export const REGISTRATION_FIELDS = ['company', 'contactName', 'email', 'phone'] as const;
export type RegistrationField = (typeof REGISTRATION_FIELDS)[number];

/** `PRODUCTS`: the products a deployment sells. */
export interface ProductsVariable {
  readonly code: string;
  readonly name: string;
  readonly identityModel: 'license' | 'legacy';
}

/** `REGISTRATION`: the registration page's settings. */
export interface RegistrationVariable {
  readonly appUrl: string;
  readonly supportEmail?: string | undefined;
  readonly supportUrl?: string | undefined;
  readonly logoUrl?: string | undefined;
  readonly requiredFields: readonly RegistrationField[];
  readonly freeTrialLandingUrl?: string | undefined;
  readonly sessionMinutes: number;
}

/** `METERING`: the `metering` section of the configuration that the functions act on. */
export interface MeteringVariable {
  readonly closedHourGraceMinutes: number;
  readonly acceptanceWindowHours: number;
  readonly finalHourMarginMinutes: number;
  readonly zeroUsageRecords: boolean;
  readonly callsPerSecond: number;
  readonly eventIdRetentionDays: number;
}

/** `METERED_DIMENSIONS`: product code -> the API names of its metered dimensions (what usage may be recorded for). */
export type MeteredDimensionsVariable = Readonly<Record<string, readonly string[]>>;

/** The variables every function reads (the endpoints are set only locally, to reach DynamoDB Local and the simulator). */
const COMMON = ['POWERTOOLS_TRACE_ENABLED', 'SUBSCRIBERS_TABLE', 'DYNAMODB_ENDPOINT'] as const;
const METERING_COMMON = [
  ...COMMON,
  'USAGE_TABLE',
  'PRODUCTS',
  'METERED_DIMENSIONS',
  'METERING',
  'FINAL_METERING_GRACE_SECONDS',
] as const;

/** Each function's variables, by its service name (`POWERTOOLS_SERVICE_NAME`). */
export const FUNCTION_ENVIRONMENT = {
  fulfillment: [...COMMON, 'MARKETPLACE_REGION', 'MARKETPLACE_ENDPOINT', 'PRODUCTS', 'REGISTRATION'],
  'registration-page': [...COMMON, 'PRODUCTS', 'REGISTRATION'],
  'seller-notifier': ['POWERTOOLS_TRACE_ENABLED', 'EVENT_BUS_NAME', 'EVENT_SOURCE', 'EVENTS_ENDPOINT'],
  'subscriber-access': [...COMMON, 'FINAL_METERING_GRACE_SECONDS'],
  usage: METERING_COMMON,
  metering: [...METERING_COMMON, 'MARKETPLACE_REGION', 'MARKETPLACE_ENDPOINT', 'METRICS_NAMESPACE'],
  'final-metering': [...METERING_COMMON, 'MARKETPLACE_REGION', 'MARKETPLACE_ENDPOINT', 'METRICS_NAMESPACE'],
  lifecycle: [...COMMON, 'PRODUCTS', 'ENTITLEMENT_ENDPOINT', 'FINAL_METERING_GRACE_SECONDS'],
  'final-metering-windows': [...COMMON, 'FINAL_METERING_GRACE_SECONDS'],
  webhook: ['POWERTOOLS_TRACE_ENABLED', 'WEBHOOK_URL', 'WEBHOOK_SECRET_ARN', 'WEBHOOK_QUEUE_URL'],
} as const;

export type FunctionName = keyof typeof FUNCTION_ENVIRONMENT;

/** The variables of one function, as the stack writes them: every value a string. */
export type FunctionEnvironment<Name extends FunctionName> = Partial<
  Record<(typeof FUNCTION_ENVIRONMENT)[Name][number], string>
>;
