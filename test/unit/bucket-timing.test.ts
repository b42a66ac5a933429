import { expect, test } from 'vitest';
import {
  bucketTiming,
  finalHourSendTime,
  isRecordableHourAt,
  recordTimestampOf,
} from '../../lambdas/core/metering/bucket/bucket-timing.ts';
import { withFact, type LifecycleFact, type LifecycleFacts } from '../../lambdas/core/lifecycle/subscription-state.ts';

const SETTINGS = { graceSeconds: 3600, finalHourMarginMinutes: 15 };
const at = (time: string) => new Date(`2026-11-26T${time}Z`);
const ACTIVE: LifecycleFacts = { activatedAt: '2026-11-01T00:00:00.000Z' };
/** Cancelled at 12:10: the deadline is 13:10, the final hour (12:00) goes out from 12:55. */
const ENDING: LifecycleFacts = { ...ACTIVE, endRequestedAt: '2026-11-26T12:10:00.000Z' };

test("a live subscriber's hour is due once it has closed (dueBefore), not before", () => {
  expect(bucketTiming(at('11:00:00'), ACTIVE, at('12:06:00'), at('12:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('12:00:00'), ACTIVE, at('12:06:00'), at('12:00:00'), SETTINGS)).toEqual({ kind: 'not-yet' });
});

test("an ending subscriber's earlier hours are due at once; its final hour from deadline less margin", () => {
  const stillOpen = at('11:00:00');
  expect(bucketTiming(at('11:00:00'), ENDING, at('12:11:00'), stillOpen, SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('12:00:00'), ENDING, at('12:54:59'), stillOpen, SETTINGS)).toEqual({
    kind: 'not-yet',
    sendAt: at('12:55:00'),
  });
  expect(bucketTiming(at('12:00:00'), ENDING, at('12:55:00'), stillOpen, SETTINGS)).toEqual({ kind: 'due' });
  expect(finalHourSendTime(ENDING, at('12:11:00'), SETTINGS)).toEqual(at('12:55:00'));
  expect(finalHourSendTime(ACTIVE, at('12:11:00'), SETTINGS)).toBeUndefined();
});

test('an hour after the end is never billable, and nothing is once the deadline has passed', () => {
  expect(bucketTiming(at('13:00:00'), ENDING, at('12:30:00'), at('12:00:00'), SETTINGS)).toEqual({
    kind: 'after-end',
    end: at('12:10:00'),
  });
  for (const hour of ['11:00:00', '12:00:00']) {
    expect(bucketTiming(at(hour), ENDING, at('13:10:00'), at('13:00:00'), SETTINGS)).toEqual({
      kind: 'final-window-passed',
      deadline: at('13:10:00'),
    });
  }
  // A legacy buyer who subscribed again inside the window: live again, its hours metered as any live subscriber's.
  const resubscribed = { ...ENDING, activatedAt: '2026-11-26T12:20:00.000Z', resubscribable: true as const };
  expect(bucketTiming(at('12:00:00'), resubscribed, at('13:30:00'), at('13:00:00'), SETTINGS)).toEqual({
    kind: 'due',
  });
  // A license's end is final: a later License Updated does not make it live again.
  expect(
    bucketTiming(
      at('12:00:00'),
      { ...resubscribed, resubscribable: undefined },
      at('13:30:00'),
      at('13:00:00'),
      SETTINGS,
    ),
  ).toEqual({
    kind: 'final-window-passed',
    deadline: at('13:10:00'),
  });
});

test("a record's timestamp is its hour's start, or the second after the start in the hour the subscription began", () => {
  const started = { activatedAt: '2026-11-26T10:20:30.400Z' };
  expect(recordTimestampOf(at('11:00:00'), started)).toEqual(at('11:00:00'));
  expect(recordTimestampOf(at('10:00:00'), started)).toEqual(at('10:20:31'));
  // Notified as started at the hour's first second (a license's event time is whole seconds): the second after it.
  expect(recordTimestampOf(at('10:00:00'), { activatedAt: '2026-11-26T10:00:00.000Z' })).toEqual(at('10:00:01'));
  // Started in the last second of its hour: the hour's last whole second.
  expect(recordTimestampOf(at('10:00:00'), { activatedAt: '2026-11-26T10:59:59.500Z' })).toEqual(at('10:59:59'));
  // Ended in the same second it started: never after the end.
  const blink = { ...started, endRequestedAt: '2026-11-26T10:20:30.900Z' };
  expect(recordTimestampOf(at('10:00:00'), blink)).toEqual(at('10:20:30'));
});

/** A legacy buyer who cancelled at 11:50 (deadline 12:50, send time 12:35) and subscribed again at 12:10. */
const RESUBSCRIBED: LifecycleFacts = {
  startedAt: '2026-11-01T00:00:00.000Z',
  activatedAt: '2026-11-26T12:10:00.000Z',
  endRequestedAt: '2026-11-26T11:50:00.000Z',
  firstEndAt: '2026-11-26T11:50:00.000Z',
  resubscribable: true,
};

test("the old subscription's hours are due at once after a resubscription, until its own deadline", () => {
  const hourlyDueBefore = at('12:00:00');
  expect(bucketTiming(at('11:00:00'), RESUBSCRIBED, at('12:11:00'), at('11:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('10:00:00'), RESUBSCRIBED, at('12:49:59'), hourlyDueBefore, SETTINGS)).toEqual({
    kind: 'due',
  });
  expect(bucketTiming(at('11:00:00'), RESUBSCRIBED, at('12:50:00'), hourlyDueBefore, SETTINGS)).toEqual({
    kind: 'final-window-passed',
    deadline: at('12:50:00'),
  });
  // The new subscription's hours are a live subscriber's.
  expect(bucketTiming(at('12:00:00'), RESUBSCRIBED, at('12:51:00'), hourlyDueBefore, SETTINGS)).toEqual({
    kind: 'not-yet',
  });
  // Stamped as the new subscription's from the hour it started again in.
  expect(recordTimestampOf(at('12:00:00'), RESUBSCRIBED)).toEqual(at('12:10:01'));
  expect(recordTimestampOf(at('11:00:00'), RESUBSCRIBED)).toEqual(at('11:00:00'));
  // A license's facts never make a superseded subscription: its end is final, and the later activation is not a start.
  const license = { ...RESUBSCRIBED, resubscribable: undefined };
  expect(bucketTiming(at('11:00:00'), license, at('12:35:00'), hourlyDueBefore, SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('12:00:00'), license, at('12:40:00'), hourlyDueBefore, SETTINGS)).toEqual({
    kind: 'after-end',
    end: at('11:50:00'),
  });
});

test("a legacy buyer back on a free trial then converted to paid: the trial's hours are the new subscription's", () => {
  // Subscribed 15:20, cancelled 15:21 (ended 16:21), back on a free trial at 16:30, converted to paid at 17:05.
  const history: [LifecycleFact, string][] = [
    ['activatedAt', '15:20:00'],
    ['endRequestedAt', '15:21:00'],
    ['endedAt', '16:21:00'],
    ['activatedAt', '16:30:00'],
    ['activatedAt', '17:05:00'],
  ];
  const facts = history.reduce<LifecycleFacts>((folded, [fact, time]) => withFact(folded, fact, at(time)), {
    resubscribable: true,
  });
  // The trial's hour is billed as a live subscriber's (not held to the old subscription's 16:21 deadline), stamped
  // inside the trial, and takes usage until it closes.
  expect(bucketTiming(at('16:00:00'), facts, at('17:10:00'), at('17:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(recordTimestampOf(at('16:00:00'), facts)).toEqual(at('16:30:01'));
  expect(isRecordableHourAt(at('16:00:00'), facts, at('17:06:00'), SETTINGS)).toBe(true);
  // The hour of the conversion is stamped in the trial.
  expect(recordTimestampOf(at('17:00:00'), facts)).toEqual(at('17:00:00'));
});

test("usage of the old subscription's hours goes into them until its send time, then into a later hour", () => {
  expect(isRecordableHourAt(at('11:00:00'), RESUBSCRIBED, at('12:34:59'), SETTINGS)).toBe(true);
  expect(isRecordableHourAt(at('11:00:00'), RESUBSCRIBED, at('12:35:00'), SETTINGS)).toBe(false);
  expect(isRecordableHourAt(at('12:00:00'), RESUBSCRIBED, at('12:35:00'), SETTINGS)).toBe(true);
  expect(isRecordableHourAt(at('11:00:00'), ACTIVE, at('12:35:00'), SETTINGS)).toBe(true);
});

test("after several resubscriptions, the first subscription's hours go by its own deadline, later ones by theirs", () => {
  // First subscription cancelled at 09:30 (deadline 10:30); another from 10:00 to 11:20 (deadline 12:20); again at 11:40.
  const twice: LifecycleFacts = {
    startedAt: '2026-11-26T08:00:00.000Z',
    firstEndAt: '2026-11-26T09:30:00.000Z',
    endRequestedAt: '2026-11-26T11:20:00.000Z',
    activatedAt: '2026-11-26T11:40:00.000Z',
    resubscribable: true,
  };
  expect(bucketTiming(at('09:00:00'), twice, at('11:45:00'), at('11:00:00'), SETTINGS)).toEqual({
    kind: 'final-window-passed',
    deadline: at('10:30:00'),
  });
  expect(bucketTiming(at('10:00:00'), twice, at('11:45:00'), at('11:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('10:00:00'), twice, at('12:20:00'), at('12:00:00'), SETTINGS)).toEqual({
    kind: 'final-window-passed',
    deadline: at('12:20:00'),
  });
  // Late usage of the first subscription's hours is carried into the new one's, not put where it would be refused.
  expect(isRecordableHourAt(at('09:00:00'), twice, at('11:45:00'), SETTINGS)).toBe(false);
  expect(isRecordableHourAt(at('08:00:00'), twice, at('10:14:59'), SETTINGS)).toBe(true);
});

test('a cancellation after the latest resubscription does not bring the deadline of the hours before it forward', () => {
  // Cancelled at 10:00, subscribed again at 10:10, cancelled at 11:40 (forgotten once 12:15 is kept), again at 12:10,
  // cancelled at 12:15: the middle subscription's 11:00 hour stays due until the latest its deadline can be.
  const thrice: LifecycleFacts = {
    startedAt: '2026-11-26T09:00:00.000Z',
    firstEndAt: '2026-11-26T10:00:00.000Z',
    activatedAt: '2026-11-26T12:10:00.000Z',
    endRequestedAt: '2026-11-26T12:15:00.000Z',
    resubscribable: true,
  };
  expect(bucketTiming(at('11:00:00'), thrice, at('12:20:00'), at('12:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('09:00:00'), thrice, at('12:20:00'), at('12:00:00'), SETTINGS)).toEqual({
    kind: 'final-window-passed',
    deadline: at('11:00:00'),
  });
});

test("a middle subscription's hour, taken while it was live, goes by its own deadline and is stamped inside it", () => {
  // Subscribed 09:05, cancelled 10:18 (deadline 11:18), again 10:23, cancelled 10:58 (deadline 11:58), again 11:30.
  // The 10:00 hour holds usage taken at 10:30, while the middle subscription was live: billable until 11:58, stamped
  // after that subscription's start (a record stamped 10:00:00 would be the first subscription's, closed at 11:18).
  const history: [LifecycleFact, string][] = [
    ['activatedAt', '09:05:00'],
    ['endRequestedAt', '10:18:00'],
    ['activatedAt', '10:23:00'],
    ['endRequestedAt', '10:58:00'],
    ['activatedAt', '11:30:00'],
  ];
  const thrice = history.reduce<LifecycleFacts>((facts, [fact, time]) => withFact(facts, fact, at(time)), {
    resubscribable: true,
  });
  expect(bucketTiming(at('10:00:00'), thrice, at('11:31:00'), at('11:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('10:00:00'), thrice, at('11:57:59'), at('11:00:00'), SETTINGS)).toEqual({ kind: 'due' });
  expect(bucketTiming(at('10:00:00'), thrice, at('11:58:00'), at('11:00:00'), SETTINGS)).toEqual({
    kind: 'final-window-passed',
    deadline: at('11:58:00'),
  });
  expect(recordTimestampOf(at('10:00:00'), thrice)).toEqual(at('10:23:01'));
});
