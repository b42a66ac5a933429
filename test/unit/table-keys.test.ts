import { expect, test } from 'vitest';
import { subscribersTable } from '../../lib/tables.ts';
import { SUBSCRIBERS_KEY } from '../../lambdas/core/table-keys.ts';

// lambdas/ may not import lib/, so the key names the functions use are written twice; this keeps them equal.
test('the functions address the Subscribers table by the attribute names the table is defined with', () => {
  expect(SUBSCRIBERS_KEY).toEqual({
    partitionKey: subscribersTable.partitionKey.name,
    sortKey: subscribersTable.sortKey.name,
    timeToLive: subscribersTable.timeToLiveAttribute,
  });
});
