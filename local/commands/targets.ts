/**
 * Where `npm run meter` and `npm run report` work: the tables and Marketplace that the environment names, the running
 * `npm start` by default. With endpoints set to the empty string they reach AWS itself, with the credentials and
 * region of the usual AWS environment variables or profile, so the same commands serve a deployed stack:
 *
 * ```sh
 * npm run meter -- --dry-run                                    # the local stack
 * DYNAMODB_ENDPOINT= MARKETPLACE_ENDPOINT= AWS_REGION=us-east-1 \
 *   SUBSCRIBERS_TABLE=<SubscribersTableName> USAGE_TABLE=<UsageTableName> npm run meter -- --dry-run
 * ```
 *
 * Against the simulator the time is the simulator's (the local stack runs on it), against AWS the machine's.
 */
import type { Clock } from '../../lambdas/core/clock.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { loadLocalConfig, portFromEnvironment } from '../config.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import type { Config } from '../../lib/config.ts';

export interface CommandTargets {
  readonly config: Config;
  /** Undefined: AWS's own endpoint. */
  readonly dynamoDbEndpoint?: string;
  readonly marketplaceEndpoint?: string;
  readonly subscribersTable: string;
  readonly usageTable: string;
  /** The simulator's clock when Marketplace is the simulator, else the machine's. */
  readonly clock: Clock;
}

/** The variable's value; the empty string means "AWS's own endpoint". */
function endpoint(variable: string, local: string): string | undefined {
  const value = process.env[variable];
  if (value === undefined) return local;
  return value === '' ? undefined : value;
}

export async function commandTargets(): Promise<CommandTargets> {
  const dynamoDbEndpoint = endpoint(
    'DYNAMODB_ENDPOINT',
    `http://127.0.0.1:${portFromEnvironment('DYNAMODB_PORT', 8000)}`,
  );
  const marketplaceEndpoint = endpoint(
    'MARKETPLACE_ENDPOINT',
    `http://127.0.0.1:${portFromEnvironment('SIMULATOR_PORT', 4010)}`,
  );
  if (dynamoDbEndpoint !== undefined || marketplaceEndpoint !== undefined) {
    // Any credentials sign requests to local endpoints; real ones must never be sent there.
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    process.env.AWS_REGION ??= 'us-east-1';
  }
  return {
    config: loadLocalConfig(),
    ...(dynamoDbEndpoint === undefined ? {} : { dynamoDbEndpoint }),
    ...(marketplaceEndpoint === undefined ? {} : { marketplaceEndpoint }),
    subscribersTable: process.env.SUBSCRIBERS_TABLE || 'Subscribers',
    usageTable: process.env.USAGE_TABLE || 'Usage',
    clock: marketplaceEndpoint === undefined ? systemClock : await simulatorClock(marketplaceEndpoint),
  };
}

/** The simulator's time, read once and then carried forward with real time as its clock does (unless frozen). */
async function simulatorClock(simulatorUrl: string): Promise<Clock> {
  const { now, running } = await new SimulatorControl(simulatorUrl).clock();
  const offsetMs = new Date(now).getTime() - Date.now();
  return { now: () => (running ? new Date(Date.now() + offsetMs) : new Date(now)) };
}
