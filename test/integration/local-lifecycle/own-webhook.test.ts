/**
 * A seller's own app as the webhook, locally (`notifications.webhookUrl`): the calls it gets are signed with the
 * secret the stack was given (`WEBHOOK_SECRET` for `npm start`), so the app checks them as it will in AWS.
 */
import { afterAll, expect, test } from 'vitest';
import { loadLocalConfig } from '../../../local/config.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { startWebhookApp } from '../../support/webhook-app.ts';

const SECRET = 'the-secret-the-app-was-given-0123456789';
const app = await startWebhookApp(SECRET);
afterAll(() => app.close());

const config = loadLocalConfig();
const local = useLocalStack({
  config: {
    ...config,
    notifications: { ...config.notifications, webhookUrl: app.url },
  },
  webhookSecret: SECRET,
  marketplaceNotifications: true,
});

test("the app's own webhook gets each call signed with the secret it was given", async () => {
  await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  await settleLifecycle(local.stack);
  expect(app.calls).toEqual(expect.arrayContaining([{ type: 'Subscriber Activated', valid: true }]));
  expect(app.calls.every((verdict) => verdict.valid)).toBe(true);
  expect(local.stack.webhookReceiver.calls()).toEqual([]);
});
