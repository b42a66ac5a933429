/**
 * What the simulated Marketplace has billed. One entry per dedup key (customer, dimension, hour, and the identity
 * the record was sent under), plus a log of every per-record result, so a test can check that each unit was billed
 * once and see every `DuplicateRecord` and `CustomerNotSubscribed` the caller was told.
 */
import { ids } from './random.ts';

export type RecordStatus = 'Success' | 'CustomerNotSubscribed' | 'DuplicateRecord';

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

export interface MeteringOutcome {
  readonly outcome: 'billed' | 'identical' | 'different';
  /** The record billed under the key: the new one, or the one billed before. */
  readonly record: BilledRecord;
}

export class MeteringLedger {
  private readonly billed = new Map<string, { record: BilledRecord; fingerprint: string }>();
  private readonly resultLog: RecordResult[] = [];

  /**
   * Bills `candidate` under `dedupKey` unless that key was billed before: then it is `identical` (same quantity and
   * allocations, nothing more billed) or `different` (ignored; the original stays billed).
   */
  meter(dedupKey: string, candidate: Omit<BilledRecord, 'meteringRecordId'>): MeteringOutcome {
    const fingerprint = JSON.stringify([candidate.quantity, candidate.allocations]);
    const existing = this.billed.get(dedupKey);
    if (existing !== undefined) {
      return { outcome: existing.fingerprint === fingerprint ? 'identical' : 'different', record: existing.record };
    }
    const record = { ...candidate, meteringRecordId: ids.meteringRecordId() };
    this.billed.set(dedupKey, { record, fingerprint });
    return { outcome: 'billed', record };
  }

  logResult(result: RecordResult): void {
    this.resultLog.push(result);
  }

  billedRecords(): BilledRecord[] {
    return [...this.billed.values()].map((entry) => entry.record);
  }

  results(): readonly RecordResult[] {
    return this.resultLog;
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
