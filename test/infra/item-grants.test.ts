/** The partition key prefixes the stack's item grants name are the ones the runtime code writes. */
import { expect, test } from 'vitest';
import { agreementKey, rejectedNotificationKey, sessionKey, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { subscribersItemPrefixes } from '../../lib/item-grants.ts';

test('each prefix starts the partition keys of its kind of item, as lambdas/core/table-keys.ts builds them', () => {
  const keys = {
    subscriber: subscriberKey('license:arn:aws:license-manager::111122223333:license:l-0123').pk,
    session: sessionKey('digest').pk,
    agreement: agreementKey('agmt-0123').pk,
    rejectedNotification: rejectedNotificationKey(new Date('2026-12-01T10:00:00Z'), 'message-1').pk,
  };
  expect(Object.keys(subscribersItemPrefixes).sort()).toEqual(Object.keys(keys).sort());
  for (const [kind, prefix] of Object.entries(subscribersItemPrefixes)) {
    expect(keys[kind as keyof typeof keys].startsWith(prefix), kind).toBe(true);
    for (const [otherKind, key] of Object.entries(keys)) {
      if (otherKind !== kind) expect(key.startsWith(prefix), `${otherKind} under ${kind}`).toBe(false);
    }
  }
});
