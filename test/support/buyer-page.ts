/**
 * The simulator's buyer page, driven over HTTP as a browser drives it: subscribing answers the "Thank you" page, which
 * names the license and carries the setup form with the registration token; cancelling answers 303 back to the list.
 */
import { FORM } from './buyer.ts';

export interface BuyerPageSubscription {
  readonly licenseId: string;
  /** What the setup form posts to the fulfillment URL. */
  readonly registrationToken: string;
}

export async function subscribeOnBuyerPage(
  simulatorUrl: string,
  productCode: string,
  offerType: 'standard' | 'free-trial' = 'standard',
): Promise<BuyerPageSubscription> {
  const response = await fetch(`${simulatorUrl}/buyer/subscribe`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new URLSearchParams({ productCode, offerType }).toString(),
  });
  const page = await response.text();
  if (response.status !== 200) throw new Error(`the buyer page answered ${response.status}: ${page}`);
  const licenseId = /\(license <code>(l-[0-9a-f]+)<\/code>\)/.exec(page)?.[1];
  const token = /name="x-amzn-marketplace-token" value="([^"]*)"/.exec(page)?.[1];
  if (licenseId === undefined || token === undefined) throw new Error(`no license or token on the page: ${page}`);
  return { licenseId, registrationToken: unescapeHtml(token) };
}

export async function cancelOnBuyerPage(simulatorUrl: string, licenseId: string): Promise<void> {
  const response = await fetch(`${simulatorUrl}/buyer/licenses/${licenseId}/cancel`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': FORM },
    body: '',
  });
  await response.body?.cancel();
  if (response.status !== 303) throw new Error(`cancelling ${licenseId} answered ${response.status}`);
}

function unescapeHtml(text: string): string {
  const entities: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => entities[entity]!);
}
