import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  billablePeriod,
  effectiveStatus,
  finalMeteringDeadline,
  isAfterEnd,
  isInRestartGap,
  restartOf,
  statusAsOf,
  statusOf,
  withFact,
  type LifecycleFact,
  type LifecycleFacts,
} from '../../lambdas/core/lifecycle/subscription-state.ts';
import { recordTimestampOf } from '../../lambdas/core/metering/bucket/bucket-timing.ts';

const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 10, minute));
const fold = (signals: readonly (readonly [LifecycleFact, number])[], from: LifecycleFacts = {}) =>
  signals.reduce<LifecycleFacts>((facts, [fact, minute]) => withFact(facts, fact, at(minute)), from);
/** A legacy buyer's facts: one who may subscribe again, so that the recent ones are kept. */
const foldLegacy = (signals: readonly (readonly [LifecycleFact, number])[]) => fold(signals, { resubscribable: true });

test('the latest fact sets the status; before any, the subscription is pending', () => {
  expect(statusOf({})).toEqual({ status: 'pending' });
  expect(statusOf(fold([['activatedAt', 1]])).status).toBe('active');
  expect(
    statusOf(
      fold([
        ['activatedAt', 1],
        ['endRequestedAt', 5],
      ]),
    ).status,
  ).toBe('ending');
  expect(
    statusOf(
      fold([
        ['activatedAt', 1],
        ['endRequestedAt', 5],
        ['endedAt', 65],
      ]),
    ).status,
  ).toBe('ended');
  expect(statusOf(fold([['failedAt', 2]])).status).toBe('failed');
});

test("a legacy buyer who resubscribes before the end is active again; a license's end is final", () => {
  const resubscribed = fold([
    ['activatedAt', 1],
    ['endRequestedAt', 5],
    ['activatedAt', 20],
  ]);
  expect(statusOf({ ...resubscribed, resubscribable: true })).toEqual({
    status: 'active',
    since: at(20).toISOString(),
  });
  // A License Updated dated after License Deprovisioned (an amendment racing the cancellation) revives nothing.
  expect(statusOf(resubscribed)).toEqual({ status: 'ending', since: at(5).toISOString() });
  expect(billablePeriod(resubscribed)).toEqual({ start: at(1), end: at(5) });
});

test("a license's later activations (License Updated) leave it active since its first; a legacy buyer's restart moves it", () => {
  const updated = fold([
    ['activatedAt', 10],
    ['activatedAt', 20],
  ]);
  expect(statusOf(updated)).toEqual({ status: 'active', since: at(10).toISOString() });
  expect(statusOf({ ...updated, resubscribable: true })).toEqual({ status: 'active', since: at(20).toISOString() });
});

test('a stale notification changes no status: an older activation after the end request only moves the start back', () => {
  const facts = fold([
    ['activatedAt', 10],
    ['endRequestedAt', 30],
  ]);
  expect(withFact(facts, 'activatedAt', at(5))).toEqual({ ...facts, startedAt: at(5).toISOString() });
  expect(statusOf(withFact(facts, 'activatedAt', at(5))).status).toBe('ending');
  expect(withFact(facts, 'activatedAt', at(12))).toEqual({ ...facts, activatedAt: at(12).toISOString() });
});

test('the billable period runs from the first activation to the end request, whatever changed in between', () => {
  const facts = fold([
    ['activatedAt', 10],
    ['activatedAt', 20],
  ]);
  const endOf = at;
  expect(billablePeriod(facts)).toEqual({ start: at(10) });
  expect(billablePeriod(withFact(facts, 'endRequestedAt', at(30)))).toEqual({ start: at(10), end: endOf(30) });
  expect(billablePeriod(withFact(withFact(facts, 'endRequestedAt', at(30)), 'endedAt', at(90)))).toEqual({
    start: at(10),
    end: endOf(30),
  });
  // A legacy buyer resubscribed before the end: no end (and a gap, `restartOf`).
  expect(
    billablePeriod({
      ...withFact(withFact(facts, 'endRequestedAt', at(30)), 'activatedAt', at(40)),
      resubscribable: true,
    }),
  ).toEqual({ start: at(10) });
  // The end is notified to the second: usage within that second is not after it.
  expect(isAfterEnd(new Date(at(30).getTime() + 999), at(30))).toBe(false);
  expect(isAfterEnd(new Date(at(30).getTime() + 1000), at(30))).toBe(true);
  // Stored before the start was kept apart: the one activation is the start.
  expect(billablePeriod({ activatedAt: at(10).toISOString() })).toEqual({ start: at(10) });
});

test('a subscription that starts again after an end has a gap, from the earliest end to the restart', () => {
  const again: LifecycleFacts = {
    ...fold([
      ['activatedAt', 10],
      ['endRequestedAt', 30],
      ['endedAt', 90],
      ['activatedAt', 100],
    ]),
    resubscribable: true,
  };
  expect(statusOf(again).status).toBe('active');
  expect(restartOf(again)).toEqual({ endedAt: at(30), restartedAt: at(100) });
  expect(isInRestartGap(new Date(at(30).getTime() + 999), again)).toBe(false);
  expect(isInRestartGap(at(31), again)).toBe(true);
  expect(isInRestartGap(at(99), again)).toBe(true);
  expect(isInRestartGap(at(100), again)).toBe(false);
  // The new subscription ends too: the gap is still known, from the earliest end.
  const endedAgain = withFact(withFact(again, 'endRequestedAt', at(110)), 'endedAt', at(170));
  expect(restartOf(endedAgain)).toEqual({ endedAt: at(30), restartedAt: at(100) });
  expect(billablePeriod(endedAgain)).toEqual({ start: at(10), end: at(110) });
  // Facts stored before the earliest end was kept: the ends there are still seen.
  expect(restartOf({ ...again, firstEndAt: undefined })).toEqual({ endedAt: at(30), restartedAt: at(100) });
  // A subscription that only ever started once has no gap, whatever activations came later.
  expect(
    restartOf(
      fold([
        ['activatedAt', 10],
        ['activatedAt', 50],
        ['endRequestedAt', 60],
      ]),
    ),
  ).toBeUndefined();
});

test("a legacy buyer back on a free trial, then converted to the paid offer: the gap ends at the trial's start", () => {
  // Subscribed 10:10, cancelled 10:21 (ended 11:21), back on a free trial at 11:30, converted to paid at 12:05: the
  // conversion is another subscribe-success, but the new subscription began with the trial.
  const history: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 10],
    ['endRequestedAt', 21],
    ['endedAt', 81],
    ['activatedAt', 90],
    ['activatedAt', 125],
  ];
  for (const order of [history, [...history].reverse()]) {
    const facts = foldLegacy(order);
    expect(statusOf(facts).status).toBe('active');
    expect(restartOf(facts)).toEqual({ endedAt: at(21), restartedAt: at(90) });
    expect(isInRestartGap(at(89), facts)).toBe(true);
    expect(isInRestartGap(at(100), facts)).toBe(false);
  }
  // Back within the old subscription's hour (no end came, Marketplace replaced it), then converted: the same.
  const withinTheHour = foldLegacy([
    ['activatedAt', 10],
    ['endRequestedAt', 21],
    ['activatedAt', 40],
    ['activatedAt', 125],
  ]);
  expect(restartOf(withinTheHour)).toEqual({ endedAt: at(21), restartedAt: at(40) });
});

test('a trial converted to paid starts its subscription at the trial, whichever of the last two it is', () => {
  // 10:20 a free trial, 10:30 converted, 10:40 cancelled; 11:05 subscribed again: the first subscription (the one before
  // the latest) started with its trial, whose usage is billable until its deadline.
  const converted: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 20],
    ['activatedAt', 30],
    ['endRequestedAt', 40],
    ['activatedAt', 65],
  ];
  for (const order of [converted, [...converted].reverse()]) {
    const facts = foldLegacy(order);
    expect(billablePeriod(facts).start).toEqual(at(20));
    expect(restartOf(facts)).toEqual({ endedAt: at(40), restartedAt: at(65) });
  }
  // Both subscriptions began as trials (four activations): the older trial's start is still known, three subscriptions
  // on; the last two are the second and third.
  const twoTrials = foldLegacy([
    ['activatedAt', 0],
    ['activatedAt', 20],
    ['endRequestedAt', 30],
    ['activatedAt', 100],
    ['activatedAt', 130],
    ['endRequestedAt', 150],
    ['activatedAt', 200],
  ]);
  expect(billablePeriod(twoTrials).start).toEqual(at(100));
  expect(restartOf(twoTrials)).toEqual({ endedAt: at(150), restartedAt: at(200) });
  // A subscription whose end request was lost ended by its unsubscribe-success alone: that end still parts it from the
  // next, so the one before the latest starts at 15:00, not with the one before it.
  const lostRequest = foldLegacy([
    ['activatedAt', 0],
    ['endRequestedAt', 10],
    ['endedAt', 70],
    ['activatedAt', 100],
    ['endedAt', 200],
    ['activatedAt', 300],
    ['endRequestedAt', 310],
    ['activatedAt', 400],
  ]);
  expect(billablePeriod(lostRequest).start).toEqual(at(300));
  // Back on a trial within the hour: the unsubscribe-success of the request the trial withdrew, dated after the trial's
  // start, does not move the restart to the conversion.
  const withdrawnEnd: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 10],
    ['endRequestedAt', 21],
    ['activatedAt', 40],
    ['endedAt', 81],
    ['activatedAt', 245],
  ];
  for (const order of [withdrawnEnd, [...withdrawnEnd].reverse()]) {
    const facts = foldLegacy(order);
    expect(restartOf(facts)).toEqual({ endedAt: at(21), restartedAt: at(40) });
    expect(isInRestartGap(at(150), facts)).toBe(false);
  }
});

test('an end whose request was lost parts two subscriptions, however many ends come after it', () => {
  // 10:00 subscribed, 10:10 cancelled, ended 11:10; 11:40 again, whose unsubscribe-pending was lost: only its
  // unsubscribe-success at 13:20; 14:30 again. Nobody was subscribed from 13:20 to 14:30.
  const latestGap: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 0],
    ['endRequestedAt', 10],
    ['endedAt', 70],
    ['activatedAt', 100],
    ['endedAt', 200],
    ['activatedAt', 270],
  ];
  for (const order of [latestGap, [...latestGap].reverse()]) {
    const facts = foldLegacy(order);
    expect(restartOf(facts)).toEqual({ endedAt: at(200), restartedAt: at(270) });
    expect(isInRestartGap(at(250), facts)).toBe(true);
    expect(isInRestartGap(at(150), facts)).toBe(false);
    // The 14:00 hour's record goes out stamped after the restart, not at 14:00, when nobody was subscribed.
    expect(recordTimestampOf(at(240), facts).getTime()).toBeGreaterThan(at(270).getTime());
  }
  // A third subscription (15:00, cancelled 15:10, ended 16:10) and a fourth (16:40): the lost request's end is still
  // known, so the one before the latest starts at 15:00 and 13:20 to 15:00 is nobody's.
  const laterEnds: (readonly [LifecycleFact, number])[] = [
    ...latestGap.slice(0, 5),
    ['activatedAt', 300],
    ['endRequestedAt', 310],
    ['endedAt', 370],
    ['activatedAt', 400],
  ];
  for (const order of [laterEnds, [...laterEnds].reverse()]) {
    const facts = foldLegacy(order);
    expect(billablePeriod(facts).start).toEqual(at(300));
    expect(restartOf(facts)).toEqual({ endedAt: at(310), restartedAt: at(400) });
  }
});

test("an end an hour or more after a resubscription is the new subscription's own, not the withdrawn request's", () => {
  // 10:05 subscribed, 10:20 cancelled, 10:40 again (withdrawing the request: AWS replaces its unsubscribe-success);
  // the new subscription's unsubscribe-pending (11:00) is lost, its unsubscribe-success comes at 12:00.
  const lostAfterResubscribing: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 5],
    ['endRequestedAt', 20],
    ['activatedAt', 40],
    ['endedAt', 120],
  ];
  for (const order of [lostAfterResubscribing, [...lostAfterResubscribing].reverse()]) {
    expect(statusOf(foldLegacy(order)).status).toBe('ended');
    // Back at 12:20: nobody was subscribed from 12:00 to 12:20.
    const back = foldLegacy([...order, ['activatedAt', 140]]);
    expect(restartOf(back)?.restartedAt).toEqual(at(140));
    expect(isInRestartGap(at(130), back)).toBe(true);
  }
  // One that races the resubscription at the window's close (10:20 cancelled, 11:19 back, the end at 11:20) is the
  // withdrawn request's: the buyer is active.
  const racing = foldLegacy([
    ['activatedAt', 5],
    ['endRequestedAt', 20],
    ['activatedAt', 79],
    ['endedAt', 80],
  ]);
  expect(statusOf(racing)).toEqual({ status: 'active', since: at(79).toISOString() });
  // The hour is the bound: an end a full hour after the resubscription is the new subscription's, a minute less is not.
  const endingAt = (minute: number) =>
    foldLegacy([
      ['activatedAt', 5],
      ['endRequestedAt', 20],
      ['activatedAt', 40],
      ['endedAt', minute],
    ]);
  expect(statusOf(endingAt(100)).status).toBe('ended');
  expect(statusOf(endingAt(99)).status).toBe('active');
});

test("a second activation after the resubscription (a trial converted) does not make a later end the old request's", () => {
  // 10:10 cancelled, 10:15 again (a trial), 11:00 converted to paid, the new subscription's own end at 11:16 (its
  // unsubscribe-pending lost): ended, both as billing reads it and as the buyer's status, in any order of arrival.
  const converted: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 0],
    ['endRequestedAt', 10],
    ['activatedAt', 15],
    ['activatedAt', 60],
    ['endedAt', 76],
  ];
  for (const order of [converted, [...converted].reverse()]) {
    const facts = foldLegacy(order);
    expect(statusOf(facts).status).toBe('ended');
    expect(isInRestartGap(at(80), foldLegacy([...order, ['activatedAt', 90]]))).toBe(true);
  }
});

test('the end of a request the buyer withdrew by subscribing again ends nothing; a later end does', () => {
  // unsubscribe-pending at 30, subscribe-success at 50, the old request's unsubscribe-success at 90 (a legacy buyer).
  const facts: LifecycleFacts = {
    ...fold([
      ['activatedAt', 10],
      ['endRequestedAt', 30],
      ['activatedAt', 50],
      ['endedAt', 90],
    ]),
    resubscribable: true,
  };
  expect(statusOf(facts)).toEqual({ status: 'active', since: at(50).toISOString() });
  // An end after an end request made since the restart does end it.
  expect(statusOf(withFact(withFact(facts, 'endRequestedAt', at(100)), 'endedAt', at(160))).status).toBe('ended');
  // An end long after the withdrawn request is not its end (the new subscription's own request was not heard yet).
  expect(statusOf(withFact(facts, 'endedAt', at(30 + 121))).status).toBe('ended');
  // ... and it ends the new subscription then: the withdrawn request was the old one's, and so was its deadline.
  expect(billablePeriod(withFact(facts, 'endedAt', at(30 + 121)))).toEqual({ start: at(10), end: at(30 + 121) });
  expect(finalMeteringDeadline(withFact(facts, 'endedAt', at(30 + 121)), 3600)).toBeUndefined();
  // Asked to end the new subscription too (at 70) before the old request's end came: ending, until the new deadline.
  const cancelledAgain = withFact(facts, 'endRequestedAt', at(70));
  expect(statusOf(cancelledAgain)).toEqual({ status: 'ending', since: at(70).toISOString() });
  expect(billablePeriod(cancelledAgain)).toEqual({ start: at(10), end: at(70) });
  expect(effectiveStatus(cancelledAgain, at(129), 3600)).toBe('ending');
  expect(effectiveStatus(cancelledAgain, at(130), 3600)).toBe('ended');
  // The old request's end at the very instant the buyer asks to end the new subscription: still the old one's.
  expect(statusOf(withFact(withFact(facts, 'endRequestedAt', at(90)), 'endedAt', at(90)))).toEqual({
    status: 'ending',
    since: at(90).toISOString(),
  });
  // The new request's own end, when it comes long after the old request, ends it.
  expect(statusOf(withFact(cancelledAgain, 'endedAt', at(30 + 121))).status).toBe('ended');
  // A license's updates are no resubscription: an end after its latest end request ends it.
  expect(statusOf({ ...withFact(cancelledAgain, 'endedAt', at(80)), resubscribable: undefined }).status).toBe('ended');
});

test('a resubscription at the very instant of an end (request) follows it: the buyer holds a live subscription', () => {
  const legacy = (signals: Parameters<typeof fold>[0]): LifecycleFacts => ({ ...fold(signals), resubscribable: true });
  // The old subscription cancelled, and the buyer subscribed again, in one second (either order).
  const cancelledAndResubscribed = legacy([
    ['activatedAt', 10],
    ['endRequestedAt', 30],
    ['activatedAt', 30],
  ]);
  expect(statusOf(cancelledAndResubscribed)).toEqual({ status: 'active', since: at(30).toISOString() });
  expect(restartOf(cancelledAndResubscribed)).toBeUndefined();
  // The old request's end, an hour later, ends nothing.
  expect(statusOf(withFact(cancelledAndResubscribed, 'endedAt', at(90))).status).toBe('active');
  // Subscribed again in the very second the old subscription's end came.
  const endedAndResubscribed = legacy([
    ['activatedAt', 10],
    ['endRequestedAt', 30],
    ['endedAt', 90],
    ['activatedAt', 90],
  ]);
  expect(statusOf(endedAndResubscribed)).toEqual({ status: 'active', since: at(90).toISOString() });
  expect(restartOf(endedAndResubscribed)).toEqual({ endedAt: at(30), restartedAt: at(90) });
  // Subscribed again and asked to end the new subscription in one second, after an earlier end: ending, and the old
  // request's end an hour later ends nothing before the new deadline.
  const resubscribedAndCancelled = legacy([
    ['activatedAt', 0],
    ['endRequestedAt', 10],
    ['activatedAt', 20],
    ['endRequestedAt', 20],
  ]);
  expect(statusOf(resubscribedAndCancelled)).toEqual({ status: 'ending', since: at(20).toISOString() });
  expect(statusOf(withFact(resubscribedAndCancelled, 'endedAt', at(70)))).toEqual({
    status: 'ending',
    since: at(20).toISOString(),
  });
  expect(effectiveStatus(withFact(resubscribedAndCancelled, 'endedAt', at(70)), at(80), 3600)).toBe('ended');
  // A first start that ends in its own second has ended; and a license's update does not outrank its end.
  expect(
    statusOf(
      legacy([
        ['activatedAt', 10],
        ['endRequestedAt', 10],
      ]),
    ).status,
  ).toBe('ending');
  expect(
    statusOf(
      fold([
        ['activatedAt', 10],
        ['endRequestedAt', 30],
        ['activatedAt', 30],
      ]),
    ).status,
  ).toBe('ending');
});

test('at the same instant the later stage wins', () => {
  expect(
    statusOf(
      fold([
        ['endRequestedAt', 3],
        ['activatedAt', 3],
      ]),
    ).status,
  ).toBe('ending');
  expect(
    statusOf(
      fold([
        ['endedAt', 3],
        ['endRequestedAt', 3],
      ]),
    ).status,
  ).toBe('ended');
  expect(
    statusOf(
      fold([
        ['failedAt', 3],
        ['activatedAt', 3],
      ]),
    ).status,
  ).toBe('failed');
});

test("a legacy buyer's failed attempt to subscribe again leaves the subscription it would have replaced as it was", () => {
  // Cancelled 10:05; the buyer subscribes again at 10:07 and the payment fails (subscribe-fail).
  const failedAgain = foldLegacy([
    ['activatedAt', 1],
    ['endRequestedAt', 5],
    ['failedAt', 7],
  ]);
  expect(statusOf(failedAgain)).toEqual({ status: 'ending', since: at(5).toISOString() });
  expect(finalMeteringDeadline(failedAgain, 3600)).toEqual(at(65));
  expect(billablePeriod(failedAgain)).toEqual({ start: at(1), end: at(5) });
  expect(statusAsOf(failedAgain, at(65), 3600)).toEqual({ status: 'ended', since: at(65).toISOString() });
  expect(
    statusOf(
      foldLegacy([
        ['activatedAt', 1],
        ['endRequestedAt', 5],
        ['endedAt', 65],
        ['failedAt', 70],
      ]),
    ),
  ).toEqual({
    status: 'ended',
    since: at(65).toISOString(),
  });
  // A second attempt that goes through starts the new subscription.
  expect(
    statusOf(
      foldLegacy([
        ['activatedAt', 1],
        ['endRequestedAt', 5],
        ['failedAt', 7],
        ['activatedAt', 9],
      ]),
    ).status,
  ).toBe('active');
  // Before any start, or while live, a failure is the subscription's own.
  expect(
    statusOf(
      foldLegacy([
        ['failedAt', 7],
        ['endRequestedAt', 5],
      ]),
    ).status,
  ).toBe('failed');
  expect(
    statusOf(
      foldLegacy([
        ['activatedAt', 1],
        ['failedAt', 7],
      ]),
    ).status,
  ).toBe('failed');
});

test('an ending subscription has ended once its final-metering window has passed', () => {
  const facts = fold([
    ['activatedAt', 1],
    ['endRequestedAt', 5],
  ]);
  expect(effectiveStatus(facts, at(64), 3600)).toBe('ending');
  expect(effectiveStatus(facts, at(65), 3600)).toBe('ended');
  expect(effectiveStatus(fold([['activatedAt', 1]]), at(500), 3600)).toBe('active');
});

const signal = fc.tuple(
  fc.constantFrom<LifecycleFact>('activatedAt', 'failedAt', 'endRequestedAt', 'endedAt'),
  fc.nat(120),
);

test('any order and any number of copies of a history give the same facts and status', () => {
  fc.assert(
    fc.property(
      fc.array(signal, { minLength: 1, maxLength: 12 }).chain((history) =>
        fc.tuple(
          fc.constant(history),
          fc.shuffledSubarray([...history, ...history], {
            minLength: history.length * 2,
            maxLength: history.length * 2,
          }),
          fc.array(fc.constantFrom(...history), { maxLength: 6 }),
        ),
      ),
      ([history, shuffled, duplicates]) => {
        for (const foldOf of [fold, foldLegacy]) {
          const reference = foldOf(history);
          const replayed = foldOf([...shuffled, ...duplicates]);
          expect(replayed).toEqual(reference);
          expect(statusOf(replayed)).toEqual(statusOf(reference));
          expect(restartOf(replayed)).toEqual(restartOf(reference));
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('an end Marketplace dates after the final-metering deadline ended the subscription at the deadline', () => {
  // Cancelled 10:10, the window closed 11:10 (the sweep ended it then); unsubscribe-success dated 11:20.
  const late = foldLegacy([
    ['activatedAt', 5],
    ['endRequestedAt', 10],
    ['endedAt', 80],
  ]);
  expect(statusAsOf(late, at(85), 3600)).toEqual({ status: 'ended', since: at(70).toISOString() });
  // Within the window, Marketplace's end is the end.
  const early = foldLegacy([
    ['activatedAt', 5],
    ['endRequestedAt', 10],
    ['endedAt', 60],
  ]);
  expect(statusAsOf(early, at(85), 3600)).toEqual({ status: 'ended', since: at(60).toISOString() });
});

test('a buyer who subscribed again twice is billed as the last two subscriptions, whose end request is known', () => {
  // Subscribed at 10:05, cancelled 10:20, again 10:53 (the middle subscription), cancelled 13:20 (its end an hour
  // later, 14:20), again 13:38, cancelled 13:43. Were only the first end kept, the middle one's end at 14:20 would end
  // the latest subscription before its final hour (13:00, sent at 14:28) could go.
  const history: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 5],
    ['endRequestedAt', 20],
    ['activatedAt', 53],
    ['endRequestedAt', 200],
    ['activatedAt', 218],
    ['endRequestedAt', 223],
    ['endedAt', 260],
  ];
  for (const order of [history, [...history].reverse()]) {
    const facts = foldLegacy(order);
    expect(restartOf(facts)).toEqual({ endedAt: at(200), restartedAt: at(218) });
    expect(billablePeriod(facts)).toEqual({ start: at(53), end: at(223) });
    expect(statusAsOf(facts, at(268), 3600)).toEqual({ status: 'ending', since: at(223).toISOString() });
    expect(finalMeteringDeadline(facts, 3600)).toEqual(at(283));
  }
  // Facts stored before the recent ones were kept read as they did: the first subscription and the latest.
  const asStoredBefore = { ...foldLegacy(history), recentActivations: undefined, recentEndRequests: undefined };
  expect(restartOf(asStoredBefore)).toEqual({ endedAt: at(20), restartedAt: at(218) });
});

test("the first subscription's end, heard while the middle one was live, is not taken for the middle one's", () => {
  // 10:05 subscribed, 10:18 cancelled, 10:23 again; the first's unsubscribe-success at 11:18, an hour after its
  // request; the middle cancelled at 11:40, and again at 12:00. Usage of 11:30 was the middle subscription's.
  const history: (readonly [LifecycleFact, number])[] = [
    ['activatedAt', 5],
    ['endRequestedAt', 18],
    ['activatedAt', 23],
    ['endedAt', 78],
    ['endRequestedAt', 100],
    ['activatedAt', 120],
  ];
  for (const order of [history, [...history].reverse()]) {
    const facts = foldLegacy(order);
    expect(restartOf(facts)).toEqual({ endedAt: at(100), restartedAt: at(120) });
    expect(isInRestartGap(at(90), facts)).toBe(false);
    expect(isInRestartGap(at(110), facts)).toBe(true);
  }
});

test('facts stored before the recent ones were kept never begin keeping them: they would miss the older ones', () => {
  const storedBefore: LifecycleFacts = {
    resubscribable: true,
    startedAt: at(5).toISOString(),
    activatedAt: at(5).toISOString(),
    endRequestedAt: at(18).toISOString(),
    firstEndAt: at(18).toISOString(),
  };
  const later = fold(
    [
      ['activatedAt', 23],
      ['endRequestedAt', 100],
      ['activatedAt', 120],
    ],
    storedBefore,
  );
  expect(later.recentActivations).toBeUndefined();
  expect(later.recentEndRequests).toBeUndefined();
  // Read as before: the gap runs from the first end to the latest start.
  expect(restartOf(later)).toEqual({ endedAt: at(18), restartedAt: at(120) });
});
