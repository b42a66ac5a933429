/**
 * The subscription lifecycle of a local stack, observed from outside: a live buyer, waiting until a Marketplace change
 * has run its whole course, the access check over HTTP, and the seller's events about one subscriber.
 */
import type { SubscriberAccess } from '../../lambdas/core/subscriber-access.ts';
import type { BusEvent } from '../../local/event-bus.ts';
import type { LocalStack } from '../../local/local-stack.ts';
import { fetchSigned } from '../../local/http/signed-fetch.ts';
import type { SimulatorControl } from '../../simulator/control-client.ts';
import { subscribeOnBuyerPage } from './buyer-page.ts';

/**
 * A buyer of the example license product, subscribed on the simulator's buyer page (activated at the simulator's time)
 * and live once the stack has heard of it.
 */
export async function liveLicenseSubscriber(local: {
  readonly stack: LocalStack;
  readonly control: SimulatorControl;
}): Promise<{ licenseId: string; subscriberId: string }> {
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  await settleLifecycle(local.stack);
  const { licenseArn } = await local.control.license(licenseId);
  return { licenseId, subscriberId: `license:${licenseArn}` };
}

/**
 * Resolves once everything set off so far has run its course, in the order it flows: the simulator's pushes, the
 * lifecycle queue, the Subscribers stream (which publishes the seller's events), and the webhook queue.
 */
export async function settleLifecycle(stack: LocalStack): Promise<void> {
  await stack.simulator.simulator.events.drained();
  await stack.lifecycleQueue.settled();
  await stack.subscriberStream.settled();
  await stack.webhookQueue.settled();
}

export interface AccessAnswer {
  readonly status: number;
  readonly body: Partial<SubscriberAccess> & { readonly message?: string };
}

/** `GET /subscribers/{id}`, as the seller's app calls it (signed): of a local stack, or of `npm start`. */
export async function checkAccess(stack: Pick<LocalStack, 'apiUrl'>, subscriberId: string): Promise<AccessAnswer> {
  const response = await fetchSigned(`${stack.apiUrl}/subscribers/${encodeURIComponent(subscriberId)}`);
  return { status: response.status, body: (await response.json()) as AccessAnswer['body'] };
}

/** The events on the seller's bus about one subscriber, of one type, oldest first. */
export function sellerEventsAbout(stack: LocalStack, subscriberId: string, detailType: string): BusEvent[] {
  return stack.eventBus
    .events()
    .filter(
      (event) =>
        event['detail-type'] === detailType &&
        (event.detail as { subscriberId?: string } | undefined)?.subscriberId === subscriberId,
    );
}
