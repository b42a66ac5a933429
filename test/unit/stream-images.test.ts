/**
 * The local stream poller gives a handler the images AWS would: an empty map that DynamoDB Local 3.x writes without
 * its `M` (as `{}`) gets it back, at any depth, and nothing else changes.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { expect, test } from 'vitest';
import { withEmptyMaps } from '../../local/stream-poller.ts';

test('an empty map written as {} is {"M":{}} again, in maps and lists alike; other values are kept', () => {
  const fromDynamoDbLocal = {
    pk: { S: 'SUBSCRIBER#x' },
    lifecycle: {},
    entitlements: { L: [] },
    nested: { M: { inner: {}, list: { L: [{}, { N: '1' }] }, flag: { BOOL: false } } },
  };
  // Not a valid image by the SDK's types, which is the point: `{}` names no type.
  const repaired = withEmptyMaps(fromDynamoDbLocal as unknown as Parameters<typeof withEmptyMaps>[0]);
  expect(repaired).toEqual({
    pk: { S: 'SUBSCRIBER#x' },
    lifecycle: { M: {} },
    entitlements: { L: [] },
    nested: { M: { inner: { M: {} }, list: { L: [{ M: {} }, { N: '1' }] }, flag: { BOOL: false } } },
  });
  expect(unmarshall(repaired as Parameters<typeof unmarshall>[0])).toEqual({
    pk: 'SUBSCRIBER#x',
    lifecycle: {},
    entitlements: [],
    nested: { inner: {}, list: [{}, 1], flag: false },
  });
});
