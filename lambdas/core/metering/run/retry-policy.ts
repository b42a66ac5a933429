/**
 * How often and how long a `BatchMeterUsage` call is retried. The SDK's own retries are off (`maxAttempts: 1`) for
 * the metering client: this loop also re-sends `UnprocessedRecords`, which the SDK sees as a success, and it counts
 * throttles and retries for the run's summary.
 */
export interface RetryPolicy {
  /** Calls per batch, the first one included. */
  readonly maxAttempts: number;
  /** The backoff ceiling before the first retry; it doubles for each retry after that. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Six calls with about 0.2, 0.4, 0.8, 1.6 and 3.2 s between them: some 6 s of waiting per batch at most, which rides
 * out a throttling burst or a brief outage while a run stays well inside its hour. What still fails stays pending for
 * the next run, so retrying longer here would only delay the other batches.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * For a call holding a record the next hourly run may come too late for (its acceptance window closes first): there is
 * no next time, so it is retried as long as the run's time budget and the record's window last, for up to some 7
 * minutes of pauses (9 at most: doubling to 10 s, jittered), and each half of a batch split again as long.
 */
export const LAST_CHANCE_RETRY_POLICY: RetryPolicy = { maxAttempts: 60, baseDelayMs: 200, maxDelayMs: 10_000 };

/**
 * The pause before retry number `retry` (1 for the first): "equal jitter", half of the exponential step fixed and half
 * random, so that batches failing together spread out (the random half) yet never hammer a throttled service with no
 * pause at all (the fixed half).
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return step / 2 + random() * (step / 2);
}
