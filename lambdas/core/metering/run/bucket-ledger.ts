/**
 * The metering run's reads and writes of usage buckets. Every write is one conditional `UpdateItem` on one bucket, so
 * the recorder (which adds usage only while `frozenAt` is absent), a crashed run's rerun and a second run at the same
 * time each see a bucket in exactly one state:
 * - freezing sets `frozenAt` once; whoever comes second reads the quantity the first one froze;
 * - settling happens once, from `frozen`; a second settle finds it done and changes nothing (only `Success`, which is
 *   what Marketplace billed, stands over another outcome: see `settleBilled`).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  BatchGetCommand,
  GetCommand,
  QueryCommand,
  UpdateCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { itemId, type ItemKey } from '../../table-keys.ts';
import {
  UNCONFIRMED_SEND,
  BUCKET_SORT_FLOOR,
  bucketKey,
  bucketSortLimit,
  pendingShardOf,
  usagePartition,
} from '../bucket/index.ts';
import { PENDING_INDEX, PENDING_SHARDS, TABLE_KEY } from '../../../../contracts/index.ts';
import { BackendError } from '../../errors.ts';
import { itemsOfPages } from '../../table-pages.ts';

type Item = Record<string, unknown>;

const KEY_NAMES = { '#pk': TABLE_KEY.partitionKey, '#sk': TABLE_KEY.sortKey };

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

  /**
   * Every unsettled bucket of an hour before `before`, from every shard of the `pending` index, page by page, oldest
   * hour first: the shards are read side by side and merged by hour (each is sorted by it), so that a run that cannot
   * finish a backlog bills its oldest usage first.
   */
  async *pendingBefore(before: Date): AsyncGenerator<Item> {
    const shards = PENDING_SHARD_NAMES.map((shard) =>
      this.pages({
        IndexName: PENDING_INDEX.indexName,
        KeyConditionExpression: '#shard = :shard AND #hour < :before',
        ExpressionAttributeNames: { '#shard': PENDING_INDEX.partitionKey, '#hour': PENDING_INDEX.sortKey },
        ExpressionAttributeValues: { ':shard': shard, ':before': before.toISOString() },
      }),
    );
    yield* mergedByHour(shards);
  }

  /** Every unsettled bucket of one subscriber up to and including the hour `through`, read from its partition. */
  async *unsettledOf(subscriberId: string, through: Date): AsyncGenerator<Item> {
    yield* this.pages({
      // Bucket sort keys are `HOUR#<fixed-width ISO hour>#<dimension>`: this range is every hour up to `through`.
      KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
      FilterExpression: 'attribute_exists(#shard)',
      ExpressionAttributeNames: {
        '#pk': TABLE_KEY.partitionKey,
        '#sk': TABLE_KEY.sortKey,
        '#shard': PENDING_INDEX.partitionKey,
      },
      ExpressionAttributeValues: {
        ':pk': usagePartition(subscriberId),
        ':first': BUCKET_SORT_FLOOR,
        ':last': bucketSortLimit(through),
      },
      ConsistentRead: true,
    });
  }

  private pages(query: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>): AsyncGenerator<Item> {
    return itemsOfPages((startKey) =>
      this.client.send(new QueryCommand({ ...query, TableName: this.tableName, ExclusiveStartKey: startKey })),
    );
  }

  /**
   * Which of the keys are buckets that exist, by `itemId`: read a hundred at a time, eventually
   * consistent (a bucket created a moment ago may be missed; the caller's conditional create then finds it).
   */
  async existing(keys: readonly ItemKey[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let start = 0; start < keys.length; start += 100) {
      let requested: Record<string, { Keys: Record<string, unknown>[] }> | undefined = {
        [this.tableName]: { Keys: keys.slice(start, start + 100).map((key) => ({ ...key })) },
      };
      for (let attempt = 1; requested !== undefined && Object.keys(requested).length > 0; attempt++) {
        if (attempt > 10) throw new BackendError('DynamoDB left bucket keys unread 10 times');
        const { Responses, UnprocessedKeys }: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({
            RequestItems: Object.fromEntries(
              Object.entries(requested).map(([table, request]) => [
                table,
                { ...request, ProjectionExpression: '#pk, #sk', ExpressionAttributeNames: KEY_NAMES },
              ]),
            ),
          }),
        );
        for (const item of Responses?.[this.tableName] ?? []) {
          found.add(itemId({ pk: String(item.pk), sk: String(item.sk) }));
        }
        requested = UnprocessedKeys as typeof requested;
        if (requested !== undefined && Object.keys(requested).length > 0) await sleep(20 * attempt);
      }
    }
    return found;
  }

  /** The bucket as it stands now (strongly consistent), or `undefined` if there is none. */
  async read(key: ItemKey): Promise<Item | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return Item;
  }

  /**
   * Fixes the bucket's quantity and its record's timestamp, unless an earlier or concurrent run did; answers the bucket
   * as frozen, to send exactly that record (or as it stands, if it was settled meanwhile).
   */
  async freeze(
    key: ItemKey,
    freeze: { readonly now: Date; readonly recordTimestamp: Date },
  ): Promise<Item | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #frozenAt = :now, #state = :frozen, #recordTimestamp = :recordTimestamp',
          ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#frozenAt)',
          ExpressionAttributeNames: {
            '#pk': TABLE_KEY.partitionKey,
            '#frozenAt': 'frozenAt',
            '#state': 'state',
            '#recordTimestamp': 'recordTimestamp',
          },
          ExpressionAttributeValues: {
            ':now': freeze.now.toISOString(),
            ':frozen': 'frozen',
            ':recordTimestamp': freeze.recordTimestamp.toISOString(),
          },
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
    return this.isSettled(key, set, {
      remove: 'REMOVE #pendingShard, #reason, #unconfirmedSend',
      ConditionExpression: '#state IN (:frozen, :expired) OR (#state = :rejected AND #reason = :duplicate)',
      ExpressionAttributeNames: {
        '#pendingShard': PENDING_INDEX.partitionKey,
        '#reason': 'reason',
        '#unconfirmedSend': UNCONFIRMED_SEND,
      },
      ExpressionAttributeValues: {
        ':frozen': 'frozen',
        ':expired': 'expired',
        ':rejected': 'rejected',
        ':duplicate': 'DuplicateRecord',
      },
    });
  }

  /**
   * `unconfirmedSend`: an earlier run froze the bucket and may have sent it without learning the answer, so Marketplace
   * may have billed it then: kept on the item for the report, to settle from CloudTrail.
   */
  async settleRejected(
    key: ItemKey,
    rejected: { readonly reason: string; readonly requestId: string | undefined; readonly unconfirmedSend: boolean },
    now: Date,
  ): Promise<boolean> {
    const set = {
      ...definedOf({
        state: 'rejected',
        reason: rejected.reason,
        settledAt: now.toISOString(),
        requestId: rejected.requestId,
      }),
      ...(rejected.unconfirmedSend ? { [UNCONFIRMED_SEND]: true } : {}),
    };
    return this.isSettled(key, set, {
      remove: 'REMOVE #pendingShard',
      ConditionExpression: '#state = :frozen',
      ExpressionAttributeNames: { '#pendingShard': PENDING_INDEX.partitionKey },
      ExpressionAttributeValues: { ':frozen': 'frozen' },
    });
  }

  /**
   * Settles a bucket Marketplace would no longer accept. It is frozen at the same time (unless a run froze it before),
   * so that usage arriving for its hour from now on is carried into an open hour, where it can still be billed. One an
   * earlier run froze may have been sent without the answer being learned: it is marked `unconfirmedSend`, and the
   * answer says so, unless the caller knows better (`unconfirmedSend: false`: this run froze it and heard every answer).
   * The answer also says how many units expired (when this call expired the bucket).
   */
  async expire(key: ItemKey, reason: string, now: Date, { unconfirmedSend = true } = {}): Promise<Expiry> {
    for (const frozenEarlier of [true, false]) {
      const set: Record<string, unknown> = {
        state: 'expired',
        reason,
        settledAt: now.toISOString(),
        ...(frozenEarlier ? (unconfirmedSend ? { [UNCONFIRMED_SEND]: true } : {}) : { frozenAt: now.toISOString() }),
      };
      const settled = await this.settle(key, set, {
        remove: 'REMOVE #pendingShard',
        ConditionExpression: frozenEarlier ? '#state = :frozen' : 'attribute_exists(#pk) AND #state = :open',
        ExpressionAttributeNames: {
          '#pendingShard': PENDING_INDEX.partitionKey,
          ...(frozenEarlier ? {} : { '#pk': TABLE_KEY.partitionKey }),
        },
        ExpressionAttributeValues: frozenEarlier ? { ':frozen': 'frozen' } : { ':open': 'open' },
      });
      if (settled !== undefined) {
        const units = settled.quantity;
        return {
          expired: true,
          frozenEarlier: frozenEarlier && unconfirmedSend,
          units: typeof units === 'number' ? units : undefined,
        };
      }
    }
    return { expired: false, frozenEarlier: false, units: undefined };
  }

  /**
   * Creates a subscriber's empty bucket for the hour, as the recorder would create it, unless one exists (open, frozen
   * or settled: the hour has, or had, a record of its own). Answers whether it created it.
   */
  async createZeroBucket(subscriberId: string, hour: Date, dimension: string): Promise<boolean> {
    const item = zeroBucketAttributes(subscriberId, hour, dimension);
    try {
      // An update that creates, rather than a put: the functions that meter may update buckets, not put them.
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: bucketKey(subscriberId, hour, dimension),
          UpdateExpression: setExpression(item),
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { ...namesOf(item), '#pk': TABLE_KEY.partitionKey },
          ExpressionAttributeValues: valuesOf(item),
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }

  private async isSettled(key: ItemKey, set: Record<string, unknown>, update: SettleUpdate): Promise<boolean> {
    return (await this.settle(key, set, update)) !== undefined;
  }

  /**
   * Sets `set` (and `update`'s removals) where its condition holds; answers the bucket as this call settled it, or
   * `undefined` when another settled it first (an earlier run's outcome, or a run sending the same record at once).
   * Each call writes an id of its own (`settledBy`): when the SDK sends the update again because its answer was lost,
   * the repeat's condition fails on what the first attempt wrote, and the id tells that this call settled it after all.
   * When every attempt's answer was lost, the bucket is read back: its id says whether one of them was applied.
   */
  private async settle(key: ItemKey, set: Record<string, unknown>, update: SettleUpdate): Promise<Item | undefined> {
    const settledBy = randomUUID();
    const attributes = { ...set, [SETTLED_BY]: settledBy };
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `${setExpression(attributes)} ${update.remove}`,
          ConditionExpression: update.ConditionExpression,
          ExpressionAttributeNames: { ...namesOf(attributes), ...update.ExpressionAttributeNames },
          ExpressionAttributeValues: { ...valuesOf(attributes), ...update.ExpressionAttributeValues },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return Attributes ?? {};
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) {
        const stored = await this.read(key).catch(() => undefined);
        if (stored?.[SETTLED_BY] === settledBy) return stored;
        throw error;
      }
      const stored = error.Item === undefined ? undefined : unmarshall(error.Item);
      return stored?.[SETTLED_BY] === settledBy ? stored : undefined;
    }
  }
}

/** The id of the call that settled a bucket, so that a lost answer's repeat knows its own write. */
const SETTLED_BY = 'settledBy';

interface SettleUpdate {
  /** What the update removes, `REMOVE #name, ...` (its names among `ExpressionAttributeNames`). */
  readonly remove: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** What `expire` did: whether this call expired the bucket, whether a run froze it earlier, and its units. */
export interface Expiry {
  readonly expired: boolean;
  readonly frozenEarlier: boolean;
  readonly units: number | undefined;
}

/** A zero-usage bucket's attributes (beside its key), as the recorder would create the bucket. */
export function zeroBucketAttributes(subscriberId: string, hour: Date, dimension: string): Item {
  return {
    subscriberId,
    dimension,
    hour: hour.toISOString(),
    quantity: 0,
    state: 'open',
    [PENDING_INDEX.partitionKey]: pendingShardOf(subscriberId),
    [PENDING_INDEX.sortKey]: hour.toISOString(),
  };
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

/**
 * The items of several streams, each sorted by `pendingHour`, as one stream sorted by it: the head of each stream is
 * kept, and the oldest head taken (the first stream's on a tie). Each stream reads its next page only when its head is
 * taken.
 */
async function* mergedByHour(streams: readonly AsyncGenerator<Item>[]): AsyncGenerator<Item> {
  const headOf = async (stream: AsyncGenerator<Item>): Promise<Item | undefined> => {
    const next = await stream.next();
    return next.done === true ? undefined : next.value;
  };
  const heads = await Promise.all(streams.map(headOf));
  const hourOf = (item: Item) => String(item[PENDING_INDEX.sortKey]);
  for (;;) {
    let oldest: number | undefined;
    heads.forEach((head, index) => {
      if (head === undefined) return;
      if (oldest === undefined || hourOf(head) < hourOf(heads[oldest]!)) oldest = index;
    });
    if (oldest === undefined) return;
    const taken = heads[oldest]!;
    heads[oldest] = await headOf(streams[oldest]!);
    yield taken;
  }
}
