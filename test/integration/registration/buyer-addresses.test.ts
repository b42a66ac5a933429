/**
 * Where the buyer's browser is sent, followed as a browser follows it, through the local stack: the fulfillment URL
 * and the registration page with and without a trailing slash (API Gateway routes both alike), the registration page
 * of a cancelled subscription, and the stand-in seller app that the example app URLs of `cdk.json` lead to locally.
 */
import { describe, expect, test } from 'vitest';
import {
  formTokenOf,
  getRegistration,
  postFulfillment,
  postRegistration,
  sessionCookieOf,
} from '../../support/buyer.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const local = useLocalStack();
const PRODUCT = 'analytics-pro-example';
const complete = { company: 'Acme Ltd', contactName: 'Ada Lovelace', email: 'ada@example.com' };

async function licenseToken(offerType: 'standard' | 'free-trial' = 'standard') {
  const { license, registrationToken } = await local.control.createLicense({ productCode: PRODUCT, offerType });
  return { subscriberId: `license:${license.licenseArn}`, registrationToken };
}

/** Where a browser at `from` goes for `location`. */
const resolved = (location: string | null, from: string) => new URL(location ?? '', from).href;

describe('a fulfillment URL with or without a trailing slash', () => {
  test.each(['', '/'])('("%s") sends the buyer to the registration page, whose form works', async (slash) => {
    const fulfillmentUrl = `${local.stack.fulfillmentUrl}${slash}`;
    const { subscriberId, registrationToken } = await licenseToken();
    const arrival = await postFulfillment(fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    expect(arrival.status).toBe(303);
    const registerUrl = resolved(arrival.headers.get('location'), fulfillmentUrl);
    expect(registerUrl).toBe(`${local.stack.apiUrl}/register?product=analytics-pro-example`);

    const cookie = sessionCookieOf(arrival);
    const page = await getRegistration(registerUrl, cookie);
    expect(page.status).toBe(200);
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1] ?? null;
    const registered = await postRegistration(resolved(action, registerUrl), cookie, {
      formToken: formTokenOf(page.body),
      ...complete,
    });
    expect(registered.status).toBe(303);
    expect(
      (await local.subscriberItems()).find((item) => item.sk === 'SUBSCRIBER' && item.subscriberId === subscriberId)
        ?.registration,
    ).toEqual(expect.objectContaining({ details: expect.objectContaining(complete) as unknown }));
  });

  test('the registration page at /register/ posts its form, and sends the buyer on, to the page itself', async () => {
    const { registrationToken } = await licenseToken();
    const cookie = sessionCookieOf(
      await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken }),
    );
    const slashUrl = `${local.stack.apiUrl}/register/`;
    const page = await getRegistration(slashUrl, cookie);
    expect(page.status).toBe(200);
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1] ?? null;
    const productPage = `${local.stack.apiUrl}/register?product=analytics-pro-example`;
    expect(resolved(action, slashUrl)).toBe(productPage);
    const answer = await postRegistration(slashUrl, cookie, { formToken: formTokenOf(page.body), ...complete });
    expect(resolved(answer.headers.get('location'), slashUrl)).toBe(productPage);
  });
});

describe('the registration page of a cancelled subscription', () => {
  async function registeredBuyerWith(
    attributes: Record<string, unknown>,
    offerType: 'standard' | 'free-trial' = 'standard',
  ) {
    const { subscriberId, registrationToken } = await licenseToken(offerType);
    const cookie = sessionCookieOf(
      await postFulfillment(local.stack.fulfillmentUrl, {
        'x-amzn-marketplace-token': registrationToken,
        'x-amzn-marketplace-offer-type': offerType,
      }),
    );
    const registerUrl = `${local.stack.apiUrl}/register`;
    const form = await getRegistration(registerUrl, cookie);
    await postRegistration(registerUrl, cookie, { formToken: formTokenOf(form.body), ...complete });
    await local.writeSubscriber(subscriberId, attributes);
    return (await getRegistration(registerUrl, cookie)).body;
  }

  const simulatorNow = async () => new Date((await local.control.clock()).now);

  test('while ending: says when it ended (the cancellation), in UTC, and that it can no longer be used; not "You are set up"', async () => {
    const cancelled = new Date((await simulatorNow()).getTime() - 5 * 60_000);
    cancelled.setUTCSeconds(0, 0);
    const page = await registeredBuyerWith({
      subscriptionStatus: 'ending',
      statusChangedAt: cancelled.toISOString(),
      finalMeteringDeadline: new Date(cancelled.getTime() + 3_600_000).toISOString(),
      lifecycle: {
        activatedAt: new Date(cancelled.getTime() - 3_600_000).toISOString(),
        endRequestedAt: cancelled.toISOString(),
      },
    });
    const readable = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'UTC',
      dateStyle: 'long',
      timeStyle: 'short',
    }).format(cancelled);
    expect(page).not.toContain('You are set up');
    // Cancelled, expired or terminated: over for the buyer, in words that fit each.
    expect(page).toContain('<h1>Your subscription has ended</h1>');
    expect(page).toContain('<p class="status">Your subscription has ended.</p>');
    expect(page).toContain(`It ended on <strong><time datetime="${cancelled.toISOString()}">${readable} UTC</time>`);
    expect(page).toContain('You can no longer use');
    expect(page).toContain('Your use up to the end is charged on your AWS bill');
    expect(page).not.toContain('sign-in');
    expect(page).not.toContain('<form');
  });

  test('once its deadline has passed or it ended: says when it ended (the cancellation, not the deadline), and how to subscribe again', async () => {
    const now = (await simulatorNow()).getTime();
    const cancelled = new Date(now - 3_660_000).toISOString();
    const deadline = new Date(now - 60_000).toISOString();
    const lifecycle = { activatedAt: new Date(now - 7_200_000).toISOString(), endRequestedAt: cancelled };
    for (const page of [
      await registeredBuyerWith({ subscriptionStatus: 'ending', finalMeteringDeadline: deadline, lifecycle }),
      await registeredBuyerWith({ subscriptionStatus: 'ended', statusChangedAt: deadline, lifecycle }),
    ]) {
      expect(page).not.toContain('You are set up');
      expect(page).toContain('<h1>Your subscription has ended</h1>');
      expect(page).toContain('<p class="status">Your subscription has ended.</p>');
      expect(page).toContain(`It ended on <strong><time datetime="${cancelled}">`);
      expect(page).toContain('subscribe again');
    }
  });

  test('of a free trial: says use during the trial is not charged, and use after it only if the trial became paid', async () => {
    const now = (await simulatorNow()).getTime();
    const ended = new Date(now - 60_000).toISOString();
    const page = await registeredBuyerWith(
      {
        subscriptionStatus: 'ending',
        statusChangedAt: ended,
        finalMeteringDeadline: new Date(now + 3_540_000).toISOString(),
        lifecycle: { activatedAt: new Date(now - 86_400_000).toISOString(), endRequestedAt: ended },
      },
      'free-trial',
    );
    expect(page).toContain('<h1>Your subscription has ended</h1>');
    expect(page).toContain(`It ended on <strong><time datetime="${ended}">`);
    // Whether the trial became a paid subscription is Marketplace's to say: the page charges nothing it does not know of.
    expect(page).toMatch(
      /Use during the free trial is not charged\. If the trial became a paid subscription before the end, use after\s+the trial, up to the end, is charged/,
    );
  });

  test('cancelled before Marketplace confirmed it: says nothing is charged', async () => {
    const now = (await simulatorNow()).getTime();
    const cancelled = new Date(now - 60_000).toISOString();
    const page = await registeredBuyerWith({
      subscriptionStatus: 'ending',
      statusChangedAt: cancelled,
      finalMeteringDeadline: new Date(now + 3_540_000).toISOString(),
      lifecycle: { endRequestedAt: cancelled },
    });
    expect(page).toContain('<h1>Your subscription has ended</h1>');
    expect(page).toContain(
      'Nothing has been charged: AWS Marketplace had not confirmed the subscription when it was cancelled.',
    );
    expect(page).not.toContain('is charged on your AWS bill');
  });
});

describe('the example app URLs of cdk.json, locally', () => {
  test('a registered free-trial buyer lands on the stand-in app, which shows the request and who registered', async () => {
    const { subscriberId, registrationToken } = await licenseToken('free-trial');
    const arrival = await postFulfillment(local.stack.fulfillmentUrl, {
      'x-amzn-marketplace-token': registrationToken,
      'x-amzn-marketplace-offer-type': 'free-trial',
    });
    const cookie = sessionCookieOf(arrival);
    const registerUrl = `${local.stack.apiUrl}/register`;
    const form = await getRegistration(registerUrl, cookie);
    const registered = await postRegistration(registerUrl, cookie, { formToken: formTokenOf(form.body), ...complete });
    const landing = registered.headers.get('location') ?? '';
    expect(landing).toBe(`${local.stack.webhookReceiver.appUrl}/trial`);

    await settleLifecycle(local.stack);
    const page = await fetch(`${landing}?plan=starter`);
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain('<title>Your app (local stand-in)</title>');
    expect(text).toContain('<th scope="row">Path</th><td>/trial</td>');
    expect(text).toContain('<th scope="row">Query plan</th><td>starter</td>');
    expect(text).toContain(`<th scope="row">Subscriber id</th><td>${subscriberId}</td>`);
    expect(text).toContain(`<th scope="row">Product</th><td>${PRODUCT}</td>`);
    expect(text).toContain('<th scope="row">Offer</th><td>free-trial</td>');
    expect(text).toContain('<th scope="row">Company</th><td>Acme Ltd</td>');
  });
});
