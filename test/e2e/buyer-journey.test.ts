/**
 * The buyer's journey in a real headless Chromium, against the whole local stack started as `npm start` starts it:
 * subscribe on the simulator's buyer page, arrive at the fulfillment URL by the form POST Marketplace makes, and
 * register on a phone-sized screen with the keyboard alone. The registration token travels once, in that POST, and
 * must turn up nowhere else: not in a URL, the history, a cookie, a log line or the tables.
 */
import { DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { subscriptionStatusText } from '../../lambdas/registration/pages.ts';
import { loadLocalConfig, withLocalAppUrls } from '../../local/config.ts';
import { recordBrowsing, historyOf, type BrowsingRecord } from '../support/browsing-record.ts';
import { useBrowserAndStack } from '../support/browser-and-stack.ts';
import type { NpmStart } from '../support/npm-start.ts';
import { placesHolding } from '../support/secret-encodings.ts';

const config = loadLocalConfig();
const { products } = config;
const PRODUCT = configured(
  products.find((product) => product.identityModel === 'license')?.name,
  'a product of the license identity model',
);
const PHONE_VIEWPORT = { width: 375, height: 812 };
const TOKEN_FIELD = 'x-amzn-marketplace-token';
/** The stylesheet's button colour (#0b4fb3): the browser shows it only if the policy's hash admits the inline style. */
const BUTTON_BACKGROUND = 'rgb(11, 79, 179)';

const buyer = { company: 'Acme Ltd', contactName: 'Ada Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0958' };

/** The contexts of the journeys, and what each one did, for the checks made after them. */
const journeys: { context: BrowserContext; page: Page; record: BrowsingRecord }[] = [];

const running = useBrowserAndStack();

/** The seller's app addresses as the stack serves them: cdk.json's examples lead to its stand-in app. */
function servedRegistration() {
  const { standInAppUrl } = running().stack;
  return standInAppUrl === undefined ? config.registration : withLocalAppUrls(config, standInAppUrl).registration;
}

/** A phone-sized browser on the buyer page, recording what it does; nothing it asks of the seller's site goes out. */
async function openBuyerPage(): Promise<{ page: Page; record: BrowsingRecord }> {
  const context = await running().browser.newContext({ viewport: PHONE_VIEWPORT });
  const page = await context.newPage();
  const record = await recordBrowsing(page);
  journeys.push({ context, page, record });
  await page.goto(running().stack.buyerPageUrl);
  return { page, record };
}

/** Subscribes on the buyer page, then follows Marketplace's "Set up your account" to the seller's fulfillment URL. */
async function subscribeAndSetUp(page: Page, offer: 'Subscribe to' | 'Start free trial of'): Promise<void> {
  await page.getByRole('button', { name: `${offer} ${PRODUCT}` }).click();
  await page.getByRole('button', { name: 'Set up your account' }).click();
  await page.waitForURL(isRegistrationPage);
}

/** The registration page, whatever its query or fragment: what they carry is the leak test's business. */
const isRegistrationPage = (url: URL | string) => {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}` === running().stack.registerUrl;
};

/** The little of the DOM the in-page checks read: the project compiles without the DOM library. */
interface InPageElement {
  readonly scrollWidth: number;
  readonly ownerDocument: {
    readonly defaultView: {
      readonly innerWidth: number;
      getComputedStyle(element: InPageElement): { readonly backgroundColor: string };
    };
  };
}

const isFocused = async (page: Page, control: Locator) => (await control.and(page.locator(':focus')).count()) === 1;

const backgroundOf = (control: Locator) =>
  control.evaluate(
    (element: InPageElement) => element.ownerDocument.defaultView.getComputedStyle(element).backgroundColor,
  );

async function expectFitsThePhone(page: Page): Promise<void> {
  const { viewport, content } = await page.locator('html').evaluate((root: InPageElement) => ({
    viewport: root.ownerDocument.defaultView.innerWidth,
    content: root.scrollWidth,
  }));
  expect(viewport).toBe(PHONE_VIEWPORT.width);
  expect(content, 'the page scrolls sideways on a 375 px wide phone').toBeLessThanOrEqual(viewport);
}

const tokensPosted = (record: BrowsingRecord) =>
  record.posts
    .filter((post) => post.url === running().stack.fulfillmentUrl)
    .map((post) => new URLSearchParams(post.body).get(TOKEN_FIELD) ?? '');

describe('a buyer subscribing on AWS Marketplace', () => {
  test('arrives on the registration page, registers with the keyboard on a phone, and is told they are set up', async () => {
    const { page, record } = await openBuyerPage();
    // The buyer page reflows on the narrowest phones too (WCAG 1.4.10: 320 CSS pixels), its long addresses wrapped.
    await page.setViewportSize({ width: 320, height: PHONE_VIEWPORT.height });
    const narrowest = await page.locator('html').evaluate((root: InPageElement) => root.scrollWidth);
    expect(narrowest, 'the buyer page scrolls sideways at 320 px').toBeLessThanOrEqual(320);
    await page.setViewportSize(PHONE_VIEWPORT);
    await subscribeAndSetUp(page, 'Subscribe to');

    expect(isRegistrationPage(page.url()), `${page.url()} is the registration page`).toBe(true);
    await expect(page.title()).resolves.toBe(`Set up your account - ${PRODUCT}`);
    expect(await page.getByRole('banner').innerText()).toBe(PRODUCT);
    const statuses = (['pending', 'active', undefined] as const).map(subscriptionStatusText);
    expect(statuses).toContain(await page.locator('p.status').innerText());
    const submit = page.getByRole('button', { name: 'Complete registration' });
    expect(await backgroundOf(submit), 'the inline stylesheet applies').toBe(BUTTON_BACKGROUND);
    await expectFitsThePhone(page);

    // From the top of the page, Tab alone must reach the sign-in link for existing users, every field in order, then
    // the button that submits.
    const steps: [name: string, control: Locator, typed: string | undefined][] = [
      ['the sign-in link', page.getByRole('link', { name: 'Sign in' }), undefined],
      ['Company', page.getByLabel('Company'), buyer.company],
      ['Contact name', page.getByLabel('Contact name'), buyer.contactName],
      ['Email', page.getByLabel('Email'), buyer.email],
      ['Phone', page.getByLabel('Phone'), buyer.phone],
      ['the submit button', submit, undefined],
    ];
    for (const [name, control, typed] of steps) {
      await page.keyboard.press('Tab');
      expect(await isFocused(page, control), `Tab should reach ${name} next`).toBe(true);
      if (typed !== undefined) await page.keyboard.type(typed);
    }
    await page.keyboard.press('Enter');

    await page.getByRole('heading', { name: 'You are set up' }).waitFor();
    expect(isRegistrationPage(page.url()), `${page.url()} is the registration page`).toBe(true);
    const signInUrl = servedRegistration().appUrl;
    expect(await page.getByRole('link', { name: signInUrl }).getAttribute('href')).toBe(signInUrl);
    await expectFitsThePhone(page);
    expect(record.problems).toEqual([]);
    expect(record.offMachine).toEqual([]);
    expect(tokensPosted(record)).toEqual([expect.stringMatching(/^\S{20,}$/)]);
  });

  test("of a free trial is sent on to the seller's trial landing page after registering", async () => {
    const { page, record } = await openBuyerPage();
    await subscribeAndSetUp(page, 'Start free trial of');
    expect(
      record.posts.find((post) => post.url === running().stack.fulfillmentUrl)?.body,
      'the trial is announced in the POST to the fulfillment URL',
    ).toContain('x-amzn-marketplace-offer-type=free-trial');

    // Another company than the journey before: the landing page must show this buyer, not the one who registered last.
    await page.getByLabel('Company').fill('Trial Works');
    await page.getByLabel('Contact name').fill(buyer.contactName);
    await page.getByLabel('Email').fill(buyer.email);
    await page.getByRole('button', { name: 'Complete registration' }).click();

    // Locally, cdk.json's example trial landing page is the stand-in app, which shows who just registered: the page
    // the browser lands on, though it gets there before the webhook call does.
    const trialLandingUrl = configured(servedRegistration().freeTrialLandingUrl, 'registration.freeTrialLandingUrl');
    await page.waitForURL(trialLandingUrl);
    await expect(page.title()).resolves.toBe('Your app (local stand-in)');
    expect(await page.locator('main').innerText()).toMatch(/Offer\s+free-trial[^]*Company\s+Trial Works/);
    expect(record.offMachine).toEqual([]);
    expect(record.problems).toEqual([]);
  });

  test('leaves its registration token in no URL, history entry, cookie, log line, table item or event', async () => {
    const { stack } = running();
    const tokens = journeys.flatMap(({ record }) => tokensPosted(record));
    expect(tokens, 'both journeys posted a token to the fulfillment URL').toHaveLength(2);
    // The handlers log before they answer, but their output reaches us through a pipe, in its own time.
    await expect
      .poll(() => stack.logs().match(/"Buyer registered"/g)?.length, {
        timeout: 30_000,
        message: 'both journeys logged a registration',
      })
      .toBe(2);

    const urls = journeys.flatMap(({ record }) => record.urls);
    const history = (await Promise.all(journeys.map(({ page }) => historyOf(page)))).flat();
    const cookies = (await Promise.all(journeys.map(({ context }) => context.cookies()))).flat();
    const logs = stack.logs();
    const tables = await scanTables(stack);
    const events = await (await fetch(stack.eventsUrl)).text();
    // Each place holds what it should, so that finding no token there means something.
    expect(urls).toContain(stack.fulfillmentUrl);
    expect(history.filter((url) => new URL(url).pathname === new URL(stack.registerUrl).pathname)).not.toEqual([]);
    expect(cookies.filter((cookie) => cookie.name.startsWith('mp_registration_'))).not.toEqual([]);
    expect(logs).toContain('Buyer arrived from Marketplace');
    expect(tables).toContain(buyer.contactName);
    expect(events).toContain('Subscriber Registered');

    for (const token of tokens) {
      expect(
        placesHolding(token, {
          'a requested or visited URL': urls.join('\n'),
          'the history': history.join('\n'),
          'a cookie': JSON.stringify(cookies),
          'the logs': logs,
          'a table item': tables,
          'an event on the seller bus': events,
        }),
      ).toEqual([]);
    }
  });

  test('who registers in a second tab after the first sees the details that stood, wrapped to fit the phone', async () => {
    // A context of its own, not one of the journeys above: their checks count exactly two registrations.
    const context = await running().browser.newContext({ viewport: PHONE_VIEWPORT, javaScriptEnabled: false });
    try {
      const first = await context.newPage();
      await first.goto(running().stack.buyerPageUrl);
      await subscribeAndSetUp(first, 'Subscribe to');
      const second = await context.newPage();
      await second.goto(first.url());
      // As long as the form takes: unbroken words that must wrap rather than widen the page.
      const long = { company: 'C'.repeat(200), contactName: 'N'.repeat(200), email: `${'a'.repeat(240)}@example.com` };
      for (const [tab, details] of [
        [first, long],
        [second, buyer],
      ] as const) {
        await tab.getByLabel('Company').fill(details.company);
        await tab.getByLabel('Contact name').fill(details.contactName);
        await tab.getByLabel('Email').fill(details.email);
        await tab.getByRole('button', { name: 'Complete registration' }).click();
      }
      await first.getByRole('heading', { name: 'You are set up' }).waitFor();
      await second.getByRole('heading', { name: 'Already set up' }).waitFor();
      expect(await second.locator('main').innerText()).toContain(long.email);
      await expectFitsThePhone(second);
    } finally {
      await context.close();
    }
  });
});

/** The journeys follow `cdk.json`, as `npm start` does; they need it to configure what they walk through. */
function configured<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`The buyer journey needs ${what} in cdk.json's marketplace context`);
  return value;
}

/** Every item of every table, as DynamoDB Local stores it, through the endpoint `npm start` printed. */
async function scanTables(stack: NpmStart): Promise<string> {
  const client = new DynamoDBClient({ endpoint: stack.dynamoDbEndpoint });
  try {
    const items: unknown[] = [];
    for (const TableName of stack.tableNames) {
      for await (const page of paginateScan({ client }, { TableName })) items.push(...(page.Items ?? []));
    }
    return JSON.stringify(items);
  } finally {
    client.destroy();
  }
}
