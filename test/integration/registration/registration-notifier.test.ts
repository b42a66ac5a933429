/**
 * Telling the seller: a completed registration becomes one `Subscriber Registered` event on the seller's bus, through
 * the Subscribers stream; a bus that keeps failing never fails the buyer, its records are retried until they are 12
 * hours old by the stack's clock (the deployed mapping's `maxRecordAge`), and only then set aside.
 */
import { describe, expect, test, vi } from 'vitest';
import {
  formTokenOf,
  getRegistration,
  postFulfillment,
  postRegistration,
  sessionCookieOf,
} from '../../support/buyer.ts';
import { useLocalStack } from '../../support/local-stack.ts';

// Retries as deployed (until 12 hours old), with short pauses so that an outage of many calls passes in a moment.
const local = useLocalStack({ streamRetries: { retryDelayMs: 10, maxRetryDelayMs: 50 } });
const contact = { company: 'Acme Ltd', contactName: 'Ada Lovelace', email: 'ada@example.com' };

async function register(productCode: string, offerType: 'standard' | 'free-trial' = 'standard') {
  const { license, registrationToken } = await local.control.createLicense({ productCode, offerType });
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, {
    'x-amzn-marketplace-token': registrationToken,
    ...(offerType === 'free-trial' ? { 'x-amzn-marketplace-offer-type': 'free-trial' } : {}),
  });
  const cookie = sessionCookieOf(arrival);
  const registerUrl = `${local.stack.apiUrl}/register`;
  const formToken = formTokenOf((await getRegistration(registerUrl, cookie)).body);
  const answer = await postRegistration(registerUrl, cookie, { formToken, ...contact });
  return { license, answer };
}

const registeredEvents = () =>
  local.stack.eventBus.events().filter((event) => event['detail-type'] === 'Subscriber Registered');

describe('a completed registration', () => {
  test('publishes one Subscriber Registered event with the documented detail', async () => {
    const before = registeredEvents().length;
    const { license } = await register('analytics-pro-example');
    await local.stack.subscriberStream.settled();
    const events = registeredEvents().slice(before);
    expect(events).toHaveLength(1);
    expect(events[0]?.source).toBe('saas-marketplace');
    expect(events[0]?.detail).toEqual({
      schemaVersion: '1',
      subscriberId: `license:${license.licenseArn}`,
      productCode: 'analytics-pro-example',
      identityModel: 'license',
      licenseArn: license.licenseArn,
      customerAWSAccountId: license.customerAWSAccountId,
      offerType: 'standard',
      registeredAt: expect.stringMatching(/^\d{4}-/) as unknown,
      // Not yet confirmed by Marketplace: the simulator's lifecycle events do not reach this stack's queue.
      status: 'pending',
      version: (events[0]?.detail as { registeredAt: string }).registeredAt,
      contact,
    });
  });

  test('of a legacy free-trial buyer carries the CustomerIdentifier and the offer type', async () => {
    const before = registeredEvents().length;
    const { license } = await register('data-suite-legacy-example', 'free-trial');
    await local.stack.subscriberStream.settled();
    expect(registeredEvents().slice(before)[0]?.detail).toEqual(
      expect.objectContaining({
        identityModel: 'legacy',
        customerIdentifier: license.customerIdentifier,
        offerType: 'free-trial',
      }),
    );
  });

  test('is announced once, however often the registered buyer comes back', async () => {
    const before = registeredEvents().length;
    const { license } = await register('analytics-pro-example');
    for (let visit = 0; visit < 3; visit++) {
      const { registrationToken } = await local.control.issueRegistrationToken(license.id);
      await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    }
    await local.stack.subscriberStream.settled();
    expect(registeredEvents().length - before).toBe(1);
  });

  test('buyers arriving (and coming back) publish nothing: only registration does', async () => {
    const before = local.stack.eventBus.events().length;
    const { registrationToken } = await local.control.createLicense({ productCode: 'analytics-pro-example' });
    await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    await local.stack.subscriberStream.settled();
    expect(local.stack.eventBus.events().length).toBe(before);
  });
});

describe('a failing event bus', () => {
  test('is retried, and the event goes out once it recovers', async () => {
    const before = registeredEvents().length;
    local.stack.eventBus.failNext({ calls: 2 });
    const { answer } = await register('analytics-pro-example');
    expect(answer.status).toBe(303);
    await local.stack.subscriberStream.settled();
    expect(registeredEvents().length - before).toBe(1);
  });

  test('down for 40 calls loses nothing: the record is retried until the bus takes it', async () => {
    const before = registeredEvents().length;
    local.stack.eventBus.failNext({ calls: 40 });
    const { answer } = await register('analytics-pro-example');
    expect(answer.status).toBe(303);
    await local.stack.subscriberStream.settled();
    expect(registeredEvents().length - before).toBe(1);
    expect(local.stack.subscriberStream.deadLetters).toEqual([]);
  });

  test('never fails the buyer; failing for 12 hours, the record is set aside for the dead-letter queue', async () => {
    const deadBefore = local.stack.subscriberStream.deadLetters.length;
    const eventsBefore = registeredEvents().length;
    local.stack.eventBus.failNext({ entries: 1_000_000 });
    const { license, answer } = await register('analytics-pro-example');
    expect(answer.status).toBe(303);
    // The record's age runs from its first delivery: each move ages what has been tried by then.
    await vi.waitFor(
      async () => {
        await local.control.advanceClock({ hours: 13 });
        expect(local.stack.subscriberStream.deadLetters.length).toBeGreaterThan(deadBefore);
      },
      { timeout: 60_000, interval: 200 },
    );
    await local.stack.subscriberStream.settled();
    local.stack.eventBus.failNext({});
    expect(registeredEvents().length).toBe(eventsBefore);
    const deadLetters = local.stack.subscriberStream.deadLetters.slice(deadBefore);
    expect(deadLetters).toHaveLength(1);
    expect(JSON.stringify(deadLetters[0]?.dynamodb?.NewImage)).toContain(license.licenseArn!);
    const stored = (await local.subscriberItems()).find(
      (item) => item.sk === 'SUBSCRIBER' && item.licenseArn === license.licenseArn,
    );
    expect(stored?.registration).toBeDefined();
  });
});
