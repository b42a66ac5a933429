/**
 * The simulator's notion of "now". Every time-dependent rule (timestamp window, month-end cut-off, token TTL, license
 * grace) reads this clock and nothing else, so tests and the local stack can set it, freeze it or move it forward.
 *
 * A running clock advances with real (monotonic) time from the last instant it was set to; a frozen one stands still
 * until it is set or advanced.
 */
export interface ClockState {
  readonly now: Date;
  readonly running: boolean;
}

/** The earliest and latest instants a clock showed over a recent stretch of real time. */
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
  /** What the clock showed just before each time it was set in the last {@link SHOWN_MEMORY_MS}, oldest first. */
  private readonly shownBeforeSets: { readonly atMonotonicMs: number; readonly shownMs: number }[] = [];

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
    return this.isRunning ? this.anchorMs + (this.monotonicMs() - this.anchorMonotonicMs) : this.anchorMs;
  }

  set(instant: Date, running = this.isRunning): void {
    const setAt = this.monotonicMs();
    this.shownBeforeSets.push({ atMonotonicMs: setAt, shownMs: this.nowMs() });
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
   * The span of instants the clock showed over the last five minutes of real time: a caller that read the time just
   * before the clock was moved (which the local stack does in steps, hours in a second) still holds one of these.
   */
  recentlyShown(): ShownSpan {
    this.forgetShownBefore(this.monotonicMs() - SHOWN_MEMORY_MS);
    const shown = [...this.shownBeforeSets.map((entry) => entry.shownMs), this.nowMs()];
    return { earliest: new Date(Math.min(...shown)), latest: new Date(Math.max(...shown)) };
  }

  private forgetShownBefore(monotonicMs: number): void {
    while ((this.shownBeforeSets[0]?.atMonotonicMs ?? Infinity) < monotonicMs) this.shownBeforeSets.shift();
  }
}
