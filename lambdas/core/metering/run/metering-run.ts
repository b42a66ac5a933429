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
 * A pipeline of named stages, each pulling from the one before only what it can handle, so that the first call goes
 * out within moments and memory stays bounded whatever the backlog: find (`due-buckets.ts`: pages of the index, oldest
 * hour first, within the time budget) -> prepare (`prepare.ts`: decide, freeze) -> batch (`batch-plan.ts`: 25 records
 * a call) -> send (`batch-submitter.ts`: paced under the quota, retried) -> settle (`settle.ts`). With a time budget
 * the run stops finding new buckets when it runs out, finishes what it has started, and says so (`handOver`): the next
 * run carries on from the oldest bucket still pending. A dry run is the same pipeline over a ledger that writes
 * nothing (`run-ledger.ts`), ending in a list of the calls instead of the send.
 *
 * Why it bills every unit once, whatever fails:
 * - A bucket is frozen before it is sent and its record comes from the frozen bucket only (timestamp = its hour), so
 *   every send of it is identical: a retry, a rerun after a crash at any point, a second run at the same time. An
 *   identical resend is billed once by Marketplace and answered `Success` with the same id.
 * - A bucket leaves the `pending` index only when it is settled, and settling is conditional on it being unsettled,
 *   so a crash leaves it pending (never lost) and a second settle changes nothing.
 * - Usage that arrives after the freeze is carried into an open hour by the recorder, never added to a frozen bucket.
 */
import { BatchMeterUsageCommand } from '@aws-sdk/client-marketplace-metering';
import { setTimeout as realSleep } from 'node:timers/promises';
import { acceptanceDeadline, type BucketItem, hourOf } from '../bucket/index.ts';
import { batchCalls, MAX_RECORDS_PER_CALL, type PlannedCall, type PlannedRecord } from './batch-plan.ts';
import { BatchSubmitter, type RetryExtension, type SubmissionCounters } from './batch-submitter.ts';
import { BucketLedger } from './bucket-ledger.ts';
import { forEachConcurrently, mapConcurrently, prefetched, takeUntil } from './concurrently.ts';
import { dueBuckets, type DueBucket, type MeteringScope } from './due-buckets.ts';
import { MeteringSubscribers } from './metering-subscribers.ts';
import { RunTally, type MeteringRunSummary } from './metering-summary.ts';
import { Preparer } from './prepare.ts';
import { RateLimiter } from './rate-limiter.ts';
import { LAST_CHANCE_RETRY_POLICY } from './retry-policy.ts';
import type { MeteringDependencies, MeteringLogger, RunContext } from './run-context.ts';
import { DryRunLedger } from './run-ledger.ts';
import { Settler } from './settle.ts';

export type { MeteringRunSummary, PlannedBatch } from './metering-summary.ts';
export type { ProductDimensions } from './zero-usage.ts';
export type { MeteringScope } from './due-buckets.ts';
export type { MeteringDependencies, MeteringLogger } from './run-context.ts';

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
/**
 * How long after this run the next hourly one may come to a bucket: within the hour, at its schedule minute, and after
 * whatever older buckets it sends first. A bucket whose acceptance window closes sooner has this run only.
 */
const NEXT_RUN_WITHIN_MS = 70 * 60_000;
/** How many subscribers' identities a run keeps at once: a bounded cache, whatever the number of subscribers. */
const IDENTITY_CACHE_SIZE = 10_000;

const silentLogger: MeteringLogger = { info: () => {}, warn: () => {}, error: () => {} };

export async function meterUsage(
  dependencies: MeteringDependencies,
  options: MeteringRunOptions,
): Promise<MeteringRunSummary> {
  const elapsed = dependencies.elapsed ?? (() => performance.now());
  const startedAt = elapsed();
  const dryRun = options.dryRun ?? false;
  const now = options.now;
  const dueBefore = hourOf(new Date(now.getTime() - dependencies.closedHourGraceMinutes * 60_000));
  const ledger = new BucketLedger(dependencies.client, dependencies.usageTable);
  const run: RunContext = {
    dependencies,
    now,
    dueBefore,
    ledger: dryRun ? new DryRunLedger(ledger) : ledger,
    subscribers: new MeteringSubscribers(dependencies.client, dependencies.subscribersTable, IDENTITY_CACHE_SIZE),
    tally: new RunTally(now, dueBefore, dryRun),
    logger: dependencies.logger ?? silentLogger,
  };
  const settler = new Settler(run);
  const preparer = new Preparer(run, settler);

  const spentMs = () => elapsed() - startedAt;
  const found = withinBudget(run, findDue(run, options.scope), options.timeBudgetMs, spentMs);
  const prepared = mapConcurrently(found, PREPARE_CONCURRENCY, (candidate) => preparer.prepare(candidate));
  const calls = batchCalls(sendable(prepared), (entry) => settler.rejectTooLarge(entry.source));
  const callsPerSecond = dependencies.callsPerSecond ?? AWS_CALLS_PER_SECOND;
  const runTime: RunTime = {
    now: () => new Date(now.getTime() + spentMs()),
    inBudget: () => options.timeBudgetMs === undefined || spentMs() < options.timeBudgetMs,
  };
  const lastChance = (call: PlannedCall<BucketItem>) => lastChanceOf(run, options.scope, call, runTime);
  const counters = dryRun
    ? await listCalls(run, calls)
    : await sendCalls(run, settler, calls, callsPerSecond, lastChance);
  return run.tally.summary(counters, {
    durationMs: spentMs(),
    quotaRecordsPerSecond: callsPerSecond * MAX_RECORDS_PER_CALL,
  });
}

/** Find: the buckets a run looks at, as a stream of pages read on demand. */
function findDue(run: RunContext, scope: MeteringScope): AsyncGenerator<DueBucket> {
  const { dependencies, tally, logger } = run;
  return dueBuckets(
    {
      ledger: run.ledger,
      subscribers: run.subscribers,
      products: dependencies.products,
      zeroUsageRecords: dependencies.zeroUsageRecords,
      finalMetering: dependencies.finalMetering,
      onZeroUsage: (outcome, bucket, error) => {
        if (outcome === 'made') tally.zeroUsage++;
        else {
          // A missing zero record is no lost usage: it must not keep the run from metering the rest.
          tally.zeroUsageFailures++;
          logger.error('Zero-usage record not made', { ...bucket, error: String(error) });
        }
      },
    },
    { dueBefore: run.dueBefore, now: run.now, scope },
  );
}

/** Stops taking new buckets once the time budget is spent, and marks the run as handing over. */
function withinBudget<T>(
  run: RunContext,
  items: AsyncIterable<T>,
  budgetMs: number | undefined,
  spentMs: () => number,
): AsyncGenerator<T> {
  return takeUntil(items, () => {
    const out = budgetMs !== undefined && spentMs() >= budgetMs;
    if (out) run.tally.handOver = true;
    return out;
  });
}

async function* sendable(
  prepared: AsyncIterable<PlannedRecord<BucketItem> | undefined>,
): AsyncGenerator<PlannedRecord<BucketItem>> {
  for await (const record of prepared) if (record !== undefined) yield record;
}

/** A dry run's last stage: the calls a real run would make, listed, each record counted as left pending. */
async function listCalls(run: RunContext, calls: AsyncIterable<PlannedCall<BucketItem>>): Promise<undefined> {
  const batches = [];
  for await (const call of calls) {
    batches.push({
      ...(call.productCode === undefined ? {} : { productCode: call.productCode }),
      records: call.records.map((entry) => entry.record),
    });
    for (const { source } of call.records) run.tally.leavePending(source.hour);
  }
  run.tally.batches = batches;
  return undefined;
}

/** The time as the run goes on, and whether its time budget still lasts. */
interface RunTime {
  readonly now: () => Date;
  readonly inBudget: () => boolean;
}

/**
 * For the hourly run, a call holding a record whose acceptance window closes before the next hourly run may come to
 * it: this run is its last chance, so it is retried for as long as the run's budget and that window last (final
 * metering runs every minute and has retries of its own).
 */
function lastChanceOf(
  run: RunContext,
  scope: MeteringScope,
  call: PlannedCall<BucketItem>,
  runTime: RunTime,
): RetryExtension | undefined {
  if (scope !== undefined) return undefined;
  const { acceptanceWindowHours } = run.dependencies;
  const closes = Math.min(
    ...call.records.map(({ source }) => acceptanceDeadline(source.hour, acceptanceWindowHours).getTime()),
  );
  if (closes - run.now.getTime() >= NEXT_RUN_WITHIN_MS) return undefined;
  return {
    policy: run.dependencies.lastChanceRetryPolicy ?? LAST_CHANCE_RETRY_POLICY,
    // A send after the window closed would be refused (and its batch split): the pause must end inside it.
    mayRetry: (pauseMs) => runTime.inBudget() && runTime.now().getTime() + pauseMs < closes,
  };
}

/** Send and settle: each call paced under the quota and retried, then each of its records' outcomes on its bucket. */
async function sendCalls(
  run: RunContext,
  settler: Settler,
  calls: AsyncIterable<PlannedCall<BucketItem>>,
  callsPerSecond: number,
  lastChanceOfCall: (call: PlannedCall<BucketItem>) => RetryExtension | undefined,
): Promise<SubmissionCounters> {
  const { dependencies, logger } = run;
  const sleep = dependencies.sleep ?? ((ms: number) => realSleep(ms));
  const submitter = new BatchSubmitter({
    call: (request) => dependencies.metering.send(new BatchMeterUsageCommand(request)),
    limiter: new RateLimiter({ callsPerSecond: callsPerSecond * QUOTA_HEADROOM, sleep }),
    sleep,
    ...(dependencies.retryPolicy === undefined ? {} : { policy: dependencies.retryPolicy }),
  });
  const concurrentCalls = Math.max(1, Math.min(MAX_CONCURRENT_CALLS, Math.ceil(callsPerSecond)));
  await forEachConcurrently(prefetched(calls, 4 * concurrentCalls), concurrentCalls, async (call) => {
    const lastChance = lastChanceOfCall(call);
    const outcomes = await submitter.submit(
      call.productCode,
      call.records.map((entry) => entry.record),
      lastChance,
    );
    const unsent = outcomes.filter((outcome) => outcome.kind === 'unsent');
    if (unsent.length > 0) {
      // Pending, not unsent: a send whose answer was lost (a timeout, a dropped connection) may have been billed.
      const answerLost = unsent.some((outcome) => outcome.answerLost);
      logger.warn(answerLost ? 'Usage left pending: a send went unanswered' : 'Usage left pending: not sent', {
        records: unsent.length,
        reason: unsent[0]!.reason,
        answerLost,
        ...(lastChance === undefined ? {} : { lastChance: true }),
      });
    }
    await forEachConcurrently(
      call.records.map((entry, index) => ({ bucket: entry.source, outcome: outcomes[index]! })),
      SETTLE_CONCURRENCY,
      ({ bucket, outcome }) => settler.settle(bucket, outcome),
    );
  });
  return submitter.counters;
}
