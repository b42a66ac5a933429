/**
 * The pages a buyer sees: the registration form, the confirmation, and a plain-language page for every way the
 * journey can fail, each saying what to do next. Server-rendered, escaped (see `html.ts`), readable on a phone,
 * usable with a keyboard and a screen reader, with no script and no resource from anywhere but the seller's logo.
 */
import type { RegistrationField, RegistrationSettings } from '../core/environment.ts';
import { fieldRules, type FieldErrors } from '../core/registration-form.ts';
import type { RegistrationDetails, SubscriptionStatus } from '../core/subscriber.ts';
import { html, SafeHtml } from './html.ts';
import { REGISTRATION_FIELDS } from '../../contracts/index.ts';

export interface Branding {
  /** The product the page is about; unknown on pages shown before the token is resolved. */
  readonly productName?: string | undefined;
  readonly settings: RegistrationSettings;
}

/**
 * The one stylesheet, inline (the Content-Security-Policy admits it by hash). Text contrast is at least 4.5:1, the
 * focus ring's at least 3:1, and long words and addresses wrap rather than widen a phone's page.
 */
export const STYLESHEET = `
*{box-sizing:border-box}
body{margin:0;font:1rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;overflow-wrap:anywhere}
header,main,footer{max-width:38rem;margin:0 auto;padding:1rem}
header{display:flex;align-items:center;gap:.75rem;border-bottom:1px solid #d0d0d0}
header img{max-height:2.5rem;max-width:8rem}
header p{margin:0;font-weight:600}
h1{font-size:1.5rem;line-height:1.25}
a{color:#0b4fb3}
label{display:block;font-weight:600;margin-top:1rem}
.hint{font-weight:400;color:#4a4a4a}
input{display:block;width:100%;margin-top:.25rem;padding:.6rem;font:inherit;border:2px solid #5c5c5c;border-radius:4px}
input[aria-invalid=true]{border-color:#b00020}
.error{color:#b00020;margin:.25rem 0 0}
button{margin-top:1.5rem;padding:.75rem 1.5rem;font:inherit;font-weight:600;color:#fff;background:#0b4fb3;border:0;border-radius:4px;cursor:pointer}
:focus-visible{outline:3px solid #1a1a1a;outline-offset:2px}
.status{padding:.75rem;border-left:4px solid #0b4fb3;background:#f0f4fb}
.account{color:#4a4a4a}
.summary{padding:.75rem;border:2px solid #b00020}
footer{color:#4a4a4a;border-top:1px solid #d0d0d0;margin-top:2rem}
`;

function layout(branding: Branding, title: string, content: SafeHtml): SafeHtml {
  const { settings, productName } = branding;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}${productName ? ` - ${productName}` : ''}</title>
        <style>${new SafeHtml(STYLESHEET)}</style>
      </head>
      <body>
        <header>
          ${settings.logoUrl ? html`<img src="${settings.logoUrl}" alt="" />` : ''}
          <p>${productName ?? 'Account setup'}</p>
        </header>
        <main>
          <h1>${title}</h1>
          ${content}
        </main>
        <footer>${supportContact(settings)}</footer>
      </body>
    </html>`;
}

function supportContact(settings: RegistrationSettings): SafeHtml {
  const ways = [
    settings.supportEmail ? html`email <a href="mailto:${settings.supportEmail}">${settings.supportEmail}</a>` : '',
    settings.supportUrl ? html`visit <a href="${settings.supportUrl}">${settings.supportUrl}</a>` : '',
  ].filter((way) => way !== '');
  return ways.length === 0 ? html`` : html`<p>Need help? ${joinWithOr(ways)}.</p>`;
}

function joinWithOr(parts: readonly (SafeHtml | string)[]): SafeHtml {
  return html`${parts.map((part, index) => html`${index > 0 ? ' or ' : ''}${part}`)}`;
}

/** How to get back here with a fresh token: Marketplace's own "Set up" button. */
function startAgain(productName: string | undefined): SafeHtml {
  return html`<p>
    To start again, sign in to the
    <a href="https://console.aws.amazon.com/marketplace/home#/subscriptions">AWS Marketplace console</a>, open
    <strong>Manage subscriptions</strong>, choose
    ${productName ? html`<strong>${productName}</strong>` : 'this product'} and choose <strong>Set up product</strong>.
    AWS Marketplace then brings you back here.
  </p>`;
}

interface ProblemPage {
  readonly status: number;
  readonly title: string;
  /** `registerHref`: the registration page, relative to the address the page is served at. */
  readonly body: (productName: string | undefined, registerHref: string) => SafeHtml;
}

/** Every way the journey can fail: its HTTP status, and a page that says what happened and what to do next. */
const problems = {
  'missing-token': {
    status: 400,
    title: 'We could not find your subscription',
    body: (productName) =>
      html`<p>This address is where AWS Marketplace sends you after you subscribe, and the details it sends were
          missing.</p>
        ${startAgain(productName)}`,
  },
  'invalid-token': {
    status: 400,
    title: 'This sign-up link is not valid',
    body: (productName) =>
      html`<p>AWS Marketplace did not recognise the details it sent with you.</p>
        ${startAgain(productName)}`,
  },
  'expired-token': {
    status: 400,
    title: 'This sign-up link has expired',
    body: (productName) =>
      html`<p>The link from AWS Marketplace is only valid for a short time, and it has run out or was already
          used.</p>
        ${startAgain(productName)}`,
  },
  'bad-encoding': {
    status: 400,
    title: 'We could not read that request',
    body: (productName) =>
      html`<p>Your browser sent the form in a way we cannot read.</p>
        ${startAgain(productName)}`,
  },
  'no-session': {
    status: 403,
    title: 'We could not find your session',
    body: (productName) =>
      html`<p>This page needs a cookie that links it to your AWS Marketplace subscription. Please allow cookies for
          this site.</p>
        ${startAgain(productName)}`,
  },
  'session-expired': {
    status: 403,
    title: 'Your session has expired',
    body: (productName) =>
      html`<p>For your security, the link between AWS Marketplace and this page lasts a limited time.</p>
        ${startAgain(productName)}`,
  },
  'several-sessions': {
    status: 403,
    title: 'We cannot tell which subscription this is',
    body: (productName) =>
      html`<p>This browser holds more than one sign-up session for this site, and this address does not say which one
          it is for. Please go back to the page you were on.</p>
        ${startAgain(productName)}`,
  },
  'form-expired': {
    status: 403,
    title: 'This form has expired',
    body: (_, registerHref) =>
      html`<p>Please <a href="${registerHref}">reload the registration page</a> and submit it again.</p>`,
  },
  'unknown-product': {
    status: 404,
    title: 'This product is not set up here',
    body: () =>
      html`<p>Your subscription is for a product this site does not handle. Please contact the seller so they can fix
          their listing; your subscription itself is fine.</p>`,
  },
  'fulfillment-method': {
    status: 405,
    title: 'Start from AWS Marketplace',
    body: (productName) =>
      html`<p>This address receives buyers from AWS Marketplace; it cannot be opened directly, bookmarked or
          refreshed.</p>
        ${startAgain(productName)}`,
  },
  'registration-method': {
    status: 405,
    title: 'This page cannot do that',
    body: (_, registerHref) =>
      html`<p>Please <a href="${registerHref}">open the registration page</a> and use its form.</p>`,
  },
  'subscription-failed': {
    status: 409,
    title: 'This subscription cannot be set up',
    body: () =>
      html`<p>AWS Marketplace could not complete this subscription (for example, a payment problem), so there is
          nothing to set up.</p>
        <p>Check your payment method in the
          <a href="https://console.aws.amazon.com/billing/home#/paymentmethods">AWS Billing console</a>, then subscribe
          again in <a href="https://console.aws.amazon.com/marketplace/home">AWS Marketplace</a>.</p>`,
  },
  'too-large': {
    status: 413,
    title: 'That request was too large',
    body: (productName) =>
      html`<p>Your browser sent more data than this form accepts.</p>
        ${startAgain(productName)}`,
  },
  'form-too-large': {
    status: 413,
    title: 'That form was too large',
    body: (_, registerHref) =>
      html`<p>What you entered is longer than this form accepts. Go back, shorten it and send it again, or
          <a href="${registerHref}">open the registration page</a> again.</p>`,
  },
  'wrong-content-type': {
    status: 415,
    title: 'We could not read that request',
    body: (productName) =>
      html`<p>Your browser sent the form in a way we cannot read.</p>
        ${startAgain(productName)}`,
  },
  'internal-error': {
    status: 500,
    title: 'Something went wrong on our side',
    body: (productName) =>
      html`<p>Nothing you did caused this. If it keeps happening, contact us below.</p>
        ${startAgain(productName)}`,
  },
  'marketplace-unavailable': {
    status: 503,
    title: 'Please try again in a minute',
    body: (productName) =>
      html`<p>AWS Marketplace is not answering right now, so we could not confirm your subscription yet. Nothing is
          lost: in a minute, go back to AWS Marketplace and choose <strong>Set up your account</strong> again.</p>
        ${startAgain(productName)}`,
  },
  busy: {
    status: 503,
    title: 'Please try again in a minute',
    body: (productName) =>
      html`<p>We could not finish this just now: our service is busy or briefly unavailable. Nothing is lost: please try
          again in a minute.</p>
        ${startAgain(productName)}`,
  },
} satisfies Record<string, ProblemPage>;

export type Problem = keyof typeof problems;

export function problemPage(
  problem: Problem,
  branding: Branding,
  registerHref = 'register',
): { status: number; page: SafeHtml } {
  const { status, title, body } = problems[problem];
  return { status, page: layout(branding, title, body(branding.productName, registerHref)) };
}

const statusText: Record<SubscriptionStatus | 'unknown', string> = {
  unknown: 'AWS Marketplace is confirming your subscription. You can complete your details now.',
  pending: 'AWS Marketplace is confirming your subscription. You can complete your details now.',
  active: 'Your subscription is active.',
  ending: 'Your subscription has ended.',
  ended: 'Your subscription has ended.',
  failed: 'AWS Marketplace could not complete your subscription (for example, a payment problem).',
};

export function subscriptionStatusText(status: SubscriptionStatus | undefined): string {
  return statusText[status ?? 'unknown'];
}

/** Whom the subscription belongs to, so a buyer sent here by someone else's link notices before filling anything in. */
function accountLine(customerAWSAccountId: string | undefined): SafeHtml | '' {
  if (customerAWSAccountId === undefined) return '';
  return html`<p class="account">This subscription belongs to the AWS account ending in
      <strong>${customerAWSAccountId.slice(-4)}</strong>. If that is not your account, do not continue.</p>`;
}

const autocomplete: Record<RegistrationField, { type: string; autocomplete: string }> = {
  company: { type: 'text', autocomplete: 'organization' },
  contactName: { type: 'text', autocomplete: 'name' },
  email: { type: 'email', autocomplete: 'email' },
  phone: { type: 'tel', autocomplete: 'tel' },
};

export interface FormPage {
  /** Where the form posts: the registration page, relative to the address it is served at. */
  readonly action: string;
  readonly status: SubscriptionStatus | undefined;
  readonly customerAWSAccountId: string | undefined;
  readonly signInUrl: string;
  readonly formToken: string;
  readonly required: readonly RegistrationField[];
  readonly values?: RegistrationDetails;
  readonly errors?: FieldErrors;
  /** What to say above the form of a submission that was not saved, besides its errors. */
  readonly notice?: string;
}

export function registrationFormPage(branding: Branding, form: FormPage): SafeHtml {
  const errors = form.errors ?? {};
  const failed = Object.keys(errors) as RegistrationField[];
  const fields = (Object.keys(autocomplete) as RegistrationField[]).map((field) => {
    const rule = fieldRules[field];
    const error = errors[field];
    const required = form.required.includes(field);
    return html`<label for="${field}"
        >${rule.label}${required ? '' : html` <span class="hint">(optional)</span>`}</label
      >
      ${error ? html`<p class="error" id="${field}-error">${error}</p>` : ''}
      <input
        id="${field}"
        name="${field}"
        type="${autocomplete[field].type}"
        autocomplete="${autocomplete[field].autocomplete}"
        maxlength="${rule.maxLength}"
        value="${form.values?.[field] ?? ''}"
        ${required ? html` required` : ''}${error ? html` aria-invalid="true" aria-describedby="${field}-error"` : ''}
      />`;
  });
  return layout(
    branding,
    `${failed.length > 0 ? 'Error: ' : ''}Set up your account`,
    html`<p class="status">${subscriptionStatusText(form.status)}</p>
      ${accountLine(form.customerAWSAccountId)}
      <p>Already have an account? <a href="${form.signInUrl}">Sign in</a>.</p>
      ${
        failed.length > 0 || form.notice !== undefined
          ? // Focused on load, so that a screen reader starts with what went wrong (no script needed).
            html`<div class="summary" role="alert" tabindex="-1" autofocus>
              ${form.notice === undefined ? '' : html`<p>${form.notice}</p>`}
              ${
                failed.length > 0
                  ? html`<p>Please correct ${failed.length === 1 ? 'this field' : 'these fields'}:</p>
                      <ul>
                        ${failed.map((field) => html`<li><a href="#${field}">${fieldRules[field].label}: ${errors[field]}</a></li>`)}
                      </ul>`
                  : ''
              }
            </div>`
          : ''
      }
      <form method="post" action="${form.action}" novalidate>
        <input type="hidden" name="formToken" value="${form.formToken}" />
        ${fields}
        <button type="submit">Complete registration</button>
      </form>`,
  );
}

/**
 * A subscription that is over for the buyer (cancelled, expired or terminated): since `at` (when known), and whether it
 * was a free trial.
 */
export interface SubscriptionEnd {
  readonly at: string | undefined;
  readonly freeTrial: boolean;
  /** Whether Marketplace ever confirmed the start: cancelled before that, nothing was billable. */
  readonly started: boolean;
}

/** A time as a buyer anywhere reads it, in UTC: `26 November 2026 at 13:34 UTC`. */
const readableUtc = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'UTC',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
});

function endTime(at: string): SafeHtml {
  return html`<strong><time datetime="${at}">${readableUtc.format(new Date(at))} UTC</time></strong>`;
}

/**
 * After a cancellation, whether or not the buyer registered: when the subscription ended and what happens next, in
 * place of the registration page. There is nothing left to set up, and nothing left to use: usage after the end
 * cannot be billed, so access ends with it (the access check answers `allowed: false` from then on).
 */
export function subscriptionEndPage(branding: Branding, end: SubscriptionEnd): SafeHtml {
  const product = branding.productName ?? 'the product';
  const subscribeAgain = html`<a href="https://console.aws.amazon.com/marketplace/home#/subscriptions"
    >AWS Marketplace</a
  >`;
  // Cancelled, expired or terminated, it is over for the buyer either way; Marketplace's closing of the books
  // (`ending`) is no concern of theirs. A free trial may have turned into a paid subscription before it ended, so what
  // is charged is said for both. An unconfirmed one may yet be confirmed (notifications arrive in any order): the page
  // says what has been charged so far, and changes with the facts.
  const charged = !end.started
    ? html`Nothing has been charged: AWS Marketplace had not confirmed the subscription when it was cancelled.`
    : end.freeTrial
      ? html`Use during the free trial is not charged. If the trial became a paid subscription before the end, use after
        the trial, up to the end, is charged on your AWS bill, through AWS Marketplace.`
      : html`Your use up to the end is charged on your AWS bill, through AWS Marketplace; nothing after it is.`;
  return layout(
    branding,
    'Your subscription has ended',
    html`<p class="status">${subscriptionStatusText('ended')}</p>
      ${end.at === undefined ? '' : html`<p>It ended on ${endTime(end.at)}.</p>`}
      <h2>What happens next</h2>
      <ul>
        <li>You can no longer use ${product} with this subscription.</li>
        <li>${charged}</li>
        <li>To use ${product} again, subscribe again in ${subscribeAgain}.</li>
      </ul>`,
  );
}

/**
 * A form sent after the subscription was already set up with other details (a second tab, another person with the
 * link): those details stand, and the buyer is told so rather than sent on as if theirs had been saved.
 */
export function alreadyRegisteredPage(
  branding: Branding,
  registered: RegistrationDetails,
  status: 'pending' | 'active' | undefined,
  signInUrl: string,
): SafeHtml {
  const shown = REGISTRATION_FIELDS.filter((field) => registered[field] !== undefined).map(
    (field) => html`<li>${fieldRules[field].label}: ${registered[field]}</li>`,
  );
  return layout(
    branding,
    'Already set up',
    html`<p>This subscription was already set up, with these details:</p>
      <ul>
        ${shown}
      </ul>
      <p>The details you just sent were not saved. To change them, contact us below.</p>
      <p>${
        status === 'active'
          ? html`To use the product, sign in at <a href="${signInUrl}">${signInUrl}</a>.`
          : html`You can sign in at <a href="${signInUrl}">${signInUrl}</a> once AWS Marketplace confirms your
            subscription.`
      }</p>`,
  );
}

/**
 * After registration, while the subscription is pending or active (a cancelled one has `subscriptionEndPage`): when to
 * sign in depends on whether Marketplace has confirmed the subscription yet. Confirmation takes minutes; one still
 * missing much later (`overdue`) most likely will not come (a payment that failed, which a license-model product hears
 * of by no event at all), so the buyer is told where to look rather than to wait.
 */
export function registeredPage(
  branding: Branding,
  status: 'pending' | 'active' | undefined,
  signInUrl: string,
  overdue = false,
): SafeHtml {
  if (status === 'active') {
    return layout(
      branding,
      'You are set up',
      html`<p class="status">${subscriptionStatusText(status)}</p>
        <p>Your registration is complete.</p>
        <p>Sign in at <a href="${signInUrl}">${signInUrl}</a>.</p>`,
    );
  }
  if (overdue) {
    return layout(
      branding,
      'Your subscription is not confirmed yet',
      html`<p class="status">AWS Marketplace has not confirmed your subscription.</p>
        <p>Your registration is complete, but confirmation, which usually takes minutes, has not come: the subscription
          may not have gone through (for example, a payment problem). Check it under Manage subscriptions in
          <a href="https://console.aws.amazon.com/marketplace/home#/subscriptions">AWS Marketplace</a>. Once it is
          confirmed, sign in at <a href="${signInUrl}">${signInUrl}</a>.</p>`,
    );
  }
  return layout(
    branding,
    'You are set up',
    html`<p class="status">AWS Marketplace is confirming your subscription.</p>
      <p>Your registration is complete.</p>
      <p>You can sign in at <a href="${signInUrl}">${signInUrl}</a> as soon as AWS Marketplace confirms your
        subscription, usually within minutes.</p>`,
  );
}
