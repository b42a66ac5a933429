/**
 * The local event bus on its own, through the real EventBridge client: it keeps the entries PutEvents may take, refuses
 * the others one by one as EventBridge does, and what it keeps can always be listed and handed to its rules.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLocalEventBus, type BusEvent, type LocalEventBus } from '../../../local/event-bus.ts';

let bus: LocalEventBus;
let client: EventBridgeClient;
const handedToRule: BusEvent[] = [];
beforeAll(async () => {
  bus = await startLocalEventBus({ busName: 'seller-events' });
  bus.addRule({ source: 'saas-marketplace' }, (event) => handedToRule.push(event));
  client = new EventBridgeClient({
    endpoint: bus.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => {
  client.destroy();
  await bus.close();
});

const entry = (detail: string): PutEventsRequestEntry => ({
  Source: 'saas-marketplace',
  DetailType: 'Subscriber Activated',
  Detail: detail,
  EventBusName: 'seller-events',
});

test('a detail that is not a JSON object, or is nested deeper than it could be written back, is MalformedDetail', async () => {
  const tooDeep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
  const output = await client.send(
    new PutEventsCommand({
      Entries: [entry('{"subscriberId":"s-1"}'), entry('[1]'), entry('{"open":'), entry(tooDeep)],
    }),
  );
  expect(output.FailedEntryCount).toBe(3);
  expect(output.Entries?.map((result) => result.ErrorCode ?? 'ok')).toEqual([
    'ok',
    'MalformedDetail',
    'MalformedDetail',
    'MalformedDetail',
  ]);
  const listed = (await (await fetch(`${bus.url}/events`)).json()) as { events: BusEvent[] };
  expect(listed.events.map((event) => event.detail)).toEqual([{ subscriberId: 's-1' }]);
  expect(handedToRule.map((event) => event.detail)).toEqual([{ subscriberId: 's-1' }]);
});
