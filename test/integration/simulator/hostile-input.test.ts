/**
 * Whatever a client sends, the simulator answers with a JSON 4xx (never a 5xx, never a dead process), as AWS does.
 */
import {
  GetEntitlementsCommand,
  MarketplaceEntitlementServiceClient,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { expect, test } from 'vitest';
import { operations } from '../../../simulator/marketplace-protocol.ts';
import { SeededRandom } from '../../../simulator/random.ts';
import { rejectionOf } from '../../support/errors.ts';
import { localCredentials, meteredProduct, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator({ requireSignature: false });

async function post(target: string, body: string | Buffer) {
  const response = await fetch(sim.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body,
  });
  return { status: response.status, body: (await response.json()) as { __type: string; message: string } };
}

/** Sends raw bytes, for what fetch refuses to send; resolves with the status line. */
function rawRequest(text: string): Promise<string> {
  const url = new URL(sim.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(text));
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

test('a request target that is not a path gets a 400, and the simulator lives on', async () => {
  expect(await rawRequest('GET // HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')).toBe(
    'HTTP/1.1 400 Bad Request',
  );
  expect((await fetch(`${sim.url}/control/clock`)).status).toBe(200);
});

test('GET describes the simulator; another method at its root gets a 405 naming the allowed ones', async () => {
  expect((await fetch(sim.url)).status).toBe(200);
  // A mistyped path is not taken for the root: a seller's test that GETs it must not pass on the description.
  for (const path of ['/contrl/billed', '/billed', '/buyers', '/index.html']) {
    const response = await fetch(`${sim.url}${path}`);
    expect({ path, status: response.status, body: await response.json() }).toEqual({
      path,
      status: 404,
      body: { message: 'Nothing is served at this path: GET / describes the simulator and where its parts are' },
    });
  }
  for (const method of ['PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const response = await fetch(sim.url, { method });
    expect({ method, status: response.status, allow: response.headers.get('allow') }).toEqual({
      method,
      status: 405,
      allow: 'GET, POST',
    });
  }
});

test('operation names are not looked up on the prototype', async () => {
  for (const target of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const { status, body } = await post(target, '{}');
    expect(status).toBe(400);
    expect(body.__type).toContain('UnknownOperationException');
  }
});

test('a GetEntitlements filter key named like a prototype member is refused as any unknown key, not ignored', async () => {
  await sim.control.createProduct({ ...meteredProduct(), code: 'filter-keys' });
  for (const key of ['__proto__', 'constructor']) {
    const { status, body } = await post(
      'AWSMPEntitlementService.GetEntitlements',
      `{"ProductCode":"filter-keys","Filter":{"${key}":["x"]}}`,
    );
    expect({ key, status, type: body.__type }).toEqual({
      key,
      status: 400,
      type: 'com.amazon.coral.validate#ValidationException',
    });
    expect(body.message).toContain(`Value '${key}' at 'filter' failed to satisfy constraint: Map keys must satisfy`);
  }
});

test('JSON nested too deep to walk is a SerializationException', async () => {
  const deep = `{"RegistrationToken":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
  const { status, body } = await post('AWSMPMeteringService.ResolveCustomer', deep);
  expect(status).toBe(400);
  expect(body.__type).toContain('SerializationException');
});

test('timestamps beyond what a date can hold are out of bounds, never accepted', async () => {
  for (const timestamp of [1e13, -1e13, 1e20]) {
    const batch = await post(
      'AWSMPMeteringService.BatchMeterUsage',
      JSON.stringify({
        UsageRecords: [{ Timestamp: timestamp, Dimension: 'd', CustomerIdentifier: 'c' }],
        ProductCode: 'p',
      }),
    );
    expect(batch.status).toBe(400);
    const meter = await post(
      'AWSMPMeteringService.MeterUsage',
      JSON.stringify({ ProductCode: 'p', Timestamp: timestamp, UsageDimension: 'd', DryRun: true }),
    );
    expect(meter.status).toBe(400);
    expect(meter.body.__type).not.toContain('DryRunOperation');
  }
});

test('a body over 1 MB is refused with a JSON 413, on a connection that serves on', async () => {
  const { status, body } = await post('AWSMPMeteringService.BatchMeterUsage', Buffer.alloc(2 * 1024 * 1024, 32));
  expect(status).toBe(413);
  expect(body.__type).toContain('RequestEntityTooLargeException');
  // 1 MB exactly is taken, as the message says: read whole (spaces, then refused as a body that is not JSON), not 413.
  expect(body.message).toBe('Request must be at most 1048576 bytes');
  const atTheLimit = await post('AWSMPMeteringService.BatchMeterUsage', Buffer.alloc(1024 * 1024, 32));
  expect(atTheLimit.status).toBe(400);
  const overByOne = await post('AWSMPMeteringService.BatchMeterUsage', Buffer.alloc(1024 * 1024 + 1, 32));
  expect(overByOne.status).toBe(413);

  // The rest of the body is read and dropped rather than the connection closed under a client still sending it.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (body: Buffer) =>
    new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
      const sent = httpRequest(
        sim.url,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': 'AWSMPMeteringService.ResolveCustomer',
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode!, reused: sent.reusedSocket }));
        },
      );
      sent.on('error', reject);
      sent.end(body);
    });
  expect(await send(Buffer.alloc(2 * 1024 * 1024, 32))).toEqual({ status: 413, reused: false });
  expect(await send(Buffer.from('{"RegistrationToken":"x"}'))).toEqual({ status: 400, reused: true });
  agent.destroy();
});

test('the Entitlement Service answers only requests signed for us-east-1', async () => {
  const europe = new MarketplaceEntitlementServiceClient({
    endpoint: sim.url,
    region: 'eu-west-1',
    maxAttempts: 1,
    credentials: localCredentials,
  });
  await sim.control.updateSettings({ requireSignature: true });
  const error = await rejectionOf(europe.send(new GetEntitlementsCommand({ ProductCode: 'p' })));
  europe.destroy();
  expect(error.$metadata.httpStatusCode).toBe(403);
  expect(error.message).toContain('valid region');
});

test('a thousand random bodies against every operation get JSON 4xx answers only', async () => {
  const random = new SeededRandom(20261126);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
  const fragments = [
    '{}',
    '[]',
    'null',
    '"x"',
    '-1',
    '1e400',
    '1.5',
    'true',
    '{"UsageRecords":',
    '\u0000',
    '\ud800',
    '{"a":{"b":',
    '{"UsageRecords":[{"Timestamp":"now"}]}',
    '{"ProductCode":42}',
    '{"RegistrationToken":""}',
    '{"Filter":{"X":[]}}',
    '{"UsageRecords":[{"Timestamp":1e9,"Dimension":"d","Quantity":-1,"LicenseArn":"arn:aws:x:::y"}]}',
    '{"MaxResults":0}',
    '{"NextToken":" "}',
    '{"PublicKeyVersion":1.5}',
    '<script>alert(1)</script>',
  ];
  const statuses = new Set<number>();
  for (let request = 0; request < 1000; request++) {
    const body =
      random.next() < 0.3
        ? Buffer.from(Array.from({ length: Math.floor(random.next() * 64) }, () => Math.floor(random.next() * 256)))
        : Array.from({ length: 1 + Math.floor(random.next() * 3) }, () => pick(fragments)).join('');
    const target = `AWSMP${random.next() < 0.8 ? 'MeteringService' : 'EntitlementService'}.${pick(operations)}`;
    const { status, body: answer } = await post(target, body);
    statuses.add(status);
    expect(status, `${target} ${String(body)}`).toBeLessThan(500);
    expect(answer.__type).toMatch(/#\w+$/);
  }
  expect([...statuses].every((status) => status >= 400)).toBe(true);
});
