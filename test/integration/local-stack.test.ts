/**
 * `npm start` as a user runs it: it serves DynamoDB Local with the project's tables and the simulator with the
 * products of `cdk.json`, and however it is stopped, no java survives it.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { loadLocalConfig, projectRoot } from '../../local/config.ts';
import { createDynamoDbClient } from '../../local/dynamodb/launcher.ts';
import { subscribeOnBuyerPage } from '../support/buyer-page.ts';
import { startWebhookApp } from '../support/webhook-app.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { startNpmStart, type NpmStart } from '../support/npm-start.ts';
import { expectGone, waitUntilGone } from '../support/processes.ts';
import { tableDefinitions } from '../../contracts/index.ts';
import { scratchDirectory } from '../support/scratch-directory.ts';

const stacks: NpmStart[] = [];
afterAll(() => Promise.all(stacks.map((stack) => stack.stop('SIGKILL'))));

async function start(via: 'npm' | 'node'): Promise<NpmStart> {
  const stack = await startNpmStart(via);
  stacks.push(stack);
  return stack;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

// Each test starts a whole npm start, and the four start at once: on a loaded machine that alone can take most of the
// integration default of 30 s.
const STACK_TEST_TIMEOUT_MS = 180_000;

describe.concurrent('npm start', () => {
  test(
    'serves the tables, the simulator with its buyer page, and the API; Ctrl-C stops everything',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async ({ onTestFinished }) => {
      const statePath = join(await scratchDirectory('ctrl-c-', onTestFinished), 'stack.json');
      const stack = await startNpmStart('npm', { LOCAL_STACK_STATE: statePath }, { ownProcessGroup: true });
      stacks.push(stack);
      const dynamoDb = createDynamoDbClient(stack.dynamoDbEndpoint);
      const { TableNames } = await dynamoDb.send(new ListTablesCommand({}));
      dynamoDb.destroy();
      expect(TableNames?.sort()).toEqual(tableDefinitions.map((definition) => definition.id).sort());
      const control = new SimulatorControl(stack.simulatorUrl);
      const config = loadLocalConfig();
      expect((await control.products()).products.map((product) => product.code)).toEqual(
        config.products.map((product) => product.code),
      );
      expect((await control.settings()).enabledRegions).toContain(config.marketplaceRegion);
      expect((await control.settings()).fulfillmentUrl).toBe(stack.fulfillmentUrl);
      expect((await fetch(stack.fulfillmentUrl)).status).toBe(405);
      expect((await fetch(`${stack.simulatorUrl}/buyer`)).status).toBe(200);

      expect(existsSync(statePath)).toBe(true);

      // Ctrl-C in a terminal signals the whole process group: npm, which passes SIGINT on, and node at once.
      process.kill(-stack.process.pid!, 'SIGINT');
      expect(await exitOf(stack.process)).toBe(0);
      await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
      await expect(fetch(`${stack.simulatorUrl}/control/clock`)).rejects.toThrow();
      expect(existsSync(statePath), 'the state file outlived npm start').toBe(false);
    },
  );

  test('SIGTERM stops everything', { timeout: STACK_TEST_TIMEOUT_MS }, async () => {
    const stack = await start('npm');
    stack.process.kill('SIGTERM');
    expect(await exitOf(stack.process)).toBe(0);
    await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
  });

  test(
    'a SIGKILL of the process that owns java still leaves no java behind',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async () => {
      const stack = await start('node');
      stack.process.kill('SIGKILL');
      // Returns as soon as java is gone; the limit only bounds the wait for a loaded machine to reap it.
      await waitUntilGone(stack.javaPid, 30_000);
      await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
    },
  );

  test(
    'DynamoDB Local killed under it: it says so once and stops, rather than failing on at every poll',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async ({ onTestFinished }) => {
      const dataDir = join(await scratchDirectory('java-killed-', onTestFinished), 'data');
      const stack = await startNpmStart('node', { DYNAMODB_DATA_DIR: dataDir });
      stacks.push(stack);
      process.kill(stack.javaPid, 'SIGKILL');
      expect(await exitOf(stack.process)).toBe(1);
      const logs = stack.logs();
      expect(logs).toMatch(
        new RegExp(
          `npm start: DynamoDB Local exited \\([^)]+\\); stopping\\. Run npm start again: the data in ${dataDir} is kept\\.`,
        ),
      );
      // At most the one line per stream a poll already under way may have written before the stack stopped.
      expect(logs.match(/polling failed/g)?.length ?? 0).toBeLessThanOrEqual(2);
      await expect(fetch(`${stack.simulatorUrl}/control/clock`)).rejects.toThrow();
    },
  );

  test(
    'a bad setting stops it with a message that names the variable',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async () => {
      const child = spawn('npm', ['start'], { cwd: projectRoot, env: { ...process.env, SIMULATOR_PORT: 'http' } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      expect(await exitOf(child)).toBe(1);
      expect(stderr).toContain('SIMULATOR_PORT must be a TCP port number');
      expect(stderr).not.toMatch(/\n\s+at /);
      const file = join(projectRoot, 'package.json');
      const onAFile = spawn('npm', ['start'], { cwd: projectRoot, env: { ...process.env, DYNAMODB_DATA_DIR: file } });
      let onAFileStderr = '';
      onAFile.stderr.setEncoding('utf8').on('data', (chunk: string) => (onAFileStderr += chunk));
      expect(await exitOf(onAFile)).toBe(1);
      expect(onAFileStderr).toContain(
        `DYNAMODB_DATA_DIR must name a folder (or where to make one), not the file ${file}`,
      );
      const remote = spawn('npm', ['start'], {
        cwd: projectRoot,
        env: { ...process.env, WEBHOOK_URL: 'http://app.example.com/hook' },
      });
      let remoteStderr = '';
      remote.stderr.setEncoding('utf8').on('data', (chunk: string) => (remoteStderr += chunk));
      expect(await exitOf(remote)).toBe(1);
      expect(remoteStderr).toContain(
        'WEBHOOK_URL must be an https URL, or an http one on this machine (localhost, 127.x.x.x or [::1]), not "http://app.example.com/hook"',
      );
    },
  );

  test(
    "WEBHOOK_URL sends the webhook calls to the seller's app on this machine, signed with WEBHOOK_SECRET",
    { timeout: STACK_TEST_TIMEOUT_MS },
    async () => {
      const secret = 'the-secret-the-app-checks-with-0123456789';
      const app = await startWebhookApp(secret, '/marketplace-events');
      try {
        const { url, calls } = app;
        const stack = await startNpmStart('node', { WEBHOOK_URL: url, WEBHOOK_SECRET: secret });
        stacks.push(stack);
        expect(stack.logs()).toContain(`${url}  (WEBHOOK_URL, signed with WEBHOOK_SECRET;`);
        await subscribeOnBuyerPage(stack.simulatorUrl, 'analytics-pro-example');
        await vi.waitFor(() => expect(calls).toContainEqual({ type: 'Subscriber Activated', valid: true }), {
          timeout: 60_000,
          interval: 200,
        });
        expect(calls.every((call) => call.valid)).toBe(true);
      } finally {
        await app.close();
      }
    },
  );

  test(
    'a port in use stops it, or the simulator alone, with a message that names the variable to change',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const port = String((taken.address() as AddressInfo).port);
      try {
        const freePorts = { DYNAMODB_PORT: '0', EVENT_BUS_PORT: '0', WEBHOOK_RECEIVER_PORT: '0', SQS_PORT: '0' };
        const runs = [
          { script: 'start', env: { ...freePorts, SIMULATOR_PORT: '0', PORT: port }, variable: 'PORT, the API' },
          { script: 'start', env: { ...freePorts, PORT: '0', SIMULATOR_PORT: port }, variable: 'SIMULATOR_PORT' },
          { script: 'simulator', env: { SIMULATOR_PORT: port }, variable: 'SIMULATOR_PORT, the simulator' },
          {
            script: 'start',
            env: { ...freePorts, PORT: '0', SIMULATOR_PORT: '0', DYNAMODB_PORT: port },
            variable: 'DYNAMODB_PORT, DynamoDB Local',
          },
        ];
        for (const run of runs) {
          const child = spawn('npm', ['run', '--silent', run.script], {
            cwd: projectRoot,
            env: { ...process.env, LOCAL_STACK_STATE: join(tmpdir(), `port-in-use-${port}.json`), ...run.env },
          });
          let stderr = '';
          child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
          expect(await exitOf(child)).toBe(1);
          expect(stderr).toMatch(new RegExp(`port ${port}( on 127\\.0\\.0\\.1)? is already in use \\(${run.variable}`));
          expect(stderr).toContain('to another port (0 picks a free one)');
          expect(stderr).not.toMatch(/\n\s+at /);
        }
      } finally {
        taken.close();
      }
    },
  );
});
