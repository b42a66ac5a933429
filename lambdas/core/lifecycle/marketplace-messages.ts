/**
 * Marketplace messages: what Marketplace tells this backend about a subscription (its EventBridge events and legacy SNS
 * notifications; what this backend tells the seller are seller notifications, `lambdas/seller-notifications/`), as they
 * reach the lifecycle queue, turned into what they say about a subscriber. Two families, in their documented shapes:
 *
 * - EventBridge (`source: aws.agreement-marketplace`, every product): `License Updated - Manufacturer` (granted or
 *   changed: active, entitlements to refresh), `License Deprovisioned - Manufacturer` (the final-metering window
 *   opens), and `Purchase Agreement Created|Amended|Ended - Proposer|Manufacturer`, which name the agreement only.
 * - SNS (legacy products), in the SNS envelope or delivered raw: `subscribe-success`, `subscribe-fail`,
 *   `unsubscribe-pending`, `unsubscribe-success` and `entitlement-updated`, keyed by product code + customer
 *   identifier.
 *
 * Anything else (malformed, another source, an unknown type or action, a product this deployment does not sell) is
 * `rejected` with its reason: set aside, never retried, never blocking the queue. A license event for a product sold
 * here under the legacy identity model is `ignored`: its SNS topics tell the same story, keyed as its subscribers are.
 */
import * as z from 'zod';
import type { ProductListing } from '../environment.ts';
import type { LifecycleFact } from './subscription-state.ts';

export type SubscriberReference =
  | {
      readonly model: 'license';
      readonly productCode: string;
      readonly licenseArn: string;
      readonly customerAWSAccountId?: string | undefined;
      readonly agreementId?: string | undefined;
    }
  | { readonly model: 'legacy'; readonly productCode: string; readonly customerIdentifier: string };

export interface SubscriberMessage {
  readonly kind: 'subscriber';
  readonly subscriber: SubscriberReference;
  /** The facts it establishes, at `at`. */
  readonly facts: readonly LifecycleFact[];
  /** Whether the subscriber's entitlements may have changed (they are then read again from Marketplace). */
  readonly entitlementsChanged: boolean;
  readonly at: Date;
  /** The notification's own name, for logs: a detail-type or an SNS action. */
  readonly name: string;
  /**
   * Marketplace's own word on whether the subscription is a free trial, where it gives one: a legacy `subscribe-success`
   * (`isFreeTrialTermPresent`). The buyer's browser says so only on its way to the fulfillment URL, and not at all
   * when the buyer comes back from the console.
   */
  readonly freeTrial?: boolean | undefined;
}

export interface AgreementMessage {
  readonly kind: 'agreement';
  readonly agreementId: string;
  readonly status?: string | undefined;
  readonly intent?: string | undefined;
  readonly acceptorAccountId?: string | undefined;
  readonly offerId?: string | undefined;
  readonly at: Date;
  readonly name: string;
}

export type MarketplaceMessage = SubscriberMessage | AgreementMessage;

export type Parsed =
  | { readonly outcome: 'notification'; readonly notification: MarketplaceMessage }
  | { readonly outcome: 'rejected'; readonly reason: string; readonly name?: string | undefined }
  | { readonly outcome: 'ignored'; readonly reason: string; readonly name: string };

const MARKETPLACE_SOURCE = 'aws.agreement-marketplace';

const eventBridgeEnvelope = z.object({
  source: z.string(),
  'detail-type': z.string(),
  time: z.iso.datetime({ offset: true }),
  detail: z.record(z.string(), z.unknown()),
});

const licenseDetail = z.object({
  product: z.object({ code: z.string().min(1) }),
  license: z.object({ arn: z.string().min(1) }),
  agreement: z.object({ id: z.string().min(1) }).optional(),
  acceptor: z.object({ accountId: z.string().min(1) }).optional(),
});

const productOf = z.object({ product: z.object({ code: z.string().min(1) }) });

const agreementDetail = z.object({
  agreement: z.object({ id: z.string().min(1), status: z.string().optional(), intent: z.string().optional() }),
  acceptor: z.object({ accountId: z.string() }).nullish(),
  offer: z.object({ id: z.string() }).nullish(),
});

const snsEnvelope = z.object({ Type: z.literal('Notification'), Message: z.string(), Timestamp: z.iso.datetime() });

// Older pages show PascalCase keys, and the documented examples pad the identifier with a space: accept both.
const snsMessage = z
  .object({
    action: z.string(),
    'customer-identifier': z.string().optional(),
    CustomerIdentifier: z.string().optional(),
    'product-code': z.string().optional(),
    ProductCode: z.string().optional(),
    // A string, "true" or "false"; anything else says nothing.
    isFreeTrialTermPresent: z.unknown().optional(),
  })
  .transform((message) => ({
    action: message.action.trim(),
    customerIdentifier: (message['customer-identifier'] ?? message.CustomerIdentifier ?? '').trim(),
    productCode: (message['product-code'] ?? message.ProductCode ?? '').trim(),
    freeTrial: booleanText(message.isFreeTrialTermPresent),
  }));

/** `"true"` or `"false"` (any case, padded or not; AWS documents a string), or a JSON boolean; else no answer. */
function booleanText(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

// An end changes the entitlements too (Marketplace revokes them): read again then, the answer does not depend on
// whether a duplicate of an earlier notification happens to come after it.
const licenseEvents: Readonly<Record<string, { facts: readonly LifecycleFact[]; entitlementsChanged: boolean }>> = {
  'License Updated - Manufacturer': { facts: ['activatedAt'], entitlementsChanged: true },
  'License Deprovisioned - Manufacturer': { facts: ['endRequestedAt'], entitlementsChanged: true },
};

const agreementEvent = /^Purchase Agreement (Created|Amended|Ended) - (Proposer|Manufacturer)$/;

const snsActions: Readonly<Record<string, { facts: readonly LifecycleFact[]; entitlementsChanged: boolean }>> = {
  'subscribe-success': { facts: ['activatedAt'], entitlementsChanged: true },
  'subscribe-fail': { facts: ['failedAt'], entitlementsChanged: false },
  'unsubscribe-pending': { facts: ['endRequestedAt'], entitlementsChanged: true },
  'unsubscribe-success': { facts: ['endedAt'], entitlementsChanged: false },
  'entitlement-updated': { facts: [], entitlementsChanged: true },
};

/**
 * What one queued message says. `receivedAt` (the queue's sent time) dates SNS messages delivered raw, which carry
 * no timestamp of their own.
 */
export function parseMarketplaceMessage(body: string, receivedAt: Date, products: readonly ProductListing[]): Parsed {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return { outcome: 'rejected', reason: 'the message is not JSON' };
  }
  if (typeof message !== 'object' || message === null) return { outcome: 'rejected', reason: 'not a JSON object' };
  if ('detail-type' in message) return fromEventBridge(message, products);
  if ('Type' in message) {
    const envelope = snsEnvelope.safeParse(message);
    if (!envelope.success) return { outcome: 'rejected', reason: 'a malformed SNS envelope' };
    let inner: unknown;
    try {
      inner = JSON.parse(envelope.data.Message);
    } catch {
      return { outcome: 'rejected', reason: 'the SNS message is not JSON' };
    }
    return fromSns(inner, new Date(envelope.data.Timestamp), products);
  }
  return fromSns(message, receivedAt, products);
}

function fromEventBridge(message: object, products: readonly ProductListing[]): Parsed {
  const envelope = eventBridgeEnvelope.safeParse(message);
  if (!envelope.success) return { outcome: 'rejected', reason: 'a malformed EventBridge event' };
  const { source, time, detail } = envelope.data;
  const name = envelope.data['detail-type'];
  if (source !== MARKETPLACE_SOURCE) return { outcome: 'rejected', reason: `an event from ${source}`, name };
  const at = new Date(time);

  const licenseEvent = licenseEvents[name];
  if (licenseEvent !== undefined) {
    // The product first: an event of a product not sold here says so, whatever else it lacks.
    const productCode = productOf.safeParse(detail).data?.product.code;
    if (productCode !== undefined && sells(products, productCode, 'legacy')) {
      return {
        outcome: 'ignored',
        reason: `${productCode} is a legacy product: its SNS topics tell its lifecycle`,
        name,
      };
    }
    if (productCode !== undefined && !sells(products, productCode, 'license')) {
      return {
        outcome: 'rejected',
        reason: `a license of ${productCode}, not a license-model product sold here`,
        name,
      };
    }
    const parsed = licenseDetail.safeParse(detail);
    if (!parsed.success) return { outcome: 'rejected', reason: 'a license event without product or license', name };
    const { product, license, agreement, acceptor } = parsed.data;
    return {
      outcome: 'notification',
      notification: {
        kind: 'subscriber',
        subscriber: {
          model: 'license',
          productCode: product.code,
          licenseArn: normalizedLicenseArn(license.arn),
          customerAWSAccountId: acceptor?.accountId,
          agreementId: agreement?.id,
        },
        ...licenseEvent,
        at,
        name,
      },
    };
  }
  if (agreementEvent.test(name)) {
    const parsed = agreementDetail.safeParse(detail);
    if (!parsed.success) return { outcome: 'rejected', reason: 'an agreement event without an agreement id', name };
    const { agreement, acceptor, offer } = parsed.data;
    return {
      outcome: 'notification',
      notification: {
        kind: 'agreement',
        agreementId: agreement.id,
        status: agreement.status,
        intent: agreement.intent,
        acceptorAccountId: acceptor?.accountId,
        offerId: offer?.id,
        at,
        name,
      },
    };
  }
  return { outcome: 'rejected', reason: 'an unknown detail-type', name };
}

function fromSns(message: unknown, at: Date, products: readonly ProductListing[]): Parsed {
  const parsed = snsMessage.safeParse(message);
  if (!parsed.success) return { outcome: 'rejected', reason: 'not a Marketplace SNS message' };
  const { action, customerIdentifier, productCode, freeTrial } = parsed.data;
  const meaning = snsActions[action];
  if (meaning === undefined) return { outcome: 'rejected', reason: 'an unknown SNS action', name: action };
  if (customerIdentifier === '' || productCode === '') {
    return { outcome: 'rejected', reason: 'an SNS message without customer or product', name: action };
  }
  if (!sells(products, productCode, 'legacy')) {
    return {
      outcome: 'rejected',
      reason: `a message for ${productCode}, not a legacy product sold here`,
      name: action,
    };
  }
  return {
    outcome: 'notification',
    notification: {
      kind: 'subscriber',
      subscriber: { model: 'legacy', productCode, customerIdentifier },
      ...meaning,
      at,
      name: action,
      ...(action === 'subscribe-success' && freeTrial !== undefined ? { freeTrial } : {}),
    },
  };
}

function sells(products: readonly ProductListing[], code: string, model: ProductListing['identityModel']): boolean {
  return products.some((product) => product.code === code && product.identityModel === model);
}

/** AWS's own example writes the ARN without its `arn:` prefix; ResolveCustomer answers it with one. */
function normalizedLicenseArn(arn: string): string {
  return arn.startsWith('arn:') ? arn : `arn:${arn}`;
}
