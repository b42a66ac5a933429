/**
 * The metering chaos suite: many seeded schedules of usage (late, duplicated, carried forward, too old, in the future,
 * tagged, before a subscription started, around its end, under reused and conflicting event ids), faults (throttling,
 * 5xx, latency, `UnprocessedRecords`, connections dropped before and after processing), DynamoDB calls failing under a
 * run, clock jumps (minutes, across hour boundaries, across the acceptance window and month ends), runs and recorder
 * calls killed at a random AWS call, two runs at once, usage arriving during a run, and licenses ending at any point of
 * an hour (final-metering runs killed, faulted, alongside usage or a run), under both of the simulator's readings of
 * what AWS leaves uncertain (the activation instant, a shorter final window). For every seed the books must balance
 * unit for unit and accepted must mean billable: every accepted unit billed once, or expired only where Marketplace
 * could not be reached for its window; none refused; no `DuplicateRecord`; nothing billed twice (see
 * `test/support/chaos-books.ts` for every check, and `chaos-schedule.ts` for the generator).
 *
 * - `CHAOS_SEED=<n>` replays one seed: the same schedule and the same fault draws (where two runs overlap, or calls go
 *   out concurrently, the interleaving is the scheduler's, not the seed's);
 * - `CHAOS_RUNS=<n>` sets how many seeds (50 by default), from `CHAOS_FIRST_SEED` (1 unless given, so that `npm test`
 *   plays the same schedules every time; `random` explores new ones; it is printed);
 * - `CHAOS_VERBOSE=1` prints each seed's statistics.
 *
 * Each failure names its seed, the replay command, the schedule step by step, and what happened.
 */
import { BatchMeterUsageCommand, InvalidLicenseException } from '@aws-sdk/client-marketplace-metering';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { relative } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeSchedule, generateSchedule, HOUR_MS } from '../../support/chaos-schedule.ts';
import { playSchedule, scan, type ChaosStats, type ChaosWorld } from '../../support/chaos-world.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { seedFrom } from '../../support/seeded-random.ts';
import { meteringClient, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();

const DEFAULT_RUNS = 50;
const file = relative(process.cwd(), import.meta.filename);

function chaosSeeds(): number[] {
  if (process.env.CHAOS_SEED !== undefined && process.env.CHAOS_SEED !== '') return [seedFrom('CHAOS_SEED', 1)];
  const runs = process.env.CHAOS_RUNS === undefined ? DEFAULT_RUNS : Number(process.env.CHAOS_RUNS);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`CHAOS_RUNS must be a whole number from 1, not ${runs}`);
  const first = seedFrom('CHAOS_FIRST_SEED', 1);
  console.log(`metering chaos: ${runs} seeds from ${first} (CHAOS_FIRST_SEED=${first} CHAOS_RUNS=${runs} to replay)`);
  return Array.from({ length: runs }, (_, index) => (first + index) % 2 ** 32);
}

const totals: Record<string, number> = {};
function addUp(stats: ChaosStats) {
  const add = (prefix: string, values: object) => {
    for (const [name, value] of Object.entries(values) as [string, unknown][]) {
      if (typeof value === 'number') totals[`${prefix}${name}`] = (totals[`${prefix}${name}`] ?? 0) + value;
      else if (typeof value === 'object' && value !== null) add(`${prefix}${name}.`, value);
    }
  };
  add('', stats);
}
let seedsPassed = 0;

describe('metering chaos: the books balance unit for unit, whatever fails', () => {
  test.each(chaosSeeds())('seed %i', { timeout: 120_000 }, async (seed) => {
    const schedule = generateSchedule(seed);
    const { violations, stats } = await playSchedule(schedule, {
      dynamoDb,
      simulatorUrl: sim.url,
      control: sim.control,
    });
    addUp(stats);
    if (process.env.CHAOS_VERBOSE === '1') console.log(`chaos seed ${seed}: ${JSON.stringify(stats)}`);
    expect(
      violations,
      `chaos seed ${seed} (replay: CHAOS_SEED=${seed} npx vitest run ${file})\n${describeSchedule(schedule)}\n` +
        `stats ${JSON.stringify(stats)}`,
    ).toEqual([]);
    seedsPassed++;
  });

  afterAll(() => {
    console.log(`metering chaos: ${seedsPassed} seeds balanced; totals ${JSON.stringify(totals)}`);
  });
});

/**
 * The books are only worth what they catch: the same play, broken on purpose after the drain, must fail them. The
 * seed is fixed (its schedule bills, rejects and expires usage of both identity models).
 */
describe('the books notice', () => {
  const SEED = 15;
  const play = (tamper: (world: ChaosWorld) => Promise<void>) =>
    playSchedule(generateSchedule(SEED), { dynamoDb, simulatorUrl: sim.url, control: sim.control }, { tamper });

  /** Breaks one billed bucket of the play with `update`. */
  const updateBilledBucket = async (world: ChaosWorld, update: string, values: Record<string, unknown>) => {
    const items = await scan(world.client, world.usageTable);
    const bucket = items.find(
      (item) => item.state === 'billed' && typeof item.quantity === 'number' && item.quantity > 0,
    );
    if (bucket === undefined) throw new Error(`seed ${SEED} billed nothing: pick another seed for these tests`);
    await world.client.send(
      new UpdateCommand({
        TableName: world.usageTable,
        Key: { pk: bucket.pk, sk: bucket.sk },
        UpdateExpression: update,
        ExpressionAttributeValues: values,
      }),
    );
  };

  test('a unit lost from a bucket', async () => {
    const { violations } = await play(async (world) => {
      await updateBilledBucket(world, 'ADD quantity :minusOne', { ':minusOne': -1 });
    });
    expect(violations.join('\n')).toMatch(/holds \d+; the recorder accepted \d+ for it/);
    expect(violations.join('\n')).toMatch(/holds \d+; Marketplace billed \d+ for its hour/);
  });

  test('usage billed in an hour no bucket accounts for (the same units billed twice)', async () => {
    const { violations } = await play(async (world) => {
      const metering = meteringClient(world.simulatorUrl);
      const items = await scan(world.client, world.usageTable);
      try {
        for (const { id, license } of world.subscribers.filter((subscriber) => subscriber.id.startsWith('license:'))) {
          // An hour of the last day that has no bucket of this subscriber's.
          for (let hours = 2; hours < 20; hours++) {
            const hour = new Date(Math.floor(world.now.getTime() / HOUR_MS) * HOUR_MS - hours * HOUR_MS);
            if (items.some((item) => item.subscriberId === id && item.hour === hour.toISOString())) continue;
            const answer = await metering
              .send(
                new BatchMeterUsageCommand({
                  UsageRecords: [
                    {
                      LicenseArn: license.licenseArn,
                      CustomerAWSAccountId: license.customerAWSAccountId,
                      Dimension: 'users',
                      Timestamp: hour,
                      Quantity: 5,
                    },
                  ],
                }),
              )
              // An hour outside the license's active period (before it started, after it ended): try another.
              .catch((error: unknown) => {
                if (error instanceof InvalidLicenseException) return undefined;
                throw error;
              });
            if (answer?.Results?.[0]?.Status === 'Success') return;
          }
        }
        throw new Error(`seed ${SEED}: no live license subscriber to bill: pick another seed for these tests`);
      } finally {
        metering.destroy();
      }
    });
    expect(violations.join('\n')).toMatch(/Marketplace billed .* which no bucket accounts for/);
    expect(violations.join('\n')).toMatch(/accepted \d+ units, but billed/);
  });

  test('a bucket settled billed with a record Marketplace never issued', async () => {
    const { violations } = await play(async (world) => {
      await updateBilledBucket(world, 'SET meteringRecordId = :forged', { ':forged': 'forged-record-id' });
    });
    expect(violations.join('\n')).toMatch(/has record id forged-record-id, Marketplace billed/);
  });
});
