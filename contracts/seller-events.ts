/**
 * What the seller's app is told (documented in docs/architecture/seller-events.md): the `detail-type` of each event on
 * the seller's bus, which the seller notifier publishes and the stack's rules (the admin email, the final flush) match.
 *
 * - `Subscriber Registered`: the buyer completed the registration form.
 * - `Subscriber Activated`: Marketplace confirmed the subscription; the buyer may use the product.
 * - `Subscriber Entitlements Changed`: what a contract buyer is entitled to changed.
 * - `Subscriber Ending`: the subscription was cancelled at `statusChangedAt`: the buyer may no longer use the product;
 *   usage up to then is accepted until the final send, `metering.finalHourMarginMinutes` before
 *   `finalMeteringDeadline`.
 * - `Subscriber Ended`: its final-metering window has closed.
 * - `Subscriber Failed`: Marketplace could not complete it; the buyer may not use the product.
 * - `Subscriber Offer Changed`: after the registration, Marketplace said the offer is another than the one stored (a
 *   free trial converted to the paid offer).
 */
export const SELLER_EVENT = {
  registered: 'Subscriber Registered',
  activated: 'Subscriber Activated',
  entitlementsChanged: 'Subscriber Entitlements Changed',
  ending: 'Subscriber Ending',
  ended: 'Subscriber Ended',
  failed: 'Subscriber Failed',
  offerChanged: 'Subscriber Offer Changed',
} as const;

export type SellerEventType = (typeof SELLER_EVENT)[keyof typeof SELLER_EVENT];

/** `detail.schemaVersion` of every event: a change an app would have to adapt to gets a new version. */
export const SELLER_EVENT_SCHEMA_VERSION = '1';

/** Who a subscriber is, as the seller's app is told (in seller events and by the access check). */
export interface SubscriberIdentity {
  readonly subscriberId: string;
  readonly productCode: string;
  readonly identityModel: 'license' | 'legacy';
  /** License-model subscribers; legacy ones too when Marketplace gave one. */
  readonly licenseArn?: string;
  /** Legacy subscribers. */
  readonly customerIdentifier?: string;
  /** From `ResolveCustomer`: absent until the buyer's first visit (a legacy `subscribe-success` may come first). */
  readonly customerAWSAccountId?: string;
}

/** Who an event is about, in every event's `detail`. */
export interface SubscriberEventDetail extends SubscriberIdentity {
  readonly schemaVersion: typeof SELLER_EVENT_SCHEMA_VERSION;
  /** The subscriber's status when the change was stored. */
  readonly status: 'pending' | 'active' | 'ending' | 'ended' | 'failed';
  /** With `subscriberId` and the `detail-type`, tells a repeated delivery from a new event. */
  readonly version: string;
}

/** One entitlement, as `GetEntitlements` gave it. */
export interface SellerEventEntitlement {
  readonly dimension: string;
  readonly value: number | boolean | string;
  readonly valueType: 'integer' | 'double' | 'boolean' | 'string';
  readonly expiresAt?: string;
}

interface StatusChange {
  readonly statusChangedAt: string;
  /**
   * Counts up with every change of the subscriber's lifecycle as stored: of two status events, the one with the larger
   * `statusSequence` is the newer, also when both have the same `statusChangedAt`. It skips numbers (a change of
   * entitlements alone counts too): a gap is no sign of a lost event.
   */
  readonly statusSequence: number;
}

/** Each event's `detail`, by its `detail-type` (schema version 1). */
export interface SellerEventDetails {
  readonly 'Subscriber Registered': SubscriberEventDetail & {
    readonly offerType: 'standard' | 'free-trial';
    readonly registeredAt: string;
    /** The fields the buyer filled in, validated but otherwise raw: escape them wherever they are shown. */
    readonly contact: Readonly<Record<string, string>>;
  };
  readonly 'Subscriber Activated': SubscriberEventDetail &
    StatusChange & {
      readonly entitlements: readonly SellerEventEntitlement[];
      /**
       * When `entitlements` were read from Marketplace, later than every read stored before it (of two different
       * reads in one millisecond, the one stored second is a millisecond later); absent when they have not been read
       * yet (none is then said).
       */
      readonly entitlementsFetchedAt?: string;
    };
  readonly 'Subscriber Entitlements Changed': SubscriberEventDetail & {
    readonly entitlements: readonly SellerEventEntitlement[];
    /**
     * When `entitlements` were read from Marketplace, later than every read stored before it (of two different reads in
     * one millisecond, the one stored second is a millisecond later); the event's `version`.
     */
    readonly entitlementsFetchedAt: string;
  };
  readonly 'Subscriber Ending': SubscriberEventDetail & StatusChange & { readonly finalMeteringDeadline: string };
  readonly 'Subscriber Ended': SubscriberEventDetail & StatusChange;
  readonly 'Subscriber Failed': SubscriberEventDetail & StatusChange;
  readonly 'Subscriber Offer Changed': SubscriberEventDetail & {
    readonly offerType: 'standard' | 'free-trial';
    /** The activation whose notification carried Marketplace's word on the offer. */
    readonly offerConfirmedAt: string;
  };
}
