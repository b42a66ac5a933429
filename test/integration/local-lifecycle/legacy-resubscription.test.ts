/**
 * A legacy buyer who subscribes again keeps their subscriber id (product code + `CustomerIdentifier`), but the new
 * subscription is billed from its own start: usage of the time between the two is refused when it is posted (it was
 * accepted, then refused by Marketplace), and the old subscription's `unsubscribe-success`, arriving after the buyer
 * subscribed again inside its final-metering hour, does not end the new one (it did, and its usage was lost).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { expect, test } from 'vitest';
import { TABLE_KEY } from '../../../contracts/index.ts';
import { usagePartition } from '../../../lambdas/core/metering/bucket/index.ts';
import { getRegistration, postFulfillment, sessionCookieOf } from '../../support/buyer.ts';
import { cancelOnBuyerPage, subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { checkAccess, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';

const LEGACY_PRODUCT = 'data-suite-legacy-example';
const HOUR_MS = 3_600_000;

const local = useLocalStack({
  marketplaceNotifications: true,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
  // Runs only when a test asks, so that what each one bills is its own doing.
  meteringEveryMs: 3_600_000,
  finalMeteringEveryMs: 3_600_000,
});

const simulatorNow = async () => new Date((await local.control.clock()).now);

/** Ten past the next hour, the clock stopped: every step below stays in the hours it names. */
async function tenPastTheHour(): Promise<void> {
  const now = (await simulatorNow()).getTime();
  await local.control.setClock(new Date(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + 10 * 60_000), false);
}

async function postUsage(subscriberId: string, quantity: number, at: Date) {
  const response = await fetchSigned(`${local.stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      events: [{ subscriberId, dimension: 'overage_requests', quantity, timestamp: at.toISOString() }],
    }),
  });
  const body = (await response.json()) as { results: { status: string; reason?: string }[] };
  return body.results[0];
}

async function legacyBuyer() {
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, LEGACY_PRODUCT);
  const { customerIdentifier, customerAWSAccountId } = await local.control.license(licenseId);
  await settleLifecycle(local.stack);
  return { licenseId, customerAWSAccountId, subscriberId: `legacy:${LEGACY_PRODUCT}:${customerIdentifier}` };
}

/** The buyer cancels on the buyer page, and the stack has heard of it. */
async function cancel(licenseId: string): Promise<void> {
  await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
  await settleLifecycle(local.stack);
}

async function expectAccepted(subscriberId: string, quantity: number, at: Date): Promise<void> {
  expect(await postUsage(subscriberId, quantity, at)).toEqual(expect.objectContaining({ status: 'accepted' }));
}

async function subscribeAgain(customerAWSAccountId: string) {
  const { license } = await local.control.createLicense({ productCode: LEGACY_PRODUCT, customerAWSAccountId });
  await settleLifecycle(local.stack);
  return license;
}

test('after the old subscription ended, usage of the gap is refused and the new one is billed from its start', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ hours: 1, minutes: 1 });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ended' }),
  );

  await local.control.advanceClock({ hours: 2 });
  const inTheGap = new Date((await simulatorNow()).getTime() - 30 * 60_000);
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', allowed: true }),
  );
  const gapUsage = await postUsage(buyer.subscriberId, 37, inTheGap);
  expect(gapUsage).toEqual(expect.objectContaining({ status: 'rejected', reason: 'not-subscribed' }));
  // The usage the old subscription bills goes up to its end, in the second the buyer cancelled.
  const { billableUntil } = gapUsage as { billableUntil?: string };
  expect(billableUntil).toMatch(/\.999Z$/);
  expect(Date.parse(billableUntil!)).toBeLessThan(inTheGap.getTime() - 60 * 60_000);
  const afterTheStart = await simulatorNow();
  await expectAccepted(buyer.subscriberId, 31, afterTheStart);

  await local.control.advanceClock({ hours: 1, minutes: 6 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ billed: 1, rejected: {} }));
  const billed = (await local.control.billed({ licenseId: again.id })).records;
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 31 })]);
  expect(Date.parse(billed[0]!.timestamp)).toBeGreaterThan(Date.parse(again.activatedAt!));
});

test('subscribed again inside the old final-metering hour: the old end ends nothing, and the usage is billed', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ minutes: 20 });
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  const usedAt = await simulatorNow();
  await expectAccepted(buyer.subscriberId, 311, usedAt);

  // The old subscription's final-metering hour passes: Marketplace sends its unsubscribe-success.
  await local.control.advanceClock({ minutes: 45 });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', allowed: true }),
  );

  await local.control.advanceClock({ hours: 1 });
  await local.stack.meter();
  const billed = (await local.control.billed({ licenseId: again.id })).records.filter((record) => record.quantity > 0);
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 311 })]);
  // Stamped inside the new subscription (the buyer subscribed and cancelled the old one in the same second).
  expect(Date.parse(billed[0]!.timestamp)).toBeGreaterThan(Date.parse(again.activatedAt!));
  expect((await local.control.billed({ licenseId: buyer.licenseId })).records).toEqual([]);
});

test('subscribed again in the hour after the cancellation: the old final hour, its late usage and the new usage are all billed', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  const firstHour = await simulatorNow();
  await local.control.advanceClock({ minutes: 5 });
  await expectAccepted(buyer.subscriberId, 100, await simulatorNow());
  await local.control.advanceClock({ minutes: 15 });
  await cancel(buyer.licenseId);

  // 55 minutes after the cancellation, inside its final-metering hour but past its final send time: late usage of the
  // old subscription goes into the new one's hour.
  await local.control.advanceClock({ minutes: 55 });
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  const beforeTheEnd = new Date(firstHour.getTime() + 15 * 60_000);
  expect(await postUsage(buyer.subscriberId, 20, beforeTheEnd)).toEqual(
    expect.objectContaining({
      status: 'accepted',
      carriedFrom: new Date(firstHour.getTime() - 10 * 60_000).toISOString(),
    }),
  );
  expect(await postUsage(buyer.subscriberId, 5, new Date(firstHour.getTime() + 25 * 60_000))).toEqual(
    expect.objectContaining({ status: 'rejected', reason: 'not-subscribed' }),
  );
  await expectAccepted(buyer.subscriberId, 7, await simulatorNow());

  // Metered while the old subscription is still in its final-metering hour, then once the new hour has closed.
  await local.control.advanceClock({ minutes: 2 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {} }));
  await local.control.advanceClock({ hours: 1 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {}, pending: 0 }));
  const positive = (records: readonly { quantity: number }[]) =>
    records.map((record) => record.quantity).filter(Boolean);
  expect(positive((await local.control.billed({ licenseId: buyer.licenseId })).records)).toEqual([100]);
  expect(positive((await local.control.billed({ licenseId: again.id })).records)).toEqual([27]);
});

test('subscribed again and cancelled again inside the old final-metering hour: the old end ends nothing, the new final hour is billed', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ minutes: 20 });
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  await local.control.advanceClock({ minutes: 1 });
  await expectAccepted(buyer.subscriberId, 311, await simulatorNow());
  await local.control.advanceClock({ minutes: 9 });
  await cancel(again.id);

  // The old subscription's unsubscribe-success (an hour after its request) comes while the new one is still ending.
  await local.control.advanceClock({ minutes: 35 });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ending', allowed: false }),
  );

  // Past the new final hour's send time, before its deadline.
  await local.control.advanceClock({ minutes: 11 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {}, expired: 0 }));
  const billed = (await local.control.billed({ licenseId: again.id })).records.filter((record) => record.quantity > 0);
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 311 })]);
});

test("a failed attempt to subscribe again inside the old final-metering hour: the old hour's usage is billed", async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  const usedAt = await simulatorNow();
  await expectAccepted(buyer.subscriberId, 100, usedAt);
  await local.control.advanceClock({ minutes: 5 });
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ minutes: 2 });
  const { license: attempt } = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    customerAWSAccountId: buyer.customerAWSAccountId,
    activate: false,
  });
  // The buyer's browser arrives from Marketplace for the attempt, which then fails.
  const { registrationToken } = await local.control.issueRegistrationToken(attempt.id);
  const cookie = sessionCookieOf(
    await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken }),
  );
  await local.control.fail(attempt.id);
  await settleLifecycle(local.stack);
  // To the buyer, the attempt failed: no form to fill in.
  expect((await getRegistration(`${local.stack.apiUrl}/register`, cookie)).body).toContain(
    'This subscription cannot be set up',
  );

  // The attempt's subscribe-fail leaves the cancelled subscription ending: usage stamped before its end still counts.
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'ending', allowed: false }),
  );
  await expectAccepted(buyer.subscriberId, 20, new Date(usedAt.getTime() + 60_000));

  // Past the final hour's send time, before its deadline: final metering sends it (the hourly run would be too late).
  await local.control.advanceClock({ minutes: 50 });
  expect(await local.stack.meterFinal()).toEqual(expect.objectContaining({ rejected: {}, expired: 0 }));
  const billed = (await local.control.billed({ licenseId: buyer.licenseId })).records.filter(
    (record) => record.quantity > 0,
  );
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 120 })]);
  expect((await local.control.billed({ licenseId: attempt.id })).records).toEqual([]);
});

test('subscribed a third time: the usage the middle subscription took while it was live is billed as its own', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await local.control.advanceClock({ minutes: 8 });
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ minutes: 5 });
  const middle = await subscribeAgain(buyer.customerAWSAccountId);
  await local.control.advanceClock({ minutes: 7 });
  await expectAccepted(buyer.subscriberId, 7, await simulatorNow());
  await local.control.advanceClock({ minutes: 28 });
  await cancel(middle.id);

  // Subscribed a third time after the first subscription's final-metering window closed, inside the middle one's.
  await local.control.advanceClock({ minutes: 32 });
  await subscribeAgain(buyer.customerAWSAccountId);
  await local.control.advanceClock({ minutes: 2 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {}, expired: 0 }));
  const billed = (await local.control.billed({ licenseId: middle.id })).records.filter((record) => record.quantity > 0);
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 7 })]);
  expect(Date.parse(billed[0]!.timestamp)).toBeGreaterThan(Date.parse(middle.activatedAt!));
});

test('cancelled and subscribed again in one second: the buyer stays active, and the usage is billed', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await local.control.advanceClock({ minutes: 10 });
  await cancelOnBuyerPage(local.stack.simulator.url, buyer.licenseId);
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', allowed: true }),
  );
  await local.control.advanceClock({ minutes: 1 });
  await expectAccepted(buyer.subscriberId, 17, await simulatorNow());

  // The old subscription's unsubscribe-success, an hour after its cancellation, ends nothing.
  await local.control.advanceClock({ hours: 1 });
  await settleLifecycle(local.stack);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', allowed: true }),
  );
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {}, expired: 0 }));
  const billed = (await local.control.billed({ licenseId: again.id })).records.filter((record) => record.quantity > 0);
  expect(billed).toEqual([expect.objectContaining({ dimension: 'overage_requests', quantity: 17 })]);
});

test('subscribed again in the hour after the cancellation: the old hours go within the old window, later old usage is carried', async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  const firstHour = await simulatorNow();
  const minute = (minutes: number) => new Date(firstHour.getTime() - 10 * 60_000 + minutes * 60_000);
  await local.control.advanceClock({ minutes: 20 });
  await expectAccepted(buyer.subscriberId, 100, await simulatorNow());
  await local.control.advanceClock({ minutes: 20 });
  await cancel(buyer.licenseId);

  // Twenty minutes later, in the next hour, inside the old subscription's final-metering window.
  await local.control.advanceClock({ minutes: 20 });
  const again = await subscribeAgain(buyer.customerAWSAccountId);
  expect((await checkAccess(local.stack, buyer.subscriberId)).body).toEqual(
    expect.objectContaining({ status: 'active', allowed: true }),
  );
  // Final metering (every minute in AWS; the hourly run may come after the old window closes) sends the old hour.
  await local.control.advanceClock({ minutes: 1 });
  expect(await local.stack.meterFinal()).toEqual(expect.objectContaining({ billed: 1, rejected: {} }));
  const oldRecords = (await local.control.billed({ licenseId: buyer.licenseId })).records;
  expect(oldRecords).toEqual([expect.objectContaining({ quantity: 100 })]);
  expect(Date.parse(oldRecords[0]!.timestamp)).toBeLessThan(minute(60).getTime());

  // Past the old subscription's send time, its late usage goes into the new subscription's hour.
  await local.control.advanceClock({ minutes: 30 });
  expect(await postUsage(buyer.subscriberId, 7, minute(45))).toEqual(
    expect.objectContaining({
      status: 'accepted',
      hour: minute(60).toISOString(),
      carriedFrom: minute(0).toISOString(),
    }),
  );
  // Past its deadline (and the old subscription's unsubscribe-success), final metering has nothing more to see to,
  // and the subscriber stays active.
  await local.control.advanceClock({ minutes: 10 });
  await settleLifecycle(local.stack);
  await local.stack.closeFinalMeteringWindows(await simulatorNow());
  const item = (await local.subscriberItems()).find((each) => each.subscriberId === buyer.subscriberId);
  expect(item).toEqual(expect.objectContaining({ subscriptionStatus: 'active' }));
  expect(item).not.toHaveProperty('finalMeteringDeadline');
  await local.control.advanceClock({ hours: 1 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {}, expired: 0 }));
  const newRecords = (await local.control.billed({ licenseId: again.id })).records.filter(
    (record) => record.quantity > 0,
  );
  expect(newRecords).toEqual([expect.objectContaining({ quantity: 7 })]);
});

test("no zero-usage record is made for the old subscription's last hour once the buyer has subscribed again", async () => {
  await tenPastTheHour();
  const buyer = await legacyBuyer();
  await local.control.advanceClock({ minutes: 40 });
  await cancel(buyer.licenseId);
  await local.control.advanceClock({ minutes: 20 });
  await subscribeAgain(buyer.customerAWSAccountId);
  // The hourly run comes late, after the old subscription's final-metering deadline: it makes no bucket (which could
  // only expire) for the old subscription's last hour.
  await local.control.advanceClock({ minutes: 45 });
  await local.stack.meter();
  const { Items = [] } = await local.documents.send(
    new QueryCommand({
      TableName: local.stack.tables.Usage,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': TABLE_KEY.partitionKey },
      ExpressionAttributeValues: { ':pk': usagePartition(buyer.subscriberId) },
    }),
  );
  expect(Items).toEqual([]);
});

test('a buyer who cancelled a free trial and subscribes again to the paid offer is no longer on a free trial', async () => {
  const trial = await subscribeOnBuyerPage(local.stack.simulator.url, LEGACY_PRODUCT, 'free-trial');
  const { customerIdentifier, customerAWSAccountId } = await local.control.license(trial.licenseId);
  const subscriberId = `legacy:${LEGACY_PRODUCT}:${customerIdentifier}`;
  const arrive = async (fields: Record<string, string>) =>
    expect((await postFulfillment(local.stack.fulfillmentUrl, fields)).status).toBe(303);
  const offerType = async () =>
    ((await checkAccess(local.stack, subscriberId)).body as { offerType?: string }).offerType;

  await arrive({ 'x-amzn-marketplace-token': trial.registrationToken, 'x-amzn-marketplace-offer-type': 'free-trial' });
  await settleLifecycle(local.stack);
  // A visit during the trial without the trial field does not undo it.
  await arrive({ 'x-amzn-marketplace-token': trial.registrationToken });
  expect(await offerType()).toBe('free-trial');

  await cancel(trial.licenseId);
  await local.control.advanceClock({ hours: 1, minutes: 1 });
  const paid = await subscribeAgain(customerAWSAccountId);
  // Claiming a trial again (anyone can add the field): an account gets one trial per product.
  await arrive({
    'x-amzn-marketplace-token': (await local.control.issueRegistrationToken(paid.id)).registrationToken,
    'x-amzn-marketplace-offer-type': 'free-trial',
  });
  expect(await offerType()).toBe('standard');
  expect((await checkAccess(local.stack, subscriberId)).body).toEqual(expect.objectContaining({ status: 'active' }));
});

test('a buyer who paid, then took the trial, is on it when Marketplace said so before the visit, and paid after it', async () => {
  const buyer = await legacyBuyer();
  const arrive = async (fields: Record<string, string>) =>
    expect((await postFulfillment(local.stack.fulfillmentUrl, fields)).status).toBe(303);
  const offerType = async () =>
    ((await checkAccess(local.stack, buyer.subscriberId)).body as { offerType?: string }).offerType;
  await arrive({
    'x-amzn-marketplace-token': (await local.control.issueRegistrationToken(buyer.licenseId)).registrationToken,
  });
  expect(await offerType()).toBe('standard');

  await cancel(buyer.licenseId);
  await local.control.advanceClock({ hours: 1, minutes: 1 });
  // The trial's subscribe-success is handled before the buyer's visit: Marketplace's word on the new subscription.
  const { license: trial } = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    customerAWSAccountId: buyer.customerAWSAccountId,
    offerType: 'free-trial',
  });
  await settleLifecycle(local.stack);
  expect(await offerType()).toBe('free-trial');
  await arrive({
    'x-amzn-marketplace-token': (await local.control.issueRegistrationToken(trial.id)).registrationToken,
    'x-amzn-marketplace-offer-type': 'free-trial',
  });
  expect(await offerType()).toBe('free-trial');

  // The trial ends too, and the buyer is back on the paid offer before Marketplace has said so: the trial was the
  // subscription before, so this one is paid. (Cancelled a minute in: at the instant of its activation, the
  // cancellation would leave it the live subscription, as the lifecycle reads facts of one instant.)
  await local.control.advanceClock({ minutes: 1 });
  await cancel(trial.id);
  await local.control.advanceClock({ hours: 1, minutes: 1 });
  const { license: paid } = await local.control.createLicense({
    productCode: LEGACY_PRODUCT,
    customerAWSAccountId: buyer.customerAWSAccountId,
    activate: false,
  });
  await arrive({ 'x-amzn-marketplace-token': (await local.control.issueRegistrationToken(paid.id)).registrationToken });
  expect(await offerType()).toBe('standard');
});
