/**
 * The seller's app as the chaos drives it: it posts usage, and, unlike a real app, checks every answer against the
 * documented rules (`usage-rules.ts`) and books the units each `accepted` answer took, under the hour it named.
 */
import { AcceptedUnits } from './books.ts';
import type { SentEvent } from './planned-events.ts';
import { postUsage, type UsageResult } from './seller-api.ts';
import type { ChaosSubscription } from './timeline.ts';
import { CountedEvents, expectedOutcome, misplacedHour, outcomeOf, statusOf, type Outcome } from './usage-rules.ts';

export interface SellerAppEvents {
  /** Units were accepted for this subscription: some run must now bill them. */
  unitsAccepted(subscription: ChaosSubscription): void;
  /** An answer the rules do not give. */
  violation(description: string): void;
}

export class SellerApp {
  readonly accepted = new AcceptedUnits();
  /** Events sent with an id, in the order first sent: what resends and reused ids draw from. */
  readonly sentWithIds: SentEvent[] = [];
  /** How many answers of each outcome the backend gave. */
  readonly answers = new Map<Outcome, number>();
  private readonly counted = new CountedEvents();

  constructor(
    private readonly apiUrl: string,
    private readonly events: SellerAppEvents,
  ) {}

  /** Posts one call at `now` (the simulator's time); answers a one-line tally of the answers. */
  async post(sent: readonly SentEvent[], now: Date): Promise<string> {
    const results = await postUsage(
      this.apiUrl,
      sent.map(({ event }) => event),
    );
    sent.forEach((one, index) => this.check(one, results[index]!, now));
    for (const one of sent) {
      if (one.event.eventId !== undefined && !this.sentWithIds.includes(one)) this.sentWithIds.push(one);
    }
    return tally(results);
  }

  private check({ event, subscription }: SentEvent, result: UsageResult, now: Date): void {
    const expected = this.counted.answerToRepeat(event) ?? expectedOutcome(event, subscription, now);
    const answer = outcomeOf(result);
    this.answers.set(answer, (this.answers.get(answer) ?? 0) + 1);
    const described = () =>
      `${JSON.stringify(event)} (${subscription === undefined ? 'unknown' : statusOf(subscription, now)}) ` +
      `at ${now.toISOString()}`;
    if (answer !== expected) {
      this.events.violation(`${described()}: answered ${JSON.stringify(result)}, expected ${expected}`);
    }
    this.counted.learn(event, result);
    if (result.status !== 'accepted' || subscription === undefined) return;
    const misplaced = misplacedHour(event, result, subscription, now);
    if (misplaced !== undefined) this.events.violation(`${described()}: ${misplaced}`);
    this.accepted.add(event.subscriberId, event.dimension, result.hour, event.quantity);
    this.events.unitsAccepted(subscription);
  }
}

function tally(results: readonly UsageResult[]): string {
  const counts = new Map<string, number>();
  for (const result of results) {
    const outcome = result.status === 'accepted' && result.carriedFrom !== undefined ? 'carried' : outcomeOf(result);
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  return [...counts].map(([outcome, count]) => `${outcome} ${count}`).join(', ');
}
