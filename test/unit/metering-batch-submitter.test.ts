/**
 * The batch submitter against a scripted Marketplace: bisection of whole-batch rejections, re-sending of unprocessed
 * records, bounded retries, and a caller Marketplace refuses.
 */
import {
  InternalServiceErrorException,
  InvalidUsageDimensionException,
  MarketplaceMeteringServiceException,
  ThrottlingException,
  TimestampOutOfBoundsException,
  type BatchMeterUsageRequest,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BatchSubmitter, type MeteringCall } from '../../lambdas/core/metering/run/batch-submitter.ts';
import { RateLimiter } from '../../lambdas/core/metering/run/rate-limiter.ts';
import { DEFAULT_RETRY_POLICY } from '../../lambdas/core/metering/run/retry-policy.ts';

const hour = new Date('2026-11-18T10:00:00Z');

function records(count: number): UsageRecord[] {
  return Array.from({ length: count }, (_, index) => ({
    LicenseArn: `arn:aws:license-manager::123456789012:license:l-${String(index).padStart(32, '0')}`,
    CustomerAWSAccountId: '123456789012',
    Dimension: 'users',
    Timestamp: hour,
    Quantity: index,
  }));
}

const metadata = (requestId: string) => ({ $metadata: { httpStatusCode: 200, requestId } });
const metadataOf = (status: number) => ({ $metadata: { httpStatusCode: status, requestId: `failed-${status}` } });
const success = (sent: BatchMeterUsageRequest, requestId = 'request') => ({
  Results: (sent.UsageRecords ?? []).map((record) => ({
    UsageRecord: { ...record, Timestamp: new Date(record.Timestamp!) },
    MeteringRecordId: `id-${record.Quantity}`,
    Status: 'Success' as const,
  })),
  UnprocessedRecords: [],
  ...metadata(requestId),
});

/** A Marketplace scripted call by call; it answers `Success` to every record once the script runs out. */
function scripted(...script: ((sent: BatchMeterUsageRequest) => Awaited<ReturnType<MeteringCall>>)[]) {
  const calls: BatchMeterUsageRequest[] = [];
  const call: MeteringCall = (sent) => {
    calls.push(sent);
    const next = script.shift();
    try {
      return Promise.resolve(next === undefined ? success(sent) : next(sent));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
  return { call, calls };
}

function submitter(call: MeteringCall, options: { maxAttempts?: number } = {}) {
  const pauses: number[] = [];
  const sleep = (ms: number) => {
    pauses.push(ms);
    return Promise.resolve();
  };
  return {
    pauses,
    submitter: new BatchSubmitter({
      call,
      limiter: new RateLimiter({ callsPerSecond: 1_000_000, sleep }),
      sleep,
      policy: { ...DEFAULT_RETRY_POLICY, ...options },
      random: () => 0.5,
    }),
  };
}

const throwing = (error: Error) => () => {
  throw error;
};

describe('bisection', () => {
  /** Refuses any batch holding one of the bad records, as Marketplace refuses a batch with an unknown dimension. */
  const refusing = (bad: ReadonlySet<number>) => {
    const calls: number[][] = [];
    const call: MeteringCall = (sent) => {
      const quantities = (sent.UsageRecords ?? []).map((record) => record.Quantity!);
      calls.push(quantities);
      if (quantities.some((quantity) => bad.has(quantity))) {
        return Promise.reject(new InvalidUsageDimensionException({ message: 'bad', ...metadataOf(400) }));
      }
      return Promise.resolve(success(sent));
    };
    return { call, calls };
  };

  test('halves a refused batch until the bad record is alone', async () => {
    const { call, calls } = refusing(new Set([5]));

    const outcomes = await submitter(call).submitter.submit(undefined, records(8));

    expect(calls).toEqual([[0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5], [4], [5], [6, 7]]);
    expect(outcomes[5]).toEqual({
      kind: 'rejected',
      reason: 'InvalidUsageDimensionException',
      requestId: 'failed-400',
      answerLost: false,
    });
    for (const index of [0, 1, 2, 3, 4, 6, 7])
      expect(outcomes[index]).toMatchObject({ kind: 'billed', meteringRecordId: `id-${index}` });
  });

  test('any set of bad records: exactly they are rejected, every other one billed, in at most 2n - 1 calls', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 25 })
          .chain((count) =>
            fc.tuple(fc.constant(count), fc.uniqueArray(fc.integer({ min: 0, max: count - 1 }), { maxLength: count })),
          ),
        async ([count, badIndexes]) => {
          const bad = new Set(badIndexes);
          const { call, calls } = refusing(bad);
          const outcomes = await submitter(call).submitter.submit(undefined, records(count));
          outcomes.forEach((outcome, index) => expect(outcome.kind).toBe(bad.has(index) ? 'rejected' : 'billed'));
          expect(calls.length).toBeLessThanOrEqual(2 * count - 1);
          // No record is sent again once it has an answer.
          const billedSends = calls.filter((sent) => !sent.some((quantity) => bad.has(quantity))).flat();
          expect(new Set(billedSends).size).toBe(billedSends.length);
        },
      ),
    );
  });

  test('only the unanswered records are bisected when the refusal comes on a re-send', async () => {
    const { call, calls } = scripted(
      (sent) => ({
        ...success({ UsageRecords: sent.UsageRecords!.slice(0, 2) }),
        UnprocessedRecords: sent.UsageRecords!.slice(2),
      }),
      throwing(
        new MarketplaceMeteringServiceException({ name: 'ValidationException', $fault: 'client', ...metadataOf(400) }),
      ),
    );

    const outcomes = await submitter(call).submitter.submit(undefined, records(4));

    expect(calls.map((sent) => sent.UsageRecords!.map((record) => record.Quantity))).toEqual([
      [0, 1, 2, 3],
      [2, 3],
      [2],
      [3],
    ]);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['billed', 'billed', 'billed', 'billed']);
  });
});

describe('retries', () => {
  test('throttling and 5xx are retried after growing, jittered pauses, and counted', async () => {
    const { call } = scripted(
      throwing(new ThrottlingException({ message: 'slow down', ...metadataOf(400) })),
      throwing(new InternalServiceErrorException({ message: 'oops', ...metadataOf(500) })),
      throwing(new Error('socket hang up')),
    );
    const { submitter: sending, pauses } = submitter(call);

    const outcomes = await sending.submit(undefined, records(3));

    expect(outcomes.every((outcome) => outcome.kind === 'billed')).toBe(true);
    expect(pauses).toEqual([150, 300, 600]);
    expect(sending.counters).toMatchObject({ calls: 4, retries: 3, throttles: 1 });
    expect([...sending.counters.requestIds].sort()).toEqual(['failed-400', 'failed-500', 'request']);
  });

  test('UnprocessedRecords are sent again, and only they', async () => {
    const { call, calls } = scripted((sent) => ({
      ...success({ UsageRecords: [sent.UsageRecords![1]!] }),
      UnprocessedRecords: [sent.UsageRecords![0]!, sent.UsageRecords![2]!],
    }));

    const outcomes = await submitter(call).submitter.submit(undefined, records(3));

    expect(calls.map((sent) => sent.UsageRecords!.map((record) => record.Quantity))).toEqual([
      [0, 1, 2],
      [0, 2],
    ]);
    expect(outcomes.every((outcome) => outcome.kind === 'billed')).toBe(true);
  });

  test('per-record answers are kept: CustomerNotSubscribed and DuplicateRecord are rejections with the request id', async () => {
    const { call } = scripted((sent) => ({
      Results: sent.UsageRecords!.map((record, index) => ({
        UsageRecord: record,
        Status: (['Success', 'CustomerNotSubscribed', 'DuplicateRecord'] as const)[index]!,
        ...(index === 0 ? { MeteringRecordId: 'id-0' } : {}),
      })),
      ...metadata('answer'),
    }));

    expect(await submitter(call).submitter.submit('legacy-product', records(3))).toEqual([
      { kind: 'billed', meteringRecordId: 'id-0', requestId: 'answer' },
      { kind: 'rejected', reason: 'CustomerNotSubscribed', requestId: 'answer', answerLost: false },
      { kind: 'rejected', reason: 'DuplicateRecord', requestId: 'answer', answerLost: false },
    ]);
  });

  test('when the attempts run out, the records are reported unsent with the last failure', async () => {
    const failing = throwing(new InternalServiceErrorException({ message: 'down', ...metadataOf(500) }));
    const { call, calls } = scripted(failing, failing, failing);

    const outcomes = await submitter(call, { maxAttempts: 3 }).submitter.submit(undefined, records(2));

    expect(calls).toHaveLength(3);
    expect(outcomes).toEqual([
      { kind: 'unsent', reason: 'InternalServiceErrorException', answerLost: true },
      { kind: 'unsent', reason: 'InternalServiceErrorException', answerLost: true },
    ]);
  });

  test('an extension retries past the usual attempts while it allows each retry, given the pause before it', async () => {
    const failing = throwing(new InternalServiceErrorException({ message: 'down', ...metadataOf(500) }));
    const extension = (allowed: number) => {
      const asked: number[] = [];
      return {
        asked,
        policy: { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 },
        mayRetry: (pauseMs: number) => asked.push(pauseMs) <= allowed,
      };
    };

    // Allowed twice past the usual three attempts: five calls, then unsent; asked once more, with the pause it would take.
    const twice = extension(2);
    const { call, calls } = scripted(...Array.from({ length: 10 }, () => failing));
    const outcomes = await submitter(call, { maxAttempts: 3 }).submitter.submit(undefined, records(1), twice);
    expect(calls).toHaveLength(5);
    expect(twice.asked).toEqual([300, 600, 750]); // three quarters of 400, 800 and 1,000 (the cap): random() is 0.5
    expect(outcomes).toEqual([{ kind: 'unsent', reason: 'InternalServiceErrorException', answerLost: true }]);

    // Never allowed: the usual three attempts all the same, not fewer.
    const never = extension(0);
    const again = scripted(...Array.from({ length: 10 }, () => failing));
    await submitter(again.call, { maxAttempts: 3 }).submitter.submit(undefined, records(1), never);
    expect(again.calls).toHaveLength(3);

    // Allowed all along: the extension's attempts, and it goes through once Marketplace answers.
    const always = scripted(failing, failing, failing, failing);
    const billed = await submitter(always.call, { maxAttempts: 3 }).submitter.submit(
      undefined,
      records(1),
      extension(9),
    );
    expect(always.calls).toHaveLength(5);
    expect(billed[0]).toMatchObject({ kind: 'billed' });
  });

  test('a caller Marketplace refuses is neither bisected nor retried, and nothing more is sent', async () => {
    const { call, calls } = scripted(
      throwing(
        new MarketplaceMeteringServiceException({ name: 'DisabledApiException', $fault: 'client', ...metadataOf(400) }),
      ),
    );
    const { submitter: sending } = submitter(call);

    const first = await sending.submit(undefined, records(4));
    const second = await sending.submit(undefined, records(2));

    expect(calls).toHaveLength(1);
    // Refused, so nothing was processed: no answer was lost, nothing may have been billed.
    expect([...first, ...second]).toEqual(
      Array.from({ length: 6 }, () => ({ kind: 'unsent', reason: 'DisabledApiException', answerLost: false })),
    );
  });

  test('records left unsent say whether a send of theirs went unanswered: only then may Marketplace have billed them', async () => {
    const throttled = throwing(new ThrottlingException({ message: 'slow down', ...metadataOf(400) }));
    const dropped = throwing(new Error('socket hang up'));
    const onlyThrottled = scripted(throttled, throttled, throttled);
    expect(await submitter(onlyThrottled.call, { maxAttempts: 3 }).submitter.submit(undefined, records(1))).toEqual([
      { kind: 'unsent', reason: 'ThrottlingException', answerLost: false },
    ]);
    const droppedThenThrottled = scripted(dropped, throttled, throttled);
    expect(
      await submitter(droppedThenThrottled.call, { maxAttempts: 3 }).submitter.submit(undefined, records(1)),
    ).toEqual([{ kind: 'unsent', reason: 'ThrottlingException', answerLost: true }]);
    // Unanswered, then refused whole: the halves the batch is split into still may have been billed.
    const refused = throwing(new TimestampOutOfBoundsException({ message: 'too old', ...metadataOf(400) }));
    const droppedThenSplit = scripted(dropped, refused, ...Array.from({ length: 6 }, () => throttled));
    expect(await submitter(droppedThenSplit.call, { maxAttempts: 3 }).submitter.submit(undefined, records(2))).toEqual(
      Array.from({ length: 2 }, () => ({ kind: 'unsent', reason: 'ThrottlingException', answerLost: true })),
    );
  });

  test('a record refused after a send of it went unanswered says so: Marketplace may have billed the first send', async () => {
    const dropped = throwing(new Error('socket hang up'));
    const notSubscribed = (sent: BatchMeterUsageRequest) => ({
      Results: sent.UsageRecords!.map((record) => ({ UsageRecord: record, Status: 'CustomerNotSubscribed' as const })),
      ...metadata('answer'),
    });
    const refusedPerRecord = scripted(dropped, notSubscribed);
    expect(await submitter(refusedPerRecord.call).submitter.submit('legacy-product', records(1))).toEqual([
      { kind: 'rejected', reason: 'CustomerNotSubscribed', requestId: 'answer', answerLost: true },
    ]);
    const refusedWhole = scripted(
      dropped,
      throwing(new TimestampOutOfBoundsException({ message: 'too old', ...metadataOf(400) })),
    );
    expect(await submitter(refusedWhole.call).submitter.submit(undefined, records(1))).toEqual([
      { kind: 'rejected', reason: 'TimestampOutOfBoundsException', requestId: 'failed-400', answerLost: true },
    ]);
  });

  test('a legacy call carries its product code; a license call none', async () => {
    const { call, calls } = scripted();
    const { submitter: sending } = submitter(call);
    await sending.submit('legacy-product', records(1));
    await sending.submit(undefined, records(1));
    expect(calls[0]).toHaveProperty('ProductCode', 'legacy-product');
    expect(calls[1]).not.toHaveProperty('ProductCode');
  });
});
