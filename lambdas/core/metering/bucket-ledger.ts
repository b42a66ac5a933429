/**
 * The metering run's reads and writes of usage buckets. Every write is one conditional `UpdateItem` on one bucket, so
 * the recorder (which adds usage only while `frozenAt` is absent), a crashed run's rerun and a second run at the same
 * time each see a bucket in exactly one state:
 * - freezing sets `frozenAt` once; whoever comes second reads the quantity the first one froze;
 * - settling happens once, from `frozen`; a second settle finds it done and changes nothing (only `Success`, which is
 *   what Marketplace billed, stands over another outcome: see `settleBilled`).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ItemKey } from '../table-keys.ts';
import {
  bucketKey,
  bucketSortPrefix,
  HOUR_MS,
  PENDING_INDEX,
  PENDING_SHARDS,
  pendingShardOf,
  USAGE_KEY,
  usagePartition,
} from './usage-bucket.ts';

type Item = Record<string, unknown>;

/** The `pending` index partitions, as `pendingShardOf` names them. */
export const PENDING_SHARD_NAMES: readonly string[] = Array.from(
  { length: PENDING_SHARDS },
  (_, shard) => `pending#${shard}`,
);

export class BucketLedger {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Every unsettled bucket of an hour before `before`, from every shard of the `pending` index, page by page. */
  async *pendingBefore(before: Date): AsyncGenerator<Item> {
    for (const shard of PENDING_SHARD_NAMES) {
      yield* this.pages({
        IndexName: PENDING_INDEX.indexName,
        KeyConditionExpression: '#shard = :shard AND #hour < :before',
        ExpressionAttributeNames: { '#shard': PENDING_INDEX.partitionKey, '#hour': PENDING_INDEX.sortKey },
        ExpressionAttributeValues: { ':shard': shard, ':before': before.toISOString() },
      });
    }
  }

  /** Every unsettled bucket of one subscriber up to and including the hour `through`, read from its partition. */
  async *unsettledOf(subscriberId: string, through: Date): AsyncGenerator<Item> {
    yield* this.pages({
      // Bucket sort keys are `HOUR#<fixed-width ISO hour>#<dimension>`: this range is every hour up to `through`.
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
      FilterExpression: 'attribute_exists(#shard)',
      ExpressionAttributeNames: {
        '#pk': USAGE_KEY.partitionKey,
        '#sk': USAGE_KEY.sortKey,
        '#shard': PENDING_INDEX.partitionKey,
      },
      ExpressionAttributeValues: {
        ':pk': usagePartition(subscriberId),
        ':first': bucketSortPrefix(new Date(0)),
        ':last': bucketSortPrefix(new Date(through.getTime() + HOUR_MS)),
      },
      ConsistentRead: true,
    });
  }

  private async *pages(query: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): AsyncGenerator<Item> {
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...query, TableName: this.tableName, ExclusiveStartKey: startKey }),
      );
      yield* page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** The bucket as it stands now (strongly consistent), or `undefined` if there is none. */
  async read(key: ItemKey): Promise<Item | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  /**
   * Fixes the bucket's quantity, unless an earlier or concurrent run did; answers the bucket as frozen, to send exactly
   * that quantity (or as it stands, if it was settled meanwhile).
   */
  async freeze(key: ItemKey, now: Date): Promise<Item | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #frozenAt = :now, #state = :frozen',
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#frozenAt)',
          ExpressionAttributeNames: { '#pk': USAGE_KEY.partitionKey, '#frozenAt': 'frozenAt', '#state': 'state' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':frozen': 'frozen' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return this.read(key);
    }
  }

  /**
   * Answers whether this call settled it (not an earlier one). `Success` is what Marketplace billed, so it also stands
   * over what a concurrent run concluded while this record was in flight: a `DuplicateRecord` answer to its identical
   * send (where an identical resend is answered so), or an expiry decided by a run whose clock had passed the window.
   */
  async settleBilled(
    key: ItemKey,
    billed: { readonly meteringRecordId: string | undefined; readonly requestId: string | undefined },
    now: Date,
  ): Promise<boolean> {
    const set = definedOf({
      state: 'billed',
      settledAt: now.toISOString(),
      meteringRecordId: billed.meteringRecordId,
      requestId: billed.requestId,
    });
    return this.settle(key, {
      UpdateExpression: `${setExpression(set)} REMOVE #pendingShard, #reason`,
      ConditionExpression: '#state IN (:frozen, :expired) OR (#state = :rejected AND #reason = :duplicate)',
      ExpressionAttributeNames: { ...namesOf(set), '#pendingShard': PENDING_INDEX.partitionKey, '#reason': 'reason' },
      ExpressionAttributeValues: {
        ...valuesOf(set),
        ':frozen': 'frozen',
        ':expired': 'expired',
        ':rejected': 'rejected',
        ':duplicate': 'DuplicateRecord',
      },
    });
  }

  async settleRejected(key: ItemKey, reason: string, requestId: string | undefined, now: Date): Promise<boolean> {
    const set = definedOf({ state: 'rejected', reason, settledAt: now.toISOString(), requestId });
    return this.settle(key, {
      UpdateExpression: `${setExpression(set)} REMOVE #pendingShard`,
      ConditionExpression: '#state = :frozen',
      ExpressionAttributeNames: { ...namesOf(set), '#pendingShard': PENDING_INDEX.partitionKey },
      ExpressionAttributeValues: { ...valuesOf(set), ':frozen': 'frozen' },
    });
  }

  /**
   * Settles a bucket Marketplace would no longer accept. It is frozen at the same time (unless a run froze it before),
   * so that usage arriving for its hour from now on is carried into an open hour, where it can still be billed.
   * Answers whether it had been frozen by an earlier run, which may have sent it without learning the answer.
   */
  async expire(key: ItemKey, reason: string, now: Date): Promise<{ expired: boolean; frozenEarlier: boolean }> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression:
            'SET #state = :expired, #reason = :reason, #settledAt = :now, #frozenAt = if_not_exists(#frozenAt, :now) ' +
            'REMOVE #pendingShard',
          ConditionExpression: 'attribute_exists(#pk) AND (#state = :open OR #state = :frozen)',
          ExpressionAttributeNames: {
            '#pk': USAGE_KEY.partitionKey,
            '#state': 'state',
            '#reason': 'reason',
            '#settledAt': 'settledAt',
            '#frozenAt': 'frozenAt',
            '#pendingShard': PENDING_INDEX.partitionKey,
          },
          ExpressionAttributeValues: {
            ':expired': 'expired',
            ':reason': reason,
            ':now': now.toISOString(),
            ':open': 'open',
            ':frozen': 'frozen',
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { expired: true, frozenEarlier: Attributes?.frozenAt !== undefined };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { expired: false, frozenEarlier: false };
    }
  }

  /**
   * Makes sure a subscriber has a bucket for the hour, with the attributes the recorder gives one, adding nothing to
   * it. Answers `false` if the bucket is frozen already: it has (or had) a record of its own.
   */
  async ensureBucket(subscriberId: string, hour: Date, dimension: string): Promise<boolean> {
    const set = { subscriberId, dimension, hour: hour.toISOString() };
    // As the recorder sets them: kept if the bucket has them already.
    const kept = {
      state: 'open',
      [PENDING_INDEX.partitionKey]: pendingShardOf(subscriberId),
      [PENDING_INDEX.sortKey]: hour.toISOString(),
    };
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: bucketKey(subscriberId, hour, dimension),
          UpdateExpression: `${setExpression(set)}, ${Object.keys(kept)
            .map((name) => `#${name} = if_not_exists(#${name}, :${name})`)
            .join(', ')} ADD #quantity :zero`,
          ConditionExpression: 'attribute_not_exists(#frozenAt)',
          ExpressionAttributeNames: {
            ...namesOf({ ...set, ...kept }),
            '#quantity': 'quantity',
            '#frozenAt': 'frozenAt',
          },
          ExpressionAttributeValues: { ...valuesOf({ ...set, ...kept }), ':zero': 0 },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  private async settle(
    key: ItemKey,
    update: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
  ): Promise<boolean> {
    try {
      await this.client.send(new UpdateCommand({ TableName: this.tableName, Key: key, ...update }));
      return true;
    } catch (error) {
      // Settled already: by an earlier attempt of this run's outcome, or by a run sending the same record at once.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }
}

function definedOf(attributes: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(attributes).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

const setExpression = (set: Record<string, unknown>) =>
  `SET ${Object.keys(set)
    .map((name) => `#${name} = :${name}`)
    .join(', ')}`;
const namesOf = (set: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(set).map((name) => [`#${name}`, name]));
const valuesOf = (set: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(set).map(([name, value]) => [`:${name}`, value]));
