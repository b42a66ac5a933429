/** Waiting on a condition the stack reaches asynchronously, never on a fixed delay. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  /** Generous: a loaded machine may take seconds where an idle one takes milliseconds. */
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/** Calls `probe` until it answers something other than `undefined`, and answers that. */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 25 }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
