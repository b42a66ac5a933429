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

export class SimulatorClock {
  private anchorMs: number;
  private anchorMonotonicMs: number;
  private isRunning: boolean;

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
}
