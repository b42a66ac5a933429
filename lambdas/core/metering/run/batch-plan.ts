/**
 * Which records go out in which `BatchMeterUsage` call, as the records stream in: one product per call (legacy calls
 * name it in `ProductCode`; license calls carry no `ProductCode` but Marketplace still takes one product per request),
 * at most 25 records and a request under 1 MB. A call goes out as soon as it is full; what is left of each product
 * goes out when the stream ends, so a run makes ceil(records / 25) calls per product, at most one more when sizes cut
 * a call short. The calls depend only on the order of the records, so a dry run plans exactly the calls a real run
 * makes.
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
  readonly source: T;
}

export interface PlannedCall<T> {
  /** Set for legacy calls only. */
  readonly productCode: string | undefined;
  readonly records: readonly PlannedRecord<T>[];
}

interface OpenCall<T> {
  readonly productCode: string | undefined;
  readonly budget: number;
  records: PlannedRecord<T>[];
  bytes: number;
}

/**
 * The calls for `records`, each as soon as it is full. A record that alone exceeds a request's size goes to
 * `oversized`: no call can carry it.
 */
export async function* batchCalls<T>(
  records: AsyncIterable<PlannedRecord<T>>,
  oversized: (entry: PlannedRecord<T>) => Promise<void>,
): AsyncGenerator<PlannedCall<T>> {
  const open = new Map<string, OpenCall<T>>();
  for await (const entry of records) {
    const group = `${entry.identity.model}:${entry.identity.productCode}`;
    let call = open.get(group);
    if (call === undefined) {
      const productCode = entry.identity.model === 'legacy' ? entry.identity.productCode : undefined;
      call = {
        productCode,
        budget: MAX_REQUEST_BYTES - ENVELOPE_BYTES - (productCode?.length ?? 0),
        records: [],
        bytes: 0,
      };
      open.set(group, call);
    }
    const size = serializedBytes(entry.record) + 1;
    if (size > call.budget) {
      await oversized(entry);
      continue;
    }
    if (call.bytes + size > call.budget) yield close(call);
    call.records.push(entry);
    call.bytes += size;
    if (call.records.length === MAX_RECORDS_PER_CALL) yield close(call);
  }
  for (const group of [...open.keys()].sort()) {
    const { productCode, records: rest } = open.get(group)!;
    if (rest.length > 0) yield { productCode, records: rest };
  }
}

/** The call as it stands, the open call emptied for the next records. */
function close<T>(call: OpenCall<T>): PlannedCall<T> {
  const closed = { productCode: call.productCode, records: call.records };
  call.records = [];
  call.bytes = 0;
  return closed;
}

/** The record's size on the wire (awsJson1_1 sends timestamps as epoch seconds). */
export function serializedBytes(record: UsageRecord): number {
  const timestamp = record.Timestamp === undefined ? undefined : record.Timestamp.getTime() / 1000;
  return Buffer.byteLength(JSON.stringify({ ...record, Timestamp: timestamp }));
}
