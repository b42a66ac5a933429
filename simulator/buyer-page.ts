/**
 * The buyer page under `/buyer`: the simulator's stand-in for the AWS Marketplace website. A person, or a headless
 * browser in an end-to-end test, subscribes to a product there and is sent to the seller's fulfillment URL as
 * Marketplace sends a buyer: the browser submits a form with POST carrying `x-amzn-marketplace-token` (and
 * `x-amzn-marketplace-offer-type=free-trial` for a free trial). The token never appears in a URL.
 *
 * Server-rendered HTML with plain forms, so it works without JavaScript; every failure is a 4xx HTML page.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { callerHungUp } from '../local/http/request-handler.ts';
import { readBody, RequestTooLargeError } from '../local/http/read-body.ts';
import { ControlError } from './control-error.ts';
import { html, SafeHtml } from '../lambdas/registration/html.ts';
import { endLicense, subscribe } from './license-lifecycle.ts';
import type { License, OfferType, Product } from './marketplace.ts';
import type { Simulator } from './simulator.ts';
import { SimulatorError } from './errors.ts';

/** A form here holds a product code, an offer type and an account id; anything near this size is not one. */
const MAX_FORM_BYTES = 16 * 1024;

const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** The fields Marketplace posts to the fulfillment URL. */
const TOKEN_FIELD = 'x-amzn-marketplace-token';
const OFFER_TYPE_FIELD = 'x-amzn-marketplace-offer-type';

const subscribeForm = z.object({
  productCode: z.string({ error: 'choose a product' }).min(1, 'choose a product'),
  offerType: z.enum(['standard', 'free-trial'], { error: 'choose Subscribe or Start free trial' }),
  customerAWSAccountId: z
    .string()
    .regex(/^\d{12}$/, 'an AWS account ID is 12 digits')
    .optional(),
  requestId: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, 'requestId is the id the page gave its form')
    .optional(),
});

/** How many subscribing forms are remembered, to answer one sent again with the subscription it made. */
const REMEMBERED_REQUESTS = 1_000;

interface PageCall {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly form: URLSearchParams;
  /** The simulator's address as the browser reached it, for the instructions a page shows. */
  readonly origin: string;
}

/** POST-redirect-GET: the browser is sent on with 303, so a reload does not repeat the action. */
interface SeeOther {
  readonly seeOther: string;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: RegExp;
  readonly handle: (call: PageCall) => SafeHtml | SeeOther;
}

/** A request the buyer page refuses, answered as an HTML page with this status. */
class PageError extends SimulatorError {
  override readonly name = 'PageError';

  constructor(
    readonly status: 400 | 404 | 405 | 409 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

export class BuyerPage {
  private readonly routes: readonly Route[];
  /** The license each subscribing form made, by the id the page gave the form and the fields it sent. */
  private readonly subscribedBy = new Map<string, string>();

  constructor(private readonly simulator: Simulator) {
    this.routes = [
      { method: 'GET', path: /^\/buyer\/?$/, handle: ({ query }) => this.index(query.get('cancelled')) },
      { method: 'POST', path: /^\/buyer\/subscribe$/, handle: (call) => this.subscribe(call) },
      { method: 'POST', path: /^\/buyer\/licenses\/(?<id>[^/]+)\/setup$/, handle: (call) => this.setUp(call) },
      { method: 'POST', path: /^\/buyer\/licenses\/(?<id>[^/]+)\/cancel$/, handle: (call) => this.cancel(call) },
    ];
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    try {
      const candidates = this.routes.filter((candidate) => candidate.path.test(url.pathname));
      if (candidates.length === 0) throw new PageError(404, `There is no page ${url.pathname}.`);
      const matched = candidates.find((candidate) => candidate.method === request.method);
      if (matched === undefined) {
        response.setHeader('allow', candidates.map((candidate) => candidate.method).join(', '));
        throw new PageError(405, `${request.method ?? ''} is not allowed on ${url.pathname}.`);
      }
      const answer = matched.handle({
        // License ids are `l-` and hex digits, so a path segment holding one needs no %-decoding.
        params: matched.path.exec(url.pathname)?.groups ?? {},
        query: url.searchParams,
        form: matched.method === 'POST' ? await readForm(request) : new URLSearchParams(),
        origin: `http://${request.headers.host ?? '127.0.0.1'}`,
      });
      await this.simulator.saveState();
      if (answer instanceof SafeHtml) sendPage(response, 200, answer);
      else seeOther(response, answer.seeOther);
    } catch (error) {
      if (callerHungUp(request)) return;
      const { status, message } = describeError(error);
      sendPage(response, status, errorPage(status, message));
    }
  }

  private index(cancelledLicenseId: string | null): SafeHtml {
    const { marketplace } = this.simulator;
    const products = marketplace.listProducts();
    const licenses = marketplace.listLicenses().reverse();
    const cancelled = licenses.find((license) => license.id === cancelledLicenseId);
    const notice =
      cancelled === undefined
        ? ''
        : html`<p role="status" class="notice">
            Your subscription to ${this.productName(cancelled)} (license <code>${cancelled.id}</code>) is cancelled.
          </p>`;
    const productList =
      products.length === 0
        ? html`<p>There are no products yet. Add one with <code>POST /control/products</code>.</p>`
        : html`<ul class="cards">
            ${products.map((product, index) => productCard(product, index, randomUUID()))}
          </ul>`;
    const licenseList =
      licenses.length === 0
        ? html`<p>You have not subscribed to anything yet.</p>`
        : html`<ul class="cards">
            ${licenses.map((license) => this.licenseCard(license))}
          </ul>`;
    return layout(
      'Buyer page',
      html`<h1>Buyer page</h1>
        ${notice}
        <p>Subscribe to a product as a buyer does on AWS Marketplace, then set up your account with the seller.</p>
        ${this.fulfillmentUrlNote()}
        <h2>Products</h2>
        ${productList}
        <h2>Your subscriptions</h2>
        ${licenseList}`,
    );
  }

  private subscribe({ form, origin }: PageCall): SafeHtml {
    const { requestId, ...input } = subscribeForm.parse(fieldsOf(form));
    // The form as it was sent: Back and the other button (a free trial) is another subscription.
    const sent = requestId === undefined ? undefined : JSON.stringify([requestId, input]);
    const earlier = sent === undefined ? undefined : this.subscribedBy.get(sent);
    if (earlier !== undefined) {
      // The same form again (the page reloaded, or Back and sent again): Marketplace does not subscribe twice.
      const license = this.simulator.marketplace.requireLicense(earlier);
      return this.setupPage('Thank you for subscribing', license, this.freshToken(license), origin);
    }
    const { license, registrationToken } = subscribe(this.simulator, { ...input, activate: true });
    if (sent !== undefined) {
      this.subscribedBy.set(sent, license.id);
      if (this.subscribedBy.size > REMEMBERED_REQUESTS)
        this.subscribedBy.delete(this.subscribedBy.keys().next().value!);
    }
    return this.setupPage('Thank you for subscribing', license, registrationToken, origin);
  }

  /** The buyer comes back to set up the product, as from the Marketplace console: a fresh token each time. */
  private setUp({ params, origin }: PageCall): SafeHtml {
    const license = this.simulator.marketplace.requireLicense(params.id!);
    return this.setupPage('Set up your account', license, this.freshToken(license), origin);
  }

  private freshToken(license: License): string {
    if (!this.isOpen(license)) {
      throw new PageError(409, `License ${license.id} is ${this.simulator.marketplace.status(license)}.`);
    }
    return this.simulator.marketplace.issueRegistrationToken(license.id);
  }

  private cancel({ params }: PageCall): SeeOther {
    const license = this.simulator.marketplace.requireLicense(params.id!);
    // Cancelled already (a double click): the buyer goes where the first cancel went.
    if (license.endReason !== 'CANCELLED') endLicense(this.simulator, license.id, 'CANCELLED');
    return { seeOther: `/buyer?cancelled=${license.id}` };
  }

  private setupPage(title: string, license: License, registrationToken: string, origin: string): SafeHtml {
    const { fulfillmentUrl } = this.simulator.settings;
    const offer = license.offerType === 'free-trial' ? 'a free trial of' : 'a subscription to';
    return layout(
      title,
      html`<h1>${title}</h1>
        <p>
          You have ${offer} <strong>${this.productName(license)}</strong> from AWS account
          <code>${license.customerAWSAccountId}</code> (license <code>${license.id}</code>).
        </p>
        ${
          fulfillmentUrl === null
            ? missingFulfillmentUrl(origin)
            : html`<p>Set up your account with the seller to start using the product.</p>
                ${setupForm(fulfillmentUrl, registrationToken, license.offerType)}
                <p class="hint">
                  This takes you to <code>${fulfillmentUrl}</code> with a registration token, which the seller resolves
                  with <code>ResolveCustomer</code>.
                </p>`
        }
        <p><a href="/buyer">Back to products and subscriptions</a></p>`,
    );
  }

  private licenseCard(license: License): SafeHtml {
    const status = this.simulator.marketplace.status(license);
    const name = this.productName(license);
    const forLicense = html`<span class="visually-hidden"> for ${name}, license ${license.id}</span>`;
    return html`<li>
      <article aria-labelledby="license-${license.id}">
        <h3 id="license-${license.id}">${name}</h3>
        <dl>
          <dt>License</dt>
          <dd><code>${license.id}</code></dd>
          <dt>Product code</dt>
          <dd><code>${license.productCode}</code></dd>
          <dt>AWS account</dt>
          <dd><code>${license.customerAWSAccountId}</code></dd>
          <dt>Status</dt>
          <dd>${license.endReason === undefined ? status : `${status} (${license.endReason})`}</dd>
          <dt>Offer</dt>
          <dd>${offerName(license.offerType)}</dd>
        </dl>
        ${
          this.isOpen(license)
            ? html`<div class="actions">
                <form method="post" action="/buyer/licenses/${license.id}/setup">
                  <button type="submit">Set up your account${forLicense}</button>
                </form>
                <form method="post" action="/buyer/licenses/${license.id}/cancel">
                  <button type="submit">Cancel subscription${forLicense}</button>
                </form>
              </div>`
            : ''
        }
      </article>
    </li>`;
  }

  private fulfillmentUrlNote(): SafeHtml {
    const { fulfillmentUrl } = this.simulator.settings;
    return fulfillmentUrl === null
      ? html`<p>
          No fulfillment URL is set yet (the <code>fulfillmentUrl</code> setting): you can subscribe, but there is
          nowhere to send you afterwards.
        </p>`
      : html`<p>After subscribing, you are sent to the seller's fulfillment URL, <code>${fulfillmentUrl}</code>.</p>`;
  }

  /** A buyer can set up or cancel a subscription that has not ended or failed. */
  private isOpen(license: License): boolean {
    const status = this.simulator.marketplace.status(license);
    return status === 'pending' || status === 'active';
  }

  private productName(license: License): string {
    return this.simulator.marketplace.product(license.productCode)?.name ?? license.productCode;
  }
}

/** A product and its subscribing form; `requestId` names the form, so that sending it again subscribes once. */
function productCard(product: Product, index: number, requestId: string): SafeHtml {
  const account = `account-${index}`;
  return html`<li>
    <article aria-labelledby="product-${index}">
      <h3 id="product-${index}">${product.name}</h3>
      <dl>
        <dt>Product code</dt>
        <dd><code>${product.code}</code></dd>
        <dt>Pricing model</dt>
        <dd>${product.pricingModel}</dd>
        <dt>Identity model</dt>
        <dd>${product.identityModel}</dd>
      </dl>
      <form method="post" action="/buyer/subscribe">
        <input type="hidden" name="productCode" value="${product.code}" />
        <input type="hidden" name="requestId" value="${requestId}" />
        <label for="${account}">
          Your AWS account ID<span class="visually-hidden"> for ${product.name}</span> (optional)
        </label>
        <input
          id="${account}"
          name="customerAWSAccountId"
          inputmode="numeric"
          pattern="[0-9]{12}"
          maxlength="12"
          autocomplete="off"
          aria-describedby="${account}-hint"
        />
        <p id="${account}-hint" class="hint">12 digits; leave it empty to subscribe from a new account.</p>
        <div class="actions">
          <button type="submit" name="offerType" value="standard">
            Subscribe<span class="visually-hidden"> to ${product.name}</span>
          </button>
          <button type="submit" name="offerType" value="free-trial">
            Start free trial<span class="visually-hidden"> of ${product.name}</span>
          </button>
        </div>
      </form>
    </article>
  </li>`;
}

/** The form Marketplace has the buyer's browser submit: POST, with the token in the body and never in the URL. */
function setupForm(fulfillmentUrl: string, registrationToken: string, offerType: OfferType): SafeHtml {
  return html`<form method="post" action="${fulfillmentUrl}">
    <input type="hidden" name="${TOKEN_FIELD}" value="${registrationToken}" />
    ${offerType === 'free-trial' ? html`<input type="hidden" name="${OFFER_TYPE_FIELD}" value="free-trial" />` : ''}
    <button type="submit">Set up your account</button>
  </form>`;
}

function missingFulfillmentUrl(origin: string): SafeHtml {
  const command =
    `curl -s -X PATCH ${origin}/control/settings -H 'content-type: application/json' ` +
    `-d '{"fulfillmentUrl":"http://127.0.0.1:8080/your-fulfillment-url"}'`;
  return html`<h2>No fulfillment URL is set</h2>
    <p>
      The simulator does not know the seller's fulfillment URL, so it cannot send you there. Set the
      <code>fulfillmentUrl</code> setting to it, for example:
    </p>
    <pre><code>${command}</code></pre>
    <p>Then choose <strong>Set up your account</strong> on this subscription in the list of subscriptions.</p>`;
}

function errorPage(status: number, message: string): SafeHtml {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return layout(
    title,
    html`<h1>${title}</h1>
      <p class="message">${message}</p>
      <p><a href="/buyer">Back to products and subscriptions</a></p>`,
  );
}

function offerName(offerType: OfferType): string {
  return offerType === 'free-trial' ? 'Free trial' : 'Standard';
}

const style = new SafeHtml(`
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
  body { margin: 0 auto; max-width: 48rem; padding: 1rem; }
  header { border-bottom: 1px solid; margin-bottom: 1rem; }
  .cards { list-style: none; padding: 0; display: grid; gap: 1rem; }
  article { border: 1px solid; border-radius: 0.5rem; padding: 0 1rem 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
  dd { margin: 0; overflow-wrap: anywhere; }
  .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.5rem; }
  button, input { font: inherit; min-height: 2.75rem; max-width: 100%; box-sizing: border-box; }
  button { padding: 0.5rem 1rem; cursor: pointer; }
  label { display: block; font-weight: bold; }
  .hint { font-size: 0.9em; margin: 0.25rem 0; }
  .notice { border-left: 0.25rem solid; padding: 0.5rem 1rem; }
  .message { white-space: pre-line; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  code { overflow-wrap: anywhere; }
  .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`);

function layout(title: string, content: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} - AWS Marketplace simulator</title>
        <!-- No icon to fetch: the simulator has none, and a browser would log the 404 of /favicon.ico. -->
        <link rel="icon" href="data:," />
        <style>
          ${style}
        </style>
      </head>
      <body>
        <header>
          <p><a href="/buyer">AWS Marketplace simulator</a></p>
        </header>
        <main>${content}</main>
      </body>
    </html>`;
}

/** Reads a form submission as a browser sends it (a bodiless POST, as from a script, is an empty form). */
async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const body = await readBody(request, MAX_FORM_BYTES);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== FORM_CONTENT_TYPE && !(contentType === '' && body.length === 0)) {
    throw new PageError(415, `The buyer page takes forms (${FORM_CONTENT_TYPE}), not '${contentType}'.`);
  }
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * The submitted fields; an empty optional field counts as absent, as a browser submits every field of a form. A field
 * named twice is refused: which of the two was meant cannot be told.
 */
function fieldsOf(form: URLSearchParams): Record<string, string> {
  const repeated = [...new Set(form.keys())].find((name) => form.getAll(name).length > 1);
  if (repeated !== undefined) throw new PageError(400, `The form names ${repeated} more than once.`);
  return Object.fromEntries([...form].filter(([, value]) => value !== ''));
}

function describeError(error: unknown): { status: number; message: string } {
  if (error instanceof PageError || error instanceof ControlError) return error;
  if (error instanceof RequestTooLargeError) return { status: 413, message: error.message };
  if (error instanceof z.ZodError) return { status: 400, message: z.prettifyError(error) };
  console.error('simulator: unexpected buyer page error', error);
  return { status: 500, message: 'Unexpected simulator error.' };
}

function sendPage(response: ServerResponse, status: number, page: SafeHtml): void {
  const body = page.text;
  // Pages show live state, and some carry a registration token that must not linger in a cache.
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  response.end(body);
}

function seeOther(response: ServerResponse, location: string): void {
  response.writeHead(303, { location, 'content-length': 0, 'cache-control': 'no-store' });
  response.end();
}
