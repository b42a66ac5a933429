/**
 * The subscriber state machine, as facts rather than transitions. Marketplace's notifications arrive late, twice, or
 * out of order, from two families (EventBridge and the legacy SNS topics); each one records *when* something happened
 * (activated, failed, end requested, ended). The facts keep the latest time of each kind, so folding in a signal is
 * commutative and idempotent: any order and any number of copies of the same history give the same facts, and a
 * stale signal (older than the one that set the current state) changes nothing. The status is derived from them:
 *
 * ```
 *   pending --activated--> active --end requested--> ending --(final-metering window passes | ended)--> ended
 *      |                     ^                          |
 *      +--failed--> failed   +------activated again-----+   (a buyer who resubscribes before the end)
 * ```
 *
 * The latest fact wins; at the same instant, the later stage (ended > ending > failed > active) does.
 */
import type { SubscriptionStatus } from '../subscriber.ts';

/** What Marketplace has said, each kind at its latest time (ISO-8601). */
export interface LifecycleFacts {
  readonly activatedAt?: string | undefined;
  readonly failedAt?: string | undefined;
  readonly endRequestedAt?: string | undefined;
  readonly endedAt?: string | undefined;
}

export type LifecycleFact = keyof LifecycleFacts;

/** A fact, by the kind of notification that establishes it. */
export const statusOfFact: Readonly<Record<LifecycleFact, SubscriptionStatus>> = {
  activatedAt: 'active',
  failedAt: 'failed',
  endRequestedAt: 'ending',
  endedAt: 'ended',
};

/** Which fact wins a tie: the later stage of the lifecycle. */
const precedence: readonly LifecycleFact[] = ['endedAt', 'endRequestedAt', 'failedAt', 'activatedAt'];

/** The facts with one more fact folded in: the later of the two times of its kind. */
export function withFact(facts: LifecycleFacts, fact: LifecycleFact, at: Date): LifecycleFacts {
  const current = facts[fact];
  const time = at.toISOString();
  return current !== undefined && current >= time ? facts : { ...facts, [fact]: time };
}

/** The status the facts establish, and the time of the fact that set it. */
export function statusOf(facts: LifecycleFacts): { status: SubscriptionStatus; since?: string } {
  let winner: LifecycleFact | undefined;
  for (const fact of precedence) {
    const time = facts[fact];
    if (time !== undefined && (winner === undefined || time > facts[winner]!)) winner = fact;
  }
  return winner === undefined ? { status: 'pending' } : { status: statusOfFact[winner], since: facts[winner] };
}

/** Until when final usage is accepted after an end was requested (AWS: about an hour). */
export function finalMeteringDeadline(facts: LifecycleFacts, graceSeconds: number): Date | undefined {
  return facts.endRequestedAt === undefined
    ? undefined
    : new Date(Date.parse(facts.endRequestedAt) + graceSeconds * 1000);
}

/**
 * The status as of `now`: an `ending` subscription whose final-metering window has passed has ended, since its
 * deadline. This is derived, never stored as a fact: a resubscription dated inside the window, however late it
 * arrives, still outranks the end request and makes the subscription active again.
 */
export function statusAsOf(
  facts: LifecycleFacts,
  now: Date,
  graceSeconds: number,
): { status: SubscriptionStatus; since?: string } {
  const current = statusOf(facts);
  const deadline = finalMeteringDeadline(facts, graceSeconds);
  return current.status === 'ending' && deadline !== undefined && now >= deadline
    ? { status: 'ended', since: deadline.toISOString() }
    : current;
}

export function effectiveStatus(facts: LifecycleFacts, now: Date, graceSeconds: number): SubscriptionStatus {
  return statusAsOf(facts, now, graceSeconds).status;
}

/** Whether usage may be metered for the subscription now: live, or inside its final-metering window. */
export function isMeterable(status: SubscriptionStatus): boolean {
  return status === 'active' || status === 'ending';
}
