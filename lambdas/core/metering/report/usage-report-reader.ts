/**
 * The bucket items of a range of hours, for the usage report: every page of a Query of each subscriber's partition,
 * or, for every subscriber, every page of a Scan of the Usage table. A bucket's sort key starts with its fixed-width
 * hour (`bucketSortPrefix`), so one `BETWEEN` on it selects the range, and only bucket items have such a key.
 *
 * The Scan reads the whole table, event-id keys included (filtered out on DynamoDB's side, but still read and paid
 * for): acceptable for an operator's report, never for the hourly run, which reads the `pending` index instead.
 *
 * Reads are strongly consistent (twice the read units of eventually consistent ones), so that a report made right after
 * a metering run shows every bucket as that run left it, to match against the run's summary and CloudTrail.
 */
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { bucketSortLimit, bucketSortPrefix, HOUR_MS, usagePartition } from '../bucket/index.ts';
import { TABLE_KEY } from '../../../../contracts/index.ts';
import { itemsOfPages } from '../../table-pages.ts';

type Item = Record<string, unknown>;

export interface ReadScope {
  /** The first hour read. */
  readonly first: Date;
  /** The hour after the last one read. */
  readonly end: Date;
  /** Only these subscribers' partitions; every partition (a Scan) when undefined. */
  readonly subscriberIds: readonly string[] | undefined;
  /** DynamoDB's `Limit`: items evaluated per request. */
  readonly pageSize: number | undefined;
}

export async function* bucketItemsIn(
  client: DynamoDBDocumentClient,
  tableName: string,
  scope: ReadScope,
): AsyncGenerator<Item> {
  const names = { '#pk': TABLE_KEY.partitionKey, '#sk': TABLE_KEY.sortKey };
  const range = {
    ':first': bucketSortPrefix(scope.first),
    ':last': bucketSortLimit(new Date(scope.end.getTime() - HOUR_MS)),
  };
  const common = {
    TableName: tableName,
    ConsistentRead: true,
    ...(scope.pageSize === undefined ? {} : { Limit: scope.pageSize }),
  };
  if (scope.subscriberIds === undefined) {
    yield* itemsOfPages((ExclusiveStartKey) =>
      client.send(
        new ScanCommand({
          ...common,
          FilterExpression: 'begins_with(#pk, :usage) AND #sk BETWEEN :first AND :last',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...range, ':usage': usagePartition('') },
          ExclusiveStartKey,
        }),
      ),
    );
    return;
  }
  for (const subscriberId of scope.subscriberIds) {
    yield* itemsOfPages((ExclusiveStartKey) =>
      client.send(
        new QueryCommand({
          ...common,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :first AND :last',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...range, ':pk': usagePartition(subscriberId) },
          ExclusiveStartKey,
        }),
      ),
    );
  }
}
