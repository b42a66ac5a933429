/**
 * The README's first steps, run as written against a real `npm start`: the shell commands of "Be a buyer" and "Watch
 * your first usage get billed", in order, through bash, with only the ports of this stack put in place of the
 * documented ones. The buyer's clicks on the simulator's page are made through its control API and the fulfillment
 * URL, as the page makes them. Also: the banner the README shows is the one `npm start` prints, line for line.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { projectRoot } from '../../local/config.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { commandsOf } from '../support/docs-commands.ts';
import { postFulfillment } from '../support/buyer.ts';
import { startNpmStart, type NpmStart } from '../support/npm-start.ts';

const README = join(projectRoot, 'README.md');
const statePath = join(tmpdir(), `local-stack-${randomUUID()}.json`);
let stack: NpmStart;

beforeAll(async () => {
  stack = await startNpmStart('node', {
    LOCAL_STACK_STATE: statePath,
    // The README's own commands bill the hour (the clock's move, then `npm run meter`): not the scheduled run.
    METERING_INTERVAL_SECONDS: '3600',
    LOG_FORMAT: '',
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

/** The documented addresses are those of a stack on the default ports. */
function onThisStack(command: string): string {
  return command
    .replaceAll('http://127.0.0.1:4010', stack.simulatorUrl)
    .replaceAll('http://127.0.0.1:3000/local', stack.apiUrl);
}

function bash(command: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', command], {
      cwd: projectRoot,
      env: { ...process.env, LOCAL_STACK_STATE: statePath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (status) => resolve({ status, output }));
  });
}

async function readmeCommands(heading: string): Promise<string[]> {
  const commands = commandsOf('README.md', await readFile(README, 'utf8'));
  const under = commands.filter((command) => command.heading === heading).map((command) => command.command);
  expect(under.length, `README.md has commands under "${heading}"`).toBeGreaterThan(0);
  return under;
}

test('the banner in the README is the one npm start prints, label for label', async () => {
  const readme = await readFile(README, 'utf8');
  const documented = /<!-- banner:start -->\s*```\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(documented, 'README.md shows the banner between its markers').toBeDefined();
  const labels = (text: string) => [...text.matchAll(/^ {2}(\S[\w ()-]*?\S) {2,}/gm)].map((match) => match[1]);
  const printed = stack.logs().slice(stack.logs().indexOf('Local stack ready'));
  expect(labels(printed).length).toBeGreaterThan(8);
  expect(labels(documented!)).toEqual(labels(printed.slice(0, printed.search(/^\s*Products\s.*$/m) + 200)));
});

test('be a buyer, then watch the first usage get billed: every command succeeds, and usage is billed', async () => {
  const control = new SimulatorControl(stack.simulatorUrl);
  // Steps 1 and 2 of "Be a buyer": subscribe on the buyer page, then "Set up your account".
  const { registrationToken } = await control.createLicense({ productCode: 'analytics-pro-example' });
  const arrival = await postFulfillment(stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
  expect(arrival.status, arrival.body).toBe(303);

  const [listSubscribers, ...restOfBuyerSteps] = await readmeCommands('Be a buyer (one minute)');
  const listed = await bash(onThisStack(listSubscribers!));
  expect(listed.status, listed.output).toBe(0);
  expect(listed.output).toContain('analytics-pro-example');
  for (const command of restOfBuyerSteps) {
    const run = await bash(onThisStack(command));
    expect(run.status, `${command}\n${run.output}`).toBe(0);
  }

  for (const command of await readmeCommands('Watch your first usage get billed')) {
    const run = await bash(onThisStack(command));
    expect(run.status, `${command}\n${run.output}`).toBe(0);
  }
  const { records, totalQuantity } = await control.billed({ productCode: 'analytics-pro-example' });
  expect(records.length).toBeGreaterThan(0);
  expect(totalQuantity).toBeGreaterThan(0);
}, 180_000);
