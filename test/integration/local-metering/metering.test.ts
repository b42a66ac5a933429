/**
 * Usage metering through the local stack, as a seller sees it: the app records usage with `POST /usage`, the
 * scheduled run bills each hour once the simulator's clock has closed it, and after a cancellation on the buyer page
 * final metering bills the final hour before the deadline, all visible in the simulator's billed records.
 */
import { expect, test } from 'vitest';
import { hourOf } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import { cancelOnBuyerPage } from '../../support/buyer-page.ts';
import { liveLicenseSubscriber, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';

const local = useLocalStack({
  marketplaceNotifications: true,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
  // Runs only when a test asks (`stack.meter()`, `stack.meterFinal()`), so that what each one bills is its own doing.
  meteringEveryMs: 3_600_000,
  finalMeteringEveryMs: 3_600_000,
});

const liveSubscriber = () => liveLicenseSubscriber(local);

async function postUsage(body: unknown) {
  const response = await fetchSigned(`${local.stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { results?: unknown[]; message?: string } };
}

const simulatorNow = async () => new Date((await local.control.clock()).now);
const HOUR_MS = 3_600_000;

test('usage posted for an hour is billed once that hour has closed, exactly once, however often the run goes', async () => {
  // Twenty past the next hour, whatever the machine's time, and still running: the subscription starts in the hour its
  // usage is for however long the steps below take (with the wall clock, an hour could turn between the two).
  const startedAt = Date.parse((await local.control.clock()).now);
  await local.control.setClock(new Date(Math.floor(startedAt / HOUR_MS) * HOUR_MS + HOUR_MS + 20 * 60_000), true);
  const { licenseId, subscriberId } = await liveSubscriber();
  const at = await simulatorNow();
  const usage = (quantity: number, eventId: string) => ({
    subscriberId,
    dimension: 'requests',
    quantity,
    timestamp: at.toISOString(),
    eventId,
  });

  const answer = await postUsage({ events: [usage(5, 'e-1'), usage(7, 'e-2'), usage(5, 'e-1')] });
  expect(answer).toEqual({
    status: 200,
    body: {
      results: [
        expect.objectContaining({ status: 'accepted', hour: hourOf(at).toISOString() }),
        expect.objectContaining({ status: 'accepted' }),
        { status: 'duplicate' },
      ],
    },
  });

  // The hour is still open: nothing of it is sent.
  await local.stack.meter();
  expect((await local.control.billed({ licenseId })).records).toEqual([]);

  await local.control.advanceClock({ hours: 1, minutes: 6 });
  expect(await local.stack.meter()).toEqual(expect.objectContaining({ billed: 1 }));
  await local.stack.meter();
  const { records } = await local.control.billed({ licenseId });
  expect(records).toEqual([
    expect.objectContaining({ dimension: 'requests', hour: hourOf(at).toISOString(), quantity: 12 }),
  ]);
  // Inside the hour, and not before the subscription started in it (Marketplace may refuse a timestamp before that):
  // the whole second after the one it started in.
  const { activatedAt } = await local.control.license(licenseId);
  expect(records[0]!.timestamp).toBe(new Date(Math.floor(Date.parse(activatedAt!) / 1000) * 1000 + 1000).toISOString());
  expect((await local.control.results({ licenseId, status: 'DuplicateRecord' })).results).toEqual([]);
});

test('after a cancellation, late usage up to the end is taken, and the final hour is billed before the deadline', async () => {
  const { licenseId, subscriberId } = await liveSubscriber();
  const at = await simulatorNow();
  const usage = (quantity: number, timestamp: Date) => ({
    subscriberId,
    dimension: 'storage_gb',
    quantity,
    timestamp: timestamp.toISOString(),
  });
  expect((await postUsage({ events: [usage(3, at)] })).body.results).toEqual([
    expect.objectContaining({ status: 'accepted' }),
  ]);

  await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
  await settleLifecycle(local.stack);
  await local.control.advanceClock({ minutes: 2 });
  // The app's batch of usage from before the cancellation arrives late: taken. Usage after the end is not.
  expect((await postUsage({ events: [usage(4, at), usage(1, await simulatorNow())] })).body.results).toEqual([
    expect.objectContaining({ status: 'accepted', hour: hourOf(at).toISOString() }),
    expect.objectContaining({ status: 'rejected', reason: 'not-subscribed' }),
  ]);
  expect(await local.stack.meterFinal()).toEqual(expect.objectContaining({ billed: 0, waiting: 1 }));

  // The final hour goes out 15 minutes before the deadline, an hour after the cancellation.
  await local.control.advanceClock({ minutes: 44 });
  expect(await local.stack.meterFinal()).toEqual(expect.objectContaining({ billed: 1 }));
  expect((await local.control.billed({ licenseId })).records).toEqual([
    expect.objectContaining({ dimension: 'storage_gb', hour: hourOf(at).toISOString(), quantity: 7 }),
  ]);
});

test('a subscription that starts in the last second of an hour has that usage billed in the next hour', async () => {
  // Marketplace refusing any timestamp before the activation itself (the strict reading of "the start of usage").
  await local.control.updateSettings({ licensePeriodStart: 'instant' });
  try {
    const now = Date.parse((await local.control.clock()).now);
    const lastSecond = Math.floor(now / HOUR_MS) * HOUR_MS + 2 * HOUR_MS - 500;
    await local.control.setClock(new Date(lastSecond), false);
    const { licenseId, subscriberId } = await liveSubscriber();
    const at = new Date(lastSecond + 300);
    const usage = { subscriberId, dimension: 'requests', quantity: 59, timestamp: at.toISOString() };
    expect((await postUsage({ events: [usage] })).body.results).toEqual([
      { status: 'accepted', hour: new Date(lastSecond + 500).toISOString(), carriedFrom: hourOf(at).toISOString() },
    ]);

    await local.control.advanceClock({ hours: 1, minutes: 6 });
    expect(await local.stack.meter()).toEqual(expect.objectContaining({ rejected: {} }));
    expect((await local.control.billed({ licenseId })).records.filter((record) => record.quantity > 0)).toEqual([
      expect.objectContaining({ quantity: 59, hour: new Date(lastSecond + 500).toISOString() }),
    ]);
  } finally {
    await local.control.updateSettings({ licensePeriodStart: 'activation-hour' });
  }
});

test('usage for a subscriber nobody knows is refused with its reason, and nothing is billed for it', async () => {
  const subscriberId = 'license:arn:aws:license-manager::999999999999:license:l-nobody';
  const answer = await postUsage({
    events: [{ subscriberId, dimension: 'requests', quantity: 1, timestamp: (await simulatorNow()).toISOString() }],
  });
  expect(answer.status).toBe(200);
  expect(answer.body.results).toEqual([expect.objectContaining({ status: 'rejected', reason: 'unknown-subscriber' })]);
});

test('a body that is not a usage report is a 400 that says what is wrong', async () => {
  const answer = await postUsage({ usage: [] });
  expect(answer.status).toBe(400);
  expect(answer.body.message).toEqual(expect.any(String));
});
