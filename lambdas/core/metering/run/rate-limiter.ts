/**
 * A pacer in front of `BatchMeterUsage`: AWS allows 10 calls per second per account and region, counted over a sliding
 * second, and throttles the rest. Each caller reserves the next slot, one interval after the one before, and waits
 * for it, so callers that arrive together go out one after another at the rate, in arrival order, without polling.
 * A timer that fires late (a busy event loop) would wake several callers at once: each checks again when it wakes,
 * so that calls never go out closer together than the interval. It adapts rather than provokes: each throttle slows
 * it by a tenth (down to half the rate), and each call that goes through brings it back by a hundredth, so that another
 * caller sharing the quota (the other metering function, a seller's own tool) costs a few throttles, not a stream of
 * them. Time and sleeping are injected, so a test can run it without waiting.
 */
import { setTimeout as realSleep } from 'node:timers/promises';

export type Sleep = (ms: number) => Promise<void>;

export interface RateLimiterOptions {
  readonly callsPerSecond: number;
  /** Milliseconds on a monotonic clock. */
  readonly now?: () => number;
  readonly sleep?: Sleep;
}

/** How much a throttle slows the limiter, and how much a call that went through speeds it up again. */
const SLOWDOWN = 0.9;
const RECOVERY = 1.01;
/** The slowest the limiter gets, as a share of its rate. */
const FLOOR = 0.5;

export class RateLimiter {
  private readonly maxCallsPerMs: number;
  private callsPerMs: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  /** The slot the last caller reserved, and when the last call actually went out. */
  private lastSlot = Number.NEGATIVE_INFINITY;
  private lastRelease = Number.NEGATIVE_INFINITY;

  constructor(options: RateLimiterOptions) {
    if (!(options.callsPerSecond > 0)) throw new RangeError('callsPerSecond must be positive');
    this.maxCallsPerMs = options.callsPerSecond / 1000;
    this.callsPerMs = this.maxCallsPerMs;
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => realSleep(ms));
  }

  /** Resolves when the caller may make its call. */
  async acquire(): Promise<void> {
    const now = this.now();
    const slot = Math.max(now, this.lastSlot + this.interval());
    this.lastSlot = slot;
    if (slot > now) await this.sleep(slot - now);
    for (let wait = this.lastRelease + this.interval() - this.now(); wait > 0;) {
      await this.sleep(wait);
      wait = this.lastRelease + this.interval() - this.now();
    }
    this.lastRelease = this.now();
  }

  /** The service throttled a call: a tenth slower, down to half the rate. */
  throttled(): void {
    this.callsPerMs = Math.max(this.maxCallsPerMs * FLOOR, this.callsPerMs * SLOWDOWN);
  }

  /** A call went through: back towards the rate, a hundredth at a time. */
  succeeded(): void {
    this.callsPerMs = Math.min(this.maxCallsPerMs, this.callsPerMs * RECOVERY);
  }

  /** Calls per second it paces at now. */
  get callsPerSecond(): number {
    return this.callsPerMs * 1000;
  }

  private interval(): number {
    return 1 / this.callsPerMs;
  }
}
