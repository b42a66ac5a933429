import { expect, test } from 'vitest';
import { subscribersTable, usageTable } from '../../lib/tables.ts';
import { PENDING_INDEX, USAGE_KEY } from '../../lambdas/core/metering/usage-bucket.ts';
import { ENDING_INDEX, LIVE_INDEX, SUBSCRIBERS_KEY } from '../../lambdas/core/table-keys.ts';

// lambdas/ may not import lib/, so the key names the functions use are written twice; this keeps them equal.
test('the functions address the Subscribers table by the attribute names the table is defined with', () => {
  expect(SUBSCRIBERS_KEY).toEqual({
    partitionKey: subscribersTable.partitionKey.name,
    sortKey: subscribersTable.sortKey.name,
    timeToLive: subscribersTable.timeToLiveAttribute,
  });
});

test('the functions query the live index by the name and key it is defined with', () => {
  const index = subscribersTable.globalSecondaryIndexes.find(
    (candidate) => candidate.indexName === LIVE_INDEX.indexName,
  );
  expect(index?.partitionKey.name).toBe(LIVE_INDEX.partitionKey);
});

test('the sweep queries the ending index by the name and keys it is defined with', () => {
  const index = subscribersTable.globalSecondaryIndexes.find(
    (candidate) => candidate.indexName === ENDING_INDEX.indexName,
  );
  expect([index?.partitionKey.name, index?.sortKey?.name]).toEqual([ENDING_INDEX.partitionKey, ENDING_INDEX.sortKey]);
});

test('the metering functions address the Usage table and its pending index by the names they are defined with', () => {
  expect(USAGE_KEY).toEqual({
    partitionKey: usageTable.partitionKey.name,
    sortKey: usageTable.sortKey.name,
    timeToLive: usageTable.timeToLiveAttribute,
  });
  const index = usageTable.globalSecondaryIndexes.find((candidate) => candidate.indexName === PENDING_INDEX.indexName);
  expect([index?.partitionKey.name, index?.sortKey?.name]).toEqual([PENDING_INDEX.partitionKey, PENDING_INDEX.sortKey]);
});
