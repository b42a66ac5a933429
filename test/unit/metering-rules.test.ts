/**
 * The metering run's small rules: which hours Marketplace still accepts, which subscribers owe a zero-usage record,
 * how long a retry waits, which index shards a run reads, and how its work runs side by side.
 */
import { describe, expect, test } from 'vitest';
import { expiryOf } from '../../lambdas/core/metering/bucket/acceptance-window.ts';
import { PENDING_SHARD_NAMES } from '../../lambdas/core/metering/run/bucket-ledger.ts';
import { forEachConcurrently } from '../../lambdas/core/metering/run/concurrently.ts';
import { LIVE_SHARD_NAMES } from '../../lambdas/core/metering/run/metering-subscribers.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY } from '../../lambdas/core/metering/run/retry-policy.ts';
import { bucketCoordinatesOf, bucketKey, pendingShardOf } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { subscribedDuring } from '../../lambdas/core/metering/run/zero-usage.ts';
import { liveShardOf } from '../../lambdas/core/table-keys.ts';

const at = (iso: string) => new Date(iso);

describe('the acceptance window', () => {
  test('an hour expires when its start is the window or more ago', () => {
    const hour = at('2026-11-17T12:00:00Z');
    expect(expiryOf(hour, at('2026-11-18T11:59:59Z'), 24)).toBeUndefined();
    expect(expiryOf(hour, at('2026-11-18T12:00:00Z'), 24)).toBe('acceptance-window-passed');
    expect(expiryOf(hour, at('2026-11-17T18:00:00Z'), 6)).toBe('acceptance-window-passed');
  });

  test('the previous month closes at 06:00 UTC on the 1st, even inside the window', () => {
    const lastHour = at('2026-11-30T23:00:00Z');
    expect(expiryOf(lastHour, at('2026-12-01T05:59:59Z'), 24)).toBeUndefined();
    expect(expiryOf(lastHour, at('2026-12-01T06:00:00Z'), 24)).toBe('month-closed');
    expect(expiryOf(at('2026-12-01T00:00:00Z'), at('2026-12-01T06:00:00Z'), 24)).toBeUndefined();
    // Across a year end too.
    expect(expiryOf(at('2026-12-31T22:00:00Z'), at('2027-01-01T07:00:00Z'), 24)).toBe('month-closed');
  });
});

describe('zero-usage records', () => {
  const hour = at('2026-11-18T11:00:00Z');

  test('are owed for an hour the subscription was live in, from the hour it started', () => {
    expect(subscribedDuring({ activatedAt: '2026-11-18T11:59:00.000Z' }, hour)).toBe(true);
    expect(subscribedDuring({ activatedAt: '2026-11-18T12:00:00.000Z' }, hour)).toBe(false);
    expect(subscribedDuring({}, hour)).toBe(false);
    // Started in the hour's last second: no record of that hour can be stamped after the start.
    expect(subscribedDuring({ activatedAt: '2026-11-18T11:59:59.000Z' }, hour)).toBe(false);
    expect(subscribedDuring({ activatedAt: '2026-11-18T11:59:58.900Z' }, hour)).toBe(true);
  });

  test('are owed for the hour an end was asked for in, not for hours after it', () => {
    const activatedAt = '2026-11-01T00:00:00.000Z';
    expect(subscribedDuring({ activatedAt, endRequestedAt: '2026-11-18T11:10:00.000Z' }, hour)).toBe(true);
    expect(subscribedDuring({ activatedAt, endRequestedAt: '2026-11-18T10:50:00.000Z' }, hour)).toBe(false);
    expect(subscribedDuring({ activatedAt, endedAt: '2026-11-18T11:10:00.000Z' }, hour)).toBe(false);
    expect(subscribedDuring({ activatedAt, failedAt: '2026-11-02T00:00:00.000Z' }, hour)).toBe(false);
  });
});

test('retry pauses grow, stay within their step, and stop growing at the ceiling', () => {
  const policy = DEFAULT_RETRY_POLICY;
  for (let retry = 1; retry <= 10; retry++) {
    const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
    expect(backoffDelay(retry, policy, () => 0)).toBe(step / 2);
    expect(backoffDelay(retry, policy, () => 0.999)).toBeLessThan(step);
  }
  expect(backoffDelay(10, policy, () => 1)).toBe(policy.maxDelayMs);
});

test('a run reads every shard a bucket or a live subscriber can be in', () => {
  for (let index = 0; index < 500; index++) {
    expect(PENDING_SHARD_NAMES).toContain(pendingShardOf(`license:subscriber-${index}`));
    expect(LIVE_SHARD_NAMES).toContain(liveShardOf(`license:subscriber-${index}`));
  }
});

describe('side by side', () => {
  test('at most the limit at a time, every item once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachConcurrently(
      Array.from({ length: 20 }, (_, index) => index),
      4,
      async (item) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 1));
        done.push(item);
        running--;
      },
    );
    expect(most).toBe(4);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, index) => index));
  });

  test('a failure starts nothing new and is thrown once the tasks running have finished', async () => {
    const finished: number[] = [];
    const failing = forEachConcurrently([0, 1, 2, 3, 4, 5], 2, async (item) => {
      if (item === 1) throw new Error('boom');
      await new Promise((resolve) => setTimeout(resolve, 5));
      finished.push(item);
    });
    await expect(failing).rejects.toThrow('boom');
    expect(finished).toEqual([0]);
  });
});

test("a bucket's key tells whose bucket it is, of which hour and dimension (the pending index holds keys only)", () => {
  const hour = new Date('2026-11-18T10:00:00.000Z');
  for (const [subscriberId, dimension] of [
    ['license:arn:aws:license-manager::123456789012:license:l-1', 'requests'],
    ['legacy:prod:a#b', 'gb#HOUR#2026-11-18T09:00:00.000Z#x'],
  ] as const) {
    expect(bucketCoordinatesOf(bucketKey(subscriberId, hour, dimension))).toEqual({ subscriberId, hour, dimension });
  }
  expect(bucketCoordinatesOf({ pk: 'EVENT#x', sk: 'EVENT' })).toBeUndefined();
  expect(bucketCoordinatesOf({ pk: 'USAGE#s', sk: 'HOUR#2026-11-18T10:30:00.000Z#d' })).toBeUndefined();
  expect(bucketCoordinatesOf({ pk: 'USAGE#s', sk: 'HOUR#2026-11-18T10:00:00.000Z#' })).toBeUndefined();
});
