/**
 * Every server of the local stack answers only requests addressed to this machine: a web page that re-points its own
 * host name at 127.0.0.1 (DNS rebinding) gets a 403 that says why, whatever the path, while loopback names (with any
 * port) are served as before. Nor does any but the API (which, like API Gateway, takes Marketplace's form post from its
 * own site) answer a request a page of another site sends: a blind cross-site form post cannot drive the simulator.
 * What none can read as a request (headers too large, not HTTP) is answered with a JSON message, not Node's empty one.
 */
import { BatchMeterUsageCommand, MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { isForeignOrigin, isLoopbackHost } from '../../local/http/loopback-host.ts';
import { useLocalStack } from '../support/local-stack.ts';
import { sendRaw } from '../support/raw-http.ts';

const local = useLocalStack();
const agent = new Agent();
afterAll(() => agent.destroy());

/** Each server, by a GET it serves (any status but the refusal is "served"). */
const servers = () => ({
  gateway: `${local.stack.apiUrl}/register`,
  simulatorControl: `${local.stack.simulator.url}/control/clock`,
  simulatorBuyerPage: `${local.stack.simulator.url}/buyer`,
  eventBus: local.stack.eventBus.url + '/events',
  webhookReceiver: local.stack.webhookReceiver.eventsUrl,
  standInApp: `${local.stack.webhookReceiver.appUrl}/sign-in`,
  sqsEndpoint: local.stack.sqsEndpoint,
});

async function getWithHost(url: string, host: string, headers: Record<string, string> = {}) {
  const { origin, pathname, search } = new URL(url);
  const answer = await sendRaw(
    origin,
    { method: 'GET', path: `${pathname}${search}`, headers: { host, ...headers } },
    agent,
  );
  return { status: answer.status, body: answer.body.toString('utf8') };
}

test('each server refuses a request addressed to another host name', async () => {
  for (const [server, url] of Object.entries(servers())) {
    for (const host of [
      'evil.example',
      `evil.example:${new URL(url).port}`,
      'localhost.evil.example',
      '127.0.0.1.nip.io',
    ]) {
      const answer = await getWithHost(url, host);
      expect({ server, host, status: answer.status }).toEqual({ server, host, status: 403 });
      expect(answer.body).toContain(
        'answers only requests addressed to localhost (or a name below it), 127.x.x.x or [::1]',
      );
      expect(answer.body).toContain('DNS rebinding');
    }
  }
});

test('an AWS SDK addressing the simulator by another name is told why, as an AWS error it can read', async () => {
  const metering = new MarketplaceMeteringClient({
    endpoint: local.stack.simulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  // A container reaching the simulator by its service name (`simulator:4010`) sends that name as Host.
  metering.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['host'] = 'simulator:4010';
      return next(args);
    },
    { step: 'finalizeRequest', name: 'hostOfAContainer' },
  );
  const refusal = await metering.send(new BatchMeterUsageCommand({ ProductCode: 'x', UsageRecords: [] })).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refusal).toMatchObject({
    name: 'AccessDeniedException',
    message: expect.stringContaining('not to "simulator:4010"') as unknown,
    $metadata: { httpStatusCode: 403, requestId: expect.any(String) as unknown },
  });
  metering.destroy();
});

test('each server serves requests addressed to it by a loopback name, with its port', async () => {
  for (const [server, url] of Object.entries(servers())) {
    const { port } = new URL(url);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      const answer = await getWithHost(url, host);
      expect({ server, host, refused: answer.status === 403 && answer.body.includes('DNS rebinding') }).toEqual({
        server,
        host,
        refused: false,
      });
    }
  }
});

test('each server but the API refuses a request sent by a page of another site, and serves its own pages', async () => {
  for (const [server, url] of Object.entries(servers())) {
    const { host } = new URL(url);
    for (const origin of ['https://evil.example', 'null', `http://localhost.evil.example:${new URL(url).port}`]) {
      const answer = await getWithHost(url, host, { origin });
      const refused = answer.status === 403 && answer.body.includes('a page of another site');
      expect({ server, origin, refused }).toEqual({ server, origin, refused: server !== 'gateway' });
    }
    for (const origin of [`http://${host}`, 'http://localhost:4010', 'http://[::1]:3000']) {
      const answer = await getWithHost(url, host, { origin });
      const refused = answer.status === 403 && answer.body.includes('a page of another site');
      expect({ server, origin, refused }).toEqual({ server, origin, refused: false });
    }
  }
  // The blind form post a page could send: the control API is not driven by it.
  const { host } = new URL(local.stack.simulator.url);
  const before = (await local.control.clock()).now;
  const post = await sendRaw(
    local.stack.simulator.url,
    {
      method: 'POST',
      path: '/control/clock/advance',
      headers: { host, origin: 'https://evil.example', 'content-type': 'text/plain' },
      body: Buffer.from('{"hours":5}'),
    },
    agent,
  );
  expect(post.status).toBe(403);
  // The clock runs on by itself, but not by the five hours asked.
  expect(Date.parse((await local.control.clock()).now) - Date.parse(before)).toBeLessThan(3_600_000);
  expect(isForeignOrigin(undefined)).toBe(false);
});

test('loopback names are told from the rest', () => {
  for (const host of [
    'localhost',
    'LOCALHOST:3000',
    'a.b.localhost:1',
    '127.0.0.1',
    '127.1.2.3:80',
    '[::1]',
    '[::1]:4010',
  ]) {
    expect(isLoopbackHost(host), host).toBe(true);
  }
  for (const host of [
    undefined,
    '',
    'evil.example',
    'localhost.',
    'localhost:port',
    '127.0.0.1.evil',
    '128.0.0.1',
    '[::2]',
    '0.0.0.0',
    'xlocalhost',
  ]) {
    expect(isLoopbackHost(host), String(host)).toBe(false);
  }
});

/** The raw answer to `bytes` written to the server at `url`'s origin, once it closes the connection. */
function answerTo(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

test('each server answers a request it cannot read with a JSON message', async () => {
  for (const [server, url] of Object.entries(servers())) {
    const hugePath = `/${'x'.repeat(100_000)}`;
    const tooLarge = await answerTo(url, `GET ${hugePath} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    expect(tooLarge, server).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(tooLarge.split('\r\n\r\n')[1], server).toBe(
      '{"message":"The request line and headers must be at most 16 KiB"}',
    );
    const notHttp = await answerTo(url, 'HELLO\r\n\r\n');
    expect(notHttp, server).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(notHttp.split('\r\n\r\n')[1], server).toBe('{"message":"The request is not valid HTTP"}');
    // Behind a request still being answered, the connection is closed: no answer is written into another.
    const { pathname } = new URL(url);
    const pipelined = await answerTo(url, `GET ${pathname} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\nHELLO\r\n\r\n`);
    expect(pipelined, server).not.toContain('The request is not valid HTTP');
  }
});
