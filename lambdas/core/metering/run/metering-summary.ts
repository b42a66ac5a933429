/**
 * What a metering run did, for its log line, its metrics and `npm run meter --dry-run`: how many buckets ended in
 * which state, what is still pending and how old the oldest of it is (the acceptance window runs from the hour's
 * start), and the calls it took.
 */
import type { UsageRecord } from '@aws-sdk/client-marketplace-metering';
import type { SubmissionCounters } from './batch-submitter.ts';
import { HOUR_MS } from '../bucket/index.ts';

/** One `BatchMeterUsage` call as planned: what a dry run would have sent. */
export interface PlannedBatch {
  /** Legacy calls only. */
  readonly productCode?: string;
  readonly records: readonly UsageRecord[];
}

export interface MeteringRunSummary {
  readonly dryRun: boolean;
  /** A live subscriber's buckets of hours before this one were due. */
  readonly dueBefore: string;
  /** Unsettled buckets found due, zero-usage ones included. */
  readonly due: number;
  /** Zero-usage buckets made sure of (a dry run: that it would make sure of). */
  readonly zeroUsage: number;
  /** Zero-usage buckets that could not be made (logged): those subscribers miss this hour's zero record. */
  readonly zeroUsageFailures: number;
  readonly billed: number;
  /** Rejected buckets by reason: `CustomerNotSubscribed`, `DuplicateRecord`, an exception name, `unknown-subscriber`. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Buckets Marketplace would no longer accept, settled without being sent. */
  readonly expired: number;
  /**
   * Of the rejected and expired, buckets an earlier run froze and may have sent without learning the answer:
   * Marketplace may have billed them then. Marked `unconfirmedSend` on the bucket; CloudTrail tells.
   */
  readonly unconfirmedSends: number;
  /** Buckets with usage that expired because an ending subscriber's final-metering deadline passed before they billed. */
  readonly finalDeadlineMissed: { readonly records: number; readonly units: number };
  /**
   * Buckets found but not due yet: ending subscribers' final hours before their send time, and a one-subscriber run's
   * open hours (an hourly run reads only the hours before `dueBefore`, so it finds no open hour).
   */
  readonly waiting: number;
  /** The time budget ran out before every due bucket was found: the next run carries on (oldest first). */
  readonly handOver: boolean;
  /** How long the run took, in milliseconds. */
  readonly durationMs: number;
  /** Records billed per second of the run, and what share that is of the quota's records per second. */
  readonly recordsPerSecond: number;
  readonly quotaUsed: number;
  /** Due buckets this run left unsettled (a dry run: every one it would have sent). */
  readonly pending: number;
  /** Buckets another run settled while this one was at them. */
  readonly settledElsewhere: number;
  /** The hour of the oldest bucket left pending, and its age in minutes. */
  readonly oldestPending?: { readonly hour: string; readonly ageMinutes: number };
  readonly calls: number;
  readonly retries: number;
  readonly throttles: number;
  /** The `x-amzn-RequestId` of every answered call, to find them in CloudTrail. */
  readonly requestIds: readonly string[];
  /** A dry run only: the calls a real run would make. */
  readonly batches?: readonly PlannedBatch[];
}

export class RunTally {
  due = 0;
  zeroUsage = 0;
  zeroUsageFailures = 0;
  billed = 0;
  expired = 0;
  unconfirmedSends = 0;
  waiting = 0;
  handOver = false;
  settledElsewhere = 0;
  private readonly missed = { records: 0, units: 0 };
  batches: readonly PlannedBatch[] | undefined;
  private readonly rejected = new Map<string, number>();
  private readonly pendingHours: Date[] = [];

  constructor(
    private readonly now: Date,
    private readonly dueBefore: Date,
    private readonly dryRun: boolean,
  ) {}

  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  missFinalDeadline(units: number): void {
    this.missed.records++;
    this.missed.units += units;
  }

  /** A bucket found that is not due yet (an open hour, a final hour before its send time): not counted due. */
  holdBack(): void {
    this.due--;
    this.waiting++;
  }

  leavePending(hour: Date): void {
    this.pendingHours.push(hour);
  }

  summary(
    counters: SubmissionCounters | undefined,
    pace: { readonly durationMs: number; readonly quotaRecordsPerSecond: number },
  ): MeteringRunSummary {
    const recordsPerSecond = pace.durationMs > 0 ? (this.billed * 1000) / pace.durationMs : 0;
    const oldest = this.pendingHours.reduce<Date | undefined>(
      (earliest, hour) => (earliest === undefined || hour < earliest ? hour : earliest),
      undefined,
    );
    return {
      dryRun: this.dryRun,
      dueBefore: this.dueBefore.toISOString(),
      due: this.due,
      zeroUsage: this.zeroUsage,
      zeroUsageFailures: this.zeroUsageFailures,
      billed: this.billed,
      rejected: Object.fromEntries([...this.rejected].sort(([a], [b]) => (a < b ? -1 : 1))),
      expired: this.expired,
      unconfirmedSends: this.unconfirmedSends,
      finalDeadlineMissed: { ...this.missed },
      waiting: this.waiting,
      handOver: this.handOver,
      durationMs: Math.round(pace.durationMs),
      recordsPerSecond: Math.round(recordsPerSecond * 10) / 10,
      quotaUsed: Math.round((recordsPerSecond / pace.quotaRecordsPerSecond) * 1000) / 1000,
      pending: this.pendingHours.length,
      settledElsewhere: this.settledElsewhere,
      ...(oldest === undefined
        ? {}
        : {
            oldestPending: {
              hour: oldest.toISOString(),
              ageMinutes: Math.floor((this.now.getTime() - oldest.getTime()) / (HOUR_MS / 60)),
            },
          }),
      calls: counters?.calls ?? 0,
      retries: counters?.retries ?? 0,
      throttles: counters?.throttles ?? 0,
      requestIds: [...(counters?.requestIds ?? [])],
      ...(this.batches === undefined ? {} : { batches: this.batches }),
    };
  }
}
