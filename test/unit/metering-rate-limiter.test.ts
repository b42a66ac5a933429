import fc from 'fast-check';
import { expect, test } from 'vitest';
import { RateLimiter } from '../../lambdas/core/metering/run/rate-limiter.ts';

/**
 * Virtual time: `sleep` resolves when `run` moves the clock to its deadline (plus `lateBy`, for timers that fire late on
 * a busy event loop), the earliest timer first. `run` drives callers until every one has gone out.
 */
function virtualTime() {
  let now = 0;
  let lateBy = 0;
  const timers: { at: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    set lateBy(ms: number) {
      lateBy = ms;
    },
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        timers.push({ at: now + ms + lateBy, resolve });
      }),
    async run<T>(work: Promise<T>): Promise<T> {
      let settled = false;
      const result = work.finally(() => {
        settled = true;
      });
      while (!settled) {
        // Let every caller that can run do so before time moves.
        for (let turn = 0; turn < 10; turn++) await Promise.resolve();
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift();
        if (next === undefined) continue;
        now = Math.max(now, next.at);
        next.resolve();
      }
      return result;
    },
  };
}

/** `count` callers arriving together, each noting when it went out. */
async function releases(limiter: RateLimiter, time: ReturnType<typeof virtualTime>, count: number) {
  const wentOut: number[] = [];
  await time.run(
    Promise.all(
      Array.from({ length: count }, async (_, index) => {
        await limiter.acquire();
        wentOut[index] = time.now();
      }),
    ),
  );
  return wentOut;
}

test('the first call goes out at once; callers arriving together are spaced at the rate, in arrival order', async () => {
  const time = virtualTime();
  const limiter = new RateLimiter({ callsPerSecond: 10, now: time.now, sleep: time.sleep });
  expect(await releases(limiter, time, 5)).toEqual([0, 100, 200, 300, 400]);
});

test('timers that fire late never let calls out closer together than the interval', async () => {
  const time = virtualTime();
  time.lateBy = 250;
  const limiter = new RateLimiter({ callsPerSecond: 10, now: time.now, sleep: time.sleep });
  const wentOut = await releases(limiter, time, 8);
  for (let index = 1; index < wentOut.length; index++) {
    expect(wentOut[index]! - wentOut[index - 1]!).toBeGreaterThanOrEqual(100);
  }
});

test('a throttle slows it by a tenth, down to half the rate; calls that go through bring it back', () => {
  const limiter = new RateLimiter({ callsPerSecond: 10 });
  limiter.throttled();
  expect(limiter.callsPerSecond).toBeCloseTo(9);
  for (let count = 0; count < 20; count++) limiter.throttled();
  expect(limiter.callsPerSecond).toBeCloseTo(5);
  for (let count = 0; count < 200; count++) limiter.succeeded();
  expect(limiter.callsPerSecond).toBeCloseTo(10);
});

test('in no window of one second do more calls go out than the rate', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 60 }),
      async (callsPerSecond, gaps) => {
        let now = 0;
        const sentAt: number[] = [];
        const limiter = new RateLimiter({
          callsPerSecond,
          now: () => now,
          sleep: (ms) => {
            now += ms;
            return Promise.resolve();
          },
        });
        for (const gap of gaps) {
          now += gap;
          await limiter.acquire();
          sentAt.push(now);
        }
        for (const start of sentAt) {
          const inWindow = sentAt.filter((at) => at >= start && at < start + 1000 - 1e-6).length;
          expect(inWindow).toBeLessThanOrEqual(callsPerSecond);
        }
      },
    ),
  );
});

test('a rate that is not positive is refused', () => {
  expect(() => new RateLimiter({ callsPerSecond: 0 })).toThrow(RangeError);
});
