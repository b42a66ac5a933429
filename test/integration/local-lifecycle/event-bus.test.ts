/**
 * The local event bus on its own, through the real EventBridge client: it keeps the entries PutEvents may take, refuses
 * the others one by one as EventBridge does, and what it keeps can always be listed and handed to its rules.
 */
import { PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { beforeAll, expect, test } from 'vitest';
import type { BusEvent } from '../../../local/event-bus.ts';
import { useLocalEventBus } from '../../support/local-event-bus.ts';

const local = useLocalEventBus('seller-events');
const handedToRule: BusEvent[] = [];
beforeAll(() => local.bus.addRule({ source: 'saas-marketplace' }, (event) => handedToRule.push(event)));

const entry = (detail: string): PutEventsRequestEntry => ({
  Source: 'saas-marketplace',
  DetailType: 'Subscriber Activated',
  Detail: detail,
  EventBusName: 'seller-events',
});

test('a detail that is not a JSON object, or is nested deeper than it could be written back, is MalformedDetail', async () => {
  const tooDeep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
  const output = await local.client.send(
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
  const answer = await fetch(`${local.bus.url}/events`);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  const listed = (await answer.json()) as { events: BusEvent[] };
  expect(listed.events.map((event) => event.detail)).toEqual([{ subscriberId: 's-1' }]);
  expect(handedToRule.map((event) => event.detail)).toEqual([{ subscriberId: 's-1' }]);
});
