/**
 * What the simulated Marketplace has billed. One entry per dedup key (customer, dimension, hour, and the identity
 * the record was sent under), plus a log of every per-record result, so a test can check that each unit was billed
 * once and see every `DuplicateRecord` and `CustomerNotSubscribed` the caller was told, and the customer-hours billed
 * twice.
 */
import type { DoubleBillingWarning } from './double-billing.ts';
import { ids } from './random.ts';

export const RECORD_STATUSES = ['Success', 'CustomerNotSubscribed', 'DuplicateRecord'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];

export interface AllocationEntry {
  readonly quantity: number;
  readonly tags: readonly { readonly key: string; readonly value: string }[];
}

export interface BilledRecord {
  readonly meteringRecordId: string;
  readonly operation: 'BatchMeterUsage' | 'MeterUsage';
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly productCode: string;
  readonly licenseId: string;
  readonly licenseArn?: string | undefined;
  readonly customerIdentifier?: string | undefined;
  readonly customerAWSAccountId: string;
  readonly dimension: string;
  /** The record's own timestamp, as sent. */
  readonly timestamp: Date;
  /** The hour the record was deduplicated in. */
  readonly hour: Date;
  readonly quantity: number;
  readonly allocations: readonly AllocationEntry[];
  readonly freeTrial: boolean;
}

export interface RecordResult {
  readonly requestId: string;
  readonly receivedAt: Date;
  readonly status: RecordStatus;
  readonly meteringRecordId?: string | undefined;
  readonly productCode?: string | undefined;
  readonly licenseId?: string | undefined;
  readonly dimension: string;
  readonly timestamp: Date;
  readonly quantity: number;
}

/** A billed record as the control API lists it: flagged when its customer-hour was billed under two identities. */
export interface BilledRecordView extends BilledRecord {
  readonly doubleBilled: boolean;
}

/** Everything the ledger holds, for saving the simulator's state and restoring it. */
export interface LedgerState {
  readonly billed: readonly {
    readonly dedupKey: string;
    readonly fingerprint: string;
    readonly record: BilledRecord;
  }[];
  readonly results: readonly RecordResult[];
  readonly doubleBillings: readonly DoubleBillingWarning[];
}

export interface MeteringOutcome {
  readonly outcome: 'billed' | 'identical' | 'different';
  /** The record billed under the key: the new one, or the one billed before. */
  readonly record: BilledRecord;
}

export class MeteringLedger {
  private readonly billed = new Map<string, { record: BilledRecord; fingerprint: string }>();
  private readonly resultLog: RecordResult[] = [];
  private readonly doubleBillingLog: DoubleBillingWarning[] = [];

  /** `onDoubleBilling` hears of each customer-hour billed twice, as it happens (the simulator logs it). */
  constructor(private readonly onDoubleBilling: (warning: DoubleBillingWarning) => void = () => undefined) {}

  /**
   * Bills `candidate` under `dedupKey` unless that key was billed before: then it is `identical` (same quantity and
   * allocations, nothing more billed) or `different` (ignored; the original stays billed).
   */
  meter(dedupKey: string, candidate: Omit<BilledRecord, 'meteringRecordId'>): MeteringOutcome {
    const existing = this.billed.get(dedupKey);
    if (existing !== undefined) return { outcome: this.outcomeOf(dedupKey, candidate), record: existing.record };
    const record = { ...candidate, meteringRecordId: ids.meteringRecordId() };
    this.billed.set(dedupKey, { record, fingerprint: fingerprintOf(candidate) });
    return { outcome: 'billed', record };
  }

  /** What `meter` would answer for the candidate, recording nothing (a `DryRun`). */
  outcomeOf(dedupKey: string, candidate: Pick<BilledRecord, 'quantity' | 'allocations'>): MeteringOutcome['outcome'] {
    const existing = this.billed.get(dedupKey);
    if (existing === undefined) return 'billed';
    return existing.fingerprint === fingerprintOf(candidate) ? 'identical' : 'different';
  }

  logResult(result: RecordResult): void {
    this.resultLog.push(result);
  }

  flagDoubleBilling(warning: DoubleBillingWarning): void {
    this.doubleBillingLog.push(warning);
    this.onDoubleBilling(warning);
  }

  billedRecords(): BilledRecordView[] {
    const doubleBilled = new Set(this.doubleBillingLog.flatMap((warning) => warning.meteringRecordIds));
    return [...this.billed.values()].map(({ record }) => ({
      ...record,
      doubleBilled: doubleBilled.has(record.meteringRecordId),
    }));
  }

  results(): readonly RecordResult[] {
    return this.resultLog;
  }

  doubleBillings(): readonly DoubleBillingWarning[] {
    return this.doubleBillingLog;
  }

  state(): LedgerState {
    return {
      billed: [...this.billed].map(([dedupKey, { record, fingerprint }]) => ({ dedupKey, fingerprint, record })),
      results: this.resultLog,
      doubleBillings: this.doubleBillingLog,
    };
  }

  /** Takes up `state` in place of what this (new, empty) ledger holds. */
  restore(state: LedgerState): void {
    this.billed.clear();
    for (const { dedupKey, fingerprint, record } of state.billed) this.billed.set(dedupKey, { record, fingerprint });
    this.resultLog.length = 0;
    for (const result of state.results) this.resultLog.push(result);
    this.doubleBillingLog.length = 0;
    for (const warning of state.doubleBillings) this.doubleBillingLog.push(warning);
  }
}

/** The start of the UTC hour containing `date`: the granularity at which Marketplace deduplicates records. */
export function hourOf(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 3_600_000) * 3_600_000);
}

/**
 * Allocations in a canonical order (tags sorted within a set, sets sorted), so that two records that differ only in
 * the order they list allocations or tags count as identical.
 */
export function canonicalAllocations(allocations: readonly AllocationEntry[]): AllocationEntry[] {
  return allocations
    .map((allocation) => ({
      quantity: allocation.quantity,
      tags: [...allocation.tags].sort((a, b) => a.key.localeCompare(b.key) || a.value.localeCompare(b.value)),
    }))
    .sort((a, b) => JSON.stringify(a.tags).localeCompare(JSON.stringify(b.tags)));
}

/** What makes two records of one customer, dimension and hour the same record. */
function fingerprintOf(record: Pick<BilledRecord, 'quantity' | 'allocations'>): string {
  return JSON.stringify([record.quantity, record.allocations]);
}
