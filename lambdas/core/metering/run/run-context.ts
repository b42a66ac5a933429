/**
 * What every stage of a metering run shares: the run's moment, its ledger (real or dry), the subscribers, the tally
 * of what happened and the logger.
 */
import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FinalMeteringSettings } from '../bucket/index.ts';
import type { MeteringSubscribers } from './metering-subscribers.ts';
import type { RunTally } from './metering-summary.ts';
import type { Sleep } from './rate-limiter.ts';
import type { RetryPolicy } from './retry-policy.ts';
import type { RunLedger } from './run-ledger.ts';
import type { ProductDimensions } from './zero-usage.ts';

/** The logger's shape (Powertools' `Logger` fits it). */
export interface MeteringLogger {
  info(message: string, details: Record<string, unknown>): void;
  warn(message: string, details: Record<string, unknown>): void;
  error(message: string, details: Record<string, unknown>): void;
}

export interface MeteringDependencies {
  readonly client: DynamoDBDocumentClient;
  readonly usageTable: string;
  readonly subscribersTable: string;
  /** Made with `maxAttempts: 1`: the run retries (and counts) on its own. */
  readonly metering: MarketplaceMeteringClient;
  readonly closedHourGraceMinutes: number;
  readonly acceptanceWindowHours: number;
  /** When an ending subscriber's usage is sent, and until when Marketplace takes it. */
  readonly finalMetering: FinalMeteringSettings;
  /** `BatchMeterUsage` calls per second at most: AWS's quota (10) unless given. */
  readonly callsPerSecond?: number;
  readonly zeroUsageRecords: boolean;
  readonly products: readonly ProductDimensions[];
  readonly logger?: MeteringLogger;
  /** Backoff and rate-limit pauses; tests make them instant. */
  readonly sleep?: Sleep;
  readonly retryPolicy?: RetryPolicy;
  /** For a call whose record the next hourly run may come too late for (`LAST_CHANCE_RETRY_POLICY` unless given). */
  readonly lastChanceRetryPolicy?: RetryPolicy;
  /** Milliseconds on a monotonic clock, for the time budget and the run's pace. */
  readonly elapsed?: () => number;
}

export interface RunContext {
  readonly dependencies: MeteringDependencies;
  readonly now: Date;
  /** A live subscriber's buckets of hours before this one are due. */
  readonly dueBefore: Date;
  readonly ledger: RunLedger;
  readonly subscribers: MeteringSubscribers;
  readonly tally: RunTally;
  readonly logger: MeteringLogger;
}
