/**
 * The subscription lifecycle as a buyer sees it in a real headless Chromium, against the whole local stack started as
 * `npm start` starts it: subscribe on the simulator's buyer page, set up the account and register, see the
 * subscription active; cancel it on the buyer page, and see it ending on the registration page. The seller sees the
 * same through the access check and the signed call its webhook receives. Everything after a click is asynchronous
 * (the simulator's notifications, the lifecycle queue, the stream, the webhook queue), so each check polls until a
 * deadline rather than sleeping.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { loadLocalConfig } from '../../local/config.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import type { WebhookCall } from '../../local/webhook-receiver.ts';
import { recordBrowsing } from '../support/browsing-record.ts';
import { useBrowserAndStack } from '../support/browser-and-stack.ts';
import { checkAccess } from '../support/lifecycle.ts';

const { products, lifecycle } = loadLocalConfig();
const PRODUCT = products.find((product) => product.identityModel === 'license')?.name;
if (PRODUCT === undefined) {
  throw new Error(
    "The lifecycle journey needs a product of the license identity model in cdk.json's marketplace context",
  );
}
/** How long the stack may take to carry a click through to the tables and the webhook (usually well under a second). */
const SETTLED = { timeout: 20_000, interval: 100 };

const ACTIVE = 'Your subscription is active.';
const ENDING = 'Your subscription has ended.';

const running = useBrowserAndStack();

/** The registration page reloaded until it shows `status`, as a buyer waiting for the change would reload it. */
async function reloadUntilStatus(page: Page, status: string): Promise<void> {
  await expect
    .poll(async () => {
      await page.reload();
      return page.locator('p.status').innerText();
    }, SETTLED)
    .toBe(status);
}

/** The calls the local webhook receiver has had about one subscriber, of one type, oldest first. */
async function webhookCallsAbout(subscriberId: string, detailType: string): Promise<WebhookCall[]> {
  const { webhookEventsUrl } = running().stack;
  if (webhookEventsUrl === undefined) throw new Error('npm start printed no webhook receiver (is a webhook URL set?)');
  const response = await fetch(webhookEventsUrl);
  if (!response.ok) throw new Error(`${webhookEventsUrl} answered ${response.status}`);
  const { calls } = (await response.json()) as { calls: WebhookCall[] };
  return calls.filter((call) => {
    const event = call.body as { 'detail-type'?: string; detail?: { subscriberId?: string } };
    return event['detail-type'] === detailType && event.detail?.subscriberId === subscriberId;
  });
}

describe('a subscription, as the buyer and the seller see it', () => {
  test('is active once the buyer registers; cancelled on the buyer page, it is ending on the registration page, through the access check and in a signed webhook call', async () => {
    const { stack, browser } = running();
    const page = await (await browser.newContext()).newPage();
    const record = await recordBrowsing(page);

    // Subscribe on the buyer page, and note the license Marketplace names on its "Thank you" page.
    await page.goto(stack.buyerPageUrl);
    await page.getByRole('button', { name: `Subscribe to ${PRODUCT}` }).click();
    await page.getByRole('heading', { name: 'Thank you for subscribing' }).waitFor();
    const licenseId = /\(license (l-[0-9a-f]+)\)/.exec(await page.locator('main').innerText())?.[1];
    if (licenseId === undefined) throw new Error(`no license on the "Thank you" page: ${await page.content()}`);
    // The seller knows the subscriber by the license's ARN, which the buyer never sees.
    const marketplace = new SimulatorControl(stack.simulatorUrl);
    const { licenseArn } = await marketplace.license(licenseId);
    const subscriberId = `license:${licenseArn}`;

    // Set up the account and register.
    await page.getByRole('button', { name: 'Set up your account' }).click();
    await page.waitForURL((url) => `${url.origin}${url.pathname}` === stack.registerUrl);
    await page.getByLabel('Company').fill('Acme Ltd');
    await page.getByLabel('Contact name').fill('Ada Lovelace');
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByRole('button', { name: 'Complete registration' }).click();
    await page.getByRole('heading', { name: 'You are set up' }).waitFor();

    await reloadUntilStatus(page, ACTIVE);
    expect(await checkAccess(stack, subscriberId)).toEqual({
      status: 200,
      body: expect.objectContaining({ subscriberId, status: 'active', allowed: true }) as unknown,
    });

    // Back on the buyer page, cancel that subscription.
    await page.goto(stack.buyerPageUrl);
    await page
      .getByRole('button', { name: `Cancel subscription for ${PRODUCT}, license ${licenseId}`, exact: true })
      .click();
    expect(await page.getByRole('status').innerText()).toBe(
      `Your subscription to ${PRODUCT} (license ${licenseId}) is cancelled.`,
    );

    // The registration page says it has ended (no longer "You are set up"), and when.
    await page.goto(stack.registerUrl);
    await reloadUntilStatus(page, ENDING);
    await expect(page.getByRole('heading', { level: 1 }).innerText()).resolves.toBe('Your subscription has ended');

    // Access ends with the cancellation, which Marketplace's events carry in whole seconds: no use after it can be
    // billed. Usage up to it is still taken until the final-metering deadline, the grace period after it.
    const { endedAt } = await marketplace.license(licenseId);
    if (endedAt === undefined) throw new Error(`the simulator has no end for ${licenseId} after its cancellation`);
    const endRequestedAt = Math.floor(Date.parse(endedAt) / 1000) * 1000;
    const deadline = new Date(endRequestedAt + lifecycle.finalMeteringGraceMinutes * 60_000).toISOString();
    expect(await page.locator('main time').getAttribute('datetime')).toBe(new Date(endRequestedAt).toISOString());
    expect(await checkAccess(stack, subscriberId)).toEqual({
      status: 200,
      body: expect.objectContaining({
        subscriberId,
        status: 'ending',
        allowed: false,
        finalMeteringDeadline: deadline,
      }) as unknown,
    });

    // The seller's webhook was told, in a call it could verify.
    await expect.poll(() => webhookCallsAbout(subscriberId, 'Subscriber Ending'), SETTLED).not.toEqual([]);
    const calls = await webhookCallsAbout(subscriberId, 'Subscriber Ending');
    expect(calls).toEqual([
      expect.objectContaining({
        signature: 'valid',
        status: 204,
        body: expect.objectContaining({
          detail: expect.objectContaining({ subscriberId, finalMeteringDeadline: deadline }) as unknown,
        }) as unknown,
      }),
    ]);

    expect(record.problems).toEqual([]);
    expect(record.offMachine).toEqual([]);
  });
});
