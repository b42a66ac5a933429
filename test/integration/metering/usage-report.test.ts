/**
 * The usage report against DynamoDB Local and the simulator: usage recorded by the recorder and metered by the run
 * (both identity models, a rejection, an expiry, buckets still pending, a carry-forward) reported unit for unit and
 * request id for request id as Marketplace saw it; every page read; anomalies shown rather than hidden; the doc
 * comment's example run as written; and `npm run report` itself, run as a child process.
 */
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { LifecycleRepository } from '../../../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { MeteredProduct } from '../../../lambdas/core/environment.ts';
import { bucketKey, pendingShardOf } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import type { UsageEventInput } from '../../../lambdas/core/metering/recording/usage-event.ts';
import { recordUsage } from '../../../lambdas/core/metering/recording/usage-recorder.ts';
import {
  usageReport,
  UsageReportOptionsError,
  type UsageReport,
} from '../../../lambdas/core/metering/report/usage-report.ts';
import { subscriberIdOf } from '../../../lambdas/core/subscriber.ts';
import { runNodeCommand, type CommandRun } from '../../support/node-command.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, subscribeBuyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness, type MeteringTables } from '../../support/metering-run.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
/** 2026-11-18T12:30Z: the report's default days are the 17th and the 18th. */
const now = SIMULATOR_NOW;
const DAYS = { from: new Date('2026-11-17T00:00:00Z'), to: new Date('2026-11-18T00:00:00Z') };

/** The figures of a row, without its request ids (checked against the simulator's on their own). */
const figuresOf = ({ requestIds: _requestIds, ...figures }: UsageReport['rows'][number]) => figures;
const rowId = (subscriberId: string, dimension: string, day: string) => `${subscriberId} ${dimension} ${day}`;
const rowsById = (report: UsageReport) =>
  new Map(report.rows.map((row) => [rowId(row.subscriberId, row.dimension, row.day), row]));

/** A row's expected figures: the columns given, zero in the rest, balanced. */
function row(subscriberId: string, dimension: string, day: string, units: Partial<Record<string, unknown>>) {
  return {
    subscriberId,
    dimension,
    day,
    buckets: 1,
    recorded: 0,
    billed: 0,
    rejected: {},
    pending: 0,
    expired: 0,
    unconfirmed: 0,
    unaccounted: 0,
    balanced: true,
    anomalies: 0,
    ...units,
  };
}

/**
 * Two days of usage, recorded through the recorder and metered by the run at `now`:
 * - alice (license): users at 06:00 on the 17th, recorded then, past the acceptance window by now: expired; gb at
 *   20:00 on the 17th, and users at 10:00 and gb at 09:00 on the 18th: billed; users in the current hour: open;
 *   and, after the run, one more unit of the 10:00 hour, carried into the current one;
 * - bob (legacy): users at 11:00, part of it tagged: billed;
 * - carol (license), whose license Marketplace ended and the lifecycle has not heard of: CustomerNotSubscribed;
 * - dave (license), known from a license event before the buyer arrived, so with no account: frozen, waiting.
 */
async function meteredDays() {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  const licensed = await sim.control.createProduct(meteredProduct({ identityModel: 'license' }));
  const legacy = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
  const products: MeteredProduct[] = [
    { code: licensed.code, identityModel: 'license', meteredDimensions: ['users', 'gb'] },
    { code: legacy.code, identityModel: 'legacy', meteredDimensions: ['users', 'gb'] },
  ];
  const setup = { control: sim.control, client, subscribersTable: tables.subscribers };
  const alice = await subscribeBuyer(setup, licensed.code, now);
  const bob = await subscribeBuyer(setup, legacy.code, now);
  const carol = await subscribeBuyer(setup, licensed.code, now);
  await sim.control.setClock(minutesFrom(now, -180), false);
  await sim.control.end(carol.license.id);
  await sim.control.setClock(now, false);
  const early = {
    model: 'license' as const,
    productCode: licensed.code,
    licenseArn: 'arn:aws:license-manager::555566667777:license:l-11111111111111111111111111111111',
  };
  await new LifecycleRepository(client, tables.subscribers, 3600).applyToSubscriber(
    { subscriber: early, facts: ['activatedAt'], at: minutesFrom(now, -48 * 60) },
    now,
  );
  const dave = subscriberIdOf(early);

  const record = async (events: readonly UsageEventInput[], at: Date) => {
    const results = await recordUsage(
      {
        client,
        usageTable: tables.usage,
        subscribersTable: tables.subscribers,
        products,
        acceptanceWindowHours: 24,
        eventIdRetentionDays: 35,
        finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 },
      },
      events,
      at,
    );
    expect(results.map((result) => result.status)).toEqual(events.map(() => 'accepted'));
    return results;
  };
  const use = (subscriberId: string, dimension: string, quantity: number, timestamp: string, eventId?: string) => ({
    subscriberId,
    dimension,
    quantity,
    timestamp,
    ...(eventId === undefined ? {} : { eventId }),
  });
  await record([use(alice.subscriberId, 'users', 4, '2026-11-17T06:10:00Z', 'a-1')], new Date('2026-11-17T07:00:00Z'));
  await record(
    [
      use(alice.subscriberId, 'gb', 8, '2026-11-17T20:15:00Z', 'a-2'),
      use(alice.subscriberId, 'users', 6, '2026-11-18T10:20:00Z', 'a-3'),
      use(alice.subscriberId, 'users', 4, '2026-11-18T10:50:00Z', 'a-4'),
      use(alice.subscriberId, 'gb', 3, '2026-11-18T09:05:00Z'),
      use(alice.subscriberId, 'users', 6, '2026-11-18T12:10:00Z'),
      { ...use(bob.subscriberId, 'users', 2, '2026-11-18T11:30:00Z'), tags: { team: 'x' } },
      use(bob.subscriberId, 'users', 3, '2026-11-18T11:40:00Z', 'b-1'),
      use(carol.subscriberId, 'users', 7, '2026-11-18T08:45:00Z', 'c-1'),
      use(dave, 'users', 2, '2026-11-18T10:00:00Z'),
    ],
    now,
  );
  const metering = meteringHarness(tables, sim.url, { products });
  const summary = await metering.run({ now });
  expect(summary).toMatchObject({ billed: 4, rejected: { CustomerNotSubscribed: 1 }, expired: 1, pending: 1 });
  const [late] = await record([use(alice.subscriberId, 'users', 1, '2026-11-18T10:40:00Z', 'a-late')], now);
  expect(late).toEqual({
    status: 'accepted',
    hour: '2026-11-18T12:00:00.000Z',
    carriedFrom: '2026-11-18T10:00:00.000Z',
  });
  return { tables, client, metering, summary, alice, bob, carol, dave };
}

/** The request ids the simulator answered for a license's records of one dimension and UTC day. */
async function simulatorRequestIds(licenseId: string, dimension: string, day: string): Promise<string[]> {
  const { results } = await sim.control.results({ licenseId, dimension });
  return [
    ...new Set(results.filter((result) => result.timestamp.startsWith(day)).map((result) => result.requestId)),
  ].sort();
}

/** The units the simulator billed for a license's records of one dimension and UTC day. */
async function simulatorBilled(licenseId: string, dimension: string, day: string): Promise<number> {
  const { records } = await sim.control.billed({ licenseId, dimension });
  return records.filter((record) => record.timestamp.startsWith(day)).reduce((sum, record) => sum + record.quantity, 0);
}

describe('a metered day, reported', () => {
  test('every row unit for unit, the totals, balanced, with the request ids Marketplace answered', async () => {
    const { tables, client, summary, alice, bob, carol, dave } = await meteredDays();

    const report = await usageReport(client, tables.usage, DAYS);

    const a = alice.subscriberId;
    const expected = [
      row(a, 'users', '2026-11-17', { recorded: 4, expired: 4 }),
      row(a, 'gb', '2026-11-17', { recorded: 8, billed: 8 }),
      // 10 billed at 10:00; 6 recorded for 12:00 and the unit carried there from 10:00: open.
      row(a, 'users', '2026-11-18', { buckets: 2, recorded: 17, billed: 10, pending: 7 }),
      row(a, 'gb', '2026-11-18', { recorded: 3, billed: 3 }),
      row(bob.subscriberId, 'users', '2026-11-18', { recorded: 5, billed: 5 }),
      row(carol.subscriberId, 'users', '2026-11-18', { recorded: 7, rejected: { CustomerNotSubscribed: 7 } }),
      row(dave, 'users', '2026-11-18', { recorded: 2, pending: 2 }),
    ];
    expect(report.rows.map(figuresOf)).toEqual(
      expected.sort(
        (x, y) =>
          (x.subscriberId < y.subscriberId ? -1 : x.subscriberId > y.subscriberId ? 1 : 0) ||
          (x.dimension < y.dimension ? -1 : x.dimension > y.dimension ? 1 : 0) ||
          (x.day < y.day ? -1 : 1),
      ),
    );
    expect(report.totals).toEqual({
      buckets: 8,
      recorded: 46,
      billed: 26,
      rejected: { CustomerNotSubscribed: 7 },
      pending: 9,
      expired: 4,
      unconfirmed: 0,
      unaccounted: 0,
      balanced: true,
    });
    expect(report).toMatchObject({ from: '2026-11-17', to: '2026-11-18', anomalies: [], reconciled: true });

    // What Marketplace billed and refused, by license, dimension and day.
    const rows = rowsById(report);
    for (const [buyer, dimension, day] of [
      [alice, 'users', '2026-11-17'],
      [alice, 'gb', '2026-11-17'],
      [alice, 'users', '2026-11-18'],
      [alice, 'gb', '2026-11-18'],
      [bob, 'users', '2026-11-18'],
      [carol, 'users', '2026-11-18'],
    ] as const) {
      const reported = rows.get(rowId(buyer.subscriberId, dimension, day))!;
      expect(reported.billed).toBe(await simulatorBilled(buyer.license.id, dimension, day));
      expect(reported.requestIds).toEqual(await simulatorRequestIds(buyer.license.id, dimension, day));
    }
    const refused = await sim.control.results({ status: 'CustomerNotSubscribed' });
    expect(refused.results.map((result) => [result.licenseId, result.quantity])).toEqual([[carol.license.id, 7]]);
    expect(rows.get(rowId(dave, 'users', '2026-11-18'))!.requestIds).toEqual([]);
    // Every call the run made, and nothing else: the ids to find in CloudTrail.
    const answered = [...new Set((await sim.control.results()).results.map((result) => result.requestId))].sort();
    expect(report.requestIds).toEqual(answered);
    expect(report.requestIds).toEqual([...summary.requestIds].sort());
  });

  test('the carried unit is billed once, in the later bucket, and the report follows it there', async () => {
    const { tables, client, metering, summary, alice } = await meteredDays();
    const later = minutesFrom(now, 65);
    await sim.control.setClock(later, false);

    const next = await metering.run({ now: later });

    expect(next).toMatchObject({ billed: 1, pending: 1 });
    const report = await usageReport(client, tables.usage, DAYS);
    const users = rowsById(report).get(rowId(alice.subscriberId, 'users', '2026-11-18'))!;
    expect(figuresOf(users)).toEqual(
      row(alice.subscriberId, 'users', '2026-11-18', { buckets: 2, recorded: 17, billed: 17 }),
    );
    const { records } = await sim.control.billed({ licenseId: alice.license.id, dimension: 'users' });
    expect(records.map((record) => [record.timestamp, record.quantity]).sort()).toEqual([
      ['2026-11-18T10:00:00.000Z', 10],
      ['2026-11-18T12:00:00.000Z', 7],
    ]);
    expect(users.requestIds).toEqual(await simulatorRequestIds(alice.license.id, 'users', '2026-11-18'));
    expect(report.totals).toMatchObject({ recorded: 46, billed: 33, pending: 2, balanced: true });
    expect(report.requestIds).toEqual([...new Set([...summary.requestIds, ...next.requestIds])].sort());
  });

  test("given subscribers, each one's partition is read: the same rows as the Scan's, and no one else's", async () => {
    const { tables, client, alice, carol } = await meteredDays();
    const everyone = await usageReport(client, tables.usage, DAYS);

    const some = await usageReport(client, tables.usage, {
      ...DAYS,
      subscriberIds: [carol.subscriberId, alice.subscriberId, alice.subscriberId],
    });

    const theirs = new Set([alice.subscriberId, carol.subscriberId]);
    expect(some.rows).toEqual(everyone.rows.filter((reported) => theirs.has(reported.subscriberId)));
    expect(some.totals).toMatchObject({ buckets: 6, recorded: 39, billed: 21, pending: 7, expired: 4, balanced: true });
    expect(some.reconciled).toBe(true);
    const oneDay = await usageReport(client, tables.usage, {
      from: DAYS.from,
      to: DAYS.from,
      subscriberIds: [alice.subscriberId],
    });
    expect(oneDay.rows.map((reported) => [reported.dimension, reported.day])).toEqual([
      ['gb', '2026-11-17'],
      ['users', '2026-11-17'],
    ]);
  });
});

describe('reading', () => {
  /** A document client that counts the commands it sends, by name. */
  function countingClient(): { client: DynamoDBDocumentClient; sent: Map<string, number> } {
    const client = documentClient(dynamoDb.endpoint);
    const sent = new Map<string, number>();
    client.middlewareStack.add(
      (next, context) => (args) => {
        const name = context.commandName ?? 'unknown';
        sent.set(name, (sent.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    return { client, sent };
  }

  test('every page of the Scan and of each Query, the first and last hour of the days included and no other', async () => {
    const tables = await freshTables(dynamoDb);
    const writer = documentClient(dynamoDb.endpoint);
    const subscribers = ['license:one', 'license:two'];
    let expectedUnits = 0;
    for (const subscriberId of subscribers) {
      for (let hours = 0; hours < 48; hours++) {
        for (const dimension of ['users', 'gb']) {
          const hour = new Date(DAYS.from.getTime() + hours * 3_600_000);
          await addUsage(writer, tables.usage, { subscriberId, hour, dimension, quantity: hours + 1 });
          expectedUnits += hours + 1;
        }
      }
      // Just outside the days: the hour before, and the hour after under its smallest key (an empty dimension).
      await addUsage(writer, tables.usage, {
        subscriberId,
        hour: new Date('2026-11-16T23:00:00Z'),
        dimension: 'users',
        quantity: 1000,
      });
      await addUsage(writer, tables.usage, {
        subscriberId,
        hour: new Date('2026-11-19T00:00:00Z'),
        dimension: '',
        quantity: 1000,
      });
    }
    const perDay = (first: number) => ((first + first + 23) * 24) / 2;
    const expectedRows = subscribers.flatMap((subscriberId) =>
      ['gb', 'users'].flatMap((dimension) => [
        [subscriberId, dimension, '2026-11-17', 24, perDay(1)],
        [subscriberId, dimension, '2026-11-18', 24, perDay(25)],
      ]),
    );
    const summarised = (report: UsageReport) =>
      report.rows.map((reported) => [
        reported.subscriberId,
        reported.dimension,
        reported.day,
        reported.buckets,
        reported.pending,
      ]);

    const scanning = countingClient();
    const scanned = await usageReport(scanning.client, tables.usage, { ...DAYS, pageSize: 7 });
    const querying = countingClient();
    const queried = await usageReport(querying.client, tables.usage, {
      ...DAYS,
      subscriberIds: subscribers,
      pageSize: 7,
    });
    const whole = await usageReport(writer, tables.usage, DAYS);

    for (const report of [scanned, queried, whole]) {
      expect(summarised(report)).toEqual(expectedRows);
      expect(report.totals).toMatchObject({ buckets: 192, recorded: expectedUnits, pending: expectedUnits });
      expect(report.reconciled).toBe(true);
    }
    // 196 items in the table at 7 a page; each partition's 96 in range, at 7 a page.
    expect(scanning.sent.get('ScanCommand')).toBeGreaterThanOrEqual(Math.ceil(196 / 7));
    expect(querying.sent.get('QueryCommand')).toBeGreaterThanOrEqual(2 * Math.ceil(96 / 7));
  });

  test('the last hour a bucket key can hold is reported; days no key can hold are refused, nothing read', async () => {
    const tables = await freshTables(dynamoDb);
    const client = documentClient(dynamoDb.endpoint);
    const subscriberId = 'license:last';
    await addUsage(client, tables.usage, {
      subscriberId,
      hour: new Date('9999-12-31T23:00:00Z'),
      dimension: 'users',
      quantity: 3,
    });
    const lastDay = new Date('9999-12-31T00:00:00Z');

    for (const subscriberIds of [undefined, [subscriberId]]) {
      const report = await usageReport(client, tables.usage, {
        from: lastDay,
        to: lastDay,
        ...(subscriberIds && { subscriberIds }),
      });
      expect(report.rows.map((row) => [row.day, row.recorded])).toEqual([['9999-12-31', 3]]);
    }
    for (const [from, to] of [
      [lastDay, new Date('+010000-01-01T00:00:00Z')],
      [new Date('-000001-12-31T00:00:00Z'), lastDay],
    ]) {
      await expect(usageReport(client, tables.usage, { from: from!, to: to! })).rejects.toThrow(
        new UsageReportOptionsError(
          "from and to must be days from 0000-01-01 to 9999-12-31, the years a bucket's hour is written with",
        ),
      );
    }
  });
});

describe('anomalies', () => {
  test('a bucket in an unknown state, or one the run can never find, unbalances its row instead of hiding', async () => {
    const tables = await freshTables(dynamoDb);
    const client = documentClient(dynamoDb.endpoint);
    const alice = 'license:arn:aws:license-manager::123456789012:license:l-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const bob = 'license:arn:aws:license-manager::123456789012:license:l-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
    const put = (item: Record<string, unknown>) => client.send(new PutCommand({ TableName: tables.usage, Item: item }));
    const item = (subscriberId: string, hour: string, dimension: string, attributes: Record<string, unknown>) => ({
      ...bucketKey(subscriberId, new Date(hour), dimension),
      subscriberId,
      dimension,
      hour,
      ...attributes,
    });
    await put(item(alice, '2026-11-18T09:00:00.000Z', 'users', { quantity: 5, state: 'billed', requestId: 'r-1' }));
    // A state no code writes.
    await put(
      item(alice, '2026-11-18T10:00:00.000Z', 'users', {
        quantity: 3,
        state: 'lost',
        pendingShard: pendingShardOf(alice),
        pendingHour: '2026-11-18T10:00:00.000Z',
      }),
    );
    // Open, but out of the pending index: no run would ever meter it.
    await put(item(bob, '2026-11-18T11:00:00.000Z', 'users', { quantity: 4, state: 'open' }));

    const report = await usageReport(client, tables.usage, DAYS);

    expect(report.rows.map((reported) => [reported.subscriberId, reported.recorded, reported.billed])).toEqual([
      [alice, 8, 5],
      [bob, 4, 0],
    ]);
    expect(report.rows.map((reported) => [reported.unaccounted, reported.balanced, reported.anomalies])).toEqual([
      [3, false, 1],
      [4, false, 1],
    ]);
    expect(report.totals).toMatchObject({ recorded: 12, billed: 5, pending: 0, unaccounted: 7, balanced: false });
    expect(report.anomalies.map((anomaly) => [anomaly.key, anomaly.quantity])).toEqual([
      [bucketKey(alice, new Date('2026-11-18T10:00:00.000Z'), 'users'), 3],
      [bucketKey(bob, new Date('2026-11-18T11:00:00.000Z'), 'users'), 4],
    ]);
    expect(report.anomalies[0]!.problem).toContain('state "lost"');
    expect(report.anomalies[1]!.problem).toContain('not in the pending index');
    expect(report.reconciled).toBe(false);

    const command = await runReport(['--from', '2026-11-18', '--to', '2026-11-18'], tables);
    expect(command.status).toBe(1);
    expect(command.stderr).toBe(
      'npm run report: 2 rows do not balance, the totals do not balance, 2 buckets are anomalies; the report says where\n',
    );
    expect(command.stdout).toContain('3 units unaccounted for, 1 anomaly');
    expect(command.stdout).toContain(`${bucketKey(bob, new Date('2026-11-18T11:00:00.000Z'), 'users').sk}: it is open`);
  });
});

describe('the @example in the doc comment', () => {
  test('runs as written and prints what it says it prints', async () => {
    const { tables } = await meteredDays();
    const source = await readFile(
      new URL('../../../lambdas/core/metering/report/usage-report.ts', import.meta.url),
      'utf8',
    );
    const example = /@example\n([\s\S]*?)\n \*\//.exec(source)![1]!.replace(/^ \* ?/gm, '');
    const printed = example
      .split('\n')
      .at(-1)!
      .replace(/^\/\/ /, '');

    const run = await runNodeCommand(['--input-type=module', '--eval', example], {
      DYNAMODB_ENDPOINT: dynamoDb.endpoint,
      USAGE_TABLE: tables.usage,
    });

    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${printed}\n`);
  });
});

describe('npm run report', () => {
  test('--json prints exactly the report, of yesterday and today by the simulator clock', async () => {
    const { tables, client, alice } = await meteredDays();

    const all = await runReport(['--json'], tables);
    const some = await runReport(
      ['--from', '2026-11-18', '--to', '2026-11-18', '--subscriber', alice.subscriberId, '--json'],
      tables,
    );

    expect(all).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(all.stdout)).toEqual(await usageReport(client, tables.usage, DAYS));
    expect(some).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(some.stdout)).toEqual(
      await usageReport(client, tables.usage, {
        from: DAYS.to,
        to: DAYS.to,
        subscriberIds: [alice.subscriberId],
      }),
    );
  });

  test('prints a table, the totals and the request ids to look up in CloudTrail', async () => {
    const { tables, client, carol } = await meteredDays();
    const report = await usageReport(client, tables.usage, DAYS);

    const run = await runReport([], tables);

    expect(run).toMatchObject({ status: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).toContain(`Usage of 2026-11-17 to 2026-11-18 (UTC days) in ${tables.usage}`);
    expect(lines[2]!.split(/\s+/)).toEqual([
      'subscriber',
      'dimension',
      'day',
      'buckets',
      'recorded',
      'billed',
      'rejected',
      'pending',
      'expired',
    ]);
    expect(lines.find((line) => line.startsWith(carol.subscriberId))!.split(/\s+/)).toEqual([
      carol.subscriberId,
      'users',
      '2026-11-18',
      '1',
      '7',
      '0',
      'CustomerNotSubscribed',
      '7',
      '0',
      '0',
    ]);
    expect(lines.find((line) => line.startsWith('total'))!.split(/\s+/)).toEqual([
      'total',
      '8',
      '46',
      '26',
      'CustomerNotSubscribed',
      '7',
      '9',
      '4',
    ]);
    expect(run.stdout).toContain('Every row balances');
    const ids = lines.slice(lines.findIndex((line) => line.startsWith('Request ids')) + 1).filter(Boolean);
    expect(ids.map((line) => line.trim())).toEqual(report.requestIds);
  });

  test.each([
    [['--from', '2026-13-01'], '--from must be a UTC day written YYYY-MM-DD, not "2026-13-01"'],
    [['--to', '18.11.2026'], '--to must be a UTC day written YYYY-MM-DD, not "18.11.2026"'],
    [['--from', '2026-11-18', '--to', '2026-11-17'], '--from 2026-11-18 is after --to 2026-11-17'],
    [['--from'], "Option '--from <value>' argument missing"],
    [['--subscriber', ''], '--subscriber must not be empty'],
    [
      ['--subscriber', 'arn:aws:license-manager::123456789012:license:l-1'],
      '--subscriber must be a subscriber id, license:<LicenseArn> or legacy:<ProductCode>:<CustomerIdentifier> ' +
        '(npm run subscribers lists them), not "arn:aws:license-manager::123456789012:license:l-1"',
    ],
    [['--bogus'], "Unknown option '--bogus'"],
    [['today'], "Unexpected argument 'today'"],
  ])('bad arguments %j: exit status 2 and one line saying what is wrong', async (args, message) => {
    const tables = await freshTables(dynamoDb);

    const run = await runReport(args, tables);

    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    const [error, usage, ...rest] = run.stderr.split('\n');
    expect(error).toMatch(new RegExp(`^npm run report: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(usage).toMatch(/^usage: npm run report -- /);
    expect(rest).toEqual(['']);
  });

  test('a --subscriber longer than any id is refused, repeated only in part: exit status 2', async () => {
    // Of an id's form, but a license ARN longer than any: DynamoDB would refuse its key.
    const tooLong = `license:arn:aws:license-manager::123456789012:license:l-${'x'.repeat(1300)}`;
    const run = await runReport(['--subscriber', tooLong], await freshTables(dynamoDb));

    expect(run.status).toBe(2);
    expect(run.stderr.split('\n')[0]).toContain(`, not "${tooLong.slice(0, 80)}... (${tooLong.length} characters)"`);
  });

  test('a table that does not exist: exit status 1 and one line naming it and the output to copy', async () => {
    const tables = await freshTables(dynamoDb);

    const run = await runReport([], { ...tables, usage: `${tables.usage}-missing` });

    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      new RegExp(
        `^npm run report: USAGE_TABLE names the table ${tables.usage}-missing, which does not exist at http://\\S+: ` +
          "set it to the stack's UsageTableName output .+\\n$",
      ),
    );
  });
});

/** `npm run report` as its npm script runs it, on the test's tables and simulator. */
function runReport(args: readonly string[], tables: MeteringTables): Promise<CommandRun> {
  return runNodeCommand(['local/commands/report.ts', ...args], {
    DYNAMODB_ENDPOINT: tables.endpoint,
    USAGE_TABLE: tables.usage,
    SUBSCRIBERS_TABLE: tables.subscribers,
    MARKETPLACE_ENDPOINT: sim.url,
  });
}
