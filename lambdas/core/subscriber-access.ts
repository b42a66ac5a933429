/**
 * What the seller's app asks before letting a buyer in: may this subscriber use the product, with which entitlements,
 * and who registered. The answer is as of now: an ending subscription whose final-metering window has passed reads as
 * ended, even before the sweep has written that down, and an entitlement past its expiry is left out.
 *
 * @example
 * const graceSeconds = 3600; // the stack's lifecycle.finalMeteringGraceMinutes x 60
 * const access = await subscriberAccess(documents, 'SaasMarketplace-Subscribers...', subscriberId, new Date(), graceSeconds);
 * if (access?.allowed) grantAccess(access.entitlements);
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { entitlementsInForce, type SubscriberEntitlement } from './lifecycle/entitlements.ts';
import { billablePeriod, statusAsOf, type LifecycleFacts } from './lifecycle/subscription-state.ts';
import type { RegistrationDetails, SubscriptionStatus } from './subscriber.ts';
import { subscriberKey } from './table-keys.ts';
import type { SubscriberIdentity } from '../../contracts/index.ts';

export interface SubscriberAccess extends SubscriberIdentity {
  readonly status: SubscriptionStatus;
  /**
   * Whether the buyer may use the product now: the subscription is active. Not while `ending`: the buyer has cancelled
   * (or the license ended) at `statusChangedAt`, and no usage after it can be billed; the final-metering window that
   * follows, until `finalMeteringDeadline`, is for usage up to then that the app sends late.
   */
  readonly allowed: boolean;
  readonly statusChangedAt?: string;
  /**
   * Once cancelled or ended: when the subscription ended for the buyer (the cancellation, or the end when none was
   * heard of), the last instant usage is billable. `statusChangedAt` of an ended one is its final-metering deadline.
   */
  readonly endedAt?: string;
  readonly finalMeteringDeadline?: string;
  readonly offerType?: string;
  readonly entitlements: readonly SubscriberEntitlement[];
  /**
   * When Marketplace's entitlements were last read. Absent while they have never been read (Marketplace could not be
   * asked yet): `entitlements` is then empty because nothing is known, not because the buyer is entitled to nothing.
   */
  readonly entitlementsFetchedAt?: string;
  readonly registration?: { readonly details: RegistrationDetails; readonly registeredAt: string };
}

export async function subscriberAccess(
  client: DynamoDBDocumentClient,
  tableName: string,
  subscriberId: string,
  now: Date,
  finalMeteringGraceSeconds: number,
): Promise<SubscriberAccess | undefined> {
  const { Item } = await client.send(
    new GetCommand({ TableName: tableName, Key: subscriberKey(subscriberId), ConsistentRead: true }),
  );
  return Item === undefined ? undefined : subscriberAccessOf({ ...Item, subscriberId }, now, finalMeteringGraceSeconds);
}

/**
 * What a Subscribers item says about access as of `now`; `undefined` for an item that names no product (no subscriber
 * item). For readers of many items at once, such as the operators' listing (`npm run subscribers`).
 */
export function subscriberAccessOf(
  item: Record<string, unknown>,
  now: Date,
  finalMeteringGraceSeconds: number,
): SubscriberAccess | undefined {
  if (item.productCode === undefined || typeof item.subscriberId !== 'string') return undefined;
  const facts = (item.lifecycle ?? {}) as LifecycleFacts;
  const { status, since } = statusAsOf(facts, now, finalMeteringGraceSeconds);
  const end = status === 'ending' || status === 'ended' ? billablePeriod(facts).end : undefined;
  const optional = (name: string) => (typeof item[name] === 'string' ? { [name]: item[name] } : {});
  // Ended by its deadline passing before the sweep wrote it down: ended since the deadline, as the sweep will record.
  const statusChangedAt = status === 'ended' && item.subscriptionStatus === 'ending' ? since : item.statusChangedAt;
  return {
    subscriberId: item.subscriberId,
    productCode: item.productCode as string,
    identityModel: item.identityModel as 'license' | 'legacy',
    ...optional('licenseArn'),
    ...optional('customerIdentifier'),
    ...optional('customerAWSAccountId'),
    status,
    allowed: status === 'active',
    ...(typeof statusChangedAt === 'string' ? { statusChangedAt } : {}),
    ...(end === undefined || Number.isNaN(end.getTime()) ? {} : { endedAt: end.toISOString() }),
    ...(status === 'ending' ? optional('finalMeteringDeadline') : {}),
    ...optional('offerType'),
    entitlements: entitlementsInForce((item.entitlements ?? []) as SubscriberEntitlement[], now),
    ...optional('entitlementsFetchedAt'),
    ...(item.registration === undefined
      ? {}
      : { registration: item.registration as SubscriberAccess['registration'] & object }),
  };
}
