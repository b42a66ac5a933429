/**
 * A token bucket in front of `BatchMeterUsage`: AWS allows 10 calls per second per account and region, and throttles
 * the rest. Tokens may go negative: a caller takes its token at once and waits until the bucket would have refilled
 * it, so callers that arrive together go out one after another at the configured rate, in arrival order, without
 * polling. Time and sleeping are injected, so a test can run it without waiting.
 */
import { setTimeout as realSleep } from 'node:timers/promises';

export type Sleep = (ms: number) => Promise<void>;

export interface RateLimiterOptions {
  readonly callsPerSecond: number;
  /**
   * Calls that may go out back to back after a quiet spell. 1 by default: AWS counts calls per second over a sliding
   * window, in which a burst followed by the steady rate would exceed the quota.
   */
  readonly burst?: number;
  /** Milliseconds on a monotonic clock. */
  readonly now?: () => number;
  readonly sleep?: Sleep;
}

export class RateLimiter {
  private readonly callsPerMs: number;
  private readonly burst: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private tokens: number;
  private refilledAt: number;

  constructor(options: RateLimiterOptions) {
    if (!(options.callsPerSecond > 0)) throw new RangeError('callsPerSecond must be positive');
    this.callsPerMs = options.callsPerSecond / 1000;
    this.burst = Math.max(1, options.burst ?? 1);
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? ((ms) => realSleep(ms));
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** Resolves when the caller may make its call. */
  async acquire(): Promise<void> {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.callsPerMs);
    this.refilledAt = now;
    this.tokens -= 1;
    if (this.tokens < 0) await this.sleep(-this.tokens / this.callsPerMs);
  }
}
