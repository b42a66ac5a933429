/**
 * An EventBridge schedule, locally: invokes a function every `everyMs` with the `Scheduled Event` EventBridge sends.
 * A run still going when the next is due is not overlapped; that next run is skipped.
 */
import type { Context, ScheduledEvent } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../lambdas/core/clock.ts';
import { createLambdaContext } from './lambda-context.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-aws.ts';

export interface LocalScheduleOptions {
  /** The schedule rule's name, in the event's `resources`. */
  readonly ruleName: string;
  readonly everyMs: number;
  readonly handler: (event: ScheduledEvent<Record<string, never>>, context: Context) => Promise<unknown>;
  readonly functionName: string;
  readonly functionTimeoutMs?: number;
  /** The time the events carry (the system's by default). */
  readonly clock?: Clock;
}

export interface LocalSchedule {
  /** No more runs; resolves once the one in progress, if any, has finished. */
  stop(): Promise<void>;
}

export function startLocalSchedule(options: LocalScheduleOptions): LocalSchedule {
  let running: Promise<void> | undefined;

  const run = async () => {
    const now = (options.clock ?? systemClock).now();
    try {
      await options.handler(
        scheduledEvent(options.ruleName, now),
        createLambdaContext(options.functionName, options.functionTimeoutMs ?? 60_000, now),
      );
    } catch (error) {
      console.error(`schedule ${options.ruleName}: ${options.functionName} failed`, error);
    }
  };

  const timer = setInterval(() => {
    running ??= run().finally(() => {
      running = undefined;
    });
  }, options.everyMs);
  // A schedule alone does not keep the process alive: the servers of the local stack do.
  timer.unref();

  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

/** The event EventBridge sends a scheduled rule's target. */
export function scheduledEvent(ruleName: string, now: Date): ScheduledEvent<Record<string, never>> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: `${now.toISOString().slice(0, 19)}Z`,
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:rule/${ruleName}`],
    detail: {},
  };
}
