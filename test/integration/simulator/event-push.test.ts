/**
 * Pushes of lifecycle events to a receiver that does not answer: each attempt ends at its timeout, the event is given
 * up after its attempts (counted, and logged without the URL's query), and the subscription goes on with the next
 * event. A receiver that holds the connection open must not stop a subscription for good.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, test, vi } from 'vitest';
import { SimulatorClock } from '../../../simulator/clock.ts';
import { LifecycleEvents } from '../../../simulator/lifecycle-events.ts';
import { Marketplace } from '../../../simulator/marketplace.ts';
import { defaultSettings } from '../../../simulator/settings.ts';

const ATTEMPT_TIMEOUT_MS = 150;
v8.setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  sockets.splice(0).forEach((socket) => socket.destroy());
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A receiver that reads requests and never answers; counts them. */
async function silentReceiver() {
  const requests = { count: 0 };
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('data', (chunk: Buffer) => {
      requests.count += chunk.toString('latin1').split('POST /hook').length - 1;
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?token=s3cret`, requests };
}

test('a receiver that never answers: 4 timed-out attempts per event, each given up and logged, none holding up the next', async () => {
  const warnings: string[] = [];
  vi.spyOn(console, 'warn').mockImplementation((message: string) => warnings.push(message));
  const clock = new SimulatorClock(new Date('2026-12-07T10:00:00.000Z'), false);
  const marketplace = new Marketplace(clock, () => defaultSettings);
  const events = new LifecycleEvents(
    () => defaultSettings.sellerAccountId,
    () => 3_600_000,
    1,
    ATTEMPT_TIMEOUT_MS,
  );
  const product = marketplace.createProduct({
    code: 'push-test',
    name: 'Push test',
    pricingModel: 'subscriptions',
    identityModel: 'license',
    dimensions: [{ name: 'users', kind: 'metered' }],
  });
  const { url, requests } = await silentReceiver();
  events.subscribe(url, 'eventbridge');
  const license = marketplace.createLicense({ productCode: product.code, offerType: 'standard', activate: true });
  events.record('activated', license, product, clock.now());
  expect(events.release(clock.now())).toBe(1);
  events.record('entitlements-updated', license, product, clock.now());
  expect(events.release(clock.now())).toBe(3);

  // With garbage collected all along: a timer that only a collected signal held would never fire (Node.js 20).
  const collecting = setInterval(collectGarbage, 20);
  await events.drained();
  clearInterval(collecting);
  expect(events.deliveries).toEqual({ delivered: 0, failed: 4 });
  expect(requests.count).toBe(16);
  expect(warnings).toHaveLength(4);
  expect(warnings[0]).toBe(
    `simulator: gave up pushing event 1 to ${url.split('?')[0]} after 4 attempts (no answer within ` +
      `${ATTEMPT_TIMEOUT_MS} ms); it stays in the feed: GET /control/events?after=0`,
  );
  expect(warnings.join('\n')).not.toContain('s3cret');
  events.close();
});
