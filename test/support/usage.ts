/**
 * Recording usage against DynamoDB Local: subscribers in each lifecycle state (written by the repositories the
 * functions use, so the items have their real shape), and the Usage table read back as the metering run would see it.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { LifecycleRepository } from '../../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { LifecycleFact } from '../../lambdas/core/lifecycle/subscription-state.ts';
import { bucketKey, pendingShardOf, usagePartition } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import type { MeteredProduct } from '../../lambdas/core/environment.ts';
import type { UsageRecorderDependencies } from '../../lambdas/core/metering/recording/usage-recorder.ts';
import { eventKeyOf } from '../../lambdas/core/metering/recording/usage-write-plan.ts';
import { SubscriberRepository } from '../../lambdas/core/subscriber-repository.ts';
import type { DynamoDbForTests } from './dynamodb.ts';

/** The recorder's clock in these tests: 34 minutes into the 12:00 hour. */
export const NOW = new Date('2026-11-26T12:34:56.000Z');
export const CURRENT_HOUR = new Date('2026-11-26T12:00:00.000Z');
export const NEXT_HOUR = new Date('2026-11-26T13:00:00.000Z');
export const EARLIER_HOUR = new Date('2026-11-26T10:00:00.000Z');

export const LICENSE_PRODUCT = 'prod-metered';
export const LEGACY_PRODUCT = 'prod-legacy';
export const UNSOLD_PRODUCT = 'prod-not-sold-here';

export const PRODUCTS: readonly MeteredProduct[] = [
  { code: LICENSE_PRODUCT, identityModel: 'license', meteredDimensions: ['requests', 'storage'] },
  { code: LEGACY_PRODUCT, identityModel: 'legacy', meteredDimensions: ['seats'] },
];

export const GRACE_SECONDS = 3600;
export const RETENTION_DAYS = 35;

export function recorderDependencies(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  overrides: Partial<UsageRecorderDependencies> = {},
): UsageRecorderDependencies {
  return {
    client,
    usageTable: dynamoDb.tables.Usage,
    subscribersTable: dynamoDb.tables.Subscribers,
    products: PRODUCTS,
    acceptanceWindowHours: 24,
    eventIdRetentionDays: RETENTION_DAYS,
    finalMetering: { graceSeconds: GRACE_SECONDS, finalHourMarginMinutes: 15 },
    ...overrides,
  };
}

/** What Marketplace said about a subscriber, and when. */
export type History = readonly (readonly [LifecycleFact, string])[];

export const ACTIVE: History = [['activatedAt', '2026-11-01T00:00:00.000Z']];

/** A new license subscriber of `productCode` with `history` folded in; its id. */
export async function licenseSubscriber(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  history: History = ACTIVE,
  productCode = LICENSE_PRODUCT,
): Promise<string> {
  const licenseArn = `arn:aws:license-manager::123456789012:license:l-${randomUUID().replaceAll('-', '')}`;
  const lifecycle = new LifecycleRepository(client, dynamoDb.tables.Subscribers, GRACE_SECONDS);
  for (const [fact, at] of history) {
    await lifecycle.applyToSubscriber(
      {
        subscriber: { model: 'license', productCode, licenseArn, customerAWSAccountId: '123456789012' },
        facts: [fact],
        at: new Date(at),
      },
      NOW,
    );
  }
  return `license:${licenseArn}`;
}

export async function legacySubscriber(dynamoDb: DynamoDbForTests, client: DynamoDBDocumentClient): Promise<string> {
  const customerIdentifier = `customer-${randomUUID()}`;
  const lifecycle = new LifecycleRepository(client, dynamoDb.tables.Subscribers, GRACE_SECONDS);
  await lifecycle.applyToSubscriber(
    {
      subscriber: { model: 'legacy', productCode: LEGACY_PRODUCT, customerIdentifier },
      facts: ['activatedAt'],
      at: new Date(ACTIVE[0]![1]),
    },
    NOW,
  );
  return `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
}

/** A buyer who came through the fulfillment URL but whom no notification has activated yet. */
export async function pendingSubscriber(dynamoDb: DynamoDbForTests, client: DynamoDBDocumentClient): Promise<string> {
  const licenseArn = `arn:aws:license-manager::123456789012:license:l-${randomUUID().replaceAll('-', '')}`;
  const subscriber = await new SubscriberRepository(client, dynamoDb.tables.Subscribers).recordResolution(
    { model: 'license', productCode: LICENSE_PRODUCT, licenseArn, customerAWSAccountId: '123456789012' },
    'standard',
    new Date('2026-11-26T12:00:00.000Z'),
  );
  return subscriber.id;
}

export async function bucketItem(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  subscriberId: string,
  hour: Date,
  dimension = 'requests',
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await client.send(
    new GetCommand({
      TableName: dynamoDb.tables.Usage,
      Key: bucketKey(subscriberId, hour, dimension),
      ConsistentRead: true,
    }),
  );
  return Item;
}

/** Every bucket of a subscriber. */
export async function bucketsOf(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  subscriberId: string,
): Promise<Record<string, unknown>[]> {
  const { Items } = await client.send(
    new QueryCommand({
      TableName: dynamoDb.tables.Usage,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': usagePartition(subscriberId) },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

export async function eventItem(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  eventId: string,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await client.send(
    new GetCommand({ TableName: dynamoDb.tables.Usage, Key: eventKeyOf(eventId), ConsistentRead: true }),
  );
  return Item;
}

/** A bucket as the metering run leaves it once it has frozen it; answers the item written. */
export async function freezeBucket(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  subscriberId: string,
  hour: Date,
  quantity: number,
  dimension = 'requests',
): Promise<Record<string, unknown>> {
  const item = {
    ...bucketKey(subscriberId, hour, dimension),
    subscriberId,
    dimension,
    hour: hour.toISOString(),
    quantity,
    state: 'frozen',
    frozenAt: '2026-11-26T12:10:00.000Z',
    pendingShard: pendingShardOf(subscriberId),
    pendingHour: hour.toISOString(),
  };
  await client.send(new PutCommand({ TableName: dynamoDb.tables.Usage, Item: item }));
  return item;
}

export async function deleteBucket(
  dynamoDb: DynamoDbForTests,
  client: DynamoDBDocumentClient,
  subscriberId: string,
  hour: Date,
  dimension = 'requests',
): Promise<void> {
  await client.send(
    new DeleteCommand({ TableName: dynamoDb.tables.Usage, Key: bucketKey(subscriberId, hour, dimension) }),
  );
}
