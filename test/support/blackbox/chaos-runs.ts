/**
 * Metering runs as the chaos plays them: `npm run meter` processes, alone or two at once, some SIGKILLed at a random
 * moment (after so many `BatchMeterUsage` calls reached Marketplace, or so many milliseconds in), under whatever faults
 * are set; and the fault-free runs the timeline's checkpoints need, whose summaries must show everything billed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PlannedRun } from './chaos-plan.ts';
import type { MarketplaceControl } from './marketplace-control.ts';
import { meter, startMeter, summaryOf, type MeterArguments, type RunningCommand } from './metering-commands.ts';
import { pollUntil } from './polling.ts';

export interface RunContext {
  readonly marketplace: MarketplaceControl;
  readonly commandEnvironment: Readonly<Record<string, string>>;
}

/** A run as it went, for the trace; `failure` when it failed without being killed. */
export interface RunReport {
  readonly description: string;
  readonly failure?: string;
}

/** The runs started together; resolves when every one has finished or been killed. */
export async function playRuns(
  context: RunContext,
  runs: readonly { planned: PlannedRun; args: MeterArguments }[],
): Promise<RunReport[]> {
  const callsBefore = await context.marketplace.batchMeterUsageRequests();
  return Promise.all(runs.map(({ planned, args }) => playRun(context, planned, args, callsBefore)));
}

async function playRun(
  context: RunContext,
  planned: PlannedRun,
  args: MeterArguments,
  callsBefore: number,
): Promise<RunReport> {
  const name = ['meter', ...args].join(' ');
  const running = startMeter(context.commandEnvironment, args);
  const killed = planned.kill === undefined ? false : await killWhen(context, running, planned.kill, callsBefore);
  const outcome = await running.done;
  if (killed) return { description: `${name} SIGKILLed ${JSON.stringify(planned.kill)}` };
  const lateKill = planned.kill === undefined ? '' : ' (done before its SIGKILL)';
  try {
    const summary = summaryOf(outcome);
    return { description: `${name}${lateKill}: billed ${summary.billed}, pending ${summary.pending}` };
  } catch (error) {
    return { description: `${name} failed`, failure: (error as Error).message };
  }
}

/** Kills the run at its planned moment, unless it finished first; answers whether it was killed. */
async function killWhen(
  context: RunContext,
  running: RunningCommand,
  kill: NonNullable<PlannedRun['kill']>,
  callsBefore: number,
): Promise<boolean> {
  if ('afterMs' in kill) {
    await Promise.race([sleep(kill.afterMs), running.done]);
  } else {
    await pollUntil(
      `${kill.afterCalls} BatchMeterUsage calls or the run's end`,
      async () =>
        running.hasExited() ||
        (await context.marketplace.batchMeterUsageRequests()) >= callsBefore + kill.afterCalls ||
        undefined,
      { intervalMs: 5, timeoutMs: 60_000 },
    );
  }
  if (running.hasExited()) return false;
  running.kill();
  return true;
}

/**
 * A fault-free run for a checkpoint, with the faults cleared for it (and set again after): it must bill everything
 * due, leaving nothing pending and having nothing refused. Answers what went wrong, if anything.
 */
export async function checkpointRun(
  context: RunContext,
  args: MeterArguments,
  faultsToRestore: () => Promise<void>,
): Promise<string | undefined> {
  await context.marketplace.clearFaults();
  try {
    const summary = summaryOf(await meter(context.commandEnvironment, args));
    // Expired buckets are not counted against it: a zero-usage bucket of a subscriber whose final window has just
    // closed is settled expired (0 units); expired units, which would be a failure, show in the report.
    if (summary.pending === 0 && summary.rejected === '0') return undefined;
    return `fault-free ${['meter', ...args].join(' ')} left ${JSON.stringify(summary)}`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await faultsToRestore();
  }
}
