/**
 * How runtime code addresses the Subscribers table. The attribute names must equal the table definitions in
 * `lib/tables.ts`, which `lambdas/` may not import; `test/unit/table-keys.test.ts` keeps the two equal.
 */
import { createHash } from 'node:crypto';

export const SUBSCRIBERS_KEY = { partitionKey: 'pk', sortKey: 'sk', timeToLive: 'expiresAt' } as const;

/** The sparse index of subscribers that may be metered, and its partition key attribute. */
export const LIVE_INDEX = { indexName: 'live', partitionKey: 'liveShard' } as const;

/** Live subscribers are spread over this many index partitions, so that no one partition takes every write. */
export const LIVE_SHARDS = 8;

/** The sparse index of subscribers inside their final-metering window, by deadline (same shards as `live`). */
export const ENDING_INDEX = {
  indexName: 'ending',
  partitionKey: 'endingShard',
  sortKey: 'finalMeteringDeadline',
} as const;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** A key as one string, to tell items apart (a dimension may hold any character, so it is quoted). */
export function itemId(key: ItemKey): string {
  return JSON.stringify([key.pk, key.sk]);
}

export function subscriberKey(subscriberId: string): ItemKey {
  return { pk: `SUBSCRIBER#${subscriberId}`, sk: 'SUBSCRIBER' };
}

/** Sessions are stored under a hash of the cookie value, so that reading the table yields no usable session. */
export function sessionKey(sessionDigest: string): ItemKey {
  return { pk: `SESSION#${sessionDigest}`, sk: 'SESSION' };
}

/** The `live` index partition a subscriber belongs to while it may be metered: stable, from its id. */
export function liveShardOf(subscriberId: string): string {
  return `live#${shardNumberOf(subscriberId)}`;
}

/** The `ending` index partition a subscriber belongs to while its final-metering window is open. */
export function endingShardOf(subscriberId: string): string {
  return `ending#${shardNumberOf(subscriberId)}`;
}

function shardNumberOf(subscriberId: string): number {
  return createHash('sha256').update(subscriberId).digest()[0]! % LIVE_SHARDS;
}

export function agreementKey(agreementId: string): ItemKey {
  return { pk: `AGREEMENT#${agreementId}`, sk: 'AGREEMENT' };
}

/** Notifications that were set aside, by day, so that an operator can list a day's in one query. */
export function rejectedNotificationKey(receivedAt: Date, messageId: string): ItemKey {
  return { pk: `REJECTED#${receivedAt.toISOString().slice(0, 10)}`, sk: `${receivedAt.toISOString()}#${messageId}` };
}
