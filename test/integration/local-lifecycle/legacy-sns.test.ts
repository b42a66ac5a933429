/**
 * A legacy product's lifecycle end to end through its SNS notifications (`subscribe-success`, `entitlement-updated`,
 * `unsubscribe-pending`, `unsubscribe-success`), which reach the lifecycle queue in their SNS envelope as an SQS
 * subscription with raw delivery off receives them. With `eventSources: both` the EventBridge events of the same
 * changes arrive too; for a legacy product they are ignored (not set aside), so they cannot be what moves the
 * subscriber.
 */
import { expect, test } from 'vitest';
import { loadLocalConfig } from '../../../local/config.ts';
import { cancelOnBuyerPage, subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { postFulfillment, registerAfter } from '../../support/buyer.ts';
import { checkAccess, sellerEventsAbout, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const LEGACY_PRODUCT = 'data-suite-legacy-example';
const config = loadLocalConfig();
const local = useLocalStack({
  config: { ...config, lifecycle: { ...config.lifecycle, eventSources: 'both' } },
  marketplaceNotifications: true,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
});

test('subscribe-success activates, entitlement-updated refreshes, unsubscribe-pending starts the end, unsubscribe-success ends', async () => {
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, LEGACY_PRODUCT);
  const { customerIdentifier } = await local.control.license(licenseId);
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ identityModel: 'legacy', customerIdentifier, status: 'active', allowed: true }),
  );
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Activated')).toHaveLength(1);

  await local.control.setEntitlements(licenseId, [{ dimension: 'seats', value: { IntegerValue: 10 } }]);
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body.entitlements).toEqual([
    { dimension: 'seats', value: 10, valueType: 'integer' },
  ]);
  // Two changes in one second (the clock stopped): the second read, which sees the second change, is kept.
  await local.control.setClock(new Date((await local.control.clock()).now), false);
  for (const seats of [40, 41]) {
    await local.control.setEntitlements(licenseId, [{ dimension: 'seats', value: { IntegerValue: seats } }]);
    await settleLifecycle(local.stack);
  }
  expect((await checkAccess(local.stack, subscriberId)).body.entitlements).toEqual([
    { dimension: 'seats', value: 41, valueType: 'integer' },
  ]);

  await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
  await settleLifecycle(local.stack);
  // The end has the entitlements read again: Marketplace has revoked them, duplicate notifications or not.
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ending', allowed: false, entitlements: [] }),
  );
  await local.stack.subscriberStream.settled();
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Entitlements Changed').at(-1)?.detail).toEqual(
    expect.objectContaining({ entitlements: [] }),
  );
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ending')).toHaveLength(1);

  // Marketplace sends unsubscribe-success once its final-metering hour has passed.
  await local.control.advanceClock({ hours: 1, minutes: 1 });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ended', allowed: false }),
  );
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ended')).toHaveLength(1);
  expect(local.stack.lifecycleQueue.deadLetters).toEqual([]);
  const setAside = (await local.subscriberItems()).filter((item) => String(item.pk).startsWith('REJECTED#'));
  expect(setAside).toEqual([]);
});

test('entitlements changed before Marketplace confirms the subscription: the activation is still announced', async () => {
  const { license, registrationToken } = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    activate: false,
    entitlements: [{ dimension: 'seats', value: { IntegerValue: 2 } }],
  });
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`;
  await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
  // entitlement-updated while the subscriber is pending: the item gets its lifecycle as an empty map.
  await local.control.setEntitlements(license.id, [{ dimension: 'seats', value: { IntegerValue: 3 } }]);
  await settleLifecycle(local.stack);
  await local.control.activate(license.id);
  await settleLifecycle(local.stack);
  await local.stack.subscriberStream.settled();

  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({
      status: 'active',
      entitlements: [{ dimension: 'seats', value: 3, valueType: 'integer' }],
    }),
  );
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Activated')).toHaveLength(1);
  expect(local.stack.subscriberStream.deadLetters).toEqual([]);
});

test("the offer is Marketplace's word (isFreeTrialTermPresent) over the browser's, which says nothing on a return", async () => {
  const account = '606060606060';
  const trial = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    offerType: 'free-trial',
    customerAWSAccountId: account,
  });
  // Back from the console: the form carries no offer type.
  await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': trial.registrationToken });
  await settleLifecycle(local.stack);
  const { customerIdentifier } = await local.control.license(trial.license.id);
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', offerType: 'free-trial' }),
  );

  // The account subscribes to the paid offer: its subscribe-success says no trial.
  await local.control.advanceClock({ minutes: 5 });
  const paid = await local.control.createLicense({ productCode: LEGACY_PRODUCT, customerAWSAccountId: account });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', offerType: 'standard' }),
  );
  // A browser claiming a trial afterwards (anyone can add the field) does not overrule Marketplace.
  await postFulfillment(local.stack.fulfillmentUrl, {
    'x-amzn-marketplace-token': paid.registrationToken,
    'x-amzn-marketplace-offer-type': 'free-trial',
  });
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ offerType: 'standard' }),
  );
});

test('a registered trial converted to the paid offer is announced once: Subscriber Offer Changed, standard', async () => {
  const account = '616161616161';
  const trial = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    offerType: 'free-trial',
    customerAWSAccountId: account,
  });
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, {
    'x-amzn-marketplace-token': trial.registrationToken,
    'x-amzn-marketplace-offer-type': 'free-trial',
  });
  const registered = await registerAfter(arrival, `${local.stack.apiUrl}/register`, {
    company: 'Trial Co',
    contactName: 'Tam',
    email: 'tam@example.com',
  });
  expect(registered.status).toBe(303);
  await settleLifecycle(local.stack);
  const { customerIdentifier } = await local.control.license(trial.license.id);
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Offer Changed')).toEqual([]);

  await local.control.advanceClock({ minutes: 5 });
  await local.control.createLicense({ productCode: LEGACY_PRODUCT, customerAWSAccountId: account });
  await settleLifecycle(local.stack);
  const announced = sellerEventsAbout(local.stack, subscriberId, 'Subscriber Offer Changed');
  expect(announced.map((event) => event.detail)).toEqual([
    expect.objectContaining({ subscriberId, offerType: 'standard', status: 'active' }),
  ]);
  // Still the one activation: the paid subscription's start is told by offerConfirmedAt, which statusChangedAt becomes.
  expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Activated')).toHaveLength(1);
  const { offerConfirmedAt } = announced[0]!.detail as { offerConfirmedAt: string };
  expect((await checkAccess(local.stack, subscriberId)).body.statusChangedAt).toBe(offerConfirmedAt);
});

test("a message without its SNS envelope is dated on the stack's clock: after the clock moves on, a cancellation ends", async () => {
  // Hours ahead of the machine: a message dated by the machine's clock would be older than the activation, and ignored.
  await local.control.advanceClock({ hours: 10 });
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, LEGACY_PRODUCT);
  const { customerIdentifier } = await local.control.license(licenseId);
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(expect.objectContaining({ status: 'active' }));

  await local.control.advanceClock({ minutes: 1 });
  local.stack.lifecycleQueue.send(
    JSON.stringify({
      action: 'unsubscribe-pending',
      'customer-identifier': customerIdentifier,
      'product-code': LEGACY_PRODUCT,
    }),
  );
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ending', allowed: false }),
  );
});

test('an activation told before the entitlements could be read is followed by the first read, even an empty one', async () => {
  // One invocation's worth of failures (the SDK's five attempts): subscribe-success is stored without them.
  await local.control.setFaults({ rules: [{ kind: 'internal-error', operations: ['GetEntitlements'], times: 5 }] });
  const { license } = await local.control.createLicense({ productCode: LEGACY_PRODUCT });
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`;
  await settleLifecycle(local.stack);
  await local.stack.subscriberStream.settled();
  await local.control.clearFaults();

  const [activated, ...otherActivations] = sellerEventsAbout(local.stack, subscriberId, 'Subscriber Activated');
  expect(otherActivations).toEqual([]);
  expect(activated?.detail).toEqual(expect.objectContaining({ entitlements: [] }));
  expect(activated?.detail).not.toHaveProperty('entitlementsFetchedAt');
  const { entitlementsFetchedAt } = (await checkAccess(local.stack, subscriberId)).body;
  expect(entitlementsFetchedAt).toEqual(expect.any(String));
  expect(
    sellerEventsAbout(local.stack, subscriberId, 'Subscriber Entitlements Changed').map((event) => event.detail),
  ).toEqual([expect.objectContaining({ entitlements: [], entitlementsFetchedAt, version: entitlementsFetchedAt })]);
});
