/**
 * An idle local stack says nothing: over simulated hours of metering, final-metering and sweep runs with nothing to do,
 * every log line the functions write is one that `npm start`'s default format prints as nothing. The functions' real
 * JSON lines are read off stdout as they are written; the test waits until enough runs have gone, not for a time.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { summarizedLine } from '../../local/log-format.ts';
import { useLocalStack } from '../support/local-stack.ts';

const RUNS = 5;
const local = useLocalStack({
  logLevel: 'INFO',
  meteringEveryMs: 100,
  finalMeteringEveryMs: 100,
  finalMeteringSweepEveryMs: 100,
});

const written: string[] = [];
const realWrite = process.stdout.write.bind(process.stdout);
beforeAll(() => {
  // Kept rather than shown: these are the lines npm start would print (or not).
  process.stdout.write = (chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string' && chunk.startsWith('{"level"')) {
      written.push(...chunk.split('\n').filter((line) => line !== ''));
      return true;
    }
    return (realWrite as (...args: unknown[]) => boolean)(chunk, ...rest);
  };
});
afterAll(() => {
  process.stdout.write = realWrite;
});

const runsOf = (message: string) =>
  written.filter((line) => (JSON.parse(line) as { message?: string }).message === message).length;

// Five waits of up to 30 s each for the runs of an hour: the test's limit must leave room for all of them.
test(
  `${RUNS} simulated hours of idle runs print nothing; the same lines in JSON are all there`,
  { timeout: 180_000 },
  async () => {
    for (let hour = 0; hour < RUNS; hour++) {
      const before = { metering: runsOf('Metering run finished'), final: runsOf('Final metering finished') };
      await local.control.advanceClock({ hours: 1 });
      await expect
        .poll(
          () => runsOf('Metering run finished') > before.metering && runsOf('Final metering finished') > before.final,
          {
            timeout: 30_000,
          },
        )
        .toBe(true);
    }
    expect(runsOf('Metering run finished')).toBeGreaterThanOrEqual(RUNS);
    expect(written.map(summarizedLine)).toEqual(written.map(() => undefined));
  },
);

test('a line about something that happened, or a warning, is one short human line', () => {
  const line = (record: Record<string, unknown>) =>
    JSON.stringify({ timestamp: '2026-11-26T12:34:56.789Z', service: 'metering', ...record });
  expect(
    summarizedLine(
      line({
        level: 'INFO',
        message: 'Metering run finished',
        summary: {
          due: 2,
          billed: 1,
          zeroUsage: 1,
          rejected: { CustomerNotSubscribed: 1 },
          pending: 0,
          handOver: false,
        },
      }),
    ),
  ).toBe(
    '12:34:56 metering: metering run finished: 2 due, 1 billed, 1 zero-usage, 1 rejected (rejected: 1 CustomerNotSubscribed)',
  );
  // Due buckets another run settled meanwhile are said, so that the counts add up to the due.
  expect(
    summarizedLine(
      line({ level: 'INFO', message: 'Metering run finished', summary: { due: 2, billed: 1, settledElsewhere: 1 } }),
    ),
  ).toBe('12:34:56 metering: metering run finished: 2 due, 1 billed, 1 settled by another run');
  expect(summarizedLine(line({ level: 'WARN', message: 'Usage left pending: not sent', records: 3 }))).toBe(
    '12:34:56 metering WARN: Usage left pending: not sent {"records":3}',
  );
  expect(summarizedLine('Local stack ready (Ctrl-C stops everything)')).toBe(
    'Local stack ready (Ctrl-C stops everything)',
  );
});
