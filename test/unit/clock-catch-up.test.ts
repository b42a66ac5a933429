import { expect, test, vi } from 'vitest';
import { clockCatchUp, MAX_CATCH_UP_MS } from '../../local/clock-catch-up.ts';

const at = (time: string) => new Date(`2026-12-05T${time}Z`);

/** Plays a jump from `from` to `to`, answering what ran at which instant of the clock. */
async function play(from: Date, to: Date, margin = 15, failing?: 'final-metering' | 'metering') {
  let clock = from;
  const ran: string[] = [];
  const run = (name: string) => () => {
    ran.push(`${name}@${clock.toISOString().slice(11, 16)}`);
    return name === failing ? Promise.reject(new Error('down')) : Promise.resolve();
  };
  const handler = clockCatchUp({
    finalHourMarginMinutes: margin,
    scheduleMinute: 10,
    settle: () => Promise.resolve(),
    finalMetering: run('final-metering'),
    metering: run('metering'),
  });
  await handler(from, to, (instant) => (clock = instant));
  return ran;
}

test('a jump stops every 5 minutes for final metering, and once an hour at the run minute for the metering run', async () => {
  const ran = await play(at('12:52:30'), at('14:12:00'));
  const finals = ran.filter((entry) => entry.startsWith('final-metering')).map((entry) => entry.slice(-5));
  expect(finals[0]).toBe('12:52');
  expect(finals.slice(1, 4)).toEqual(['12:55', '13:00', '13:05']);
  expect(finals.at(-1)).toBe('14:10');
  expect(ran.filter((entry) => entry.startsWith('metering@'))).toEqual(['metering@13:10', 'metering@14:10']);
});

test('the stops are at most the final hour margin apart, so one falls between a send time and its deadline', async () => {
  const ran = await play(at('12:00:00'), at('12:10:00'), 3);
  expect(ran).toEqual(['final-metering@12:00', 'final-metering@12:03', 'final-metering@12:06', 'final-metering@12:09']);
});

test('a failing run is logged and the catch-up goes on', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const ran = await play(at('12:00:00'), at('12:20:00'), 15, 'final-metering');
    expect(ran).toHaveLength(5);
    expect(logged).toHaveBeenCalledTimes(4);
    expect(String(logged.mock.calls[0]?.[0])).toBe('clock catch-up: final-metering failed at 2026-12-05T12:00:00.000Z');
  } finally {
    logged.mockRestore();
  }
});

test('the catch-up covers a week at most', async () => {
  const from = at('12:00:00');
  const ran = await play(from, new Date(from.getTime() + 30 * 86_400_000));
  expect(ran.filter((entry) => entry.startsWith('metering@'))).toHaveLength(MAX_CATCH_UP_MS / 3_600_000);
});
