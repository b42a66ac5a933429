/**
 * The operator commands find the running `npm start` through the state file it writes, whatever ports it was given,
 * without any port variable; with no stack to find, they name the address they tried and the variable to set.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { getFreePort } from '../../../local/free-port.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { runNodeCommand } from '../../support/node-command.ts';
import { startNpmStart, type NpmStart } from '../../support/npm-start.ts';
import { removeDirectory } from '../../support/scratch-directory.ts';

/** What would point the commands elsewhere than the state file. */
const LOCATING_VARIABLES = [
  ...['DYNAMODB', 'MARKETPLACE', 'SQS'].map((service) => `${service}_ENDPOINT`),
  ...['DYNAMODB_PORT', 'SIMULATOR_PORT', 'SQS_PORT', 'PORT', 'API_URL', 'SUBSCRIBERS_TABLE', 'USAGE_TABLE'],
];
LOCATING_VARIABLES.forEach((variable) => delete process.env[variable]);

let folder = '';
let stack: NpmStart | undefined;
const statePath = () => join(folder, 'stack.json');

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'stack-state-'));
  // npm start on free ports (see startNpmStart), recording itself where the commands below look.
  stack = await startNpmStart('node', { LOCAL_STACK_STATE: statePath() });
  // Longer than startNpmStart's own limit, so that a stack slow to start fails with what it printed.
}, 150_000);
afterAll(async () => {
  await stack?.stop('SIGKILL');
  await removeDirectory(folder);
});

const command = (name: string, ...args: string[]) =>
  runNodeCommand([`local/commands/${name}.ts`, ...args], { LOCAL_STACK_STATE: statePath() });

test('npm start records where it listens; each command works there with no port variable', async () => {
  const running = stack!;
  const state = JSON.parse(await readFile(statePath(), 'utf8')) as Record<string, unknown>;
  expect(state).toEqual(
    expect.objectContaining({
      pid: running.process.pid,
      apiUrl: running.apiUrl,
      dynamoDbEndpoint: running.dynamoDbEndpoint,
      marketplaceEndpoint: running.simulatorUrl,
      sqsEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown,
      eventBusUrl: new URL(running.eventsUrl).origin,
      webhookReceiverUrl: new URL(running.webhookEventsUrl!).origin,
    }),
  );
  const { licenseId } = await subscribeOnBuyerPage(running.simulatorUrl, 'analytics-pro-example');
  // Each poll spawns a command (a cold `node --import tsx`), which alone takes seconds on a loaded machine.
  await expect
    .poll(async () => (await command('subscribers', '--status', 'active')).stdout, { timeout: 60_000 })
    .toContain(licenseId);

  const sample = await command('sample-usage');
  expect(sample.status, sample.stderr).toBe(0);
  expect(sample.stdout).toMatch(/200: .*requests \d+ accepted.*\n {2}\d+ units in all, at /);
  // Pointed past the state file at a server that is not the API, the calls fail, and the command says so.
  const portOf = (url: string) => new URL(url).port;
  const misdirected = await runNodeCommand(['local/commands/sample-usage.ts'], {
    LOCAL_STACK_STATE: join(folder, 'none.json'),
    DYNAMODB_PORT: portOf(running.dynamoDbEndpoint),
    SIMULATOR_PORT: portOf(running.simulatorUrl),
    PORT: portOf(running.simulatorUrl),
  });
  expect(misdirected.status).toBe(1);
  expect(misdirected.stderr).toMatch(/1 of 1 calls to http:\/\/127\.0\.0\.1:\d+\/local\/usage failed .*\(PORT\)/);
  expect(misdirected.stdout).toMatch(/\n {2}\d+ units not recorded, at /);
  expect(misdirected.stdout).not.toContain('units in all');
  const listed = await command('subscribers', '--json');
  expect(listed.status, listed.stderr).toBe(0);
  expect(listed.stdout).toContain('"dimension": "requests"');
  const meter = await command('meter', '--dry-run');
  expect(meter.status, meter.stderr).toBe(0);
  expect(meter.stdout).toContain('Dry run: nothing written, nothing sent.');
  const report = await command('report');
  expect(report.status, report.stderr).toBe(0);
  expect(report.stdout).toContain('Every row balances');
  const queues = await command('redrive', '--list');
  expect(queues.status, queues.stderr).toBe(0);
  expect(queues.stdout).toMatch(/^webhook-dead-letters +0 +webhook$/m);
  // Up to a minute of polling, then five more commands, each its own `node --import tsx`.
}, 180_000);

// Each command is its own `node --import tsx`: seconds apiece on a loaded machine.
test(
  'with no stack recorded, a command names the address it tried and the variable to set',
  { timeout: 120_000 },
  async () => {
    const nowhere = { LOCAL_STACK_STATE: join(folder, 'none.json') };
    const redrive = await runNodeCommand(['local/commands/redrive.ts', '--list'], nowhere);
    expect(redrive.status).toBe(1);
    expect(redrive.stderr).toContain(
      `npm run redrive: no npm start has recorded itself in ${nowhere.LOCAL_STACK_STATE}.`,
    );
    expect(redrive.stderr).toContain('Start the local stack with npm start, or set SQS_ENDPOINT');

    const closedPort = await getFreePort();
    const meter = await runNodeCommand(['local/commands/meter.ts'], { ...nowhere, DYNAMODB_PORT: String(closedPort) });
    expect(meter.status).toBe(1);
    expect(meter.stderr).toContain(`nothing answers at http://127.0.0.1:${closedPort} for DynamoDB (ECONNREFUSED`);
    expect(meter.stderr).toContain('set DYNAMODB_ENDPOINT to the URL of DynamoDB (or DYNAMODB_ENDPOINT= for AWS)');
    expect(meter.stderr).not.toContain('fetch failed');

    // Against AWS (an endpoint variable set to the empty string), sample usage would be billed: refused.
    const sample = await runNodeCommand(['local/commands/sample-usage.ts'], { ...nowhere, DYNAMODB_ENDPOINT: '' });
    expect(sample.status).toBe(2);
    expect(sample.stderr).toContain('npm run sample-usage: sample-usage works only against the local stack');
  },
);

test("a state file whose npm start is gone is no stack; a clean stop removes the stack's own file", async () => {
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => gone.once('exit', resolve));
  const stale = join(folder, 'stale.json');
  await writeFile(stale, (await readFile(statePath(), 'utf8')).replace(/"pid": \d+/, `"pid": ${gone.pid}`));
  const run = await runNodeCommand(['local/commands/redrive.ts', '--list'], { LOCAL_STACK_STATE: stale });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain(`the npm start recorded in ${stale} (pid ${gone.pid}) is gone`);

  expect(await stack!.stop('SIGTERM')).toBe(0);
  await expect(readFile(statePath(), 'utf8')).rejects.toThrow(/ENOENT/);
}, 120_000);
