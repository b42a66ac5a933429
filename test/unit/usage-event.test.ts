import { expect, test } from 'vitest';
import { acceptanceDeadline } from '../../lambdas/core/metering/bucket/acceptance-window.ts';
import {
  MAX_QUANTITY,
  MAX_SUBSCRIBER_ID_LENGTH,
  parseUsageEvent,
  timingRejection,
  type UsageRejectionReason,
} from '../../lambdas/core/metering/recording/usage-event.ts';

const SUBSCRIBER = 'license:arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';
const VALID = { subscriberId: SUBSCRIBER, dimension: 'requests', quantity: 3, timestamp: '2026-11-26T10:15:00Z' };

function rejectionOf(input: unknown): { reason: UsageRejectionReason; message: string } {
  const parsed = parseUsageEvent(input);
  if (parsed.outcome !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(parsed.event)}`);
  return { reason: parsed.result.reason, message: parsed.result.message };
}

function eventOf(input: unknown) {
  const parsed = parseUsageEvent(input);
  if (parsed.outcome !== 'parsed') throw new Error(`expected an event, got ${parsed.result.message}`);
  return parsed.event;
}

test('a well-formed event parses, with the hour it falls in', () => {
  expect(eventOf({ ...VALID, eventId: 'req-1' })).toEqual({
    subscriberId: SUBSCRIBER,
    dimension: 'requests',
    quantity: 3,
    at: new Date('2026-11-26T10:15:00Z'),
    hour: new Date('2026-11-26T10:00:00Z'),
    eventId: 'req-1',
  });
});

test('a legacy subscriber id, whose product code may hold a colon, is well formed', () => {
  expect(eventOf({ ...VALID, subscriberId: 'legacy:prod:code:customer-1' }).subscriberId).toBe(
    'legacy:prod:code:customer-1',
  );
});

test('a timestamp with an offset is the instant it names, and its hour is the UTC hour', () => {
  const event = eventOf({ ...VALID, timestamp: '2026-11-26T00:30:00.123456+01:00' });
  expect(event.at.toISOString()).toBe('2026-11-25T23:30:00.123Z');
  expect(event.hour.toISOString()).toBe('2026-11-25T23:00:00.000Z');
});

test('a Date timestamp is taken as it is', () => {
  expect(eventOf({ ...VALID, timestamp: new Date('2026-11-26T10:59:59.999Z') }).hour.toISOString()).toBe(
    '2026-11-26T10:00:00.000Z',
  );
});

test.each([1, 17, MAX_QUANTITY])('quantity %d is taken', (quantity) => {
  expect(eventOf({ ...VALID, quantity }).quantity).toBe(quantity);
});

test.each([
  ['zero', 0],
  ['negative', -1],
  ['a fraction', 1.5],
  ['a numeric string', '3'],
  ['above the 32-bit maximum', MAX_QUANTITY + 1],
  ['not a number', Number.NaN],
  ['infinite', Number.POSITIVE_INFINITY],
  ['missing', undefined],
])('a quantity that is %s is bad-quantity', (_name, quantity) => {
  expect(rejectionOf({ ...VALID, quantity })).toEqual({
    reason: 'bad-quantity',
    message: `quantity must be a whole number from 1 to ${MAX_QUANTITY}`,
  });
});

test.each([
  ['not an object', 'requests'],
  ['null', null],
  ['an array', [VALID]],
  ['missing its subscriber', { ...VALID, subscriberId: undefined }],
  ['for a subscriber id of neither kind', { ...VALID, subscriberId: 'customer-1' }],
  ['for a license id with a space', { ...VALID, subscriberId: `${SUBSCRIBER} x` }],
  [
    'for a subscriber id too long for a key',
    { ...VALID, subscriberId: `${SUBSCRIBER}${'x'.repeat(MAX_SUBSCRIBER_ID_LENGTH + 1 - SUBSCRIBER.length)}` },
  ],
  ['of an empty dimension', { ...VALID, dimension: '' }],
  ['of a dimension longer than Marketplace takes', { ...VALID, dimension: 'd'.repeat(256) }],
  ['with a timestamp without a time zone', { ...VALID, timestamp: '2026-11-26T10:15:00' }],
  ['with a timestamp without seconds', { ...VALID, timestamp: '2026-11-26T10:15Z' }],
  ['with a timestamp of a day that does not exist', { ...VALID, timestamp: '2026-02-30T10:15:00Z' }],
  ['with an epoch timestamp', { ...VALID, timestamp: 1_795_000_000 }],
  ['with an invalid Date', { ...VALID, timestamp: new Date(Number.NaN) }],
  ['with an empty event id', { ...VALID, eventId: '' }],
  ['with an event id of 129 characters', { ...VALID, eventId: 'e'.repeat(129) }],
  ['with a non-ASCII event id', { ...VALID, eventId: 'événement' }],
  ['with a control character in its event id', { ...VALID, eventId: 'a\nb' }],
  ['with a misspelt field (its event id would be ignored)', { ...VALID, eventID: 'req-1' }],
])('an event %s is bad-event', (_name, input) => {
  expect(rejectionOf(input).reason).toBe('bad-event');
});

test('a timestamp is RFC 3339: its T and Z may be lower case, its zone an offset', () => {
  const instant = new Date('2026-11-26T10:15:00Z');
  for (const timestamp of ['2026-11-26t10:15:00z', '2026-11-26T10:15:00.000z', '2026-11-26T11:15:00+01:00']) {
    expect(eventOf({ ...VALID, timestamp }).at, timestamp).toEqual(instant);
  }
});

test('an event id of 128 printable ASCII characters, spaces and # included, is taken', () => {
  const eventId = ` #~${'x'.repeat(125)}`;
  expect(eventOf({ ...VALID, eventId }).eventId).toBe(eventId);
});

test('a malformed event with a bad quantity too is bad-event, and the message names both problems', () => {
  const { reason, message } = rejectionOf({ ...VALID, dimension: '', quantity: 0 });
  expect(reason).toBe('bad-event');
  expect(message).toContain('dimension must not be empty');
  expect(message).toContain('quantity must be a whole number');
});

test('tags are kept in one spelling: sorted by key', () => {
  const tags = eventOf({ ...VALID, tags: { team: 'b', env: 'prod', 'cost center': '12/a=b@c:d+e.f_g-h' } }).tags;
  expect(Object.entries(tags!)).toEqual([
    ['cost center', '12/a=b@c:d+e.f_g-h'],
    ['env', 'prod'],
    ['team', 'b'],
  ]);
});

test('a __proto__ tag key, which a plain record parser would drop, is bad-tags', () => {
  expect(rejectionOf({ ...VALID, tags: JSON.parse('{"__proto__":"x","env":"prod"}') as unknown })).toEqual({
    reason: 'bad-tags',
    message: 'a tag key cannot be __proto__',
  });
});

test('five tags with keys of 100 and values of 256 characters are taken', () => {
  const tags = Object.fromEntries([1, 2, 3, 4, 5].map((n) => [`${n}${'k'.repeat(99)}`, 'v'.repeat(256)]));
  expect(Object.keys(eventOf({ ...VALID, tags }).tags!)).toHaveLength(5);
});

test.each([
  ['empty', {}],
  ['six tags', { a: '1', b: '2', c: '3', d: '4', e: '5', f: '6' }],
  ['a key of 101 characters', { ['k'.repeat(101)]: 'v' }],
  ['an empty key', { '': 'v' }],
  ['an empty value', { env: '' }],
  ['a value of 257 characters', { env: 'v'.repeat(257) }],
  ['a value that is not a string', { env: 1 }],
  ['a character Marketplace refuses in a key', { 'env?': 'prod' }],
  ['a character Marketplace refuses in a value', { env: 'prod~1' }],
  ['a non-ASCII value', { env: 'prödüction' }],
  ['an array', ['env', 'prod']],
  ['a string', 'env=prod'],
])('tags that are %s are bad-tags', (_name, tags) => {
  expect(rejectionOf({ ...VALID, tags }).reason).toBe('bad-tags');
});

const NOW = new Date('2026-11-26T12:34:56.000Z');

test('usage up to five minutes ahead of now is on time; later is in the future', () => {
  expect(timingRejection(new Date('2026-11-26T12:39:56.000Z'), NOW, 24)).toBeUndefined();
  expect(timingRejection(new Date('2026-11-26T12:39:56.001Z'), NOW, 24)?.reason).toBe('in-the-future');
});

test('usage is taken while its hour can still be metered two hours after the current hour starts', () => {
  // Current hour 12:00; the run after it (by 13:59) must still be inside the 24 h window of the usage's hour.
  expect(timingRejection(new Date('2026-11-25T14:00:00.000Z'), NOW, 24)).toBeUndefined();
  expect(timingRejection(new Date('2026-11-25T13:59:59.999Z'), NOW, 24)?.reason).toBe('too-old');
  expect(timingRejection(new Date('2026-11-26T08:00:00.000Z'), NOW, 6)).toBeUndefined();
  expect(timingRejection(new Date('2026-11-26T07:59:59.999Z'), NOW, 6)?.reason).toBe('too-old');
});

test('a previous month closes at 06:00 on the 1st, even inside the window', () => {
  const lastHourOfNovember = new Date('2026-11-30T23:30:00.000Z');
  expect(acceptanceDeadline(new Date('2026-11-30T23:00:00.000Z'), 24)).toEqual(new Date('2026-12-01T06:00:00.000Z'));
  expect(timingRejection(lastHourOfNovember, new Date('2026-12-01T04:59:59.999Z'), 24)).toBeUndefined();
  expect(timingRejection(lastHourOfNovember, new Date('2026-12-01T05:00:00.000Z'), 24)?.reason).toBe('too-old');
  expect(timingRejection(new Date('2026-12-01T00:00:00.000Z'), new Date('2026-12-01T05:00:00.000Z'), 24)).toBe(
    undefined,
  );
});

test('a window shorter than the metering lead takes no usage at all, not even of the current hour', () => {
  expect(timingRejection(NOW, NOW, 1)?.reason).toBe('too-old');
  expect(timingRejection(NOW, NOW, 2)).toBeUndefined();
});
