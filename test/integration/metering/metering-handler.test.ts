/**
 * The metering function's handler: what invokes it (the schedule, a `Subscriber Ending` event, nothing else), and
 * the metrics each run publishes in CloudWatch's embedded metric format, which the stack's alarms read by name.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { createMeteringHandler, emfMetrics } from '../../../lambdas/metering/metering-handler.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, cancelSubscription, hoursBefore, subscribeBuyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import { meteredProduct, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';
import { METERING_METRICS } from '../../../contracts/index.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
const now = SIMULATOR_NOW;

/**
 * Every EMF document the handler printed: under POWERTOOLS_DEV Powertools prints them with the global `console.log`
 * (and would not print them at all, but that POWERTOOLS_METRICS_DISABLED=false outranks it).
 */
let printed: string[] = [];
beforeEach(() => {
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  printed = [];
  vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    printed.push(String(line));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const emf = () =>
  printed
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: unknown[] } });

async function setup(harnessOptions: Omit<Parameters<typeof meteringHarness>[2], 'products'> = {}) {
  const tables = await freshTables(dynamoDb);
  const product = await sim.control.createProduct(meteredProduct());
  const products = [{ code: product.code, meteredDimensions: ['users', 'gb'] }];
  const harness = meteringHarness(tables, sim.url, { ...harnessOptions, products });
  const client = documentClient(tables.endpoint);
  const buyer = await subscribeBuyer(
    { control: sim.control, client, subscribersTable: tables.subscribers },
    product.code,
    now,
  );
  const handler = createMeteringHandler({
    run: harness.dependencies,
    clock: { now: () => now },
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: emfMetrics(new Metrics({ namespace: 'SaasMarketplace/test', serviceName: 'metering' })),
    scheduled: 'closed-hours',
  });
  return { tables, client, buyer, handler, harness };
}

test('a scheduled run bills the closed hours and publishes its figures, rejections also by reason', async () => {
  const { tables, client, buyer, handler } = await setup();
  const hour = hoursBefore(now, 1);
  await addUsage(client, tables.usage, { subscriberId: buyer.subscriberId, hour, dimension: 'users', quantity: 4 });
  const stranger = 'license:arn:aws:license-manager::999999999999:license:l-nobody';
  await addUsage(client, tables.usage, { subscriberId: stranger, hour, dimension: 'users', quantity: 2 });

  const summary = await handler({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
  expect(summary).toEqual(expect.objectContaining({ billed: 1, rejected: { 'unknown-subscriber': 1 } }));

  const [run, byReason, ...others] = emf();
  expect(others).toEqual([]);
  expect(run).toEqual(
    expect.objectContaining({
      service: 'metering',
      [METERING_METRICS.billed]: 1,
      [METERING_METRICS.rejected]: 1,
      [METERING_METRICS.expired]: 0,
      [METERING_METRICS.pending]: 0,
      [METERING_METRICS.oldestPendingAge]: 0,
    }),
  );
  expect(JSON.stringify(run!._aws.CloudWatchMetrics)).toContain('"Namespace":"SaasMarketplace/test"');
  expect(byReason).toEqual(
    expect.objectContaining({ Reason: 'unknown-subscriber', [METERING_METRICS.rejected]: 1, service: 'metering' }),
  );
});

test('a run Marketplace throttles through every retry finishes, publishing the usage it left unsent as pending', async () => {
  // What the metering-unsent alarm reads: the run does not fail, so no other alarm would hear of it for hours.
  const { tables, client, buyer, handler } = await setup({
    retryPolicy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
  });
  const hour = hoursBefore(now, 1);
  await addUsage(client, tables.usage, { subscriberId: buyer.subscriberId, hour, dimension: 'users', quantity: 4 });
  await addUsage(client, tables.usage, { subscriberId: buyer.subscriberId, hour, dimension: 'gb', quantity: 9 });
  await sim.control.setFaults({ rules: [{ kind: 'throttle', operations: ['BatchMeterUsage'] }] });

  const summary = await handler({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
  expect(summary).toEqual(expect.objectContaining({ billed: 0, pending: 2 }));
  expect(emf()[0]).toEqual(
    expect.objectContaining({ [METERING_METRICS.billed]: 0, [METERING_METRICS.pending]: 2, service: 'metering' }),
  );
});

test('a Subscriber Ending event meters that subscriber alone: its closed hours at once, not yet its final hour', async () => {
  const { tables, client, buyer, handler } = await setup();
  const other = await subscribeBuyer(
    { control: sim.control, client, subscribersTable: tables.subscribers },
    buyer.license.productCode,
    now,
  );
  // The buyer cancels at :10, just after its previous hour closed: that hour is still inside the grace for late usage.
  const cancelled = new Date(hoursBefore(now, 0).getTime() + 10 * 60_000);
  for (const subscriberId of [buyer.subscriberId, other.subscriberId]) {
    await addUsage(client, tables.usage, { subscriberId, hour: hoursBefore(now, 1), dimension: 'users', quantity: 4 });
    await addUsage(client, tables.usage, { subscriberId, hour: hoursBefore(now, 0), dimension: 'gb', quantity: 9 });
  }
  await cancelSubscription({ control: sim.control, client, subscribersTable: tables.subscribers }, buyer, cancelled);

  const summary = await handler({
    'detail-type': 'Subscriber Ending',
    source: 'saas-marketplace',
    detail: { subscriberId: buyer.subscriberId, status: 'ending' },
  });
  expect(summary).toEqual(expect.objectContaining({ billed: 1, waiting: 1 }));
  const { records } = await sim.control.billed({ productCode: buyer.license.productCode });
  expect(records).toEqual([
    expect.objectContaining({ licenseArn: buyer.license.licenseArn, dimension: 'users', quantity: 4 }),
  ]);
});

test('the final-metering schedule sends every ending subscriber its final hour once its send time has come', async () => {
  const { tables, client, buyer, harness } = await setup();
  const cancelled = new Date(hoursBefore(now, 0).getTime() + 10 * 60_000);
  await addUsage(client, tables.usage, {
    subscriberId: buyer.subscriberId,
    hour: hoursBefore(now, 0),
    dimension: 'gb',
    quantity: 9,
  });
  await cancelSubscription({ control: sim.control, client, subscribersTable: tables.subscribers }, buyer, cancelled);
  let clock = cancelled;
  const finalMetering = createMeteringHandler({
    run: harness.dependencies,
    clock: { now: () => clock },
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: emfMetrics(new Metrics({ namespace: 'SaasMarketplace/test', serviceName: 'metering' })),
    scheduled: 'ending',
  });
  const tick = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };

  expect(await finalMetering(tick)).toEqual(expect.objectContaining({ billed: 0, waiting: 1 }));
  // The send time: the deadline (an hour after the cancellation) less the margin (15 minutes).
  clock = new Date(cancelled.getTime() + 44 * 60_000);
  await sim.control.setClock(clock, false);
  expect(await finalMetering(tick)).toEqual(expect.objectContaining({ billed: 0, waiting: 1 }));
  clock = new Date(cancelled.getTime() + 45 * 60_000);
  await sim.control.setClock(clock, false);
  expect(await finalMetering(tick)).toEqual(expect.objectContaining({ billed: 1, waiting: 0 }));
  const { records } = await sim.control.billed({ productCode: buyer.license.productCode });
  expect(records).toEqual([
    expect.objectContaining({ dimension: 'gb', quantity: 9, hour: hoursBefore(now, 0).toISOString() }),
  ]);
});

test('anything else is ignored: nothing is metered and nothing is published', async () => {
  const { tables, client, buyer, handler } = await setup();
  await addUsage(client, tables.usage, {
    subscriberId: buyer.subscriberId,
    hour: hoursBefore(now, 1),
    dimension: 'users',
    quantity: 1,
  });
  for (const event of [{}, null, { 'detail-type': 'Subscriber Ending', detail: {} }, { 'detail-type': 'Other' }]) {
    expect(await handler(event)).toBeUndefined();
  }
  expect(emf()).toEqual([]);
  expect((await sim.control.billed({ productCode: buyer.license.productCode })).records).toEqual([]);
});
