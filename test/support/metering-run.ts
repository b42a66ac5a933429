/**
 * The metering run wired to DynamoDB Local and a simulator as the metering function wires it: the real SDK clients,
 * the SDK's own retries off, and every `BatchMeterUsage` request recorded as it goes out. A run reads every pending
 * bucket and every live subscriber of its tables, so each test gets tables of its own.
 */
import type { BatchMeterUsageRequest } from '@aws-sdk/client-marketplace-metering';
import { randomBytes } from 'node:crypto';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import {
  meterUsage,
  type MeteringDependencies,
  type MeteringRunOptions,
} from '../../lambdas/core/metering/run/metering-run.ts';
import { createTables } from '../../local/dynamodb/tables.ts';
import type { DynamoDbForTests } from './dynamodb.ts';
import { meteringClient } from './simulator.ts';

export interface MeteringTables {
  readonly endpoint: string;
  readonly usage: string;
  readonly subscribers: string;
}

export async function freshTables(dynamoDb: DynamoDbForTests): Promise<MeteringTables> {
  const tables = await createTables(dynamoDb.client, {
    prefix: `${dynamoDb.prefix}${randomBytes(4).toString('hex')}-`,
  });
  return { endpoint: dynamoDb.endpoint, usage: tables.Usage, subscribers: tables.Subscribers };
}

export interface MeteringHarness {
  readonly dependencies: MeteringDependencies;
  /** Every `BatchMeterUsage` request sent, in order, one per attempt. */
  readonly requests: BatchMeterUsageRequest[];
  readonly run: (options: MeteringRunOptions) => ReturnType<typeof meterUsage>;
}

/** As deployed by default: final usage taken for an hour after a cancellation, the final hour sent 15 minutes early. */
export const FINAL_METERING = { graceSeconds: 3600, finalHourMarginMinutes: 15 } as const;

/** Pauses are skipped: backoff and rate limiting are unit-tested with their own clocks. */
export const noSleep = () => Promise.resolve();

export function meteringHarness(
  tables: MeteringTables,
  simulatorUrl: string,
  overrides: Partial<MeteringDependencies> & Pick<MeteringDependencies, 'products'>,
): MeteringHarness {
  const requests: BatchMeterUsageRequest[] = [];
  const metering = meteringClient(simulatorUrl);
  metering.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'BatchMeterUsageCommand') {
        requests.push(structuredClone(args.input as BatchMeterUsageRequest));
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordBatchMeterUsage' },
  );
  const dependencies: MeteringDependencies = {
    client: documentClient(tables.endpoint),
    usageTable: tables.usage,
    subscribersTable: tables.subscribers,
    metering,
    closedHourGraceMinutes: 5,
    acceptanceWindowHours: 24,
    finalMetering: FINAL_METERING,
    callsPerSecond: 1000,
    zeroUsageRecords: false,
    sleep: noSleep,
    ...overrides,
  };
  return { dependencies, requests, run: (options) => meterUsage(dependencies, options) };
}
