import { expect, test } from 'vitest';
import { allocationAttributes, bucketKey } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { isRecordableHour } from '../../lambdas/core/metering/bucket/bucket-timing.ts';
import { itemId } from '../../lambdas/core/table-keys.ts';
import { MAX_USAGE_EVENTS_PER_CALL, type UsageEvent } from '../../lambdas/core/metering/recording/usage-event.ts';
import {
  candidateHours,
  eventFingerprint,
  eventKeyOf,
  MAX_ALLOCATIONS_PER_RECORD,
  MAX_TAG_BYTES_PER_RECORD,
  planWrites,
  tagSetBytes,
  type Candidate,
  type KnownBucket,
  type TableKnowledge,
} from '../../lambdas/core/metering/recording/usage-write-plan.ts';

const NOW = new Date('2026-11-26T12:34:56.000Z');
const SETTINGS = { usageTable: 'Usage-unit', now: NOW, eventIdRetentionDays: 35 };
const HOUR = new Date('2026-11-26T10:00:00.000Z');

function event(overrides: Partial<UsageEvent> = {}): UsageEvent {
  return { subscriberId: 'license:l-1', dimension: 'requests', quantity: 1, at: HOUR, hour: HOUR, ...overrides };
}

const nothingKnown = (): TableKnowledge => ({ buckets: new Map(), countedEvents: new Map() });
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

test("an ending subscription's late usage goes into its final hour, even once the clock has moved past it", () => {
  const finalHour = new Date('2026-11-26T11:00:00.000Z');
  expect(candidateHours(HOUR, NOW, finalHour).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T10:00:00.000Z',
    '2026-11-26T11:00:00.000Z',
  ]);
  expect(candidateHours(finalHour, NOW, finalHour).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T11:00:00.000Z',
  ]);
  const stillInIt = new Date('2026-11-26T11:20:00.000Z');
  expect(candidateHours(HOUR, stillInIt, finalHour).map((hour) => hour.toISOString())).toEqual([
    '2026-11-26T10:00:00.000Z',
    '2026-11-26T11:00:00.000Z',
  ]);
});

test('usage of the hour a subscription started in, in its last second, goes into the next hour', () => {
  const facts = { activatedAt: '2026-11-26T10:59:59.300Z' };
  const recordable = (hour: Date) => isRecordableHour(hour, facts);
  expect(recordable(HOUR)).toBe(false);
  expect(recordable(new Date('2026-11-26T11:00:00.000Z'))).toBe(true);
  const at = new Date('2026-11-26T10:59:59.800Z');
  const plan = planWrites([{ index: 0, event: event({ at, hour: HOUR }), recordable }], nothingKnown(), {
    ...SETTINGS,
    now: at,
  });
  expect(plan.results.get(0)).toEqual({
    status: 'accepted',
    hour: '2026-11-26T11:00:00.000Z',
    carriedFrom: HOUR.toISOString(),
  });
  // Started a second earlier: its own hour takes it.
  expect(isRecordableHour(HOUR, { activatedAt: '2026-11-26T10:59:58.999Z' })).toBe(true);
  // Ended in that same last second: no hour can take it, and the answer says why.
  const ended = planWrites(
    [{ index: 0, event: event({ at, hour: HOUR }), recordable, lastHour: HOUR }],
    nothingKnown(),
    {
      ...SETTINGS,
      now: at,
    },
  );
  expect(ended.results.get(0)).toEqual(expect.objectContaining({ status: 'rejected', reason: 'not-subscribed' }));
  expect(ended.items).toEqual([]);
});

test('after a restart, the hours of the gap take no usage; the old hours and the new ones do', () => {
  // Subscribed at 08:05, asked to end at 10:30, subscribed again at 13:05.
  const facts = {
    startedAt: '2026-11-26T08:05:00.000Z',
    activatedAt: '2026-11-26T13:05:00.000Z',
    endRequestedAt: '2026-11-26T10:30:00.000Z',
    firstEndAt: '2026-11-26T10:30:00.000Z',
  };
  const recordable = (hour: string) => isRecordableHour(new Date(`2026-11-26T${hour}:00:00.000Z`), facts);
  expect(['08', '10', '11', '12', '13', '14'].map(recordable)).toEqual([true, true, false, false, true, true]);
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

test('an event id seen earlier in the call, or known to be counted, with the same event is a duplicate', () => {
  const knowledge = nothingKnown();
  const old = event({ eventId: 'old' });
  knowledge.countedEvents.set(itemId(eventKeyOf('old')), {
    subscriberId: old.subscriberId,
    dimension: old.dimension,
    quantity: old.quantity,
    timestamp: old.at.toISOString(),
    fingerprint: eventFingerprint(old),
  });
  const plan = planWrites(
    candidates([event({ eventId: 'a', quantity: 2 }), event({ eventId: 'a', quantity: 2 }), old]),
    knowledge,
    SETTINGS,
  );
  expect([...plan.results.values()].map((result) => result.status)).toEqual(['accepted', 'duplicate', 'duplicate']);
  expect(plan.items[0]!.Update!.ExpressionAttributeValues![':quantity']).toBe(2);
  expect(plan.items).toHaveLength(2);
});

test('an event id reused for another event is a conflict that says what differs, and adds nothing', () => {
  const plan = planWrites(
    candidates([
      event({ eventId: 'req-42', quantity: 3 }),
      event({ eventId: 'req-42', dimension: 'storage_gb', quantity: 7 }),
      event({ eventId: 'req-42', quantity: 4 }),
      event({ eventId: 'req-42', quantity: 3, tags: { env: 'prod' } }),
      event({ eventId: 'req-42', quantity: 3, subscriberId: 'license:l-2' }),
      event({ eventId: 'req-42', quantity: 3, at: new Date(HOUR.getTime() + 1) }),
      event({ eventId: 'req-42', quantity: 3 }),
    ]),
    nothingKnown(),
    SETTINGS,
  );
  const results = [...plan.results.values()];
  expect(results.map((result) => result.status)).toEqual([
    'accepted',
    'conflict',
    'conflict',
    'conflict',
    'conflict',
    'conflict',
    'duplicate',
  ]);
  const messages = results.map((result) => (result.status === 'conflict' ? result.message : ''));
  expect(messages[1]).toMatch(/"req-42".*dimension, quantity/);
  expect(messages[2]).toMatch(/\(its quantity differed\)/);
  expect(messages[3]).toMatch(/\(its tags differed\)/);
  expect(messages[4]).toMatch(/\(its subscriberId differed\)/);
  expect(messages[5]).toMatch(/\(its timestamp differed\)/);
  expect(plan.items).toHaveLength(2);
  expect(plan.items[0]!.Update!.ExpressionAttributeValues![':quantity']).toBe(3);
});

test('event ids name one event across subscribers, and escaping keeps two ids apart', () => {
  expect(itemId(eventKeyOf('a#b'))).not.toBe(itemId(eventKeyOf('a%23b')));
  const counted = event({ eventId: 'x' });
  const knowledge = nothingKnown();
  knowledge.countedEvents.set(itemId(eventKeyOf('x')), {
    fingerprint: eventFingerprint(counted),
    subscriberId: 'license:l-1',
  });
  const plan = planWrites(candidates([event({ subscriberId: 'license:l-2', eventId: 'x' })]), knowledge, SETTINGS);
  expect(plan.results.get(0)).toMatchObject({ status: 'conflict' });
  expect(plan.items).toHaveLength(0);
});

const known = (overrides: Partial<KnownBucket> = {}): KnownBucket => ({
  frozen: false,
  quantity: 0,
  tagSets: new Set(),
  tagSetCount: 0,
  tagBytes: 0,
  ...overrides,
});

test('a known frozen bucket sends the units on, and says where from', () => {
  const knowledge = nothingKnown();
  knowledge.buckets.set(itemId(bucketKey('license:l-1', HOUR, 'requests')), known({ frozen: true, quantity: 9 }));
  const plan = planWrites(candidates([event()]), knowledge, SETTINGS);
  expect(plan.results.get(0)).toEqual({
    status: 'accepted',
    hour: '2026-11-26T12:00:00.000Z',
    carriedFrom: '2026-11-26T10:00:00.000Z',
  });
  expect(plan.items[0]!.Update!.Key).toEqual(bucketKey('license:l-1', NOW, 'requests'));
});

test('an ending subscription carries usage into no hour after the one it ended in', () => {
  const knowledge = nothingKnown();
  knowledge.buckets.set(itemId(bucketKey('license:l-1', HOUR, 'requests')), known({ frozen: true }));
  const lastHour = [{ index: 0, event: event(), lastHour: HOUR }];
  expect(planWrites(lastHour, knowledge, SETTINGS).results.get(0)).toMatchObject({
    status: 'rejected',
    reason: 'no-open-hour',
    message: expect.stringMatching(
      /ended in the hour 2026-11-26T10:00:00.000Z: its final usage has been sent/,
    ) as unknown,
  });
  const carried = planWrites([{ index: 0, event: event(), lastHour: NOW }], knowledge, SETTINGS);
  expect(carried.results.get(0)).toMatchObject({ status: 'accepted', hour: '2026-11-26T12:00:00.000Z' });
});

test('tag sets are assumed held until a condition shows otherwise; then new ones are counted', () => {
  const tagged = event({ tags: { env: 'prod' } });
  const first = planWrites(candidates([tagged]), nothingKnown(), SETTINGS).items[0]!.Update!;
  expect(first.ConditionExpression).toContain('attribute_exists(#allocationTags0)');
  expect(first.UpdateExpression).not.toContain('#tagSetCount');
  const knowledge = nothingKnown();
  knowledge.buckets.set(itemId(bucketKey('license:l-1', HOUR, 'requests')), known());
  const second = planWrites(candidates([tagged]), knowledge, SETTINGS).items[0]!.Update!;
  expect(second.ConditionExpression).toContain('attribute_not_exists(#allocationTags0)');
  expect(second.ExpressionAttributeValues).toMatchObject({
    ':newTagSets': 1,
    ':newTagBytes': tagSetBytes({ env: 'prod' }),
    ':tagSetRoom': MAX_ALLOCATIONS_PER_RECORD - 2,
  });
});

test('a bucket full of tag sets takes more usage of the ones it holds, and refuses new ones', () => {
  const held = { env: 'prod' };
  const knowledge = nothingKnown();
  knowledge.buckets.set(
    itemId(bucketKey('license:l-1', HOUR, 'requests')),
    known({
      tagSets: new Set([allocationAttributes(held).tags]),
      tagSetCount: MAX_ALLOCATIONS_PER_RECORD - 1,
      tagBytes: 1000,
    }),
  );
  const plan = planWrites(
    candidates([event({ tags: held }), event({ tags: { env: 'new' } }), event()]),
    knowledge,
    SETTINGS,
  );
  expect(
    [...plan.results.values()].map((result) => (result.status === 'rejected' ? result.reason : result.status)),
  ).toEqual(['accepted', 'bucket-full', 'accepted']);
  const bytes = nothingKnown();
  bytes.buckets.set(
    itemId(bucketKey('license:l-1', HOUR, 'requests')),
    known({ tagSetCount: 1, tagBytes: MAX_TAG_BYTES_PER_RECORD - 10 }),
  );
  expect(planWrites(candidates([event({ tags: { env: 'prod' } })]), bytes, SETTINGS).results.get(0)).toMatchObject({
    status: 'rejected',
    reason: 'bucket-full',
    message: expect.stringMatching(/bytes of tags/) as unknown,
  });
});
