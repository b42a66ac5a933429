/** Every subscriber item of the Subscribers table, for the commands that list them (a scan: fine for a seller's few). */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SUBSCRIBER_SORT_KEY, TABLE_KEY } from '../../contracts/index.ts';
import { itemsOfPages } from '../../lambdas/core/table-pages.ts';

export function subscriberItems(
  client: DynamoDBDocumentClient,
  tableName: string,
): AsyncGenerator<Record<string, unknown>> {
  return itemsOfPages((startKey) =>
    client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#sortKey = :subscriber',
        ExpressionAttributeNames: { '#sortKey': TABLE_KEY.sortKey },
        ExpressionAttributeValues: { ':subscriber': SUBSCRIBER_SORT_KEY },
        ExclusiveStartKey: startKey,
      }),
    ),
  );
}
