/**
 * Buyers as Marketplace and their browser make them: a license bought on Marketplace, the browser posting the
 * registration token to the seller's fulfillment URL, and later a cancellation on Marketplace. The backend learns of
 * each asynchronously (its lifecycle queue), so each step waits until the access check shows it.
 */
import type { IdentityModel, License, MarketplaceControl } from './marketplace-control.ts';
import { pollUntil } from './polling.ts';
import { subscriberAccess } from './seller-api.ts';
import { loadLocalConfig } from '../../../local/config.ts';

/** The products `cdk.json` sells, by identity model, with their metered dimensions. */
const PRODUCTS: Readonly<Record<IdentityModel, { code: string; dimensions: readonly string[] }>> = {
  license: { code: 'analytics-pro-example', dimensions: ['requests', 'storage_gb'] },
  legacy: { code: 'data-suite-legacy-example', dimensions: ['overage_requests'] },
};

export interface Buyer {
  readonly model: IdentityModel;
  readonly licenseId: string;
  readonly subscriberId: string;
  readonly dimensions: readonly string[];
  /** When Marketplace activated the license: usage before it is never billable. */
  readonly activatedAt: Date;
}

/** When a cancelled subscription's final usage is due, as the access check tells the seller's app. */
export interface FinalWindow {
  /** The end of the license (E): usage after it is not billable. */
  readonly end: Date;
  /** The final-metering deadline (D = E + the grace): nothing is billed after it. */
  readonly deadline: Date;
  /** When the final hour is frozen and sent (F = D - 15 min): a final-metering run must go in [F, D). */
  readonly sendFrom: Date;
}

/** `lifecycle.finalMeteringGraceMinutes` and `metering.finalHourMarginMinutes`, as the stack under test reads them. */
const { lifecycle, metering } = loadLocalConfig();
const FINAL_METERING_GRACE_MS = lifecycle.finalMeteringGraceMinutes * 60_000;
const FINAL_HOUR_MARGIN_MS = metering.finalHourMarginMinutes * 60_000;

export interface BuyerServices {
  readonly marketplace: MarketplaceControl;
  readonly apiUrl: string;
  readonly fulfillmentUrl: string;
}

/** A buyer subscribes on Marketplace and arrives at the fulfillment URL; resolves once the subscriber is active. */
export async function subscribeBuyer(services: BuyerServices, model: IdentityModel): Promise<Buyer> {
  const product = PRODUCTS[model];
  const { license, registrationToken } = await services.marketplace.subscribe(product.code);
  const arrival = await fetch(services.fulfillmentUrl, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ 'x-amzn-marketplace-token': registrationToken }).toString(),
  });
  await arrival.body?.cancel();
  if (arrival.status !== 303 && arrival.status !== 302) {
    throw new Error(`the fulfillment URL answered ${arrival.status} to the buyer of license ${license.id}`);
  }
  const subscriberId = subscriberIdOf(license);
  await untilStatus(services.apiUrl, subscriberId, 'active');
  if (license.activatedAt === undefined) throw new Error(`license ${license.id} was bought but not activated`);
  return {
    model,
    licenseId: license.id,
    subscriberId,
    dimensions: product.dimensions,
    activatedAt: new Date(license.activatedAt),
  };
}

/** The buyer cancels on Marketplace; resolves, once the subscriber is ending, with its final-metering window. */
export async function cancelSubscription(services: BuyerServices, buyer: Buyer): Promise<FinalWindow> {
  await services.marketplace.cancel(buyer.licenseId);
  const access = await untilStatus(services.apiUrl, buyer.subscriberId, 'ending');
  if (access.finalMeteringDeadline === undefined) {
    throw new Error(`${buyer.subscriberId} is ending but the access check gives no final-metering deadline`);
  }
  const deadline = new Date(access.finalMeteringDeadline);
  return {
    end: new Date(deadline.getTime() - FINAL_METERING_GRACE_MS),
    deadline,
    sendFrom: new Date(deadline.getTime() - FINAL_HOUR_MARGIN_MS),
  };
}

/** How the backend names the subscriber: by license ARN, or by product and customer for legacy products. */
function subscriberIdOf(license: License): string {
  const id =
    license.identityModel === 'license'
      ? license.licenseArn && `license:${license.licenseArn}`
      : license.customerIdentifier && `legacy:${license.productCode}:${license.customerIdentifier}`;
  if (id === undefined) throw new Error(`Marketplace did not name the buyer of ${JSON.stringify(license)}`);
  return id;
}

function untilStatus(apiUrl: string, subscriberId: string, status: string) {
  return pollUntil(`${subscriberId} to be ${status}`, async () => {
    const access = await subscriberAccess(apiUrl, subscriberId);
    return access?.status === status ? access : undefined;
  });
}
