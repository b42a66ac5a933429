/**
 * Plays a chaos plan (`chaos-plan.ts`) against the running stack through its public interfaces only: buyers subscribe
 * and cancel on Marketplace and arrive at the fulfillment URL, the seller's app posts usage (`seller-app.ts`), the
 * seller runs `npm run meter` (`chaos-runs.ts`), Marketplace fails now and then, time passes (`timeline.ts`). Then a
 * drain (faults cleared, every buyer cancelled, the clock moved past every final-metering deadline through the
 * timeline's fault-free checkpoints, an hourly run) and the audit of the books (`books.ts`).
 */
import { auditBooks, type SeedTotals } from './books.ts';
import { cancelSubscription, subscribeBuyer, type BuyerServices } from './buyers.ts';
import type { ChaosPlan, ChaosStep, PlannedRun } from './chaos-plan.ts';
import { checkpointRun, playRuns, type RunContext } from './chaos-runs.ts';
import type { FaultPlan, IdentityModel } from './marketplace-control.ts';
import { meter, summaryOf } from './metering-commands.ts';
import { resolveEvent, type SentEvent } from './planned-events.ts';
import { SellerApp } from './seller-app.ts';
import { Timeline, type ChaosSubscription } from './timeline.ts';
import { HOUR_MS, hourOf, MINUTE_MS, statusOf, type Outcome } from './usage-rules.ts';

export interface ChaosStack extends BuyerServices, RunContext {}

export interface SeedOutcome {
  readonly seed: number;
  /** Every way the backend broke a rule or the books; empty when the seed passed. */
  readonly violations: readonly string[];
  /** What was played, step by step, with the simulator's time. */
  readonly trace: readonly string[];
  readonly totals: SeedTotals;
  /** How many answers of each outcome `POST /usage` gave. */
  readonly answers: ReadonlyMap<Outcome, number>;
}

/** Hourly runs after the drain before what is left pending counts as a failure (the report shows it). */
const DRAIN_RUNS = 3;

export async function playSeed(stack: ChaosStack, plan: ChaosPlan): Promise<SeedOutcome> {
  const player = new SeedPlayer(stack, plan);
  try {
    return await player.play();
  } finally {
    await stack.marketplace.clearFaults();
  }
}

class SeedPlayer {
  private readonly subscriptions: ChaosSubscription[] = [];
  private readonly violations: string[] = [];
  private readonly trace: string[] = [];
  private readonly app: SellerApp;
  private faults: FaultPlan | undefined;
  private eventIds = 0;
  private timeline!: Timeline;

  constructor(
    private readonly stack: ChaosStack,
    private readonly plan: ChaosPlan,
  ) {
    this.app = new SellerApp(stack.apiUrl, {
      unitsAccepted: (subscription) => {
        this.timeline.unbilledSinceHourlyRun = true;
        subscription.needsFinalRun = true;
      },
      violation: (description) => this.violations.push(description),
    });
  }

  async play(): Promise<SeedOutcome> {
    this.timeline = await Timeline.frozen(this.stack.marketplace, () => this.subscriptions, {
      hourly: () => this.checkpoint([]),
      final: () => this.checkpoint(['--final']),
    });
    const start = new Date(hourOf(this.timeline.now).getTime() + HOUR_MS + this.plan.startMinute * MINUTE_MS);
    await this.timeline.moveTo(start);
    for (const model of this.plan.buyers) await this.subscribe(model);
    for (const step of this.plan.steps) await this.playStep(step);
    await this.drain();
    const audit = await auditBooks({
      marketplace: this.stack.marketplace,
      commandEnvironment: this.stack.commandEnvironment,
      subscriptions: this.subscriptions,
      accepted: this.app.accepted,
      from: start.toISOString().slice(0, 10),
      to: this.timeline.now.toISOString().slice(0, 10),
    });
    return {
      seed: this.plan.seed,
      violations: [...this.violations, ...audit.problems],
      trace: this.trace,
      totals: audit.totals,
      answers: this.app.answers,
    };
  }

  private async playStep(step: ChaosStep): Promise<void> {
    switch (step.kind) {
      case 'subscribe':
        return this.subscribe(step.model);
      case 'usage':
        return this.postPlannedUsage(step);
      case 'resend':
        return this.resend(step.pick, step.count);
      case 'reuse-id':
        return this.reuseId(step.pick, step.change);
      case 'cancel':
        return this.cancelOne(step.buyer);
      case 'advance':
        return this.moveClock(
          new Date(this.timeline.now.getTime() + step.minutes * MINUTE_MS),
          `${step.minutes} min on`,
        );
      case 'advance-into-next-hour':
        return this.moveClock(
          new Date(hourOf(this.timeline.now).getTime() + HOUR_MS + step.minute * MINUTE_MS),
          'into the next hour',
        );
      case 'advance-into-final-window':
        return this.advanceIntoFinalWindow(step.buyer, step.position);
      case 'faults':
        return this.setFaults(step.plan);
      case 'clear-faults':
        return this.setFaults(undefined);
      case 'meter':
        return this.playMeterRuns(step.runs);
    }
  }

  private async subscribe(model: IdentityModel): Promise<void> {
    const buyer = await subscribeBuyer(this.stack, model);
    this.subscriptions.push({ buyer, needsFinalRun: false });
    this.note(`buyer ${this.subscriptions.length - 1} (${model}) subscribed: ${buyer.subscriberId}`);
  }

  private async cancelOne(pick: number): Promise<void> {
    const active = this.subscriptions.filter(({ window }) => window === undefined);
    const subscription = active[Math.floor(pick * active.length)];
    if (subscription !== undefined) await this.cancel(subscription);
  }

  private async cancel(subscription: ChaosSubscription): Promise<void> {
    subscription.window = await cancelSubscription(this.stack, subscription.buyer);
    // The stack starts final metering at once, under whatever faults are set.
    subscription.needsFinalRun = true;
    const { end, sendFrom, deadline } = subscription.window;
    const buyer = this.subscriptions.indexOf(subscription);
    this.note(`buyer ${buyer} cancelled: E ${time(end)}, F ${time(sendFrom)}, D ${time(deadline)}`);
  }

  private async moveClock(target: Date, how: string): Promise<void> {
    await this.timeline.moveTo(target);
    this.note(`clock moved ${how}`);
  }

  /** To somewhere from 20 minutes before F (late usage still taken) to just before D (the final usage sent). */
  private async advanceIntoFinalWindow(pick: number, position: number): Promise<void> {
    const ending = this.subscriptions.filter((subscription) => statusOf(subscription, this.timeline.now) === 'ending');
    const window = ending[Math.floor(pick * ending.length)]?.window;
    if (window === undefined) return;
    const from = window.sendFrom.getTime() - 20 * MINUTE_MS;
    const minutes = Math.floor((position * (window.deadline.getTime() - MINUTE_MS - from)) / MINUTE_MS);
    const target = new Date(from + minutes * MINUTE_MS);
    if (target > this.timeline.now)
      await this.moveClock(target, `into the final window ending ${time(window.deadline)}`);
  }

  private async setFaults(plan: FaultPlan | undefined): Promise<void> {
    this.faults = plan;
    if (plan === undefined) await this.stack.marketplace.clearFaults();
    else await this.stack.marketplace.setFaults(plan);
    this.note(plan === undefined ? 'faults cleared' : `faults ${JSON.stringify(plan.rules)}`);
  }

  private async postPlannedUsage(step: Extract<ChaosStep, { kind: 'usage' }>): Promise<void> {
    const sent = step.events.map((planned) =>
      resolveEvent(
        planned,
        this.subscriptions,
        this.timeline.now,
        planned.withEventId ? `seed-${this.plan.seed}-event-${++this.eventIds}` : undefined,
      ),
    );
    if (step.repeated !== undefined) sent.push(sent[Math.floor(step.repeated * sent.length)]!);
    await this.post(sent, step.answerLost ? 'a call' : 'usage');
    // The app never saw that answer: it sends the very same call again, as it must (every event has an id).
    if (step.answerLost) await this.post(sent, 'the call again, its answer lost');
  }

  private async resend(pick: number, count: number): Promise<void> {
    const first = Math.floor(pick * this.app.sentWithIds.length);
    await this.post(this.app.sentWithIds.slice(first, first + count), 'earlier events again');
  }

  private async reuseId(pick: number, change: 'quantity' | 'subscriber' | 'timestamp'): Promise<void> {
    const original = this.app.sentWithIds[Math.floor(pick * this.app.sentWithIds.length)]?.event;
    if (original === undefined) return;
    const other = this.subscriptions.find(({ buyer }) => buyer.subscriberId !== original.subscriberId)?.buyer;
    const event =
      change === 'quantity'
        ? { ...original, quantity: original.quantity + 1 }
        : change === 'timestamp'
          ? { ...original, timestamp: new Date(Date.parse(original.timestamp) - MINUTE_MS).toISOString() }
          : {
              ...original,
              subscriberId: other?.subscriberId ?? original.subscriberId,
              quantity: original.quantity + 2,
            };
    const subscription = this.subscriptions.find(({ buyer }) => buyer.subscriberId === event.subscriberId);
    await this.post([{ event, subscription }], `an id again, its ${change} changed`);
  }

  private async post(sent: readonly SentEvent[], what: string): Promise<void> {
    if (sent.length === 0) return;
    this.note(`posted ${what}: ${await this.app.post(sent, this.timeline.now)}`);
  }

  private async playMeterRuns(runs: readonly PlannedRun[]): Promise<void> {
    const reports = await playRuns(
      this.stack,
      runs.map((planned) => ({ planned, args: this.argumentsOf(planned) })),
    );
    // A run under faults, or killed, may leave buckets pending (zero-usage ones included): checkpoints must follow.
    this.timeline.unbilledSinceHourlyRun = true;
    for (const subscription of this.subscriptions) {
      if (statusOf(subscription, this.timeline.now) === 'ending') subscription.needsFinalRun = true;
    }
    for (const { description, failure } of reports) {
      if (failure !== undefined) this.violations.push(`${description}: ${failure}`);
    }
    this.note(reports.map(({ description }) => description).join(' | '));
  }

  private argumentsOf(planned: PlannedRun): string[] {
    if (planned.scope === 'hourly') return [];
    if (planned.scope === 'final') return ['--final'];
    const { buyer } = this.subscriptions[Math.floor(planned.buyer * this.subscriptions.length)]!;
    return ['--subscriber', buyer.subscriberId];
  }

  /** A fault-free run of a checkpoint (see `timeline.ts`); what it leaves unbilled is a violation. */
  private async checkpoint(args: readonly string[]): Promise<void> {
    const problem = await checkpointRun(this.stack, args, async () => {
      if (this.faults !== undefined) await this.stack.marketplace.setFaults(this.faults);
    });
    this.note(`checkpoint: fault-free meter ${args.join(' ')}${problem === undefined ? '' : `: ${problem}`}`);
    if (problem !== undefined) this.violations.push(`at ${this.timeline.now.toISOString()}: ${problem}`);
  }

  /**
   * No more faults; every buyer still subscribed cancels (so that no subscriber outlives its seed); the clock moves
   * past every final-metering deadline, through the fault-free checkpoints; then hourly runs until nothing is pending.
   */
  private async drain(): Promise<void> {
    await this.setFaults(undefined);
    for (const subscription of this.subscriptions.filter(({ window }) => window === undefined)) {
      await this.cancel(subscription);
    }
    const lastDeadline = Math.max(...this.subscriptions.map(({ window }) => window!.deadline.getTime()));
    await this.moveClock(new Date(lastDeadline + MINUTE_MS), 'past the last final-metering deadline');
    for (let run = 1; run <= DRAIN_RUNS; run++) {
      const summary = summaryOf(await meter(this.stack.commandEnvironment, []));
      this.note(`drain: meter billed ${summary.billed}, pending ${summary.pending}, expired ${summary.expired}`);
      if (summary.pending === 0) return;
    }
  }

  private note(line: string): void {
    this.trace.push(`[${time(this.timeline.now)}] ${line}`);
  }
}

/** `MM-DDTHH:MM:SS`: enough to follow a seed. */
function time(at: Date): string {
  return at.toISOString().slice(5, 19);
}
