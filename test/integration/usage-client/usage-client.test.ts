/**
 * The usage client against the real local stack, through a front of our own that stands where API Gateway would:
 * it checks every request's SigV4 signature with the signing library, passes it to the stack, and, when a test plans
 * it, fails it instead (a 503 or 429 without passing it on, a 400, a connection dropped before or after the stack
 * recorded the call). What reached the books is read from the Usage table, and once from Marketplace's billed records.
 *
 * Deterministic: the client's clock is the stack's (the simulator's, frozen), and its waits are handed to the test,
 * which wakes each one when it means to; nothing waits on real time.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, expect, test, vi } from 'vitest';
import {
  CloseTimeoutError,
  InvalidUsageEventError,
  RefusedAfterLostAnswerError,
  UsageCallFailedError,
  UsageCallRefusedError,
  UsageClient,
  UsageClientClosedError,
  UsageClientConfigError,
  UsageNotDeliveredError,
  type AggregatedUsageEvent,
  type AwsCredentials,
  type FlushReport,
  type RetryOptions,
  type UsageClientOptions,
  type UsageEvent,
  type UsageRefusal,
} from '../../../client/index.ts';
import { bucketKey } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import { cancelOnBuyerPage } from '../../support/buyer-page.ts';
import { liveLicenseSubscriber, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';

const local = useLocalStack({
  marketplaceNotifications: true,
  // Runs only when a test asks (`stack.meter()`), so that what each one bills is its own doing.
  meteringEveryMs: 3_600_000,
  finalMeteringEveryMs: 3_600_000,
});

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const INTERVAL_MS = 5_000;
/** The region the local API takes signatures for (the repository's cdk.json names none: us-east-1). */
const API_REGION = 'us-east-1';
const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'AKIDUSAGECLIENTTEST',
  secretAccessKey: 'usage-client-test-secret',
  sessionToken: 'usage-client-test-session',
};
const NOBODY = 'license:arn:aws:license-manager::999999999999:license:l-nobody';

// ---------------------------------------------------------------------------------------------------------------------
// Waits the test wakes

interface PendingSleep {
  readonly ms: number;
  wake(): void;
}

/** The client's `sleep`: each wait stays pending until the test wakes it (or the client aborts it). */
class ManualSleeps {
  private readonly pending: PendingSleep[] = [];
  private readonly waiters: { match: (ms: number) => boolean; found: (sleep: PendingSleep) => void }[] = [];

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      const entry: PendingSleep = {
        ms,
        wake: () => {
          this.remove(entry);
          resolve();
        },
      };
      signal?.addEventListener(
        'abort',
        () => {
          this.remove(entry);
          reject(signal.reason as Error);
        },
        { once: true },
      );
      this.pending.push(entry);
      this.offer();
    });

  /** The first wait `match` takes, now or once the client starts it. */
  next(match: (ms: number) => boolean): Promise<PendingSleep> {
    return new Promise((found) => {
      this.waiters.push({ match, found });
      this.offer();
    });
  }

  /** The waits other than the flush interval (backoffs) pending now. */
  backoffs(): readonly PendingSleep[] {
    return this.pending.filter((sleep) => sleep.ms !== INTERVAL_MS);
  }

  private offer(): void {
    for (const waiter of [...this.waiters]) {
      const sleep = this.pending.find((candidate) => waiter.match(candidate.ms));
      if (sleep === undefined) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.found(sleep);
    }
  }

  private remove(entry: PendingSleep): void {
    const index = this.pending.indexOf(entry);
    if (index >= 0) this.pending.splice(index, 1);
  }
}

const isInterval = (ms: number) => ms === INTERVAL_MS;
const isBackoff = (ms: number) => ms !== INTERVAL_MS;

// ---------------------------------------------------------------------------------------------------------------------
// The front: signature check, pass-through, planned faults

/** What the front does with a request: pass it on, or one of the faults. */
type Fault =
  | 'pass'
  /** Passes it on, waits for the stack's answer (so the call is recorded), then drops the connection. */
  | 'drop-answer'
  /** Drops the connection without passing it on. */
  | 'drop-connection'
  /** Holds the request unanswered, without passing it on, until the client gives up on it. */
  | 'hang'
  /** Answers this itself, without passing it on. */
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body: string };

interface SeenRequest {
  readonly body: string;
  readonly events: readonly Record<string, unknown>[];
  /** `valid`, or what is wrong with the signature. */
  readonly signature: string;
  readonly signedHeaders: readonly string[];
  readonly signedAt: Date;
  readonly fault: Fault;
  /** The stack's answer, when the request reached it. */
  answer?: { readonly status: number; readonly body: { results?: { status: string }[] } };
}

class FaultyFront {
  readonly requests: SeenRequest[] = [];
  private readonly arrivals: (() => void)[] = [];
  private faults: Fault[] = [];
  private credentials: AwsCredentials = CREDENTIALS;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly stackOrigin: string,
  ) {}

  static async start(stackApiUrl: string): Promise<FaultyFront> {
    const server = createServer();
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const { port } = server.address() as AddressInfo;
    const stack = new URL(stackApiUrl);
    const front = new FaultyFront(server, `http://127.0.0.1:${port}${stack.pathname}`, stack.origin);
    server.on('request', (request: IncomingMessage, response) => {
      front.handle(request, response).catch((error: unknown) => {
        console.error('the front failed', error);
        response.destroy();
      });
    });
    return front;
  }

  /** The faults of the next requests, in order; the ones after them pass. */
  plan(...faults: Fault[]): void {
    this.faults = faults;
  }

  /** The credentials signatures are checked against from now on. */
  expectCredentials(credentials: AwsCredentials): void {
    this.credentials = credentials;
  }

  /** Resolves once `count` requests have reached the front. */
  async received(count: number): Promise<void> {
    while (this.requests.length < count) await new Promise<void>((arrived) => this.arrivals.push(arrived));
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = [];
    this.credentials = CREDENTIALS;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((closed) => this.server.close(closed));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const fault = this.faults.shift() ?? 'pass';
    const seen: SeenRequest = {
      body,
      events: (JSON.parse(body) as { events: Record<string, unknown>[] }).events,
      ...(await checkSignature(request, body, this.credentials)),
      fault,
    };
    this.requests.push(seen);
    this.arrivals.splice(0).forEach((arrived) => arrived());
    if (fault === 'drop-connection') return void request.socket.destroy();
    if (fault === 'hang') return;
    if (typeof fault === 'object') return void response.writeHead(fault.status, fault.headers).end(fault.body);
    // Passed on as a client of the stack's own: signed again, with the local secret, for the stack's address.
    const answer = await fetchSigned(`${this.stackOrigin}${request.url}`, {
      method: 'POST',
      headers: { 'content-type': String(request.headers['content-type']) },
      body,
    });
    const text = await answer.text();
    seen.answer = { status: answer.status, body: JSON.parse(text) as NonNullable<SeenRequest['answer']>['body'] };
    if (fault === 'drop-answer') return void request.socket.destroy();
    const retryAfter = answer.headers.get('retry-after');
    response
      .writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/json',
        ...(retryAfter === null ? {} : { 'retry-after': retryAfter }),
      })
      .end(text);
  }
}

/**
 * Signs the request again with the signing library, from what it says it signed (its `SignedHeaders`, its date), and
 * compares: `valid` when the signatures are equal.
 */
async function checkSignature(
  request: IncomingMessage,
  body: string,
  credentials: AwsCredentials,
): Promise<Pick<SeenRequest, 'signature' | 'signedHeaders' | 'signedAt'>> {
  const authorization = request.headers.authorization ?? '';
  const signedHeaderList =
    /^AWS4-HMAC-SHA256 Credential=[^,]+, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/.exec(authorization)?.[1];
  const signedAt = new Date(
    String(request.headers['x-amz-date']).replace(
      /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
      '$1-$2-$3T$4:$5:$6Z',
    ),
  );
  if (signedHeaderList === undefined || Number.isNaN(signedAt.getTime())) {
    return { signature: `not a SigV4 request: ${authorization}`, signedHeaders: [], signedAt };
  }
  const signedHeaders = signedHeaderList.split(';');
  const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
  // The API's service and region, not the ones the request names: a request signed for others is refused.
  const again = await new SignatureV4({ service: 'execute-api', region: API_REGION, credentials, sha256: Sha256 }).sign(
    {
      method: request.method ?? '',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: Object.fromEntries(signedHeaders.map((name) => [name, String(request.headers[name])])),
      body,
    },
    { signingDate: signedAt },
  );
  const signature =
    again.headers.authorization === authorization
      ? 'valid'
      : `signed ${authorization}, the library signs ${again.headers.authorization}`;
  return { signature, signedHeaders, signedAt };
}

// ---------------------------------------------------------------------------------------------------------------------
// The stack, its time, its books

let front: FaultyFront;

beforeAll(async () => {
  front = await FaultyFront.start(local.stack.apiUrl);
});
afterEach(() => {
  const requests = front.requests.splice(0);
  front.reset();
  // Every request of every test was signed, and the signature is the one the library makes.
  expect(requests.map((request) => request.signature)).toEqual(requests.map(() => 'valid'));
  for (const request of requests) expect(request.signedHeaders).toEqual(expect.arrayContaining(['host']));
});
afterAll(() => front.close());

/** Each test gets hours of its own: a day after the last test's, the stack's clock frozen 10 minutes into it. */
let testDay = 0;
async function testHour(): Promise<Date> {
  const hour = new Date(Date.UTC(2030, 2, 2, 10) + testDay++ * 24 * HOUR_MS);
  await setTime(hour, 10 * MINUTE_MS);
  return hour;
}

async function setTime(hour: Date, offsetMs: number): Promise<Date> {
  const at = new Date(hour.getTime() + offsetMs);
  await local.control.setClock(at, false);
  return at;
}

const liveSubscriber = () => liveLicenseSubscriber(local);

async function bucketQuantity(subscriberId: string, hour: Date, dimension: string): Promise<unknown> {
  const { Item } = await local.documents.send(
    new GetCommand({
      TableName: local.stack.tables.Usage,
      Key: bucketKey(subscriberId, hour, dimension),
      ConsistentRead: true,
    }),
  );
  return Item?.quantity;
}

interface ClientUnderTest {
  readonly client: UsageClient;
  readonly sleeps: ManualSleeps;
  readonly refusals: UsageRefusal[];
  readonly errors: (UsageCallFailedError | UsageCallRefusedError)[];
  /** The report of the next flush to end, the interval's included. */
  readonly nextFlush: () => Promise<FlushReport>;
}

function usageClient(options: Partial<UsageClientOptions> = {}): ClientUnderTest {
  const manual = new ManualSleeps();
  const refusals: UsageRefusal[] = [];
  const errors: (UsageCallFailedError | UsageCallRefusedError)[] = [];
  const flushWaiters: ((report: FlushReport) => void)[] = [];
  const client = new UsageClient({
    usageUrl: `${front.url}/usage`,
    region: API_REGION,
    credentials: CREDENTIALS,
    flushIntervalMs: INTERVAL_MS,
    clock: local.stack.simulator.simulator.clock,
    sleep: manual.sleep,
    onRefused: (refusal) => refusals.push(refusal),
    onError: (error) => errors.push(error),
    onFlush: (report) => flushWaiters.splice(0).forEach((waiter) => waiter(report)),
    ...options,
    // No fault here is a slow answer: an attempt given up on a stalled machine would be a retry no test planned.
    retry: { requestTimeoutMs: 600_000, ...options.retry },
  });
  return {
    client,
    sleeps: manual,
    refusals,
    errors,
    nextFlush: () => new Promise((ended) => flushWaiters.push(ended)),
  };
}

const sum = (quantities: readonly number[]) => quantities.reduce((total, quantity) => total + quantity, 0);

// ---------------------------------------------------------------------------------------------------------------------
// Tests

test('app events are summed per subscriber, dimension and hour, sent in one call when the interval ends, and billed', async () => {
  const hour = await testHour();
  const [first, second] = [await liveSubscriber(), await liveSubscriber()];
  const now = await setTime(hour, HOUR_MS + 20 * MINUTE_MS);
  const { client, sleeps, nextFlush } = usageClient();
  const lastOfHour = new Date(hour.getTime() + HOUR_MS - 1);
  const nextHour = new Date(hour.getTime() + HOUR_MS);
  const recorded = new Map<string, number[]>();
  const record = (subscriberId: string, dimension: string, quantity: number, timestamp: Date) => {
    client.record({ subscriberId, dimension, quantity, timestamp });
    const key = `${subscriberId} ${dimension} ${timestamp.getTime() < nextHour.getTime() ? 'hour' : 'next hour'}`;
    recorded.set(key, [...(recorded.get(key) ?? []), quantity]);
  };
  for (let index = 0; index < 200; index++) {
    const subscriber = index % 2 === 0 ? first : second;
    const dimension = index % 4 < 2 ? 'requests' : 'storage_gb';
    // Spread over the hour since the subscriptions started (10 minutes in), its very last millisecond included.
    const at = index === 0 ? lastOfHour : new Date(hour.getTime() + 10 * MINUTE_MS + index * 10_000);
    record(subscriber.subscriberId, dimension, 1 + (index % 7), at);
  }
  record(first.subscriberId, 'requests', 5, nextHour);
  record(first.subscriberId, 'requests', 6, now);

  // Nothing goes out before the interval ends.
  const interval = await sleeps.next(isInterval);
  expect(front.requests).toEqual([]);
  const flushed = nextFlush();
  interval.wake();
  expect(await flushed).toEqual({ requests: 1, delivered: 202, refused: 0, pending: 0 });

  expect(front.requests).toHaveLength(1);
  const events = front.requests[0]!.events;
  expect(events).toHaveLength(5);
  expect(front.requests[0]!.answer?.body.results?.map((result) => result.status)).toEqual(Array(5).fill('accepted'));
  expect(new Set(events.map((event) => event.eventId)).size).toBe(5);
  const sentFor = (subscriberId: string, dimension: string, inHour: Date) =>
    events.filter(
      (event) =>
        event.subscriberId === subscriberId &&
        event.dimension === dimension &&
        Math.floor(Date.parse(String(event.timestamp)) / HOUR_MS) * HOUR_MS === inHour.getTime(),
    );
  // Each aggregated event is stamped with the latest time of its app events: inside their hour.
  expect(sentFor(first.subscriberId, 'requests', hour)).toEqual([
    expect.objectContaining({
      quantity: sum(recorded.get(`${first.subscriberId} requests hour`)!),
      timestamp: lastOfHour.toISOString(),
    }),
  ]);
  expect(sentFor(first.subscriberId, 'requests', nextHour)).toEqual([
    expect.objectContaining({ quantity: 11, timestamp: now.toISOString() }),
  ]);
  expect(sentFor(second.subscriberId, 'storage_gb', hour)).toEqual([
    expect.objectContaining({ quantity: sum(recorded.get(`${second.subscriberId} storage_gb hour`)!) }),
  ]);
  // Signed with the client's clock, the stack's.
  expect(front.requests[0]!.signedAt.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000);

  for (const subscriber of [first, second]) {
    for (const dimension of ['requests', 'storage_gb']) {
      expect(await bucketQuantity(subscriber.subscriberId, hour, dimension)).toBe(
        sum(recorded.get(`${subscriber.subscriberId} ${dimension} hour`)!),
      );
    }
  }
  // Both hours closed: each is billed with the sums, once.
  await setTime(hour, 2 * HOUR_MS + 10 * MINUTE_MS);
  await local.stack.meter();
  const { records } = await local.control.billed({ licenseId: first.licenseId });
  expect(records).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        dimension: 'requests',
        hour: hour.toISOString(),
        quantity: sum(recorded.get(`${first.subscriberId} requests hour`)!),
      }),
      expect.objectContaining({ dimension: 'requests', hour: nextHour.toISOString(), quantity: 11 }),
    ]),
  );
  await client.close();
});

test('a call whose answer was lost is sent again, identical, and counted once', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  const now = await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps } = usageClient();
  for (const quantity of [3, 4, 5]) client.record({ subscriberId, dimension: 'requests', quantity });
  client.record({ subscriberId, dimension: 'storage_gb', quantity: 7, timestamp: new Date(now.getTime() - 60_000) });
  front.plan('drop-answer');

  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 2, delivered: 4, refused: 0, pending: 0 });

  const [lost, again] = front.requests as [SeenRequest, SeenRequest];
  expect(front.requests).toHaveLength(2);
  expect(again.body).toBe(lost.body);
  expect(lost.answer?.body.results?.map((result) => result.status)).toEqual(['accepted', 'accepted']);
  expect(again.answer?.body.results).toEqual([{ status: 'duplicate' }, { status: 'duplicate' }]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(12);
  expect(await bucketQuantity(subscriberId, hour, 'storage_gb')).toBe(7);
  await client.close();
});

test('a 503, a 429 and an unreadable 200 are retried, after their Retry-After, and the call then goes through once', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 9 });
  front.plan(
    {
      status: 503,
      headers: { 'retry-after': '2', 'content-type': 'application/json' },
      body: '{"message":"Try again"}',
    },
    { status: 429, headers: { 'retry-after': '3', 'content-type': 'text/html' }, body: '<html>Slow down</html>' },
    { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>A captive portal</html>' },
  );

  const flushed = client.flush();
  const afterUnavailable = await sleeps.next(isBackoff);
  expect(afterUnavailable.ms).toBeGreaterThanOrEqual(2_000);
  afterUnavailable.wake();
  const afterThrottled = await sleeps.next(isBackoff);
  expect(afterThrottled.ms).toBeGreaterThanOrEqual(3_000);
  afterThrottled.wake();
  const afterUnreadable = await sleeps.next(isBackoff);
  expect(afterUnreadable.ms).toBeLessThan(2_000);
  afterUnreadable.wake();
  expect(await flushed).toEqual({ requests: 4, delivered: 1, refused: 0, pending: 0 });

  expect(front.requests.map((request) => request.body)).toEqual(Array(4).fill(front.requests[0]!.body));
  expect(front.requests[3]!.answer?.body.results).toEqual([expect.objectContaining({ status: 'accepted' })]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(9);
  expect(errors).toEqual([]);
  await client.close();
});

test("a sum of usage from both sides of the subscription's end: the usage up to the end is sent again alone, and billed", async () => {
  const hour = await testHour();
  const { licenseId, subscriberId } = await liveSubscriber();
  await setTime(hour, 20 * MINUTE_MS);
  const { client, refusals, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 5 });
  await setTime(hour, 25 * MINUTE_MS);
  // The buyer cancels while the app's users are still at work: their usage after the end is summed with the rest.
  await cancelOnBuyerPage(local.stack.simulator.url, licenseId);
  await settleLifecycle(local.stack);
  await setTime(hour, 30 * MINUTE_MS);
  client.record({ subscriberId, dimension: 'requests', quantity: 7 });

  expect(await client.flush()).toEqual({ requests: 2, delivered: 1, refused: 1, pending: 0 });
  const [whole, beforeTheEnd] = front.requests as [SeenRequest, SeenRequest];
  expect(whole.answer?.body.results).toEqual([
    expect.objectContaining({
      status: 'rejected',
      reason: 'not-subscribed',
      billableUntil: expect.any(String) as unknown,
    }),
  ]);
  expect(beforeTheEnd.events).toEqual([
    expect.objectContaining({ eventId: `${String(whole.events[0]!.eventId)}-billable`, quantity: 5 }),
  ]);
  expect(beforeTheEnd.answer?.body.results).toEqual([expect.objectContaining({ status: 'accepted' })]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(5);
  // What is refused is the usage after the end, and only it.
  expect(refusals).toEqual([
    expect.objectContaining({ reason: 'not-subscribed', event: expect.objectContaining({ quantity: 7 }) as unknown }),
  ]);
  expect(refusals[0]!.event.appEvents.map((appEvent) => appEvent.quantity)).toEqual([7]);
  expect(errors).toEqual([]);
  await client.close();
});

test("another 2xx than the API's 200 (a proxy's) is no refusal: the call is sent again, with its ids, and counted once", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 8 });
  // The call went through to the API, and a proxy answered 202 without its body: it may have been counted.
  front.plan('drop-answer');
  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  front.plan({ status: 202, headers: { 'content-type': 'text/plain' }, body: 'Accepted' });
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 3, delivered: 1, refused: 0, pending: 0 });

  expect(front.requests.map((request) => request.body)).toEqual(Array(3).fill(front.requests[0]!.body));
  expect(front.requests[2]!.answer?.body.results).toEqual([{ status: 'duplicate' }]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(8);
  expect(errors).toEqual([]);
  await client.close();
});

test("a Retry-After given as a date is waited out, counted from the answer's Date; one that says nothing is not", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 4 });
  // A proxy's clock, far from this machine's: only the difference between its two headers counts.
  const answeredAt = new Date('2031-05-01T12:00:00.000Z');
  const busy = (retryAfter: string) => ({
    status: 503,
    headers: { date: answeredAt.toUTCString(), 'retry-after': retryAfter, 'content-type': 'application/json' },
    body: '{"message":"busy"}',
  });
  // `Date.parse` would read "5, 10" as a date of 2001: not a date of HTTP's, so nothing said.
  front.plan(busy(new Date(answeredAt.getTime() + 7_000).toUTCString()), busy('5, 10'));

  const flushed = client.flush();
  const afterDate = await sleeps.next(isBackoff);
  expect(afterDate.ms).toBeGreaterThanOrEqual(7_000);
  expect(afterDate.ms).toBeLessThan(7_000 + 2_000);
  afterDate.wake();
  const afterNonsense = await sleeps.next(isBackoff);
  expect(afterNonsense.ms).toBeLessThan(2_000);
  afterNonsense.wake();
  expect(await flushed).toEqual({ requests: 3, delivered: 1, refused: 0, pending: 0 });
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(4);
  expect(errors).toEqual([]);
  await client.close();
});

test('calls that keep failing keep their events, and a later flush sends them with the same ids and contents', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors, nextFlush } = usageClient({ retry: { maxAttempts: 2 } });
  client.record({ subscriberId, dimension: 'requests', quantity: 2 });
  client.record({ subscriberId, dimension: 'requests', quantity: 3 });
  front.plan('drop-connection', 'drop-answer');

  const failing = client.flush();
  (await sleeps.next(isBackoff)).wake();
  expect(await failing).toEqual({ requests: 2, delivered: 0, refused: 0, pending: 2 });
  expect(errors).toEqual([expect.any(UsageCallFailedError)]);
  const failure = errors[0] as UsageCallFailedError;
  expect(failure).toMatchObject({ attempts: 2, status: undefined, pendingAppEvents: 2 });
  expect(failure.message).toMatch(
    /^POST \/usage failed after 2 attempts \(.+\); 2 app events are kept for the next flush$/,
  );
  expect(failure.events).toEqual([
    expect.objectContaining({ quantity: 5, appEvents: [expect.anything(), expect.anything()] }),
  ]);
  // The second attempt was recorded, though its answer was lost: the same event goes again, and is a duplicate.
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(5);

  // Usage of the same bucket recorded since is another event: the first one's contents never change.
  client.record({ subscriberId, dimension: 'requests', quantity: 4 });
  const nextOne = nextFlush();
  (await sleeps.next(isInterval)).wake();
  expect(await nextOne).toEqual({ requests: 1, delivered: 3, refused: 0, pending: 0 });
  const [firstTry, , later] = front.requests as [SeenRequest, SeenRequest, SeenRequest];
  expect(later.events).toEqual([firstTry.events[0], expect.objectContaining({ quantity: 4 })]);
  expect(later.answer?.body.results).toEqual([
    { status: 'duplicate' },
    expect.objectContaining({ status: 'accepted' }),
  ]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(9);
  await client.close();
});

test('refused events reach onRefused with the app events summed into them; the rest is delivered', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, refusals } = usageClient();
  for (const quantity of [1, 2, 3]) client.record({ subscriberId: NOBODY, dimension: 'requests', quantity });
  for (const quantity of [4, 5]) client.record({ subscriberId, dimension: 'gpu_hours', quantity });
  client.record({ subscriberId, dimension: 'requests', quantity: 6, tags: { team: 'a=b' } });
  client.record({ subscriberId, dimension: 'requests', quantity: 7, tags: { 'team~': 'x' } });

  expect(await client.flush()).toEqual({ requests: 1, delivered: 1, refused: 6, pending: 0 });
  expect(refusals).toMatchObject([
    {
      status: 'rejected',
      reason: 'unknown-subscriber',
      message: expect.any(String) as string,
      event: {
        subscriberId: NOBODY,
        dimension: 'requests',
        quantity: 6,
        hour: hour.toISOString(),
        appEvents: [1, 2, 3].map((quantity) => ({ subscriberId: NOBODY, quantity })),
      },
    },
    {
      status: 'rejected',
      reason: 'unknown-dimension',
      event: { quantity: 9, appEvents: [{ quantity: 4 }, { quantity: 5 }] },
    },
    { status: 'rejected', reason: 'bad-tags', event: { quantity: 7, tags: { 'team~': 'x' } } },
  ]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(6);
  await client.close();
});

test("an hour's sum past the largest quantity is split in two events, and the API refuses what no longer fits", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, refusals } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 2_000_000_000 });
  client.record({ subscriberId, dimension: 'requests', quantity: 2_000_000_000 });

  expect(await client.flush()).toEqual({ requests: 1, delivered: 1, refused: 1, pending: 0 });
  expect(front.requests[0]!.events.map((event) => event.quantity)).toEqual([2_000_000_000, 2_000_000_000]);
  expect(refusals).toEqual([expect.objectContaining({ status: 'rejected', reason: 'bad-quantity' })]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(2_000_000_000);
  await client.close();
});

test('a call refused whole (400) is not retried: its events go to onError', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 8 });
  front.plan({
    status: 400,
    headers: { 'content-type': 'application/json' },
    body: '{"message":"The body is not valid JSON"}',
  });

  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
  expect(sleeps.backoffs()).toEqual([]);
  expect(errors).toEqual([expect.any(UsageCallRefusedError)]);
  expect(errors[0]).toMatchObject({
    status: 400,
    apiMessage: 'The body is not valid JSON',
    events: [expect.objectContaining({ quantity: 8, appEvents: [expect.objectContaining({ quantity: 8 })] })],
  });
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBeUndefined();

  // A signed call to an address with no route: API Gateway's words sound like a missing signature; the message says.
  client.record({ subscriberId, dimension: 'requests', quantity: 3 });
  front.plan({
    status: 403,
    headers: { 'content-type': 'application/json' },
    body: '{"message":"Missing Authentication Token"}',
  });
  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
  expect(errors[1]?.message).toBe(
    "POST /usage refused a call of 1 event with 403: Missing Authentication Token (API Gateway's answer for an " +
      "address with no route: check usageUrl against the stack's UsageUrl output); its 1 app event is not sent " +
      'again (on this error)',
  );

  // A buyer page's address given as usageUrl: the page's title, not its markup.
  client.record({ subscriberId, dimension: 'requests', quantity: 3 });
  front.plan({
    status: 415,
    headers: { 'content-type': 'text/html' },
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>We could not read that request</title>${'<style></style>'.repeat(20)}</head></html>`,
  });
  await client.flush();
  expect(errors[2]).toMatchObject({ status: 415, apiMessage: 'an HTML page, "We could not read that request"' });
  await client.close();
});

test("a redirect, or a 200 that is not the API's answer, says the usageUrl is not the API's address", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, errors } = usageClient({ retry: { maxAttempts: 1 } });
  client.record({ subscriberId, dimension: 'requests', quantity: 6 });
  front.plan({ status: 302, headers: { location: 'https://sso.example.com/login' }, body: '' });

  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
  expect(errors[0]).toBeInstanceOf(UsageCallRefusedError);
  expect(errors[0]).toMatchObject({
    status: 302,
    apiMessage: "a redirect to https://sso.example.com/login: usageUrl is not the API's address",
  });

  client.record({ subscriberId, dimension: 'requests', quantity: 7 });
  front.plan({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>A captive portal</html>' });
  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 0, pending: 1 });
  expect(errors[1]).toBeInstanceOf(UsageCallFailedError);
  expect((errors[1] as UsageCallFailedError).message).toContain(
    "POST /usage failed after 1 attempt (a 200 that is not the API's answer (is usageUrl the API's address?): " +
      '<html>A captive portal</html>)',
  );
  expect(await client.close()).toEqual({ requests: 1, delivered: 1, refused: 0, pending: 0 });
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(7);
});

test('a refusal after an attempt whose answer was lost keeps the events pending: that attempt was counted', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 6 });
  // Counted, its answer lost; then credentials that no longer sign (as when they expired).
  front.plan('drop-answer', { status: 403, headers: { 'content-type': 'application/json' }, body: '{"message":"x"}' });

  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 2, delivered: 0, refused: 0, pending: 1 });
  expect(errors).toEqual([expect.any(UsageCallFailedError)]);
  expect(errors[0]).toMatchObject({ status: 403 });
  expect(errors[0]?.cause).toBeInstanceOf(RefusedAfterLostAnswerError);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(6);

  // Sent again as it was, it is answered `duplicate`: delivered, and counted once.
  expect(await client.flush()).toEqual({ requests: 1, delivered: 1, refused: 0, pending: 0 });
  expect(front.requests.at(-1)?.answer?.body.results).toEqual([{ status: 'duplicate' }]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(6);
  await client.close();
});

test('a refusal in a later flush still keeps events pending whose earlier call may have been counted', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 9 });
  // Counted, its answer lost; then a 403 that lasts into the next flush (credentials that stay expired a while).
  const forbidden = { status: 403, headers: { 'content-type': 'application/json' }, body: '{"message":"x"}' };
  front.plan('drop-answer', forbidden, forbidden);

  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 2, delivered: 0, refused: 0, pending: 1 });
  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 0, pending: 1 });
  expect(errors).toEqual([expect.any(UsageCallFailedError), expect.any(UsageCallFailedError)]);
  expect(errors[1]?.cause).toBeInstanceOf(RefusedAfterLostAnswerError);

  expect(await client.flush()).toEqual({ requests: 1, delivered: 1, refused: 0, pending: 0 });
  expect(front.requests.at(-1)?.answer?.body.results).toEqual([{ status: 'duplicate' }]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(9);
  await client.close();
});

test('a conflict is reported to onRefused like a rejection, and not sent again', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, refusals } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 2 });
  // What the API answers an id it counted for another event (which this client's ids never are).
  const message = 'eventId "x" was already used for another event (its quantity differed)';
  front.plan({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ results: [{ status: 'conflict', message }] }),
  });

  expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
  expect(refusals).toMatchObject([
    { status: 'conflict', message, event: { quantity: 2, appEvents: [{ quantity: 2 }] } },
  ]);
  expect(await client.flush()).toEqual({ requests: 0, delivered: 0, refused: 0, pending: 0 });
  await client.close();
});

test('more aggregated events than one call takes go in calls of at most 50', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client } = usageClient();
  for (let project = 0; project < 60; project++) {
    for (const quantity of [1, 2])
      client.record({ subscriberId, dimension: 'requests', quantity, tags: { project: `p${project}` } });
  }

  expect(await client.flush()).toEqual({ requests: 2, delivered: 120, refused: 0, pending: 0 });
  expect(front.requests.map((request) => request.events.length)).toEqual([50, 10]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(180);
  await client.close();
});

test("calls stay within the API's 512 KiB: large sums go in more calls, each answered event by event", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, errors, refusals } = usageClient();
  // Within every length the client takes, and the largest JSON can make them: each control character is 6 bytes.
  const wide = (prefix: string, length: number) => prefix + '\u0001'.repeat(length - prefix.length);
  for (let sum = 0; sum < 50; sum++) {
    const tags = Object.fromEntries(
      Array.from({ length: 5 }, (_, index) => [wide(`k${sum}-${index}`, 100), wide('v', 256)]),
    );
    client.record({ subscriberId, dimension: 'requests', quantity: 1, tags });
  }
  client.record({ subscriberId, dimension: 'requests', quantity: 5 });

  expect(await client.flush()).toEqual({ requests: 2, delivered: 1, refused: 50, pending: 0 });
  const bodies = front.requests.map((request) => Buffer.byteLength(JSON.stringify({ events: request.events })));
  expect(bodies.every((bytes) => bytes <= 512 * 1024)).toBe(true);
  expect(sum(front.requests.map((request) => request.events.length))).toBe(51);
  expect(errors).toEqual([]);
  expect(new Set(refusals.map((refusal) => refusal.status === 'rejected' && refusal.reason))).toEqual(
    new Set(['bad-tags']),
  );
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(5);
  await client.close();
});

test('an async callback that rejects is logged like one that throws: the flush goes on, the process lives', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const logged: unknown[][] = [];
  const consoleError = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(args));
  try {
    const { client } = usageClient({ onError: () => Promise.reject(new Error('the app could not keep them')) });
    client.record({ subscriberId, dimension: 'requests', quantity: 8 });
    front.plan({ status: 403, headers: { 'content-type': 'application/json' }, body: '{"message":"Forbidden"}' });
    expect(await client.flush()).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
    await vi.waitFor(() => expect(logged).toHaveLength(1));
    expect(logged[0]).toEqual([
      'usage client: a callback threw; the flush goes on',
      expect.objectContaining({ message: 'the app could not keep them' }),
    ]);
    await client.close();
  } finally {
    consoleError.mockRestore();
  }
});

test('close() settles only once the async callbacks it started have: an app keeping refused events gets to', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  let release: () => void = () => undefined;
  const kept: UsageCallRefusedError[] = [];
  const { client } = usageClient({
    onError: (error) =>
      new Promise<void>((done) => {
        release = () => {
          if (error instanceof UsageCallRefusedError) kept.push(error);
          done();
        };
      }),
  });
  client.record({ subscriberId, dimension: 'requests', quantity: 8 });
  front.plan({ status: 403, headers: { 'content-type': 'application/json' }, body: '{"message":"Forbidden"}' });
  let closed = false;
  const closing = client.close().then((report) => {
    closed = true;
    return report;
  });
  await vi.waitFor(() => expect(front.requests).toHaveLength(1));
  for (let turn = 0; turn < 20; turn++) await new Promise((next) => setImmediate(next));
  expect(closed).toBe(false);
  release();
  expect(await closing).toEqual({ requests: 1, delivered: 0, refused: 1, pending: 0 });
  expect(kept.map((error) => error.events.map((event) => event.quantity))).toEqual([[8]]);
});

test('close() sends what is buffered, and the client takes nothing after it', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  // No credentials given: the SDK's default chain finds the environment's (the local stack's dummy ones).
  const { client } = usageClient({ credentials: undefined });
  front.expectCredentials({ accessKeyId: 'local', secretAccessKey: 'local' });
  client.record({ subscriberId, dimension: 'storage_gb', quantity: 30 });

  expect(await client.close()).toEqual({ requests: 1, delivered: 1, refused: 0, pending: 0 });
  expect(await bucketQuantity(subscriberId, hour, 'storage_gb')).toBe(30);
  expect(() => client.record({ subscriberId, dimension: 'storage_gb', quantity: 1 })).toThrow(UsageClientClosedError);
  expect(await client.close()).toEqual({ requests: 1, delivered: 1, refused: 0, pending: 0 });
});

test('close() during a flush reports what that flush delivered, and its own', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 4 });
  front.plan({ status: 503, headers: { 'retry-after': '0' }, body: '{"message":"busy"}' });

  const flushed = client.flush();
  const backoff = await sleeps.next(isBackoff);
  const closed = client.close();
  backoff.wake();
  expect(await flushed).toEqual({ requests: 2, delivered: 1, refused: 0, pending: 0 });
  expect(await closed).toEqual({ requests: 2, delivered: 1, refused: 0, pending: 0 });
});

test('close() while the API cannot be reached rejects with the events it could not deliver', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient({ retry: { maxAttempts: 2 } });
  client.record({ subscriberId, dimension: 'requests', quantity: 1 });
  client.record({ subscriberId, dimension: 'storage_gb', quantity: 2 });
  front.plan('drop-connection', 'drop-connection');

  const closed = client.close();
  (await sleeps.next(isBackoff)).wake();
  const error: unknown = await closed.catch((reason: unknown) => reason);
  expect(error).toBeInstanceOf(UsageNotDeliveredError);
  expect((error as UsageNotDeliveredError).events.map((event) => [event.dimension, event.quantity])).toEqual([
    ['requests', 1],
    ['storage_gb', 2],
  ]);
  expect((error as UsageNotDeliveredError).cause).toBe(errors[0]);
  // Closing, the client has no next flush: the failure says where the events go.
  expect((errors[0] as UsageCallFailedError).message).toMatch(/; 2 app events are handed back by close\(\)$/);
  expect(client.pendingAppEvents).toBe(0);
});

test("a flush that fails while close() waits for it keeps its events for close()'s own flush, which delivers them", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient({ retry: { maxAttempts: 1 } });
  client.record({ subscriberId, dimension: 'requests', quantity: 3 });
  front.plan('drop-connection');

  const flushed = client.flush();
  await front.received(1);
  const closed = client.close();
  expect(await flushed).toEqual({ requests: 1, delivered: 0, refused: 0, pending: 1 });
  expect(await closed).toEqual({ requests: 2, delivered: 1, refused: 0, pending: 0 });
  // Not "handed back by close()": close() had a flush of its own to come.
  expect(errors.map((error) => error.message)).toEqual([
    expect.stringMatching(/; 1 app event is kept for the next flush$/),
  ]);
  expect(sleeps.backoffs()).toEqual([]);
});

test("close()'s deadline before its flush sent anything is what kept the events, not an earlier flush's failure", async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, errors } = usageClient({ retry: { maxAttempts: 1 } });
  client.record({ subscriberId, dimension: 'requests', quantity: 1 });
  front.plan({ status: 503, body: '{"message":"busy"}' });
  expect(await client.flush()).toMatchObject({ delivered: 0, pending: 1 });
  expect(await client.flush()).toMatchObject({ delivered: 1, pending: 0 });
  client.record({ subscriberId, dimension: 'requests', quantity: 2 });

  const error: unknown = await client.close({ timeoutMs: 0 }).catch((reason: unknown) => reason);
  expect(error).toBeInstanceOf(UsageNotDeliveredError);
  expect((error as UsageNotDeliveredError).events).toEqual([expect.objectContaining({ quantity: 2 })]);
  expect((error as UsageNotDeliveredError).cause).toEqual(new CloseTimeoutError(0));
  expect(errors).toEqual([expect.any(UsageCallFailedError)]);
});

test('close() with a deadline gives up on an API that does not answer, in time, handing back the events', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const { client, sleeps, errors } = usageClient();
  client.record({ subscriberId, dimension: 'requests', quantity: 6 });
  front.plan('hang');

  // A framework's shutdown hook closes the client first with no deadline; the SIGTERM handler's deadline still holds.
  const closed = client.close();
  expect(client.close({ timeoutMs: 20_000 })).toBe(closed);
  const deadline = await sleeps.next((ms) => ms === 20_000);
  await front.received(1);
  deadline.wake();
  const error: unknown = await closed.catch((reason: unknown) => reason);

  expect(error).toBeInstanceOf(UsageNotDeliveredError);
  expect((error as UsageNotDeliveredError).events).toEqual([expect.objectContaining({ quantity: 6 })]);
  // The attempt under way was abandoned, and no other was made.
  expect(errors).toEqual([expect.any(UsageCallFailedError)]);
  expect((errors[0] as UsageCallFailedError).cause).toEqual(new CloseTimeoutError(20_000));
  expect(front.requests).toHaveLength(1);
  expect(sleeps.backoffs()).toEqual([]);
});

test('close() with a deadline already past sends nothing and hands everything back', async () => {
  const { client, errors } = usageClient();
  client.record({ subscriberId: NOBODY, dimension: 'requests', quantity: 2 });
  // A deadline computed at SIGTERM that has run out by the time close() is called.
  const closing = client.close({ timeoutMs: -1_500 });
  const error: unknown = await closing.catch((reason: unknown) => reason);
  expect(error).toBeInstanceOf(UsageNotDeliveredError);
  expect((error as UsageNotDeliveredError).events).toEqual([expect.objectContaining({ quantity: 2 })]);
  expect((error as UsageNotDeliveredError).cause).toBeInstanceOf(CloseTimeoutError);
  expect(front.requests).toEqual([]);
  expect(errors).toEqual([]);
  await expect(usageClient().client.close({ timeoutMs: Number.NaN })).rejects.toThrow(UsageClientConfigError);
});

test('events handed back on close are sent again by another client with their ids: counted once', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  await setTime(hour, 40 * MINUTE_MS);
  const first = usageClient({ retry: { maxAttempts: 2 } });
  first.client.record({ subscriberId, dimension: 'requests', quantity: 5 });
  first.client.record({ subscriberId, dimension: 'requests', quantity: 6 });
  // The first attempt is recorded and its answer lost, the second never arrives: unanswered, but counted.
  front.plan('drop-answer', 'drop-connection');
  const closed = first.client.close();
  (await first.sleeps.next(isBackoff)).wake();
  const error = (await closed.catch((reason: unknown) => reason)) as UsageNotDeliveredError;
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(11);
  // As an app keeps them: in a file or a queue, through JSON.
  const kept = JSON.parse(JSON.stringify(error.events)) as AggregatedUsageEvent[];

  const second = usageClient();
  second.client.resend(kept);
  second.client.resend(kept);
  expect(second.client.pendingAppEvents).toBe(2);
  const oneMore = {
    ...kept[0]!,
    quantity: 12,
    appEvents: [...kept[0]!.appEvents, { ...kept[0]!.appEvents[0]!, quantity: 1 }],
  };
  expect(() => second.client.resend([oneMore])).toThrow(
    `a handed-back event has the id ${kept[0]!.eventId} of another one pending`,
  );
  // Unanswered before, so maybe counted: a refusal of its call does not drop it, it stays pending.
  front.plan({ status: 400, body: '{"message":"A refusal that says nothing of the earlier attempt"}' });
  expect(await second.client.flush()).toEqual({ requests: 1, delivered: 0, refused: 0, pending: 2 });
  expect(second.errors).toEqual([expect.any(UsageCallFailedError)]);
  expect(second.errors[0]!.cause).toBeInstanceOf(RefusedAfterLostAnswerError);
  expect(await second.client.close()).toEqual({ requests: 1, delivered: 2, refused: 0, pending: 0 });

  expect(front.requests.at(-1)!.body).toBe(front.requests[0]!.body);
  expect(front.requests.at(-1)!.answer?.body.results).toEqual([{ status: 'duplicate' }]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(11);
  const { quantity, ...withoutQuantity } = kept[0]!;
  expect(() => usageClient().client.resend([withoutQuantity as AggregatedUsageEvent])).toThrow(
    'a handed-back event cannot be sent again: quantity must be a whole number',
  );
  expect(quantity).toBe(11);
  expect(() => usageClient().client.resend([{ ...kept[0]!, appEvents: [] }])).toThrow(
    'appEvents must be the app events summed into it',
  );
  // Changed after it was handed back, it would bill what the app never recorded: refused, not sent as it stands.
  const original = kept[0]!;
  const [fifth, sixth] = original.appEvents;
  const changed: [Partial<AggregatedUsageEvent>, string][] = [
    [{ quantity: 1000 }, "quantity must be the sum of its app events' quantities (11), not 1000"],
    [{ dimension: 'storage_gb' }, 'its app events must be of its subscriberId and dimension'],
    [{ tags: { project: 'x' } }, 'its app events must have its tags'],
    [
      { appEvents: [fifth!, { ...sixth!, quantity: 7 }] },
      "quantity must be the sum of its app events' quantities (12)",
    ],
    [{ timestamp: hour.toISOString() }, 'timestamp must be the latest of its app events'],
    [{ hour: new Date(hour.getTime() + HOUR_MS).toISOString() }, 'hour must be the start of the UTC hour'],
    [
      { appEvents: [{ ...fifth!, timestamp: new Date(hour.getTime() - MINUTE_MS) }, sixth!] },
      'its app events must all be in its hour',
    ],
  ];
  for (const [change, problem] of changed) {
    expect(() => usageClient().client.resend([{ ...original, ...change }])).toThrow(problem);
  }
  for (const eventId of ['', 'x'.repeat(129), 'id\u0001']) {
    expect(() => usageClient().client.resend([{ ...kept[0]!, eventId }])).toThrow(
      'eventId must be 1 to 128 printable ASCII characters',
    );
  } // What an app's store gives back when it kept nothing, or kept something else: the client's own error, not a TypeError.
  const notEvents: [unknown, string][] = [
    [undefined, 'resend() takes an array of handed-back events, not undefined'],
    [null, 'resend() takes an array of handed-back events, not null'],
    [{ events: kept }, 'resend() takes an array of handed-back events, not an object'],
    ['[]', 'resend() takes an array of handed-back events, not the string "[]"'],
    [[kept[0], null], 'a handed-back event cannot be sent again: an event must be an object, not null'],
  ];
  const { client: another } = usageClient();
  for (const [given, problem] of notEvents) {
    expect(() => another.resend(given as AggregatedUsageEvent[])).toThrow(new InvalidUsageEventError(problem));
  }
  expect(another.pendingAppEvents).toBe(0);
});

test('a signature API Gateway finds outside its 5 minutes is signed again on its clock; an expired token is asked again', async () => {
  const hour = await testHour();
  const { subscriberId } = await liveSubscriber();
  const now = await setTime(hour, 40 * MINUTE_MS);
  let asked = 0;
  const { client, sleeps, errors } = usageClient({
    credentials: () => {
      asked++;
      return Promise.resolve(CREDENTIALS);
    },
  });
  client.record({ subscriberId, dimension: 'requests', quantity: 8 });
  // API Gateway's clock 10 minutes ahead of the machine's, as its Date header says.
  const gatewayTime = new Date(now.getTime() + 10 * MINUTE_MS);
  front.plan(
    {
      status: 403,
      headers: { date: gatewayTime.toUTCString(), 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'Signature expired: 20300302T104000Z is now earlier than 20300302T104500Z' }),
    },
    { status: 403, body: '{"message":"The security token included in the request is expired"}' },
  );

  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 3, delivered: 1, refused: 0, pending: 0 });

  expect(front.requests.map((request) => request.signedAt.getTime())).toEqual([
    now.getTime(),
    gatewayTime.getTime(),
    gatewayTime.getTime(),
  ]);
  expect(asked).toBe(3);
  expect(errors).toEqual([]);
  expect(await bucketQuantity(subscriberId, hour, 'requests')).toBe(8);
  await client.close();
});

test('attempts that send nothing (no credentials) are not counted as requests', async () => {
  const { client, sleeps, errors } = usageClient({
    retry: { maxAttempts: 2 },
    credentials: () => Promise.reject(new Error('no credentials here')),
  });
  client.record({ subscriberId: NOBODY, dimension: 'requests', quantity: 1 });

  const flushed = client.flush();
  (await sleeps.next(isBackoff)).wake();
  expect(await flushed).toEqual({ requests: 0, delivered: 0, refused: 0, pending: 1 });
  expect(errors).toEqual([expect.objectContaining({ attempts: 2, status: undefined })]);
  expect(front.requests).toEqual([]);
});

test('record() refuses what cannot be summed, and the client refuses options it cannot sign with', () => {
  const { client } = usageClient();
  const event = { subscriberId: NOBODY, dimension: 'requests' };
  for (const quantity of [0, 1.5, -1, 2_147_483_648, Number.NaN]) {
    expect(() => client.record({ ...event, quantity })).toThrow(InvalidUsageEventError);
  }
  // A number given as a string or a bigint reads like a valid one in the message unless it says what it is.
  expect(() => client.record({ ...event, quantity: '5' as unknown as number })).toThrow(
    'quantity must be a whole number from 1 to 2147483647, not the string "5"',
  );
  expect(() => client.record({ ...event, quantity: 1n as unknown as number })).toThrow(
    'quantity must be a whole number from 1 to 2147483647, not the bigint 1n',
  );
  expect(() => client.record({ ...event, quantity: 1, timestamp: new Date(Number.NaN) })).toThrow(
    InvalidUsageEventError,
  );
  expect(() => client.record({ ...event, dimension: '', quantity: 1 })).toThrow(
    'dimension must be a string of 1 to 255 characters',
  );
  expect(() => client.record({ ...event, subscriberId: '', quantity: 1 })).toThrow(
    'subscriberId must be a string of 1 to 1600 characters',
  );
  // Beyond the API's lengths a sum could take its call past the API's 512 KiB, and the call's other sums with it.
  expect(() => client.record({ ...event, dimension: 'd'.repeat(256), quantity: 1 })).toThrow(
    'dimension must be a string of 1 to 255 characters',
  );
  expect(() => client.record({ ...event, subscriberId: `${NOBODY}${'x'.repeat(1600)}`, quantity: 1 })).toThrow(
    'subscriberId must be a string of 1 to 1600 characters',
  );
  const tagsOf = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, 'v']));
  for (const tags of [{}, tagsOf(6)]) {
    expect(() => client.record({ ...event, quantity: 1, tags })).toThrow('tags must hold 1 to 5 tags');
  }
  // The API refuses an empty tag key or value as it does a long one: refused here, not left to a refusal later.
  for (const key of ['', 'k'.repeat(101)]) {
    expect(() => client.record({ ...event, quantity: 1, tags: { [key]: 'v' } })).toThrow(
      'every tag key must be 1 to 100 characters',
    );
  }
  for (const value of ['', 'v'.repeat(257)]) {
    expect(() => client.record({ ...event, quantity: 1, tags: { team: value } })).toThrow(
      'every tag value must be a string of 1 to 256 characters',
    );
  }
  // A field a usage event lacks would be dropped unseen: an app passing its own id must not think it dedupes.
  expect(() => client.record({ ...event, quantity: 1, eventId: 'req-42' } as UsageEvent)).toThrow(
    'eventId is not a field of a usage event: the client sums events and gives each sum its own id',
  );
  expect(() => client.record({ ...event, quantity: 1, timeStamp: new Date() } as UsageEvent)).toThrow(
    'timeStamp is not a field of a usage event; the fields are subscriberId, dimension, quantity, timestamp, tags',
  );
  expect(() => client.record(null as unknown as UsageEvent)).toThrow(InvalidUsageEventError);
  expect(client.pendingAppEvents).toBe(0);
  // The API takes usage up to 5 minutes ahead of its clock; beyond, the sum it joined would be refused with it.
  const now = local.stack.simulator.simulator.clock.now().getTime();
  expect(() => client.record({ ...event, quantity: 1, timestamp: new Date(now + 5 * MINUTE_MS + 1000) })).toThrow(
    'more than 5 minutes ahead',
  );
  client.record({ ...event, quantity: 1, timestamp: new Date(now + 5 * MINUTE_MS) });
  expect(client.pendingAppEvents).toBe(1);

  expect(() => new UsageClient({ usageUrl: 'https://usage.example.com/usage' })).toThrow(UsageClientConfigError);
  expect(() => new UsageClient({ usageUrl: 'http://usage.example.com/usage', region: 'us-east-1' })).toThrow(
    UsageClientConfigError,
  );
  expect(() => new UsageClient({ usageUrl: 'localhost:4010/local/usage', region: 'us-east-1' })).toThrow(
    'usageUrl must start with https:// (http:// to this machine): localhost:4010/local/usage',
  );
  // fetch() would refuse it at every call, each failure retried and reported with the password in its message.
  expect(() => new UsageClient({ usageUrl: 'http://user:secret@127.0.0.1:4010/local/usage' })).toThrow(
    new UsageClientConfigError(
      'usageUrl must not hold a user name or password: the client signs its calls with the AWS credentials',
    ),
  );
  // Nor in what a log prints of the error, its cause included, when the URL does not parse.
  const unparsable = () => new UsageClient({ usageUrl: 'https://user:secret@127.0.0.1:99999/usage' });
  expect(unparsable).toThrow(new UsageClientConfigError('usageUrl is not a URL: …@127.0.0.1:99999/usage'));
  for (const usageUrl of ['user:secret@127.0.0.1:4010/usage', 'https://user:se\ncret@127.0.0.1:99999/usage']) {
    const make = () => new UsageClient({ usageUrl, region: 'us-east-1' });
    expect(make, usageUrl).toThrow(UsageClientConfigError);
    expect(make, usageUrl).not.toThrow(/secret|se\ncret/);
  }
  let thrown: unknown;
  try {
    unparsable();
  } catch (error) {
    thrown = error;
  }
  expect(inspect(thrown)).not.toContain('secret');
  const usageUrl = 'https://abc123.execute-api.eu-west-1.amazonaws.com/prod/usage';
  expect(() => new UsageClient({ usageUrl })).not.toThrow();
  // An option given as undefined keeps its default; a wait no timer can keep is refused, not run at once.
  expect(() => new UsageClient({ usageUrl, retry: { requestTimeoutMs: undefined } })).not.toThrow();
  for (const retry of [{ requestTimeoutMs: Number.NaN }, { requestTimeoutMs: 0 }, { baseDelayMs: -1 }]) {
    expect(() => new UsageClient({ usageUrl, retry }), JSON.stringify(retry)).toThrow(UsageClientConfigError);
  }
  expect(() => new UsageClient({ usageUrl, retry: { requestTimeoutMs: '1000' as unknown as number } })).toThrow(
    'retry.requestTimeoutMs must be a number of milliseconds from 0 to 2147483647, not the string "1000"',
  );
  for (const flushIntervalMs of [Number.POSITIVE_INFINITY, 2 ** 31, -1]) {
    expect(() => new UsageClient({ usageUrl, flushIntervalMs }), String(flushIntervalMs)).toThrow(
      'flushIntervalMs must be a number of milliseconds from 0 to 2147483647',
    );
  }
  // A misspelt option would otherwise leave its default in place without a word, and a callback that is not a
  // function would only fail at the first refusal, the refusal lost with it.
  expect(() => new UsageClient({ usageUrl, retry: { attempts: 3 } as Partial<RetryOptions> })).toThrow(
    'retry.attempts is not an option; the options are maxAttempts, baseDelayMs, maxDelayMs, requestTimeoutMs',
  );
  expect(() => new UsageClient({ usageUrl, flushInterval: 1000 } as UsageClientOptions)).toThrow(
    'flushInterval is not an option; the options are usageUrl, region,',
  );
  for (const name of ['onRefused', 'onError', 'onFlush', 'sleep']) {
    expect(() => new UsageClient({ usageUrl, [name]: 5 }), name).toThrow(`${name} must be a function, not 5`);
  }
  expect(() => new UsageClient({ usageUrl, clock: {} as { now(): Date } })).toThrow(
    'clock must be an object with a now() method',
  );
});
