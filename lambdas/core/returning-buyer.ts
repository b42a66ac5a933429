/**
 * A legacy buyer back from Marketplace after the subscription ended or failed. A legacy subscriber keeps its id when
 * the buyer subscribes again, and the buyer's browser (and so the registration) may come before the new
 * `subscribe-success`: that buyer is on the way to a new subscription, `pending` to the registration page and in the
 * `Subscriber Registered` event, not shut out of it. The access check answers the subscription's own status (`ending`,
 * `ended`, `failed`): nothing is allowed before Marketplace confirms the new one.
 */
import type { SubscriptionStatus } from './subscriber.ts';

export interface ReturningBuyerFacts {
  readonly model: 'license' | 'legacy';
  readonly status: SubscriptionStatus | undefined;
  /** When the status last changed: for a failed subscription, when it failed. */
  readonly statusChangedAt: string | undefined;
  /** For an ending or ended subscription, when it ended for the buyer. */
  readonly endedAt: string | undefined;
  /** When Marketplace last said that subscribing failed. */
  readonly failedAt: string | undefined;
  /** When the buyer last arrived from Marketplace. */
  readonly resolvedLastAt: string | undefined;
}

/**
 * The status, or `pending` for a legacy buyer who came back from Marketplace since it ended or failed; `failed` for one
 * whose attempt to subscribe again failed since it ended (the subscription before stays `ending` or `ended`).
 */
export function statusForReturningBuyer(facts: ReturningBuyerFacts): SubscriptionStatus | undefined {
  const { status, resolvedLastAt, endedAt, failedAt } = facts;
  const ended = status === 'ending' || status === 'ended';
  const attemptFailed = ended && endedAt !== undefined && failedAt !== undefined && failedAt > endedAt;
  const shown = attemptFailed ? 'failed' : status;
  const closedAt = attemptFailed ? failedAt : status === 'failed' ? facts.statusChangedAt : ended ? endedAt : undefined;
  const back =
    facts.model === 'legacy' && closedAt !== undefined && resolvedLastAt !== undefined && resolvedLastAt > closedAt;
  return back ? 'pending' : shown;
}
