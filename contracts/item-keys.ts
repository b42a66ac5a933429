/**
 * The kinds of item each table holds, by the start of their partition key. The functions build their keys from these
 * prefixes, and the stack's item grants (`lib/item-grants.ts`) limit each function to the prefixes of the items it
 * touches (IAM's `dynamodb:LeadingKeys`): no prefix may start another, or a grant for one kind would reach the other.
 */

/** The Subscribers table's items. */
export const subscribersItemPrefixes = {
  subscriber: 'SUBSCRIBER#',
  session: 'SESSION#',
  resolvedToken: 'TOKEN#',
  agreement: 'AGREEMENT#',
  rejectedMarketplaceMessage: 'REJECTED#',
} as const;

/** The sort key of a subscriber item (one per partition), which tells a subscriber apart in the table's stream. */
export const SUBSCRIBER_SORT_KEY = 'SUBSCRIBER';

/** The Usage table's items: hourly buckets, and the idempotency keys of usage events recorded with an id. */
export const usageItemPrefixes = {
  bucket: 'USAGE#',
  usageEvent: 'EVENT#',
} as const;
