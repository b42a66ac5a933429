import { expect, test } from 'vitest';
import { LATEST_CLOCK_MS, SimulatorClock } from '../../simulator/clock.ts';

function fakeMonotonic() {
  const time = { ms: 1_000 };
  return { time, read: () => time.ms };
}

test('a running clock moves with monotonic time from where it was set', () => {
  const monotonic = fakeMonotonic();
  const clock = new SimulatorClock(new Date('2026-01-01T00:00:00Z'), true, monotonic.read);
  monotonic.time.ms += 90_000;
  expect(clock.now().toISOString()).toBe('2026-01-01T00:01:30.000Z');
});

test('a frozen clock stands still until set or advanced', () => {
  const monotonic = fakeMonotonic();
  const clock = new SimulatorClock(new Date('2026-01-01T00:00:00Z'), false, monotonic.read);
  monotonic.time.ms += 90_000;
  expect(clock.now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
  clock.advance(3_600_000);
  expect(clock.state()).toEqual({ now: new Date('2026-01-01T01:00:00Z'), running: false });
});

test('setting the clock keeps it running or frozen unless told otherwise', () => {
  const monotonic = fakeMonotonic();
  const clock = new SimulatorClock(new Date('2026-01-01T00:00:00Z'), true, monotonic.read);
  clock.set(new Date('2026-06-01T00:00:00Z'));
  monotonic.time.ms += 1_000;
  expect(clock.now().toISOString()).toBe('2026-06-01T00:00:01.000Z');
  clock.set(new Date('2026-06-01T00:00:00Z'), false);
  monotonic.time.ms += 1_000;
  expect(clock.now().toISOString()).toBe('2026-06-01T00:00:00.000Z');
});

test('what a clock showed before it was set stays current five minutes of real time; since then, only now is', () => {
  const monotonic = fakeMonotonic();
  const clock = new SimulatorClock(new Date('2026-01-01T00:00:00Z'), true, monotonic.read);
  monotonic.time.ms += 2 * 3_600_000;
  const iso = (span: { earliest: Date; latest: Date }) => [span.earliest.toISOString(), span.latest.toISOString()];
  expect(clock.recentlyShown().map(iso)).toEqual([['2026-01-01T02:00:00.000Z', '2026-01-01T02:00:00.000Z']]);

  clock.set(new Date('2026-03-01T00:00:00Z'), false);
  monotonic.time.ms += 3 * 60_000;
  expect(clock.recentlyShown().map(iso)).toEqual([
    ['2026-01-01T01:58:00.000Z', '2026-01-01T02:00:00.000Z'],
    ['2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
  ]);
  monotonic.time.ms += 2 * 60_000 + 1;
  expect(clock.recentlyShown().map(iso)).toEqual([['2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']]);
});

test('a running clock that reaches the end of the year 9999 stands still there', () => {
  const monotonic = fakeMonotonic();
  const clock = new SimulatorClock(new Date('9999-12-31T23:59:59.000Z'), true, monotonic.read);
  monotonic.time.ms += 60_000;
  expect(clock.now().toISOString()).toBe('9999-12-31T23:59:59.999Z');
  expect(clock.now().getTime()).toBe(LATEST_CLOCK_MS);
});
