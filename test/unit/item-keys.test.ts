/** Each kind of item's keys, as the runtime builds them, start with its prefix in the tables' contract, and no other's. */
import { expect, test } from 'vitest';
import { bucketKey, usageEventKey } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import {
  agreementKey,
  rejectedMarketplaceMessageKey,
  resolvedTokenKey,
  sessionKey,
  subscriberKey,
} from '../../lambdas/core/table-keys.ts';
import { subscribersItemPrefixes, usageItemPrefixes } from '../../contracts/index.ts';

const SUBSCRIBER_ID = 'license:arn:aws:license-manager::111122223333:license:l-0123';

/** Each table's item prefixes, and a partition key of each kind of item, as the runtime builds it. */
const tables: { table: string; prefixes: Record<string, string>; keys: Record<string, string> }[] = [
  {
    table: 'Subscribers',
    prefixes: subscribersItemPrefixes,
    keys: {
      subscriber: subscriberKey(SUBSCRIBER_ID).pk,
      session: sessionKey('digest').pk,
      resolvedToken: resolvedTokenKey('digest').pk,
      agreement: agreementKey('agmt-0123').pk,
      rejectedMarketplaceMessage: rejectedMarketplaceMessageKey(new Date('2026-12-01T10:00:00Z'), 'message-1').pk,
    },
  },
  {
    table: 'Usage',
    prefixes: usageItemPrefixes,
    keys: {
      bucket: bucketKey(SUBSCRIBER_ID, new Date('2026-12-01T10:00:00Z'), 'requests').pk,
      usageEvent: usageEventKey('event-1').pk,
    },
  },
];

test.each(tables)(
  '$table: each prefix starts the partition keys of its kind of item, as the runtime builds them',
  ({ prefixes, keys }) => {
    expect(Object.keys(prefixes).sort()).toEqual(Object.keys(keys).sort());
    for (const [kind, prefix] of Object.entries(prefixes)) {
      expect(keys[kind]!.startsWith(prefix), kind).toBe(true);
      for (const [otherKind, key] of Object.entries(keys)) {
        if (otherKind !== kind) expect(key.startsWith(prefix), `${otherKind} under ${kind}`).toBe(false);
      }
    }
  },
);
