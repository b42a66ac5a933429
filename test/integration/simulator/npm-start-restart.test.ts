/**
 * `npm start` twice on one `DYNAMODB_DATA_DIR`: usage recorded before the restart and not yet metered is billed after
 * it, because the simulator kept the license it is billed against (as DynamoDB Local kept the subscriber and usage);
 * and a webhook call still queued when the stack is killed is made after the restart, as SQS would have kept it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { meter, summaryOf } from '../../support/blackbox/metering-commands.ts';
import { pollUntil } from '../../support/blackbox/polling.ts';
import { startStackProcess, type StackProcess } from '../../support/blackbox/stack-process.ts';
import { FREE_PORTS, startNpmStart, type NpmStart } from '../../support/npm-start.ts';
import { waitUntilGone } from '../../support/processes.ts';
import { QUEUES_FILE_NAME } from '../../../local/queue-store.ts';
import { projectRoot } from '../../../local/config.ts';
import { removeDirectory } from '../../support/scratch-directory.ts';

const PRODUCT = 'analytics-pro-example';
const HOUR_MS = 3_600_000;
let dataDir: string;
const stacks: StackProcess[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'npm-start-state-'));
});
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((stack) => stack.stop()));
  await removeDirectory(dataDir);
});

/** `npm start` with the data directory, as a seller starts it with `DYNAMODB_DATA_DIR=...`. */
async function start(): Promise<StackProcess> {
  const previous = process.env.DYNAMODB_DATA_DIR;
  process.env.DYNAMODB_DATA_DIR = dataDir;
  try {
    const stack = await startStackProcess();
    stacks.push(stack);
    return stack;
  } finally {
    if (previous === undefined) delete process.env.DYNAMODB_DATA_DIR;
    else process.env.DYNAMODB_DATA_DIR = previous;
  }
}

/** A buyer subscribes and arrives at the fulfillment URL; answers their license and subscriber id. */
async function arriveAsBuyer(
  control: SimulatorControl,
  fulfillmentUrl: string,
): Promise<{ licenseId: string; subscriberId: string }> {
  const { license, registrationToken } = await control.createLicense({ productCode: PRODUCT });
  const arrival = await fetch(fulfillmentUrl, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ 'x-amzn-marketplace-token': registrationToken }).toString(),
  });
  expect(arrival.status).toBe(303);
  return { licenseId: license.id, subscriberId: `license:${license.licenseArn}` };
}

async function accessOf(
  apiUrl: string,
  subscriberId: string,
): Promise<{ status: string; allowed: boolean } | undefined> {
  const response = await fetchSigned(`${apiUrl}/subscribers/${encodeURIComponent(subscriberId)}`);
  return response.status === 200 ? ((await response.json()) as { status: string; allowed: boolean }) : undefined;
}

test('usage pending at a restart is billed after it', { timeout: 240_000 }, async () => {
  const first = await start();
  const control = new SimulatorControl(first.simulatorUrl);
  // Twenty past an hour, whatever the machine's time: fifty minutes later that hour is closed and past its grace,
  // and the next one is still open, so the run after the restart has exactly that usage to bill.
  const startedAt = Date.parse((await control.clock()).now);
  await control.setClock(new Date(Math.floor(startedAt / HOUR_MS) * HOUR_MS + HOUR_MS + 20 * 60_000));
  const { licenseId, subscriberId } = await arriveAsBuyer(control, first.fulfillmentUrl);
  await pollUntil('an active subscriber', async () =>
    (await accessOf(first.apiUrl, subscriberId))?.status === 'active' ? true : undefined,
  );
  const { now } = await control.clock();
  const recorded = await fetchSigned(`${first.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events: [{ subscriberId, dimension: 'requests', quantity: 3, timestamp: now }] }),
  });
  expect(recorded.status).toBe(200);
  // A setting changed through the control API outlives the restart, a region enabled for a test among them.
  await control.updateSettings({ enabledRegions: ['us-east-1', 'eu-west-1'] });
  await first.stop();
  stacks.splice(stacks.indexOf(first), 1);

  const second = await start();
  const restarted = new SimulatorControl(second.simulatorUrl);
  expect((await restarted.license(licenseId)).status).toBe('active');
  expect((await restarted.settings()).enabledRegions).toEqual(['us-east-1', 'eu-west-1']);
  // Whichever run bills it after the restart (the hourly run the clock's move stops for at :10, or this one), once.
  await restarted.advanceClock({ minutes: 50 });
  const run = summaryOf(await meter(second.commandEnvironment, []));
  expect(run.rejected).toBe('0');
  const { records } = await restarted.billed({ licenseId });
  expect(records.map((record) => [record.dimension, record.quantity])).toEqual([['requests', 3]]);
});

test('a webhook call queued when the stack is killed is made after the restart', { timeout: 240_000 }, async () => {
  const killed: NpmStart[] = [];
  try {
    const first = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
    killed.push(first);
    const receiver = new URL(first.webhookEventsUrl!).origin;
    // The seller's app is down: every call fails, and the message waits in the queue for its next try.
    expect((await fetch(`${receiver}/faults`, { method: 'PUT', body: JSON.stringify({ calls: 1000 }) })).status).toBe(
      200,
    );
    const control = new SimulatorControl(first.simulatorUrl);
    const { subscriberId } = await arriveAsBuyer(control, first.fulfillmentUrl);
    const queuedCalls = async () => {
      const file = JSON.parse(await readFile(join(dataDir, QUEUES_FILE_NAME), 'utf8').catch(() => '{}')) as {
        state?: { webhook?: { messages: { body: string; receiveCount: number }[] } };
      };
      return (file.state?.webhook?.messages ?? []).filter(
        (message) => message.receiveCount > 0 && message.body.includes('Subscriber Activated'),
      );
    };
    await pollUntil('a failed webhook call kept in the queues file', async () =>
      (await queuedCalls()).length > 0 ? true : undefined,
    );
    first.process.kill('SIGKILL');
    await waitUntilGone(first.javaPid, 30_000);

    const second = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
    killed.push(second);
    const delivered = await pollUntil('the queued call, made after the restart', async () => {
      const { calls } = (await (await fetch(second.webhookEventsUrl!)).json()) as {
        calls: {
          signature: string;
          status: number;
          body: { 'detail-type': string; detail: { subscriberId: string } };
        }[];
      };
      return calls.find(
        (call) => call.body['detail-type'] === 'Subscriber Activated' && call.body.detail.subscriberId === subscriberId,
      );
    });
    expect(delivered).toEqual(expect.objectContaining({ signature: 'valid', status: 204 }));
  } finally {
    await Promise.all(killed.map((stack) => stack.stop('SIGKILL')));
  }
});

test(
  'a Marketplace notification published but not yet pushed when the stack is killed is queued after the restart',
  {
    timeout: 240_000,
  },
  async () => {
    const killed: NpmStart[] = [];
    try {
      const first = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
      killed.push(first);
      const control = new SimulatorControl(first.simulatorUrl);
      const { licenseId, subscriberId } = await arriveAsBuyer(control, first.fulfillmentUrl);
      await pollUntil('an active subscriber', async () =>
        (await accessOf(first.apiUrl, subscriberId))?.status === 'active' ? true : undefined,
      );
      // The cancellation is in Marketplace's feed but never pushed: the push it was owed died with the stack.
      for (const { id } of (await control.eventSubscriptions()).subscriptions) await control.unsubscribeEvents(id);
      await control.end(licenseId);
      first.process.kill('SIGKILL');
      await waitUntilGone(first.javaPid, 30_000);

      const second = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
      killed.push(second);
      expect(
        await pollUntil('the cancellation, handled after the restart', async () => {
          const access = await accessOf(second.apiUrl, subscriberId);
          return access?.status === 'ending' ? access : undefined;
        }),
      ).toEqual(expect.objectContaining({ status: 'ending', allowed: false }));
    } finally {
      await Promise.all(killed.map((stack) => stack.stop('SIGKILL')));
    }
  },
);

/** `npm start` (as node runs it) that is expected to stop at once: its exit code and what it printed on stderr. */
async function refusedStart(): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      ...FREE_PORTS,
      LOCAL_STACK_STATE: join(dataDir, 'refused-stack.json'),
      DYNAMODB_DATA_DIR: dataDir,
    },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

test(
  'a data directory another npm start holds, or with only one of its halves, is refused with why',
  {
    timeout: 240_000,
  },
  async () => {
    const first = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
    try {
      const second = await refusedStart();
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(
        `Another npm start (pid ${first.process.pid}) is using the data directory ${dataDir}`,
      );
    } finally {
      await first.stop('SIGTERM');
    }
    // Marketplace's half gone: the tables' subscribers would have no licenses to be billed against.
    await rm(join(dataDir, 'marketplace-simulator.json'));
    const incomplete = await refusedStart();
    expect(incomplete.code).toBe(1);
    expect(incomplete.stderr).toContain(
      `The data directory ${dataDir} holds the tables (shared-local-instance.db) but not the simulator's state`,
    );
    expect(incomplete.stderr).not.toMatch(/\n\s+at /);
  },
);
