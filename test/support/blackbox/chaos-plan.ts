/**
 * Seeded schedules for the black-box metering chaos suite. Generating is pure: the same seed gives the same plan, so a
 * failing seed replays. A plan says what happens in abstract terms (which buyer as a fraction, where in a time span as
 * a fraction); the player (`chaos-player.ts`) resolves them against the subscriptions as they are when the step plays.
 */
import { SeededRandom } from '../seeded-random.ts';
import type { FaultPlan, FaultRule, IdentityModel } from './marketplace-control.ts';

/** Where an event's timestamp falls, which decides what the backend must answer. */
export type EventTiming =
  /** Inside the subscription, in the current hour or up to three hours back (late usage). */
  | 'in-period'
  /** Before the subscription started. */
  | 'before-start'
  /** After the license ended (a cancelled buyer only). */
  | 'after-end'
  /** Older than Marketplace's acceptance window. */
  | 'too-old'
  /** More than the five minutes of tolerated clock skew ahead. */
  | 'in-the-future';

export interface PlannedEvent {
  readonly timing: EventTiming;
  /** Which buyer, from 0 to 1, among those the timing fits. */
  readonly buyer: number;
  /** Which of the buyer's dimensions, from 0 to 1; or a dimension its product does not meter. */
  readonly dimension: number | 'unknown';
  /** Hours back from the end of the period, for `in-period`. */
  readonly hoursBack: number;
  /** Where in its time span, from 0 to 1. */
  readonly position: number;
  readonly quantity: number;
  readonly withEventId: boolean;
  readonly tags?: Readonly<Record<string, string>>;
}

/** How a metering run goes. */
export interface PlannedRun {
  readonly scope: 'hourly' | 'final' | 'subscriber';
  /** For `subscriber`: which buyer, from 0 to 1. */
  readonly buyer: number;
  /** SIGKILLed once this many `BatchMeterUsage` calls reached Marketplace, or this many ms after it started. */
  readonly kill?: { readonly afterCalls: number } | { readonly afterMs: number };
}

export type ChaosStep =
  | { readonly kind: 'subscribe'; readonly model: IdentityModel }
  /** One `POST /usage`; with `answerLost`, the app never reads the answer and sends the same call again. */
  | {
      readonly kind: 'usage';
      readonly events: readonly PlannedEvent[];
      readonly answerLost: boolean;
      /** The event (from 0 to 1) the call carries twice: a duplicate inside one call. */
      readonly repeated?: number;
    }
  /** Earlier events (from 0 to 1 among those with an id) sent again, identical. */
  | { readonly kind: 'resend'; readonly pick: number; readonly count: number }
  /** An earlier event's id reused for an event with other contents. */
  | { readonly kind: 'reuse-id'; readonly pick: number; readonly change: 'quantity' | 'subscriber' | 'timestamp' }
  | { readonly kind: 'cancel'; readonly buyer: number }
  | { readonly kind: 'advance'; readonly minutes: number }
  /** The clock moved to this minute of the next hour: the hour before is due (5 minutes after its end, its grace). */
  | { readonly kind: 'advance-into-next-hour'; readonly minute: number }
  /**
   * The clock moved into an ending buyer's final-metering window (from 0 to 1 among them): from 20 minutes before F
   * (late usage still taken, carried into the final hour) to just before D (from F on, usage is refused).
   */
  | { readonly kind: 'advance-into-final-window'; readonly buyer: number; readonly position: number }
  | { readonly kind: 'faults'; readonly plan: FaultPlan }
  | { readonly kind: 'clear-faults' }
  /** One run, or two started together. */
  | { readonly kind: 'meter'; readonly runs: readonly PlannedRun[] };

export interface ChaosPlan {
  readonly seed: number;
  /** Minutes past the hour the seed starts at. */
  readonly startMinute: number;
  readonly buyers: readonly IdentityModel[];
  readonly steps: readonly ChaosStep[];
}

const TAG_SETS: readonly Readonly<Record<string, string>>[] = [
  { team: 'a' },
  { team: 'b' },
  { env: 'prod', team: 'a' },
];

export function chaosPlan(seed: number): ChaosPlan {
  const random = new SeededRandom(seed);
  const buyers: IdentityModel[] = ['license', 'legacy'];
  for (let extra = random.int(1, 3); extra > 0; extra--) buyers.push(random.pick(['license', 'legacy'] as const));
  const steps = Array.from({ length: random.int(14, 22) }, () => randomSteps(random)).flat();
  // Every seed has each kind of trouble at least once, wherever it falls.
  const musts: ChaosStep[][] = [
    [{ kind: 'cancel', buyer: random.next() }, usageStep(random, false)],
    [{ kind: 'advance-into-final-window', buyer: random.next(), position: random.next() }, usageStep(random, false)],
    [usageStep(random, true)],
    [
      { kind: 'faults', plan: faultPlan(random) },
      { kind: 'meter', runs: [run(random, 'final'), run(random, 'hourly')] },
    ],
    killedRunSteps(random, 'hourly'),
    outageSteps(random),
  ];
  for (const must of musts) steps.splice(random.int(0, steps.length), 0, ...must);
  return { seed, startMinute: random.int(0, 59), buyers, steps };
}

/** What a random step does, by weight. */
const RANDOM_STEPS: readonly (readonly [number, (random: SeededRandom) => ChaosStep[]])[] = [
  [34, (random) => [usageStep(random, random.chance(0.15))]],
  [8, (random) => [{ kind: 'advance', minutes: random.int(1, 30) }]],
  [4, (random) => [{ kind: 'advance-into-next-hour', minute: random.int(0, 40) }]],
  [4, (random) => [{ kind: 'advance-into-final-window', buyer: random.next(), position: random.next() }]],
  [16, meterSteps],
  [8, (random) => [{ kind: 'faults', plan: faultPlan(random) }]],
  [4, () => [{ kind: 'clear-faults' }]],
  [6, (random) => [{ kind: 'cancel', buyer: random.next() }]],
  [6, (random) => [{ kind: 'resend', pick: random.next(), count: random.int(1, 4) }]],
  [
    6,
    (random) => [
      { kind: 'reuse-id', pick: random.next(), change: random.pick(['quantity', 'subscriber', 'timestamp']) },
    ],
  ],
  [4, (random) => [{ kind: 'subscribe', model: random.pick(['license', 'legacy']) }]],
];

/** Where events fall, by weight: mostly billable, some refused for each reason. */
const EVENT_TIMINGS: readonly (readonly [number, EventTiming])[] = [
  [70, 'in-period'],
  [8, 'after-end'],
  [8, 'before-start'],
  [7, 'too-old'],
  [7, 'in-the-future'],
];

function randomSteps(random: SeededRandom): ChaosStep[] {
  return weighted(random, RANDOM_STEPS)(random);
}

function weighted<T>(random: SeededRandom, table: readonly (readonly [number, T])[]): T {
  let roll = random.next() * table.reduce((total, [weight]) => total + weight, 0);
  for (const [weight, value] of table) {
    roll -= weight;
    if (roll < 0) return value;
  }
  return table.at(-1)![1];
}

function usageStep(random: SeededRandom, answerLost: boolean): ChaosStep {
  const events = Array.from({ length: random.int(1, 12) }, () => plannedEvent(random, answerLost));
  return { kind: 'usage', events, answerLost, ...(random.chance(0.2) ? { repeated: random.next() } : {}) };
}

function plannedEvent(random: SeededRandom, answerLost: boolean): PlannedEvent {
  return {
    timing: weighted(random, EVENT_TIMINGS),
    buyer: random.next(),
    dimension: random.chance(0.04) ? 'unknown' : random.next(),
    hoursBack: random.chance(0.6) ? 0 : random.int(1, 3),
    position: random.next(),
    quantity: random.chance(0.1) ? random.int(1000, 1_000_000) : random.int(1, 1000),
    // Only a call whose events all have ids can be sent again safely.
    withEventId: answerLost || random.chance(0.9),
    ...(random.chance(0.2) ? { tags: random.pick(TAG_SETS) } : {}),
  };
}

function meterSteps(random: SeededRandom): ChaosStep[] {
  const scope = () => random.pick(['hourly', 'hourly', 'final', 'subscriber'] as const);
  if (random.chance(0.25)) return killedRunSteps(random, scope());
  const runs = random.chance(0.25) ? [run(random, scope()), run(random, scope())] : [run(random, scope())];
  // Most runs find little to do between the timeline's checkpoints; just after an hour closed, the hour is due.
  const advance: ChaosStep[] = random.chance(0.4)
    ? [{ kind: 'advance-into-next-hour', minute: random.int(5, 30) }]
    : [];
  return [...advance, { kind: 'meter', runs }];
}

function run(random: SeededRandom, scope: PlannedRun['scope']): PlannedRun {
  return { scope, buyer: random.next() };
}

/**
 * A run SIGKILLed at a random moment of its life, or once its first calls reached Marketplace: then an hourly run
 * just after an hour closed (so that it has work), under a latency fault, so that the kill lands while Marketplace
 * still processes the call (billed, but the run never hears of it).
 */
function killedRunSteps(random: SeededRandom, scope: PlannedRun['scope']): ChaosStep[] {
  if (random.chance(0.3)) {
    return [{ kind: 'meter', runs: [{ ...run(random, scope), kill: { afterMs: random.int(0, 1500) } }] }];
  }
  const latency: FaultRule = { kind: 'latency', operations: ['BatchMeterUsage'], latencyMs: random.int(100, 400) };
  const plan = faultPlan(random);
  return [
    { kind: 'advance-into-next-hour', minute: random.int(6, 20) },
    { kind: 'faults', plan: { ...plan, rules: [...plan.rules, latency] } },
    { kind: 'meter', runs: [{ ...run(random, 'hourly'), kill: { afterCalls: random.int(1, 2) } }] },
  ];
}

/** A run with work while Marketplace cannot be reached at all: it gives up, and leaves its buckets to later runs. */
function outageSteps(random: SeededRandom): ChaosStep[] {
  const outage: FaultRule = random.pick<FaultRule>([
    { kind: 'internal-error', operations: ['BatchMeterUsage'] },
    { kind: 'throttle', operations: ['BatchMeterUsage'] },
    { kind: 'drop-connection', operations: ['BatchMeterUsage'], when: 'before-processing' },
  ]);
  return [
    { kind: 'advance-into-next-hour', minute: random.int(5, 30) },
    { kind: 'faults', plan: { seed: random.int(1, 2 ** 31 - 1), rules: [outage] } },
    { kind: 'meter', runs: [run(random, random.pick(['hourly', 'final'] as const))] },
    { kind: 'clear-faults' },
  ];
}

/** Faults on `BatchMeterUsage` only: buyers' arrivals and the lifecycle are not what this suite is about. */
function faultPlan(random: SeededRandom): FaultPlan {
  const operations = ['BatchMeterUsage'];
  const candidates: (() => FaultRule)[] = [
    () => ({ kind: 'throttle', operations, probability: random.int(1, 4) / 10 }),
    () => ({ kind: 'internal-error', operations, probability: random.int(1, 3) / 10 }),
    () => ({ kind: 'latency', operations, latencyMs: random.int(20, 250), probability: random.int(3, 10) / 10 }),
    () => ({ kind: 'unprocessed', operations, fraction: random.int(2, 6) / 10, probability: random.int(3, 7) / 10 }),
    () => ({
      kind: 'drop-connection',
      operations,
      when: random.pick(['before-processing', 'after-processing'] as const),
      probability: random.int(1, 3) / 10,
    }),
    // A short outage: every call fails for a while, so that a run may give up and leave buckets pending.
    () => ({ kind: random.pick(['internal-error', 'throttle'] as const), operations, times: random.int(3, 12) }),
    () => ({ kind: 'drop-connection', operations, when: 'after-processing', times: random.int(1, 4) }),
  ];
  const rules = Array.from({ length: random.int(1, 3) }, () => random.pick(candidates)());
  return { seed: random.int(1, 2 ** 31 - 1), rules };
}

/** One line per step, for a failure message. */
export function describePlan(plan: ChaosPlan): string {
  return [
    `start :${String(plan.startMinute).padStart(2, '0')}, buyers ${plan.buyers.join(', ')}`,
    ...plan.steps.map((step, index) => `${index + 1}. ${JSON.stringify(step)}`),
  ].join('\n');
}
