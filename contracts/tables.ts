/**
 * The project's DynamoDB tables, described once as plain data: the key and index attribute names the functions address
 * items by, and the definitions the CDK stack (`lib/storage.ts`) and DynamoDB Local (`local/dynamodb/tables.ts`) build
 * the tables from. Nothing can drift between the cloud, the local stack and the code that reads and writes the items.
 */

export type AttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /**
   * Which attributes the index holds: all of them, or only the keys (the table's and its own). An index of keys only is
   * written when an item enters or leaves it, not each time an attribute it does not hold changes.
   */
  readonly projection: 'all' | 'keys-only';
}

export interface TableDefinition {
  /** Logical name: the construct id in the stack and the table name locally. */
  readonly id: 'Subscribers' | 'Usage';
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** Global secondary indexes. */
  readonly globalSecondaryIndexes: readonly IndexDefinition[];
  /** Attribute holding an epoch-seconds expiry; DynamoDB deletes the item some time after it passes. */
  readonly timeToLiveAttribute: string;
  /** A change stream, for functions that react to writes. */
  readonly stream?: 'NEW_AND_OLD_IMAGES';
}

/** Both tables' primary key and expiry attributes. */
export const TABLE_KEY = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

/** The sparse index of subscribers that may be metered, and its partition key attribute. */
export const LIVE_INDEX = { indexName: 'live', partitionKey: 'liveShard' } as const;

/**
 * The sparse index of subscribers inside a final-metering window, by deadline (same shards as `live`): ending ones,
 * and buyers who subscribed again while the old subscription's window is open.
 */
export const ENDING_INDEX = {
  indexName: 'ending',
  partitionKey: 'endingShard',
  sortKey: 'finalMeteringDeadline',
} as const;

/** The sparse index of usage buckets not yet settled, by hour. */
export const PENDING_INDEX = { indexName: 'pending', partitionKey: 'pendingShard', sortKey: 'pendingHour' } as const;

/** Live (and ending) subscribers are spread over this many index partitions, so that no one takes every write. */
export const LIVE_SHARDS = 8;

/** Pending buckets are spread over this many index partitions, so that no one partition takes every write. */
export const PENDING_SHARDS = 8;

const pk: KeyAttribute = { name: TABLE_KEY.partitionKey, type: 'S' };
const sk: KeyAttribute = { name: TABLE_KEY.sortKey, type: 'S' };
const stringKey = (name: string): KeyAttribute => ({ name, type: 'S' });

/**
 * One item per subscriber (a license, or a legacy product code + customer identifier), plus registration sessions
 * (under the digest of their cookie) and resolved registration tokens (under the digest of the token), both expiring by
 * TTL, agreements, and Marketplace messages set aside (`item-keys.ts` has each kind's key prefix).
 *
 * `live` is sparse: only subscribers that may be metered carry `liveShard`, spread over a few shard values so that no
 * single index partition takes every write. `ending` is sparser still: only subscribers inside their final-metering
 * window carry `endingShard`, sorted by deadline, so the sweep (and the final flush) reads just those past it. The
 * stream (old and new images) tells the seller notifier what changed.
 */
export const subscribersTable: TableDefinition = {
  id: 'Subscribers',
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [
    {
      indexName: LIVE_INDEX.indexName,
      partitionKey: stringKey(LIVE_INDEX.partitionKey),
      sortKey: pk,
      projection: 'all',
    },
    {
      indexName: ENDING_INDEX.indexName,
      partitionKey: stringKey(ENDING_INDEX.partitionKey),
      sortKey: stringKey(ENDING_INDEX.sortKey),
      projection: 'all',
    },
  ],
  timeToLiveAttribute: TABLE_KEY.timeToLive,
  stream: 'NEW_AND_OLD_IMAGES',
};

/**
 * Hourly usage buckets (subscriber, dimension, hour, allocation tags) with their metering ledger on the same item,
 * plus per-event idempotency keys that expire.
 *
 * `pending` is sparse: a bucket carries `pendingShard` until its usage is billed, quarantined or expired, so a
 * metering run finds every closed bucket by querying a handful of shards by hour, never by scanning the table. It holds
 * the keys only (the run reads the subscriber, hour and dimension from them): adding usage to a bucket then writes
 * the table alone, not the index too.
 */
export const usageTable: TableDefinition = {
  id: 'Usage',
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [
    {
      indexName: PENDING_INDEX.indexName,
      partitionKey: stringKey(PENDING_INDEX.partitionKey),
      sortKey: stringKey(PENDING_INDEX.sortKey),
      projection: 'keys-only',
    },
  ],
  timeToLiveAttribute: TABLE_KEY.timeToLive,
};

export const tableDefinitions: readonly TableDefinition[] = [subscribersTable, usageTable];
