/**
 * Lifecycle events: the EventBridge events (every product) and SNS messages (legacy products) Marketplace sends as a
 * license is bought, activated, changed and ended, read from the feed or pushed to a URL.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import type { PublishedEventView } from '../../../simulator/control-client.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

const detailTypes = (events: PublishedEventView[]) => events.map((event) => event.body['detail-type']);
const snsActions = (events: PublishedEventView[]) =>
  events.map((event) => (JSON.parse(event.body.Message as string) as { action: string }).action);

async function contractProduct(identityModel: 'license' | 'legacy') {
  return await sim.control.createProduct(
    meteredProduct({
      identityModel,
      pricingModel: 'contracts',
      dimensions: [{ name: 'seats', kind: 'contract' }],
    }),
  );
}

test('a purchase publishes Purchase Agreement Created (Proposer, Manufacturer), then License Updated', async () => {
  const product = await contractProduct('license');
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const { events } = await sim.control.events(0, 'eventbridge');
  expect(detailTypes(events)).toEqual([
    'Purchase Agreement Created - Proposer',
    'Purchase Agreement Created - Manufacturer',
    'License Updated - Manufacturer',
  ]);
  const [created, , updated] = events;
  expect(created?.body).toEqual(
    expect.objectContaining({
      version: '0',
      source: 'aws.agreement-marketplace',
      account: '111122223333',
      region: 'us-east-1',
      time: '2026-11-18T12:30:00Z',
      resources: [`arn:aws:aws-marketplace::aws:agreement:${license.agreementId}`],
    }),
  );
  expect(created?.body.detail).toEqual(
    expect.objectContaining({
      catalog: 'AWSMarketplace',
      agreement: expect.objectContaining({ id: license.agreementId, intent: 'NEW', status: 'ACTIVE' }) as unknown,
      acceptor: { accountId: license.customerAWSAccountId },
      proposer: { accountId: '111122223333' },
      offer: { id: license.offerId },
    }),
  );
  expect(updated?.body.detail).toEqual(
    expect.objectContaining({
      product: { code: product.code, id: product.productId },
      license: { arn: license.licenseArn },
      agreement: { id: license.agreementId },
    }),
  );
});

test('a pending license publishes License Updated only when it is activated', async () => {
  const product = await contractProduct('license');
  const { license } = await sim.control.createLicense({ productCode: product.code, activate: false });
  expect(detailTypes((await sim.control.events()).events)).not.toContain('License Updated - Manufacturer');
  const { lastSequence } = await sim.control.events();
  await sim.control.activate(license.id);
  expect(detailTypes((await sim.control.events(lastSequence)).events)).toEqual(['License Updated - Manufacturer']);
});

test('changed entitlements publish Purchase Agreement Amended and License Updated', async () => {
  const product = await contractProduct('license');
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const { lastSequence } = await sim.control.events();
  await sim.control.setEntitlements(license.id, [{ dimension: 'seats', value: { IntegerValue: 3 } }]);
  const { events } = await sim.control.events(lastSequence);
  expect(detailTypes(events)).toEqual([
    'Purchase Agreement Amended - Proposer',
    'Purchase Agreement Amended - Manufacturer',
    'License Updated - Manufacturer',
  ]);
  expect((events[0]?.body.detail as { agreement: { intent: string } }).agreement.intent).toBe('AMEND');
});

test('an end publishes Purchase Agreement Ended with its status, and License Deprovisioned', async () => {
  const product = await contractProduct('license');
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const { lastSequence } = await sim.control.events();
  await sim.control.end(license.id, 'EXPIRED');
  const { events } = await sim.control.events(lastSequence);
  expect(detailTypes(events)).toEqual([
    'Purchase Agreement Ended - Proposer',
    'Purchase Agreement Ended - Manufacturer',
    'License Deprovisioned - Manufacturer',
  ]);
  expect((events[0]?.body.detail as { agreement: unknown }).agreement).toEqual({
    id: license.agreementId,
    status: 'EXPIRED',
  });
});

test('legacy products also get SNS messages in their envelope; unsubscribe-success comes after the grace hour', async () => {
  const product = await contractProduct('legacy');
  const { license } = await sim.control.createLicense({ productCode: product.code, offerType: 'free-trial' });
  await sim.control.setEntitlements(license.id, [{ dimension: 'seats', value: { IntegerValue: 2 } }]);
  await sim.control.end(license.id);
  const before = (await sim.control.events(0, 'sns')).events;
  expect(snsActions(before)).toEqual(['subscribe-success', 'entitlement-updated', 'unsubscribe-pending']);

  const [subscribed, entitlement] = before;
  expect(subscribed?.body).toEqual(
    expect.objectContaining({
      Type: 'Notification',
      TopicArn: `arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-${product.code}`,
      Timestamp: '2026-11-18T12:30:00.000Z',
    }),
  );
  expect(JSON.parse(subscribed?.body.Message as string)).toEqual({
    action: 'subscribe-success',
    'customer-identifier': license.customerIdentifier,
    'product-code': product.code,
    'offer-identifier': license.offerId,
    isFreeTrialTermPresent: 'true',
  });
  expect(entitlement?.body.TopicArn).toContain(`aws-mp-entitlement-notification-${product.code}`);

  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 59), false);
  expect((await sim.control.events(0, 'sns')).events).toHaveLength(3);
  await sim.control.advanceClock({ minutes: 1 });
  expect(snsActions((await sim.control.events(0, 'sns')).events).at(-1)).toBe('unsubscribe-success');
});

test('a legacy buyer who subscribes again within the hour gets subscribe-success in place of unsubscribe-success', async () => {
  const product = await contractProduct('legacy');
  const { license } = await sim.control.createLicense({ productCode: product.code });
  await sim.control.end(license.id);
  await sim.control.advanceClock({ minutes: 20 });
  const { license: again } = await sim.control.createLicense({
    productCode: product.code,
    customerAWSAccountId: license.customerAWSAccountId,
  });
  expect(again.customerIdentifier).toBe(license.customerIdentifier);
  await sim.control.advanceClock({ hours: 2 });
  expect(snsActions((await sim.control.events(0, 'sns')).events)).toEqual([
    'subscribe-success',
    'unsubscribe-pending',
    'subscribe-success',
  ]);

  // Cancelled again, the new subscription's own unsubscribe-success comes after its grace hour.
  await sim.control.end(again.id);
  await sim.control.advanceClock({ hours: 1 });
  expect(snsActions((await sim.control.events(0, 'sns')).events).slice(3)).toEqual([
    'unsubscribe-pending',
    'unsubscribe-success',
  ]);
});

test("an entitlement's expiry sends a legacy product's entitlement-updated (AWS sends it for expiries too)", async () => {
  const expiresAt = minutesFrom(SIMULATOR_NOW, 30);
  const expiring = [{ dimension: 'seats', value: { IntegerValue: 2 }, expirationDate: expiresAt.toISOString() }];
  const legacy = await sim.control.createLicense({ productCode: (await contractProduct('legacy')).code });
  await sim.control.setEntitlements(legacy.license.id, expiring);
  const licensed = await sim.control.createLicense({ productCode: (await contractProduct('license')).code });
  await sim.control.setEntitlements(licensed.license.id, expiring);
  const eventBridgeBefore = (await sim.control.events(0, 'eventbridge')).events.length;
  expect(snsActions((await sim.control.events(0, 'sns')).events)).toEqual(['subscribe-success', 'entitlement-updated']);

  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 31), false);
  const sns = (await sim.control.events(0, 'sns')).events;
  expect(snsActions(sns)).toEqual(['subscribe-success', 'entitlement-updated', 'entitlement-updated']);
  expect(sns.at(-1)?.body.Timestamp).toBe(expiresAt.toISOString());
  expect((await sim.control.events(0, 'eventbridge')).events).toHaveLength(eventBridgeBefore);
});

test('no expiry is announced for an entitlement replaced before it expired, nor once the subscription has ended', async () => {
  const product = await contractProduct('legacy');
  const expiring = (minutes: number) => [
    {
      dimension: 'seats',
      value: { IntegerValue: 2 },
      expirationDate: minutesFrom(SIMULATOR_NOW, minutes).toISOString(),
    },
  ];
  const replaced = await sim.control.createLicense({ productCode: product.code });
  await sim.control.setEntitlements(replaced.license.id, expiring(30));
  await sim.control.setEntitlements(replaced.license.id, [{ dimension: 'seats', value: { IntegerValue: 5 } }]);
  const ended = await sim.control.createLicense({ productCode: product.code });
  await sim.control.setEntitlements(ended.license.id, expiring(40));
  await sim.control.end(ended.license.id);
  const before = (await sim.control.events(0, 'sns')).events.length;

  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 45), false);
  expect(snsActions((await sim.control.events(0, 'sns')).events.slice(before))).toEqual([]);
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 120), false);
  expect(snsActions((await sim.control.events(0, 'sns')).events.slice(before))).toEqual(['unsubscribe-success']);
});

test("a pending license's expiry is announced once when it is then activated, and not at all if it fails", async () => {
  const product = await contractProduct('legacy');
  const entitlements = [
    { dimension: 'seats', value: { IntegerValue: 2 }, expirationDate: minutesFrom(SIMULATOR_NOW, 30).toISOString() },
  ];
  const activated = await sim.control.createLicense({ productCode: product.code, activate: false });
  await sim.control.setEntitlements(activated.license.id, entitlements);
  await sim.control.activate(activated.license.id);
  const failed = await sim.control.createLicense({ productCode: product.code, activate: false });
  await sim.control.setEntitlements(failed.license.id, entitlements);
  await sim.control.fail(failed.license.id);

  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 45), false);
  const expiries = (await sim.control.events(0, 'sns')).events.filter(
    (event) => event.body.Timestamp === entitlements[0]!.expirationDate,
  );
  expect(snsActions(expiries)).toEqual(['entitlement-updated']);
});

test('subscribe-fail is an SNS message', async () => {
  const product = await contractProduct('legacy');
  const { license } = await sim.control.createLicense({ productCode: product.code, activate: false });
  await sim.control.fail(license.id);
  expect(snsActions((await sim.control.events(0, 'sns')).events)).toEqual(['subscribe-fail']);
});

test('license-model products get no SNS messages: the topics carry no LicenseArn', async () => {
  const product = await contractProduct('license');
  await sim.control.createLicense({ productCode: product.code });
  expect((await sim.control.events(0, 'sns')).events).toEqual([]);
});

test('the feed is numbered, so a reader resumes after the last sequence it saw', async () => {
  const product = await contractProduct('license');
  await sim.control.createLicense({ productCode: product.code });
  const first = await sim.control.events();
  await sim.control.createLicense({ productCode: product.code });
  const rest = await sim.control.events(first.lastSequence);
  expect(rest.events.map((event) => event.sequence)).toEqual([4, 5, 6]);
  expect(rest.lastSequence).toBe(6);
  // The feed's latest whatever the format (a license-model product has no SNS messages), and 0 after a reset.
  expect(await sim.control.events(0, 'sns')).toEqual({ events: [], lastSequence: 6 });
  await sim.control.reset();
  expect(await sim.control.events(6)).toEqual({ events: [], lastSequence: 0 });
});

const receivers: Server[] = [];
afterEach(() => {
  receivers.splice(0).forEach((receiver) => receiver.close());
});

/** A receiver that fails its first `failures` deliveries with 500, then stores what it is sent. */
async function eventReceiver(failures: number) {
  const received: unknown[] = [];
  let failed = 0;
  const receiver = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (failed < failures) {
        failed++;
        response.writeHead(500).end();
        return;
      }
      received.push(JSON.parse(Buffer.concat(chunks).toString()));
      response.writeHead(200).end();
    });
  });
  receivers.push(receiver);
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`, received };
}

/** Polls `condition` until it holds; the limit only ends a wait that would never end, on however busy a machine. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('events are pushed to a subscribed URL in order, retried when the receiver fails', async () => {
  const { url, received } = await eventReceiver(2);
  await sim.control.subscribeEvents(url, 'eventbridge');
  const product = await contractProduct('license');
  await sim.control.createLicense({ productCode: product.code });
  // The simulator counts a delivery once the receiver has answered it, so the receiver holds all three by the time the
  // count says so (waiting on the receiver instead could read the count one short).
  await until(async () => (await sim.control.stats()).eventDeliveries.delivered === 3);
  expect(received.map((event) => (event as Record<string, unknown>)['detail-type'])).toEqual([
    'Purchase Agreement Created - Proposer',
    'Purchase Agreement Created - Manufacturer',
    'License Updated - Manufacturer',
  ]);
  expect((await sim.control.stats()).eventDeliveries).toEqual({ delivered: 3, failed: 0 });
});

test('an unsubscribed URL receives nothing more, while another subscriber still does', async () => {
  const stopped = await eventReceiver(0);
  const control = await eventReceiver(0);
  const subscription = await sim.control.subscribeEvents(stopped.url, 'eventbridge');
  await sim.control.subscribeEvents(control.url, 'eventbridge');
  await sim.control.unsubscribeEvents(subscription.id);
  const product = await contractProduct('license');
  await sim.control.createLicense({ productCode: product.code });
  await until(() => control.received.length === 3);
  expect(stopped.received).toEqual([]);
});

test('only an http(s) URL can be subscribed: anything else is answered 400 and subscribes nothing', async () => {
  for (const url of ['ftp://127.0.0.1/events', 'file:///etc/passwd', 'not a url']) {
    await expect(sim.control.subscribeEvents(url, 'eventbridge')).rejects.toThrow(/400/);
  }
  expect((await sim.control.eventSubscriptions()).subscriptions).toEqual([]);
});
