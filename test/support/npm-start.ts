/**
 * The whole local stack as `npm start` runs it, in a child process on free ports, with everything it writes to stdout
 * and stderr kept: that output is "the logs", where the handlers log through Powertools. Started through npm itself,
 * or as the bare node process npm runs (to kill the very process that owns java).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../local/config.ts';
import { javaProcessesOnPort } from './processes.ts';

export interface NpmStart {
  readonly buyerPageUrl: string;
  readonly fulfillmentUrl: string;
  /** Where the fulfillment URL sends the browser: its `Location` (`register`) resolved as a browser resolves it. */
  readonly registerUrl: string;
  readonly simulatorUrl: string;
  /** The local event bus's list of what was published (`GET /events`). */
  readonly eventsUrl: string;
  /** The API behind the local gateway; the access check is `GET <apiUrl>/subscribers/<url-encoded subscriber id>`. */
  readonly apiUrl: string;
  /** The local webhook receiver's list of the calls it has had (`GET /events`); none if a webhook URL is configured. */
  readonly webhookEventsUrl: string | undefined;
  /** The stand-in for the seller's app, where cdk.json's example app URLs lead locally; none if they are real. */
  readonly standInAppUrl: string | undefined;
  readonly dynamoDbEndpoint: string;
  readonly tableNames: readonly string[];
  /** The java process of DynamoDB Local, which must not outlive the stack. */
  readonly javaPid: number;
  /** The process started: npm, or node itself. */
  readonly process: ChildProcess;
  /** Everything the stack has written to stdout and stderr so far. */
  logs(): string;
  /** Sends `signal` (SIGTERM, as a service manager stops it, by default); answers the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The last line of the banner `local/start.ts` prints when everything is up. */
const READY_LINE = /^\s*Products\s.*\n/m;
/**
 * How long the stack may take to print its banner before the start is given up, with what it printed so far: long
 * enough for several stacks starting at once on a loaded machine, and an error that says why rather than a bare test
 * timeout.
 */
const STARTUP_TIMEOUT_MS = 120_000;

/**
 * `environment` is added to the stack's. Its logs are the functions' JSON lines (`LOG_FORMAT=json`) unless it says
 * otherwise: what the tests read them for (a token leaked, a line logged) needs every line whole. With
 * `ownProcessGroup`, the stack leads a process group of its own, as in a terminal, where Ctrl-C signals the whole group.
 */
/** `npm start`'s port variables, each set to pick a free port: stacks of tests never collide with anything. */
export const FREE_PORTS = {
  PORT: '0',
  SIMULATOR_PORT: '0',
  EVENT_BUS_PORT: '0',
  WEBHOOK_RECEIVER_PORT: '0',
  DYNAMODB_PORT: '0',
} as const;

export async function startNpmStart(
  via: 'npm' | 'node' = 'node',
  environment: Readonly<Record<string, string>> = {},
  { ownProcessGroup = false } = {},
): Promise<NpmStart> {
  // Its own state file: a test's stack must not take the place of the one a developer is running.
  const ownStateFile = join(tmpdir(), `local-stack-${randomUUID()}.json`);
  const env = {
    ...process.env,
    LOG_FORMAT: 'json',
    ...FREE_PORTS,
    LOCAL_STACK_STATE: ownStateFile,
    // The switch someone debugging might turn on: the handlers must still log no event (so, no token).
    POWERTOOLS_LOGGER_LOG_EVENT: 'true',
    ...environment,
  };
  const child =
    via === 'npm'
      ? spawn('npm', ['start'], { cwd: projectRoot, env, detached: ownProcessGroup })
      : spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
          cwd: projectRoot,
          env,
          detached: ownProcessGroup,
        });
  // A stack killed leaves its state file behind; nothing reads this one after the stack is gone.
  child.once('exit', () => rmSync(ownStateFile, { force: true }));
  const output: string[] = [];
  const logs = () => output.join('');
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  try {
    return await parse(await untilReady(child, logs), logs, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

/** Answers the logs once the banner is complete; rejects, with the logs so far, if the stack exits or takes too long. */
export function untilReady(child: ChildProcess, logs: () => string, timeoutMs = STARTUP_TIMEOUT_MS): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start was not ready in ${timeoutMs} ms:\n${logs()}`)),
      timeoutMs,
    );
    const check = () => {
      if (!READY_LINE.test(logs())) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve(logs());
    };
    child.stdout?.on('data', check);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before it was ready:\n${logs()}`));
    });
  });
}

async function parse(text: string, logs: () => string, child: ChildProcess): Promise<NpmStart> {
  const printed = (label: string, pattern = /(http:\/\/\S+)/) => {
    const value = new RegExp(`${label}\\s+${pattern.source}`).exec(text)?.[1];
    if (value === undefined) throw new Error(`npm start did not print "${label}"; it wrote:\n${logs()}`);
    return value;
  };
  const fulfillmentUrl = printed('Fulfillment URL');
  const dynamoDbEndpoint = printed('DynamoDB Local');
  const [javaPid] = await javaProcessesOnPort(Number(new URL(dynamoDbEndpoint).port));
  if (javaPid === undefined) throw new Error(`no java serves ${dynamoDbEndpoint}`);
  return {
    buyerPageUrl: printed('Subscribe as a buyer'),
    fulfillmentUrl,
    registerUrl: new URL('register', fulfillmentUrl).href,
    simulatorUrl: printed('Marketplace simulator'),
    eventsUrl: printed('Seller events'),
    apiUrl: printed('Access check', /(http:\/\/\S+?)\/subscribers\//),
    webhookEventsUrl: /^\s*Webhook\s.*calls received at (http:\/\/\S+)/m.exec(text)?.[1],
    standInAppUrl: /^\s*Your app \(stand-in\)\s+(http:\/\/\S+)/m.exec(text)?.[1],
    dynamoDbEndpoint,
    tableNames: printed('tables', /(.+)/).split(', '),
    javaPid,
    process: child,
    logs,
    stop: (signal = 'SIGTERM') => stop(child, signal),
  };
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((resolve) => {
    // A process a signal ended has no exit code, only a signal code.
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
