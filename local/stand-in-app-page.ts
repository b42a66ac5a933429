/**
 * The seller's app, locally: the example app URLs of `cdk.json` (`registration.appUrl`, `freeTrialLandingUrl`, on
 * example.com) land on this page of the local webhook receiver rather than on a browser error. It shows what the real
 * app would have at that moment: the address the buyer came to (path and query), and who the buyer is as the app
 * learns it, from the `Subscriber Registered` webhook call it was just sent.
 */
import type { RegistrationField } from '../contracts/index.ts';
import { fieldRules } from '../lambdas/core/registration-form.ts';
import { html, type SafeHtml } from '../lambdas/registration/html.ts';
import type { WebhookCall } from './webhook-receiver.ts';

interface RegisteredDetail {
  readonly subscriberId?: string;
  readonly productCode?: string;
  readonly offerType?: string;
  readonly customerAWSAccountId?: string;
  readonly customerIdentifier?: string;
  readonly registeredAt?: string;
  readonly contact?: Readonly<Record<string, string>>;
}

export function standInAppPage(requestTarget: string, calls: readonly WebhookCall[]): string {
  const url = new URL(requestTarget, 'http://stand-in');
  const latest = latestRegistration(calls);
  const rows = (entries: readonly (readonly [string, string | undefined])[]): SafeHtml =>
    html`${entries
      .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
      .map(([name, value]) => html`<tr><th scope="row">${name}</th><td>${value}</td></tr>`)}`;
  const query = [...url.searchParams.entries()];
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Your app (local stand-in)</title>
        <!-- No icon to fetch: the receiver has none, and a browser would log the 404. -->
        <link rel="icon" href="data:," />
        <!-- Long ids and addresses wrap, so that a phone's page does not scroll sideways. -->
        <style>
          body {
            font-family: system-ui, sans-serif;
            margin: 1rem;
          }
          th,
          td,
          code {
            overflow-wrap: anywhere;
            text-align: left;
            vertical-align: top;
          }
        </style>
      </head>
      <body>
        <main>
          <h1>Your app (local stand-in)</h1>
          <p>
            In AWS the buyer is now on your app, at the address configured in <code>cdk.json</code>. Locally, the
            example addresses (on example.com) come here instead.
          </p>
          <h2>The request your app would get</h2>
          <table>
            ${rows([['Path', url.pathname.replace(/^\/app/, '') || '/']])}
            ${query.length === 0 ? rows([['Query', '(none)']]) : rows(query.map(([name, value]) => [`Query ${name}`, value]))}
          </table>
          <h2>Who just registered</h2>
          ${
            latest === undefined
              ? html`<p>No Subscriber Registered webhook call taken yet.</p>`
              : html`<p>From the latest Subscriber Registered webhook call (your app's way of knowing):</p>
                <table>
                  ${rows([
                    ['Subscriber id', latest.subscriberId],
                    ['Product', latest.productCode],
                    ['Offer', latest.offerType],
                    ['Customer AWS account', latest.customerAWSAccountId],
                    ['Customer identifier', latest.customerIdentifier],
                    ['Registered at', latest.registeredAt],
                    ...Object.entries(latest.contact ?? {}).map(
                      ([name, value]) => [contactLabel(name), value] as const,
                    ),
                  ])}
                </table>`
          }
        </main>
      </body>
    </html>`.text;
}

/** A contact field as the registration form labels it (`Contact name`, not `contactName`). */
function contactLabel(name: string): string {
  return Object.hasOwn(fieldRules, name) ? fieldRules[name as RegistrationField].label : name;
}

function latestRegistration(calls: readonly WebhookCall[]): RegisteredDetail | undefined {
  const latest = [...calls].reverse().find(isRegistration);
  return (latest?.body as { detail?: RegisteredDetail } | undefined)?.detail;
}

/**
 * A genuine `Subscriber Registered` call the app took: how the app learns who registered. One it failed (down, as
 * `PUT /faults` makes it) taught it nothing; the webhook's retry will.
 */
export function isRegistration(call: WebhookCall): boolean {
  const body = call.body as { 'detail-type'?: string } | undefined;
  return call.signature === 'valid' && call.status < 300 && body?.['detail-type'] === 'Subscriber Registered';
}
