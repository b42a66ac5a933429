/**
 * The usage report's sums: bucket items, as `auditItem` reads them, added one at a time into a row per subscriber,
 * dimension and UTC day and into totals kept apart from the rows; then every row and the totals checked against
 * `recorded = billed + rejected (every reason) + pending + expired`.
 *
 * `recorded` is summed over every item, whatever its state; the other columns only over the items whose state says
 * where their units went. The two sides meet exactly when no item is an anomaly holding units.
 */
import type { ItemKey } from '../../table-keys.ts';
import { auditItem, type AuditedItem } from './usage-report-audit.ts';

export interface UsageFigures {
  /** Bucket items counted. */
  readonly buckets: number;
  /** Every unit in those buckets, an anomalous bucket's included. */
  readonly recorded: number;
  readonly billed: number;
  /** By reason: `CustomerNotSubscribed`, `DuplicateRecord`, an exception's name, `unknown-subscriber`, ... */
  readonly rejected: Readonly<Record<string, number>>;
  /** In `open` or `frozen` buckets: not settled yet. */
  readonly pending: number;
  /** In buckets Marketplace would no longer take (past the acceptance window, or their month closed). */
  readonly expired: number;
  /**
   * Of the rejected and expired units, those of buckets an earlier send may have billed without the answer being
   * learned (listed in the report's `unconfirmedSends`): settle them from CloudTrail.
   */
  readonly unconfirmed: number;
  /** `recorded` less every other column: the units of anomalous buckets. */
  readonly unaccounted: number;
  /** `unaccounted` is 0. */
  readonly balanced: boolean;
}

export interface UsageReportRow extends UsageFigures {
  readonly subscriberId: string;
  readonly dimension: string;
  /** The UTC date of its buckets' hours, `YYYY-MM-DD`. */
  readonly day: string;
  /** The distinct `x-amzn-RequestId`s of the calls that settled its buckets, sorted. */
  readonly requestIds: readonly string[];
  /** How many of its buckets are anomalies (each is listed in the report's `anomalies`). */
  readonly anomalies: number;
}

/** A bucket item that breaks a rule the metering code keeps: a bug, or an item edited by hand. */
export interface BucketAnomaly {
  readonly key: ItemKey;
  /** The row it counts in; absent when its attributes name none, and then it counts in the totals only. */
  readonly row?: { readonly subscriberId: string; readonly dimension: string; readonly day: string };
  /** Its units: counted as recorded, and in no other column. */
  readonly quantity: number;
  readonly problem: string;
}

/** A bucket rejected or expired after a send whose answer was never learned: Marketplace may have billed it. */
export interface UnconfirmedSend {
  readonly key: ItemKey;
  readonly subscriberId: string | undefined;
  readonly dimension: string | undefined;
  readonly hour: string | undefined;
  readonly quantity: number;
  readonly outcome: string;
  /** When the bucket was frozen: that send went out after this (find it in CloudTrail, by customer and dimension). */
  readonly frozenAt: string;
}

export interface UsageReport {
  /** The first and the last UTC day reported, `YYYY-MM-DD`. */
  readonly from: string;
  readonly to: string;
  /** Sorted by subscriber, dimension, day. */
  readonly rows: readonly UsageReportRow[];
  /** Over every item read, those of no row included. */
  readonly totals: UsageFigures;
  /** Every row's request ids, distinct and sorted. */
  readonly requestIds: readonly string[];
  /** Sorted by key. */
  readonly anomalies: readonly BucketAnomaly[];
  /** Sorted by key. */
  readonly unconfirmedSends: readonly UnconfirmedSend[];
  /** Every row and the totals balance, and no bucket is an anomaly. */
  readonly reconciled: boolean;
}

export const DAY_MS = 86_400_000;

/** One row's or the totals' running sums. */
class Figures {
  private buckets = 0;
  private recorded = 0;
  private billed = 0;
  private pending = 0;
  private expired = 0;
  private unconfirmed = 0;
  private readonly rejected = new Map<string, number>();

  add({ quantity, outcome, unconfirmedSince }: AuditedItem): void {
    this.buckets++;
    this.recorded += quantity;
    if (unconfirmedSince !== undefined) this.unconfirmed += quantity;
    switch (outcome.kind) {
      case 'billed':
        this.billed += quantity;
        return;
      case 'rejected':
        this.rejected.set(outcome.reason, (this.rejected.get(outcome.reason) ?? 0) + quantity);
        return;
      case 'pending':
        this.pending += quantity;
        return;
      case 'expired':
        this.expired += quantity;
        return;
      case 'anomaly':
        // In `recorded` only, so that the figures do not balance.
        return;
    }
  }

  figures(): UsageFigures {
    const rejected = [...this.rejected].sort(([a], [b]) => (a < b ? -1 : 1));
    const accounted = this.billed + this.pending + this.expired + rejected.reduce((sum, [, units]) => sum + units, 0);
    const unaccounted = this.recorded - accounted;
    return {
      buckets: this.buckets,
      recorded: this.recorded,
      billed: this.billed,
      rejected: Object.fromEntries(rejected),
      pending: this.pending,
      expired: this.expired,
      unconfirmed: this.unconfirmed,
      unaccounted,
      balanced: unaccounted === 0,
    };
  }
}

interface RowTally {
  readonly subscriberId: string;
  readonly dimension: string;
  readonly day: string;
  readonly figures: Figures;
  readonly requestIds: Set<string>;
  anomalies: number;
}

export class UsageTally {
  private readonly rows = new Map<string, RowTally>();
  private readonly totals = new Figures();
  private readonly requestIds = new Set<string>();
  private readonly anomalies: BucketAnomaly[] = [];
  private readonly unconfirmedSends: UnconfirmedSend[] = [];

  /** Reports the hours from `first` (a day's start) up to, not including, `end` (a later day's start). */
  constructor(
    private readonly first: Date,
    private readonly end: Date,
  ) {}

  /** Adds an item read from the Usage table's bucket range. */
  add(item: Record<string, unknown>): void {
    const audited = auditItem(item);
    const { place, outcome, requestId } = audited;
    // The reader selects exactly these hours; a bucket of any other (from another reader) is not this report's.
    if (place !== undefined && (place.hour < this.first || place.hour >= this.end)) return;
    this.totals.add(audited);
    if (requestId !== undefined) this.requestIds.add(requestId);
    const row = place === undefined ? undefined : this.rowOf(place.subscriberId, place.dimension, dayOf(place.hour));
    if (row !== undefined) {
      row.figures.add(audited);
      if (requestId !== undefined) row.requestIds.add(requestId);
    }
    if (audited.unconfirmedSince !== undefined) {
      this.unconfirmedSends.push({
        key: audited.key,
        subscriberId: place?.subscriberId,
        dimension: place?.dimension,
        hour: place?.hour.toISOString(),
        quantity: audited.quantity,
        outcome: outcome.kind === 'rejected' ? `rejected (${outcome.reason})` : outcome.kind,
        frozenAt: audited.unconfirmedSince,
      });
    }
    if (outcome.kind === 'anomaly') {
      if (row !== undefined) row.anomalies++;
      this.anomalies.push({
        key: audited.key,
        ...(row === undefined
          ? {}
          : { row: { subscriberId: row.subscriberId, dimension: row.dimension, day: row.day } }),
        quantity: audited.quantity,
        problem: outcome.problem,
      });
    }
  }

  report(): UsageReport {
    const rows = [...this.rows.values()]
      .sort(
        (a, b) => compare(a.subscriberId, b.subscriberId) || compare(a.dimension, b.dimension) || compare(a.day, b.day),
      )
      .map(({ subscriberId, dimension, day, figures, requestIds, anomalies }) => ({
        subscriberId,
        dimension,
        day,
        ...figures.figures(),
        requestIds: [...requestIds].sort(compare),
        anomalies,
      }));
    const totals = this.totals.figures();
    return {
      from: dayOf(this.first),
      to: dayOf(new Date(this.end.getTime() - DAY_MS)),
      rows,
      totals,
      requestIds: [...this.requestIds].sort(compare),
      anomalies: [...this.anomalies].sort(byKey),
      unconfirmedSends: [...this.unconfirmedSends].sort(byKey),
      reconciled: totals.balanced && rows.every((row) => row.balanced) && this.anomalies.length === 0,
    };
  }

  private rowOf(subscriberId: string, dimension: string, day: string): RowTally {
    const id = JSON.stringify([subscriberId, dimension, day]);
    let row = this.rows.get(id);
    if (row === undefined) {
      row = { subscriberId, dimension, day, figures: new Figures(), requestIds: new Set(), anomalies: 0 };
      this.rows.set(id, row);
    }
    return row;
  }
}

/** The UTC date of an instant, `YYYY-MM-DD`. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function byKey(a: { readonly key: ItemKey }, b: { readonly key: ItemKey }): number {
  return compare(a.key.pk, b.key.pk) || compare(a.key.sk, b.key.sk);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
