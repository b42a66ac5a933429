/**
 * The seller's webhook, locally: an HTTP server that takes the signed calls the webhook function makes with every
 * event on the seller's bus and checks each signature as the seller's app should (`verifyWebhookSignature`: the shared
 * secret, over the exact body, with a recent timestamp). It answers 401 to a forged or stale call and 204 otherwise,
 * and keeps every call with its verdict: `GET /events` lists them, oldest first. `PUT /faults {"calls": n}` makes the
 * next n genuine calls fail with 503, as an app that is down would, to watch the webhook's retries. `GET /app/...` is the
 * seller's app itself, standing in for the example app URLs (`stand-in-app-page.ts`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../lambdas/core/webhook-signature.ts';
import { listen } from './http/listen.ts';
import { handledRequests } from './http/request-handler.ts';
import { readBody, RequestTooLargeError } from './http/read-body.ts';
import { sendJson } from './http/send-json.ts';
import { isRegistration, standInAppPage } from './stand-in-app-page.ts';

/** `valid`; `stale`: signed with the secret, but not recently (a replay, or a clock far off); `invalid`: forged. */
export type SignatureVerdict = 'valid' | 'stale' | 'invalid';

export interface WebhookCall {
  readonly receivedAt: string;
  /** The `x-marketplace-event-id` header: the event's id, the same on every retry. */
  readonly eventId: string | undefined;
  readonly signature: SignatureVerdict;
  /** The status it was answered with. */
  readonly status: number;
  /** The body, parsed when it is JSON. */
  readonly body: unknown;
}

export interface WebhookReceiverOptions {
  /** The signing secret the webhook function shares with this receiver. */
  readonly secret: string;
  readonly port?: number;
  readonly host?: string;
  /**
   * Paths of the stand-in app (`/app/...`) a buyer is sent to right after registering (the free-trial landing page).
   * The browser gets there before the `Subscriber Registered` call does, so these wait for it (a few seconds at most)
   * before showing who just registered, rather than show the buyer before.
   */
  readonly registrationLandingPaths?: readonly string[];
}

export interface WebhookReceiver {
  /** Where the webhook function calls: `http://127.0.0.1:4030/webhook`. */
  readonly url: string;
  /** The address of its listing, `GET /events`. */
  readonly eventsUrl: string;
  /** Where the stand-in for the seller's app answers (`GET /app/<any path>`): `http://127.0.0.1:4030/app`. */
  readonly appUrl: string;
  calls(): readonly WebhookCall[];
  /** The next `calls` genuine calls are answered 503 (a forged one is still answered 401). */
  failNext(calls: number): void;
  close(): Promise<void>;
}

const WEBHOOK_PATH = '/webhook';
/** Where the stand-in for the seller's app answers. */
export const STAND_IN_APP_PATH = '/app';
/** EventBridge's largest event. */
const MAX_BODY_BYTES = 256 * 1024;
const faultsInput = z.strictObject({ calls: z.number().int().min(0) });
/**
 * How long a landing page waits for the registration's webhook call. Only a call made after the page was asked for
 * counts (one made before may be the previous buyer's); in the rare case the call beat the browser, the page shows it
 * after the wait.
 */
const REGISTRATION_WAIT_MS = 5_000;

export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const received: WebhookCall[] = [];
  let failuresToInject = 0;

  /** Resolves once a `Subscriber Registered` call received since `since` is there, or after the wait. */
  async function registrationSince(since: number): Promise<void> {
    const giveUpAt = Date.now() + REGISTRATION_WAIT_MS;
    const arrived = () => received.some((call) => Date.parse(call.receivedAt) >= since && isRegistration(call));
    while (!arrived() && Date.now() < giveUpAt) await sleep(50);
  }

  function receive(request: IncomingMessage, body: string): number {
    const header = request.headers[SIGNATURE_HEADER];
    const signature = verdictOf(options.secret, typeof header === 'string' ? header : undefined, body, new Date());
    const eventId = request.headers[EVENT_ID_HEADER];
    let status = signature === 'valid' ? 204 : 401;
    // An app that is down fails the webhook's calls; a forged one is still refused, and uses up none of the failures.
    if (status === 204 && failuresToInject > 0) {
      failuresToInject--;
      status = 503;
    }
    received.push({
      receivedAt: new Date().toISOString(),
      eventId: typeof eventId === 'string' ? eventId : undefined,
      signature,
      status,
      body: parsedIfJson(body),
    });
    return status;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const route = `${request.method ?? ''} ${path}`;
    if (path === STAND_IN_APP_PATH || path?.startsWith(`${STAND_IN_APP_PATH}/`)) {
      if (request.method !== 'GET')
        return send(response, 405, { message: `${request.method ?? ''} is not allowed on ${path}` });
      if (options.registrationLandingPaths?.includes(path)) await registrationSince(Date.now());
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(standInAppPage(request.url ?? STAND_IN_APP_PATH, received));
      return;
    }
    if (path !== WEBHOOK_PATH && path !== '/events' && path !== '/faults')
      return send(response, 404, { message: `Nothing at ${path}` });
    let body: string;
    try {
      body = (await readBody(request, MAX_BODY_BYTES)).toString('utf8');
    } catch (error) {
      if (error instanceof RequestTooLargeError) return send(response, 413, { message: error.message });
      throw error;
    }
    if (route === `POST ${WEBHOOK_PATH}`) return send(response, receive(request, body));
    if (route === 'GET /events') return send(response, 200, { calls: received });
    if (route === 'PUT /faults') {
      const parsed = faultsInput.safeParse(parsedIfJson(body));
      if (!parsed.success) return send(response, 400, { message: z.prettifyError(parsed.error) });
      failuresToInject = parsed.data.calls;
      return send(response, 200, { calls: failuresToInject });
    }
    send(response, 405, { message: `${request.method ?? ''} is not allowed on ${path}` });
  }

  const server = createServer(handledRequests('webhook receiver', handle));
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${WEBHOOK_PATH}`,
    eventsUrl: `${origin}/events`,
    appUrl: `${origin}${STAND_IN_APP_PATH}`,
    calls: () => received,
    failNext: (calls) => {
      failuresToInject = calls;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function verdictOf(secret: string, header: string | undefined, body: string, now: Date): SignatureVerdict {
  if (verifyWebhookSignature(secret, header, body, now)) return 'valid';
  // The same check with no limit on the timestamp's age tells a replayed call from a forged one.
  return verifyWebhookSignature(secret, header, body, now, Infinity) ? 'stale' : 'invalid';
}

/** The body as JSON when it is JSON that `GET /events` can write back (not nested thousands deep), else its text. */
function parsedIfJson(text: string): unknown {
  try {
    const parsed = JSON.parse(text) as unknown;
    JSON.stringify(parsed);
    return parsed;
  } catch {
    return text;
  }
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  sendJson(response, status, body);
}
