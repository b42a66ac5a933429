/** The keys of both tables' items, and their time to live, built from the tables' contract (`contracts/`). */
import { createHash } from 'node:crypto';
import { LIVE_SHARDS, SUBSCRIBER_SORT_KEY, TABLE_KEY, subscribersItemPrefixes } from '../../contracts/index.ts';

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** A key as one string, to tell items apart (a dimension may hold any character, so it is quoted). */
export function itemId(key: ItemKey): string {
  return JSON.stringify([key.pk, key.sk]);
}

export function subscriberKey(subscriberId: string): ItemKey {
  return { pk: `${subscribersItemPrefixes.subscriber}${subscriberId}`, sk: SUBSCRIBER_SORT_KEY };
}

/**
 * The SHA-256 digest (base64url) that items holding a secret are keyed by: a session's cookie value, a registration
 * token. Reading the table yields neither.
 */
export function digestOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** Sessions are stored under a digest of the cookie value, so that reading the table yields no usable session. */
export function sessionKey(sessionDigest: string): ItemKey {
  return { pk: `${subscribersItemPrefixes.session}${sessionDigest}`, sk: 'SESSION' };
}

/** The time-to-live attribute of an item DynamoDB may delete from `at` on (epoch seconds, as TTL reads it). */
export function timeToLiveFrom(at: Date): Record<typeof TABLE_KEY.timeToLive, number> {
  return { [TABLE_KEY.timeToLive]: Math.ceil(at.getTime() / 1000) };
}

/**
 * The moment an item read back expires, or `undefined` once it has (DynamoDB deletes expired items only eventually, so
 * a read checks it) or when it has no expiry to trust.
 */
export function unexpiredUntil(item: Record<string, unknown> | undefined, now: Date): Date | undefined {
  const seconds = item?.[TABLE_KEY.timeToLive];
  return typeof seconds === 'number' && seconds * 1000 > now.getTime() ? new Date(seconds * 1000) : undefined;
}

/** A registration token's resolution, under a digest of the token (never the token). */
export function resolvedTokenKey(tokenDigest: string): ItemKey {
  return { pk: `${subscribersItemPrefixes.resolvedToken}${tokenDigest}`, sk: 'RESOLVED_TOKEN' };
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
  return { pk: `${subscribersItemPrefixes.agreement}${agreementId}`, sk: 'AGREEMENT' };
}

/** Marketplace messages that were set aside, by day, so that an operator can list a day's in one query. */
export function rejectedMarketplaceMessageKey(receivedAt: Date, messageId: string): ItemKey {
  return {
    pk: `${subscribersItemPrefixes.rejectedMarketplaceMessage}${receivedAt.toISOString().slice(0, 10)}`,
    sk: `${receivedAt.toISOString()}#${messageId}`,
  };
}
