import { expect, test, vi } from 'vitest';
import { clockCatchUp, MAX_CATCH_UP_MS } from '../../local/clock-catch-up.ts';

const at = (time: string) => new Date(`2026-12-05T${time}Z`);

/**
 * Plays a jump from `from` to `to` with final-metering windows closing at `deadlines`: answers what ran at which
 * instant of the clock (`name@HH:MM`).
 */
async function play(
  from: Date,
  to: Date,
  { deadlines = [] as readonly Date[], margin = 15, failing = undefined as string | undefined, withSaves = false } = {},
) {
  let clock = from;
  let savedAt: Date | undefined;
  const ran: string[] = [];
  const run = (name: string) => () => {
    ran.push(`${name}@${clock.toISOString().slice(11, 16)}`);
    return name === failing ? Promise.reject(new Error('down')) : Promise.resolve();
  };
  const handler = clockCatchUp({
    finalHourMarginMinutes: margin,
    scheduleMinute: 10,
    settle: () => {
      if (withSaves) ran.push(`settle@${clock.toISOString().slice(11, 16)}`);
      return Promise.resolve();
    },
    finalMeteringDeadlines: (after) => Promise.resolve(deadlines.filter((deadline) => deadline > after)),
    finalMetering: run('final-metering'),
    metering: run('metering'),
    closeFinalMeteringWindows: run('sweep'),
  });
  await handler(from, to, {
    at: (instant) => {
      clock = instant;
      return Promise.resolve();
    },
    // Once a stop, as the simulator's.
    saved: () => {
      if (withSaves && savedAt !== clock) ran.push(`saved@${clock.toISOString().slice(11, 16)}`);
      savedAt = clock;
      return Promise.resolve();
    },
  });
  return ran;
}

const finalMeteringTimes = (ran: readonly string[]) =>
  ran.filter((entry) => entry.startsWith('final-metering')).map((entry) => entry.slice(-5));

test('with nobody ending, a jump runs only the metering run, once an hour at its minute', async () => {
  expect(await play(at('12:52:30'), at('14:12:00'))).toEqual(['metering@13:10', 'metering@14:10']);
});

test('with a window ahead, it stops every 15 minutes and at the run minute, to see ends heard of on the way', async () => {
  const ran = await play(at('12:52:30'), at('14:12:00'), { deadlines: [at('16:00:00')] });
  expect(finalMeteringTimes(ran)).toEqual([
    '12:52',
    '13:00',
    '13:10',
    '13:15',
    '13:30',
    '13:45',
    '14:00',
    '14:10',
    // The move's end.
    '14:12',
  ]);
});

test('inside a final-metering window it stops every minute, from the send time to the deadline', async () => {
  const ran = await play(at('12:00:00'), at('13:30:00'), { deadlines: [at('13:07:30')] });
  const times = finalMeteringTimes(ran);
  expect(times.slice(times.indexOf('12:45'))).toEqual([
    '12:45',
    '12:52',
    '12:53',
    '12:54',
    '12:55',
    '12:56',
    '12:57',
    '12:58',
    '12:59',
    '13:00',
    '13:01',
    '13:02',
    '13:03',
    '13:04',
    '13:05',
    '13:06',
    '13:07',
  ]);
  // A window narrower than the regular stops is still seen: they are never further apart than the margin (and the
  // metering run's minute is a stop too).
  const narrow = await play(at('12:00:00'), at('12:30:00'), { deadlines: [at('12:20:00')], margin: 3 });
  expect(finalMeteringTimes(narrow)).toEqual([
    '12:00',
    '12:03',
    '12:06',
    '12:09',
    '12:10',
    '12:12',
    '12:15',
    '12:17',
    '12:18',
    '12:19',
  ]);
});

test('at each deadline it stops to end the subscription (the sweep), once', async () => {
  const ran = await play(at('12:00:00'), at('14:00:00'), { deadlines: [at('12:40:30'), at('13:20:00')] });
  // 12:40:30 and 13:20:00 themselves: the windows' last sends were a minute before.
  expect(ran.filter((entry) => entry.startsWith('sweep'))).toEqual(['sweep@12:40', 'sweep@13:20']);
  // A jump that ends before a deadline ends nobody.
  expect(await play(at('12:00:00'), at('12:40:00'), { deadlines: [at('12:40:30')] })).not.toContainEqual(
    expect.stringMatching(/^sweep/),
  );
});

test('a move that ends on a scheduled instant runs it there, before answering; the next move does not meter again', async () => {
  // An hour at a time from the run's minute: each move's end is the next run.
  const hourly = [];
  for (let hour = 12; hour < 16; hour++) {
    hourly.push(...(await play(at(`${hour}:10:00`), at(`${hour + 1}:10:00`))));
  }
  expect(hourly).toEqual(['metering@13:10', 'metering@14:10', 'metering@15:10', 'metering@16:10']);
  // To a window's send time (its deadline less the margin), then to its deadline.
  const deadlines = [at('13:20:00')];
  expect(finalMeteringTimes(await play(at('12:50:00'), at('13:05:00'), { deadlines }))).toContain('13:05');
  expect(await play(at('13:19:00'), at('13:20:00'), { deadlines })).toContain('sweep@13:20');
  // A move of no time runs nothing.
  expect(await play(at('13:10:00'), at('13:10:00'))).toEqual([]);
});

test('a stop is saved before a run there, and only then (a stop with nothing to run writes nothing)', async () => {
  const withoutSettles = (ran: readonly string[]) => ran.filter((entry) => !entry.startsWith('settle'));
  const hourly = await play(at('12:52:30'), at('14:12:00'), { withSaves: true });
  expect(withoutSettles(hourly)).toEqual(['saved@13:10', 'metering@13:10', 'saved@14:10', 'metering@14:10']);
  // Saved before the notifications due there are handled, too, when a run is known to follow.
  expect(hourly.filter((entry) => entry.endsWith('@13:10'))).toEqual(['saved@13:10', 'settle@13:10', 'metering@13:10']);
  const ran = withoutSettles(
    await play(at('12:50:00'), at('13:00:00'), { deadlines: [at('12:58:30')], withSaves: true }),
  );
  expect(ran.slice(0, 4)).toEqual(['saved@12:50', 'final-metering@12:50', 'saved@12:51', 'final-metering@12:51']);
  expect(ran.slice(-2)).toEqual(['saved@12:58', 'sweep@12:58']);
});

test('a failing run is logged and the catch-up goes on', async () => {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const ran = await play(at('12:00:00'), at('12:20:00'), { deadlines: [at('14:00:00')], failing: 'final-metering' });
    expect(ran).toEqual([
      'final-metering@12:00',
      'final-metering@12:10',
      'metering@12:10',
      'final-metering@12:15',
      'final-metering@12:20',
    ]);
    expect(logged).toHaveBeenCalledTimes(4);
    expect(String(logged.mock.calls[0]?.[0])).toBe('clock catch-up: final-metering failed at 2026-12-05T12:00:00.000Z');
  } finally {
    logged.mockRestore();
  }
});

test('the catch-up covers a week at most', async () => {
  const from = at('12:00:00');
  const ran = await play(from, new Date(from.getTime() + 30 * 86_400_000));
  expect(ran).toHaveLength(MAX_CATCH_UP_MS / 3_600_000);
});
