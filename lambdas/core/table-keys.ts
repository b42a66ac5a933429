/**
 * How runtime code addresses the Subscribers table. The attribute names must equal the table definitions in
 * `lib/tables.ts`, which `lambdas/` may not import; `test/unit/table-keys.test.ts` keeps the two equal.
 */
export const SUBSCRIBERS_KEY = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export function subscriberKey(subscriberId: string): ItemKey {
  return { pk: `SUBSCRIBER#${subscriberId}`, sk: 'SUBSCRIBER' };
}

/** Sessions are stored under a hash of the cookie value, so that reading the table yields no usable session. */
export function sessionKey(sessionDigest: string): ItemKey {
  return { pk: `SESSION#${sessionDigest}`, sk: 'SESSION' };
}
