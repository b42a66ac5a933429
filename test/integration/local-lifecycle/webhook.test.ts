/**
 * The seller's events reach the webhook: every event of the configured source on the seller's bus goes through the
 * webhook queue to the webhook function, which calls the local receiver with a signed request; a failed call is
 * retried after the wait the function asks for, and a call that keeps failing ends up a dead letter.
 */
import { afterEach, expect, test, vi } from 'vitest';
import type { BusEvent } from '../../../local/event-bus.ts';
import type { WebhookCall } from '../../../local/webhook-receiver.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const MAX_RECEIVE_COUNT = 3;
/** A second of the function's backoff (30 s, then doubling) lasts 2 ms here. */
const DEFERRAL_SECOND_MS = 2;
const local = useLocalStack({
  marketplaceNotifications: true,
  // Far longer than the deferrals: a retry that comes quickly can only have come from the function's deferral.
  queueRetries: {
    visibilityTimeoutMs: 20_000,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    deferralSecondMs: DEFERRAL_SECOND_MS,
  },
});

afterEach(() => {
  local.stack.webhookReceiver.failNext(0);
  vi.restoreAllMocks();
});

/** A buyer subscribes; answers the seller's events that followed, once every call about them has been made. */
async function subscribe(): Promise<BusEvent[]> {
  const before = local.stack.eventBus.events().length;
  await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  await settleLifecycle(local.stack);
  const events = local.stack.eventBus.events().slice(before);
  expect(events.map((event) => event['detail-type'])).toContain('Subscriber Activated');
  return events;
}

const callsAbout = (event: BusEvent): WebhookCall[] =>
  local.stack.webhookReceiver.calls().filter((call) => call.eventId === event.id);

test('each event on the seller bus reaches the webhook once, as its exact JSON, with a valid signature', async () => {
  const events = await subscribe();

  for (const event of events) {
    expect(callsAbout(event)).toEqual([
      expect.objectContaining({ signature: 'valid', status: 204, body: JSON.parse(JSON.stringify(event)) as unknown }),
    ]);
  }
  const listed = (await (await fetch(local.stack.webhookReceiver.eventsUrl)).json()) as { calls: WebhookCall[] };
  expect(listed.calls.map((call) => call.eventId)).toEqual(expect.arrayContaining(events.map((event) => event.id)));
  expect(local.stack.webhookUrl).toBe(local.stack.webhookReceiver.url);
});

test('a call the webhook fails is retried after the deferral the function asks for, and then delivered', async () => {
  local.stack.webhookReceiver.failNext(1);
  const [first, ...later] = await subscribe();

  const calls = callsAbout(first!);
  expect(calls.map((call) => call.status)).toEqual([503, 204]);
  const waitedMs = Date.parse(calls[1]!.receivedAt) - Date.parse(calls[0]!.receivedAt);
  // 30 s of backoff after a first failure, at 2 ms a second; the 20 s visibility timeout would be far later. The
  // upper bound sits just under that, so that a busy machine's delays cannot be mistaken for it.
  expect(waitedMs).toBeGreaterThanOrEqual(30 * DEFERRAL_SECOND_MS);
  expect(waitedMs).toBeLessThan(19_000);
  for (const event of later) expect(callsAbout(event).map((call) => call.status)).toEqual([204]);
  expect(local.stack.webhookQueue.deadLetters).toEqual([]);
});

test('a call that keeps failing is set aside as a dead letter after the last receive, and said so on stderr', async () => {
  const stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  local.stack.webhookReceiver.failNext(1_000);
  const events = await subscribe();

  for (const event of events) {
    expect(callsAbout(event).map((call) => call.status)).toEqual(Array(MAX_RECEIVE_COUNT).fill(503));
  }
  const deadLetters = local.stack.webhookQueue.deadLetters.slice(-events.length);
  expect(deadLetters.map((record) => (JSON.parse(record.body) as BusEvent).id)).toEqual(
    events.map((event) => event.id),
  );
  for (const record of deadLetters) {
    expect(record.attributes.ApproximateReceiveCount).toBe(String(MAX_RECEIVE_COUNT));
    expect(stderr).toHaveBeenCalledWith(
      `queue webhook: message ${record.messageId} was received ${MAX_RECEIVE_COUNT} times; set aside`,
    );
  }
});
