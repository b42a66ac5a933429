/**
 * In AWS time does not jump: final metering runs every minute and the metering run every hour, so a cancelled
 * subscriber's final hour is sent between its send time and its deadline, and every closed hour within the acceptance
 * window. Locally the simulator's clock can be moved forward an hour or a day at once, past all of those instants,
 * which would leave usage unbilled that AWS would have billed. So while the clock moves forward, it stops on the way as
 * the schedules would have run: every minute from a final-metering window's send time to its deadline (as many tries
 * as AWS gets), at the deadline itself to end the subscription (the sweep, every 5 minutes in AWS), once an hour at the
 * metering run's minute, and every 15 minutes besides (to see ends heard of on the way before their windows open).
 */
import type { ClockJumpHandler } from '../simulator/simulator.ts';

export interface ClockCatchUpOptions {
  /** `metering.finalHourMarginMinutes`: how long before its deadline a final hour is sent. */
  readonly finalHourMarginMinutes: number;
  /** `metering.scheduleMinute`: the minute of each hour the metering run starts. */
  readonly scheduleMinute: number;
  /** What happened at the last stop, run to its end: the simulator's notifications handled. */
  readonly settle: () => Promise<void>;
  /** The final-metering deadlines still ahead of an instant. */
  readonly finalMeteringDeadlines: (after: Date) => Promise<readonly Date[]>;
  readonly finalMetering: () => Promise<unknown>;
  readonly metering: () => Promise<unknown>;
  /** The sweep that ends the subscriptions whose final-metering window has passed (`Subscriber Ended`). */
  readonly closeFinalMeteringWindows: () => Promise<unknown>;
}

/**
 * How far apart stops are otherwise: often enough that a subscriber whose end is heard of on the way (a notification
 * due then) is seen before its final-metering window opens (grace less margin: 45 minutes by default).
 */
const REGULAR_STOP_EVERY_MS = 15 * 60_000;
/** How far apart they are inside a window: final metering's schedule in AWS. */
const FINAL_METERING_EVERY_MS = 60_000;
/** How far the catch-up goes: beyond a week, the clock jumps the rest at once (nothing is billable that late). */
export const MAX_CATCH_UP_MS = 7 * 24 * 3_600_000;
const HOUR_MS = 3_600_000;

export function clockCatchUp(options: ClockCatchUpOptions): ClockJumpHandler {
  const marginMs = options.finalHourMarginMinutes * 60_000;
  const regularMs = Math.min(REGULAR_STOP_EVERY_MS, marginMs);
  const scheduleOffsetMs = options.scheduleMinute * 60_000;
  const runHourOf = (instantMs: number) => Math.floor((instantMs - scheduleOffsetMs) / HOUR_MS);
  /**
   * The stop after `stop`: the next regular one, the metering run's next minute, or a final-metering window's (its
   * send time, each minute up to its deadline, then the deadline).
   */
  const nextStop = (stop: number, deadlines: readonly Date[]) => {
    const windowStops = deadlines.map((deadline) => {
      const sendFrom = deadline.getTime() - marginMs;
      return Math.min(stop < sendFrom ? sendFrom : stop + FINAL_METERING_EVERY_MS, deadline.getTime());
    });
    const regular = (Math.floor(stop / regularMs) + 1) * regularMs;
    const nextRun = (runHourOf(stop) + 1) * HOUR_MS + scheduleOffsetMs;
    return Math.min(regular, nextRun, ...windowStops);
  };
  return async (from, to, stops) => {
    const end = Math.min(to.getTime(), from.getTime() + MAX_CATCH_UP_MS);
    if (end <= from.getTime()) return;
    // The move's start was the last move's end, where that one ran what was due: not run again.
    let meteredInHour = runHourOf(from.getTime());
    let deadlines: readonly Date[] = [];
    // Its end is a stop too: a move to the metering run's minute, a send time or a deadline runs what is due there,
    // before the control call answers (a move an hour at a time from the run's minute would otherwise never meter).
    for (let stop = from.getTime(); ; stop = Math.min(nextStop(stop, deadlines), end)) {
      await stops.at(new Date(stop));
      const passed = deadlines.some((deadline) => deadline.getTime() <= stop);
      const meteringDue = runHourOf(stop) > meteredInHour;
      // A run may freeze an hour: a restart must not take up a clock before it. The stop is saved only then (a week's
      // stops each rewriting the simulator's state would make a long move slow), and before what is handled there.
      if (deadlines.length > 0 || meteringDue || passed) await stops.saved();
      await options.settle();
      deadlines = await options.finalMeteringDeadlines(new Date(stop));
      if (deadlines.length > 0) await stops.saved();
      // Final metering has work only for a subscriber inside a window (an end heard of sends its closed hours at once).
      if (deadlines.length > 0) await runLoggingFailure('final-metering', stop, options.finalMetering);
      if (meteringDue) {
        meteredInHour = runHourOf(stop);
        await runLoggingFailure('metering', stop, options.metering);
      }
      if (passed) await runLoggingFailure('final-metering-windows', stop, options.closeFinalMeteringWindows);
      if (stop >= end) break;
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
