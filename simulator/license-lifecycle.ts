/**
 * Changes to a buyer's license, each paired with the lifecycle events Marketplace publishes for it. The control API and
 * the buyer page both act through these, so a license bought or cancelled either way looks the same to the seller.
 */
import type { EndReason, Entitlement, License, NewLicense } from './marketplace.ts';
import type { Simulator } from './simulator.ts';

export interface Subscription {
  readonly license: License;
  /** What Marketplace hands the buyer's browser to post to the seller's fulfillment URL. */
  readonly registrationToken: string;
}

export function subscribe(simulator: Simulator, input: NewLicense): Subscription {
  const license = simulator.marketplace.createLicense(input);
  simulator.notify('subscribed', license);
  if (input.activate) simulator.notify('activated', license);
  return { license, registrationToken: simulator.marketplace.issueRegistrationToken(license.id) };
}

export function activateLicense(simulator: Simulator, id: string): License {
  const license = simulator.marketplace.activate(id);
  simulator.notify('activated', license);
  return license;
}

export function failLicense(simulator: Simulator, id: string): License {
  const license = simulator.marketplace.fail(id);
  simulator.notify('subscribe-failed', license);
  return license;
}

export function endLicense(simulator: Simulator, id: string, reason: EndReason): License {
  const license = simulator.marketplace.end(id, reason);
  simulator.notify('ended', license);
  return license;
}

export function setEntitlements(simulator: Simulator, id: string, entitlements: readonly Entitlement[]): License {
  const license = simulator.marketplace.setEntitlements(id, entitlements);
  simulator.notify('entitlements-updated', license);
  return license;
}
