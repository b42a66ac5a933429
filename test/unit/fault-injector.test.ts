import { expect, test } from 'vitest';
import { FaultInjector, faultPlanSchema } from '../../simulator/faults.ts';

const injector = (plan: unknown, monotonic?: () => number) => new FaultInjector(faultPlanSchema.parse(plan), monotonic);

test('a TPS limit counts the requests of the last second, per operation', () => {
  const now = { ms: 0 };
  const faults = injector({ tpsLimits: { BatchMeterUsage: 2 } }, () => now.ms);
  const throttled = () => faults.decide('BatchMeterUsage').throttle;
  expect([throttled(), throttled(), throttled()]).toEqual([false, false, true]);
  expect(faults.decide('ResolveCustomer').throttle).toBe(false);
  now.ms = 999;
  expect(throttled()).toBe(true);
  now.ms = 1_000;
  expect([throttled(), throttled(), throttled()]).toEqual([false, false, true]);
});

test('throttled requests do not count against the limit', () => {
  const now = { ms: 0 };
  const faults = injector({ tpsLimits: { MeterUsage: 1 } }, () => now.ms);
  faults.decide('MeterUsage');
  for (let call = 0; call < 10; call++) faults.decide('MeterUsage');
  now.ms = 1_000;
  expect(faults.decide('MeterUsage').throttle).toBe(false);
});

test('the seed alone decides which requests a probabilistic rule hits', () => {
  const pattern = (seed: number) => {
    const faults = injector({ seed, rules: [{ kind: 'internal-error', probability: 0.3 }] });
    return Array.from({ length: 50 }, () => faults.decide('GetEntitlements').internalError);
  };
  expect(pattern(11)).toEqual(pattern(11));
  expect(pattern(11)).not.toEqual(pattern(12));
});

test('faults combine: latency adds up, the largest unprocessed fraction wins', () => {
  const faults = injector({
    rules: [
      { kind: 'latency', latencyMs: 100 },
      { kind: 'latency', latencyMs: 50 },
      { kind: 'unprocessed', fraction: 0.2 },
      { kind: 'unprocessed', fraction: 0.5 },
    ],
  });
  expect(faults.decide('BatchMeterUsage')).toEqual(
    expect.objectContaining({ latencyMs: 150, unprocessedFraction: 0.5, throttle: false, drop: undefined }),
  );
});
