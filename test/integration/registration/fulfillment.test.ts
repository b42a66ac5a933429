/**
 * The fulfillment URL through the local gateway, against DynamoDB Local and the simulator: the happy paths of both
 * identity models, every failure page, the ordering cases, and twenty parallel POSTs of one token.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, test } from 'vitest';
import { FORM, getRegistration, postFulfillment, sessionCookieOf } from '../../support/buyer.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const local = useLocalStack();
const LICENSE_PRODUCT = 'analytics-pro-example';
const LEGACY_PRODUCT = 'data-suite-legacy-example';

async function subscribe(productCode = LICENSE_PRODUCT, offerType: 'standard' | 'free-trial' = 'standard') {
  return await local.control.createLicense({ productCode, offerType });
}

/** The subscriber items (the table also holds sessions, which name their subscriber too). */
const subscribers = async () => (await local.subscriberItems()).filter((item) => item.sk === 'SUBSCRIBER');

const fulfill = (fields: Record<string, string> | string, contentType?: string) =>
  postFulfillment(local.stack.fulfillmentUrl, fields, contentType);

describe('a buyer arriving with a valid token', () => {
  test('is stored by license and sent to the registration page with a session cookie, not the token', async () => {
    const { license, registrationToken } = await subscribe();
    const answer = await fulfill({ 'x-amzn-marketplace-token': registrationToken });

    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('register?product=analytics-pro-example');
    const cookie = answer.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^mp_registration_analytics-pro-example=[A-Za-z0-9_-]{43}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    expect(cookie).not.toContain(registrationToken);

    const items = await local.subscriberItems();
    const subscriber = (await subscribers()).find((item) => item.subscriberId === `license:${license.licenseArn}`);
    expect(subscriber).toEqual(
      expect.objectContaining({
        pk: `SUBSCRIBER#license:${license.licenseArn}`,
        identityModel: 'license',
        productCode: LICENSE_PRODUCT,
        licenseArn: license.licenseArn,
        customerAWSAccountId: license.customerAWSAccountId,
        offerType: 'standard',
      }),
    );
    expect(subscriber?.resolvedFirstAt).toEqual(subscriber?.resolvedLastAt);
    expect(JSON.stringify(items)).not.toContain(registrationToken);
    // The table holds the session under a digest of the cookie, never the cookie value itself.
    expect(JSON.stringify(items)).not.toContain(sessionCookieOf(answer).split('=')[1]);
  });

  test('of a legacy product is stored by product code and CustomerIdentifier', async () => {
    const { license, registrationToken } = await subscribe(LEGACY_PRODUCT);
    expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
    const subscriber = (await subscribers()).find(
      (item) => item.subscriberId === `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`,
    );
    expect(subscriber).toEqual(
      expect.objectContaining({
        identityModel: 'legacy',
        customerIdentifier: license.customerIdentifier,
        customerAWSAccountId: license.customerAWSAccountId,
      }),
    );
    expect(subscriber?.licenseArn).toBeUndefined();
  });

  test('of a legacy product is still keyed by CustomerIdentifier when Marketplace also gives a LicenseArn', async () => {
    await local.control.updateSettings({ legacyResolveIncludesLicenseArn: true });
    try {
      const { license, registrationToken } = await subscribe(LEGACY_PRODUCT);
      expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
      const subscriber = (await subscribers()).find((item) => item.customerIdentifier === license.customerIdentifier);
      expect(subscriber?.subscriberId).toBe(`legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`);
      expect(subscriber?.identityModel).toBe('legacy');
      expect(subscriber?.licenseArn).toMatch(/^arn:aws:license-manager::\d{12}:license:l-/);
    } finally {
      await local.control.updateSettings({ legacyResolveIncludesLicenseArn: false });
    }
  });

  test('of a free trial is recorded as one, and a later visit without the trial field does not undo it', async () => {
    const { license, registrationToken } = await subscribe(LICENSE_PRODUCT, 'free-trial');
    await fulfill({ 'x-amzn-marketplace-token': registrationToken, 'x-amzn-marketplace-offer-type': 'free-trial' });
    // Back from the Marketplace console later: a new token (the same one sent again would be the first arrival).
    const later = await local.control.issueRegistrationToken(license.id);
    await fulfill({ 'x-amzn-marketplace-token': later.registrationToken });
    const subscriber = (await subscribers()).find((item) => item.licenseArn === license.licenseArn);
    expect(subscriber?.offerType).toBe('free-trial');
    expect(Date.parse(subscriber?.resolvedLastAt as string)).toBeGreaterThan(
      Date.parse(subscriber?.resolvedFirstAt as string),
    );
  });

  test('of a paid subscription is not made a trial by a later visit that claims one (anyone can add the field)', async () => {
    const { license, registrationToken } = await subscribe();
    await fulfill({ 'x-amzn-marketplace-token': registrationToken });
    const later = await local.control.issueRegistrationToken(license.id);
    await fulfill({
      'x-amzn-marketplace-token': later.registrationToken,
      'x-amzn-marketplace-offer-type': 'free-trial',
    });
    const subscriber = (await subscribers()).find((item) => item.licenseArn === license.licenseArn);
    expect(subscriber?.offerType).toBe('standard');
    expect(Date.parse(subscriber?.resolvedLastAt as string)).toBeGreaterThan(
      Date.parse(subscriber?.resolvedFirstAt as string),
    );
  });

  test("a license's trial stays a trial on a visit without the field after it ended: a license is never subscribed to again", async () => {
    const { license, registrationToken } = await subscribe(LICENSE_PRODUCT, 'free-trial');
    await fulfill({ 'x-amzn-marketplace-token': registrationToken, 'x-amzn-marketplace-offer-type': 'free-trial' });
    const subscriberId = `license:${license.licenseArn}`;
    // Ended, as the lifecycle writes it (this stack hears no notifications).
    const ended = new Date(Date.parse((await local.control.clock()).now) - 60_000).toISOString();
    await local.writeSubscriber(subscriberId, {
      lifecycle: { activatedAt: ended, startedAt: ended, endRequestedAt: ended, firstEndAt: ended },
      subscriptionStatus: 'ending',
    });
    await fulfill({ 'x-amzn-marketplace-token': registrationToken });
    const subscriber = (await subscribers()).find((item) => item.licenseArn === license.licenseArn);
    expect(subscriber?.offerType).toBe('free-trial');
  });

  test("a legacy trial's buyer back after its end is on the paid offer, even claiming a trial again", async () => {
    const { license, registrationToken } = await subscribe(LEGACY_PRODUCT, 'free-trial');
    await fulfill({ 'x-amzn-marketplace-token': registrationToken, 'x-amzn-marketplace-offer-type': 'free-trial' });
    const subscriberId = `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`;
    const ended = new Date(Date.parse((await local.control.clock()).now) - 60_000).toISOString();
    await local.writeSubscriber(subscriberId, {
      lifecycle: { activatedAt: ended, startedAt: ended, endRequestedAt: ended, firstEndAt: ended },
      subscriptionStatus: 'ending',
    });
    // Subscribing again under the same id: an account gets one trial per product, whatever the form says.
    const again = await local.control.issueRegistrationToken(license.id);
    await fulfill({
      'x-amzn-marketplace-token': again.registrationToken,
      'x-amzn-marketplace-offer-type': 'free-trial',
    });
    const subscriber = (await subscribers()).find((item) => item.subscriberId === subscriberId);
    expect(subscriber?.offerType).toBe('standard');
  });

  test('twenty parallel POSTs of one token end with one subscriber and twenty separate sessions', async () => {
    const { license, registrationToken } = await subscribe();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fulfill({ 'x-amzn-marketplace-token': registrationToken })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(303));
    const stored = (await subscribers()).filter((item) => item.licenseArn === license.licenseArn);
    expect(stored).toHaveLength(1);
    const subscriberId = `license:${license.licenseArn}`;
    const sessions = (await local.subscriberItems()).filter(
      (item) => item.sk === 'SESSION' && item.subscriberId === subscriberId,
    );
    expect(sessions).toHaveLength(20);
    expect(new Set(answers.map((answer) => sessionCookieOf(answer))).size).toBe(20);
  });

  describe('a token sent again where Marketplace resolves each token once (its "buyer resubmitted the token")', () => {
    const resolutions = async () => (await local.control.stats()).operations.ResolveCustomer.requests;
    const singleUse = async (test: () => Promise<void>) => {
      await local.control.updateSettings({ singleUseRegistrationTokens: true });
      try {
        await test();
      } finally {
        await local.control.clearFaults();
        await local.control.updateSettings({ singleUseRegistrationTokens: false });
      }
    };

    test('a reload of the fulfillment URL arrives as the first POST did, without asking Marketplace again', () =>
      singleUse(async () => {
        const { license, registrationToken } = await subscribe();
        const before = await resolutions();
        const first = await fulfill({ 'x-amzn-marketplace-token': registrationToken });
        const again = await fulfill({ 'x-amzn-marketplace-token': registrationToken });
        expect([first.status, again.status]).toEqual([303, 303]);
        expect(sessionCookieOf(again)).not.toBe(sessionCookieOf(first));
        expect((await resolutions()) - before).toBe(1);
        const stored = (await subscribers()).filter((item) => item.licenseArn === license.licenseArn);
        expect(stored).toHaveLength(1);
        // The resolution is kept under a digest of the token, never the token itself.
        expect(JSON.stringify(await local.subscriberItems())).not.toContain(registrationToken);
      }));

    test('a double-click: the second POST, refused by Marketplace while the first resolves, arrives as the first', () =>
      singleUse(async () => {
        const { license, registrationToken } = await subscribe(LEGACY_PRODUCT);
        // Both requests wait for Marketplace together, so the second is resolved just after the first used the token.
        await local.control.setFaults({
          rules: [{ kind: 'latency', latencyMs: 500, operations: ['ResolveCustomer'] }],
        });
        const before = (await local.control.stats()).operations.ResolveCustomer;
        const answers = await Promise.all([
          fulfill({ 'x-amzn-marketplace-token': registrationToken }),
          fulfill({ 'x-amzn-marketplace-token': registrationToken }),
        ]);
        expect(answers.map((answer) => answer.status)).toEqual([303, 303]);
        expect((await local.control.stats()).operations.ResolveCustomer.requests - before.requests).toBe(2);
        const subscriberId = `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`;
        const sessions = (await local.subscriberItems()).filter(
          (item) => item.sk === 'SESSION' && item.subscriberId === subscriberId,
        );
        expect(sessions).toHaveLength(2);
      }));

    test('answered from memory for 15 minutes (kept 4 hours, the TTL has DynamoDB delete it): later, Marketplace answers', () =>
      singleUse(async () => {
        const { license, registrationToken } = await subscribe();
        expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
        const remembered = (await local.subscriberItems()).find(
          (item) => item.sk === 'RESOLVED_TOKEN' && item.licenseArn === license.licenseArn,
        );
        expect(remembered?.expiresAt).toBe(Math.ceil(Date.parse(remembered?.resolvedAt as string) / 1000) + 4 * 3600);
        await local.control.advanceClock({ minutes: 16 });
        try {
          const later = await fulfill({ 'x-amzn-marketplace-token': registrationToken });
          expect(later.status).toBe(400);
          expect(later.body).toContain('has expired');
        } finally {
          await local.control.advanceClock({ minutes: -16 });
        }
      }));

    // Within 15 minutes from memory; later resolved by Marketplace again (a token lives 4 hours there), and still the
    // first arrival, as the memory keeps its time.
    test.each([2, 16])(
      'sent again %i minutes after the subscription failed, it is the first arrival, not a legacy buyer back to subscribe again',
      async (minutes) => {
        const { license, registrationToken } = await subscribe(LEGACY_PRODUCT);
        const subscriberId = `legacy:${LEGACY_PRODUCT}:${license.customerIdentifier}`;
        expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
        await local.control.advanceClock({ minutes: 1 });
        try {
          const failedAt = (await local.control.clock()).now;
          await local.writeSubscriber(subscriberId, { subscriptionStatus: 'failed', statusChangedAt: failedAt });
          await local.control.advanceClock({ minutes: minutes - 1 });
          const again = await fulfill({ 'x-amzn-marketplace-token': registrationToken });
          expect(again.status).toBe(303);
          const page = await getRegistration(`${local.stack.apiUrl}/register`, sessionCookieOf(again));
          expect(page.body).toContain('This subscription cannot be set up');
        } finally {
          await local.control.advanceClock({ minutes: -minutes });
        }
      },
    );
  });

  test('never overwrites lifecycle state or a registration that is already there', async () => {
    const { license, registrationToken } = await subscribe();
    const subscriberId = `license:${license.licenseArn}`;
    // What the lifecycle and an earlier registration left: the buyer arrives after both.
    const earlier = {
      pk: `SUBSCRIBER#${subscriberId}`,
      sk: 'SUBSCRIBER',
      subscriberId,
      subscriptionStatus: 'active',
      statusChangedAt: '2026-11-26T01:00:00.000Z',
      entitlements: [{ dimension: 'requests', value: 5 }],
      registration: { details: { company: 'Earlier Ltd' }, registeredAt: '2026-11-26T01:05:00.000Z' },
    };
    await local.documents.send(new PutCommand({ TableName: local.stack.tables.Subscribers, Item: earlier }));

    expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
    const stored = (await subscribers()).find((item) => item.subscriberId === subscriberId);
    expect(stored).toEqual(expect.objectContaining(earlier));
    expect(stored?.productCode).toBe(LICENSE_PRODUCT);
  });
});

describe('every failure is a page the buyer understands', () => {
  const expectPage = (answer: { status: number; body: string; headers: Headers }, status: number, says: string) => {
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(answer.body).toContain(says);
    expect(answer.body).not.toMatch(/\n\s+at |Error:/);
  };

  test('a missing or empty token', async () => {
    expectPage(await fulfill({}), 400, 'We could not find your subscription');
    expectPage(await fulfill({ 'x-amzn-marketplace-token': '  ' }), 400, 'Manage subscriptions');
  });

  test('an invalid token, with how to start again from the Marketplace console', async () => {
    const answer = await fulfill({ 'x-amzn-marketplace-token': 'not-a-real-token' });
    expectPage(answer, 400, 'This sign-up link is not valid');
    expect(answer.body).toContain('AWS Marketplace console');
  });

  test('a token sent twice, even a valid one beside a copy of itself or an empty one: Marketplace sends one', async () => {
    const { registrationToken } = await subscribe();
    const field = `x-amzn-marketplace-token=${encodeURIComponent(registrationToken)}`;
    const empty = 'x-amzn-marketplace-token=';
    for (const body of [`${field}&${field}`, `${field}&x-amzn-marketplace-token=bogus`, `${empty}&${field}`]) {
      expectPage(await fulfill(body), 400, 'This sign-up link is not valid');
    }
    expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
  });

  test('an expired token', async () => {
    const { registrationToken } = await subscribe();
    await local.control.advanceClock({ hours: 5 });
    try {
      expectPage(await fulfill({ 'x-amzn-marketplace-token': registrationToken }), 400, 'has expired');
    } finally {
      await local.control.advanceClock({ hours: -5 });
    }
  });

  test('Marketplace throttling or failing: retried with backoff, then "try again" with Retry-After', async () => {
    const { registrationToken } = await subscribe();
    await local.control.setFaults({ rules: [{ kind: 'throttle', operations: ['ResolveCustomer'] }] });
    const before = (await local.control.stats()).operations.ResolveCustomer.requests;
    try {
      const answer = await fulfill({ 'x-amzn-marketplace-token': registrationToken });
      expectPage(answer, 503, 'Please try again in a minute');
      expect(answer.headers.get('retry-after')).toBe('60');
      expect((await local.control.stats()).operations.ResolveCustomer.requests - before).toBe(4);
    } finally {
      await local.control.clearFaults();
    }
  });

  test('a Marketplace that fails once is retried and the buyer never notices', async () => {
    const { registrationToken } = await subscribe();
    await local.control.setFaults({ rules: [{ kind: 'internal-error', operations: ['ResolveCustomer'], times: 1 }] });
    try {
      expect((await fulfill({ 'x-amzn-marketplace-token': registrationToken })).status).toBe(303);
    } finally {
      await local.control.clearFaults();
    }
  });

  test('a product this deployment does not sell', async () => {
    await local.control.createProduct({
      code: 'someone-elses-product',
      name: 'Other',
      pricingModel: 'subscriptions',
      dimensions: [{ name: 'x', kind: 'metered' }],
    });
    const { registrationToken } = await subscribe('someone-elses-product');
    expectPage(await fulfill({ 'x-amzn-marketplace-token': registrationToken }), 404, 'not set up here');
    expect(JSON.stringify(await local.subscriberItems())).not.toContain('someone-elses-product');
  });

  test('the wrong content type, an oversized body, bytes that are not UTF-8', async () => {
    expectPage(await fulfill('{"x-amzn-marketplace-token":"t"}', 'application/json'), 415, 'could not read');
    expectPage(await fulfill(`x-amzn-marketplace-token=${'a'.repeat(20_000)}`), 413, 'too large');
    const notUtf8 = await fetch(local.stack.fulfillmentUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: Buffer.concat([Buffer.from('x-amzn-marketplace-token='), Buffer.from([0xff, 0xfe, 0x41])]),
    });
    // API Gateway hands a form body to the function as text, so the bytes arrive as replacement characters.
    expectPage({ status: notUtf8.status, headers: notUtf8.headers, body: await notUtf8.text() }, 400, 'not valid');
  });

  test('a body of any type reaches the function as text, as the deployed API (no binary media types) passes it', async () => {
    // 4.8 MB: base64-encoded, the event would pass Lambda's 6 MB and the gateway would answer 413 instead.
    const binary = await fetch(local.stack.fulfillmentUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: 'a'.repeat(4_800 * 1024),
    });
    expectPage({ status: binary.status, headers: binary.headers, body: await binary.text() }, 415, 'could not read');
  });

  test('a GET (a bookmark or a refresh) explains where to start, with 405 and Allow: POST', async () => {
    const answer = await fetch(local.stack.fulfillmentUrl, { redirect: 'manual' });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('POST');
    expect(await answer.text()).toContain('Start from AWS Marketplace');
  });
});
