/**
 * The usage report's sums, from items shaped as the recorder and the metering run leave them: where each state's
 * units are counted, rows per subscriber, dimension and UTC day, the request ids, the balance of every row and of the
 * totals, and each anomaly shown in its row (unbalancing it) instead of being filed under a column.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import {
  allocationAttributes,
  bucketKey,
  pendingShardOf,
  type BucketState,
} from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { usageReport, UsageReportOptionsError } from '../../lambdas/core/metering/report/usage-report.ts';
import { UsageTally, type UsageReport } from '../../lambdas/core/metering/report/usage-report-tally.ts';

const FIRST = new Date('2026-11-17T00:00:00.000Z');
const END = new Date('2026-11-19T00:00:00.000Z');
const ALICE = 'license:arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';
const BOB = 'legacy:prod-legacy:customer-bob';

interface BucketSpec {
  readonly subscriberId?: string;
  readonly dimension?: string;
  readonly hour: string;
  readonly quantity: number;
  readonly state: BucketState;
  readonly reason?: string;
  readonly requestId?: string;
  readonly frozenAt?: string;
  readonly unconfirmedSend?: true;
}

/** A bucket item as the run leaves it in `state`: in the `pending` index while unsettled, out of it once settled. */
function bucket(spec: BucketSpec): Record<string, unknown> {
  const { subscriberId = ALICE, dimension = 'users', hour, quantity, state, reason, requestId, unconfirmedSend } = spec;
  const { frozenAt = '2026-11-18T12:30:00.000Z' } = spec;
  const unsettled = state === 'open' || state === 'frozen';
  return {
    ...bucketKey(subscriberId, new Date(hour), dimension),
    subscriberId,
    dimension,
    hour,
    quantity,
    state,
    ...(state === 'open' ? {} : { frozenAt }),
    ...(unconfirmedSend === undefined ? {} : { unconfirmedSend }),
    ...(unsettled ? { pendingShard: pendingShardOf(subscriberId), pendingHour: hour } : {}),
    ...(reason === undefined ? {} : { reason }),
    ...(requestId === undefined ? {} : { requestId }),
  };
}

function reportOf(items: readonly Record<string, unknown>[]): UsageReport {
  const tally = new UsageTally(FIRST, END);
  for (const item of items) tally.add(item);
  return tally.report();
}

const figures = {
  buckets: 0,
  recorded: 0,
  billed: 0,
  rejected: {},
  pending: 0,
  expired: 0,
  unconfirmed: 0,
  unaccounted: 0,
};

describe('what each bucket counts as', () => {
  test('units go to the column of their state; rejected ones by reason; every row and the totals balance', () => {
    const report = reportOf([
      bucket({ hour: '2026-11-18T09:00:00.000Z', quantity: 5, state: 'billed', requestId: 'r-2' }),
      bucket({ hour: '2026-11-18T10:00:00.000Z', quantity: 2, state: 'rejected', reason: 'DuplicateRecord' }),
      bucket({
        hour: '2026-11-18T11:00:00.000Z',
        quantity: 3,
        state: 'rejected',
        reason: 'CustomerNotSubscribed',
        requestId: 'r-1',
      }),
      bucket({ hour: '2026-11-18T12:00:00.000Z', quantity: 4, state: 'open' }),
      bucket({ hour: '2026-11-18T08:00:00.000Z', quantity: 6, state: 'frozen' }),
      bucket({ hour: '2026-11-18T01:00:00.000Z', quantity: 7, state: 'expired', reason: 'acceptance-window-passed' }),
      bucket({ hour: '2026-11-18T02:00:00.000Z', quantity: 0, state: 'billed', requestId: 'r-2' }),
      bucket({
        hour: '2026-11-18T03:00:00.000Z',
        quantity: 8,
        state: 'expired',
        reason: 'final-window-passed',
        frozenAt: '2026-11-18T03:55:00.000Z',
        unconfirmedSend: true,
      }),
    ]);

    const expected = {
      buckets: 8,
      recorded: 35,
      billed: 5,
      rejected: { CustomerNotSubscribed: 3, DuplicateRecord: 2 },
      pending: 10,
      expired: 15,
      unconfirmed: 8,
      unaccounted: 0,
      balanced: true,
    };
    expect(report.rows).toEqual([
      {
        subscriberId: ALICE,
        dimension: 'users',
        day: '2026-11-18',
        ...expected,
        requestIds: ['r-1', 'r-2'],
        anomalies: 0,
      },
    ]);
    expect(report.totals).toEqual(expected);
    expect(report).toMatchObject({
      from: '2026-11-17',
      to: '2026-11-18',
      requestIds: ['r-1', 'r-2'],
      anomalies: [],
      reconciled: true,
    });
    expect(report.unconfirmedSends).toEqual([
      {
        key: expect.objectContaining({ pk: expect.stringContaining(ALICE) as unknown }) as unknown,
        subscriberId: ALICE,
        dimension: 'users',
        hour: '2026-11-18T03:00:00.000Z',
        quantity: 8,
        outcome: 'expired',
        frozenAt: '2026-11-18T03:55:00.000Z',
      },
    ]);
  });

  test('rows are per subscriber, dimension and UTC day of the hour, sorted; hours outside the days are left out', () => {
    const report = reportOf([
      bucket({ subscriberId: BOB, hour: '2026-11-17T23:00:00.000Z', quantity: 1, state: 'billed', requestId: 'b' }),
      bucket({ hour: '2026-11-18T00:00:00.000Z', quantity: 2, state: 'billed', requestId: 'a' }),
      bucket({ hour: '2026-11-17T23:00:00.000Z', quantity: 3, state: 'billed', requestId: 'a' }),
      bucket({ dimension: 'gb', hour: '2026-11-17T00:00:00.000Z', quantity: 4, state: 'open' }),
      // The read's range ends with the first hour after the report, included: only the tally leaves it out.
      bucket({ dimension: '', hour: '2026-11-19T00:00:00.000Z', quantity: 50, state: 'open' }),
      bucket({ hour: '2026-11-16T23:00:00.000Z', quantity: 60, state: 'open' }),
    ]);

    expect(report.rows.map((row) => [row.subscriberId, row.dimension, row.day, row.recorded, row.requestIds])).toEqual([
      [BOB, 'users', '2026-11-17', 1, ['b']],
      [ALICE, 'gb', '2026-11-17', 4, []],
      [ALICE, 'users', '2026-11-17', 3, ['a']],
      [ALICE, 'users', '2026-11-18', 2, ['a']],
    ]);
    expect(report.totals).toMatchObject({ buckets: 4, recorded: 10, billed: 6, pending: 4 });
    expect(report.requestIds).toEqual(['a', 'b']);
  });

  test('no buckets: no rows, zero totals, reconciled', () => {
    expect(reportOf([])).toEqual({
      from: '2026-11-17',
      to: '2026-11-18',
      rows: [],
      totals: { ...figures, balanced: true },
      requestIds: [],
      anomalies: [],
      unconfirmedSends: [],
      reconciled: true,
    });
  });
});

describe('anomalies', () => {
  const hour = '2026-11-18T10:00:00.000Z';
  const billed = bucket({ hour: '2026-11-18T09:00:00.000Z', quantity: 5, state: 'billed', requestId: 'r-1' });
  const tags = { team: 'a' };

  test.each([
    ['an unknown state', { ...bucket({ hour, quantity: 3, state: 'billed' }), state: 'lost' }, 3, /state "lost"/],
    [
      'a quantity that is not a number (a bucket the run rejected as malformed)',
      { ...bucket({ hour, quantity: 0, state: 'rejected', reason: 'malformed-bucket' }), quantity: 'lots' },
      0,
      /not a bucket the metering run can read \(state "rejected", reason "malformed-bucket", quantity "lots"\)/,
    ],
    ['a negative quantity', bucket({ hour, quantity: -2, state: 'billed' }), -2, /quantity -2 is not a whole/],
    ['a fractional quantity', bucket({ hour, quantity: 1.5, state: 'billed' }), 1.5, /quantity 1.5 is not a whole/],
    [
      'tagged allocations over the quantity',
      {
        ...bucket({ hour, quantity: 2, state: 'billed' }),
        [allocationAttributes(tags).quantity]: 3,
        [allocationAttributes(tags).tags]: tags,
      },
      2,
      /allocations add up to 3, more than its quantity 2/,
    ],
    [
      'an unsettled bucket missing from the pending index',
      (({ pendingShard: _shard, pendingHour: _hour, ...rest }) => rest)(bucket({ hour, quantity: 4, state: 'open' })),
      4,
      /open but not in the pending index, so no metering run will settle it/,
    ],
    ['a rejection without a reason', bucket({ hour, quantity: 1, state: 'rejected' }), 1, /rejected without a reason/],
  ])('%s: listed, and its units counted as recorded only', (_name, item, units, problem) => {
    const report = reportOf([billed, item]);

    expect(report.rows).toHaveLength(1);
    expect(report.rows[0]).toMatchObject({
      buckets: 2,
      recorded: 5 + units,
      billed: 5,
      rejected: {},
      pending: 0,
      expired: 0,
      unaccounted: units,
      balanced: units === 0,
      anomalies: 1,
    });
    expect(report.totals).toMatchObject({ recorded: 5 + units, unaccounted: units, balanced: units === 0 });
    expect(report.anomalies).toEqual([
      {
        key: bucketKey(ALICE, new Date(hour), 'users'),
        row: { subscriberId: ALICE, dimension: 'users', day: '2026-11-18' },
        quantity: units,
        problem: expect.stringMatching(problem) as unknown,
      },
    ]);
    expect(report.reconciled).toBe(false);
  });

  test('an item whose attributes name another bucket than its key counts in the totals only', () => {
    const misplaced = { ...bucket({ hour, quantity: 4, state: 'billed', requestId: 'r-9' }), subscriberId: BOB };
    const report = reportOf([billed, misplaced]);

    expect(report.rows).toEqual([
      expect.objectContaining({ subscriberId: ALICE, recorded: 5, balanced: true }) as unknown,
    ]);
    expect(report.totals).toMatchObject({ buckets: 2, recorded: 9, billed: 5, unaccounted: 4, balanced: false });
    expect(report.anomalies).toEqual([
      {
        key: bucketKey(ALICE, new Date(hour), 'users'),
        quantity: 4,
        problem: expect.stringContaining(
          'stored under a key its subscriberId, hour and dimension do not make',
        ) as unknown,
      },
    ]);
    expect(report.requestIds).toEqual(['r-1', 'r-9']);
    expect(report.reconciled).toBe(false);
  });
});

describe('balance', () => {
  const states = ['open', 'frozen', 'billed', 'rejected', 'expired'] as const;
  const hours = Array.from(
    { length: 72 },
    (_, index) => new Date(FIRST.getTime() - 12 * 3_600_000 + index * 3_600_000),
  );
  const buckets = fc.uniqueArray(
    fc.record({
      subscriberId: fc.constantFrom(ALICE, BOB, 'license:other'),
      dimension: fc.constantFrom('users', 'gb'),
      hour: fc.constantFrom(...hours),
      quantity: fc.nat({ max: 2_147_483_647 }),
      state: fc.constantFrom(...states),
      reason: fc.constantFrom('CustomerNotSubscribed', 'DuplicateRecord', 'InvalidLicenseException'),
      requestId: fc.constantFrom('r-1', 'r-2', 'r-3', 'r-4'),
    }),
    { selector: (spec) => JSON.stringify([spec.subscriberId, spec.dimension, spec.hour]), maxLength: 60 },
  );
  /** Buckets of the generated specs, a reason on rejected ones only and a request id on sent ones only. */
  const items = (specs: readonly (Omit<BucketSpec, 'hour'> & { readonly hour: Date })[]) =>
    specs.map((spec) =>
      bucket({
        ...spec,
        hour: spec.hour.toISOString(),
        ...(spec.state === 'rejected' ? {} : { reason: undefined }),
        ...(spec.state === 'billed' || spec.state === 'rejected' ? {} : { requestId: undefined }),
      }),
    );

  test('well-formed buckets: every row and the totals balance, and the rows add up to the totals', () => {
    fc.assert(
      fc.property(buckets, (specs) => {
        const inRange = specs.filter((spec) => spec.hour >= FIRST && spec.hour < END);
        const report = reportOf(items(specs));

        expect(report.reconciled).toBe(true);
        expect(report.rows.every((row) => row.balanced)).toBe(true);
        expect(report.totals.recorded).toBe(inRange.reduce((sum, spec) => sum + spec.quantity, 0));
        for (const column of ['buckets', 'recorded', 'billed', 'pending', 'expired'] as const) {
          expect(report.rows.reduce((sum, row) => sum + row[column], 0)).toBe(report.totals[column]);
        }
        const rejected: Record<string, number> = {};
        for (const row of report.rows) {
          for (const [reason, units] of Object.entries(row.rejected))
            rejected[reason] = (rejected[reason] ?? 0) + units;
        }
        expect(rejected).toEqual(report.totals.rejected);
        expect(report.requestIds).toEqual([...new Set(report.rows.flatMap((row) => row.requestIds))].sort());
      }),
    );
  });

  test('one bucket in an unknown state with units unbalances its row and the totals by exactly those units', () => {
    fc.assert(
      fc.property(buckets, fc.integer({ min: 1, max: 1000 }), (specs, units) => {
        const corrupt = { ...bucket({ hour: '2026-11-18T10:00:00.000Z', quantity: units, state: 'billed' }) };
        const report = reportOf([
          ...items(specs.filter((spec) => spec.subscriberId !== ALICE)),
          { ...corrupt, state: 'x' },
        ]);
        const row = report.rows.find((candidate) => candidate.subscriberId === ALICE)!;

        expect(row).toMatchObject({ unaccounted: units, balanced: false, anomalies: 1 });
        expect(report.rows.filter((other) => !other.balanced)).toEqual([row]);
        expect(report.totals).toMatchObject({ unaccounted: units, balanced: false });
        expect(report.reconciled).toBe(false);
      }),
    );
  });
});

describe('options', () => {
  // Nothing is read when the options are refused: this endpoint would refuse every connection.
  const client = documentClient('http://127.0.0.1:9');
  const day = (text: string) => new Date(`${text}T00:00:00.000Z`);

  test.each([
    ['from after to', { from: day('2026-11-18'), to: day('2026-11-17') }, 'from 2026-11-18 is after to 2026-11-17'],
    ['an invalid date', { from: new Date('not a date'), to: day('2026-11-17') }, 'from and to must be valid dates'],
    ['a page size of 0', { from: day('2026-11-17'), to: day('2026-11-18'), pageSize: 0 }, 'pageSize must be'],
    ['a fractional page size', { from: day('2026-11-17'), to: day('2026-11-18'), pageSize: 2.5 }, 'pageSize must be'],
  ])('%s is refused before anything is read', async (_name, options, message) => {
    const refusal = usageReport(client, 'Usage', options);
    await expect(refusal).rejects.toThrow(UsageReportOptionsError);
    await expect(refusal).rejects.toThrow(message);
  });
});
