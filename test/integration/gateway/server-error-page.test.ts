/** A gateway configured with the deployed API's gateway responses answers its own 5xx with the page, as AWS does. */
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { BUYER_RETRY_AFTER_SECONDS } from '../../../contracts/index.ts';
import { TRY_AGAIN_PAGE, tryAgainPageHeaders } from '../../../lib/try-again-page.ts';
import { startLocalGateway, type RunningGateway } from '../../../local/gateway/server.ts';

let gateway: RunningGateway;

beforeAll(async () => {
  gateway = await startLocalGateway({
    integrationTimeoutMs: 100,
    serverErrorPage: {
      html: TRY_AGAIN_PAGE,
      headers: tryAgainPageHeaders,
      retryAfterSeconds: BUYER_RETRY_AFTER_SECONDS,
    },
    routes: [
      { method: 'GET', path: '/crash', handler: () => Promise.reject(new Error('boom')) },
      { method: 'GET', path: '/slow', handler: () => new Promise(() => undefined) },
      { method: 'GET', path: '/fine', handler: () => Promise.resolve({ statusCode: 404, body: 'nope' }) },
    ],
  });
});
afterAll(() => gateway.close());

test('a crashing function and a timeout get the page with its headers; a timeout also Retry-After', async () => {
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const crash = await fetch(`${gateway.url}/crash`);
  expect(crash.status).toBe(502);
  expect(crash.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(crash.headers.get('content-security-policy')).toBe(tryAgainPageHeaders['content-security-policy']);
  expect(await crash.text()).toBe(TRY_AGAIN_PAGE);
  expect(crash.headers.get('retry-after')).toBeNull();

  const slow = await fetch(`${gateway.url}/slow`);
  expect(slow.status).toBe(504);
  expect(slow.headers.get('retry-after')).toBe(String(BUYER_RETRY_AFTER_SECONDS));
  expect(await slow.text()).toBe(TRY_AGAIN_PAGE);
});

test('answers below 500, the function’s own or the gateway’s, are left alone', async () => {
  expect(await (await fetch(`${gateway.url}/fine`)).text()).toBe('nope');
  const unknown = await fetch(`${gateway.url}/nowhere`);
  expect(unknown.status).toBe(403);
  expect(await unknown.text()).toBe('{"message":"Missing Authentication Token"}');
});
