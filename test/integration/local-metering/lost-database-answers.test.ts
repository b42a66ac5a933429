/**
 * `POST /usage` when DynamoDB applies a write and its answer is lost on the way back (a reset connection): the units
 * are counted once, and the call is answered `accepted` only when that is known. The SDK's own retries sent a plain
 * `ADD` again and billed it twice; a 503 said "nothing recorded" of a call that was, and the app's resend billed it
 * twice. Now a transaction is sent again with its token (applied once), and an outcome nobody knows is a 504.
 */
import { afterAll, expect, test } from 'vitest';
import { OUTCOME_UNKNOWN } from '../../../lambdas/metering/usage-handler.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';
import { startAnswerLosingProxy, type AnswerLosingProxy } from '../../support/answer-losing-proxy.ts';
import { liveLicenseSubscriber } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const HOUR_MS = 3_600_000;
let proxy: AnswerLosingProxy | undefined;
// Registered before the stack's own hooks, so that it runs after the stack has stopped: nothing is left using it.
afterAll(() => proxy?.close());

const local = useLocalStack(
  {
    marketplaceNotifications: true,
    // Runs only when a test asks, so that what each one bills is its own doing.
    meteringEveryMs: HOUR_MS,
    finalMeteringEveryMs: HOUR_MS,
  },
  async (endpoint) => {
    proxy = await startAnswerLosingProxy(endpoint);
    return proxy.url;
  },
);
const lossy = () => {
  if (proxy === undefined) throw new Error('the proxy starts with the stack');
  return proxy;
};

const liveSubscriber = () => liveLicenseSubscriber(local);

async function postUsage(events: readonly Record<string, unknown>[]) {
  const response = await fetchSigned(`${local.stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What Marketplace billed the license once its hour has closed and a run has gone. */
async function billedOnceClosed(licenseId: string): Promise<Record<string, number>> {
  await local.control.advanceClock({ hours: 1, minutes: 10 });
  await local.stack.meter();
  const { records } = await local.control.billed({ licenseId });
  const byDimension: Record<string, number> = {};
  for (const record of records) byDimension[record.dimension] = (byDimension[record.dimension] ?? 0) + record.quantity;
  return byDimension;
}

test('a lone update (no ids, one bucket) applied unanswered: a 504 that says so, and counted once', async () => {
  const { licenseId, subscriberId } = await liveSubscriber();
  const timestamp = new Date((await local.control.clock()).now).toISOString();
  // Only this subscriber's bucket: the stack's other functions write through the proxy too.
  const bucketWrite = licenseId;
  const before = lossy().applied('UpdateItem', bucketWrite);
  lossy().loseAnswers('UpdateItem', 1, bucketWrite);

  const answer = await postUsage([{ subscriberId, dimension: 'requests', quantity: 100, timestamp }]);
  expect(answer).toEqual({ status: 504, body: { message: OUTCOME_UNKNOWN } });
  // Sent once: the SDK did not send the ADD again.
  expect(lossy().applied('UpdateItem', bucketWrite) - before).toBe(1);
  expect(await billedOnceClosed(licenseId)).toEqual({ requests: 100 });
});

test("a call's transaction whose answer is lost is sent again with its token: accepted, and counted once", async () => {
  const { licenseId, subscriberId } = await liveSubscriber();
  const timestamp = new Date((await local.control.clock()).now).toISOString();
  lossy().loseAnswers('TransactWriteItems', 1, licenseId);

  const answer = await postUsage([
    { subscriberId, dimension: 'requests', quantity: 7, timestamp },
    { subscriberId, dimension: 'storage_gb', quantity: 7, timestamp },
  ]);
  expect(answer.status).toBe(200);
  expect(answer.body.results).toEqual([
    expect.objectContaining({ status: 'accepted' }),
    expect.objectContaining({ status: 'accepted' }),
  ]);
  expect(await billedOnceClosed(licenseId)).toEqual({ requests: 7, storage_gb: 7 });
});

test('a transaction never answered is a 504; sent again with its event ids, it is a duplicate, counted once', async () => {
  const { licenseId, subscriberId } = await liveSubscriber();
  const timestamp = new Date((await local.control.clock()).now).toISOString();
  const events = [
    { subscriberId, dimension: 'requests', quantity: 5, timestamp, eventId: 'lost-1' },
    { subscriberId, dimension: 'storage_gb', quantity: 6, timestamp, eventId: 'lost-2' },
  ];
  lossy().loseAnswers('TransactWriteItems', 1_000, licenseId);
  try {
    expect(await postUsage(events)).toEqual({ status: 504, body: { message: OUTCOME_UNKNOWN } });
  } finally {
    lossy().loseAnswers('TransactWriteItems', 0);
  }

  const again = await postUsage(events);
  expect(again.body.results).toEqual([
    expect.objectContaining({ status: 'duplicate' }),
    expect.objectContaining({ status: 'duplicate' }),
  ]);
  expect(await billedOnceClosed(licenseId)).toEqual({ requests: 5, storage_gb: 6 });
});
