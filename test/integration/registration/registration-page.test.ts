/**
 * The registration page through the local gateway: the form, its validation, completion, repeat visits, sessions,
 * anti-forgery, free trials, security headers, and what is stored.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { RegistrationSessions } from '../../../lambdas/core/registration-sessions.ts';
import { STYLESHEET } from '../../../lambdas/registration/pages.ts';
import { FORM_OPENED_AGAIN } from '../../../lambdas/registration/registration-page-handler.ts';
import {
  formTokenOf,
  getRegistration,
  postFulfillment,
  postRegistration,
  sessionCookieOf,
  type Answer,
} from '../../support/buyer.ts';
import { checkAccess } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const local = useLocalStack();
const registerUrl = () => `${local.stack.apiUrl}/register`;
/** cdk.json's example sign-in address (https://app.example.com/sign-in), as the local stand-in app serves it. */
const signInUrl = () => `${local.stack.webhookReceiver.appUrl}/sign-in`;

/** A buyer who subscribed and arrived from Marketplace: answers the session cookie. */
async function arrivedBuyer(offerType: 'standard' | 'free-trial' = 'standard', activate = true) {
  const { license, registrationToken } = await local.control.createLicense({
    productCode: 'analytics-pro-example',
    offerType,
    activate,
  });
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, {
    'x-amzn-marketplace-token': registrationToken,
    ...(offerType === 'free-trial' ? { 'x-amzn-marketplace-offer-type': 'free-trial' } : {}),
  });
  return { license, cookie: sessionCookieOf(arrival), subscriberId: `license:${license.licenseArn}` };
}

const complete = {
  company: 'Acme Ltd',
  contactName: 'Ada Lovelace',
  email: 'ada@gmail.com',
  phone: '+44 20 7946 0958',
};

async function submit(cookie: string, fields: Record<string, string>) {
  const page = await getRegistration(registerUrl(), cookie);
  return postRegistration(registerUrl(), cookie, { formToken: formTokenOf(page.body), ...fields });
}

async function registrationOf(subscriberId: string) {
  const items = await local.subscriberItems();
  return items.find((item) => item.sk === 'SUBSCRIBER' && item.subscriberId === subscriberId)?.registration;
}

function expectSecurityHeaders(answer: Answer) {
  const policy = answer.headers.get('content-security-policy') ?? '';
  const styleHash = createHash('sha256').update(STYLESHEET).digest('base64');
  expect(policy).toContain("default-src 'none'");
  expect(policy).toContain(`style-src 'sha256-${styleHash}'`);
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("form-action 'self'");
  expect(answer.headers.get('strict-transport-security')).toMatch(/^max-age=\d{8,}/);
  expect(answer.headers.get('x-frame-options')).toBe('DENY');
  expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
  expect(answer.headers.get('cache-control')).toBe('no-store');
}

describe('the form', () => {
  test('shows the product, the subscription status, the fields (required ones from config) and the support contact', async () => {
    const { cookie } = await arrivedBuyer();
    const page = await getRegistration(registerUrl(), cookie);
    expect(page.status).toBe(200);
    expectSecurityHeaders(page);
    expect(page.body).toContain('Analytics Pro');
    expect(page.body).toContain('AWS Marketplace is confirming your subscription');
    for (const field of ['company', 'contactName', 'email', 'phone']) {
      expect(page.body).toMatch(new RegExp(`<label for="${field}"`));
    }
    expect(page.body).toMatch(/<input\s+id="phone"[^>]*>/);
    expect(/<input\s+id="phone"[^>]*>/.exec(page.body)?.[0]).not.toContain('required');
    expect(/<input\s+id="email"[^>]*>/.exec(page.body)?.[0]).toContain('required');
    expect(page.body).toContain('mailto:support@example.com');
    // The inline stylesheet is exactly what the policy's hash admits.
    expect(/<style>([\s\S]*?)<\/style>/.exec(page.body)?.[1]).toBe(STYLESHEET);
  });

  test('names the AWS account the subscription belongs to, and lets an existing user sign in', async () => {
    const { license, cookie } = await arrivedBuyer();
    const page = await getRegistration(registerUrl(), cookie);
    expect(page.body).toContain(`AWS account ending in`);
    expect(page.body).toContain(`<strong>${license.customerAWSAccountId.slice(-4)}</strong>`);
    expect(page.body).not.toContain(license.customerAWSAccountId);
    expect(page.body).toContain(`Already have an account? <a href="${signInUrl()}">Sign in</a>`);
  });

  test('refuses bad input field by field, keeps what was typed, escaped, and stores nothing', async () => {
    const { cookie, subscriberId } = await arrivedBuyer();
    const answer = await submit(cookie, {
      company: '<script>alert(1)</script>',
      contactName: '',
      email: 'not-an-email',
      phone: 'call me',
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Enter the name of a contact person');
    expect(answer.body).toContain('Enter an email address like name@example.com');
    expect(answer.body).toContain('Enter a phone number of at least 6 digits, using digits');
    expect(answer.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(answer.body).not.toContain('<script>');
    expect(answer.body).toMatch(/id="email"[^>]*aria-invalid="true"/);
    expect(await registrationOf(subscriberId)).toBeUndefined();
  });

  test('refuses a field sent twice rather than pick one of its values, and stores nothing', async () => {
    const { cookie, subscriberId } = await arrivedBuyer();
    const page = await getRegistration(registerUrl(), cookie);
    const answer = await postRegistration(registerUrl(), cookie, [
      ['formToken', formTokenOf(page.body)],
      ...Object.entries(complete),
      ['company', 'Another Ltd'],
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('Enter this once: the form sent it 2 times');
    expect(await registrationOf(subscriberId)).toBeUndefined();
  });

  test('accepts any email domain, webmail included', async () => {
    const { cookie, subscriberId } = await arrivedBuyer();
    expect((await submit(cookie, { ...complete, email: 'someone@yahoo.co.uk' })).status).toBe(303);
    expect(await registrationOf(subscriberId)).toEqual(
      expect.objectContaining({ details: expect.objectContaining({ email: 'someone@yahoo.co.uk' }) as unknown }),
    );
  });
});

describe('completing registration', () => {
  test('stores the details once, redirects (303), and then says "you are set up" with the sign-in address', async () => {
    const { cookie, subscriberId } = await arrivedBuyer();
    const answer = await submit(cookie, complete);
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('register?product=analytics-pro-example');
    expect(await registrationOf(subscriberId)).toEqual({
      details: complete,
      registeredAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown,
    });

    const after = await getRegistration(registerUrl(), cookie);
    expect(after.body).toContain('You are set up');
    expect(after.body).toContain(`href="${signInUrl()}"`);
    expect(after.body).not.toContain('<form');
  });

  test('until Marketplace confirms, a registered buyer is told when they can sign in; a failed subscription takes no registration', async () => {
    const pending = await arrivedBuyer();
    await submit(pending.cookie, complete);
    const waiting = (await getRegistration(registerUrl(), pending.cookie)).body;
    expect(waiting).toContain('as soon as AWS Marketplace confirms');
    expect(waiting).toContain('<p class="status">AWS Marketplace is confirming your subscription.</p>');
    expect(waiting).not.toContain('You can complete your details now');
    // Half an hour on, still unconfirmed: most likely it will not be (no event says so for a license). Reloading the
    // page inside its session, and back from the console with a new token after it, the buyer is told where to look.
    await local.control.advanceClock({ minutes: 29 });
    expect((await getRegistration(registerUrl(), pending.cookie)).body).toContain(
      'as soon as AWS Marketplace confirms',
    );
    await local.control.advanceClock({ minutes: 2 });
    const reloaded = (await getRegistration(registerUrl(), pending.cookie)).body;
    await local.control.advanceClock({ minutes: 30 });
    const { registrationToken } = await local.control.issueRegistrationToken(pending.license.id);
    const again = sessionCookieOf(
      await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken }),
    );
    for (const overdue of [reloaded, (await getRegistration(registerUrl(), again)).body]) {
      expect(overdue).toContain('<h1>Your subscription is not confirmed yet</h1>');
      expect(overdue).toContain('may not have gone through');
      expect(overdue).toContain('Manage subscriptions');
      expect(overdue).not.toContain('You are set up');
      expect(overdue).not.toContain('as soon as AWS Marketplace confirms');
    }

    const failed = await arrivedBuyer();
    await local.writeSubscriber(failed.subscriberId, { subscriptionStatus: 'failed' });
    const page = await getRegistration(registerUrl(), failed.cookie);
    // A page for a GET, as the ended one is: 409 is for a form sent anyway.
    expect(page.status).toBe(200);
    expect(page.body).toContain('This subscription cannot be set up');
    expect(page.body).toContain('could not complete this subscription (for example, a payment problem)');
    expect(page.body).not.toContain('<form');
    expect(await registrationOf(failed.subscriberId)).toBeUndefined();
  });

  test('a second submission changes nothing: the same details go on as the first (a double click), others are told they were not saved (another tab)', async () => {
    const { cookie, subscriberId } = await arrivedBuyer();
    const page = await getRegistration(registerUrl(), cookie);
    const formToken = formTokenOf(page.body);
    await postRegistration(registerUrl(), cookie, { formToken, ...complete });
    const same = await postRegistration(registerUrl(), cookie, { formToken, ...complete });
    expect(same.status).toBe(303);
    const other = await postRegistration(registerUrl(), cookie, { formToken, ...complete, company: 'Other <Inc>' });
    expect(other.status).toBe(409);
    expect(other.body).toContain('This subscription was already set up');
    expect(other.body).toContain('Company: Acme Ltd');
    expect(other.body).toContain('The details you just sent were not saved');
    expect(other.body).not.toContain('Other <Inc>');
    expect(((await registrationOf(subscriberId)) as { details: { company: string } }).details.company).toBe('Acme Ltd');
  });

  test('a buyer who comes back from Marketplace after registering is told they are set up', async () => {
    const { license, cookie } = await arrivedBuyer();
    await submit(cookie, complete);
    const { registrationToken } = await local.control.issueRegistrationToken(license.id);
    const returning = await postFulfillment(local.stack.fulfillmentUrl, {
      'x-amzn-marketplace-token': registrationToken,
    });
    expect((await getRegistration(registerUrl(), sessionCookieOf(returning))).body).toContain('You are set up');
  });

  test('after a refused submission, a later visit starts the form again and completes it', async () => {
    const { license, cookie } = await arrivedBuyer();
    expect((await submit(cookie, { company: 'Half done' })).status).toBe(400);
    const { registrationToken } = await local.control.issueRegistrationToken(license.id);
    const later = await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    const newCookie = sessionCookieOf(later);
    expect((await getRegistration(registerUrl(), newCookie)).body).toContain('Complete registration');
    expect((await submit(newCookie, complete)).status).toBe(303);
  });

  test('a free-trial buyer is sent to the trial landing page', async () => {
    const { cookie } = await arrivedBuyer('free-trial');
    const answer = await submit(cookie, complete);
    expect(answer.status).toBe(303);
    // cdk.json's example landing page (https://app.example.com/trial) is served locally by the stand-in app.
    const trialUrl = `${local.stack.webhookReceiver.appUrl}/trial`;
    expect(answer.headers.get('location')).toBe(trialUrl);
    expect(answer.headers.get('content-security-policy')).toContain(`form-action 'self' ${new URL(trialUrl).origin}`);
    expect((await getRegistration(registerUrl(), cookie)).body).toContain(`href="${trialUrl}"`);
  });

  test('a free-trial buyer is sent to the trial landing page before Marketplace confirms the trial too', async () => {
    const { cookie, subscriberId } = await arrivedBuyer('free-trial', false);
    const answer = await submit(cookie, complete);
    expect(answer.headers.get('location')).toBe(`${local.stack.webhookReceiver.appUrl}/trial`);
    // The landing page's access check tells the seller's app to wait.
    expect((await checkAccess(local.stack, subscriberId)).body).toMatchObject({ allowed: false, status: 'pending' });
  });
});

describe('sessions and forgery', () => {
  test('no cookie at all: "we could not find your session", with allowing cookies and how to start again', async () => {
    const answer = await getRegistration(registerUrl());
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('We could not find your session');
    expect(answer.body).toContain('allow cookies');
    expect(answer.body).toContain('Manage subscriptions');
  });

  test('a junk, unknown or doubled session cookie: no valid session, said as such, with how to start again', async () => {
    const { cookie } = await arrivedBuyer();
    const name = cookie.slice(0, cookie.indexOf('='));
    const planted = `${name}=${'A'.repeat(43)}`;
    const cases = [
      { sent: `${name}=junk`, says: 'Your session has expired' },
      { sent: planted, says: 'Your session has expired' },
      { sent: `${planted}; ${cookie}`, says: 'We cannot tell which subscription this is' },
      { sent: `${cookie}; ${planted}`, says: 'We cannot tell which subscription this is' },
    ];
    for (const { sent, says } of cases) {
      const answer = await getRegistration(registerUrl(), sent);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain(says);
      expect(answer.body).toContain('Manage subscriptions');
    }
  });

  test('two products set up at once in one browser (two tabs): each page reads its own session, neither is lost', async () => {
    const first = await arrivedBuyer();
    const { license, registrationToken } = await local.control.createLicense({
      productCode: 'data-suite-legacy-example',
    });
    const second = await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
    const both = `${first.cookie}; ${sessionCookieOf(second)}`;
    const pageOf = (location: string) => new URL(location, `${local.stack.apiUrl}/fulfillment`).toString();
    const firstPage = pageOf('register?product=analytics-pro-example');
    expect(pageOf(second.headers.get('location') ?? '')).toBe(
      `${local.stack.apiUrl}/register?product=data-suite-legacy-example`,
    );

    const firstForm = (await getRegistration(firstPage, both)).body;
    const secondForm = (await getRegistration(pageOf(second.headers.get('location') ?? ''), both)).body;
    const sent = await postRegistration(firstPage, both, { formToken: formTokenOf(firstForm), ...complete });
    expect(sent.status).toBe(303);
    expect(await registrationOf(first.subscriberId)).toEqual(expect.objectContaining({ details: complete }));
    expect(secondForm).toContain('<form');
    expect(formTokenOf(secondForm)).not.toBe(formTokenOf(firstForm));
    expect(await registrationOf(`legacy:data-suite-legacy-example:${license.customerIdentifier}`)).toBeUndefined();
    // An address naming no product cannot tell the two apart, and says so.
    const unnamed = await getRegistration(registerUrl(), both);
    expect(unnamed.status).toBe(403);
    expect(unnamed.body).toContain('We cannot tell which subscription this is');
  });

  test('an expired session is refused although its item is still in the table', async () => {
    const { subscriberId } = await arrivedBuyer();
    const sessions = new RegistrationSessions(local.documents, local.stack.tables.Subscribers, 60);
    const { sessionId } = await sessions.create(subscriberId, new Date(Date.now() - 61 * 60_000));
    const answer = await getRegistration(registerUrl(), `mp_registration_analytics-pro-example=${sessionId}`);
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('Your session has expired');
  });

  test('a POST without the session form token is refused and stores nothing', async () => {
    const first = await arrivedBuyer();
    for (const formToken of [undefined, '']) {
      const answer = await postRegistration(registerUrl(), first.cookie, {
        ...complete,
        ...(formToken === undefined ? {} : { formToken }),
      });
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('This form has expired');
    }
    expect(await registrationOf(first.subscriberId)).toBeUndefined();
  });

  test("a POST with several form tokens is refused whichever comes first, the page's own included, and stores nothing", async () => {
    const first = await arrivedBuyer();
    const formToken = formTokenOf((await getRegistration(registerUrl(), first.cookie)).body);
    for (const tokens of [
      [formToken, 'garbage'],
      ['garbage', formToken],
      [formToken, formToken],
    ]) {
      const answer = await postRegistration(registerUrl(), first.cookie, [
        ...tokens.map((token): [string, string] => ['formToken', token]),
        ...Object.entries(complete),
      ]);
      expect(answer.status).toBe(403);
      expect(answer.body).toContain('This form has expired');
    }
    expect(await registrationOf(first.subscriberId)).toBeUndefined();
    // The form as drawn, sent once, still goes through.
    expect((await postRegistration(registerUrl(), first.cookie, { formToken, ...complete })).status).toBe(303);
  });

  test('a form drawn for another session (the buyer arrived again in another tab) saves nothing: it is shown again, with what was typed, to send', async () => {
    const first = await arrivedBuyer();
    const firstForm = (await getRegistration(registerUrl(), first.cookie)).body;
    // "Set up your account" again, in a second tab: a new token, and a new session cookie in place of the first.
    const { registrationToken } = await local.control.issueRegistrationToken(first.license.id);
    const again = sessionCookieOf(
      await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken }),
    );
    const typed = { ...complete, company: 'Acme <Tab One>' };

    const shownAgain = await postRegistration(registerUrl(), again, { formToken: formTokenOf(firstForm), ...typed });
    expect(shownAgain.status).toBe(409);
    expect(shownAgain.body).toContain(FORM_OPENED_AGAIN);
    expect(shownAgain.body).toContain('value="Acme &lt;Tab One&gt;"');
    expect(formTokenOf(shownAgain.body)).not.toBe(formTokenOf(firstForm));
    expect(await registrationOf(first.subscriberId)).toBeUndefined();

    const sent = await postRegistration(registerUrl(), again, { formToken: formTokenOf(shownAgain.body), ...typed });
    expect(sent.status).toBe(303);
    expect(await registrationOf(first.subscriberId)).toEqual(expect.objectContaining({ details: typed }));
  });

  test('a form sent after the subscription was cancelled saves nothing and sends nobody to the app: its end page, 409', async () => {
    for (const offerType of ['standard', 'free-trial'] as const) {
      const { cookie, subscriberId } = await arrivedBuyer(offerType);
      const formToken = formTokenOf((await getRegistration(registerUrl(), cookie)).body);
      // Cancelled while the form was open (as the lifecycle writes it; this stack hears no notifications).
      const cancelled = new Date(Date.parse((await local.control.clock()).now) - 60_000).toISOString();
      await local.writeSubscriber(subscriberId, { subscriptionStatus: 'ending', statusChangedAt: cancelled });
      const answer = await postRegistration(registerUrl(), cookie, { formToken, ...complete });
      expect({ offerType, status: answer.status, location: answer.headers.get('location') }).toEqual({
        offerType,
        status: 409,
        location: null,
      });
      expect(answer.body).toContain('ended');
      expect(answer.body).toContain(`<time datetime="${cancelled}">`);
      expect(await registrationOf(subscriberId)).toBeUndefined();
    }
  });

  /** A legacy buyer who has arrived from Marketplace once (`first`: the session), and can come back to subscribe again. */
  async function legacyBuyer(activate: boolean) {
    const { license, registrationToken } = await local.control.createLicense({
      productCode: 'data-suite-legacy-example',
      activate,
    });
    const arrive = async (token: string) =>
      sessionCookieOf(await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': token }));
    return {
      first: await arrive(registrationToken),
      subscriberId: `legacy:data-suite-legacy-example:${license.customerIdentifier}`,
      /** Back before Marketplace's subscribe-success: the form, as pending, and registered; answers the session. */
      returnAndRegister: async () => {
        const again = await arrive((await local.control.issueRegistrationToken(license.id)).registrationToken);
        const page = await getRegistration(registerUrl(), again);
        expect(page.body).toContain('<form');
        expect(page.body).toContain('AWS Marketplace is confirming your subscription');
        const posted = await postRegistration(registerUrl(), again, { formToken: formTokenOf(page.body), ...complete });
        expect(posted.status).toBe(303);
        return again;
      },
    };
  }

  test('a legacy buyer back from Marketplace after the end (subscribing again under the same id) gets the form, not the end', async () => {
    const { first, subscriberId, returnAndRegister } = await legacyBuyer(true);
    // Cancelled half a minute ago, after the buyer's first visit.
    await local.control.advanceClock({ minutes: 1 });
    const now = Date.parse((await local.control.clock()).now);
    const cancelled = new Date(now - 30_000).toISOString();
    await local.writeSubscriber(subscriberId, {
      subscriptionStatus: 'ending',
      statusChangedAt: cancelled,
      lifecycle: { activatedAt: new Date(now - 3_600_000).toISOString(), endRequestedAt: cancelled },
    });
    expect((await getRegistration(registerUrl(), first)).body).toContain('Your subscription has ended');

    await local.control.advanceClock({ seconds: 5 });
    await returnAndRegister();
    expect(await registrationOf(subscriberId)).toEqual(expect.objectContaining({ details: complete }));
  });

  test('a legacy buyer back from Marketplace after a failed attempt gets the form, and is not overdue at once', async () => {
    const { first, subscriberId, returnAndRegister } = await legacyBuyer(false);
    // The payment failed a minute after the first visit (subscribe-fail); the buyer comes back two hours later.
    await local.control.advanceClock({ minutes: 1 });
    const failed = (await local.control.clock()).now;
    await local.writeSubscriber(subscriberId, {
      subscriptionStatus: 'failed',
      statusChangedAt: failed,
      lifecycle: { failedAt: failed },
    });
    expect((await getRegistration(registerUrl(), first)).body).toContain('This subscription cannot be set up');

    await local.control.advanceClock({ hours: 2 });
    const registered = (await getRegistration(registerUrl(), await returnAndRegister())).body;
    expect(registered).toContain('AWS Marketplace is confirming your subscription');
    expect(registered).not.toContain('This subscription cannot be set up');
  });

  test('a form too large to take is a 413 page that says to shorten it, linking back to the form', async () => {
    const { cookie } = await arrivedBuyer();
    const formToken = formTokenOf((await getRegistration(registerUrl(), cookie)).body);
    const answer = await postRegistration(registerUrl(), cookie, {
      formToken,
      ...complete,
      company: 'x'.repeat(20_000),
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toContain('Go back, shorten it and send it again');
    expect(answer.body).toContain('href="register"');
  });

  test('other methods and content types get pages, not errors', async () => {
    const { cookie } = await arrivedBuyer();
    const put = await fetch(registerUrl(), { method: 'PUT', headers: { cookie } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
    const json = await fetch(registerUrl(), {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(json.status).toBe(415);
  });
});
