/**
 * The metering run: every usage bucket whose hour has closed (past the grace for late usage) is frozen, sent to
 * Marketplace with `BatchMeterUsage` and settled `billed`, `rejected` (with its reason) or, past the acceptance window,
 * `expired`; what cannot be settled now stays pending, frozen, for the next run.
 *
 * Why it bills every unit once, whatever fails:
 * - A bucket is frozen before it is sent and its record comes from the frozen bucket only (timestamp = its hour), so
 *   every send of it is identical: a retry, a rerun after a crash at any point, a second run at the same time. An
 *   identical resend is billed once by Marketplace and answered `Success` with the same id.
 * - A bucket leaves the `pending` index only when it is settled, and settling is conditional on it being unsettled,
 *   so a crash leaves it pending (never lost) and a second settle changes nothing.
 * - Usage that arrives after the freeze is carried into an open hour by the recorder, never added to a frozen bucket.
 */
import { BatchMeterUsageCommand, type MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { setTimeout as realSleep } from 'node:timers/promises';
import type { ItemKey } from '../table-keys.ts';
import { expiryOf } from './acceptance-window.ts';
import { bucketItemOf, SETTLED_STATES, type BucketItem } from './bucket-item.ts';
import { BucketLedger } from './bucket-ledger.ts';
import { planCalls, type PlannedRecord } from './batch-plan.ts';
import { BatchSubmitter, type RecordOutcome, type SubmissionCounters } from './batch-submitter.ts';
import { forEachConcurrently } from './concurrently.ts';
import { MeteringSubscribers } from './metering-subscribers.ts';
import { RunTally, type MeteringRunSummary } from './metering-summary.ts';
import { RateLimiter, type Sleep } from './rate-limiter.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { findDueBuckets, type DueBucket } from './due-buckets.ts';
import { HOUR_MS, hourOf } from './usage-bucket.ts';
import { usageRecordOf, type MeteringIdentity } from './usage-record.ts';
import type { ProductDimensions } from './zero-usage.ts';

export type { MeteringRunSummary, PlannedBatch } from './metering-summary.ts';
export type { ProductDimensions } from './zero-usage.ts';

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
  /** `BatchMeterUsage` calls per second at most: AWS's quota (10) unless given. */
  readonly callsPerSecond?: number;
  readonly zeroUsageRecords: boolean;
  readonly products: readonly ProductDimensions[];
  readonly logger?: MeteringLogger;
  /** Backoff and rate-limit pauses; tests make them instant. */
  readonly sleep?: Sleep;
  readonly retryPolicy?: RetryPolicy;
}

export interface MeteringRunOptions {
  readonly now: Date;
  /** Find and plan, and report the calls; write nothing, send nothing. */
  readonly dryRun?: boolean;
  /** The final flush of an ending subscriber: every unsettled bucket of its, the open hour included. */
  readonly subscriberId?: string;
}

/** Bucket reads and writes in flight at once: enough to keep up with 10 calls of 25 records a second. */
const BUCKET_CONCURRENCY = 16;
/** Calls in flight at once (the rate limiter still spaces them): a slow answer does not hold the others up. */
const MAX_CONCURRENT_CALLS = 10;
/** AWS's quota: `BatchMeterUsage` calls per second per account and region. */
const AWS_CALLS_PER_SECOND = 10;

const silentLogger: MeteringLogger = { info: () => {}, warn: () => {}, error: () => {} };

interface Sendable {
  readonly bucket: BucketItem;
  readonly identity: MeteringIdentity;
}

export async function meterUsage(
  dependencies: MeteringDependencies,
  options: MeteringRunOptions,
): Promise<MeteringRunSummary> {
  const { now, dryRun = false, subscriberId } = options;
  const logger = dependencies.logger ?? silentLogger;
  const ledger = new BucketLedger(dependencies.client, dependencies.usageTable);
  const subscribers = new MeteringSubscribers(dependencies.client, dependencies.subscribersTable);
  const dueBefore =
    subscriberId === undefined
      ? hourOf(new Date(now.getTime() - dependencies.closedHourGraceMinutes * 60_000))
      : new Date(hourOf(now).getTime() + HOUR_MS);
  const tally = new RunTally(now, dueBefore, dryRun);

  const due = await findDueBuckets(
    {
      ledger,
      subscribers,
      products: dependencies.products,
      zeroUsageRecords: dependencies.zeroUsageRecords,
      onZeroUsageFailure: (bucket, error) =>
        logger.error('Zero-usage record not made', { ...bucket, error: String(error) }),
    },
    { dueBefore, now, subscriberId, dryRun },
  );
  tally.due = due.buckets.length;
  tally.zeroUsage = due.zeroUsage;
  tally.zeroUsageFailures = due.zeroUsageFailures;

  const sendable: Sendable[] = [];
  await forEachConcurrently(due.buckets, BUCKET_CONCURRENCY, async (candidate) => {
    try {
      const ready = await prepare(candidate);
      if (ready !== undefined) sendable.push(ready);
    } catch (error) {
      leavePending(candidate.found?.hour ?? candidate.zero?.hour ?? now, 'bucket could not be prepared', {
        key: candidate.key,
        error: String(error),
      });
    }
  });

  const plan = planCalls(
    sendable.map(({ bucket, identity }): PlannedRecord<BucketItem> => ({
      record: usageRecordOf(bucket, identity),
      identity,
      order: JSON.stringify([bucket.subscriberId, bucket.hour.toISOString(), bucket.dimension]),
      source: bucket,
    })),
  );
  for (const { source } of plan.oversized) {
    logger.error('Usage bucket too large for any request rejected', { key: source.key });
    await settle(source, { kind: 'rejected', reason: 'record-too-large', requestId: undefined });
  }

  if (dryRun) {
    tally.batches = plan.calls.map((call) => ({
      ...(call.productCode === undefined ? {} : { productCode: call.productCode }),
      records: call.records.map((entry) => entry.record),
    }));
    for (const call of plan.calls) for (const { source } of call.records) tally.leavePending(source.hour);
    return finish(undefined);
  }

  const sleep = dependencies.sleep ?? ((ms: number) => realSleep(ms));
  const callsPerSecond = dependencies.callsPerSecond ?? AWS_CALLS_PER_SECOND;
  const submitter = new BatchSubmitter({
    call: (request) => dependencies.metering.send(new BatchMeterUsageCommand(request)),
    limiter: new RateLimiter({ callsPerSecond, sleep }),
    sleep,
    ...(dependencies.retryPolicy === undefined ? {} : { policy: dependencies.retryPolicy }),
  });
  const concurrentCalls = Math.max(1, Math.min(MAX_CONCURRENT_CALLS, Math.ceil(callsPerSecond)));
  await forEachConcurrently(plan.calls, concurrentCalls, async (call) => {
    const outcomes = await submitter.submit(
      call.productCode,
      call.records.map((entry) => entry.record),
    );
    const unsent = outcomes.filter((outcome) => outcome.kind === 'unsent');
    if (unsent.length > 0) {
      logger.warn('Usage left pending: not sent', { records: unsent.length, reason: unsent[0]!.reason });
    }
    await forEachConcurrently(
      call.records.map((entry, index) => ({ bucket: entry.source, outcome: outcomes[index]! })),
      BUCKET_CONCURRENCY,
      ({ bucket, outcome }) => settle(bucket, outcome),
    );
  });
  return finish(submitter.counters);

  /** The bucket frozen and ready to send, or `undefined` once it is settled (or found settled) or must wait. */
  async function prepare(candidate: DueBucket): Promise<Sendable | undefined> {
    // The index lags behind the table: a bucket settled a moment ago may still be listed.
    if (candidate.found !== undefined && SETTLED_STATES.has(candidate.found.state)) return undefined;
    const hour = candidate.found?.hour ?? candidate.zero?.hour;
    const expiry = hour === undefined ? undefined : expiryOf(hour, now, dependencies.acceptanceWindowHours);
    if (expiry !== undefined) {
      await expire(candidate.key, expiry);
      return undefined;
    }
    const item = dryRun ? await ledger.read(candidate.key) : await ledger.freeze(candidate.key, now);
    const bucket = item === undefined ? zeroBucketOf(candidate) : bucketItemOf(item);
    if (bucket === undefined) {
      if (item !== undefined) {
        logger.error('Malformed usage bucket rejected', { key: candidate.key });
        await reject(candidate.key, 'malformed-bucket', undefined);
      }
      return undefined;
    }
    if (SETTLED_STATES.has(bucket.state)) {
      tally.settledElsewhere++;
      return undefined;
    }
    const lookup = await subscribers.identityOf(bucket.subscriberId);
    if (lookup.kind === 'unknown') {
      logger.warn('Usage of an unknown subscriber rejected', { subscriberId: bucket.subscriberId, key: bucket.key });
      await reject(bucket.key, 'unknown-subscriber', undefined);
      return undefined;
    }
    if (lookup.kind === 'incomplete') {
      leavePending(bucket.hour, 'subscriber identity incomplete', {
        subscriberId: bucket.subscriberId,
        missing: lookup.missing,
      });
      return undefined;
    }
    return { bucket, identity: lookup.identity };
  }

  /** A dry run's zero-usage bucket that a real run would create: empty, open. */
  function zeroBucketOf(candidate: DueBucket): BucketItem | undefined {
    if (!dryRun || candidate.zero === undefined) return undefined;
    const { subscriberId: id, hour, dimension } = candidate.zero;
    return {
      key: candidate.key,
      subscriberId: id,
      dimension,
      hour,
      quantity: 0,
      state: 'open',
      frozenAt: undefined,
      reason: undefined,
      allocations: [],
    };
  }

  async function expire(key: ItemKey, reason: string): Promise<void> {
    if (dryRun) {
      tally.expired++;
      return;
    }
    const { expired, frozenEarlier } = await ledger.expire(key, reason, now);
    if (!expired) {
      tally.settledElsewhere++;
      return;
    }
    tally.expired++;
    if (frozenEarlier) {
      // An earlier run froze it and may have sent it without learning the answer: CloudTrail tells whether it billed.
      logger.error('Usage bucket expired after an unconfirmed send', { key, reason });
    }
  }

  async function reject(key: ItemKey, reason: string, requestId: string | undefined): Promise<void> {
    if (dryRun || (await ledger.settleRejected(key, reason, requestId, now))) tally.reject(reason);
    else tally.settledElsewhere++;
  }

  async function settle(bucket: BucketItem, outcome: RecordOutcome): Promise<void> {
    try {
      switch (outcome.kind) {
        case 'billed':
          if (await ledger.settleBilled(bucket.key, outcome, now)) tally.billed++;
          else tally.settledElsewhere++;
          return;
        case 'rejected':
          if (outcome.reason === 'DuplicateRecord') {
            // Another quantity was billed for this customer-hour: the freeze is meant to make that impossible.
            logger.error('Marketplace answered DuplicateRecord', { key: bucket.key, requestId: outcome.requestId });
          } else if (bucket.frozenAt !== undefined && Date.parse(bucket.frozenAt) < now.getTime()) {
            // An earlier run froze it and may have sent it without hearing back: Marketplace may have billed it then
            // and refuse the resend now (the license ended, the hour aged). CloudTrail tells which.
            logger.error('Usage bucket rejected after an unconfirmed send', {
              key: bucket.key,
              reason: outcome.reason,
              requestId: outcome.requestId,
            });
          }
          await reject(bucket.key, outcome.reason, outcome.requestId);
          return;
        case 'unsent':
          tally.leavePending(bucket.hour);
          return;
      }
    } catch (error) {
      // The record went out; the next run sends it again, identical, and settles it then.
      leavePending(bucket.hour, 'outcome could not be recorded', { key: bucket.key, error: String(error) });
    }
  }

  function leavePending(hour: Date, message: string, details: Record<string, unknown>): void {
    tally.leavePending(hour);
    logger.warn(`Usage left pending: ${message}`, details);
  }

  /** The caller reports the summary (the function's log line and metrics, or `npm run meter`'s output). */
  function finish(counters: SubmissionCounters | undefined): MeteringRunSummary {
    return tally.summary(counters);
  }
}
