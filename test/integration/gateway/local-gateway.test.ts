/**
 * The local API gateway driven over real HTTP, as a browser or the seller's app would reach it: fetch, and a raw socket
 * where fetch cannot say what the test needs (header casing, repeated headers, a kept-alive connection). Each test
 * starts its own gateway with small handlers that record what they were given.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { connect } from 'node:net';
import { afterEach, expect, onTestFinished, test, vi } from 'vitest';
import {
  startLocalGateway,
  type LocalGatewayOptions,
  type ProxyHandler,
  type Route,
  type RunningGateway,
} from '../../../local/gateway/server.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function startGateway(routes: Route[], options: Partial<LocalGatewayOptions> = {}): Promise<RunningGateway> {
  const gateway = await startLocalGateway({ routes, ...options });
  onTestFinished(() => gateway.close());
  return gateway;
}

interface Invocation {
  readonly event: APIGatewayProxyEvent;
  readonly context: Context;
}

/** A handler that records each invocation and answers `result`. */
function recorder(result: APIGatewayProxyResult = { statusCode: 200, body: 'ok' }) {
  const calls: Invocation[] = [];
  const handler: ProxyHandler = (event, context) => {
    calls.push({ event, context });
    return Promise.resolve(result);
  };
  return { handler, calls };
}

/** A handler that answers `result` whatever its type: for results a typed handler could not return. */
function answering(result: unknown): ProxyHandler {
  return () => Promise.resolve(result as APIGatewayProxyResult);
}

function silenceConsoleError() {
  return vi.spyOn(console, 'error').mockImplementation(() => undefined);
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Sends `request` as bytes and resolves with the whole answer once the server closes the connection. */
function rawExchange(port: number, request: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => {
      const split = answer.indexOf('\r\n\r\n');
      resolve({ head: answer.slice(0, split), body: answer.slice(split + 4) });
    });
    socket.on('error', reject);
  });
}

test('a GET builds the event API Gateway builds: path, resource, query string with repeated keys, request context', async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  const before = Date.now();
  const response = await fetch(`${gateway.url}/echo?tag=a&tag=b&name=J%C3%BCrgen%20S&plus=a+b&flag&x=1;y=2`);
  const after = Date.now();

  expect(response.status).toBe(200);
  expect(await response.text()).toBe('ok');
  expect(echo.calls).toHaveLength(1);
  const { event } = echo.calls[0]!;
  expect(event).toMatchObject({
    resource: '/echo',
    path: '/echo',
    httpMethod: 'GET',
    queryStringParameters: { tag: 'b', name: 'Jürgen S', plus: 'a b', flag: '', x: '1', y: '2' },
    multiValueQueryStringParameters: { tag: ['a', 'b'], name: ['Jürgen S'], plus: ['a b'], flag: [''], x: ['1'] },
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
  });
  const context = event.requestContext;
  expect(context).toMatchObject({
    accountId: '123456789012',
    apiId: 'local',
    stage: 'local',
    httpMethod: 'GET',
    path: '/local/echo',
    resourcePath: '/echo',
    protocol: 'HTTP/1.1',
    domainName: `127.0.0.1:${gateway.port}`,
    identity: { sourceIp: '127.0.0.1', userAgent: expect.any(String) as unknown, caller: null, user: null },
  });
  expect(context.requestTimeEpoch).toBeGreaterThanOrEqual(before);
  expect(context.requestTimeEpoch).toBeLessThanOrEqual(after);
  expect(context.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
  expect('authorizer' in context).toBe(false);
});

test('a request without a query string has null query parameters', async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  await fetch(`${gateway.url}/echo`);
  expect(echo.calls[0]!.event.queryStringParameters).toBeNull();
  expect(echo.calls[0]!.event.multiValueQueryStringParameters).toBeNull();
});

test.each([
  { base64Bodies: 'never', body: 'x-amzn-marketplace-token=a%2Bb%3D%3D&x=1', isBase64Encoded: false },
  { base64Bodies: 'binary', body: 'x-amzn-marketplace-token=a%2Bb%3D%3D&x=1', isBase64Encoded: false },
  {
    base64Bodies: 'always',
    body: Buffer.from('x-amzn-marketplace-token=a%2Bb%3D%3D&x=1').toString('base64'),
    isBase64Encoded: true,
  },
] as const)('a POSTed form body with base64Bodies "$base64Bodies"', async ({ base64Bodies, body, isBase64Encoded }) => {
  const form = recorder();
  const gateway = await startGateway([{ method: 'POST', path: '/fulfillment', handler: form.handler }], {
    base64Bodies,
  });
  await fetch(`${gateway.url}/fulfillment`, {
    method: 'POST',
    body: new URLSearchParams({ 'x-amzn-marketplace-token': 'a+b==', x: '1' }),
  });
  const { event } = form.calls[0]!;
  expect(event.body).toBe(body);
  expect(event.isBase64Encoded).toBe(isBase64Encoded);
  expect(event.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
});

test('with base64Bodies "binary" a body of a binary type arrives base64-encoded, byte for byte', async () => {
  const upload = recorder();
  const gateway = await startGateway([{ method: 'PUT', path: '/upload', handler: upload.handler }], {
    base64Bodies: 'binary',
  });
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe]);
  await fetch(`${gateway.url}/upload`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: bytes });
  const { event } = upload.calls[0]!;
  expect(event.isBase64Encoded).toBe(true);
  expect(Buffer.from(event.body!, 'base64')).toEqual(bytes);
});

test('path parameters arrive decoded, while path keeps the encoding the client sent', async () => {
  const subscriber = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/subscribers/{id}', handler: subscriber.handler }]);
  await fetch(`${gateway.url}/subscribers/arn%3Aaws%3Alicense%2Fl-1%20x+y`);
  const { event } = subscriber.calls[0]!;
  expect(event.pathParameters).toEqual({ id: 'arn:aws:license/l-1 x+y' });
  expect(event.path).toBe('/subscribers/arn%3Aaws%3Alicense%2Fl-1%20x+y');
  expect(event.resource).toBe('/subscribers/{id}');
  expect(event.requestContext.path).toBe('/local/subscribers/arn%3Aaws%3Alicense%2Fl-1%20x+y');
});

test('headers keep the casing the client sent, the last value of a repeated header, and every value in multiValueHeaders', async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  const { head } = await rawExchange(
    gateway.port,
    [
      'GET /local/echo HTTP/1.1',
      `Host: 127.0.0.1:${gateway.port}`,
      'X-Repeated: first',
      'X-Repeated: second',
      'x-repeated: lower',
      'X-Forwarded-For: 203.0.113.7',
      'Connection: close',
      '',
      '',
    ].join('\r\n'),
  );

  expect(head).toMatch(/^HTTP\/1\.1 200 /);
  const { event } = echo.calls[0]!;
  expect(event.headers['X-Repeated']).toBe('second');
  expect(event.multiValueHeaders['X-Repeated']).toEqual(['first', 'second']);
  // API Gateway treats header names case-sensitively: another casing is another header.
  expect(event.headers['x-repeated']).toBe('lower');
  expect(event.headers.Host).toBe(`127.0.0.1:${gateway.port}`);
  expect(event.headers['X-Forwarded-For']).toBe('203.0.113.7, 127.0.0.1');
  expect(event.headers['X-Forwarded-Proto']).toBe('http');
  expect(event.headers['X-Forwarded-Port']).toBe(String(gateway.port));
  expect(event.headers['X-Amzn-Trace-Id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  expect(Object.keys(event.headers).map((name) => name.toLowerCase())).not.toContain('connection');
});

test('several Set-Cookie headers reach the client as separate headers; multiValueHeaders win over headers', async () => {
  const gateway = await startGateway([
    {
      method: 'GET',
      path: '/session',
      handler: answering({
        statusCode: 303,
        headers: { Location: '/register', 'Set-Cookie': 'overridden=1', 'X-Flag': true },
        multiValueHeaders: { 'Set-Cookie': ['session=abc; HttpOnly; Secure', 'csrf=xyz; SameSite=Strict'] },
      }),
    },
  ]);
  const response = await fetch(`${gateway.url}/session`, { redirect: 'manual' });
  expect(response.status).toBe(303);
  expect(response.headers.get('location')).toBe('/register');
  expect(response.headers.getSetCookie()).toEqual(['session=abc; HttpOnly; Secure', 'csrf=xyz; SameSite=Strict']);
  expect(response.headers.get('x-flag')).toBe('true');
  // API Gateway's default when the function sets no Content-Type.
  expect(response.headers.get('content-type')).toBe('application/json');
});

test('a base64 result body is decoded: the client receives the bytes', async () => {
  const bytes = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xff]);
  const gateway = await startGateway([
    {
      method: 'GET',
      path: '/logo',
      handler: answering({
        statusCode: 200,
        headers: { 'Content-Type': 'image/png' },
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      }),
    },
  ]);
  const response = await fetch(`${gateway.url}/logo`);
  expect(response.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
});

test('a handler that throws gets 502 Internal server error; the error goes to stderr, not to the client', async () => {
  const stderr = silenceConsoleError();
  const gateway = await startGateway([
    {
      method: 'GET',
      path: '/broken',
      handler: () => Promise.reject(new Error('database password is hunter2')),
    },
  ]);
  const response = await fetch(`${gateway.url}/broken`);
  expect(response.status).toBe(502);
  expect(response.headers.get('x-amzn-errortype')).toBe('InternalServerErrorException');
  expect(await response.text()).toBe('{"message": "Internal server error"}');
  const logged = stderr.mock.calls.flat();
  expect(logged.some((item) => item instanceof Error && item.message === 'database password is hunter2')).toBe(true);
});

test.each([
  { what: 'a body that is not a string', result: { statusCode: 200, body: { ok: true } } },
  { what: 'a field that is not a proxy result field', result: { statusCode: 200, body: '', status: 'ok' } },
  { what: 'multiValueHeaders values that are not lists', result: { multiValueHeaders: { 'X-A': 'b' } } },
  { what: 'a status code that is not one', result: { statusCode: 'OK', body: '' } },
  { what: 'nothing', result: undefined },
])('a handler returning $what gets 502', async ({ result }) => {
  const stderr = silenceConsoleError();
  const gateway = await startGateway([{ method: 'GET', path: '/bad', handler: answering(result) }]);
  const response = await fetch(`${gateway.url}/bad`);
  expect(response.status).toBe(502);
  expect(await response.text()).toBe('{"message": "Internal server error"}');
  expect(String(stderr.mock.calls[0]?.[1])).toContain('Malformed Lambda proxy response');
});

test('a result claiming a base64 body that is not base64 gets 500, as an API configuration error', async () => {
  silenceConsoleError();
  const gateway = await startGateway([
    { method: 'GET', path: '/bad', handler: answering({ body: 'not base64!', isBase64Encoded: true }) },
  ]);
  const response = await fetch(`${gateway.url}/bad`);
  expect(response.status).toBe(500);
  expect(await response.text()).toBe('{"message": "Internal server error"}');
});

test('an unknown path, or one outside the stage, gets 403 Missing Authentication Token', async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  const origin = `http://127.0.0.1:${gateway.port}`;
  for (const url of [`${gateway.url}/nowhere`, `${gateway.url}/echo/deeper`, `${origin}/echo`, `${origin}/`]) {
    const response = await fetch(url);
    expect(response.status, url).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await response.text()).toBe('{"message":"Missing Authentication Token"}');
  }
  expect(echo.calls).toHaveLength(0);
});

test('a known path with a method it does not have gets 403 too, and the handler is not called', async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  const response = await fetch(`${gateway.url}/echo`, { method: 'POST', body: '{}' });
  expect(response.status).toBe(403);
  expect(await response.text()).toBe('{"message":"Missing Authentication Token"}');
  expect(echo.calls).toHaveLength(0);
});

test('a body over 10 MB gets 413 before any handler runs, declared or chunked', async () => {
  const upload = recorder();
  const gateway = await startGateway([{ method: 'POST', path: '/upload', handler: upload.handler }]);
  const tooLarge = Buffer.alloc(10 * 1024 * 1024 + 1, 'a');

  const declared = await fetch(`${gateway.url}/upload`, { method: 'POST', body: tooLarge });
  expect(declared.status).toBe(413);
  expect(await declared.text()).toBe('HTTP content length exceeded 10485760 bytes.');

  const chunked = await fetch(`${gateway.url}/upload`, {
    method: 'POST',
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(tooLarge.subarray(0, 5_000_000));
        controller.enqueue(tooLarge.subarray(5_000_000));
        controller.close();
      },
    }),
    duplex: 'half',
  });
  expect(chunked.status).toBe(413);
  expect(upload.calls).toHaveLength(0);
});

test("a body of exactly 10 MB passes the payload quota, but its event is over Lambda's 6 MB limit: 413", async () => {
  silenceConsoleError();
  const upload = recorder();
  const gateway = await startGateway([{ method: 'POST', path: '/upload', handler: upload.handler }]);
  const response = await fetch(`${gateway.url}/upload`, {
    method: 'POST',
    body: Buffer.alloc(10 * 1024 * 1024, 'a'),
  });
  expect(response.status).toBe(413);
  expect(await response.text()).toBe('{"message":"Request Too Long"}');
  expect(upload.calls).toHaveLength(0);
});

test('a handler slower than the integration timeout gets 504; its context counts down from that timeout', async () => {
  silenceConsoleError();
  const remaining: number[] = [];
  let askedAt = 0;
  const gateway = await startGateway(
    [
      {
        method: 'GET',
        path: '/slow',
        handler: (_event, context) => {
          remaining.push(context.getRemainingTimeInMillis());
          askedAt = performance.now();
          return new Promise(() => undefined);
        },
      },
    ],
    { integrationTimeoutMs: 100 },
  );
  const started = performance.now();
  const response = await fetch(`${gateway.url}/slow`);
  const waited = performance.now() - started;
  expect(response.status).toBe(504);
  expect(response.headers.get('x-amzn-errortype')).toBe('InternalServerErrorException');
  expect(await response.text()).toBe('{"message": "Endpoint request timed out"}');
  expect(waited).toBeGreaterThanOrEqual(95);
  // Under the gateway's default of 29 s, which it would have waited had it ignored the setting; how much under depends
  // on how busy the machine is.
  expect(waited).toBeLessThan(29_000);
  // The countdown starts from the 100 ms when the request arrives: at most 100 left, and no less than 100 minus the
  // time that had passed when the handler asked (which, on a machine that stalls, may be all of it).
  expect(remaining[0]).toBeLessThanOrEqual(100);
  expect(remaining[0]).toBeGreaterThanOrEqual(100 - (askedAt - started) - 1);
});

test("a handler slower than its function's own timeout fails as Lambda's does: 502, the timeout on stderr", async () => {
  const stderr = silenceConsoleError();
  const remaining: number[] = [];
  const gateway = await startGateway(
    [
      {
        method: 'GET',
        path: '/slow',
        timeoutMs: 100,
        handler: (_event, context) => {
          remaining.push(context.getRemainingTimeInMillis());
          return new Promise(() => undefined);
        },
      },
    ],
    { integrationTimeoutMs: 60_000 },
  );
  const response = await fetch(`${gateway.url}/slow`);
  // Lambda's "Task timed out" is a function error to API Gateway, not its own integration timeout's 504.
  expect(response.status).toBe(502);
  expect(await response.text()).toBe('{"message": "Internal server error"}');
  expect(stderr).toHaveBeenCalledWith(
    expect.stringContaining('Lambda execution failed with a function error'),
    expect.objectContaining({ message: 'Task timed out after 0.10 seconds' }),
  );
  // The context counts down from the function's timeout, not the gateway's.
  expect(remaining[0]).toBeLessThanOrEqual(100);
});

test("the x-amzn-RequestId header is the event's requestContext.requestId, fresh for every request", async () => {
  const echo = recorder();
  const gateway = await startGateway([{ method: 'GET', path: '/echo', handler: echo.handler }]);
  const first = await fetch(`${gateway.url}/echo`);
  const second = await fetch(`${gateway.url}/echo`);
  const [firstCall, secondCall] = echo.calls;
  expect(first.headers.get('x-amzn-requestid')).toMatch(uuid);
  expect(first.headers.get('x-amzn-requestid')).toBe(firstCall!.event.requestContext.requestId);
  expect(second.headers.get('x-amzn-requestid')).toBe(secondCall!.event.requestContext.requestId);
  expect(firstCall!.event.requestContext.requestId).not.toBe(secondCall!.event.requestContext.requestId);
  expect(first.headers.get('x-amz-apigw-id')).toBe(firstCall!.event.requestContext.extendedRequestId);
  expect(first.headers.get('x-amzn-trace-id')).toBe(firstCall!.event.headers['X-Amzn-Trace-Id']);
  // Lambda's request id is its own, as in AWS.
  expect(firstCall!.context.awsRequestId).toMatch(uuid);
  expect(firstCall!.context.awsRequestId).not.toBe(firstCall!.event.requestContext.requestId);
  const refused = await fetch(`${gateway.url}/nowhere`);
  expect(refused.headers.get('x-amzn-requestid')).toMatch(uuid);
});

test('the context names the function after the route, or as the route says', async () => {
  const derived = recorder();
  const named = recorder();
  const gateway = await startGateway([
    { method: ['GET', 'HEAD'], path: '/subscribers/{id}', handler: derived.handler },
    { method: 'POST', path: '/fulfillment', handler: named.handler, functionName: 'FulfillmentFunction' },
  ]);
  await fetch(`${gateway.url}/subscribers/1`);
  await fetch(`${gateway.url}/fulfillment`, { method: 'POST' });
  expect(derived.calls[0]!.context).toMatchObject({
    functionName: 'GET-HEAD-subscribers-id',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:GET-HEAD-subscribers-id',
    callbackWaitsForEmptyEventLoop: true,
  });
  expect(named.calls[0]!.context.functionName).toBe('FulfillmentFunction');
});

test('a client that hangs up in the middle of its body is no error, and the gateway serves on', async () => {
  const stderr = silenceConsoleError();
  const upload = recorder();
  const gateway = await startGateway([{ method: 'POST', path: '/upload', handler: upload.handler }]);
  const socket = connect(gateway.port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.write('POST /local/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n0123456789');
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
  await closed;

  expect((await fetch(`${gateway.url}/upload`, { method: 'POST', body: 'x' })).status).toBe(200);
  expect(upload.calls).toHaveLength(1);
  expect(stderr).not.toHaveBeenCalled();
});

test('close() ends kept-alive and in-flight connections, refuses new ones, and resolves', async () => {
  const echo = recorder();
  let hangingCalled = false;
  const gateway = await startLocalGateway({
    routes: [
      { method: 'GET', path: '/echo', handler: echo.handler },
      {
        method: 'GET',
        path: '/hang',
        handler: () => {
          hangingCalled = true;
          return new Promise(() => undefined);
        },
      },
    ],
  });
  const socket = connect(gateway.port, '127.0.0.1');
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  let answer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
  socket.write(`GET /local/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  // vi.waitFor gives up after 1 s by default: too soon for a loaded machine.
  await vi.waitFor(() => expect(answer).toContain('\r\n\r\nok'), { timeout: 30_000 });
  const inFlight = fetch(`${gateway.url}/hang`);
  await vi.waitFor(() => expect(hangingCalled).toBe(true), { timeout: 30_000 });

  await gateway.close();
  await ended;
  await expect(inFlight).rejects.toThrow();
  await expect(fetch(`${gateway.url}/echo`)).rejects.toThrow();
});
