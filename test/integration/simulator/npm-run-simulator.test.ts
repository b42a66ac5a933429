/**
 * `npm run simulator` as a seller runs it for their own integration tests (docs/simulator.md): it prints where it
 * listens and the products it has, keeps its state in `SIMULATOR_DATA_DIR` across a restart, and a second one (or an
 * `npm start`) started on the same directory stops with a message naming the holder, rather than saving over the
 * first one's state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { STATE_FILE_NAME, STATE_LOCK_FILE_NAME } from '../../../simulator/state-file.ts';
import { FREE_PORTS } from '../../support/npm-start.ts';
import { meteredProduct } from '../../support/simulator.ts';
import { removeDirectory } from '../../support/scratch-directory.ts';

interface Started {
  readonly process: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

let dataDir: string;
const started: Started[] = [];

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'npm-run-simulator-'));
});
afterEach(async () => {
  // Each leads a process group: npm and the node process it started go together.
  for (const { process: child } of started.splice(0)) {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }
  await removeDirectory(dataDir);
});

/** `npm run simulator` (or the command given) on free ports and the test's data directory. */
function npmRun(script = 'simulator'): Started {
  const child = spawn('npm', ['run', '-s', script], {
    cwd: projectRoot,
    env: {
      ...process.env,
      ...FREE_PORTS,
      SIMULATOR_DATA_DIR: dataDir,
      DYNAMODB_DATA_DIR: dataDir,
      LOCAL_STACK_STATE: join(dataDir, 'local-stack.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = { process: child, output: () => output, exited };
  started.push(running);
  return running;
}

/** The URL the banner names, once it is printed (or the output, if the simulator stopped first). */
async function listening(simulator: Started): Promise<string> {
  for (;;) {
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(simulator.output())?.[1];
    if (url !== undefined && /^Press Ctrl-C/m.test(simulator.output())) return url;
    if (simulator.process.exitCode !== null) throw new Error(`npm run simulator stopped:\n${simulator.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a second one on the same data directory is refused; stopped and started again, it has what it had', async () => {
  const first = npmRun();
  const control = new SimulatorControl(await listening(first));
  await control.createProduct(meteredProduct({ code: 'seller-own-product' }));

  const second = npmRun();
  expect(await second.exited).toBe(1);
  expect(second.output()).toContain('simulator: SIMULATOR_DATA_DIR: Another simulator (pid ');
  expect(second.output()).toContain(`) keeps its state in ${dataDir}: stop it first`);
  // npm start on it too is refused before it touches the directory: no tables beside the simulator's state.
  const stack = npmRun('start');
  expect(await stack.exited).toBe(1);
  expect(stack.output()).toContain('npm start: DYNAMODB_DATA_DIR: Another simulator (pid ');
  expect((await readdir(dataDir)).sort()).toEqual([STATE_FILE_NAME, STATE_LOCK_FILE_NAME]);

  first.process.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  expect(existsSync(join(dataDir, STATE_FILE_NAME))).toBe(true);
  expect(existsSync(join(dataDir, STATE_LOCK_FILE_NAME))).toBe(false);

  const again = npmRun();
  await listening(again);
  // The banner names the product the first run was given, beside those of cdk.json.
  expect(again.output()).toMatch(/^Products: .*seller-own-product \(/m);
  expect(again.output()).toMatch(/^Products: .*analytics-pro-example \(license identity\)/m);
});
