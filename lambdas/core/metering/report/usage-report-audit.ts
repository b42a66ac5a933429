/**
 * What one item of the Usage table counts as in the usage report: the row it belongs to (subscriber, dimension, UTC
 * day of its hour), its units, the column its state puts them in, and the request id of the call that settled it.
 *
 * An item that breaks a rule the metering code keeps is an anomaly: its units count as recorded and in no other
 * column, so that its row does not balance, rather than being filed under the column it seems to belong to. Every
 * rule here is one that the recorder and the run never break; an anomaly means a bug or a hand-edited item.
 */
import type { ItemKey } from '../../table-keys.ts';
import { bucketItemOf, SETTLED_STATES, UNCONFIRMED_SEND, bucketKey, hourOf } from '../bucket/index.ts';
import { PENDING_INDEX } from '../../../../contracts/index.ts';

/** Where a bucket's units are reported. */
export interface ReportPlace {
  readonly subscriberId: string;
  readonly dimension: string;
  /** The start of the bucket's hour: the report's day is its UTC date. */
  readonly hour: Date;
}

export type ReportOutcome =
  | { readonly kind: 'billed' }
  | { readonly kind: 'rejected'; readonly reason: string }
  /** `open` or `frozen`: a run has yet to settle it. */
  | { readonly kind: 'pending' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'anomaly'; readonly problem: string };

export interface AuditedItem {
  readonly key: ItemKey;
  /** Undefined when the item's attributes name no bucket, or one stored under another key. */
  readonly place: ReportPlace | undefined;
  /** Its `quantity`; 0 when that is not a number (the anomaly says so). */
  readonly quantity: number;
  readonly outcome: ReportOutcome;
  readonly requestId: string | undefined;
  /**
   * Rejected or expired after an earlier run froze it and may have sent it unanswered (`UNCONFIRMED_SEND`): when that
   * earlier send may have gone out, for CloudTrail. Marketplace may have billed it then; a zero-usage record bills
   * nothing either way, and needs no look.
   */
  readonly unconfirmedSince: string | undefined;
}

export function auditItem(item: Record<string, unknown>): AuditedItem {
  const key = { pk: String(item.pk), sk: String(item.sk) };
  const place = placeOf(item, key);
  const outcome = outcomeOf(item, place);
  const quantity = typeof item.quantity === 'number' ? item.quantity : 0;
  return {
    key,
    place,
    quantity,
    outcome,
    requestId: typeof item.requestId === 'string' ? item.requestId : undefined,
    unconfirmedSince:
      item[UNCONFIRMED_SEND] === true && quantity > 0 && (outcome.kind === 'rejected' || outcome.kind === 'expired')
        ? String(item.frozenAt)
        : undefined,
  };
}

/**
 * The bucket the item's own attributes name, if its key is the one `bucketKey` makes of them. Read apart from
 * `bucketItemOf`, so that an item it refuses (an unknown state, say) still shows up in its row.
 */
function placeOf(item: Record<string, unknown>, key: ItemKey): ReportPlace | undefined {
  const { subscriberId, dimension, hour } = item;
  if (typeof subscriberId !== 'string' || typeof dimension !== 'string' || typeof hour !== 'string') return undefined;
  const start = new Date(hour);
  if (Number.isNaN(start.getTime())) return undefined;
  const expected = bucketKey(subscriberId, start, dimension);
  if (expected.pk !== key.pk || expected.sk !== key.sk) return undefined;
  return { subscriberId, dimension, hour: hourOf(start) };
}

function outcomeOf(item: Record<string, unknown>, place: ReportPlace | undefined): ReportOutcome {
  const bucket = bucketItemOf(item);
  if (bucket === undefined) {
    return anomaly(`not a bucket the metering run can read (${describe(item, ['state', 'reason', 'quantity'])})`);
  }
  if (place === undefined) {
    return anomaly(
      'stored under a key its subscriberId, hour and dimension do not make ' +
        `(${describe(item, ['subscriberId', 'hour', 'dimension'])})`,
    );
  }
  const { quantity, state } = bucket;
  if (!Number.isSafeInteger(quantity) || quantity < 0) {
    return anomaly(`its quantity ${quantity} is not a whole, non-negative number of units`);
  }
  const tagged = bucket.allocations.reduce((sum, allocation) => sum + allocation.quantity, 0);
  if (tagged > quantity) {
    return anomaly(`its tagged allocations add up to ${tagged}, more than its quantity ${quantity}`);
  }
  // The run finds unsettled buckets through this index only: one missing from it would stay unsettled for ever.
  if (!SETTLED_STATES.has(state) && item[PENDING_INDEX.partitionKey] === undefined) {
    return anomaly(`it is ${state} but not in the ${PENDING_INDEX.indexName} index, so no metering run will settle it`);
  }
  switch (state) {
    case 'billed':
      return { kind: 'billed' };
    case 'rejected':
      return bucket.reason === undefined
        ? anomaly('it is rejected without a reason')
        : { kind: 'rejected', reason: bucket.reason };
    case 'open':
    case 'frozen':
      return { kind: 'pending' };
    case 'expired':
      return { kind: 'expired' };
  }
}

const anomaly = (problem: string): ReportOutcome => ({ kind: 'anomaly', problem });

function describe(item: Record<string, unknown>, names: readonly string[]): string {
  return names.map((name) => `${name} ${name in item ? JSON.stringify(item[name]) : 'absent'}`).join(', ');
}
