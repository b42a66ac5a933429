/**
 * The scheduled sweep: EventBridge never says that a final-metering window closed, so the deployed sweep function runs
 * on a schedule and ends what is past its deadline. Here the schedule runs every 100 ms on the simulator's clock, which
 * the whole local stack shares.
 */
import { expect, test, vi } from 'vitest';
import { loadLocalConfig } from '../../../local/config.ts';
import { cancelOnBuyerPage, subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { checkAccess, sellerEventsAbout, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const config = loadLocalConfig();
const local = useLocalStack({
  config: { ...config, lifecycle: { ...config.lifecycle, finalMeteringGraceMinutes: 1 } },
  marketplaceNotifications: true,
  finalMeteringSweepEveryMs: 100,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: 3 },
});

test(
  'ends a cancelled subscription once its deadline has passed, and the seller is told',
  { timeout: 60_000 },
  async () => {
    const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
    const subscriberId = `license:${(await local.control.license(licenseId)).licenseArn}`;
    await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
    await settleLifecycle(local.stack);
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(expect.objectContaining({ status: 'ending' }));

    // The one-minute window passes in an instant, and the next scheduled run ends the subscription.
    await local.control.advanceClock({ minutes: 1, seconds: 1 });

    await vi.waitFor(
      async () => {
        await local.stack.subscriberStream.settled();
        expect(sellerEventsAbout(local.stack, subscriberId, 'Subscriber Ended')).toHaveLength(1);
      },
      // The sweep runs every 100 ms: the wait ends soon after it does, and the limit leaves a loaded machine its time.
      { timeout: 30_000, interval: 100 },
    );
    const stored = (await local.subscriberItems()).find(
      (item) => item.sk === 'SUBSCRIBER' && item.subscriberId === subscriberId,
    );
    expect(stored?.subscriptionStatus).toBe('ended');
    expect((await checkAccess(local.stack, subscriberId)).body).toEqual(
      expect.objectContaining({ status: 'ended', allowed: false }),
    );
  },
);
