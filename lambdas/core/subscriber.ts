/**
 * A subscriber is one license: one agreement of one buyer account for one product. Products on Concurrent Agreements
 * (every product listed since June 2026) name it by `LicenseArn`; legacy products by product code +
 * `CustomerIdentifier`. Both kinds work everywhere, and whichever identifiers Marketplace gives are all kept.
 */
import * as z from 'zod';
import type { RegistrationField } from './environment.ts';

export type OfferType = 'standard' | 'free-trial';

export type SubscriberIdentity =
  | {
      readonly model: 'license';
      readonly productCode: string;
      readonly licenseArn: string;
      readonly customerAWSAccountId: string;
      readonly customerIdentifier?: string | undefined;
    }
  | {
      readonly model: 'legacy';
      readonly productCode: string;
      readonly customerIdentifier: string;
      readonly customerAWSAccountId?: string | undefined;
      readonly licenseArn?: string | undefined;
    };

/** What names a subscriber: its license, or (legacy) its product and customer identifier. */
export type SubscriberKeyFields =
  | { readonly model: 'license'; readonly licenseArn: string }
  | { readonly model: 'legacy'; readonly productCode: string; readonly customerIdentifier: string };

/**
 * What a subscriber id given by a caller must look like: `license:<LicenseArn>` or
 * `legacy:<ProductCode>:<CustomerIdentifier>`, in printable ASCII but the space (`[!-~]`, one byte each, so that an
 * id's length is its size in a key). A legacy product code may itself contain ':', so the first part may too. Callers
 * bound the length further by the key they put the id in (DynamoDB refuses a partition key over 2,048 bytes).
 */
export const SUBSCRIBER_ID_PATTERN =
  /^(license:arn:aws[a-z-]*:license-manager:[!-~]{1,1200}|legacy:[!-~]{1,255}:[!-~]{1,255})$/;

/** `license:<LicenseArn>` or `legacy:<ProductCode>:<CustomerIdentifier>`: stable, and unique across both kinds. */
export function subscriberIdOf(identity: SubscriberKeyFields): string {
  return identity.model === 'license'
    ? `license:${identity.licenseArn}`
    : `legacy:${identity.productCode}:${identity.customerIdentifier}`;
}

export type RegistrationDetails = Partial<Record<RegistrationField, string>>;

export interface Registration {
  readonly details: RegistrationDetails;
  readonly registeredAt: string;
}

/**
 * The subscription's state as the lifecycle (Marketplace's notifications) last set it. Absent until the first
 * notification arrives, which may be before or after the buyer.
 */
export const subscriptionStatuses = z.enum(['pending', 'active', 'ending', 'ended', 'failed']);
export type SubscriptionStatus = z.infer<typeof subscriptionStatuses>;

export interface Subscriber {
  readonly id: string;
  readonly identity: SubscriberIdentity;
  readonly offerType: OfferType;
  readonly resolvedFirstAt: string;
  readonly resolvedLastAt: string;
  readonly registration?: Registration | undefined;
  readonly subscriptionStatus?: SubscriptionStatus | undefined;
  /** When the lifecycle last changed the status (for an ended subscription: when it ended). */
  readonly statusChangedAt?: string | undefined;
  /** Once cancelled or ended: when the subscription ended for the buyer, and the last instant usage is billable. */
  readonly endedAt?: string | undefined;
  /** Whether Marketplace ever confirmed that the subscription started (usage was billable at some time). */
  readonly started: boolean;
  /** When Marketplace last said that subscribing failed (a legacy `subscribe-fail`). */
  readonly failedAt?: string | undefined;
}
