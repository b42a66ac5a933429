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
 * The latest fact wins; at the same instant, the later stage (ended > ending > failed > active) does, unless the
 * activation is a resubscription, which follows an end at its instant, and the first end request at its instant
 * (`resubscribedAtItsRequest`). And an end that concludes an end request the buyer has since withdrawn by subscribing
 * again (a legacy `unsubscribe-success` an hour after the `unsubscribe-pending`, arriving after the new
 * `subscribe-success`, even when the buyer has asked to end the new subscription too) ends nothing.
 *
 * A failure once a started subscription is ending or has ended is a legacy buyer's attempt to subscribe again that
 * failed: it leaves that subscription as it was.
 *
 * A subscription that starts again after an end is billed as two: the old one's usage up to its end, the new one's from
 * its activation, never the time between the two (`restartOf`); after several restarts, as the last two subscriptions,
 * which the recent activations and end requests a resubscribable subscriber keeps tell (`lastTwoSubscriptions`).
 */
import type { SubscriptionStatus } from '../subscriber.ts';

/** What Marketplace has said, each kind at its latest time (ISO-8601). */
export interface LifecycleFacts {
  readonly activatedAt?: string | undefined;
  readonly failedAt?: string | undefined;
  readonly endRequestedAt?: string | undefined;
  readonly endedAt?: string | undefined;
  /**
   * The earliest activation: when usage became billable. `activatedAt` moves with every later `License Updated` (an
   * upgrade, a renewal), so the start of the subscription is kept beside it, folded the other way (the earlier wins).
   */
  readonly startedAt?: string | undefined;
  /**
   * The earliest end request or end, folded like `startedAt` (the earlier wins): with the latest ones, it tells where
   * the gap before a restart begins (`restartOf`) however many times the subscription has ended since.
   */
  readonly firstEndAt?: string | undefined;
  /**
   * Whether the buyer may subscribe again under this subscriber id (a legacy product's subscriber is its product code
   * and customer identifier), so that an activation after the first is always a new subscription (which may follow an
   * end at its very instant: `statusOf`). A license's activations after the first are updates, and its end is final.
   */
  readonly resubscribable?: true | undefined;
  /**
   * A buyer who may subscribe again: the latest activations and end requests (at most `RECENT_FACTS` of each, oldest
   * first), so that once the buyer has subscribed again twice, the subscription before the latest is known, not only
   * the first (`lastTwoSubscriptions`). Folded as sets: any order of the same facts keeps the same ones.
   */
  readonly recentActivations?: readonly string[] | undefined;
  readonly recentEndRequests?: readonly string[] | undefined;
  /**
   * The latest ends, kept as those are: an end no request came shortly before (its `unsubscribe-pending` lost) parts
   * two subscriptions as a request does, however many ends come after it (`partings`).
   */
  readonly recentEnds?: readonly string[] | undefined;
}

export type LifecycleFact = Exclude<
  keyof LifecycleFacts,
  'startedAt' | 'firstEndAt' | 'resubscribable' | 'recentActivations' | 'recentEndRequests' | 'recentEnds'
>;

/**
 * How many of the latest activations, end requests and ends a resubscribable subscriber keeps: the last two
 * subscriptions', each of which may have been activated twice (a free trial, then its conversion to the paid offer).
 */
const RECENT_FACTS = 4;

/** A fact, by the kind of notification that establishes it. */
const statusOfFact: Readonly<Record<LifecycleFact, SubscriptionStatus>> = {
  activatedAt: 'active',
  failedAt: 'failed',
  endRequestedAt: 'ending',
  endedAt: 'ended',
};

/** Which fact wins a tie: the later stage of the lifecycle. */
const precedence: readonly LifecycleFact[] = ['endedAt', 'endRequestedAt', 'failedAt', 'activatedAt'];

/** The facts a started subscription's own notifications establish: a failure comes before any start. */
const precedenceOfOutcomes = precedence.filter((fact) => fact !== 'failedAt');

/**
 * The facts with one more fact folded in: the later of the two times of its kind (and the earlier of the two starts,
 * for an activation, or of the two first ends, for an end request or end).
 */
export function withFact(facts: LifecycleFacts, fact: LifecycleFact, at: Date): LifecycleFacts {
  const time = at.toISOString();
  const kept = withRecent(facts, fact, time);
  const current = kept[fact];
  const latest = current !== undefined && current >= time ? kept : { ...kept, [fact]: time };
  if (fact === 'endRequestedAt' || fact === 'endedAt') {
    return latest.firstEndAt !== undefined && latest.firstEndAt <= time ? latest : { ...latest, firstEndAt: time };
  }
  if (fact !== 'activatedAt') return latest;
  const started = firstStartOf(facts);
  return started !== undefined && started <= time ? latest : { ...latest, startedAt: time };
}

/** Every fact a notification records, first and latest: none of them is known before the first notification. */
const RECORDED_FACTS = ['activatedAt', 'failedAt', 'endRequestedAt', 'endedAt', 'startedAt', 'firstEndAt'] as const;

/** Where each fact is kept among the recent ones of its kind. */
const RECENT_OF = {
  activatedAt: 'recentActivations',
  endRequestedAt: 'recentEndRequests',
  endedAt: 'recentEnds',
  failedAt: undefined,
} as const satisfies Record<LifecycleFact, keyof LifecycleFacts | undefined>;

/**
 * The facts with `time` among the recent ones of its kind, for a buyer who may subscribe again. Activations and end
 * requests are kept from the first fact on, or not at all (facts stored before they were kept): begun later, a late
 * copy of an older activation could join several subscriptions into one whose gaps would then take usage. Ends are
 * kept wherever those are, also begun later (facts stored before ends were kept): an end known only parts more.
 */
function withRecent(facts: LifecycleFacts, fact: LifecycleFact, time: string): LifecycleFacts {
  if (facts.resubscribable !== true) return facts;
  const isFirstFact = RECORDED_FACTS.every((name) => facts[name] === undefined);
  if (!isFirstFact && (facts.recentActivations === undefined || facts.recentEndRequests === undefined)) return facts;
  const recent = {
    recentActivations: facts.recentActivations ?? [],
    recentEndRequests: facts.recentEndRequests ?? [],
    recentEnds: facts.recentEnds ?? [],
  };
  const kind = RECENT_OF[fact];
  if (kind !== undefined) recent[kind] = [...new Set([...recent[kind], time])].sort().slice(-RECENT_FACTS);
  return { ...facts, ...recent };
}

/**
 * The facts as billing reads them. A buyer who has subscribed again more than once is billed as the subscription
 * before the latest one and the latest one: its first start and first end are that subscription's. The ones before
 * it ended earlier still, and their final-metering windows closed before this one's; were the first kept instead, the
 * usage a middle subscription took while it was live would fall into the gap between the first end and the latest
 * start, and its hour, held to the first subscription's deadline, could no longer be billed.
 */
function lastTwoSubscriptions(facts: LifecycleFacts): LifecycleFacts {
  const { activatedAt: latestStart, startedAt: firstStart } = facts;
  if (facts.resubscribable !== true || latestStart === undefined || firstStart === undefined) return facts;
  if (facts.recentActivations === undefined || facts.recentEndRequests === undefined) return facts;
  const ends = partings(facts);
  const previousEnd = latestOf(ends.filter((end) => end < latestStart));
  if (previousEnd === undefined) return facts;
  const starts = [...facts.recentActivations, firstStart];
  // The previous subscription's start is its first activation after the end before it: a later one (a free trial's
  // conversion to the paid offer) is the same subscription's.
  const lastActivationBefore = latestOf(starts.filter((start) => start <= previousEnd));
  if (lastActivationBefore === undefined) return facts;
  const endBefore = latestOf(ends.filter((end) => end < lastActivationBefore));
  const previousStart = earliestOf(
    starts.filter((start) => start <= previousEnd && (endBefore === undefined || start > endBefore)),
  );
  if (previousStart === undefined || previousStart <= firstStart) return facts;
  const firstEndAt = earliestOf(ends.filter((end) => end >= previousStart)) ?? previousEnd;
  // An end before that one concludes a subscription before it (a legacy unsubscribe-success comes an hour after its
  // request, when the buyer may have subscribed again): it is none of the last two's.
  const endedAt = facts.endedAt !== undefined && facts.endedAt < firstEndAt ? undefined : facts.endedAt;
  return { ...facts, startedAt: previousStart, firstEndAt, endedAt };
}

/**
 * Where one subscription ended and the next may begin: every end request known, and every end known that no request
 * came shortly before (it ended a subscription whose request was lost). An end that concludes a request parts nothing
 * more: an `unsubscribe-success` racing a resubscription concludes the request the resubscription withdrew.
 */
function partings(facts: LifecycleFacts): string[] {
  const requests = knownTimes([...(facts.recentEndRequests ?? []), facts.firstEndAt, facts.endRequestedAt]);
  const ends = knownTimes([...(facts.recentEnds ?? []), facts.endedAt]);
  const activations = knownTimes([...(facts.recentActivations ?? []), facts.activatedAt, facts.startedAt]);
  const unrequested = ends.filter((end) => !requests.some((request) => concludes(end, request, activations)));
  return [...new Set([...requests, ...unrequested])];
}

/**
 * Whether the end at `endedAt` may conclude the end request at `request`: it came within the request's window, and not
 * an hour or more after one of `activations` in between. A buyer who subscribes again withdraws the request, and AWS
 * replaces its `unsubscribe-success` by the `subscribe-success`: one that comes all the same races the resubscription
 * (both at the window's close), whereas the new subscription's own end, its `unsubscribe-pending` lost, comes an hour
 * after that request at the earliest.
 */
function concludes(endedAt: string, request: string, activations: readonly string[]): boolean {
  const end = Date.parse(endedAt);
  const afterMs = end - Date.parse(request);
  if (afterMs < 0 || afterMs > END_AFTER_REQUEST_MS) return false;
  return !activations.some(
    (activation) =>
      activation > request && activation <= endedAt && end - Date.parse(activation) >= MARKETPLACE_HOUR_MS,
  );
}

function latestOf(times: readonly string[]): string | undefined {
  return times.length === 0 ? undefined : [...times].sort().at(-1);
}

function earliestOf(times: readonly string[]): string | undefined {
  return times.length === 0 ? undefined : [...times].sort()[0];
}

/** The times among `times` that are known. */
function knownTimes(times: readonly (string | undefined)[]): string[] {
  return times.filter((time): time is string => time !== undefined);
}

/** When the subscription first started: its earliest activation (stored before `startedAt` was: its only one). */
function firstStartOf(facts: LifecycleFacts): string | undefined {
  return facts.startedAt ?? facts.activatedAt;
}

/** A subscription that started again after it had ended (or been asked to): no usage is billable in between. */
export interface Restart {
  /** The end (request) the gap begins with: the earliest one known after the first start. */
  readonly endedAt: Date;
  /** The activation it ends with: the first one after the latest parting before the latest activation. */
  readonly restartedAt: Date;
}

/**
 * The gap before a restart, if the subscription started again after an end (request) that came after its first start.
 * Derived, so that it keeps the facts' independence of order. A legacy subscription is activated each time it starts
 * (`subscribe-success`), and once more when a free trial it started with is converted to the paid offer: its restart is
 * the first activation after the latest parting (`partings`: an end request, or an end whose request was lost) before
 * the latest activation (after the latest end, when none is known; the latest activation itself, for facts stored
 * before the recent ones were kept); of the ends before it, the earliest known is taken. After several restarts the
 * facts begin with the subscription before the latest (`lastTwoSubscriptions`); facts stored before the recent ones
 * were kept refuse too much rather than accept what Marketplace would not bill.
 */
export function restartOf(recorded: LifecycleFacts): Restart | undefined {
  const facts = lastTwoSubscriptions(recorded);
  const first = firstStartOf(facts);
  const { activatedAt } = facts;
  if (first === undefined || activatedAt === undefined) return undefined;
  const before = (end: string) => end >= first && end < activatedAt;
  const ends = knownTimes([
    facts.firstEndAt,
    facts.endRequestedAt,
    facts.endedAt,
    ...(facts.recentEndRequests ?? []),
  ]).filter(before);
  const earliest = earliestOf(ends);
  if (earliest === undefined) return undefined;
  // Where the subscription before ended: the latest parting (an unsubscribe-success dated after the restart concludes
  // a request the restart withdrew, and parts nothing). Only with none known, the latest end.
  const latestEnd = latestOf(partings(facts).filter(before)) ?? latestOf(ends)!;
  const restartedAt = earliestOf(
    [...(facts.recentActivations ?? []), activatedAt].filter((start) => start > latestEnd),
  );
  return { endedAt: new Date(earliest), restartedAt: new Date(restartedAt ?? activatedAt) };
}

/** Whether usage at `at` falls between an end and the restart after it (`restartOf`). */
export function isInRestartGap(at: Date, facts: LifecycleFacts): boolean {
  const restart = restartOf(facts);
  return restart !== undefined && isAfterEnd(at, restart.endedAt) && at < restart.restartedAt;
}

/** How long a legacy buyer's `unsubscribe-success` comes after its `unsubscribe-pending`: "about an hour". */
const MARKETPLACE_HOUR_MS = 3_600_000;

/** How long after an end request its end may come and still be that request's: Marketplace's hour, twice over. */
const END_AFTER_REQUEST_MS = 2 * MARKETPLACE_HOUR_MS;

/** The status the facts establish, and the time of the fact that set it. */
export function statusOf(recorded: LifecycleFacts): { status: SubscriptionStatus; since?: string } {
  const facts = lastTwoSubscriptions(recorded);
  const beforeAnyFailure = winningFact(facts, precedenceOfOutcomes);
  // A legacy buyer's attempt to subscribe again that failed (`subscribe-fail`): the subscription it would have
  // replaced stays as it was, its final hour still billable.
  const failedToSubscribeAgain =
    (beforeAnyFailure === 'endRequestedAt' || beforeAnyFailure === 'endedAt') && firstStartOf(facts) !== undefined;
  const winner = failedToSubscribeAgain ? beforeAnyFailure : winningFact(facts, precedence);
  if (winner === undefined) return { status: 'pending' };
  return { status: statusOfFact[winner], since: winner === 'activatedAt' ? activeSince(facts) : facts[winner] };
}

/** The fact among `candidates` that sets the status: the latest, ties broken by `precedence`. */
function winningFact(facts: LifecycleFacts, candidates: readonly LifecycleFact[]): LifecycleFact | undefined {
  let winner: LifecycleFact | undefined;
  for (const fact of candidates) {
    const time = facts[fact];
    if (fact === 'endedAt' && concludesWithdrawnRequest(facts)) continue;
    if (fact === 'activatedAt' && endIsFinal(facts)) continue;
    if (time === undefined) continue;
    const current = winner === undefined ? undefined : facts[winner]!;
    const tieWon =
      time === current &&
      fact === 'activatedAt' &&
      (winner === 'endRequestedAt' ? resubscribedAtItsRequest(facts) : isResubscription(facts));
    if (current === undefined || time > current || tieWon) winner = fact;
  }
  return winner;
}

/**
 * Since when an active subscription has been active: its latest activation for a buyer who may subscribe again (each
 * one a new subscription), else its first (a license's later `License Updated`, an upgrade or a renewal, changes
 * nothing of its status).
 */
function activeSince(facts: LifecycleFacts): string | undefined {
  return facts.resubscribable === true ? facts.activatedAt : firstStartOf(facts);
}

/**
 * Whether the subscription has ended (or been asked to) for good: a license that cannot be subscribed to again
 * (`resubscribable`), whose later `License Updated` (an amendment racing the cancellation) does not bring it back, as
 * Marketplace bills nothing on it after its end.
 */
function endIsFinal(facts: LifecycleFacts): boolean {
  return facts.resubscribable !== true && (facts.endRequestedAt !== undefined || facts.endedAt !== undefined);
}

/**
 * Whether the end concludes an end request the buyer withdrew by subscribing again before it: an end request came
 * before the activation, and the end after it, within the request's window (a legacy `unsubscribe-success`, about an
 * hour after its `unsubscribe-pending`) and less than an hour after any activation since (`concludes`). The old
 * subscription's window closing, not the new one ending. The withdrawn request is the latest one when it came before
 * the activation; when the buyer has since asked to end the new subscription too, it is the earliest one
 * (`firstEndAt`), and the new request keeps the subscription `ending` until its own deadline: were the end the new
 * request's own, it would come at about that deadline anyway.
 */
function concludesWithdrawnRequest(facts: LifecycleFacts): boolean {
  const { activatedAt, endedAt } = facts;
  if (activatedAt === undefined || endedAt === undefined || endedAt < activatedAt) return false;
  const withdrawn = withdrawnRequestOf(facts);
  const activations = knownTimes([...(facts.recentActivations ?? []), activatedAt]);
  return withdrawn !== undefined && concludes(endedAt, withdrawn, activations);
}

/**
 * The end request the latest activation withdrew: the latest one before it (at its very instant, for a
 * resubscription); when a buyer who subscribed again has since asked to end the new subscription too, the earliest
 * one known.
 */
function withdrawnRequestOf(facts: LifecycleFacts): string | undefined {
  const { activatedAt, endRequestedAt, firstEndAt } = facts;
  if (activatedAt === undefined) return undefined;
  const requests = isResubscription(facts) ? [endRequestedAt, firstEndAt] : [endRequestedAt];
  const atItsInstant = resubscribedAtItsRequest(facts);
  return requests.find(
    (request) => request !== undefined && (request < activatedAt || (request === activatedAt && atItsInstant)),
  );
}

/**
 * Whether the buyer subscribed again in the very second of the end request it withdrew. Told apart from a buyer who
 * subscribed again and asked to end the new subscription in one second (which ends it) only when that request is the
 * first end the subscriber ever had; otherwise the later stage wins, as it must not be taken for a live subscription.
 */
function resubscribedAtItsRequest(facts: LifecycleFacts): boolean {
  return isResubscription(facts) && facts.firstEndAt === facts.activatedAt;
}

/** The subscription a buyer's resubscription superseded, and the deadline of its final metering. */
export interface SupersededSubscription {
  /**
   * Its deadline: its end request's, or, once the buyer has asked to end the new subscription too (which replaces the
   * latest end request kept), the latest it can be: the new start's (the request came before it).
   */
  readonly deadline: Date;
  /** When the subscription after it started. */
  readonly restartedAt: Date;
  /**
   * The first subscription's end (request) and deadline (after several resubscriptions, of the subscription before the
   * latest: `lastTwoSubscriptions`): its hours are billable until its own deadline. The same as the superseded
   * subscription's, unless facts stored before the recent ones were kept lost the request in between.
   */
  readonly firstEndRequestedAt: Date;
  readonly firstDeadline: Date;
}

/**
 * The subscription before a resubscription (`resubscribable`), as Marketplace still bills it: its records are taken
 * until its own final-metering deadline, however long the new subscription lives, and not after.
 */
export function supersededSubscription(
  recorded: LifecycleFacts,
  graceSeconds: number,
): SupersededSubscription | undefined {
  const facts = lastTwoSubscriptions(recorded);
  if (!isResubscription(facts)) return undefined;
  const request = withdrawnRequestOf(facts);
  if (request === undefined) return undefined;
  const firstEnd = facts.firstEndAt !== undefined && facts.firstEndAt < request ? facts.firstEndAt : request;
  // The new subscription's start: its first activation, not a later one (a free trial's conversion to the paid offer).
  const restartedAt = restartOf(recorded)?.restartedAt ?? new Date(facts.activatedAt!);
  const latestKnown = request === facts.endRequestedAt ? Date.parse(request) : restartedAt.getTime();
  return {
    deadline: new Date(latestKnown + graceSeconds * 1000),
    restartedAt,
    firstEndRequestedAt: new Date(firstEnd),
    firstDeadline: new Date(Date.parse(firstEnd) + graceSeconds * 1000),
  };
}

/** Whether the latest activation is a buyer subscribing again (`resubscribable`), not the first start. */
function isResubscription(facts: LifecycleFacts): boolean {
  const first = firstStartOf(facts);
  return (
    facts.resubscribable === true && first !== undefined && facts.activatedAt !== undefined && first < facts.activatedAt
  );
}

/**
 * The current subscription's end request: none when the only one known is the request a legacy buyer withdrew by
 * subscribing again (the subscription before's, `supersededSubscription`).
 */
function endRequestOf(facts: LifecycleFacts): string | undefined {
  const request = facts.endRequestedAt;
  return isResubscription(facts) && request === withdrawnRequestOf(facts) ? undefined : request;
}

/** Until when final usage is accepted after the current subscription's end was requested (AWS: about an hour). */
export function finalMeteringDeadline(recorded: LifecycleFacts, graceSeconds: number): Date | undefined {
  const facts = lastTwoSubscriptions(recorded);
  const request = endRequestOf(facts);
  return request === undefined ? undefined : new Date(Date.parse(request) + graceSeconds * 1000);
}

/**
 * The status as of `now`: an `ending` subscription whose final-metering window has passed has ended, since its
 * deadline. This is derived, never stored as a fact: a resubscription dated inside the window, however late it
 * arrives, still outranks the end request and makes the subscription active again. An end Marketplace dates after
 * the deadline (a legacy `unsubscribe-success` comes "about an hour" after its request) ended it no later: it had
 * ended when its window closed, as the seller was told then.
 */
export function statusAsOf(
  facts: LifecycleFacts,
  now: Date,
  graceSeconds: number,
): { status: SubscriptionStatus; since?: string } {
  const current = statusOf(facts);
  const deadline = finalMeteringDeadline(facts, graceSeconds)?.toISOString();
  if (deadline === undefined) return current;
  if (current.status === 'ending' && now.toISOString() >= deadline) return { status: 'ended', since: deadline };
  if (current.status === 'ended' && current.since !== undefined && current.since > deadline) {
    return { status: 'ended', since: deadline };
  }
  return current;
}

export function effectiveStatus(facts: LifecycleFacts, now: Date, graceSeconds: number): SubscriptionStatus {
  return statusAsOf(facts, now, graceSeconds).status;
}

/**
 * The span usage is billable in: from the start of the subscription to its end (the end request, or the end itself
 * when no request of the current subscription was heard: a legacy buyer's request before a resubscription is the old
 * subscription's), either open when not known. Marketplace refuses a record for a license before its activation or
 * after its end, so usage outside the span can never be billed.
 */
export function billablePeriod(recorded: LifecycleFacts): { readonly start?: Date; readonly end?: Date } {
  const facts = lastTwoSubscriptions(recorded);
  const start = firstStartOf(facts);
  const { status } = statusOf(facts);
  const end = status === 'ending' || status === 'ended' ? (endRequestOf(facts) ?? facts.endedAt) : undefined;
  return {
    ...(start === undefined ? {} : { start: new Date(start) }),
    ...(end === undefined ? {} : { end: new Date(end) }),
  };
}

/**
 * Whether usage at `at` falls after the subscription's `end`. A notification gives its time to the second
 * (EventBridge's `time`), so usage the app stamped within that second, just before the buyer cancelled, is not after it.
 */
export function isAfterEnd(at: Date, end: Date): boolean {
  return at > lastInstantOfEnd(end);
}

/** The last instant whose usage is not after `end`: the last millisecond of its second. */
export function lastInstantOfEnd(end: Date): Date {
  return new Date(Math.floor(end.getTime() / 1000) * 1000 + 999);
}

/** Whether usage may be metered for the subscription now: live, or inside its final-metering window. */
export function isMeterable(status: SubscriptionStatus): boolean {
  return status === 'active' || status === 'ending';
}
