/**
 * `npm run meter` and `npm run report` as the seller runs them against the running stack: each a process of its own
 * (`node --import tsx <file>`, what the npm scripts run, without npm's start-up), finding the stack through the ports
 * its banner printed. A metering run may be started and SIGKILLed at any moment, as a crashed host would kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { projectRoot } from '../../../local/config.ts';

export interface CommandOutcome {
  /** The exit code, or `null` when a signal ended the process. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningCommand {
  readonly done: Promise<CommandOutcome>;
  hasExited(): boolean;
  kill(): void;
}

/** What a run's printed summary says about the buckets it found due. */
export interface MeteringSummary {
  readonly billed: number;
  /** `0`, or the reasons with their counts. */
  readonly rejected: string;
  readonly expired: number;
  readonly pending: number;
}

/** `--final`, `--subscriber <id>`, or nothing for the hourly run. */
export type MeterArguments = readonly string[];

export function startMeter(environment: Readonly<Record<string, string>>, args: MeterArguments): RunningCommand {
  return startCommand('local/commands/meter.ts', args, environment);
}

export async function meter(environment: Readonly<Record<string, string>>, args: MeterArguments) {
  return startMeter(environment, args).done;
}

/** The summary a finished `npm run meter` printed; throws, with its output, if it failed or printed none. */
export function summaryOf(outcome: CommandOutcome): MeteringSummary {
  const figure = (label: string) => new RegExp(`^\\s+${label}\\s+(.+)$`, 'm').exec(outcome.stdout)?.[1];
  const [billed, rejected, expired, pending] = ['billed', 'rejected', 'expired', 'pending'].map(figure);
  if (outcome.status !== 0 || billed === undefined || rejected === undefined || expired === undefined) {
    throw new Error(`npm run meter failed (${outcome.status ?? outcome.signal}):\n${outcome.stdout}${outcome.stderr}`);
  }
  return {
    billed: Number.parseInt(billed, 10),
    rejected,
    expired: Number.parseInt(expired, 10),
    pending: Number.parseInt(pending ?? 'NaN', 10),
  };
}

export interface ReportOptions {
  /** UTC days, `YYYY-MM-DD`, both included. */
  readonly from: string;
  readonly to: string;
  readonly subscriberIds: readonly string[];
}

/** `npm run report -- --json`: the parsed report and the exit status (0 when everything reconciles). */
export async function report<Report>(
  environment: Readonly<Record<string, string>>,
  { from, to, subscriberIds }: ReportOptions,
): Promise<{ status: number | null; report: Report; stderr: string }> {
  const subscribers = subscriberIds.flatMap((id) => ['--subscriber', id]);
  const outcome = await startCommand(
    'local/commands/report.ts',
    ['--json', '--from', from, '--to', to, ...subscribers],
    environment,
  ).done;
  try {
    return { status: outcome.status, report: JSON.parse(outcome.stdout) as Report, stderr: outcome.stderr };
  } catch {
    throw new Error(`npm run report printed no report (${outcome.status}):\n${outcome.stdout}${outcome.stderr}`);
  }
}

function startCommand(
  file: string,
  args: readonly string[],
  environment: Readonly<Record<string, string>>,
): RunningCommand {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = Promise.race([
    once(child, 'close').then(([status, signal]) => ({
      status: status as number | null,
      signal: signal as NodeJS.Signals | null,
      stdout,
      stderr,
    })),
    once(child, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  return {
    done,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    kill: () => child.kill('SIGKILL'),
  };
}
