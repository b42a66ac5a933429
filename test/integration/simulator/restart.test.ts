/**
 * A simulator started on a data directory keeps its whole state there: stopped and started again on the same
 * directory, it has the products, licenses, tokens, billed records, results, clock, settings, event feed and
 * subscriptions it had, and it deduplicates against records billed before the restart. A state file it cannot read
 * stops the start with a message naming the file. One simulator at a time keeps its state in a directory.
 */
import { BatchMeterUsageCommand, ResolveCustomerCommand, type UsageRecord } from '@aws-sdk/client-marketplace-metering';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from '../../../simulator/server.ts';
import {
  SimulatorDataDirError,
  SimulatorDataDirInUseError,
  STATE_FILE_NAME,
  STATE_LOCK_FILE_NAME,
} from '../../../simulator/state-file.ts';
import { meteredProduct, meteringClient, minutesFrom, SIMULATOR_NOW } from '../../support/simulator.ts';
import { removeDirectory } from '../../support/scratch-directory.ts';

let dataDir: string;
const running: RunningSimulator[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'simulator-state-'));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
  await removeDirectory(dataDir);
});

async function start(): Promise<{ simulator: RunningSimulator; control: SimulatorControl }> {
  const simulator = await startSimulator({ dataDir });
  running.push(simulator);
  return { simulator, control: new SimulatorControl(simulator.url) };
}

async function stop(simulator: RunningSimulator): Promise<void> {
  running.splice(running.indexOf(simulator), 1);
  await simulator.close();
}

/** Everything the control API shows of the state. */
async function everything(control: SimulatorControl) {
  const { operations, eventDeliveries, doubleBilled } = await control.stats();
  return {
    settings: await control.settings(),
    clock: await control.clock(),
    products: await control.products(),
    licenses: await control.licenses(),
    billed: await control.billed(),
    results: await control.results(),
    warnings: await control.warnings(),
    events: await control.events(),
    subscriptions: await control.eventSubscriptions(),
    stats: { operations, eventDeliveries, doubleBilled },
    publicKey: await control.registerUsagePublicKey(),
  };
}

test('stopped and started again on the same directory, the simulator has everything it had', async () => {
  const first = await start();
  await first.control.setClock(minutesFrom(SIMULATOR_NOW, -120), false);
  await first.control.updateSettings({ identicalResendStatus: 'DuplicateRecord', timestampWindowHours: 6 });
  const product = await first.control.createProduct(meteredProduct());
  const contracts = await first.control.createProduct(
    meteredProduct({ pricingModel: 'contracts', dimensions: [{ name: 'seats', kind: 'contract' }] }),
  );
  const { license } = await first.control.createLicense({ productCode: product.code });
  const { registrationToken } = await first.control.createLicense({
    productCode: contracts.code,
    entitlements: [{ dimension: 'seats', value: { IntegerValue: 10 }, expirationDate: '2027-11-18T00:00:00Z' }],
  });
  await first.control.setClock(SIMULATOR_NOW, false);
  const record: UsageRecord = {
    Timestamp: minutesFrom(SIMULATOR_NOW, -60),
    Dimension: 'users',
    Quantity: 7,
    CustomerAWSAccountId: license.customerAWSAccountId,
    LicenseArn: license.licenseArn,
  };
  const metering = meteringClient(first.simulator.url);
  const billed = await metering.send(new BatchMeterUsageCommand({ UsageRecords: [record] }));
  // The same hour again with ProductCode: billed twice, so that the double-billing warning is part of the state.
  await metering.send(new BatchMeterUsageCommand({ UsageRecords: [record], ProductCode: product.code }));
  await first.control.advanceClock({ minutes: 20 });
  await first.control.subscribeEvents('http://127.0.0.1:9/events', 'eventbridge');
  const before = await everything(first.control);
  expect(before.billed.records).toHaveLength(2);
  await stop(first.simulator);

  const second = await start();
  expect(await everything(second.control)).toEqual(before);

  const again = meteringClient(second.simulator.url);
  const identical = await again.send(new BatchMeterUsageCommand({ UsageRecords: [record] }));
  expect(identical.Results?.[0]?.Status).toBe('DuplicateRecord');
  await second.control.updateSettings({ identicalResendStatus: 'Success' });
  const resent = await again.send(new BatchMeterUsageCommand({ UsageRecords: [record] }));
  expect(resent.Results?.[0]?.MeteringRecordId).toBe(billed.Results?.[0]?.MeteringRecordId);
  const different = await again.send(new BatchMeterUsageCommand({ UsageRecords: [{ ...record, Quantity: 8 }] }));
  expect(different.Results?.[0]?.Status).toBe('DuplicateRecord');
  expect((await second.control.billed()).totalQuantity).toBe(14);
  const resolved = await again.send(new ResolveCustomerCommand({ RegistrationToken: registrationToken }));
  expect(resolved.ProductCode).toBe(contracts.code);
  metering.destroy();
  again.destroy();

  // The state, and the lock of the simulator that keeps it there.
  expect((await readdir(dataDir)).sort()).toEqual([STATE_FILE_NAME, STATE_LOCK_FILE_NAME]);
});

test('a running clock goes on by the time the simulator was stopped, as if it had run on', async () => {
  const first = await start();
  await first.control.setClock(SIMULATOR_NOW, true);
  await stop(first.simulator);
  await new Promise((resolve) => setTimeout(resolve, 300));

  const second = await start();
  const { now, running: isRunning } = await second.control.clock();
  expect(isRunning).toBe(true);
  expect(Date.parse(now) - SIMULATOR_NOW.getTime()).toBeGreaterThanOrEqual(300);
});

test('a running clock stops at the end of the year 9999, and what it dated there is taken up again', async () => {
  const first = await start();
  await first.control.setClock(new Date('9999-12-31T23:59:59.900Z'), true);
  await vi.waitFor(async () => expect((await first.control.clock()).now).toBe('9999-12-31T23:59:59.999Z'), {
    timeout: 30_000,
  });
  const product = await first.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
  const { license } = await first.control.createLicense({ productCode: product.code });
  await first.control.end(license.id);
  const before = await everything(first.control);
  await stop(first.simulator);

  const second = await start();
  expect(await everything(second.control)).toEqual(before);
});

test('a reset is saved too: the next start is empty', async () => {
  const first = await start();
  await first.control.createProduct(meteredProduct());
  await first.control.reset();
  await stop(first.simulator);

  const second = await start();
  expect((await second.control.products()).products).toEqual([]);
});

test('region names saved before enabledRegions took region names only are left out, the rest of the state kept', async () => {
  const first = await start();
  await first.control.createProduct(meteredProduct());
  await first.control.updateSettings({ enabledRegions: ['us-east-1', 'eu-west-1'] });
  await stop(first.simulator);
  const path = join(dataDir, STATE_FILE_NAME);
  const saved = JSON.parse(await readFile(path, 'utf8')) as { settings: { enabledRegions: string[] } };
  saved.settings.enabledRegions = ['local', 'eu-west-1', ''];
  await writeFile(path, JSON.stringify(saved));

  const second = await start();
  expect((await second.control.settings()).enabledRegions).toEqual(['eu-west-1']);
  expect((await second.control.products()).products).toHaveLength(1);
});

test('a TPS limit saved as a fraction, as it once was taken, is read as the whole calls it allowed', async () => {
  const first = await start();
  await first.control.setFaults({ tpsLimits: { BatchMeterUsage: 3 } });
  await stop(first.simulator);
  const path = join(dataDir, STATE_FILE_NAME);
  const saved = JSON.parse(await readFile(path, 'utf8')) as { faults: { plan: { tpsLimits: object } } };
  saved.faults.plan.tpsLimits = { BatchMeterUsage: 2.5 };
  await writeFile(path, JSON.stringify(saved));

  const second = await start();
  const plan = (await (await fetch(`${second.simulator.url}/control/faults`)).json()) as { tpsLimits: object };
  expect(plan.tpsLimits).toEqual({ BatchMeterUsage: 3 });
});

test('a state file that is not JSON stops the start with a message naming the file', async () => {
  const path = join(dataDir, STATE_FILE_NAME);
  await writeFile(path, '{"format": "aws-marketplace-simulator-state", "version": 1, "set');
  await expect(startSimulator({ dataDir })).rejects.toThrow(`The simulator state file ${path} is not valid JSON`);
  // A start that failed lets go of the directory.
  expect(existsSync(join(dataDir, STATE_LOCK_FILE_NAME))).toBe(false);
});

test('a state file of another format version stops the start with a message naming the file and the version', async () => {
  const path = join(dataDir, STATE_FILE_NAME);
  await writeFile(path, JSON.stringify({ format: 'aws-marketplace-simulator-state', version: 99 }));
  await expect(startSimulator({ dataDir })).rejects.toThrow(
    `The simulator state file ${path} has format version 99; this simulator reads version 1`,
  );
});

test('a state file whose content is damaged stops the start with a message naming the file and the fault', async () => {
  const first = await start();
  await first.control.createProduct(meteredProduct());
  await stop(first.simulator);
  const path = join(dataDir, STATE_FILE_NAME);
  const saved = JSON.parse(await readFile(path, 'utf8')) as { clock: { now: string } };
  saved.clock.now = 'yesterday';
  await writeFile(path, JSON.stringify(saved));
  const failure = startSimulator({ dataDir });
  await expect(failure).rejects.toThrow(`The simulator state file ${path} does not hold a valid state`);
  await expect(failure).rejects.toThrow('clock.now');
});

describe('one simulator at a time keeps its state in a directory', () => {
  const lockFile = () => join(dataDir, STATE_LOCK_FILE_NAME);

  test('a second one in this process is refused until the first has stopped, then has what the first saved', async () => {
    const first = await start();
    await first.control.createProduct(meteredProduct());
    const refused = startSimulator({ dataDir });
    await expect(refused).rejects.toThrow(SimulatorDataDirInUseError);
    await expect(refused).rejects.toThrow(
      `This process already runs a simulator that keeps its state in ${dataDir}: stop it first`,
    );
    await stop(first.simulator);

    const second = await start();
    expect((await second.control.products()).products).toHaveLength(1);
    expect((await readFile(lockFile(), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    await stop(second.simulator);
    expect(existsSync(lockFile())).toBe(false);
  });

  test('a running simulator in another process is named with its lock; one that is gone is taken over', async () => {
    // A running Node process whose pid is in the lock stands for another simulator holding the directory.
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((resolve) => holder.once('spawn', resolve));
    try {
      await writeFile(lockFile(), String(holder.pid));
      const refused = startSimulator({ dataDir });
      await expect(refused).rejects.toThrow(
        `Another simulator (pid ${holder.pid}) keeps its state in ${dataDir}: stop it first, or give this one another ` +
          `data directory (two would save over each other's state, and forget records they billed). If no simulator ` +
          `is running, delete ${lockFile()}.`,
      );
    } finally {
      holder.kill('SIGKILL');
    }
    const { stdout: endedPid } = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    await writeFile(lockFile(), endedPid);
    // So is a save the killed holder never finished; a file of someone else's stays.
    await writeFile(join(dataDir, `${STATE_FILE_NAME}.${endedPid}.tmp`), '{"half');
    await writeFile(join(dataDir, 'notes.txt'), 'mine');
    await start();
    expect((await readFile(lockFile(), 'utf8')).split(' ')[0]).toBe(String(process.pid));
    expect((await readdir(dataDir)).sort()).toEqual([STATE_LOCK_FILE_NAME, 'notes.txt']);
  });

  test('a data directory that is a file is refused, naming it', async () => {
    const file = join(dataDir, 'a-file');
    await writeFile(file, '');
    const refused = startSimulator({ dataDir: file });
    await expect(refused).rejects.toThrow(SimulatorDataDirError);
    await expect(refused).rejects.toThrow(`The data directory ${file} is a file: give the simulator a folder`);
  });
});
