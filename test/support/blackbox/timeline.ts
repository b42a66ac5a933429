/**
 * The simulator's clock, frozen and moved only forward, with the metering a deployment's schedules would have done on
 * the way. Accepted usage is billable only if a run reaches it in time, so before the clock passes
 * - an hour boundary B, with usage accepted (or a run that may have left buckets pending) since the last fault-free
 *   hourly run, it stops in [B - 55 min, B) for a fault-free hourly run: every closed hour is billed well inside its
 *   acceptance window (the backend takes usage only while two hours of it are left);
 * - an ending subscriber's deadline D, with usage accepted (or a run) since its last fault-free final-metering run, it
 *   stops in [F, D) for a fault-free final-metering run, which bills the final hour.
 * Whatever the chaos did in between, nothing accepted may then be left unbilled.
 */
import type { MarketplaceControl } from './marketplace-control.ts';
import { HOUR_MS, hourOf, MINUTE_MS, statusOf, type Subscription } from './usage-rules.ts';

/** A subscription whose final-metering window needs a fault-free run before it closes. */
export interface ChaosSubscription extends Subscription {
  /** Usage accepted or a run gone since its last fault-free final-metering run inside the window. */
  needsFinalRun: boolean;
}

export interface Checkpoints {
  /** A fault-free `npm run meter`. */
  hourly(): Promise<void>;
  /** A fault-free `npm run meter -- --final`. */
  final(): Promise<void>;
}

interface Gate {
  /** The run must go before this instant... */
  readonly before: Date;
  /** ...and not before this one. */
  readonly from: Date;
  run(): Promise<void>;
}

/** How long after the hour the hourly run bills it (`metering.closedHourGraceMinutes`). */
const CLOSED_HOUR_GRACE_MS = 5 * MINUTE_MS;

export class Timeline {
  /** Usage accepted, or a run that may have left buckets pending, since the last fault-free hourly run. */
  unbilledSinceHourlyRun = false;

  constructor(
    private readonly marketplace: MarketplaceControl,
    private current: Date,
    private readonly subscriptions: () => readonly ChaosSubscription[],
    private readonly checkpoints: Checkpoints,
  ) {}

  /** Freezes the simulator's clock at its next whole minute: from then on it moves only when told. */
  static async frozen(
    marketplace: MarketplaceControl,
    subscriptions: () => readonly ChaosSubscription[],
    checkpoints: Checkpoints,
  ): Promise<Timeline> {
    const now = new Date(Math.ceil((await marketplace.now()).getTime() / MINUTE_MS) * MINUTE_MS);
    await marketplace.setClock(now);
    return new Timeline(marketplace, now, subscriptions, checkpoints);
  }

  get now(): Date {
    return this.current;
  }

  /** Moves the clock to `target` (not back), stopping for the checkpoints it would otherwise skip. */
  async moveTo(target: Date): Promise<void> {
    for (let gate = this.nextGate(target); gate !== undefined; gate = this.nextGate(target)) {
      if (gate.from > this.current) await this.set(gate.from);
      await gate.run();
    }
    if (target > this.current) await this.set(target);
  }

  /** The checkpoint that must run first on the way to `target`: the one whose window closes soonest. */
  private nextGate(target: Date): Gate | undefined {
    const gates = [...this.hourlyGates(target), ...this.finalGates(target)];
    return gates.sort((a, b) => a.before.getTime() - b.before.getTime())[0];
  }

  private hourlyGates(target: Date): Gate[] {
    const boundary = new Date(hourOf(this.current).getTime() + HOUR_MS);
    if (!this.unbilledSinceHourlyRun || boundary > target) return [];
    const run = async () => {
      await this.checkpoints.hourly();
      this.unbilledSinceHourlyRun = false;
    };
    return [{ before: boundary, from: new Date(boundary.getTime() - HOUR_MS + CLOSED_HOUR_GRACE_MS), run }];
  }

  private finalGates(target: Date): Gate[] {
    return this.subscriptions().flatMap(({ window, needsFinalRun }) =>
      window !== undefined && needsFinalRun && this.current < window.deadline && window.deadline <= target
        ? [{ before: window.deadline, from: window.sendFrom, run: () => this.finalRun() }]
        : [],
    );
  }

  /** One run settles every ending subscriber whose final hour is due. */
  private async finalRun(): Promise<void> {
    await this.checkpoints.final();
    for (const subscription of this.subscriptions()) {
      const { window } = subscription;
      if (
        window !== undefined &&
        window.sendFrom <= this.current &&
        statusOf(subscription, this.current) === 'ending'
      ) {
        subscription.needsFinalRun = false;
      }
    }
  }

  private async set(now: Date): Promise<void> {
    if (now < this.current) throw new Error(`the clock may only move forward, not from ${this.current.toISOString()}`);
    await this.marketplace.setClock(now);
    this.current = now;
  }
}
