/**
 * A seller's own app as the webhook, locally (`notifications.webhookUrl`): the calls it gets are signed with the
 * secret the stack was given (`WEBHOOK_SECRET` for `npm start`), so the app checks them as it will in AWS.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { verifyWebhookSignature, SIGNATURE_HEADER } from '../../../lambdas/core/webhook-signature.ts';
import { loadLocalConfig } from '../../../local/config.ts';
import { listen } from '../../../local/http/listen.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const SECRET = 'the-secret-the-app-was-given-0123456789';
const verdicts: { type: string; valid: boolean }[] = [];
const app = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const header = request.headers[SIGNATURE_HEADER];
    verdicts.push({
      type: (JSON.parse(body) as { 'detail-type': string })['detail-type'],
      valid: verifyWebhookSignature(SECRET, typeof header === 'string' ? header : undefined, body, new Date()),
    });
    response.writeHead(204).end();
  });
});
await listen(app, 0, '127.0.0.1');
afterAll(() => new Promise<void>((resolve) => app.close(() => resolve())));

const config = loadLocalConfig();
const local = useLocalStack({
  config: {
    ...config,
    notifications: { ...config.notifications, webhookUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}/` },
  },
  webhookSecret: SECRET,
  marketplaceNotifications: true,
});

test("the app's own webhook gets each call signed with the secret it was given", async () => {
  await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  await settleLifecycle(local.stack);
  expect(verdicts).toEqual(expect.arrayContaining([{ type: 'Subscriber Activated', valid: true }]));
  expect(verdicts.every((verdict) => verdict.valid)).toBe(true);
  expect(local.stack.webhookReceiver.calls()).toEqual([]);
});
