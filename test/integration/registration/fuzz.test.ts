/**
 * Thousands of malformed and hostile requests against the fulfillment URL and the registration page, through the local
 * gateway: every answer is a page (or one of API Gateway's own documented answers), never a 5xx or a stack trace, and
 * never echoes markup unescaped; and nothing is stored but what valid requests store. The requests follow from a seed
 * that every failure names: `FUZZ_SEED=<seed>` replays a run.
 */
import { Agent } from 'node:http';
import { relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, expect, test } from 'vitest';
import type { RegistrationDetails } from '../../../lambdas/core/subscriber.ts';
import { loadLocalConfig, projectRoot, withLocalAppUrls } from '../../../local/config.ts';
import {
  contentLengthExceeded,
  missingAuthenticationToken,
  requestTooLong,
} from '../../../local/gateway/gateway-responses.ts';
import type { HttpAnswer } from '../../../local/gateway/http-answer.ts';
import {
  formTokenOf,
  getRegistration,
  postFulfillment,
  postRegistration,
  sessionCookieOf,
} from '../../support/buyer.ts';
import { MARK_PREFIX, unescapedEchoes } from '../../support/hostile-input.ts';
import { cookieOf, HostileRequests, type Buyer, type HostileRequest } from '../../support/hostile-requests.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { sendRaw, type RawAnswer } from '../../support/raw-http.ts';
import { SeededRandom, seedFrom } from '../../support/seeded-random.ts';

const seed = seedFrom('FUZZ_SEED', 1);
const replay = `seed ${seed} (replay: FUZZ_SEED=${seed} npx vitest run ${relative(projectRoot, import.meta.filename)})`;
const random = new SeededRandom(seed);
// API Gateway may hand a body to the handlers as text or base64, depending on the API's binary media types.
const bodyEncoding = random.pick(['never', 'binary', 'always'] as const);
const local = useLocalStack({ bodyEncoding });

const HOSTILE_REQUESTS = 3_300;
const CONCURRENCY = 16;
const OPEN_BUYERS = 8;
const REGISTERED_BUYERS = 4;
const PRODUCTS = ['analytics-pro-example', 'data-suite-legacy-example'];
const config = loadLocalConfig();

const open: Buyer[] = [];
const registered: Buyer[] = [];
/** What each registered buyer registered with: hostile, yet valid for every field. */
const registrations = new Map<string, RegistrationDetails>();

async function arrive(productCode: string, offerType: 'standard' | 'free-trial'): Promise<Buyer> {
  const { license, registrationToken } = await local.control.createLicense({ productCode, offerType });
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, {
    'x-amzn-marketplace-token': registrationToken,
    ...(offerType === 'free-trial' ? { 'x-amzn-marketplace-offer-type': 'free-trial' } : {}),
  });
  const cookie = sessionCookieOf(arrival);
  return {
    subscriberId:
      license.licenseArn === undefined
        ? `legacy:${productCode}:${license.customerIdentifier}`
        : `license:${license.licenseArn}`,
    registrationToken,
    cookieName: cookie.slice(0, cookie.indexOf('=')),
    sessionId: cookie.slice(cookie.indexOf('=') + 1),
    formToken: formTokenOf((await getRegistration(registerUrl(), cookie)).body),
  };
}

const registerUrl = () => `${local.stack.apiUrl}/register`;
/** Where a registered free-trial buyer goes, as the local stack serves it (the stand-in app for cdk.json's example). */
const trialLandingUrl = () => {
  const { registration } = withLocalAppUrls(config, local.stack.webhookReceiver.appUrl);
  return registration.freeTrialLandingUrl ?? registration.appUrl;
};

beforeAll(async () => {
  for (let index = 0; index < OPEN_BUYERS; index++) {
    open.push(await arrive(PRODUCTS[index % 2]!, index % 3 === 0 ? 'free-trial' : 'standard'));
  }
  for (let index = 0; index < REGISTERED_BUYERS; index++) {
    const buyer = await arrive(PRODUCTS[index % 2]!, 'standard');
    const mark = `${MARK_PREFIX}registered${index}Z`;
    const details = {
      company: `<script>alert('${mark}')</script>`,
      contactName: `"><img src=x onerror=alert('${mark}')>`,
      // Emails refuse markup characters outright; the mark still lets the test find where it went.
      email: `${mark}+onload@example.com`,
      phone: '+1 (555) 010-0100',
    };
    const answer = await postRegistration(registerUrl(), cookieOf(buyer), { formToken: buyer.formToken, ...details });
    expect(answer.status, `registering a buyer with hostile but valid details; ${replay}`).toBe(303);
    registered.push(buyer);
    registrations.set(buyer.subscriberId, details);
  }
});

// 3,300 requests took 19 s at light load; the limit only ends a run that hangs, on a machine many times busier.
test(`hostile requests get pages: no 5xx, no stack trace, no unescaped echo (seed ${seed})`, async () => {
  const requests = new HostileRequests(random, {
    fulfillmentPath: new URL(local.stack.fulfillmentUrl).pathname,
    registerPath: new URL(registerUrl()).pathname,
    stage: new URL(local.stack.apiUrl).pathname.slice(1),
    requiredFields: config.registration.requiredFields,
    freeTrialLandingUrl: trialLandingUrl(),
    open,
    registered,
  });
  const cases = [...Array.from({ length: HOSTILE_REQUESTS }, () => requests.next()), ...requests.overGatewayLimits()];
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const index = next++;
      const hostile = cases[index]!;
      const where = `#${index} ${hostile.kind} (${hostile.request.method} ${hostile.request.path.slice(0, 60)})`;
      try {
        const answer = await sendRaw(local.stack.apiUrl, hostile.request, agent);
        problems.push(...problemsWith(hostile, answer).map((problem) => `${where}: ${problem}`));
      } catch (error) {
        problems.push(`${where}: no answer: ${String(error)}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy();
  }
  expect(cases.length).toBeGreaterThanOrEqual(3_000);
  expect(problems.slice(0, 30), `${problems.length} of ${cases.length} answers broke a rule; ${replay}`).toEqual([]);
}, 600_000);

const RESOLVED_TOKEN_ATTRIBUTES = [
  'pk',
  'sk',
  'productCode',
  'licenseArn',
  'customerIdentifier',
  'customerAWSAccountId',
  'resolvedAt',
  'expiresAt',
];

test(`nothing is stored but these buyers, their sessions, tokens and the registrations they completed (seed ${seed})`, async () => {
  const ours = new Set([...open, ...registered].map((buyer) => buyer.subscriberId));
  const problems: string[] = [];
  let subscribers = 0;
  for (const item of await local.subscriberItems()) {
    const { registration, ...rest } = item as { registration?: { details: unknown }; [name: string]: unknown };
    const where = String(item.pk);
    if (item.sk === 'RESOLVED_TOKEN') {
      // What a buyer's token resolved to, kept for the token sent again: it names one of these buyers, and no more.
      const names = [
        `license:${String(item.licenseArn)}`,
        `legacy:${String(item.productCode)}:${String(item.customerIdentifier)}`,
      ];
      if (!names.some((name) => ours.has(name))) problems.push(`${where}: a token of none of this test's buyers`);
      const attributes = Object.keys(item).filter((name) => !RESOLVED_TOKEN_ATTRIBUTES.includes(name));
      if (attributes.length > 0) problems.push(`${where}: ${attributes.join()}`);
    } else if (!ours.has(item.subscriberId as string)) problems.push(`${where}: not one of this test's buyers`);
    if (item.sk === 'SUBSCRIBER') {
      subscribers++;
      if (!isDeepStrictEqual(registration?.details, registrations.get(item.subscriberId as string))) {
        problems.push(`${where}: registration ${JSON.stringify(registration)}`);
      }
      if (!['standard', 'free-trial'].includes(item.offerType as string)) problems.push(`${where}: offer type`);
    } else if (item.sk === 'SESSION') {
      const attributes = Object.keys(item).sort().join();
      if (attributes !== 'createdAt,expiresAt,formToken,pk,sk,subscriberId') problems.push(`${where}: ${attributes}`);
    } else if (item.sk !== 'RESOLVED_TOKEN') {
      problems.push(`${where}: an item of no known kind`);
    }
    const text = JSON.stringify(rest);
    if (text.includes(MARK_PREFIX) || /[<>]/.test(text)) problems.push(`${where}: holds a payload: ${text}`);
  }
  expect(problems, replay).toEqual([]);
  expect(subscribers, replay).toBe(OPEN_BUYERS + REGISTERED_BUYERS);
});

const GATEWAY_ANSWERS: readonly HttpAnswer[] = [
  missingAuthenticationToken(),
  requestTooLong(),
  contentLengthExceeded(10_485_760),
];
const STACK_TRACE = /\n\s+at \S.*:\d+:\d+|node:internal|\.ts:\d+|\b(?:Type|Reference|Range|Syntax)Error\b/;

function problemsWith({ request, payloads, expected }: HostileRequest, answer: RawAnswer): string[] {
  const problems: string[] = [];
  const body = answer.body.toString('utf8');
  const heading = /<h1>(.*?)<\/h1>/.exec(body)?.[1] ?? body.slice(0, 100);
  const summary = `${answer.status} ${answer.headers['content-type'] ?? '(no type)'} ${JSON.stringify(heading)}`;
  if (answer.status >= 500) problems.push(`a server error: ${summary}`);
  if (expected !== undefined) {
    if (answer.status !== expected.status) problems.push(`status ${answer.status}, expected ${expected.status}`);
    if (expected.location !== undefined && !expected.location.includes(pageOf(answer))) {
      problems.push(`location ${answer.headers.location}, expected one of ${expected.location.join(', ')}`);
    }
    if (expected.says !== undefined && !body.includes(expected.says)) {
      problems.push(`no "${expected.says}": ${summary}`);
    }
  }
  if (!isPage(request.method, answer) && !isRedirect(answer) && !isGatewayAnswer(answer)) {
    problems.push(`neither a page nor a documented gateway answer: ${summary}`);
  }
  if (STACK_TRACE.test(body)) problems.push(`a stack trace: ${summary}`);
  problems.push(...unescapedEchoes(body, payloads));
  return problems;
}

/** An HTML page with the security headers; a HEAD request gets its headers only. */
function isPage(method: string, answer: RawAnswer): boolean {
  const body = answer.body.toString('utf8');
  return (
    answer.headers['content-type'] === 'text/html; charset=utf-8' &&
    (answer.headers['content-security-policy'] ?? '').includes("default-src 'none'") &&
    (method === 'HEAD' ? body === '' : /^<!doctype html>/.test(body) && /<\/html>\s*$/.test(body))
  );
}

/**
 * The fulfillment URL, and the registration page after a POST, send the browser on to the registration page (or a
 * registered free-trial buyer to the trial landing page).
 */
function isRedirect(answer: RawAnswer): boolean {
  const trialLanding = trialLandingUrl();
  return answer.status === 303 && ['register', trialLanding].includes(pageOf(answer)) && answer.body.length === 0;
}

/** The page a redirect sends the browser to, without its query (the registration page's names a product). */
function pageOf(answer: RawAnswer): string {
  return String(answer.headers.location).split('?')[0]!;
}

function isGatewayAnswer(answer: RawAnswer): boolean {
  return GATEWAY_ANSWERS.some((known) => known.statusCode === answer.status && known.body.equals(answer.body));
}
