/**
 * `POST /usage` against DynamoDB Local, as API Gateway invokes it: per-event results for a readable request, a 4xx
 * naming the problem for one that is not, and a 503 with `Retry-After` (no stack trace, no body in the logs) when
 * DynamoDB fails.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import type { UsageRecorderDependencies } from '../../../lambdas/core/metering/recording/usage-recorder.ts';
import { createUsageHandler, MAX_USAGE_BODY_BYTES } from '../../../lambdas/metering/usage-handler.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import {
  bucketItem,
  bucketsOf,
  EARLIER_HOUR,
  licenseSubscriber,
  NOW,
  recorderDependencies,
} from '../../support/usage.ts';

const dynamoDb = useDynamoDb();
const documents = documentClient(dynamoDb.endpoint);

/** A marker that only the request body holds: it must never reach a log line. */
const SECRET_EVENT_ID = 'body-marker-3f9c1e';

afterEach(() => {
  vi.restoreAllMocks();
});

/** The handler; its logs are silent unless a test captures them. */
function handler(overrides: Partial<UsageRecorderDependencies> = {}, logLevel: 'SILENT' | 'DEBUG' = 'SILENT') {
  return createUsageHandler({
    ...recorderDependencies(dynamoDb, documents, overrides),
    clock: { now: () => NOW },
    logger: new Logger({ serviceName: 'usage', logLevel }),
  });
}

function request(
  body: string | null,
  options: { method?: string; contentType?: string | null; contentEncoding?: string; base64?: boolean } = {},
): APIGatewayProxyEvent {
  const { method = 'POST', contentType = 'application/json', base64 = false, contentEncoding } = options;
  return {
    httpMethod: method,
    path: '/usage',
    headers: {
      ...(contentType === null ? {} : { 'Content-Type': contentType }),
      ...(contentEncoding === undefined ? {} : { 'Content-Encoding': contentEncoding }),
    },
    body: base64 && body !== null ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: base64,
    requestContext: { requestId: 'request-1' },
  } as unknown as APIGatewayProxyEvent;
}

/** Runs `work` and answers what it wrote to stdout and stderr, where the Powertools logger writes. */
async function capturingLogs<T>(work: () => Promise<T>): Promise<{ value: T; logs: string }> {
  const written: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { value: await work(), logs: written.join('') };
  } finally {
    vi.restoreAllMocks();
  }
}

function answer(result: APIGatewayProxyResult): { status: number; body: Record<string, unknown> } {
  expect(result.headers).toMatchObject({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

/** Event ids name one event across the deployment: each subscriber's event here has its own. */
const usage = (subscriberId: string, quantity = 1) => ({
  subscriberId,
  dimension: 'requests',
  quantity,
  timestamp: '2026-11-26T10:15:00Z',
  eventId: `${SECRET_EVENT_ID}-${createHash('sha256').update(subscriberId).digest('hex').slice(0, 16)}`,
});

describe('a readable request', () => {
  test('is answered 200 with one result per event, in order, and logged without its events', async () => {
    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const body = JSON.stringify({
      events: [usage(subscriberId, 4), usage(subscriberId, 4), { ...usage(subscriberId, 0), eventId: undefined }],
    });
    const { value, logs } = await capturingLogs(() => handler({}, 'DEBUG')(request(body)));
    expect(answer(value)).toEqual({
      status: 200,
      body: {
        results: [
          { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
          { status: 'duplicate' },
          {
            status: 'rejected',
            reason: 'bad-quantity',
            message: 'quantity must be a whole number from 1 to 2147483647',
          },
        ],
      },
    });
    expect((await bucketItem(dynamoDb, documents, subscriberId, EARLIER_HOUR))?.quantity).toBe(4);
    expect(logs).toContain('Usage recorded');
    expect(logs).toContain('request-1');
    expect(logs).not.toContain(SECRET_EVENT_ID);
    expect(logs).toContain('"duplicate":1');
    expect(logs).not.toContain(subscriberId);
  });

  test('may come base64-encoded, with a charset', async () => {
    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const result = await handler()(
      request(JSON.stringify({ events: [usage(subscriberId, 2)] }), {
        base64: true,
        contentType: 'Application/JSON; charset=utf-8',
      }),
    );
    expect(answer(result)).toEqual({
      status: 200,
      body: { results: [{ status: 'accepted', hour: EARLIER_HOUR.toISOString() }] },
    });
  });

  test('of no events is answered with no results', async () => {
    expect(answer(await handler()(request('{"events":[]}')))).toEqual({ status: 200, body: { results: [] } });
  });

  test('of the largest events there can be fits the body limit', async () => {
    // Every field at its longest, and every character one that JSON escapes (or a four-byte one).
    const quote = '"';
    const event = {
      subscriberId: `license:arn:aws:license-manager:${quote.repeat(1600 - 'license:arn:aws:license-manager:'.length)}`,
      dimension: '\u0001'.repeat(255),
      quantity: 2_147_483_647,
      timestamp: '2026-11-26T10:15:00.123456789+00:00',
      eventId: quote.repeat(128),
      tags: Object.fromEntries([1, 2, 3, 4, 5].map((n) => [`${n}${quote.repeat(99)}`, quote.repeat(256)])),
    };
    const body = JSON.stringify({ events: Array.from({ length: 50 }, () => event) });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(MAX_USAGE_BODY_BYTES);
    const { status, body: answered } = answer(await handler()(request(body)));
    expect(status).toBe(200);
    expect((answered.results as unknown[]).length).toBe(50);
  });
});

describe('a request that cannot be read', () => {
  test.each(['GET', 'PUT', 'DELETE', 'post'])('%s is answered 405', async (method) => {
    const result = await handler()(request('{"events":[]}', { method }));
    expect(answer(result)).toEqual({ status: 405, body: { message: 'Use POST' } });
    expect(result.headers).toMatchObject({ allow: 'POST' });
  });

  test.each([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['no content type', null],
  ])('with %s is answered 415', async (_name, contentType) => {
    expect(answer(await handler()(request('{"events":[]}', { contentType })))).toEqual({
      status: 415,
      body: { message: 'Send the events as application/json' },
    });
  });

  test.each([
    [
      'charset=iso-8859-1',
      { contentType: 'application/json; charset=iso-8859-1' },
      'UTF-8 JSON (this body says charset=iso-8859-1)',
    ],
    [
      'a quoted UTF-16 charset',
      { contentType: 'application/json;charset="UTF-16"' },
      'UTF-8 JSON (this body says charset=utf-16)',
    ],
    ['a gzip body', { contentEncoding: 'gzip' }, 'uncompressed (Content-Encoding gzip is not taken)'],
  ])('sent as %s is answered 415, saying what to change', async (_name, options, message) => {
    const result = await handler()(request('{"events":[]}', options));
    const { status, body } = answer(result);
    expect(status).toBe(415);
    expect(body.message).toContain(message);
    // RFC 9110: a 415 for a content coding says which codings are taken.
    expect(result.headers?.['accept-encoding']).toBe('contentEncoding' in options ? 'identity' : undefined);
  });

  test.each([
    ['application/json; charset=utf-8', undefined],
    ['application/json; charset="UTF-8"', 'identity'],
  ])('%s (Content-Encoding %s) is read', async (contentType, contentEncoding) => {
    const result = await handler()(request('{"events":[]}', { contentType, contentEncoding }));
    expect(answer(result)).toEqual({ status: 200, body: { results: [] } });
  });

  test.each([
    ['an empty body', null],
    ['truncated JSON', '{"events":['],
    ['not JSON', 'events=1'],
  ])('with %s is answered 400', async (_name, body) => {
    expect(answer(await handler()(request(body)))).toEqual({
      status: 400,
      body: { message: 'The body is not valid JSON' },
    });
  });

  test.each([
    ['an array', '[]'],
    ['null', 'null'],
    ['a string', '"events"'],
    ['no events', '{}'],
    ['events that are not an array', '{"events":{"0":{}}}'],
    ['a field besides events', '{"events":[],"dryRun":true}'],
  ])('whose body is %s is answered 400', async (_name, body) => {
    expect(answer(await handler()(request(body)))).toEqual({
      status: 400,
      body: { message: 'The body must be an object with one field, "events": an array of events' },
    });
  });

  test('naming a field twice in one object is answered 400, and nothing is recorded', async () => {
    // JSON.parse keeps the last quantity; a reader that keeps the first would see 1 unit where 5 would be billed.
    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const event = JSON.stringify({ ...usage(subscriberId), quantity: 1 });
    const body = `{"events":[${event.slice(0, -1)},"quantity":5}]}`;
    expect(answer(await handler()(request(body)))).toEqual({
      status: 400,
      body: { message: 'The body holds "quantity" twice in one object: send each field once' },
    });
    expect(await bucketsOf(dynamoDb, documents, subscriberId)).toEqual([]);
  });

  test('with more than 50 events is answered 400, and nothing is recorded', async () => {
    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const body = JSON.stringify({
      events: Array.from({ length: 51 }, () => ({ ...usage(subscriberId), eventId: undefined })),
    });
    expect(answer(await handler()(request(body)))).toEqual({
      status: 400,
      body: { message: 'At most 50 events per call; this one has 51' },
    });
    expect(await bucketsOf(dynamoDb, documents, subscriberId)).toEqual([]);
  });

  test.each([false, true])('larger than the limit is answered 413 (base64: %s)', async (base64) => {
    const body = JSON.stringify({ events: [], padding: 'x'.repeat(MAX_USAGE_BODY_BYTES) });
    expect(answer(await handler()(request(body, { base64 })))).toEqual({
      status: 413,
      body: { message: `The body must be at most ${MAX_USAGE_BODY_BYTES} bytes` },
    });
  });

  test('not UTF-8 is answered 400, base64-encoded or as API Gateway hands text on (each bad byte as U+FFFD)', async () => {
    const notUtf8 = {
      status: 400,
      body: { message: 'The body must be UTF-8 (it holds bytes that are not, or U+FFFD, which stands for them)' },
    };
    const event = request(null);
    event.isBase64Encoded = true;
    event.body = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64');
    expect(answer(await handler()(event))).toEqual(notUtf8);

    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const sent = Buffer.from(
      JSON.stringify({ events: [usage(subscriberId)] }).replace('requests', 'requests\xff'),
      'latin1',
    );
    expect(answer(await handler()(request(sent.toString('utf8'))))).toEqual(notUtf8);
    expect(await bucketsOf(dynamoDb, documents, subscriberId)).toEqual([]);
  });
});

describe('when DynamoDB fails', () => {
  test('the answer is 503 with Retry-After, and the log names the error, not the request', async () => {
    const subscriberId = await licenseSubscriber(dynamoDb, documents);
    const body = JSON.stringify({ events: [usage(subscriberId)] });
    const { value, logs } = await capturingLogs(() =>
      handler({ usageTable: `${dynamoDb.prefix}missing` }, 'DEBUG')(request(body)),
    );
    expect(answer(value)).toEqual({ status: 503, body: { message: 'Try again' } });
    expect(value.headers).toMatchObject({ 'retry-after': '2' });
    expect(logs).toContain('ResourceNotFoundException');
    expect(logs).not.toContain(SECRET_EVENT_ID);
    expect(logs).not.toContain(subscriberId);
    expect(logs).not.toMatch(/\n\s+at /);
    expect(await bucketsOf(dynamoDb, documents, subscriberId)).toEqual([]);
  });
});
