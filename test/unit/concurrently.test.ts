import { expect, test } from 'vitest';
import {
  forEachConcurrently,
  mapConcurrently,
  prefetched,
  takeUntil,
} from '../../lambdas/core/metering/run/concurrently.ts';

/** A stream of `count` numbers that notes how many it has handed out. */
function counting(count: number) {
  const state = { taken: 0, closed: false };
  async function* stream() {
    await Promise.resolve();
    try {
      for (let index = 0; index < count; index++) {
        state.taken++;
        yield index;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, stream: stream() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('mapConcurrently keeps the order of the items, with at most `limit` tasks in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const results: number[] = [];
  for await (const value of mapConcurrently(counting(20).stream, 4, async (item) => {
    most = Math.max(most, ++inFlight);
    // Later items finish first: the order must come from the items, not from the tasks.
    await new Promise((resolve) => setTimeout(resolve, 20 - item));
    inFlight--;
    return item * 10;
  })) {
    results.push(value);
  }
  expect(results).toEqual(Array.from({ length: 20 }, (_, item) => item * 10));
  expect(most).toBe(4);
});

test('mapConcurrently takes no more items than it can have in flight while the consumer waits', async () => {
  const { state, stream } = counting(1000);
  const mapped = mapConcurrently(stream, 8, (item) => Promise.resolve(item));
  await mapped.next();
  await tick();
  expect(state.taken).toBeLessThanOrEqual(9);
  await mapped.return(undefined);
  expect(state.closed).toBe(true);
});

test('a failing task ends the stream with its error once the tasks in flight are done, and closes the source', async () => {
  const { state, stream } = counting(100);
  let finished = 0;
  const consume = async () => {
    for await (const item of mapConcurrently(stream, 4, async (value) => {
      await tick();
      if (value === 2) throw new Error('task 2 failed');
      finished++;
      return value;
    })) {
      expect(item).toBeLessThan(2);
    }
  };
  await expect(consume()).rejects.toThrow('task 2 failed');
  expect(state.closed).toBe(true);
  expect(finished).toBeGreaterThanOrEqual(3);
});

test('prefetched asks ahead while the consumer is busy, and no further', async () => {
  const { state, stream } = counting(100);
  const ahead = prefetched(stream, 5);
  expect((await ahead.next()).value).toBe(0);
  await tick();
  expect(state.taken).toBe(5);
  const rest: number[] = [];
  for await (const item of ahead) rest.push(item);
  expect(rest).toEqual(Array.from({ length: 99 }, (_, index) => index + 1));
});

test('takeUntil stops taking as soon as it is told to, and closes the source', async () => {
  const { state, stream } = counting(100);
  const taken: number[] = [];
  for await (const item of takeUntil(stream, () => taken.length >= 3)) taken.push(item);
  expect(taken).toEqual([0, 1, 2]);
  expect(state.closed).toBe(true);
});

test('forEachConcurrently works through a stream with at most `limit` tasks at once', async () => {
  let inFlight = 0;
  let most = 0;
  const seen: number[] = [];
  await forEachConcurrently(counting(30).stream, 5, async (item) => {
    most = Math.max(most, ++inFlight);
    await tick();
    seen.push(item);
    inFlight--;
  });
  expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, item) => item));
  expect(most).toBe(5);
});
