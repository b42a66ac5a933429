/**
 * In AWS time does not jump: final metering runs every minute and the metering run every hour, so a cancelled
 * subscriber's final hour is sent between its send time and its deadline, and every closed hour within the acceptance
 * window. Locally the simulator's clock can be moved forward an hour or a day at once, past all of those instants,
 * which would leave usage unbilled that AWS would have billed. So while the clock moves forward, it stops on the way as
 * the schedules would have run: every few minutes for final metering (at most the final hour's margin apart, so that
 * one stop falls between a send time and its deadline), and once an hour, at the run's minute, for the metering run.
 */
import type { ClockJumpHandler } from '../simulator/simulator.ts';

export interface ClockCatchUpOptions {
  /** `metering.finalHourMarginMinutes`: how long before its deadline a final hour is sent. */
  readonly finalHourMarginMinutes: number;
  /** `metering.scheduleMinute`: the minute of each hour the metering run starts. */
  readonly scheduleMinute: number;
  /** What happened at the last stop, run to its end: the simulator's notifications handled. */
  readonly settle: () => Promise<void>;
  readonly finalMetering: () => Promise<unknown>;
  readonly metering: () => Promise<unknown>;
}

/** The longest a stop is apart from the next: final metering runs every minute in AWS, so this is already coarse. */
const MAX_STOP_INTERVAL_MS = 5 * 60_000;
/** How far the catch-up goes: beyond a week, the clock jumps the rest at once (nothing is billable that late). */
export const MAX_CATCH_UP_MS = 7 * 24 * 3_600_000;
const HOUR_MS = 3_600_000;

export function clockCatchUp(options: ClockCatchUpOptions): ClockJumpHandler {
  const stopIntervalMs = Math.min(MAX_STOP_INTERVAL_MS, options.finalHourMarginMinutes * 60_000);
  const runHourOf = (instantMs: number) => Math.floor((instantMs - options.scheduleMinute * 60_000) / HOUR_MS);
  return async (from, to, stopAt) => {
    const end = Math.min(to.getTime(), from.getTime() + MAX_CATCH_UP_MS);
    let meteredInHour = runHourOf(from.getTime());
    for (let stop = from.getTime(); stop < end; stop = (Math.floor(stop / stopIntervalMs) + 1) * stopIntervalMs) {
      stopAt(new Date(stop));
      await options.settle();
      await runLoggingFailure('final-metering', stop, options.finalMetering);
      if (runHourOf(stop) > meteredInHour) {
        meteredInHour = runHourOf(stop);
        await runLoggingFailure('metering', stop, options.metering);
      }
    }
  };
}

/** A run that fails is logged, as a failed scheduled run is in AWS, and the clock goes on. */
async function runLoggingFailure(name: string, stopMs: number, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    console.error(`clock catch-up: ${name} failed at ${new Date(stopMs).toISOString()}`, error);
  }
}
