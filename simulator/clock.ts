/**
 * The simulator's notion of "now". Every time-dependent rule (timestamp window, month-end cut-off, token TTL, license
 * grace) reads this clock and nothing else, so tests and the local stack can set it, freeze it or move it forward.
 *
 * A running clock advances with real (monotonic) time from the last instant it was set to; a frozen one stands still
 * until it is set or advanced.
 */

/**
 * The years 0000 to 9999: what an ISO-8601 date of four digits writes, so that the clock can always be set back to a
 * time it showed. Far beyond any test; a running clock that reaches the end stands still there.
 */
export const EARLIEST_CLOCK_MS = Date.parse('0000-01-01T00:00:00.000Z');
export const LATEST_CLOCK_MS = Date.parse('9999-12-31T23:59:59.999Z');

export interface ClockState {
  readonly now: Date;
  readonly running: boolean;
}

/** A stretch of instants a clock showed, from one setting of it to the next (or to now). */
export interface ShownSpan {
  readonly earliest: Date;
  readonly latest: Date;
}

/** How far back (real time) the clock remembers what it showed before it was set: see {@link SimulatorClock.recentlyShown}. */
const SHOWN_MEMORY_MS = 5 * 60_000;

export class SimulatorClock {
  private anchorMs: number;
  private anchorMonotonicMs: number;
  private isRunning: boolean;
  /** What the clock showed between settings, each ended in the last {@link SHOWN_MEMORY_MS}, oldest first. */
  private readonly shownBeforeSets: ShownBetweenSettings[] = [];

  constructor(
    start: Date = new Date(),
    running = true,
    private readonly monotonicMs: () => number = () => performance.now(),
  ) {
    this.anchorMs = start.getTime();
    this.anchorMonotonicMs = this.monotonicMs();
    this.isRunning = running;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    if (!this.isRunning) return this.anchorMs;
    return Math.min(this.anchorMs + (this.monotonicMs() - this.anchorMonotonicMs), LATEST_CLOCK_MS);
  }

  set(instant: Date, running = this.isRunning): void {
    const setAt = this.monotonicMs();
    this.shownBeforeSets.push(this.shownSinceSetting(setAt));
    this.forgetShownBefore(setAt - SHOWN_MEMORY_MS);
    this.anchorMs = instant.getTime();
    this.anchorMonotonicMs = this.monotonicMs();
    this.isRunning = running;
  }

  advance(milliseconds: number): void {
    this.set(new Date(this.nowMs() + milliseconds));
  }

  state(): ClockState {
    return { now: this.now(), running: this.isRunning };
  }

  /**
   * The instants the clock showed over the last five minutes of real time before it was last set, as spans from one
   * setting to the next, and the time it shows now: a caller that read the time just before the clock was moved
   * (which the local stack does in steps, hours in a second) still holds one of these.
   */
  recentlyShown(): readonly ShownSpan[] {
    const sinceMonotonicMs = this.monotonicMs() - SHOWN_MEMORY_MS;
    this.forgetShownBefore(sinceMonotonicMs);
    // Since the last setting the clock has gone on as any clock does: only what it shows now is current.
    const now = this.now();
    return [
      ...this.shownBeforeSets.map((shown) => shownSince(shown, sinceMonotonicMs)),
      { earliest: now, latest: now },
    ];
  }

  private shownSinceSetting(untilMonotonicMs: number): ShownBetweenSettings {
    return { endedAtMonotonicMs: untilMonotonicMs, fromMs: this.anchorMs, toMs: this.nowMs(), running: this.isRunning };
  }

  private forgetShownBefore(monotonicMs: number): void {
    while ((this.shownBeforeSets[0]?.endedAtMonotonicMs ?? Infinity) < monotonicMs) this.shownBeforeSets.shift();
  }
}

interface ShownBetweenSettings {
  readonly endedAtMonotonicMs: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly running: boolean;
}

/** The part of `shown` the clock showed from `sinceMonotonicMs` on: a running clock showed each instant once, in order. */
function shownSince(shown: ShownBetweenSettings, sinceMonotonicMs: number): ShownSpan {
  const earliest = shown.running
    ? Math.max(shown.fromMs, shown.toMs - (shown.endedAtMonotonicMs - sinceMonotonicMs))
    : shown.fromMs;
  return { earliest: new Date(earliest), latest: new Date(shown.toMs) };
}
