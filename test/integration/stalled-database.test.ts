/**
 * A database that takes connections and never answers (a stalled node, a network black hole): the functions someone
 * waits on give up on it in seconds, as a passing failure, so the buyer gets the "try again" page with `Retry-After`
 * and the app a 503, not a function timeout that API Gateway answers with a bare 502 after 29 s.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { subscriberAccessFunction } from '../../lambdas/access/subscriber-access-function.ts';
import { documentClient, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS } from '../../lambdas/core/aws-clients.ts';
import type { FunctionRuntime } from '../../lambdas/core/function-runtime.ts';
import { fulfillmentFunction } from '../../lambdas/registration/fulfillment-function.ts';
import { registrationPageFunction } from '../../lambdas/registration/registration-page-function.ts';
import { createLambdaContext } from '../../local/lambda-context.ts';

const LOCAL_AWS = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const PRODUCT = 'analytics-pro-example';
const LICENSE_ID = 'license:arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';

let blackHole: Server;
let endpoint: string;
const connections: Socket[] = [];

beforeAll(async () => {
  blackHole = createServer((socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((listening) => blackHole.listen(0, '127.0.0.1', listening));
  endpoint = `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of connections) socket.destroy();
  await new Promise((closed) => blackHole.close(closed));
});

const stalledClient = () => documentClient(endpoint, LOCAL_AWS, DYNAMODB_TIMEOUTS_FOR_WAITING_CALLERS);

test('a call to it fails as a TimeoutError after the SDK attempts, each cut short, all of them made', async () => {
  const before = connections.length;
  const client = stalledClient();
  try {
    const failure = await client.send(new GetCommand({ TableName: 'Subscribers', Key: { pk: 'a', sk: 'b' } })).then(
      () => undefined,
      (error: unknown) => error,
    );
    // The name the buyer pages map to "busy" (503 with Retry-After), and the access check to its 503.
    expect((failure as Error).name).toBe('TimeoutError');
    // Three attempts, each on a connection of its own (the one cut short is not used again).
    expect(connections.length - before).toBe(3);
  } finally {
    client.destroy();
  }
});

const runtime = (variables: Record<string, string>): FunctionRuntime => ({
  variables: { SUBSCRIBERS_TABLE: 'Subscribers', DYNAMODB_ENDPOINT: endpoint, ...variables },
  clock: { now: () => new Date('2026-12-06T12:00:00.000Z') },
  logLevel: 'SILENT',
  aws: LOCAL_AWS,
});
const context = (name: string) => createLambdaContext(name, 10_000, new Date());

test('the access check answers 503 with Retry-After, rather than running into its function timeout', async () => {
  const handler = subscriberAccessFunction(runtime({ FINAL_METERING_GRACE_SECONDS: '3600' }));
  const event = {
    httpMethod: 'GET',
    pathParameters: { id: LICENSE_ID },
    requestContext: { requestId: 'stalled-1' },
  } as unknown as APIGatewayProxyEvent;
  const answer = await handler(event, context('subscriber-access'));
  expect(answer.statusCode).toBe(503);
  expect(answer.headers).toMatchObject({ 'retry-after': '2' });
  expect(JSON.parse(answer.body)).toEqual({ message: 'Try again' });
});

test("a buyer's registration page answers the try-again page, 503 with Retry-After", async () => {
  const handler = registrationPageFunction(
    runtime({
      PRODUCTS: JSON.stringify([{ code: PRODUCT, name: 'Analytics Pro', identityModel: 'license' }]),
      REGISTRATION: JSON.stringify({ appUrl: 'https://app.example.com', requiredFields: [], sessionMinutes: 30 }),
    }),
  );
  // Behind API Gateway, HTTPS: the session cookie carries the `__Host-` prefix.
  const cookie = `__Host-mp_registration_${PRODUCT}=${'s'.repeat(43)}`;
  const event = {
    httpMethod: 'GET',
    path: '/register',
    queryStringParameters: { product: PRODUCT },
    headers: { cookie },
    multiValueHeaders: { cookie: [cookie] },
    requestContext: { requestId: 'stalled-2' },
  } as unknown as APIGatewayProxyEvent;
  const answer = await handler(event, context('registration-page'));
  expect(answer.statusCode).toBe(503);
  expect(answer.headers?.['retry-after']).toBe('60');
  expect(answer.body).toContain('try again');
});

test('the fulfillment URL answers the try-again page before it asks Marketplace to resolve the token', async () => {
  // Marketplace, as far as this test goes: any call reaching it is counted (a token resolved is a token used up).
  let marketplaceCalls = 0;
  const marketplace = createHttpServer((_request, response) => {
    marketplaceCalls++;
    response.writeHead(500).end();
  });
  await new Promise<void>((listening) => marketplace.listen(0, '127.0.0.1', listening));
  try {
    const handler = fulfillmentFunction(
      runtime({
        MARKETPLACE_REGION: 'us-east-1',
        MARKETPLACE_ENDPOINT: `http://127.0.0.1:${(marketplace.address() as AddressInfo).port}`,
        PRODUCTS: JSON.stringify([{ code: PRODUCT, name: 'Analytics Pro', identityModel: 'license' }]),
        REGISTRATION: JSON.stringify({ appUrl: 'https://app.example.com', requiredFields: [], sessionMinutes: 30 }),
      }),
    );
    const event = {
      httpMethod: 'POST',
      path: '/fulfillment',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      multiValueHeaders: { 'content-type': ['application/x-www-form-urlencoded'] },
      body: 'x-amzn-marketplace-token=a-token-marketplace-gave',
      isBase64Encoded: false,
      requestContext: { requestId: 'stalled-3' },
    } as unknown as APIGatewayProxyEvent;
    const answer = await handler(event, context('fulfillment'));
    expect(answer.statusCode).toBe(503);
    expect(answer.headers?.['retry-after']).toBe('60');
    expect(marketplaceCalls).toBe(0);
  } finally {
    await new Promise((closed) => marketplace.close(closed));
  }
});
