/**
 * The buyer page: the stand-in for the AWS Marketplace website. Driven over HTTP as a browser drives it: read the
 * page, submit its forms (hidden fields plus the clicked button), follow nothing automatically; the setup form is
 * submitted to a real fulfillment URL served by the test, and the token it carries is resolved with the SDK.
 */
import { ResolveCustomerCommand } from '@aws-sdk/client-marketplace-metering';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import type { PublishedEventView } from '../../../simulator/control-client.ts';
import { meteredProduct, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

const TOKEN_FIELD = 'x-amzn-marketplace-token';
const OFFER_TYPE_FIELD = 'x-amzn-marketplace-offer-type';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

interface PageForm {
  readonly action: string;
  readonly method: string;
  /** Inputs in document order, as a browser submits them. */
  readonly inputs: readonly { readonly name: string; readonly value: string; readonly type: string }[];
  readonly buttons: readonly { readonly name?: string; readonly value?: string; readonly label: string }[];
}

interface FulfillmentVisit {
  readonly method: string;
  readonly url: string;
  readonly contentType: string;
  readonly fields: readonly [string, string][];
}

/** The seller's fulfillment URL: records what the buyer's browser posts to it. */
let fulfillment: Server;
let fulfillmentUrl: string;
const visits: FulfillmentVisit[] = [];

beforeAll(async () => {
  fulfillment = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      visits.push({
        method: request.method ?? '',
        url: request.url ?? '',
        contentType: request.headers['content-type'] ?? '',
        fields: [...new URLSearchParams(Buffer.concat(chunks).toString('utf8'))],
      });
      response.writeHead(200, { 'content-type': 'text/html' }).end('<p>Welcome</p>');
    });
  });
  await new Promise<void>((resolve) => fulfillment.listen(0, '127.0.0.1', resolve));
  // A query string, so that the form's action must carry `&` escaped and arrive intact.
  fulfillmentUrl = `http://127.0.0.1:${(fulfillment.address() as AddressInfo).port}/fulfillment?source=simulator&step=1`;
});

beforeEach(async () => {
  visits.length = 0;
  await sim.control.updateSettings({ fulfillmentUrl });
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => fulfillment.close((error) => (error ? reject(error) : resolve())));
});

// -- A browser, reduced to what these pages need ------------------------------------------------------------------

async function request(path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(new URL(path, sim.url), { ...init, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

const openBuyerPage = () => request('/buyer');

function postForm(path: string, fields: Iterable<[string, string]>): Promise<Answer> {
  return request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([...fields]).toString(),
  });
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39);/g, (_entity, name: string) => entityText[name]!);
}
const entityText: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}="([^"]*)"`).exec(attributes);
  return match === null ? undefined : decodeEntities(match[1]!);
}

function formsIn(page: string): PageForm[] {
  return [...page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].map(([, attributes = '', content = '']) => ({
    action: attribute(attributes, 'action') ?? '',
    method: attribute(attributes, 'method') ?? 'get',
    inputs: [...content.matchAll(/<input\b([^>]*)>/g)].map(([, input = '']) => ({
      name: attribute(input, 'name') ?? '',
      value: attribute(input, 'value') ?? '',
      type: attribute(input, 'type') ?? 'text',
    })),
    buttons: [...content.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map(([, button = '', label = '']) => ({
      ...(attribute(button, 'name') === undefined ? {} : { name: attribute(button, 'name') }),
      ...(attribute(button, 'value') === undefined ? {} : { value: attribute(button, 'value') }),
      label: decodeEntities(
        label
          .replace(/<[^>]*>/g, '')
          .replace(/\s+/g, ' ')
          .trim(),
      ),
    })),
  }));
}

/** The form holding the button whose label starts with `label` (its visually hidden rest names the item). */
function formWithButton(page: string, label: string, containing?: string): PageForm {
  const form = formsIn(page).find(
    (candidate) =>
      candidate.buttons.some((button) => button.label.startsWith(label)) &&
      (containing === undefined || candidate.inputs.some((input) => input.value === containing)),
  );
  if (form === undefined) throw new Error(`no form with a "${label}" button in:\n${page}`);
  return form;
}

/** What a browser sends for a form: every named input (typed text overriding values), then the clicked button. */
function fieldsOf(form: PageForm, label: string, typed: Record<string, string> = {}): [string, string][] {
  const button = form.buttons.find((candidate) => candidate.label.startsWith(label))!;
  return [
    ...form.inputs.map((input): [string, string] => [input.name, typed[input.name] ?? input.value]),
    ...(button.name === undefined ? [] : [[button.name, button.value ?? ''] as [string, string]]),
  ];
}

/** Clicks the button: a form POST to the form's action, resolved against the page's own address. */
function click(page: string, label: string, options: { containing?: string; typed?: Record<string, string> } = {}) {
  const form = formWithButton(page, label, options.containing);
  expect(form.method.toLowerCase()).toBe('post');
  return postForm(new URL(form.action, `${sim.url}/buyer`).href, fieldsOf(form, label, options.typed));
}

/** Subscribes to `productCode` from the buyer page, as a person clicking the button would. */
async function subscribeFromPage(productCode: string, label = 'Subscribe', typed: Record<string, string> = {}) {
  return await click((await openBuyerPage()).body, label, { containing: productCode, typed });
}

/** A field of what the buyer's browser posted to the fulfillment URL. */
const postedField = (name: string) => visits[0]?.fields.find(([field]) => field === name)?.[1];
const setupFormOf = (page: string) => formWithButton(page, 'Set up your account');
const tokenIn = (form: PageForm) => form.inputs.find((input) => input.name === TOKEN_FIELD)?.value;
const resolve = (token: string) => sim.metering.send(new ResolveCustomerCommand({ RegistrationToken: token }));
const detailTypes = (events: readonly PublishedEventView[]) => events.map((event) => event.body['detail-type']);

function expectHtml(answer: Answer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(answer.body).toMatch(/^<!doctype html>/);
}

// -- The tests ----------------------------------------------------------------------------------------------------

test('the page lists each product with its code, pricing and identity model, and a subscribe and a trial button', async () => {
  const metered = await sim.control.createProduct(meteredProduct({ name: 'Metered thing' }));
  const contract = await sim.control.createProduct(
    meteredProduct({
      name: 'Contract thing',
      pricingModel: 'contracts',
      identityModel: 'legacy',
      dimensions: [{ name: 'seats', kind: 'contract' }],
    }),
  );
  const page = await openBuyerPage();
  expectHtml(page, 200);
  for (const product of [metered, contract]) {
    const card = new RegExp(
      `<h3[^>]*>${product.name}</h3>[\\s\\S]*?${product.code}[\\s\\S]*?${product.pricingModel}[\\s\\S]*?${product.identityModel}`,
    );
    expect(page.body).toMatch(card);
    const form = formWithButton(page.body, 'Subscribe', product.code);
    expect(form).toMatchObject({ action: '/buyer/subscribe', method: 'post' });
    expect(form.inputs).toContainEqual({ name: 'productCode', value: product.code, type: 'hidden' });
    expect(form.buttons.map(({ name, value }) => ({ name, value }))).toEqual([
      { name: 'offerType', value: 'standard' },
      { name: 'offerType', value: 'free-trial' },
    ]);
    expect(form.buttons[1]?.label).toMatch(/^Start free trial/);
  }
  const typedInputIds = [...page.body.matchAll(/<input\b(?![^>]*type="hidden")[^>]*\bid="([^"]+)"/g)].map(
    ([, id]) => id,
  );
  expect(typedInputIds).toHaveLength(2);
  for (const id of typedInputIds) expect(page.body).toContain(`<label for="${id}">`);
});

test('subscribing creates an active license and answers a POST form to the fulfillment URL whose token resolves to it', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const answer = await subscribeFromPage(product.code);
  expectHtml(answer, 200);
  expect(answer.body).toContain('Thank you for subscribing');

  const { licenses } = await sim.control.licenses(product.code);
  expect(licenses).toEqual([expect.objectContaining({ status: 'active', offerType: 'standard' })]);
  const form = setupFormOf(answer.body);
  expect(form.method).toBe('post');
  expect(form.action).toBe(fulfillmentUrl);
  expect(form.inputs).toEqual([{ name: TOKEN_FIELD, value: expect.any(String) as unknown, type: 'hidden' }]);

  // The browser's part: submit it, as Marketplace has the buyer's browser do.
  const token = tokenIn(form)!;
  await click(answer.body, 'Set up your account');
  expect(visits).toEqual([
    {
      method: 'POST',
      url: '/fulfillment?source=simulator&step=1',
      contentType: 'application/x-www-form-urlencoded',
      fields: [[TOKEN_FIELD, token]],
    },
  ]);
  const customer = await resolve(postedField(TOKEN_FIELD)!);
  expect(customer).toMatchObject({
    ProductCode: product.code,
    CustomerAWSAccountId: licenses[0]!.customerAWSAccountId,
    LicenseArn: licenses[0]!.licenseArn,
  });
});

test('subscribing publishes the lifecycle events a control-API purchase does', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  await subscribeFromPage(product.code);
  expect(detailTypes((await sim.control.events()).events)).toEqual([
    'Purchase Agreement Created - Proposer',
    'Purchase Agreement Created - Manufacturer',
    'License Updated - Manufacturer',
  ]);
});

test('a free trial creates a free-trial license and its setup form carries the offer type', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const answer = await subscribeFromPage(product.code, 'Start free trial');
  expectHtml(answer, 200);
  const { licenses } = await sim.control.licenses(product.code);
  expect(licenses).toEqual([expect.objectContaining({ status: 'active', offerType: 'free-trial' })]);
  expect(setupFormOf(answer.body).inputs).toContainEqual({
    name: OFFER_TYPE_FIELD,
    value: 'free-trial',
    type: 'hidden',
  });

  await click(answer.body, 'Set up your account');
  expect(postedField(OFFER_TYPE_FIELD)).toBe('free-trial');
  expect((await resolve(postedField(TOKEN_FIELD)!)).LicenseArn).toBe(licenses[0]!.licenseArn);
});

test('the buyer subscribes from the AWS account they type, which must be 12 digits', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  expectHtml(await subscribeFromPage(product.code, 'Subscribe', { customerAWSAccountId: '123456789012' }), 200);
  expect((await sim.control.licenses(product.code)).licenses[0]?.customerAWSAccountId).toBe('123456789012');

  const refused = await subscribeFromPage(product.code, 'Subscribe', { customerAWSAccountId: '1234' });
  expectHtml(refused, 400);
  expect(refused.body).toContain('12 digits');
  expect((await sim.control.licenses(product.code)).licenses).toHaveLength(1);
});

test('a registration token never appears in a URL or a Location header, and pages carrying one are not cached', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const subscribed = await subscribeFromPage(product.code, 'Start free trial');
  const listed = await openBuyerPage();
  const setUp = await click(listed.body, 'Set up your account');
  const cancelled = await click((await openBuyerPage()).body, 'Cancel subscription');
  const afterwards = await request(cancelled.headers.get('location')!);
  const tokens = [tokenIn(setupFormOf(subscribed.body))!, tokenIn(setupFormOf(setUp.body))!];

  for (const page of [subscribed, setUp]) expect(page.headers.get('cache-control')).toBe('no-store');
  // Every address is one of the page's own (which hold license ids only), the fulfillment URL as configured, or the
  // empty icon every page declares: no room for a token, whichever one was issued.
  const ownAddress =
    /^\/buyer(\/subscribe|\/licenses\/l-[0-9a-f]{32}\/(setup|cancel)|\?cancelled=l-[0-9a-f]{32})?$|^data:,$/;
  for (const answer of [subscribed, listed, setUp, cancelled, afterwards]) {
    const location = answer.headers.get('location');
    const urls = [
      ...(location === null ? [] : [location]),
      ...[...answer.body.matchAll(/\b(?:href|action|src)="([^"]*)"/g)].map(([, url = '']) => decodeEntities(url)),
    ];
    for (const url of urls) {
      if (url !== fulfillmentUrl) expect(url).toMatch(ownAddress);
      for (const token of tokens) expect(url).not.toContain(encodeURIComponent(token));
    }
  }
  for (const page of [listed, afterwards]) for (const token of tokens) expect(page.body).not.toContain(token);
});

test('"Set up your account" on a subscription issues a fresh token for the same license', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const subscribed = await subscribeFromPage(product.code);
  const firstToken = tokenIn(setupFormOf(subscribed.body))!;
  const { licenses } = await sim.control.licenses(product.code);

  const setUp = await click((await openBuyerPage()).body, 'Set up your account');
  expectHtml(setUp, 200);
  const form = setupFormOf(setUp.body);
  expect(form).toMatchObject({ method: 'post', action: fulfillmentUrl });
  const secondToken = tokenIn(form)!;
  expect(secondToken).not.toBe(firstToken);
  expect((await resolve(secondToken)).LicenseArn).toBe(licenses[0]!.licenseArn);
});

test('"Cancel subscription" ends the license as CANCELLED, publishes License Deprovisioned and redirects with 303', async () => {
  const product = await sim.control.createProduct(meteredProduct({ name: 'Cancelled thing' }));
  await subscribeFromPage(product.code);
  const { licenses } = await sim.control.licenses(product.code);
  const { lastSequence } = await sim.control.events();

  const answer = await click((await openBuyerPage()).body, 'Cancel subscription');
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toBe(`/buyer?cancelled=${licenses[0]!.id}`);
  expect(await sim.control.license(licenses[0]!.id)).toMatchObject({ status: 'ending', endReason: 'CANCELLED' });
  expect(detailTypes((await sim.control.events(lastSequence)).events)).toEqual([
    'Purchase Agreement Ended - Proposer',
    'Purchase Agreement Ended - Manufacturer',
    'License Deprovisioned - Manufacturer',
  ]);

  const after = await request(answer.headers.get('location')!);
  expectHtml(after, 200);
  expect(after.body).toMatch(/<p role="status"[^>]*>\s*Your subscription to Cancelled thing/);
  expect(after.body).toContain('ending (CANCELLED)');
  expect(formsIn(after.body).filter((form) => form.action.startsWith('/buyer/licenses/'))).toEqual([]);
});

test('the same subscribing form sent again (a reload, Back and resend) answers its subscription with a fresh token, not another', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const page = (await openBuyerPage()).body;
  const first = await click(page, 'Subscribe', { containing: product.code });
  const again = await click(page, 'Subscribe', { containing: product.code });
  expectHtml(again, 200);
  expect(again.body).toContain('Thank you for subscribing');
  const { licenses } = await sim.control.licenses(product.code);
  expect(licenses).toHaveLength(1);
  expect(again.body).toContain(`(license <code>${licenses[0]!.id}</code>)`);
  const tokens = [tokenIn(setupFormOf(first.body)), tokenIn(setupFormOf(again.body))];
  expect(new Set(tokens).size).toBe(2);
  for (const token of tokens) {
    expect((await resolve(token!)).LicenseArn).toBe(licenses[0]!.licenseArn);
  }
  // The other button of the same form, or the form of a page loaded again, is another subscription.
  await click(page, 'Start free trial', { containing: product.code });
  await subscribeFromPage(product.code);
  expect((await sim.control.licenses(product.code)).licenses).toHaveLength(3);
});

test('cancelling twice (a double click) goes where the first cancel went', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const { license } = await sim.control.createLicense({ productCode: product.code });
  for (let click = 0; click < 2; click++) {
    const cancelled = await request(`/buyer/licenses/${license.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(303);
    expect(cancelled.headers.get('location')).toBe(`/buyer?cancelled=${license.id}`);
  }
  expect(await sim.control.license(license.id)).toMatchObject({ status: 'ending', endReason: 'CANCELLED' });
});

test('a bodiless POST, as a test script sends it, is an empty form: cancel and set up need no fields', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const setUp = await request(`/buyer/licenses/${license.id}/setup`, { method: 'POST' });
  expectHtml(setUp, 200);
  expect(tokenIn(setupFormOf(setUp.body))).toBeDefined();
  const cancelled = await request(`/buyer/licenses/${license.id}/cancel`, { method: 'POST' });
  expect(cancelled.status).toBe(303);
  expect(await sim.control.license(license.id)).toMatchObject({ status: 'ending', endReason: 'CANCELLED' });
  // A body still has to be a form.
  const text = await request('/buyer/subscribe', { method: 'POST', body: `productCode=${product.code}` });
  expectHtml(text, 415);
});

test('a product name with markup and quotes is shown as text, on every page', async () => {
  const name = `<script>alert("x")</script> & 'quoted'`;
  const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;';
  const product = await sim.control.createProduct(meteredProduct({ name }));
  const listed = await openBuyerPage();
  const subscribed = await subscribeFromPage(product.code);
  const listedAgain = await openBuyerPage();
  for (const page of [listed, subscribed, listedAgain]) {
    expect(page.body).toContain(escaped);
    expect(page.body).not.toContain('<script>');
    expect(page.body).not.toContain(`"x"`);
  }
});

test('an unknown product or license is a 404 page, and cancelling an expired license a 409 page', async () => {
  const unknownProduct = await postForm('/buyer/subscribe', [
    ['productCode', 'no-such-product'],
    ['offerType', 'standard'],
  ]);
  expectHtml(unknownProduct, 404);
  expect(unknownProduct.body).toContain('no-such-product');
  for (const action of ['setup', 'cancel']) {
    expectHtml(await postForm(`/buyer/licenses/l-00000000000000000000000000000000/${action}`, []), 404);
    expectHtml(await postForm(`/buyer/licenses/%E0%A4%A/${action}`, []), 404);
  }
  expectHtml(await request('/buyer/elsewhere'), 404);

  const product = await sim.control.createProduct(meteredProduct());
  const { license } = await sim.control.createLicense({ productCode: product.code });
  await sim.control.end(license.id, 'EXPIRED');
  expectHtml(await postForm(`/buyer/licenses/${license.id}/cancel`, []), 409);
  expectHtml(await postForm(`/buyer/licenses/${license.id}/setup`, []), 409);
});

test('missing or wrong fields, a body that is not a form, an oversized body and a wrong method are 4xx pages', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const subscribeWith = (fields: [string, string][]) => postForm('/buyer/subscribe', fields);
  const withoutProduct = await subscribeWith([['offerType', 'standard']]);
  expectHtml(withoutProduct, 400);
  expect(withoutProduct.body).toContain('choose a product');
  const withoutOffer = await subscribeWith([['productCode', product.code]]);
  expectHtml(withoutOffer, 400);
  expect(withoutOffer.body).toContain('choose Subscribe or Start free trial');
  // Two products, or two offers: which was meant cannot be told, so nothing is subscribed.
  const twice = await subscribeWith([
    ['productCode', product.code],
    ['productCode', 'another-product'],
    ['offerType', 'standard'],
  ]);
  expectHtml(twice, 400);
  expect(twice.body).toContain('The form names productCode more than once.');
  expect((await sim.control.licenses(product.code)).licenses).toEqual([]);
  expectHtml(
    await subscribeWith([
      ['productCode', product.code],
      ['offerType', 'lifetime'],
    ]),
    400,
  );
  const json = await request('/buyer/subscribe', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ productCode: product.code, offerType: 'standard' }),
  });
  expectHtml(json, 415);
  const multipart = new FormData();
  multipart.set('productCode', product.code);
  multipart.set('offerType', 'standard');
  expectHtml(await request('/buyer/subscribe', { method: 'POST', body: multipart }), 415);
  expectHtml(
    await request('/buyer/subscribe', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `productCode=${product.code}&offerType=standard&padding=${'x'.repeat(64 * 1024)}`,
    }),
    413,
  );
  const get = await request('/buyer/subscribe');
  expectHtml(get, 405);
  expect(get.headers.get('allow')).toBe('POST');
  expectHtml(await request('/buyer', { method: 'DELETE' }), 405);
  expect((await sim.control.licenses(product.code)).licenses).toEqual([]);
});

test('without a fulfillment URL the page explains how to set one instead of offering a broken button', async () => {
  await sim.control.updateSettings({ fulfillmentUrl: null });
  const product = await sim.control.createProduct(meteredProduct());
  const answer = await subscribeFromPage(product.code);
  expectHtml(answer, 200);
  expect(answer.body).toContain('Thank you for subscribing');
  expect(answer.body).toContain('No fulfillment URL is set');
  expect(decodeEntities(answer.body)).toContain(`curl -s -X PATCH ${sim.url}/control/settings`);
  expect(answer.body).toContain('fulfillmentUrl');
  expect(answer.body).not.toContain(TOKEN_FIELD);
  expect(formsIn(answer.body)).toEqual([]);
  expect((await sim.control.licenses(product.code)).licenses).toHaveLength(1);

  // Once it is set, the buyer sets up from the list of subscriptions.
  await sim.control.updateSettings({ fulfillmentUrl });
  const setUp = await click((await openBuyerPage()).body, 'Set up your account');
  expect(setupFormOf(setUp.body).action).toBe(fulfillmentUrl);
});

test('the fulfillmentUrl setting takes only http(s) URLs, and null unsets it', async () => {
  for (const url of ['javascript:alert(1)', '/fulfillment', 'ftp://seller.example/']) {
    await expect(sim.control.updateSettings({ fulfillmentUrl: url })).rejects.toMatchObject({ status: 400 });
  }
  expect((await sim.control.settings()).fulfillmentUrl).toBe(fulfillmentUrl);
  expect((await sim.control.updateSettings({ fulfillmentUrl: null })).fulfillmentUrl).toBeNull();
  await sim.control.reset();
  expect((await sim.control.settings()).fulfillmentUrl).toBeNull();
});
