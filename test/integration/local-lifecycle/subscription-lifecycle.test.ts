/**
 * The subscription lifecycle through the local stack, driven as a buyer and Marketplace drive it (the simulator's
 * buyer page and control API) and read as the seller's app reads it (the access check over HTTP, the events on the
 * seller's bus) and as the buyer sees it (the registration page). Marketplace's EventBridge notifications reach the
 * lifecycle queue as AWS delivers them.
 */
import { describe, expect, test } from 'vitest';
import type { Config } from '../../../lib/config.ts';
import { loadLocalConfig } from '../../../local/config.ts';
import {
  formTokenOf,
  getRegistration,
  postFulfillment,
  postRegistration,
  sessionCookieOf,
} from '../../support/buyer.ts';
import { cancelOnBuyerPage, subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { checkAccess, sellerEventsAbout, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

/** A contract product sold under the license model: what a buyer bought is in its entitlements. */
const contractProduct: Config['products'][number] = {
  code: 'contract-suite-example',
  name: 'Contract Suite',
  pricingModel: 'contracts',
  identityModel: 'license',
  dimensions: [{ name: 'seats', kind: 'contract' }],
};
const localConfig = loadLocalConfig();
const config: Config = {
  ...localConfig,
  products: [...localConfig.products, contractProduct],
  // Shorter than the buyer's registration session, so that the page still shows them the end of the window.
  lifecycle: { ...localConfig.lifecycle, finalMeteringGraceMinutes: 10 },
};
const local = useLocalStack({
  config,
  marketplaceNotifications: true,
  // A message that fails for good is set aside within a second, so that settling never waits on a broken lifecycle.
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
  // The test closes the final-metering window itself, on either side of the deadline: a scheduled sweep (every minute
  // by default, of real time, however far the clock has been set) could close it first. Nothing here meters either.
  finalMeteringSweepEveryMs: 3_600_000,
  meteringEveryMs: 3_600_000,
  finalMeteringEveryMs: 3_600_000,
});
const registerUrl = () => `${local.stack.apiUrl}/register`;
const graceMs = config.lifecycle.finalMeteringGraceMinutes * 60_000;

/** A buyer subscribes on the buyer page and follows "Set up your account": answers the session cookie too. */
async function subscribedBuyer(productCode = 'analytics-pro-example') {
  const { licenseId, registrationToken } = await subscribeOnBuyerPage(local.stack.simulator.url, productCode);
  const { licenseArn } = await local.control.license(licenseId);
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
  return { licenseId, subscriberId: `license:${licenseArn}`, cookie: sessionCookieOf(arrival) };
}

async function register(cookie: string): Promise<void> {
  const formToken = formTokenOf((await getRegistration(registerUrl(), cookie)).body);
  const answer = await postRegistration(registerUrl(), cookie, {
    formToken,
    company: 'Acme Ltd',
    contactName: 'Ada Lovelace',
    email: 'ada@example.com',
  });
  expect(answer.status).toBe(303);
}

const statusOnPage = async (cookie: string) =>
  /<p class="status">([^<]*)<\/p>/.exec((await getRegistration(registerUrl(), cookie)).body)?.[1];

describe('subscribing', () => {
  test('activates the subscriber: Subscriber Activated on the bus, active through the access check and on the registration page', async () => {
    const { subscriberId, cookie } = await subscribedBuyer();
    await settleLifecycle(local.stack);

    expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Activated')).toHaveLength(1);
    expect(await checkAccess(local.stack, subscriberId)).toEqual({
      status: 200,
      body: expect.objectContaining({ subscriberId, status: 'active', allowed: true }) as unknown,
    });
    expect(await statusOnPage(cookie)).toBe('Your subscription is active.');
  });

  test('entitlements set on Marketplace are read again and announced as Subscriber Entitlements Changed', async () => {
    const { licenseId, subscriberId } = await subscribedBuyer(contractProduct.code);
    await settleLifecycle(local.stack);

    await local.control.setEntitlements(licenseId, [{ dimension: 'seats', value: { IntegerValue: 25 } }]);
    await settleLifecycle(local.stack);

    const seats = [{ dimension: 'seats', value: 25, valueType: 'integer' }];
    expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Entitlements Changed').at(-1)?.detail).toEqual(
      expect.objectContaining({ subscriberId, entitlements: seats }),
    );
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      expect.objectContaining({ status: 'active', entitlements: seats }),
    );
  });

  test('an entitlement past its expiry is no longer listed by the access check', async () => {
    const { licenseId, subscriberId } = await subscribedBuyer(contractProduct.code);
    await settleLifecycle(local.stack);
    const expiresAt = new Date(Date.parse((await local.control.clock()).now) + 10 * 60_000).toISOString();
    await local.control.setEntitlements(licenseId, [
      { dimension: 'seats', value: { IntegerValue: 3 }, expirationDate: expiresAt },
    ]);
    await settleLifecycle(local.stack);
    const seats = [{ dimension: 'seats', value: 3, valueType: 'integer', expiresAt }];
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      expect.objectContaining({ entitlements: seats }),
    );

    await local.control.advanceClock({ minutes: 10 });
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      expect.objectContaining({ status: 'active', allowed: true, entitlements: [] }),
    );
  });
});

describe('cancelling on the buyer page', () => {
  test('leaves the subscription ending until its final-metering deadline, and the sweep past the deadline ends it', async () => {
    const { licenseId, subscriberId, cookie } = await subscribedBuyer();
    await register(cookie);
    await settleLifecycle(local.stack);

    await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
    await settleLifecycle(local.stack);
    // Marketplace's events carry whole seconds.
    const endRequestedAt = Math.floor(Date.parse((await local.control.license(licenseId)).endedAt!) / 1000) * 1000;
    const deadline = new Date(endRequestedAt + graceMs);
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      // Access ends with the cancellation: no use after it can be billed. The window is for usage up to it.
      expect.objectContaining({
        status: 'ending',
        allowed: false,
        statusChangedAt: new Date(endRequestedAt).toISOString(),
        endedAt: new Date(endRequestedAt).toISOString(),
        finalMeteringDeadline: deadline.toISOString(),
      }),
    );
    expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ending')).toEqual([
      expect.objectContaining({
        detail: expect.objectContaining({ finalMeteringDeadline: deadline.toISOString() }) as unknown,
      }),
    ]);
    expect(await statusOnPage(cookie)).toBe('Your subscription has ended.');

    // The whole stack runs on the simulator's clock: a second before the deadline nothing closes, a second after it does.
    await local.control.setClock(new Date(deadline.getTime() - 1000), false);
    expect(await local.stack.closeFinalMeteringWindows(new Date(deadline.getTime() - 1000))).not.toContain(
      subscriberId,
    );
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      expect.objectContaining({ status: 'ending', allowed: false }),
    );
    await local.control.setClock(new Date(deadline.getTime() + 1000), true);
    // Past the deadline, the access check answers ended before the sweep writes it down, and ended when: at the deadline.
    const ended = expect.objectContaining({
      status: 'ended',
      allowed: false,
      statusChangedAt: deadline.toISOString(),
      endedAt: new Date(endRequestedAt).toISOString(),
    }) as unknown;
    expect(await checkAccess(local.stack, subscriberId)).toEqual({ status: 200, body: ended });
    expect(await local.stack.closeFinalMeteringWindows(new Date(deadline.getTime() + 1000))).toContain(subscriberId);
    await settleLifecycle(local.stack);

    expect(await checkAccess(local.stack, subscriberId)).toEqual({ status: 200, body: ended });
    expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ended')).toHaveLength(1);
    expect(await statusOnPage(cookie)).toBe('Your subscription has ended.');
  });
});

describe('a notification that is not one of Marketplace for this seller', () => {
  test('is set aside with its reason (a REJECTED# item), never retried, and holds nothing up', async () => {
    const queue = local.stack.lifecycleQueue;
    queue.send('{"detail-type": ');
    queue.send(
      JSON.stringify({
        version: '0',
        id: 'ec2-event',
        'detail-type': 'EC2 Instance State-change Notification',
        source: 'aws.ec2',
        account: '111122223333',
        time: new Date().toISOString(),
        region: 'us-east-1',
        resources: [],
        detail: { state: 'running' },
      }),
    );
    queue.send(
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'foreign-message',
        Message: JSON.stringify({
          action: 'subscribe-success',
          'customer-identifier': 'someone',
          'product-code': 'another-sellers-product',
        }),
        Timestamp: new Date().toISOString(),
      }),
    );
    const { subscriberId } = await subscribedBuyer();
    await settleLifecycle(local.stack);

    const rejected = (await local.subscriberItems()).filter((item) => String(item.pk).startsWith('REJECTED#'));
    expect(rejected.map((item) => item.reason).sort()).toEqual([
      'a message for another-sellers-product, not a legacy product sold here',
      'an event from aws.ec2',
      'the message is not JSON',
    ]);
    expect(rejected.find((item) => item.reason === 'the message is not JSON')?.body).toBe('{"detail-type": ');
    // A message that failed instead would have been received again until set aside as a dead letter.
    expect(queue.deadLetters).toEqual([]);
    expect((await checkAccess(local.stack, subscriberId)).body.status).toBe('active');
  });
});
