/**
 * The metering run: every usage bucket that is due (see `bucket-timing.ts`: a live subscriber's hour once it has closed
 * past the grace for late usage; an ending subscriber's hours at once, its final hour near its final-metering
 * deadline) is frozen, sent to Marketplace with `BatchMeterUsage` and settled `billed`, `rejected` (with its reason)
 * or, once Marketplace would no longer take it, `expired`; what cannot be settled now stays pending, frozen, for the
 * next run.
 *
 * Three scopes: the hourly run (every closed hour, from the `pending` index), one subscriber's final metering (its own
 * partition), and every ending subscriber's (the `ending` index), which a schedule repeats every minute so that a
 * failed final send is retried inside the final-metering window.
 *
 * A pipeline of stages, each pulling from the one before only what it can handle, so that the first call goes out
 * within moments and memory stays bounded whatever the backlog: find (pages of the index, oldest hour first) -> prepare
 * (decide, freeze) -> batch (25 records a call) -> send (paced under the quota, retried) -> settle. With a time budget
 * the run stops finding new buckets when it runs out, finishes what it has started, and says so (`handOver`): the next
 * run carries on from the oldest bucket still pending.
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
import type { ItemKey } from '../../table-keys.ts';
import { expiryOf } from '../bucket/acceptance-window.ts';
import { bucketItemOf, SETTLED_STATES, type BucketItem } from '../bucket/bucket-item.ts';
import { BucketLedger } from './bucket-ledger.ts';
import { bucketTiming, recordTimestampOf, type FinalMeteringSettings } from '../bucket/bucket-timing.ts';
import { batchCalls, MAX_RECORDS_PER_CALL, type PlannedCall, type PlannedRecord } from './batch-plan.ts';
import { BatchSubmitter, type RecordOutcome, type SubmissionCounters } from './batch-submitter.ts';
import { forEachConcurrently, mapConcurrently, prefetched, takeUntil } from './concurrently.ts';
import { dueBuckets, type DueBucket, type MeteringScope } from './due-buckets.ts';
import { MeteringSubscribers, type IdentityLookup } from './metering-subscribers.ts';
import { RunTally, type MeteringRunSummary } from './metering-summary.ts';
import { RateLimiter, type Sleep } from './rate-limiter.ts';
import type { RetryPolicy } from './retry-policy.ts';
import { hourOf } from '../bucket/usage-bucket.ts';
import { usageRecordOf, type MeteringIdentity } from './usage-record.ts';
import type { ProductDimensions } from './zero-usage.ts';

export type { MeteringRunSummary, PlannedBatch } from './metering-summary.ts';
export type { ProductDimensions } from './zero-usage.ts';
export type { MeteringScope } from './due-buckets.ts';

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
  /** Milliseconds on a monotonic clock, for the time budget and the run's pace. */
  readonly elapsed?: () => number;
}

export interface MeteringRunOptions {
  readonly now: Date;
  /** Find and plan, and report the calls; write nothing, send nothing. */
  readonly dryRun?: boolean;
  /**
   * Meter one subscriber's buckets (its final metering, when it is ending), or every ending subscriber's (`ending`),
   * instead of every closed hour's.
   */
  readonly scope?: MeteringScope;
  /**
   * How long the run may take new buckets, in milliseconds of `elapsed`: then it finishes what it has started and
   * hands over (`handOver` in its summary). No limit when absent.
   */
  readonly timeBudgetMs?: number;
}

/** Buckets being prepared (decided, frozen) at once: enough to keep 10 calls of 25 records a second fed. */
const PREPARE_CONCURRENCY = 128;
/** Records settled at once after a call. */
const SETTLE_CONCURRENCY = 16;
/** Calls in flight at once (the rate limiter still spaces them): a slow answer does not hold the others up. */
const MAX_CONCURRENT_CALLS = 10;
/** AWS's quota: `BatchMeterUsage` calls per second per account and region. */
const AWS_CALLS_PER_SECOND = 10;
/**
 * The share of the quota the run paces at: AWS counts calls in a sliding second, and a call's arrival jitters by a few
 * milliseconds, so pacing at exactly the quota gets some calls throttled.
 */
const QUOTA_HEADROOM = 0.99;
/** How many subscribers' identities a run keeps at once: a bounded cache, whatever the number of subscribers. */
const IDENTITY_CACHE_SIZE = 10_000;

const silentLogger: MeteringLogger = { info: () => {}, warn: () => {}, error: () => {} };

interface Sendable {
  readonly bucket: BucketItem;
  readonly identity: MeteringIdentity;
}

export async function meterUsage(
  dependencies: MeteringDependencies,
  options: MeteringRunOptions,
): Promise<MeteringRunSummary> {
  return new MeteringRun(dependencies, options).meter();
}

class MeteringRun {
  private readonly now: Date;
  private readonly dryRun: boolean;
  private readonly dueBefore: Date;
  private readonly logger: MeteringLogger;
  private readonly ledger: BucketLedger;
  private readonly subscribers: MeteringSubscribers;
  private readonly tally: RunTally;
  private readonly elapsed: () => number;
  private readonly startedAt: number;
  private readonly callsPerSecond: number;

  constructor(
    private readonly dependencies: MeteringDependencies,
    private readonly options: MeteringRunOptions,
  ) {
    this.now = options.now;
    this.dryRun = options.dryRun ?? false;
    this.dueBefore = hourOf(new Date(this.now.getTime() - dependencies.closedHourGraceMinutes * 60_000));
    this.logger = dependencies.logger ?? silentLogger;
    this.ledger = new BucketLedger(dependencies.client, dependencies.usageTable);
    this.subscribers = new MeteringSubscribers(dependencies.client, dependencies.subscribersTable, IDENTITY_CACHE_SIZE);
    this.tally = new RunTally(this.now, this.dueBefore, this.dryRun);
    this.elapsed = dependencies.elapsed ?? (() => performance.now());
    this.startedAt = this.elapsed();
    this.callsPerSecond = dependencies.callsPerSecond ?? AWS_CALLS_PER_SECOND;
  }

  async meter(): Promise<MeteringRunSummary> {
    const calls = batchCalls(this.sendable(), (entry) => this.tooLarge(entry.source));
    if (this.dryRun) {
      const batches = [];
      for await (const call of calls) {
        batches.push({
          ...(call.productCode === undefined ? {} : { productCode: call.productCode }),
          records: call.records.map((entry) => entry.record),
        });
        for (const { source } of call.records) this.tally.leavePending(source.hour);
      }
      this.tally.batches = batches;
      return this.summary(undefined);
    }
    const sleep = this.dependencies.sleep ?? ((ms: number) => realSleep(ms));
    const submitter = new BatchSubmitter({
      call: (request) => this.dependencies.metering.send(new BatchMeterUsageCommand(request)),
      limiter: new RateLimiter({ callsPerSecond: this.callsPerSecond * QUOTA_HEADROOM, sleep }),
      sleep,
      ...(this.dependencies.retryPolicy === undefined ? {} : { policy: this.dependencies.retryPolicy }),
    });
    const concurrentCalls = Math.max(1, Math.min(MAX_CONCURRENT_CALLS, Math.ceil(this.callsPerSecond)));
    await forEachConcurrently(prefetched(calls, 4 * concurrentCalls), concurrentCalls, (call) =>
      this.sendAndSettle(submitter, call),
    );
    return this.summary(submitter.counters);
  }

  /** Find and prepare: the buckets due now, frozen, as records ready to send, oldest first. */
  private async *sendable(): AsyncGenerator<PlannedRecord<BucketItem>> {
    const found = dueBuckets(
      {
        ledger: this.ledger,
        subscribers: this.subscribers,
        products: this.dependencies.products,
        zeroUsageRecords: this.dependencies.zeroUsageRecords,
        finalMeteringGraceSeconds: this.dependencies.finalMetering.graceSeconds,
        onZeroUsage: (outcome, bucket, error) => {
          if (outcome === 'made') this.tally.zeroUsage++;
          else {
            // A missing zero record is no lost usage: it must not keep the run from metering the rest.
            this.tally.zeroUsageFailures++;
            this.logger.error('Zero-usage record not made', { ...bucket, error: String(error) });
          }
        },
      },
      { dueBefore: this.dueBefore, now: this.now, scope: this.options.scope, dryRun: this.dryRun },
    );
    const budget = this.options.timeBudgetMs;
    const taken = takeUntil(found, () => {
      const out = budget !== undefined && this.elapsed() - this.startedAt >= budget;
      if (out) this.tally.handOver = true;
      return out;
    });
    const prepared = mapConcurrently(taken, PREPARE_CONCURRENCY, async (candidate) => {
      this.tally.due++;
      try {
        return await this.prepare(candidate);
      } catch (error) {
        this.leavePending(candidate.coordinates?.hour ?? this.now, 'bucket could not be prepared', {
          key: candidate.key,
          error: String(error),
        });
        return undefined;
      }
    });
    for await (const ready of prepared) {
      if (ready !== undefined)
        yield { record: usageRecordOf(ready.bucket, ready.identity), ...ready, source: ready.bucket };
    }
  }

  /**
   * The bucket frozen and ready to send, or `undefined` once it is settled (or found settled) or is not due yet. What
   * decides is the subscriber's, so it is read first: an ending subscriber's final hour must stay open for late usage.
   */
  private async prepare(candidate: DueBucket): Promise<Sendable | undefined> {
    if (candidate.state !== undefined && SETTLED_STATES.has(candidate.state)) return undefined;
    const subscriberId = candidate.coordinates?.subscriberId;
    const hour = candidate.coordinates?.hour;
    const lookup = subscriberId === undefined ? undefined : await this.subscribers.identityOf(subscriberId);
    const lifecycle = lookup === undefined || lookup.kind === 'unknown' ? {} : lookup.lifecycle;
    if (hour !== undefined && subscriberId !== undefined) {
      const timing = bucketTiming(hour, lifecycle, this.now, this.dueBefore, this.dependencies.finalMetering);
      switch (timing.kind) {
        case 'not-yet':
          // A bucket frozen already takes no more usage: holding it back would only delay its answer.
          if (candidate.state !== 'frozen') {
            this.tally.waiting++;
            return undefined;
          }
          break;
        case 'after-end':
          await this.freezeAndReject(candidate, hour, 'after-subscription-end');
          return undefined;
        case 'final-window-passed':
          await this.expire(candidate.key, 'final-window-passed', {
            subscriberId,
            hour,
            deadline: timing.deadline.toISOString(),
          });
          return undefined;
        case 'due':
          break;
      }
      const expiry = expiryOf(hour, this.now, this.dependencies.acceptanceWindowHours);
      if (expiry !== undefined) {
        await this.expire(candidate.key, expiry);
        return undefined;
      }
    }
    const timestamp = hour === undefined ? this.now : recordTimestampOf(hour, lifecycle);
    const item = await this.freeze(candidate.key, timestamp);
    const bucket = item === undefined ? this.zeroBucketOf(candidate, timestamp) : bucketItemOf(item);
    if (bucket === undefined) {
      if (item !== undefined) {
        this.logger.error('Malformed usage bucket rejected', { key: candidate.key });
        await this.rejectKey(candidate.key, 'malformed-bucket');
      }
      return undefined;
    }
    if (SETTLED_STATES.has(bucket.state)) {
      this.tally.settledElsewhere++;
      return undefined;
    }
    return this.sendableOf(bucket, lookup ?? (await this.subscribers.identityOf(bucket.subscriberId)));
  }

  /** Freezes the bucket (a dry run only reads it). */
  private freeze(key: ItemKey, recordTimestamp: Date): Promise<Record<string, unknown> | undefined> {
    return this.dryRun ? this.ledger.read(key) : this.ledger.freeze(key, { now: this.now, recordTimestamp });
  }

  private async sendableOf(bucket: BucketItem, lookup: IdentityLookup): Promise<Sendable | undefined> {
    if (lookup.kind === 'unknown') {
      this.logger.warn('Usage of an unknown subscriber rejected', {
        subscriberId: bucket.subscriberId,
        key: bucket.key,
      });
      await this.reject(bucket, 'unknown-subscriber', undefined);
      return undefined;
    }
    if (lookup.kind === 'incomplete') {
      this.leavePending(bucket.hour, 'subscriber identity incomplete', {
        subscriberId: bucket.subscriberId,
        missing: lookup.missing,
      });
      return undefined;
    }
    return { bucket, identity: lookup.identity };
  }

  /** An hour after the subscription ended: frozen (so that no more usage joins it) and settled without a send. */
  private async freezeAndReject(candidate: DueBucket, hour: Date, reason: string): Promise<void> {
    const item = await this.freeze(candidate.key, hour);
    const bucket = item === undefined ? undefined : bucketItemOf(item);
    if (bucket === undefined || SETTLED_STATES.has(bucket.state)) return;
    this.logger.warn('Usage after the subscription ended rejected unsent', {
      key: candidate.key,
      units: bucket.quantity,
    });
    await this.reject(bucket, reason, undefined);
  }

  /** A dry run's zero-usage bucket that a real run would create: empty, open. */
  private zeroBucketOf(candidate: DueBucket, timestamp: Date): BucketItem | undefined {
    if (!this.dryRun || candidate.zero !== true || candidate.coordinates === undefined) return undefined;
    const { subscriberId, hour, dimension } = candidate.coordinates;
    return {
      key: candidate.key,
      subscriberId,
      dimension,
      hour,
      timestamp,
      quantity: 0,
      state: 'open',
      frozenAt: undefined,
      reason: undefined,
      allocations: [],
    };
  }

  /** Send and settle: one call, then each of its records' outcomes on its bucket. */
  private async sendAndSettle(submitter: BatchSubmitter, call: PlannedCall<BucketItem>): Promise<void> {
    const outcomes = await submitter.submit(
      call.productCode,
      call.records.map((entry) => entry.record),
    );
    const unsent = outcomes.filter((outcome) => outcome.kind === 'unsent');
    if (unsent.length > 0) {
      this.logger.warn('Usage left pending: not sent', { records: unsent.length, reason: unsent[0]!.reason });
    }
    await forEachConcurrently(
      call.records.map((entry, index) => ({ bucket: entry.source, outcome: outcomes[index]! })),
      SETTLE_CONCURRENCY,
      ({ bucket, outcome }) => this.settle(bucket, outcome),
    );
  }

  private async settle(bucket: BucketItem, outcome: RecordOutcome): Promise<void> {
    try {
      switch (outcome.kind) {
        case 'billed':
          if (await this.ledger.settleBilled(bucket.key, outcome, this.now)) this.tally.billed++;
          else this.tally.settledElsewhere++;
          return;
        case 'rejected':
          if (outcome.reason === 'DuplicateRecord') {
            // Another quantity was billed for this customer-hour: the freeze is meant to make that impossible.
            this.logger.error('Marketplace answered DuplicateRecord', {
              key: bucket.key,
              requestId: outcome.requestId,
            });
          }
          await this.reject(bucket, outcome.reason, outcome.requestId);
          return;
        case 'unsent':
          this.tally.leavePending(bucket.hour);
          return;
      }
    } catch (error) {
      // The record went out; the next run sends it again, identical, and settles it then.
      this.leavePending(bucket.hour, 'outcome could not be recorded', { key: bucket.key, error: String(error) });
    }
  }

  private async tooLarge(bucket: BucketItem): Promise<void> {
    this.logger.error('Usage bucket too large for any request rejected', { key: bucket.key });
    await this.reject(bucket, 'record-too-large', undefined);
  }

  /** `missed`: the final-metering deadline passed with usage unsent, which the caller is alarmed about. */
  private async expire(
    key: ItemKey,
    reason: string,
    missed?: { readonly subscriberId: string; readonly hour: Date; readonly deadline: string },
  ): Promise<void> {
    if (this.dryRun) {
      this.tally.expired++;
      return;
    }
    const { expired, frozenEarlier } = await this.ledger.expire(key, reason, this.now);
    if (!expired) {
      this.tally.settledElsewhere++;
      return;
    }
    this.tally.expired++;
    if (frozenEarlier) {
      // An earlier run froze it and may have sent it without learning the answer: CloudTrail tells whether it billed.
      this.tally.unconfirmedSends++;
      this.logger.error('Usage bucket expired after an unconfirmed send', { key, reason });
    }
    if (missed !== undefined) {
      const units = (await this.ledger.read(key))?.quantity;
      if (typeof units === 'number' && units > 0) {
        this.tally.missFinalDeadline(units);
        this.logger.error('Final metering missed its deadline: usage expired unbilled', {
          ...missed,
          hour: missed.hour.toISOString(),
          key,
          units,
        });
      }
    }
  }

  /** Settles a bucket rejected, marking it when an earlier run froze it (and may have sent it unanswered). */
  private async reject(bucket: BucketItem, reason: string, requestId: string | undefined): Promise<void> {
    const unconfirmedSend = bucket.frozenAt !== undefined && Date.parse(bucket.frozenAt) < this.now.getTime();
    if (unconfirmedSend && reason !== 'DuplicateRecord') {
      // Marketplace may have billed the first send and refuse the resend now (the license ended, the hour aged).
      this.tally.unconfirmedSends++;
      this.logger.error('Usage bucket rejected after an unconfirmed send', { key: bucket.key, reason, requestId });
    }
    if (
      this.dryRun ||
      (await this.ledger.settleRejected(bucket.key, { reason, requestId, unconfirmedSend }, this.now))
    ) {
      this.tally.reject(reason);
    } else this.tally.settledElsewhere++;
  }

  /** A bucket that is not one: nothing to send, nothing to learn from its freeze. */
  private async rejectKey(key: ItemKey, reason: string): Promise<void> {
    const rejected = { reason, requestId: undefined, unconfirmedSend: false };
    if (this.dryRun || (await this.ledger.settleRejected(key, rejected, this.now))) this.tally.reject(reason);
    else this.tally.settledElsewhere++;
  }

  private leavePending(hour: Date, message: string, details: Record<string, unknown>): void {
    this.tally.leavePending(hour);
    this.logger.warn(`Usage left pending: ${message}`, details);
  }

  /** The caller reports the summary (the function's log line and metrics, or `npm run meter`'s output). */
  private summary(counters: SubmissionCounters | undefined): MeteringRunSummary {
    return this.tally.summary(counters, {
      durationMs: this.elapsed() - this.startedAt,
      quotaRecordsPerSecond: this.callsPerSecond * MAX_RECORDS_PER_CALL,
    });
  }
}
