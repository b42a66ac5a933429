/** Every subscriber item of the Subscribers table, for the commands that list them (a scan: fine for a seller's few). */
import { paginateScan, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SUBSCRIBER_SORT_KEY, TABLE_KEY } from '../../contracts/index.ts';

export async function* subscriberItems(
  client: DynamoDBDocumentClient,
  tableName: string,
): AsyncGenerator<Record<string, unknown>> {
  const pages = paginateScan(
    { client },
    {
      TableName: tableName,
      FilterExpression: '#sortKey = :subscriber',
      ExpressionAttributeNames: { '#sortKey': TABLE_KEY.sortKey },
      ExpressionAttributeValues: { ':subscriber': SUBSCRIBER_SORT_KEY },
    },
  );
  for await (const page of pages) yield* page.Items ?? [];
}
