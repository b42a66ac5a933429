/**
 * A metering run in a real process of its own (`test/support/chaos-child-run.ts`), killed with SIGKILL at a random
 * moment while Marketplace answers slowly and now and then drops a connection (before or after billing): whatever the
 * moment, the next run bills every bucket exactly once, with its own quantity, and nothing is left pending.
 *
 * The schedule (usage, faults, the moment of the kill) comes from the seed; where in the run the kill lands also
 * depends on real time, so a seed replays the same setup, not always the same interleaving. `CHAOS_SEED=<n>` replays
 * one seed; `CHAOS_SIGKILL_RUNS=<n>` sets how many seeds (from `CHAOS_FIRST_SEED`: 1 unless given, `random` explores).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, onTestFinished, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import type { ChildRunSettings } from '../../support/chaos-child-run.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, bucketsOf, hoursBefore, subscribeBuyer, type Buyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import { SeededRandom, seedFrom } from '../../support/seeded-random.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();
const file = relative(process.cwd(), import.meta.filename);

function seeds(): number[] {
  if (process.env.CHAOS_SEED !== undefined && process.env.CHAOS_SEED !== '') return [seedFrom('CHAOS_SEED', 1)];
  const runs = Number(process.env.CHAOS_SIGKILL_RUNS ?? 2);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`CHAOS_SIGKILL_RUNS must be a whole number from 1`);
  const first = seedFrom('CHAOS_FIRST_SEED', 1);
  console.log(`metering chaos (SIGKILL): ${runs} seeds from ${first}`);
  return Array.from({ length: runs }, (_, index) => (first + index) % 2 ** 32);
}

describe('a metering run killed with SIGKILL at a random moment', () => {
  test.each(seeds())('seed %i', { timeout: 180_000 }, async (seed) => {
    const random = new SeededRandom(seed);
    const replay = `chaos seed ${seed} (replay: CHAOS_SEED=${seed} npx vitest run ${file})`;
    const now = SIMULATOR_NOW;
    const tables = await freshTables(dynamoDb);
    const client = documentClient(dynamoDb.endpoint);
    const licensed = await sim.control.createProduct(meteredProduct({ identityModel: 'license' }));
    const legacy = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const products = [licensed, legacy].map(({ code }) => ({ code, meteredDimensions: ['users', 'gb'] }));
    const buyers: Buyer[] = [];
    for (const { code } of [licensed, licensed, licensed, legacy, legacy]) {
      buyers.push(
        await subscribeBuyer({ control: sim.control, client, subscribersTable: tables.subscribers }, code, now),
      );
    }
    const recorded = new Map<string, number>();
    const hours = random.int(8, 20);
    for (const { subscriberId } of buyers) {
      for (let hour = 1; hour <= hours; hour++) {
        for (const dimension of ['users', 'gb']) {
          const quantity = random.int(1, 1000);
          await addUsage(client, tables.usage, { subscriberId, hour: hoursBefore(now, hour), dimension, quantity });
          recorded.set(`${subscriberId}|${dimension}|${hoursBefore(now, hour).toISOString()}`, quantity);
        }
      }
    }
    await sim.control.setFaults({
      seed: random.int(1, 2 ** 31 - 1),
      rules: [
        { kind: 'latency', operations: ['BatchMeterUsage'], latencyMs: random.int(20, 80) },
        { kind: 'drop-connection', when: 'after-processing', operations: ['BatchMeterUsage'], probability: 0.2 },
        { kind: 'drop-connection', when: 'before-processing', operations: ['BatchMeterUsage'], probability: 0.1 },
        { kind: 'unprocessed', operations: ['BatchMeterUsage'], fraction: 0.3, probability: 0.3 },
      ],
    });

    const settings: ChildRunSettings = {
      endpoint: dynamoDb.endpoint,
      usageTable: tables.usage,
      subscribersTable: tables.subscribers,
      simulatorUrl: sim.url,
      now: now.toISOString(),
      products,
      callsPerSecond: 10,
    };
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../../support/chaos-child-run.ts'), JSON.stringify(settings)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    // A child still running when the test ends (its limit passed) is not left behind.
    onTestFinished(() => void child.kill('SIGKILL'));
    // No deadline of its own: a cold child on a loaded machine takes what it takes, and the test's limit ends a hang.
    while (!output.includes('metering\n') && child.exitCode === null) await sleep(5);
    expect(output, `${replay}: the child never started its run`).toContain('metering\n');
    await sleep(random.int(0, 1500));
    const finishedBeforeKill = output.includes('done ');
    child.kill('SIGKILL');
    await exited;

    const before = (
      await Promise.all(buyers.map((buyer) => bucketsOf(client, tables.usage, buyer.subscriberId)))
    ).flat();
    const statesAtKill = before.reduce<Record<string, number>>(
      (counts, bucket) => ({ ...counts, [String(bucket.state)]: (counts[String(bucket.state)] ?? 0) + 1 }),
      {},
    );

    // The next run, fault-free, a few minutes later.
    await sim.control.clearFaults();
    const later = minutesFrom(now, 10);
    await sim.control.setClock(later, false);
    const rerun = meteringHarness(tables, sim.url, { products });
    let pending = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 3 && pending > 0; run++) ({ pending } = await rerun.run({ now: later }));

    const message = `${replay}: states when killed ${JSON.stringify(statesAtKill)}, finished before the kill: ${finishedBeforeKill}`;
    expect(pending, message).toBe(0);
    const billed = await sim.control.billed();
    const billedByKey = new Map(
      billed.records.map((record) => {
        const buyer = buyers.find((candidate) => candidate.license.id === record.licenseId)!;
        return [`${buyer.subscriberId}|${record.dimension}|${record.hour}`, record];
      }),
    );
    const after = (
      await Promise.all(buyers.map((buyer) => bucketsOf(client, tables.usage, buyer.subscriberId)))
    ).flat();
    const problems: string[] = [];
    for (const bucket of after) {
      const key = `${String(bucket.subscriberId)}|${String(bucket.dimension)}|${String(bucket.hour)}`;
      const record = billedByKey.get(key);
      if (bucket.state !== 'billed') problems.push(`${key} is ${String(bucket.state)} (${String(bucket.reason)})`);
      if (record?.quantity !== recorded.get(key)) {
        problems.push(`${key}: recorded ${recorded.get(key)}, billed ${record?.quantity}`);
      }
      if (record !== undefined && bucket.meteringRecordId !== record.meteringRecordId) {
        problems.push(
          `${key}: bucket has record id ${String(bucket.meteringRecordId)}, Marketplace ${record.meteringRecordId}`,
        );
      }
    }
    if (after.length !== recorded.size) problems.push(`${after.length} buckets, ${recorded.size} recorded`);
    if (billed.records.length !== recorded.size)
      problems.push(`${billed.records.length} billed, ${recorded.size} recorded`);
    const total = [...recorded.values()].reduce((sum, quantity) => sum + quantity, 0);
    if (billed.totalQuantity !== total) problems.push(`recorded ${total} units, billed ${billed.totalQuantity}`);
    const duplicates = (await sim.control.results({ status: 'DuplicateRecord' })).results;
    if (duplicates.length > 0) problems.push(`DuplicateRecord: ${JSON.stringify(duplicates)}`);
    expect(problems, message).toEqual([]);
    if (process.env.CHAOS_VERBOSE === '1') console.log(message);
  });
});
