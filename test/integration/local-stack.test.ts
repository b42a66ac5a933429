/**
 * `npm start` as a user runs it: it serves DynamoDB Local with the project's tables and the simulator with the
 * products of `cdk.json`, and however it is stopped, no java survives it.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, test } from 'vitest';
import { tableDefinitions } from '../../lib/tables.ts';
import { loadLocalConfig, projectRoot } from '../../local/config.ts';
import { createDynamoDbClient } from '../../local/dynamodb/launcher.ts';
import { SimulatorControl } from '../../local/simulator/control-client.ts';
import { expectGone, javaProcessesOnPort, waitUntilGone } from '../support/processes.ts';

interface LocalStack {
  readonly process: ChildProcess;
  readonly output: string[];
  readonly dynamoDbEndpoint: string;
  readonly simulatorUrl: string;
  readonly javaPid: number;
}

const stacks: ChildProcess[] = [];
afterAll(() => stacks.forEach((stack) => stack.kill('SIGKILL')));

/** Starts the local stack with `npm start` (or, to kill the very process that owns java, with node itself). */
async function startLocalStack(how: 'npm start' | 'node'): Promise<LocalStack> {
  const env = { ...process.env, DYNAMODB_PORT: '0', SIMULATOR_PORT: '0', PORT: '0', EVENT_BUS_PORT: '0' };
  const child =
    how === 'npm start'
      ? spawn('npm', ['start'], { cwd: projectRoot, env })
      : spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], { cwd: projectRoot, env });
  stacks.push(child);
  const output: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  for await (const line of createInterface({ input: child.stdout })) {
    output.push(line);
    if (!/DynamoDB Local\s+http/.test(line)) continue;
    const text = output.join('\n');
    const simulator = /Marketplace simulator\s+(http:\/\/\S+)/.exec(text)!;
    const dynamoDbEndpoint = /DynamoDB Local\s+(http:\/\/\S+)/.exec(text)![1]!;
    const [javaPid] = await javaProcessesOnPort(Number(new URL(dynamoDbEndpoint).port));
    return { process: child, output, dynamoDbEndpoint, simulatorUrl: simulator[1]!, javaPid: javaPid! };
  }
  throw new Error(`npm start exited before it was ready:\n${output.join('\n')}`);
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

describe.concurrent('npm start', () => {
  test('serves the tables, the simulator with its buyer page, and the API; Ctrl-C (SIGINT) stops everything', async () => {
    const stack = await startLocalStack('npm start');
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
    const fulfillmentUrl = /Fulfillment URL\s+(http:\/\/\S+)/.exec(stack.output.join('\n'))![1]!;
    expect((await control.settings()).fulfillmentUrl).toBe(fulfillmentUrl);
    expect((await fetch(fulfillmentUrl)).status).toBe(405);
    expect((await fetch(`${stack.simulatorUrl}/buyer`)).status).toBe(200);

    stack.process.kill('SIGINT');
    expect(await exitOf(stack.process)).toBe(0);
    await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
    await expect(fetch(`${stack.simulatorUrl}/control/clock`)).rejects.toThrow();
  });

  test('SIGTERM stops everything', async () => {
    const stack = await startLocalStack('npm start');
    stack.process.kill('SIGTERM');
    expect(await exitOf(stack.process)).toBe(0);
    await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
  });

  test('a SIGKILL of the process that owns java still leaves no java behind', async () => {
    const stack = await startLocalStack('node');
    stack.process.kill('SIGKILL');
    await waitUntilGone(stack.javaPid, 7_000);
    await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
  });

  test('a bad setting stops it with a message that names the variable', async () => {
    const child = spawn('npm', ['start'], { cwd: projectRoot, env: { ...process.env, SIMULATOR_PORT: 'http' } });
    stacks.push(child);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    expect(await exitOf(child)).toBe(1);
    expect(stderr).toContain('SIMULATOR_PORT must be a TCP port number');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
