/**
 * The local stack as `npm start` runs it (`catchUpClockJumps`), with the simulator's clock moved hours at a time in one
 * call, as a newcomer and the README do: what AWS, whose time does not jump, would have billed on the way is billed,
 * the final hour of a cancelled subscriber included. The schedules themselves are held back, so only the catch-up can
 * have billed it.
 */
import { describe, expect, test } from 'vitest';
import { cancelOnBuyerPage } from '../../support/buyer-page.ts';
import { liveLicenseSubscriber, sellerEventsAbout, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';

const local = useLocalStack({
  marketplaceNotifications: true,
  catchUpClockJumps: true,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
  meteringEveryMs: 3_600_000,
  finalMeteringEveryMs: 3_600_000,
  finalMeteringSweepEveryMs: 3_600_000,
});

const HOUR_MS = 3_600_000;
/** A jump runs the functions at each of its stops, with their retries' real pauses under faults: on a loaded machine
 * that takes a while. */
const JUMP_TEST_TIMEOUT_MS = 180_000;
const simulatorNow = async () => new Date((await local.control.clock()).now);

/** `minutes` past the next hour, the clock stopped: each step below lands in the hour it names. */
async function pastTheNextHour(minutes: number): Promise<Date> {
  const now = (await simulatorNow()).getTime();
  const at = new Date(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + minutes * 60_000);
  await local.control.setClock(at, false);
  return at;
}

const liveSubscriber = () => liveLicenseSubscriber(local);

async function expectAccepted(subscriberId: string, quantity: number, at: Date): Promise<void> {
  const response = await fetchSigned(`${local.stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events: [{ subscriberId, dimension: 'requests', quantity, timestamp: at.toISOString() }] }),
  });
  const { results } = (await response.json()) as { results: { status: string }[] };
  expect(results).toEqual([expect.objectContaining({ status: 'accepted' })]);
}

const billedQuantity = async (licenseId: string) => (await local.control.billed({ licenseId })).totalQuantity;

describe('moving the clock forward', { timeout: JUMP_TEST_TIMEOUT_MS }, () => {
  test('a jump of several hours bills every closed hour on the way, as the hourly run would have', async () => {
    const start = await pastTheNextHour(20);
    const { licenseId, subscriberId } = await liveSubscriber();
    await expectAccepted(subscriberId, 4, start);
    await local.control.advanceClock({ hours: 1 });
    await expectAccepted(subscriberId, 6, await simulatorNow());

    await local.control.advanceClock({ hours: 30 });
    expect(await billedQuantity(licenseId)).toBe(10);
    const hours = (await local.control.billed({ licenseId })).records.filter((record) => record.quantity > 0);
    expect(hours.map((record) => record.quantity)).toEqual([4, 6]);
  });

  test("a jump past a cancelled subscriber's deadline bills its final hour, late usage included", async () => {
    const start = await pastTheNextHour(10);
    const { licenseId, subscriberId } = await liveSubscriber();
    await expectAccepted(subscriberId, 100, start);
    await local.control.advanceClock({ minutes: 10 });
    await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
    await settleLifecycle(local.stack);
    // Stamped before the cancellation, sent after it: the final hour still takes it.
    await expectAccepted(subscriberId, 20, new Date(start.getTime() + 5 * 60_000));

    await local.control.advanceClock({ hours: 2 });
    expect(await billedQuantity(licenseId)).toBe(120);
    expect(await local.stack.meterFinal()).toEqual(expect.objectContaining({ expired: 0 }));
    // The sweep ran at the deadline on the way (its own schedule is held back): the seller is told of the end.
    await local.stack.subscriberStream.settled();
    const ended = sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ended');
    expect(ended).toHaveLength(1);
    expect(Date.parse(ended[0]!.time)).toBeLessThan(start.getTime() + 2 * HOUR_MS);
  });

  test('throttled from just before its send time, the final hour is billed by one jump as by a run every minute', async () => {
    const start = await pastTheNextHour(20);
    const { licenseId, subscriberId } = await liveSubscriber();
    await local.control.advanceClock({ minutes: 20 });
    await expectAccepted(subscriberId, 10, await simulatorNow());
    await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
    await settleLifecycle(local.stack);
    // A minute before the final hour's send time (E + 45 min), Marketplace throttles the next 40 calls: AWS's
    // every-minute final metering gets through within the window, and so must the jump's stops.
    await local.control.setClock(new Date(start.getTime() + (20 + 44) * 60_000), false);
    await local.control.setFaults({
      seed: 3,
      rules: [{ kind: 'throttle', operations: ['BatchMeterUsage'], probability: 1, times: 40 }],
    });
    try {
      await local.control.advanceClock({ hours: 1 });
    } finally {
      await local.control.clearFaults();
    }
    expect(await billedQuantity(licenseId)).toBe(10);
    expect((await local.control.stats()).operations.BatchMeterUsage.throttled).toBeGreaterThanOrEqual(40);
  });

  test('a clock set forward with PUT /control/clock catches up too; one moved back runs nothing', async () => {
    const start = await pastTheNextHour(30);
    const { licenseId, subscriberId } = await liveSubscriber();
    await expectAccepted(subscriberId, 9, start);
    await local.control.setClock(new Date(start.getTime() - HOUR_MS), false);
    expect(await billedQuantity(licenseId)).toBe(0);
    await local.control.setClock(new Date(start.getTime() + 3 * HOUR_MS), false);
    expect(await billedQuantity(licenseId)).toBe(9);
  });
});
