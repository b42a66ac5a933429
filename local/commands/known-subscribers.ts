/**
 * Whether a subscriber id given on a command line names anybody, by one rule for every command that takes one
 * (`meter --subscriber`, `report --subscriber`): a subscriber item, or a subscriber whose item is gone but whose usage
 * is still in the Usage table. An id that names nobody is a mistake the command refuses with exit status 1.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEY } from '../../contracts/index.ts';
import { usagePartition } from '../../lambdas/core/metering/bucket/index.ts';
import { subscriberKey } from '../../lambdas/core/table-keys.ts';
import { CommandFailureError } from './command-line.ts';
import type { CommandTargets } from './targets.ts';

/** Whether the id names a subscriber item, or a subscriber whose item is gone but whose usage is still there. */
export async function isKnownSubscriber(
  client: DynamoDBDocumentClient,
  targets: Pick<CommandTargets, 'subscribersTable' | 'usageTable'>,
  subscriberId: string,
): Promise<boolean> {
  const { Item } = await client.send(
    new GetCommand({ TableName: targets.subscribersTable, Key: subscriberKey(subscriberId) }),
  );
  if (Item !== undefined) return true;
  const { Count = 0 } = await client.send(
    new QueryCommand({
      TableName: targets.usageTable,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': TABLE_KEY.partitionKey },
      ExpressionAttributeValues: { ':pk': usagePartition(subscriberId) },
      Limit: 1,
      Select: 'COUNT',
    }),
  );
  return Count > 0;
}

/**
 * @throws {CommandFailureError} naming the first id that names nobody
 */
export async function mustBeKnownSubscribers(
  client: DynamoDBDocumentClient,
  targets: Pick<CommandTargets, 'subscribersTable' | 'usageTable'>,
  subscriberIds: readonly string[],
): Promise<void> {
  for (const subscriberId of subscriberIds) {
    if (!(await isKnownSubscriber(client, targets, subscriberId))) {
      throw new CommandFailureError(
        `no subscriber has the id ${JSON.stringify(subscriberId)} (npm run subscribers lists them)`,
      );
    }
  }
}
