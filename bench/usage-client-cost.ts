/**
 * What the usage client saves: the cost of 1,000 app-side usage events sent through `UsageClient` (summed per
 * subscriber, dimension and hour within one flush interval, 50 aggregated events a call) against the same events
 * sent each alone (one event per call, with its id, as an app without the client would), in calls to `POST /usage`
 * and in the DynamoDB capacity the usage function consumes for them.
 *
 *   node --import tsx bench/usage-client-cost.ts
 *
 * The real usage handler (`createUsageHandler`) runs behind the local API gateway on DynamoDB Local, its document
 * client tallied as in `bench/usage-recording-cost.ts` (`tallyDynamoDb`: `ReturnConsumedCapacity: 'INDEXES'` on every
 * request, `TransactWriteItems` counted from its items); the client signs and sends over HTTP as it would in AWS.
 */
import '../local/sdk-environment.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UsageClient, type UsageEvent } from '../client/index.ts';
import { UsageTransport } from '../client/usage-transport.ts';
import { DYNAMODB_SINGLE_ATTEMPT } from '../lambdas/core/aws-clients.ts';
import type { MeteredProduct } from '../lambdas/core/environment.ts';
import { bucketKey, HOUR_MS } from '../lambdas/core/metering/bucket/index.ts';
import { createUsageHandler } from '../lambdas/metering/usage-handler.ts';
import { createDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { createTables } from '../local/dynamodb/tables.ts';
import { startLocalGateway, type RunningGateway } from '../local/gateway/server.ts';
import {
  activeSubscriberItem,
  batchPut,
  documentClientOn,
  fixed,
  loadLine,
  machineLine,
  READ_COMMANDS,
  tallyDynamoDb,
  thousands,
  localLicenseSubscriber,
  type LicenseSubscriber,
} from './metering-bench-support.ts';
import { noArguments } from './arguments.ts';

noArguments();

const EVENTS = 1_000;
const PRODUCT_CODE = 'bench-client';
const DIMENSIONS = ['requests', 'storage'] as const;
const PRODUCTS: readonly MeteredProduct[] = [
  { code: PRODUCT_CODE, identityModel: 'license', meteredDimensions: [...DIMENSIONS] },
];
const HOUR = new Date('2026-11-18T12:00:00.000Z');
/** The API's clock and the client's: 50 minutes into the hour, the events in the 45 minutes before. */
const NOW = new Date(HOUR.getTime() + 50 * 60_000);
const SINCE = new Date(HOUR.getTime() - 48 * HOUR_MS);

/**
 * How the app sends: through the client (summed, 50 events a call), each event alone with an id (as the API's docs
 * ask, so that a resend is safe), or each event alone without one (cheapest per call, but a resend counts twice).
 */
type Sending = 'client' | 'alone' | 'alone-without-ids';

interface Scenario {
  readonly subscribers: number;
  readonly sending: Sending;
}

const SCENARIOS: readonly Scenario[] = [10, 100].flatMap((subscribers) =>
  (['client', 'alone', 'alone-without-ids'] as const).map((sending) => ({ subscribers, sending })),
);

const HOW: Readonly<Record<Sending, string>> = {
  client: 'through the client',
  alone: 'each event alone, with an id',
  'alone-without-ids': 'each event alone, without ids',
};

const mixOf = (scenario: Scenario) => `${scenario.subscribers} subscribers x ${DIMENSIONS.length} dimensions`;

/** The scenario's row: the mix on the client's row, the way of sending on the others. */
const labelOf = (scenario: Scenario) =>
  scenario.sending === 'client' ? `client: ${mixOf(scenario)}` : `  ${HOW[scenario.sending]}`;

const BENCH_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

/** What the usage function consumed for one scenario's events. */
interface Cost {
  readonly calls: number;
  readonly eventsSent: number;
  readonly requests: number;
  readonly readUnits: number;
  readonly keysNotFound: number;
  readonly writeUnits: number;
  readonly indexWriteUnits: number;
}

let dynamoDb: DynamoDbLocal | undefined;
let gateway: RunningGateway | undefined;
const failures: string[] = [];
try {
  dynamoDb = await startDynamoDbLocal();
  // As the usage function makes them: one attempt a request, recording sends again what is safe to.
  const lowLevel = createDynamoDbClient(dynamoDb.endpoint, DYNAMODB_SINGLE_ATTEMPT);
  const documents = documentClientOn(lowLevel);
  const tables = await createTables(lowLevel);
  const subscriberCount = SCENARIOS.reduce((sum, scenario) => sum + scenario.subscribers, 0);
  const subscribers = Array.from({ length: subscriberCount }, (_, index) =>
    localLicenseSubscriber(PRODUCT_CODE, index),
  );
  await batchPut(
    documents,
    tables.Subscribers,
    subscribers.map((subscriber) => activeSubscriberItem(subscriber, SINCE)),
  );

  const tally = tallyDynamoDb(documents, { consumedCapacity: true });
  const usage = createUsageHandler({
    client: documents,
    usageTable: tables.Usage,
    subscribersTable: tables.Subscribers,
    products: PRODUCTS,
    acceptanceWindowHours: 24,
    eventIdRetentionDays: 35,
    finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
    clock: { now: () => NOW },
    logger: new Logger({ serviceName: 'usage', logLevel: 'SILENT' }),
  });
  let calls = 0;
  let eventsSent = 0;
  gateway = await startLocalGateway({
    routes: [
      {
        method: 'POST',
        path: '/usage',
        handler: (event) => {
          calls++;
          eventsSent += (JSON.parse(event.body ?? '{}') as { events?: unknown[] }).events?.length ?? 0;
          return usage(event);
        },
      },
    ],
  });

  console.log(`Usage client: cost per ${thousands(EVENTS)} app-side events`);
  console.log(`  machine: ${machineLine()}`);
  console.log(`  at the start: ${loadLine()}`);
  console.log(
    `\n    ${'scenario'.padEnd(42)}${'calls'.padStart(7)}${'events sent'.padStart(13)}${'DDB requests'.padStart(14)}` +
      `${'RCU'.padStart(8)}${'keys not found'.padStart(16)}${'WCU'.padStart(8)}${'(index)'.padStart(9)}` +
      `${'WCU/event'.padStart(11)}`,
  );
  const costs = new Map<Scenario, Cost>();
  let offset = 0;
  for (const scenario of SCENARIOS) {
    const own = subscribers.slice(offset, offset + scenario.subscribers);
    offset += scenario.subscribers;
    tally.reset();
    calls = 0;
    eventsSent = 0;
    const events = appEvents(own);
    await send(`${gateway.url}/usage`, events, scenario.sending);
    const reads = tally.totals((operation) => READ_COMMANDS.has(`${operation}Command`));
    const writes = tally.totals((operation) => !READ_COMMANDS.has(`${operation}Command`));
    const cost: Cost = {
      calls,
      eventsSent,
      requests: reads.requests + writes.requests,
      readUnits: reads.capacity,
      keysNotFound: reads.keysRead - reads.itemsFound,
      writeUnits: writes.capacity,
      indexWriteUnits: writes.indexCapacity,
    };
    costs.set(scenario, cost);
    console.log(
      `    ${labelOf(scenario).padEnd(42)}${thousands(cost.calls).padStart(7)}${thousands(cost.eventsSent).padStart(13)}` +
        `${thousands(cost.requests).padStart(14)}${fixed(cost.readUnits, 1).padStart(8)}` +
        `${thousands(cost.keysNotFound).padStart(16)}${fixed(cost.writeUnits, 1).padStart(8)}` +
        `${fixed(cost.indexWriteUnits, 1).padStart(9)}${fixed(cost.writeUnits / EVENTS, 3).padStart(11)}`,
    );
    await checkBooks(documents, tables.Usage, scenario, events);
  }
  console.log('\n    Each event alone, against the client, for the same mix:');
  for (const scenario of SCENARIOS) {
    const summed = SCENARIOS.find(
      (candidate) => candidate.sending === 'client' && candidate.subscribers === scenario.subscribers,
    );
    const [alone, client] = [costs.get(scenario)!, costs.get(summed!)!];
    if (scenario.sending === 'client') continue;
    console.log(
      `      ${mixOf(scenario)}, ${HOW[scenario.sending]}: ` +
        `${fixed(alone.calls / client.calls, 0)}x the calls, ${fixed(alone.writeUnits / client.writeUnits, 1)}x the ` +
        `write units, ${fixed(alone.readUnits / client.readUnits, 1)}x the read units`,
    );
  }
  console.log(
    '\n    calls: POST /usage requests the usage function answered; events sent: events in their bodies (aggregated\n' +
      '    by the client, or the app events themselves). RCU/WCU: what the usage function consumed, measured as in\n' +
      '    bench/usage-recording-cost.ts (reads as DynamoDB Local reports them, TransactWriteItems counted from its\n' +
      '    items: 2 per item, 2 more per bucket entering the pending index). An event with an id writes its bucket and its\n' +
      '    event-id key in one transaction; one without, alone in its call, is a plain UpdateItem of its bucket, and\n' +
      '    counts again if it is ever resent. "keys not found": event-id keys the BatchGetItem found missing, which\n' +
      '    DynamoDB Local bills 0 RCU and AWS likely bills 1 each. The books are checked: each bucket holds the sum\n' +
      '    of its app events.',
  );
  console.log(`  at the end: ${loadLine()}`);
  lowLevel.destroy();
  if (failures.length > 0) console.log(`  FAILED: ${failures.join('; ')}`);
} catch (error) {
  failures.push(error instanceof Error ? error.message : String(error));
  console.error(error);
} finally {
  await Promise.allSettled([gateway?.close(), dynamoDb?.stop()]);
}
process.exit(failures.length === 0 ? 0 : 1);

/** {@link EVENTS} app events for `subscribers` x {@link DIMENSIONS}, spread over the 45 minutes before `NOW`. */
function appEvents(subscribers: readonly LicenseSubscriber[]): UsageEvent[] {
  return Array.from({ length: EVENTS }, (_, index) => ({
    subscriberId: subscribers[index % subscribers.length]!.subscriberId,
    dimension: DIMENSIONS[Math.floor(index / subscribers.length) % DIMENSIONS.length]!,
    quantity: 1 + (index % 9),
    timestamp: new Date(HOUR.getTime() + 5 * 60_000 + Math.floor((index * 45 * 60_000) / EVENTS)),
  }));
}

function send(usageUrl: string, events: readonly UsageEvent[], sending: Sending): Promise<void> {
  return sending === 'alone-without-ids'
    ? sendWithoutIds(usageUrl, events)
    : sendThroughClient(usageUrl, events, sending);
}

/** Through a client: flushing once at the end (the interval's end), or after every event. */
async function sendThroughClient(usageUrl: string, events: readonly UsageEvent[], sending: Sending): Promise<void> {
  let delivered = 0;
  const client = new UsageClient({
    usageUrl,
    region: 'us-east-1',
    credentials: BENCH_CREDENTIALS,
    flushIntervalMs: 60_000,
    clock: { now: () => NOW },
    onRefused: (refusal) => failures.push(`refused: ${refusal.message}`),
    onError: (error) => failures.push(error.message),
    onFlush: (report) => {
      delivered += report.delivered;
    },
  });
  for (const event of events) {
    client.record(event);
    if (sending === 'alone') await client.flush();
  }
  await client.close();
  if (delivered !== events.length) failures.push(`${delivered} of ${events.length} app events delivered`);
}

/** Each event in a call of its own, without an event id: signed and sent as the client would, but not summed. */
async function sendWithoutIds(usageUrl: string, events: readonly UsageEvent[]): Promise<void> {
  const transport = new UsageTransport({
    usageUrl: new URL(usageUrl),
    region: 'us-east-1',
    credentials: BENCH_CREDENTIALS,
    retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0, requestTimeoutMs: 10_000 },
    clock: { now: () => NOW },
    sleep: () => Promise.resolve(),
  });
  for (const { timestamp, ...event } of events) {
    const outcome = await transport.send([{ ...event, timestamp: timestamp!.toISOString() }]);
    if (outcome.kind !== 'answered' || outcome.results[0]?.status !== 'accepted') {
      failures.push(`an event alone was not accepted: ${JSON.stringify(outcome)}`);
    }
  }
}

/** Each bucket of the scenario holds the sum of its app events: what was cheaper was also right. */
async function checkBooks(
  documents: DynamoDBDocumentClient,
  usageTable: string,
  scenario: Scenario,
  events: readonly UsageEvent[],
): Promise<void> {
  const expected = new Map<string, number>();
  for (const { subscriberId, dimension, quantity } of events) {
    const key = JSON.stringify([subscriberId, dimension]);
    expected.set(key, (expected.get(key) ?? 0) + quantity);
  }
  for (const [key, quantity] of expected) {
    const [subscriberId, dimension] = JSON.parse(key) as [string, string];
    const { Item } = await documents.send(
      new GetCommand({ TableName: usageTable, Key: bucketKey(subscriberId, HOUR, dimension), ConsistentRead: true }),
    );
    if (Item?.quantity !== quantity) {
      failures.push(
        `${mixOf(scenario)}, ${HOW[scenario.sending]}: ${key} holds ${String(Item?.quantity)}, not ${quantity}`,
      );
    }
  }
}
