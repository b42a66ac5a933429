/**
 * The ledger as a run uses it, and a dry run's stand-in for it, which reads as the real one and writes nothing: each
 * write answers as if it took, and a freeze answers the bucket as the real freeze would leave it. A dry run then finds,
 * decides and plans as a real run would (but for what another run changes meanwhile), with no branch of its own in any
 * stage; only its last stage differs (it lists the calls instead of sending them).
 */
import { itemId, type ItemKey } from '../../table-keys.ts';
import { bucketKey } from '../bucket/index.ts';
import { zeroBucketAttributes, type BucketLedger, type Expiry } from './bucket-ledger.ts';

type Item = Record<string, unknown>;

export type RunLedger = Pick<
  BucketLedger,
  | 'pendingBefore'
  | 'unsettledOf'
  | 'existing'
  | 'freeze'
  | 'settleBilled'
  | 'settleRejected'
  | 'expire'
  | 'createZeroBucket'
>;

export class DryRunLedger implements RunLedger {
  /** The zero-usage buckets a real run would have created, by key, as it would have created them. */
  private readonly zeroBuckets = new Map<string, Item>();

  constructor(private readonly ledger: BucketLedger) {}

  pendingBefore(before: Date): AsyncGenerator<Item> {
    return this.ledger.pendingBefore(before);
  }

  unsettledOf(subscriberId: string, through: Date): AsyncGenerator<Item> {
    return this.ledger.unsettledOf(subscriberId, through);
  }

  existing(keys: readonly ItemKey[]): Promise<Set<string>> {
    return this.ledger.existing(keys);
  }

  /**
   * The bucket as the real freeze would answer it: as it stands, with the record's timestamp fixed unless a run froze
   * it before (then its own); a zero-usage bucket this run would have created, as created.
   */
  async freeze(key: ItemKey, freeze: { readonly recordTimestamp: Date }): Promise<Item | undefined> {
    const item = (await this.ledger.read(key)) ?? this.zeroBuckets.get(itemId(key));
    this.zeroBuckets.delete(itemId(key));
    if (item === undefined || item.frozenAt !== undefined) return item;
    return { ...item, recordTimestamp: freeze.recordTimestamp.toISOString() };
  }

  settleBilled(): Promise<boolean> {
    return Promise.resolve(true);
  }

  settleRejected(): Promise<boolean> {
    return Promise.resolve(true);
  }

  /** Expired by this run, as far as it knows: not frozen earlier, units unknown (no final deadline reported missed). */
  expire(): Promise<Expiry> {
    return Promise.resolve({ expired: true, frozenEarlier: false, units: undefined });
  }

  createZeroBucket(subscriberId: string, hour: Date, dimension: string): Promise<boolean> {
    const key = bucketKey(subscriberId, hour, dimension);
    this.zeroBuckets.set(itemId(key), { ...key, ...zeroBucketAttributes(subscriberId, hour, dimension) });
    return Promise.resolve(true);
  }
}
