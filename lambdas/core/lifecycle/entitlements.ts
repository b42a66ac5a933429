/**
 * A subscriber's entitlements (what a contract buyer bought), read from Marketplace's `GetEntitlements`: every page,
 * since a page may be empty and still carry a `NextToken`. Throttling and 5xx are retried by the SDK with backoff; what
 * still fails propagates, and the notification that asked is retried from the queue.
 */
import {
  paginateGetEntitlements,
  type Entitlement,
  type MarketplaceEntitlementServiceClient,
} from '@aws-sdk/client-marketplace-entitlement-service';
import type { SubscriberReference } from './marketplace-messages.ts';

export interface SubscriberEntitlement {
  readonly dimension: string;
  readonly value: number | boolean | string;
  readonly valueType: 'integer' | 'double' | 'boolean' | 'string';
  readonly expiresAt?: string | undefined;
}

/** The entitlements in force at `now`: those past their expiry are left out, though Marketplace has not said so yet. */
export function entitlementsInForce(
  entitlements: readonly SubscriberEntitlement[],
  now: Date,
): SubscriberEntitlement[] {
  return entitlements.filter(
    (entitlement) => entitlement.expiresAt === undefined || Date.parse(entitlement.expiresAt) > now.getTime(),
  );
}

export async function fetchEntitlements(
  client: MarketplaceEntitlementServiceClient,
  subscriber: SubscriberReference,
): Promise<SubscriberEntitlement[]> {
  const filter =
    subscriber.model === 'license'
      ? { LICENSE_ARN: [subscriber.licenseArn] }
      : { CUSTOMER_IDENTIFIER: [subscriber.customerIdentifier] };
  const entitlements: SubscriberEntitlement[] = [];
  for await (const page of paginateGetEntitlements(
    { client, pageSize: 25 },
    { ProductCode: subscriber.productCode, Filter: filter },
  )) {
    for (const entitlement of page.Entitlements ?? []) {
      const stored = toSubscriberEntitlement(entitlement);
      if (stored !== undefined) entitlements.push(stored);
    }
  }
  return entitlements.sort((a, b) => a.dimension.localeCompare(b.dimension));
}

function toSubscriberEntitlement(entitlement: Entitlement): SubscriberEntitlement | undefined {
  const { Dimension, Value, ExpirationDate } = entitlement;
  if (Dimension === undefined || Value === undefined) return undefined;
  const expiresAt = ExpirationDate?.toISOString();
  const typed =
    Value.IntegerValue !== undefined
      ? { value: Value.IntegerValue, valueType: 'integer' as const }
      : Value.DoubleValue !== undefined
        ? { value: Value.DoubleValue, valueType: 'double' as const }
        : Value.BooleanValue !== undefined
          ? { value: Value.BooleanValue, valueType: 'boolean' as const }
          : Value.StringValue !== undefined
            ? { value: Value.StringValue, valueType: 'string' as const }
            : undefined;
  return typed === undefined ? undefined : { dimension: Dimension, ...typed, ...(expiresAt ? { expiresAt } : {}) };
}
