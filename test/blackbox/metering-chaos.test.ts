/**
 * Usage metering, black box: "accepted means billable". One `npm start` for the file; seeded chaos schedules played one
 * after another on it, the simulator's clock only moving forward, each seed with fresh buyers of both identity models.
 * Everything goes through public interfaces only, as the seller's app, the buyers' browsers, Marketplace and the
 * seller at a shell would: the simulator's control API (licenses, cancellations, the clock, faults, what was billed),
 * the fulfillment URL, `POST /usage` and the access check, and `npm run meter` / `npm run report` processes (started
 * alone or two at once, some SIGKILLed at a random moment, under throttling, 5xx, latency, unprocessed records and
 * connections dropped before or after processing).
 *
 * Checked, per seed:
 * - every answer of `POST /usage` is the one the documented rules give (`usage-rules.ts`): accepted, duplicate for a
 *   resend, conflict for a reused id, or rejected with its reason (too old, in the future, before the subscription,
 *   after the license's end, after the final usage was sent at F, an unmetered dimension); an accepted one names an
 *   hour the usage may go into (its own, or a later open one when its own was already sent);
 * - after a drain (faults cleared, every buyer cancelled, the clock moved past every final-metering deadline with a
 *   fault-free run in each final window and after each closed hour), per subscriber, dimension and hour, Marketplace
 *   billed exactly the units accepted, in one record, never `DuplicateRecord`; and `npm run report` reconciles with
 *   nothing rejected, expired, pending or unconfirmed.
 *
 * Replay one seed: `BLACKBOX_CHAOS_SEED=<n> npx vitest run --project blackbox`. Many seeds: `BLACKBOX_CHAOS_RUNS=<n>`
 * (from `BLACKBOX_CHAOS_FIRST_SEED`: 1 unless given, `random` explores). A seed replays the same schedule; where a
 * SIGKILL lands in a run also depends on real time. `BLACKBOX_CHAOS_VERBOSE=1` prints what each seed played.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chaosPlan, describePlan } from '../support/blackbox/chaos-plan.ts';
import { playSeed, type ChaosStack, type SeedOutcome } from '../support/blackbox/chaos-player.ts';
import { MarketplaceControl } from '../support/blackbox/marketplace-control.ts';
import { startStackProcess, type StackProcess } from '../support/blackbox/stack-process.ts';
import { seedFrom } from '../support/seeded-random.ts';

/**
 * The seeds `npm test` plays, picked for what they cover between them: kills landing after calls and at random
 * moments, an outage leaving buckets pending, lost answers, conflicts, carried usage, both identity models, usage in
 * and around final-metering windows (refused from F on); and some twenty seconds for both.
 */
const FIXED_SEEDS = [28, 30];
/** A seed takes some fifteen seconds alone; a loaded machine may take several times that. */
const SEED_TIMEOUT_MS = 180_000;

function seeds(): number[] {
  if (process.env.BLACKBOX_CHAOS_SEED) return [seedFrom('BLACKBOX_CHAOS_SEED', FIXED_SEEDS[0]!)];
  if (!process.env.BLACKBOX_CHAOS_RUNS) return FIXED_SEEDS;
  const runs = Number(process.env.BLACKBOX_CHAOS_RUNS);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('BLACKBOX_CHAOS_RUNS must be a whole number from 1');
  const first = seedFrom('BLACKBOX_CHAOS_FIRST_SEED', 1);
  console.log(`black-box metering chaos: ${runs} seeds from ${first}`);
  return Array.from({ length: runs }, (_, index) => (first + index) % 2 ** 32);
}

let stackProcess: StackProcess;
let stack: ChaosStack;
const played: SeedOutcome[] = [];

beforeAll(async () => {
  stackProcess = await startStackProcess();
  stack = {
    apiUrl: stackProcess.apiUrl,
    fulfillmentUrl: stackProcess.fulfillmentUrl,
    marketplace: new MarketplaceControl(stackProcess.simulatorUrl),
    commandEnvironment: stackProcess.commandEnvironment,
  };
});

afterAll(async () => {
  await stackProcess?.stop();
  printTotals(played);
});

describe('metering through the running stack, under chaos: every accepted unit is billed exactly once', () => {
  test.each(seeds())('seed %i', { timeout: SEED_TIMEOUT_MS }, async (seed) => {
    const plan = chaosPlan(seed);
    const outcome = await playSeed(stack, plan);
    played.push(outcome);
    if (process.env.BLACKBOX_CHAOS_VERBOSE === '1') console.log([`seed ${seed}:`, ...outcome.trace].join('\n'));
    expect(outcome.violations, failureReport(outcome, describePlan(plan))).toEqual([]);
  });
});

function failureReport(outcome: SeedOutcome, plan: string): string {
  return [
    `seed ${outcome.seed} broke the books; replay: BLACKBOX_CHAOS_SEED=${outcome.seed} npx vitest run --project blackbox`,
    'what happened:',
    ...outcome.trace,
    'the plan:',
    plan,
  ].join('\n');
}

function printTotals(outcomes: readonly SeedOutcome[]): void {
  const sum = (figure: (outcome: SeedOutcome) => number) => outcomes.reduce((total, o) => total + figure(o), 0);
  const answers = (which: (outcome: string) => boolean) =>
    sum((o) => [...o.answers].reduce((total, [outcome, count]) => total + (which(outcome) ? count : 0), 0));
  const failed = outcomes.filter((outcome) => outcome.violations.length > 0).map((outcome) => outcome.seed);
  console.log(
    `black-box metering chaos: ${outcomes.length} seeds, ${failed.length === 0 ? 'none' : failed.join(', ')} failed; ` +
      `POST /usage answered ${answers(() => true)} events: accepted ${answers((o) => o === 'accepted')}, ` +
      `duplicate ${answers((o) => o === 'duplicate')}, conflict ${answers((o) => o === 'conflict')}, ` +
      `rejected ${answers((o) => o.startsWith('rejected:'))}; units recorded ${sum((o) => o.totals.recorded)}, ` +
      `billed ${sum((o) => o.totals.billed)}, expired ${sum((o) => o.totals.expired)}, ` +
      `accepted then refused by Marketplace ${sum((o) => o.totals.rejected)}`,
  );
}
