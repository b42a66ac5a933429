/**
 * What the metering run reads of the Subscribers table: who a bucket's subscriber is (the identity its records carry),
 * and which subscribers are live (for zero-usage records), from the sparse `live` index, shard by shard, page by page.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LifecycleFacts } from '../lifecycle/subscription-state.ts';
import { LIVE_INDEX, LIVE_SHARDS, subscriberKey } from '../table-keys.ts';
import type { MeteringIdentity } from './usage-record.ts';

export type IdentityLookup =
  | { readonly kind: 'known'; readonly identity: MeteringIdentity }
  /** No such subscriber: its usage can never be billed. */
  | { readonly kind: 'unknown' }
  /**
   * The subscriber is known, but not yet everything a record needs (a license the lifecycle heard of before the buyer
   * arrived may lack the buyer's account): its usage waits.
   */
  | { readonly kind: 'incomplete'; readonly missing: string };

export interface LiveSubscriber {
  readonly subscriberId: string;
  readonly productCode: string;
  readonly lifecycle: LifecycleFacts;
}

/** The `live` index partitions, as `liveShardOf` names them. */
export const LIVE_SHARD_NAMES: readonly string[] = Array.from({ length: LIVE_SHARDS }, (_, shard) => `live#${shard}`);

export class MeteringSubscribers {
  /** One read per subscriber per run, however many buckets it has. */
  private readonly identities = new Map<string, Promise<IdentityLookup>>();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  identityOf(subscriberId: string): Promise<IdentityLookup> {
    let lookup = this.identities.get(subscriberId);
    if (lookup === undefined) {
      lookup = this.read(subscriberId);
      this.identities.set(subscriberId, lookup);
    }
    return lookup;
  }

  private async read(subscriberId: string): Promise<IdentityLookup> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: subscriberKey(subscriberId), ConsistentRead: true }),
    );
    return Item === undefined ? { kind: 'unknown' } : identityOf(Item);
  }

  async *live(): AsyncGenerator<LiveSubscriber> {
    for (const shard of LIVE_SHARD_NAMES) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: LIVE_INDEX.indexName,
            KeyConditionExpression: '#shard = :shard',
            ExpressionAttributeNames: { '#shard': LIVE_INDEX.partitionKey },
            ExpressionAttributeValues: { ':shard': shard },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          const { subscriberId, productCode, lifecycle } = item;
          if (typeof subscriberId === 'string' && typeof productCode === 'string') {
            yield { subscriberId, productCode, lifecycle: (lifecycle ?? {}) as LifecycleFacts };
          }
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
    }
  }
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
  const productCode = text('productCode');
  if (productCode === undefined) return { kind: 'incomplete', missing: 'productCode' };
  switch (item.identityModel) {
    case 'license': {
      const licenseArn = text('licenseArn');
      const accountId = text('customerAWSAccountId');
      if (licenseArn === undefined) return { kind: 'incomplete', missing: 'licenseArn' };
      if (accountId === undefined) return { kind: 'incomplete', missing: 'customerAWSAccountId' };
      return { kind: 'known', identity: { model: 'license', productCode, licenseArn, accountId } };
    }
    case 'legacy': {
      const customerIdentifier = text('customerIdentifier');
      if (customerIdentifier === undefined) return { kind: 'incomplete', missing: 'customerIdentifier' };
      return { kind: 'known', identity: { model: 'legacy', productCode, customerIdentifier } };
    }
    default:
      return { kind: 'incomplete', missing: 'identityModel' };
  }
}
