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
  type SellerEventDetails,
  type SellerEventEntitlement,
  type SellerEventType,
  type SubscriberEventDetail,
} from '../../contracts/index.ts';
import { billablePeriod, type LifecycleFacts } from './lifecycle/subscription-state.ts';
import { statusForReturningBuyer } from './returning-buyer.ts';
import type { RegistrationDetails, SubscriptionStatus } from './subscriber.ts';

/** An event for the seller's bus: its `detail-type`, and the `detail` that type carries (`contracts/seller-events.ts`). */
export type SellerEvent = {
  readonly [Type in SellerEventType]: { readonly detailType: Type; readonly detail: SellerEventDetails[Type] };
}[SellerEventType];

type Item = Record<string, unknown>;

/**
 * The statuses a subscriber has after `Subscriber Activated` was sent for it (and before it ended), with an activation
 * on record: an end request heard of before the activation makes a subscriber `ending` that was never announced active.
 */
const ANNOUNCED_ACTIVE: ReadonlySet<SubscriptionStatus> = new Set(['active', 'ending']);

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
        status: registeringStatusOf(after),
        offerType: (after.offerType ?? 'standard') as 'standard' | 'free-trial',
        registeredAt: registration.registeredAt,
        contact: registration.details,
      },
    });
  }
  const status = after.subscriptionStatus as SubscriptionStatus | undefined;
  const statusEvent = status === before?.subscriptionStatus ? undefined : statusEventOf(status, after);
  if (statusEvent !== undefined) events.push(statusEvent);
  // Never-fetched entitlements count as none, so the first empty fetch of a subscriptions product says nothing; an
  // activation carries its entitlements, so the same write needs no second event for them. But an app told of an
  // activation before they could be read ("not read yet") is told of the first read, even an empty one.
  const activatedNow = statusEvent?.detailType === SELLER_EVENT.activated;
  const firstReadAfterActivation =
    typeof after.entitlementsFetchedAt === 'string' &&
    typeof before?.entitlementsFetchedAt !== 'string' &&
    ANNOUNCED_ACTIVE.has(before?.subscriptionStatus as SubscriptionStatus) &&
    (before?.lifecycle as { activatedAt?: string } | undefined)?.activatedAt !== undefined;
  const entitlementsChanged =
    after.entitlements !== undefined &&
    (firstReadAfterActivation || JSON.stringify(after.entitlements) !== JSON.stringify(before?.entitlements ?? []));
  const offerEvent = offerEventOf(before, after);
  if (offerEvent !== undefined) events.push(offerEvent);
  if (entitlementsChanged && !activatedNow) {
    events.push({
      detailType: SELLER_EVENT.entitlementsChanged,
      detail: {
        ...subscriberOf(after, after.entitlementsFetchedAt as string),
        entitlements: after.entitlements as SellerEventEntitlement[],
        entitlementsFetchedAt: after.entitlementsFetchedAt as string,
      },
    });
  }
  return events;
}

/**
 * The event a change of offer calls for once the app was told one (`Subscriber Registered`): Marketplace's word on it
 * (`marketplaceOfferType`, from the notification of the latest activation) changed the offer stored, as when a free
 * trial is converted to the paid offer. A browser's claim is not announced: Marketplace's word settles it.
 */
function offerEventOf(before: Item | undefined, after: Item): SellerEvent | undefined {
  const offerConfirmedAt = (after.lifecycle as { activatedAt?: string } | undefined)?.activatedAt;
  // What the app was told is the offer stored before, or Marketplace's earlier word where it had one: the browser may
  // have moved the offer ahead of Marketplace (a buyer back on the paid offer), and Marketplace's new word still says
  // what the app has not been told.
  const changed =
    before?.registration !== undefined &&
    after.marketplaceOfferType !== before.marketplaceOfferType &&
    (before.marketplaceOfferType !== undefined || after.offerType !== before.offerType);
  if (!changed || offerConfirmedAt === undefined) return undefined;
  return {
    detailType: SELLER_EVENT.offerChanged,
    detail: {
      ...subscriberOf(after, offerConfirmedAt),
      offerType: after.offerType as 'standard' | 'free-trial',
      offerConfirmedAt,
    },
  };
}

/** The status a registration is made in: `pending` for a legacy buyer back from Marketplace to subscribe again. */
function registeringStatusOf(item: Item): SubscriptionStatus {
  const status = item.subscriptionStatus as SubscriptionStatus | undefined;
  const text = (name: string) => (typeof item[name] === 'string' ? item[name] : undefined);
  const lifecycle: LifecycleFacts = item.lifecycle ?? {};
  return (
    statusForReturningBuyer({
      model: item.identityModel === 'legacy' ? 'legacy' : 'license',
      status,
      statusChangedAt: text('statusChangedAt'),
      endedAt: billablePeriod(lifecycle).end?.toISOString(),
      failedAt: lifecycle.failedAt,
      resolvedLastAt: text('resolvedLastAt'),
    }) ?? 'pending'
  );
}

/** The event a subscriber's new status calls for: none for `pending`. */
function statusEventOf(status: SubscriptionStatus | undefined, after: Item): SellerEvent | undefined {
  const statusChangedAt = after.statusChangedAt as string;
  // Every lifecycle write counts up `lifecycleVersion`: the order the changes were stored in, which an equal
  // `statusChangedAt` cannot tell (a cancellation in the second of an activation, a legacy buyer back in the same one).
  const changed = {
    ...subscriberOf(after, statusChangedAt),
    statusChangedAt,
    statusSequence: after.lifecycleVersion as number,
  };
  switch (status) {
    case 'active':
      return {
        detailType: SELLER_EVENT.activated,
        detail: {
          ...changed,
          entitlements: (after.entitlements ?? []) as SellerEventEntitlement[],
          // So that an app can tell them from newer ones it holds, when a retried delivery arrives late.
          ...(typeof after.entitlementsFetchedAt === 'string'
            ? { entitlementsFetchedAt: after.entitlementsFetchedAt }
            : {}),
        },
      };
    case 'ending':
      return {
        detailType: SELLER_EVENT.ending,
        detail: { ...changed, finalMeteringDeadline: after.finalMeteringDeadline as string },
      };
    case 'ended':
      return { detailType: SELLER_EVENT.ended, detail: changed };
    case 'failed':
      return { detailType: SELLER_EVENT.failed, detail: changed };
    default:
      return undefined;
  }
}

/** Who the event is about, its status, and the version that tells a repeat delivery from a new event. */
function subscriberOf(item: Item, version: string): SubscriberEventDetail {
  // Read from the stored item: the attributes it lacks are left out of the event, not sent as null.
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
  ) as unknown as SubscriberEventDetail;
}
