/**
 * Which records go out in which `BatchMeterUsage` call: one product per call (legacy calls name it in `ProductCode`;
 * license calls carry no `ProductCode` but Marketplace still takes one product per request), at most 25 records and
 * a request under 1 MB. The order is fixed by the buckets, so a dry run plans exactly the calls a real run makes.
 */
import type { UsageRecord } from '@aws-sdk/client-marketplace-metering';
import type { MeteringIdentity } from './usage-record.ts';

export const MAX_RECORDS_PER_CALL = 25;

/**
 * AWS's limit is "1 MB" per request; this stays under both readings of it (10^6 and 2^20 bytes) with room for the
 * difference between this estimate and the SDK's own serialization.
 */
export const MAX_REQUEST_BYTES = 1_000_000;

/** `{"UsageRecords":[],"ProductCode":""}` and a margin. */
const ENVELOPE_BYTES = 64;

export interface PlannedRecord<T> {
  readonly record: UsageRecord;
  readonly identity: MeteringIdentity;
  /** Sorts the records of one product, so that the plan does not depend on the order the table returned them. */
  readonly order: string;
  readonly source: T;
}

export interface PlannedCall<T> {
  /** Set for legacy calls only. */
  readonly productCode: string | undefined;
  readonly records: readonly PlannedRecord<T>[];
}

export interface CallPlan<T> {
  readonly calls: readonly PlannedCall<T>[];
  /** Records that alone exceed a request's size: no call can carry them. */
  readonly oversized: readonly PlannedRecord<T>[];
}

export function planCalls<T>(records: readonly PlannedRecord<T>[]): CallPlan<T> {
  const groups = new Map<string, PlannedRecord<T>[]>();
  for (const entry of records) {
    const group = `${entry.identity.model}:${entry.identity.productCode}`;
    const members = groups.get(group) ?? [];
    members.push(entry);
    groups.set(group, members);
  }
  const calls: PlannedCall<T>[] = [];
  const oversized: PlannedRecord<T>[] = [];
  for (const group of [...groups.keys()].sort()) {
    const members = groups.get(group)!.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const identity = members[0]!.identity;
    const productCode = identity.model === 'legacy' ? identity.productCode : undefined;
    const budget = MAX_REQUEST_BYTES - ENVELOPE_BYTES - (productCode?.length ?? 0);
    let current: PlannedRecord<T>[] = [];
    let bytes = 0;
    for (const entry of members) {
      const size = serializedBytes(entry.record) + 1;
      if (size > budget) {
        oversized.push(entry);
        continue;
      }
      if (current.length === MAX_RECORDS_PER_CALL || bytes + size > budget) {
        calls.push({ productCode, records: current });
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += size;
    }
    if (current.length > 0) calls.push({ productCode, records: current });
  }
  return { calls, oversized };
}

/** The record's size on the wire (awsJson1_1 sends timestamps as epoch seconds). */
export function serializedBytes(record: UsageRecord): number {
  const timestamp = record.Timestamp === undefined ? undefined : record.Timestamp.getTime() / 1000;
  return Buffer.byteLength(JSON.stringify({ ...record, Timestamp: timestamp }));
}
