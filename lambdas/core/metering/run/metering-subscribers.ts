/**
 * What the metering run reads of the Subscribers table: who a bucket's subscriber is (the identity its records carry)
 * and where its subscription stands (which decides when its buckets are sent), which subscribers are live (for
 * zero-usage records) and which are ending (for final metering), from the sparse `live` and `ending` indexes, shard by
 * shard, page by page.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LifecycleFacts } from '../../lifecycle/subscription-state.ts';
import { subscriberKey } from '../../table-keys.ts';
import type { MeteringIdentity } from './usage-record.ts';
import { ENDING_INDEX, LIVE_INDEX, LIVE_SHARDS } from '../../../../contracts/index.ts';
import { itemsOfPages } from '../../table-pages.ts';

export type IdentityLookup =
  | { readonly kind: 'known'; readonly identity: MeteringIdentity; readonly lifecycle: LifecycleFacts }
  /** No such subscriber: its usage can never be billed. */
  | { readonly kind: 'unknown' }
  /**
   * The subscriber is known, but not yet everything a record needs (a license the lifecycle heard of before the buyer
   * arrived may lack the buyer's account): its usage waits.
   */
  | { readonly kind: 'incomplete'; readonly missing: string; readonly lifecycle: LifecycleFacts };

export interface LiveSubscriber {
  readonly subscriberId: string;
  readonly productCode: string;
  readonly lifecycle: LifecycleFacts;
  /** Whether the item holds everything a record needs (not so for a license heard of before the buyer arrived). */
  readonly identified: boolean;
}

/** The `live` and `ending` index partitions, as `liveShardOf` and `endingShardOf` name them. */
export const LIVE_SHARD_NAMES: readonly string[] = Array.from({ length: LIVE_SHARDS }, (_, shard) => `live#${shard}`);
const ENDING_SHARD_NAMES: readonly string[] = Array.from({ length: LIVE_SHARDS }, (_, shard) => `ending#${shard}`);

export class MeteringSubscribers {
  /**
   * The subscribers read lately, the least recently used first (a `Map` keeps insertion order): one read per subscriber
   * while its buckets come together, and no more than `cacheSize` kept, however many subscribers a run meets.
   */
  private readonly identities = new Map<string, Promise<IdentityLookup>>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cacheSize = 10_000,
  ) {}

  identityOf(subscriberId: string): Promise<IdentityLookup> {
    let lookup = this.identities.get(subscriberId);
    if (lookup === undefined) {
      lookup = this.read(subscriberId);
      if (this.identities.size >= this.cacheSize) this.identities.delete(this.identities.keys().next().value!);
    } else {
      this.identities.delete(subscriberId);
    }
    this.identities.set(subscriberId, lookup);
    return lookup;
  }

  private async read(subscriberId: string): Promise<IdentityLookup> {
    const { Item } = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: subscriberKey(subscriberId),
        ConsistentRead: true,
        ...projectionOf(METERING_ATTRIBUTES),
      }),
    );
    return Item === undefined ? { kind: 'unknown' } : identityOf(Item);
  }

  async *live(): AsyncGenerator<LiveSubscriber> {
    for await (const item of this.indexItems(LIVE_INDEX, LIVE_SHARD_NAMES, METERING_ATTRIBUTES)) {
      const { subscriberId, productCode, lifecycle } = item;
      if (typeof subscriberId === 'string' && typeof productCode === 'string') {
        yield { subscriberId, productCode, lifecycle: lifecycle ?? {}, identified: identityOf(item).kind === 'known' };
      }
    }
  }

  /** The ids of the subscribers inside their final-metering window (or just past it, until the sweep ends them). */
  async *ending(): AsyncGenerator<string> {
    for await (const { subscriberId } of this.indexItems(ENDING_INDEX, ENDING_SHARD_NAMES, ['subscriberId'])) {
      if (typeof subscriberId === 'string') yield subscriberId;
    }
  }

  private async *indexItems(
    index: { readonly indexName: string; readonly partitionKey: string },
    shards: readonly string[],
    attributes: readonly string[],
  ): AsyncGenerator<Record<string, unknown>> {
    const projection = projectionOf(attributes);
    for (const shard of shards) {
      yield* itemsOfPages((startKey) =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: index.indexName,
            KeyConditionExpression: '#shard = :shard',
            ProjectionExpression: projection.ProjectionExpression,
            ExpressionAttributeNames: { '#shard': index.partitionKey, ...projection.ExpressionAttributeNames },
            ExpressionAttributeValues: { ':shard': shard },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
    }
  }
}

/**
 * What metering reads of a subscriber: who it is and its lifecycle, never the buyer's contact details
 * (`registration`), which the item and the indexes also hold.
 */
const METERING_ATTRIBUTES = [
  'subscriberId',
  'productCode',
  'identityModel',
  'licenseArn',
  'customerAWSAccountId',
  'customerIdentifier',
  'lifecycle',
] as const;

function projectionOf(attributes: readonly string[]) {
  return {
    ProjectionExpression: attributes.map((_, index) => `#a${index}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(attributes.map((name, index) => [`#a${index}`, name])),
  };
}

/**
 * The identity a subscriber's records carry: its identity model decides, whatever other identifiers the item also
 * holds (a legacy buyer's `ResolveCustomer` answer may carry a `LicenseArn` too), so a customer-hour is never metered
 * under both.
 */
function identityOf(item: Record<string, unknown>): IdentityLookup {
  const text = (name: string): string | undefined => {
    const value = item[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const lifecycle = (item.lifecycle ?? {}) as LifecycleFacts;
  const incomplete = (missing: string): IdentityLookup => ({ kind: 'incomplete', missing, lifecycle });
  const productCode = text('productCode');
  if (productCode === undefined) return incomplete('productCode');
  switch (item.identityModel) {
    case 'license': {
      const licenseArn = text('licenseArn');
      const accountId = text('customerAWSAccountId');
      if (licenseArn === undefined) return incomplete('licenseArn');
      if (accountId === undefined) return incomplete('customerAWSAccountId');
      return { kind: 'known', identity: { model: 'license', productCode, licenseArn, accountId }, lifecycle };
    }
    case 'legacy': {
      const customerIdentifier = text('customerIdentifier');
      if (customerIdentifier === undefined) return incomplete('customerIdentifier');
      return { kind: 'known', identity: { model: 'legacy', productCode, customerIdentifier }, lifecycle };
    }
    default:
      return incomplete('identityModel');
  }
}
