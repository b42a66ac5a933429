/**
 * What a function's wiring takes from the place it runs: its environment variables, its clock, its log level and how
 * its AWS clients sign. In Lambda that is `process.env`, the system clock and the SDK's own region and credentials
 * (`lambdaRuntime`); the local stack gives each of its functions a runtime of its own (its variables, the simulator's
 * clock, local credentials), so that several local stacks can run in one process without touching its globals.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { systemClock, type Clock } from './clock.ts';

export interface AwsClientSettings {
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface FunctionRuntime {
  /** The function's environment variables (`contracts/function-environment.ts` names each function's). */
  readonly variables: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  /** Powertools' log level; unset, `POWERTOOLS_LOG_LEVEL` decides, as in Lambda. */
  readonly logLevel?: LogLevel;
  /** The AWS clients' region and credentials; unset, the SDK finds them, as in Lambda. */
  readonly aws?: AwsClientSettings;
  /** Whether the metering functions publish CloudWatch metrics (EMF on stdout); unset, they do. */
  readonly metrics?: boolean;
}

/** How a function runs in Lambda. */
export const lambdaRuntime: FunctionRuntime = { variables: process.env, clock: systemClock };

/** A function's logger, at the runtime's log level. */
export function loggerOf(serviceName: string, runtime: FunctionRuntime): Logger {
  return new Logger({ serviceName, ...(runtime.logLevel === undefined ? {} : { logLevel: runtime.logLevel }) });
}
