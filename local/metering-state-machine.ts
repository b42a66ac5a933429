/**
 * The metering state machine, locally: the hourly schedule starts it, and it invokes the metering function with the
 * schedule's event, then again each time a run hands over (its time budget ran out before the backlog did), as the
 * deployed Step Functions state machine does (`lib/metering.ts`).
 */
import type { Context } from 'aws-lambda';
import type { Clock } from '../lambdas/core/clock.ts';
import { createLambdaContext } from './lambda-context.ts';

export interface MeteringInvocation {
  readonly handler: (event: unknown, context: Context) => Promise<{ readonly handOver: boolean } | undefined>;
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
}

/** Invokes the function until a run finishes without handing over; answers how many runs it took. */
export async function runMeteringStateMachine(invocation: MeteringInvocation, event: unknown): Promise<number> {
  for (let runs = 1; ; runs++) {
    const context = createLambdaContext(invocation.functionName, invocation.timeoutMs, invocation.clock.now());
    const summary = await invocation.handler(event, context);
    if (summary?.handOver !== true) return runs;
  }
}
