/**
 * The webhook function against a real HTTP endpoint: a redirect is not followed (the signed event would go where the
 * seller did not say), and the failure says what the endpoint answered, as for any other status, and which event of
 * which subscriber it was.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { createWebhookHandler } from '../../../lambdas/seller-notifications/webhook-handler.ts';

const elsewhere: string[] = [];
const server = createServer((request, response) => {
  if (request.url === '/elsewhere') elsewhere.push(request.method ?? '');
  response.writeHead(request.url === '/hook' ? 302 : 204, { location: '/elsewhere' }).end();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const SUBSCRIBER = 'license:arn:aws:license-manager::123456789012:license:l-1';

/** The handler calling the endpoint's `/hook` (which redirects), with what it logs and defers kept for the test. */
function hookHandler(maxReceiveCount?: number, url = `${base}/hook`) {
  const warnings: { message: string; details: Record<string, unknown> }[] = [];
  const logger = {
    warn: (message: string, details: Record<string, unknown>) => warnings.push({ message, details }),
  } as unknown as Logger;
  const deferred: number[] = [];
  const handler = createWebhookHandler({
    url,
    secret: () => Promise.resolve('secret'),
    retryLater: (_record, seconds) => Promise.resolve(void deferred.push(seconds)),
    clock: { now: () => new Date('2026-11-26T10:00:00Z') },
    logger,
    ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }),
  });
  const attempt = (receiveCount: number) =>
    handler({
      Records: [
        {
          messageId: 'm-1',
          body: JSON.stringify({ id: 'e-1', 'detail-type': 'Subscriber Ending', detail: { subscriberId: SUBSCRIBER } }),
          attributes: { ApproximateReceiveCount: `${receiveCount}` },
        },
      ],
    } as unknown as SQSEvent);
  return { attempt, warnings, deferred };
}

test('a redirect is a failed call, logged with its status, retried later and not followed', async () => {
  const { attempt, warnings, deferred } = hookHandler();

  expect(await attempt(1)).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
  expect(warnings).toEqual([
    {
      message: 'Webhook delivery failed; it will be retried',
      details: {
        eventId: 'e-1',
        detailType: 'Subscriber Ending',
        subscriberId: SUBSCRIBER,
        messageId: 'm-1',
        attempt: 1,
        errorMessage: 'the webhook answered 302 (a redirect, which is not followed)',
      },
    },
  ]);
  expect(deferred).toEqual([30]);
  expect(elsewhere).toEqual([]);
});

test("the queue's last attempt that fails is not deferred: it goes to the dead-letter queue at once, and says so", async () => {
  const { attempt, warnings, deferred } = hookHandler(3);

  await attempt(2);
  await attempt(3);
  expect(deferred).toEqual([60, 0]);
  expect(warnings.map(({ message }) => message)).toEqual([
    'Webhook delivery failed; it will be retried',
    'Webhook delivery failed for the last time; it goes to the dead-letter queue',
  ]);
});

test('an endpoint that cannot be reached is named by its cause, not "fetch failed" alone', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const { attempt, warnings } = hookHandler(undefined, `http://127.0.0.1:${port}/hook`);

  await attempt(1);
  expect(warnings).toEqual([
    expect.objectContaining({
      details: expect.objectContaining({
        eventId: 'e-1',
        errorMessage: `fetch failed (connect ECONNREFUSED 127.0.0.1:${port})`,
      }) as unknown,
    }),
  ]);
});

test('a body that is JSON but no event (null) is called like any other: the batch is not failed with it', async () => {
  const deferred: number[] = [];
  const handler = createWebhookHandler({
    url: `${base}/elsewhere`,
    secret: () => Promise.resolve('secret'),
    retryLater: (_record, seconds) => Promise.resolve(void deferred.push(seconds)),
    clock: { now: () => new Date('2026-11-26T10:00:00Z') },
    logger: { warn: () => undefined } as unknown as Logger,
  });
  const record = (messageId: string, body: string) => ({
    messageId,
    body,
    attributes: { ApproximateReceiveCount: '1' },
  });
  const delivered = elsewhere.length;

  const answer = await handler({
    Records: [record('m-null', 'null'), record('m-ok', JSON.stringify({ id: 'e-2' }))],
  } as unknown as SQSEvent);
  expect(answer).toEqual({ batchItemFailures: [] });
  expect(elsewhere.length - delivered).toBe(2);
});
