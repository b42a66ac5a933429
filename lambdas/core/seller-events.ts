/**
 * What the seller's app is told (the event types are in `contracts/seller-events.ts`): one event on the seller's bus
 * for each change of a subscriber that matters to the app, derived from the item before and after a write to the
 * Subscribers table.
 *
 * Delivery is at least once: deduplicate on `detail.subscriberId` + `detail-type` + `detail.version`.
 */
import {
  SELLER_EVENT,
  SELLER_EVENT_SCHEMA_VERSION,
  SUBSCRIBER_SORT_KEY,
  type SellerEventType,
} from '../../contracts/index.ts';
import type { RegistrationDetails, SubscriptionStatus } from './subscriber.ts';

export interface SellerEvent {
  readonly detailType: SellerEventType;
  readonly detail: Record<string, unknown>;
}

const statusEvents: Partial<Record<SubscriptionStatus, SellerEventType>> = {
  active: SELLER_EVENT.activated,
  ending: SELLER_EVENT.ending,
  ended: SELLER_EVENT.ended,
  failed: SELLER_EVENT.failed,
};

type Item = Record<string, unknown>;

/** The events a write to a subscriber item calls for: none for anything but a subscriber, or no change that matters. */
export function sellerEventsFor(before: Item | undefined, after: Item | undefined): SellerEvent[] {
  if (after === undefined || after.sk !== SUBSCRIBER_SORT_KEY) return [];
  const events: SellerEvent[] = [];
  const registration = after.registration as { details: RegistrationDetails; registeredAt: string } | undefined;
  if (registration !== undefined && before?.registration === undefined) {
    events.push({
      detailType: SELLER_EVENT.registered,
      detail: {
        ...subscriberOf(after, registration.registeredAt),
        offerType: after.offerType ?? 'standard',
        registeredAt: registration.registeredAt,
        contact: registration.details,
      },
    });
  }
  const status = after.subscriptionStatus as SubscriptionStatus | undefined;
  const statusEvent = status === undefined ? undefined : statusEvents[status];
  const statusChanged = statusEvent !== undefined && status !== before?.subscriptionStatus;
  if (statusChanged) {
    events.push({
      detailType: statusEvent,
      detail: {
        ...subscriberOf(after, after.statusChangedAt as string),
        statusChangedAt: after.statusChangedAt,
        ...(status === 'ending' ? { finalMeteringDeadline: after.finalMeteringDeadline } : {}),
        ...(status === 'active' ? { entitlements: after.entitlements ?? [] } : {}),
      },
    });
  }
  // Never-fetched entitlements count as none, so the first empty fetch of a subscriptions product says nothing; an
  // activation carries its entitlements, so the same write needs no second event for them.
  const activatedNow = statusChanged && status === 'active';
  const entitlementsChanged =
    after.entitlements !== undefined &&
    JSON.stringify(after.entitlements) !== JSON.stringify(before?.entitlements ?? []);
  if (entitlementsChanged && !activatedNow) {
    events.push({
      detailType: SELLER_EVENT.entitlementsChanged,
      detail: {
        ...subscriberOf(after, after.entitlementsFetchedAt as string),
        entitlements: after.entitlements,
        entitlementsFetchedAt: after.entitlementsFetchedAt,
      },
    });
  }
  return events;
}

/** Who the event is about, its status, and the version that tells a repeat delivery from a new event. */
function subscriberOf(item: Item, version: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries({
      schemaVersion: SELLER_EVENT_SCHEMA_VERSION,
      subscriberId: item.subscriberId,
      productCode: item.productCode,
      identityModel: item.identityModel,
      licenseArn: item.licenseArn,
      customerIdentifier: item.customerIdentifier,
      customerAWSAccountId: item.customerAWSAccountId,
      status: item.subscriptionStatus ?? 'pending',
      version,
    }).filter(([, value]) => value !== undefined),
  );
}
