/**
 * The project's DynamoDB tables, described once as plain data.
 *
 * The CDK stack (`lib/storage.ts`) and the local DynamoDB Local launcher (`local/dynamodb/tables.ts`) both build their
 * tables from these definitions, so the key schema, indexes and TTL attribute cannot drift between the cloud and the
 * local stack. Keep this file free of CDK and SDK imports: it is data both sides read.
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

const pk: KeyAttribute = { name: 'pk', type: 'S' };
const sk: KeyAttribute = { name: 'sk', type: 'S' };

/**
 * One item per subscriber (a license, or a legacy product code + customer identifier), plus registration sessions
 * (under the digest of their cookie, expiring by TTL) and, later, processed lifecycle events.
 *
 * `live` is sparse: only subscribers that may be metered carry `liveShard`, spread over a few shard values so that no
 * single index partition takes every write. `ending` is sparser still: only subscribers inside their final-metering
 * window carry `endingShard`, sorted by deadline, so the sweep (and the final flush) reads just those past it. The stream (old and new images) tells the registration notifier when a
 * buyer completes registration.
 */
export const subscribersTable: TableDefinition = {
  id: 'Subscribers',
  partitionKey: pk,
  sortKey: sk,
  globalSecondaryIndexes: [
    { indexName: 'live', partitionKey: { name: 'liveShard', type: 'S' }, sortKey: pk, projection: 'all' },
    {
      indexName: 'ending',
      partitionKey: { name: 'endingShard', type: 'S' },
      sortKey: { name: 'finalMeteringDeadline', type: 'S' },
      projection: 'all',
    },
  ],
  timeToLiveAttribute: 'expiresAt',
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
      indexName: 'pending',
      partitionKey: { name: 'pendingShard', type: 'S' },
      sortKey: { name: 'pendingHour', type: 'S' },
      projection: 'keys-only',
    },
  ],
  timeToLiveAttribute: 'expiresAt',
};

export const tableDefinitions: readonly TableDefinition[] = [subscribersTable, usageTable];
