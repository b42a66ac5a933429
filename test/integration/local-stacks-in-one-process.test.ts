/**
 * The local stack holds no process-wide state: two stacks started in one process (as a seller's integration tests
 * might) each run on their own tables, simulator, clock and functions, and the process's environment is left as it was.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { HOUR_MS, hourOf } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { loadLocalConfig } from '../../local/config.ts';
import { createDynamoDbClient } from '../../local/dynamodb/launcher.ts';
import { fetchSigned } from '../../local/http/signed-fetch.ts';
import { startLocalStack, type LocalStack } from '../../local/local-stack.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { subscribeOnBuyerPage } from '../support/buyer-page.ts';
import { settleLifecycle } from '../support/lifecycle.ts';

const PRODUCT = 'analytics-pro-example';
const environmentBefore = { ...process.env };
const dynamoDb = { endpoint: inject('dynamodbEndpoint'), client: createDynamoDbClient(inject('dynamodbEndpoint')) };
const stacks: LocalStack[] = [];

const startStack = () =>
  startLocalStack({
    config: loadLocalConfig(),
    dynamoDb,
    tablePrefix: `two-${randomBytes(6).toString('hex')}-`,
    logLevel: 'SILENT',
    // Runs only when the test asks, so that what each stack bills is the test's doing.
    meteringEveryMs: 3_600_000,
    finalMeteringEveryMs: 3_600_000,
  });

beforeAll(async () => {
  for (let index = 0; index < 2; index++) stacks.push(await startStack());
});

afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.close()));
  dynamoDb.client.destroy();
});

async function liveSubscriber(stack: LocalStack) {
  const control = new SimulatorControl(stack.simulator.url);
  const { licenseId } = await subscribeOnBuyerPage(stack.simulator.url, PRODUCT);
  await settleLifecycle(stack);
  return { control, licenseId, subscriberId: `license:${(await control.license(licenseId)).licenseArn}` };
}

async function postUsage(stack: LocalStack, subscriberId: string, quantity: number, at: Date) {
  const response = await fetchSigned(`${stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      events: [{ subscriberId, dimension: 'requests', quantity, timestamp: at.toISOString() }],
    }),
  });
  return (await response.json()) as { results: { status: string }[] };
}

test('two stacks in one process keep their own tables, clocks and bills, and leave the environment alone', async () => {
  const [first, second] = stacks as [LocalStack, LocalStack];
  expect(process.env).toEqual(environmentBefore);
  expect(first.tables.Usage).not.toBe(second.tables.Usage);

  const a = await liveSubscriber(first);
  const b = await liveSubscriber(second);
  // Each stack's functions run on its own simulator's clock: the first's is set five hours after the second's. Both are
  // pinned at twenty past an hour, so that the run below finds exactly the usage's hour closed, whatever the wall clock.
  const bNow = new Date(hourOf(new Date((await b.control.clock()).now)).getTime() + HOUR_MS + 20 * 60_000);
  const aNow = new Date(bNow.getTime() + 5 * HOUR_MS);
  await a.control.setClock(aNow, false);
  await b.control.setClock(bNow, false);
  expect(new Date((await a.control.clock()).now)).toEqual(aNow);
  expect(new Date((await b.control.clock()).now)).toEqual(bNow);

  expect((await postUsage(first, a.subscriberId, 3, aNow)).results).toEqual([
    expect.objectContaining({ status: 'accepted' }),
  ]);
  expect((await postUsage(second, b.subscriberId, 7, bNow)).results).toEqual([
    expect.objectContaining({ status: 'accepted' }),
  ]);
  // Each stack's API knows its own subscribers only.
  expect((await postUsage(second, a.subscriberId, 1, bNow)).results).toEqual([
    expect.objectContaining({ status: 'rejected', reason: 'unknown-subscriber' }),
  ]);

  await a.control.advanceClock({ hours: 1, minutes: 10 });
  await b.control.advanceClock({ hours: 1, minutes: 10 });
  await Promise.all([first.meter(), second.meter()]);

  expect((await a.control.billed({ licenseId: a.licenseId })).records).toEqual([
    expect.objectContaining({ hour: hourOf(aNow).toISOString(), quantity: 3 }),
  ]);
  expect((await b.control.billed({ licenseId: b.licenseId })).records).toEqual([
    expect.objectContaining({ hour: hourOf(bNow).toISOString(), quantity: 7 }),
  ]);
  expect(process.env).toEqual(environmentBefore);
});
