/**
 * Fixtures for metering tests: buyers known to both the simulator and the Subscribers table, and usage buckets
 * written exactly as the recorder writes them (an `UpdateItem` that `ADD`s, conditional on the bucket not being
 * frozen), so that the run is tested against the items it meets in production.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LifecycleRepository } from '../../lambdas/core/lifecycle/lifecycle-repository.ts';
import { subscriberIdOf, type SubscriberIdentity } from '../../lambdas/core/subscriber.ts';
import { itemsOfPages } from '../../lambdas/core/table-pages.ts';
import {
  allocationAttributes,
  bucketKey,
  canonicalTags,
  pendingShardOf,
  usagePartition,
  type AllocationTags,
} from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import type { LicenseView, SimulatorControl } from '../../simulator/control-client.ts';
import { minutesFrom } from './simulator.ts';

export interface Buyer {
  readonly subscriberId: string;
  readonly license: LicenseView;
}

export interface BuyerOptions {
  /** When the subscription started: two days before `now` unless given. */
  readonly since?: Date;
}

/**
 * A buyer who subscribed before `now`: a live license in the simulator (which refuses usage from before a license
 * started) and a live subscriber in the table, as the lifecycle leaves one. The simulator's clock is left at `now`.
 */
export async function subscribeBuyer(
  setup: {
    readonly control: SimulatorControl;
    readonly client: DynamoDBDocumentClient;
    readonly subscribersTable: string;
  },
  productCode: string,
  now: Date,
  options: BuyerOptions = {},
): Promise<Buyer> {
  const since = options.since ?? minutesFrom(now, -2 * 24 * 60);
  await setup.control.setClock(since, false);
  const { license } = await setup.control.createLicense({ productCode });
  await setup.control.setClock(now, false);
  const subscriber = identityOf(license);
  await new LifecycleRepository(setup.client, setup.subscribersTable, 3600).applyToSubscriber(
    { subscriber, facts: ['activatedAt'], at: since },
    now,
  );
  return { subscriberId: subscriberIdOf(subscriber), license };
}

/**
 * The buyer cancels at `at`: the simulator ends the license (its final-metering window opens) and the lifecycle records
 * the end request, as `License Deprovisioned` or `unsubscribe-pending` would. The simulator's clock is left at `at`.
 */
export async function cancelSubscription(
  setup: {
    readonly control: SimulatorControl;
    readonly client: DynamoDBDocumentClient;
    readonly subscribersTable: string;
  },
  buyer: Buyer,
  at: Date,
): Promise<void> {
  await setup.control.setClock(at, false);
  await setup.control.end(buyer.license.id);
  await new LifecycleRepository(setup.client, setup.subscribersTable, 3600).applyToSubscriber(
    { subscriber: identityOf(buyer.license), facts: ['endRequestedAt'], at },
    at,
  );
}

/** The identity a simulator license gives its subscriber, in either identity model. */
export function identityOf(license: LicenseView): SubscriberIdentity {
  return license.identityModel === 'license'
    ? {
        model: 'license',
        productCode: license.productCode,
        licenseArn: license.licenseArn!,
        customerAWSAccountId: license.customerAWSAccountId,
      }
    : { model: 'legacy', productCode: license.productCode, customerIdentifier: license.customerIdentifier! };
}

/** Adds usage to a bucket as the recorder does; answers `false` when the bucket is frozen (the recorder carries it). */
export async function addUsage(
  client: DynamoDBDocumentClient,
  usageTable: string,
  usage: {
    readonly subscriberId: string;
    readonly hour: Date;
    readonly dimension: string;
    readonly quantity: number;
    readonly tags?: AllocationTags;
    /** Extra bytes on the item, to make query pages hold fewer buckets. */
    readonly paddingBytes?: number;
  },
): Promise<boolean> {
  const hour = usage.hour.toISOString();
  const tagged = usage.tags === undefined ? undefined : allocationAttributes(usage.tags);
  const set: Record<string, unknown> = {
    subscriberId: usage.subscriberId,
    dimension: usage.dimension,
    hour,
    state: 'open',
    pendingShard: pendingShardOf(usage.subscriberId),
    pendingHour: hour,
    ...(usage.paddingBytes === undefined ? {} : { padding: 'x'.repeat(usage.paddingBytes) }),
  };
  const setNames = Object.keys(set);
  try {
    await client.send(
      new UpdateCommand({
        TableName: usageTable,
        Key: bucketKey(usage.subscriberId, usage.hour, usage.dimension),
        UpdateExpression: [
          `SET ${[
            ...setNames.map((name, index) => `#s${index} = :s${index}`),
            ...(tagged === undefined ? [] : ['#tags = :tags']),
          ].join(', ')}`,
          `ADD #quantity :quantity${tagged === undefined ? '' : ', #tagged :quantity'}`,
        ].join(' '),
        ConditionExpression: 'attribute_not_exists(#frozenAt)',
        ExpressionAttributeNames: {
          ...Object.fromEntries(setNames.map((name, index) => [`#s${index}`, name])),
          '#quantity': 'quantity',
          '#frozenAt': 'frozenAt',
          ...(tagged === undefined ? {} : { '#tags': tagged.tags, '#tagged': tagged.quantity }),
        },
        ExpressionAttributeValues: {
          ...Object.fromEntries(setNames.map((name, index) => [`:s${index}`, set[name]])),
          ':quantity': usage.quantity,
          ...(tagged === undefined ? {} : { ':tags': canonicalTags(usage.tags!) }),
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

/** Every bucket of a subscriber, straight from the table. */
export async function bucketsOf(
  client: DynamoDBDocumentClient,
  usageTable: string,
  subscriberId: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const pages = itemsOfPages((startKey) =>
    client.send(
      new QueryCommand({
        TableName: usageTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': usagePartition(subscriberId) },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    ),
  );
  for await (const item of pages) items.push(item);
  return items;
}

/** The start of the hour `hours` hours before the one `now` is in. */
export function hoursBefore(now: Date, hours: number): Date {
  return new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - hours * 3_600_000);
}
