import { expect, test } from 'vitest';
import { bucketKey } from '../../lambdas/core/metering/usage-bucket.ts';
import { MAX_USAGE_EVENTS_PER_CALL, type UsageEvent } from '../../lambdas/core/metering/usage-event.ts';
import {
  candidateHours,
  eventKeyOf,
  itemId,
  planWrites,
  type Candidate,
  type TableKnowledge,
} from '../../lambdas/core/metering/usage-write-plan.ts';

const NOW = new Date('2026-11-26T12:34:56.000Z');
const SETTINGS = { usageTable: 'Usage-unit', now: NOW, eventIdRetentionDays: 35 };
const HOUR = new Date('2026-11-26T10:00:00.000Z');

function event(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return { subscriberId: 'license:l-1', dimension: 'requests', quantity: 1, at: HOUR, hour: HOUR, ...overrides };
}

const nothingKnown = (): TableKnowledge => ({ buckets: new Map(), countedEvents: new Set() });
const candidates = (events: readonly UsageEvent[]): Candidate[] => events.map((e, index) => ({ index, event: e }));

test('frozen usage goes to the current hour, then the hour after; never to an hour before its own', () => {
  expect(candidateHours(HOUR, NOW).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T10:00:00.000Z',
    '2026-11-26T12:00:00.000Z',
    '2026-11-26T13:00:00.000Z',
  ]);
  const current = new Date('2026-11-26T12:00:00.000Z');
  expect(candidateHours(current, NOW).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T12:00:00.000Z',
    '2026-11-26T13:00:00.000Z',
    '2026-11-26T14:00:00.000Z',
  ]);
  const next = new Date('2026-11-26T13:00:00.000Z');
  expect(candidateHours(next, new Date('2026-11-26T12:58:00.000Z')).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T13:00:00.000Z',
    '2026-11-26T14:00:00.000Z',
    '2026-11-26T15:00:00.000Z',
  ]);
});

test('a full call of events with ids, each to its own bucket, fits one transaction and touches each item once', () => {
  const events = Array.from({ length: MAX_USAGE_EVENTS_PER_CALL }, (_, n) =>
    event({ dimension: `d${n}`, eventId: `e${n}` }),
  );
  const plan = planWrites(candidates(events), nothingKnown(), SETTINGS);
  expect(plan.items).toHaveLength(100);
  const keys = plan.items.map((item) => JSON.stringify(item.Update?.Key ?? item.Put?.Item?.pk));
  expect(new Set(keys).size).toBe(100);
});

test('events of one bucket become one update of their sum, with one allocation per tag set', () => {
  const plan = planWrites(
    candidates([
      event({ quantity: 2 }),
      event({ quantity: 3, tags: { env: 'prod' } }),
      event({ quantity: 4, tags: { env: 'prod' } }),
      event({ quantity: 5, tags: { env: 'test' } }),
    ]),
    nothingKnown(),
    SETTINGS,
  );
  expect(plan.items).toHaveLength(1);
  const update = plan.items[0]!.Update!;
  expect(update.ExpressionAttributeValues).toMatchObject({ ':quantity': 14, ':allocation0': 7, ':allocation1': 5 });
});

test('an event id seen earlier in the call, or known to be counted, is a duplicate and adds nothing', () => {
  const knowledge = nothingKnown();
  knowledge.countedEvents.add(itemId(eventKeyOf('license:l-1', 'old')));
  const plan = planWrites(
    candidates([event({ eventId: 'a', quantity: 2 }), event({ eventId: 'a', quantity: 2 }), event({ eventId: 'old' })]),
    knowledge,
    SETTINGS,
  );
  expect([...plan.results.values()].map((result) => result.status)).toEqual(['accepted', 'duplicate', 'duplicate']);
  expect(plan.items[0]!.Update!.ExpressionAttributeValues![':quantity']).toBe(2);
  expect(plan.items).toHaveLength(2);
});

test('event ids are scoped to their subscriber, and one holding # cannot pass for another subscriber', () => {
  expect(itemId(eventKeyOf('legacy:p:a#b', 'c'))).not.toBe(itemId(eventKeyOf('legacy:p:a', 'b#c')));
  const plan = planWrites(
    candidates([event({ eventId: 'x' }), event({ subscriberId: 'license:l-2', eventId: 'x' })]),
    nothingKnown(),
    SETTINGS,
  );
  expect([...plan.results.values()].map((result) => result.status)).toEqual(['accepted', 'accepted']);
});

test('a known frozen bucket sends the units on, and says where from', () => {
  const knowledge = nothingKnown();
  knowledge.buckets.set(itemId(bucketKey('license:l-1', HOUR, 'requests')), { frozen: true, quantity: 9 });
  const plan = planWrites(candidates([event()]), knowledge, SETTINGS);
  expect(plan.results.get(0)).toEqual({
    status: 'accepted',
    hour: '2026-11-26T12:00:00.000Z',
    carriedFrom: '2026-11-26T10:00:00.000Z',
  });
  expect(plan.items[0]!.Update!.Key).toEqual(bucketKey('license:l-1', NOW, 'requests'));
});
