/**
 * `npm start` in a child process on free ports, as a seller starts it, with the metering schedules pushed an hour
 * apart so that the test alone decides when metering runs go (the stack still starts final metering at once on
 * `Subscriber Ending`). Only what the banner prints is known about it: its URLs and ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../../local/config.ts';
import { FREE_PORTS, untilReady } from '../npm-start.ts';

export interface StackProcess {
  /** The API stage: `POST <apiUrl>/usage`, `GET <apiUrl>/subscribers/<id>`. */
  readonly apiUrl: string;
  readonly fulfillmentUrl: string;
  readonly simulatorUrl: string;
  /** What `npm run meter` and `npm run report` need to find this stack. */
  readonly commandEnvironment: Readonly<Record<string, string>>;
  /** Everything the stack has written to stdout and stderr so far. */
  logs(): string;
  /** SIGTERM, as a service manager stops it; SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The last line of the banner `local/start.ts` prints once everything is up. */
const STARTUP_TIMEOUT_MS = 90_000;

export async function startStackProcess(): Promise<StackProcess> {
  const statePath = join(tmpdir(), `local-stack-${randomUUID()}.json`);
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      ...FREE_PORTS,
      LOCAL_STACK_STATE: statePath,
      METERING_INTERVAL_SECONDS: '3600',
      FINAL_METERING_INTERVAL_SECONDS: '3600',
    },
  });
  // A stack killed leaves its state file behind; the commands that read it run while the stack does.
  child.once('exit', () => rmSync(statePath, { force: true }));
  const output: string[] = [];
  const logs = () => output.join('');
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  try {
    await untilReady(child, logs, STARTUP_TIMEOUT_MS);
    return fromBanner(child, logs, statePath);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

function fromBanner(child: ChildProcess, logs: () => string, statePath: string): StackProcess {
  const banner = logs();
  const printed = (label: string, pattern = /(http:\/\/\S+)/) => {
    const value = new RegExp(`${label}\\s+${pattern.source}`).exec(banner)?.[1];
    if (value === undefined) throw new Error(`npm start did not print "${label}"; it wrote:\n${banner}`);
    return value;
  };
  const simulatorUrl = printed('Marketplace simulator');
  return {
    apiUrl: printed('Access check', /(http:\/\/\S+?)\/subscribers\//),
    fulfillmentUrl: printed('Fulfillment URL'),
    simulatorUrl,
    commandEnvironment: { LOCAL_STACK_STATE: statePath },
    logs,
    stop: (graceMs = 30_000) => stop(child, graceMs),
  };
}

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
