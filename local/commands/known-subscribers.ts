/**
 * Subscriber ids given on a command line, by one rule for every command that takes one (`meter --subscriber`,
 * `report --subscriber`, `subscribers --id`): an id not of the form the backend gives is refused before anything is
 * read (exit status 2); one that names nobody, neither a subscriber item nor a subscriber whose item is gone but whose
 * usage is still in the Usage table, is refused with exit status 1.
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEY } from '../../contracts/index.ts';
import { usagePartition } from '../../lambdas/core/metering/bucket/index.ts';
import { SUBSCRIBER_ID_PATTERN } from '../../lambdas/core/subscriber.ts';
import { subscriberKey } from '../../lambdas/core/table-keys.ts';
import { ArgumentError, CommandFailureError } from './command-line.ts';
import type { CommandTargets } from './targets.ts';

/** How much of a refused id the message repeats: enough to spot a typo, not a screenful. */
const SHOWN_ID_LENGTH = 80;

/**
 * Refuses what cannot be a subscriber id (a bare license ARN, a customer identifier without its product code, an id
 * longer than any the backend gives), which would otherwise name nobody or reach DynamoDB as a key it refuses.
 * @throws {ArgumentError} naming the option
 */
export function subscriberIdArgument(option: string, text: string): string {
  if (SUBSCRIBER_ID_PATTERN.test(text)) return text;
  const shown =
    text.length > SHOWN_ID_LENGTH ? `${text.slice(0, SHOWN_ID_LENGTH)}... (${text.length} characters)` : text;
  throw new ArgumentError(
    `${option} must be a subscriber id, license:<LicenseArn> or legacy:<ProductCode>:<CustomerIdentifier> ` +
      `(npm run subscribers lists them), not ${JSON.stringify(shown)}`,
  );
}

/** Whether the id names a subscriber item, or a subscriber whose item is gone but whose usage is still there. */
async function isKnownSubscriber(
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
