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
import { BackendError } from '../errors.ts';
import type { SubscriberReference } from './marketplace-messages.ts';

export interface SubscriberEntitlement {
  readonly dimension: string;
  readonly value: number | boolean | string;
  readonly valueType: 'integer' | 'double' | 'boolean' | 'string';
  readonly expiresAt?: string | undefined;
}

/**
 * The most a subscriber's entitlements may take, as JSON: they are stored on the subscriber's item (at most 400 KB)
 * and carried by the seller events (at most 256 KB each), with room left for everything else.
 */
export const MAX_ENTITLEMENTS_BYTES = 64 * 1024;

/**
 * Marketplace answered entitlements this backend cannot store as they are: a number DynamoDB's clients do not carry
 * exactly (beyond 2^53 - 1 in size) or DynamoDB refuses (under 1e-130), or more than `MAX_ENTITLEMENTS_BYTES` in
 * all. Like entitlements that could not be read, they are left as stored before, and the notification is retried and,
 * in the end, set in the dead-letter queue (alarmed).
 */
export class UnstorableEntitlementsError extends BackendError {
  override readonly name = 'UnstorableEntitlementsError';
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
  assertStorable(entitlements);
  return entitlements.sort((a, b) => a.dimension.localeCompare(b.dimension));
}

/** A number is stored exactly when it is 0 or between 1e-130 and 2^53 - 1 in size (DynamoDB's and its SDK's bounds). */
function assertStorable(entitlements: readonly SubscriberEntitlement[]): void {
  for (const { dimension, value } of entitlements) {
    if (typeof value !== 'number') continue;
    const size = Math.abs(value);
    if (size !== 0 && !(size >= 1e-130 && size <= Number.MAX_SAFE_INTEGER)) {
      throw new UnstorableEntitlementsError(
        `The entitlement ${dimension} has the value ${value}, which cannot be stored exactly ` +
          `(numbers are kept between 1e-130 and ${Number.MAX_SAFE_INTEGER} in size)`,
      );
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(entitlements));
  if (bytes > MAX_ENTITLEMENTS_BYTES) {
    throw new UnstorableEntitlementsError(
      `The entitlements take ${bytes} bytes, more than the ${MAX_ENTITLEMENTS_BYTES} a subscriber may store`,
    );
  }
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
