import fc from 'fast-check';
import { expect, test } from 'vitest';
import { RateLimiter } from '../../lambdas/core/metering/rate-limiter.ts';

/** A clock that moves only when someone sleeps on it, and a log of when each call went out. */
function virtualTime() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    sleeps,
    sleep: (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  };
}

test('the first call goes out at once; callers arriving together are spaced at the rate, in arrival order', async () => {
  const time = virtualTime();
  const limiter = new RateLimiter({ callsPerSecond: 10, now: time.now, sleep: time.sleep });

  await Promise.all(Array.from({ length: 5 }, () => limiter.acquire()));

  expect(time.sleeps).toEqual([100, 200, 300, 400]);
});

test('after a quiet spell a call goes out at once, and no more than the burst does', async () => {
  const time = virtualTime();
  const limiter = new RateLimiter({ callsPerSecond: 10, burst: 3, now: time.now, sleep: time.sleep });
  await limiter.acquire();
  time.advance(10_000);

  await Promise.all(Array.from({ length: 4 }, () => limiter.acquire()));

  expect(time.sleeps).toEqual([100]);
});

test('in no window of one second do more calls go out than the rate (burst 1)', async () => {
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
