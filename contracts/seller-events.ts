/**
 * What the seller's app is told (documented in docs/architecture/seller-events.md): the `detail-type` of each event on
 * the seller's bus, which the seller notifier publishes and the stack's rules (the admin email, the final flush) match.
 *
 * - `Subscriber Registered`: the buyer completed the registration form.
 * - `Subscriber Activated`: Marketplace confirmed the subscription; the buyer may use the product.
 * - `Subscriber Entitlements Changed`: what a contract buyer is entitled to changed.
 * - `Subscriber Ending`: the subscription was cancelled; final usage is accepted until `finalMeteringDeadline`.
 * - `Subscriber Ended`, `Subscriber Failed`: the buyer may no longer use the product.
 */
export const SELLER_EVENT = {
  registered: 'Subscriber Registered',
  activated: 'Subscriber Activated',
  entitlementsChanged: 'Subscriber Entitlements Changed',
  ending: 'Subscriber Ending',
  ended: 'Subscriber Ended',
  failed: 'Subscriber Failed',
} as const;

export type SellerEventType = (typeof SELLER_EVENT)[keyof typeof SELLER_EVENT];

/** `detail.schemaVersion` of every event: a change an app would have to adapt to gets a new version. */
export const SELLER_EVENT_SCHEMA_VERSION = '1';
