/**
 * Seeded schedules for the metering chaos suite: a few subscribers of both identity models, each starting at its own
 * time, and a list of steps (usage recorded, late, early, duplicated, under a reused event id, too old or in the
 * future; faults set and cleared; the clock moved a few minutes, across an hour boundary or across the acceptance
 * window; runs, runs cut short by their time budget, runs killed at some point, two runs at once, a run with usage
 * arriving during it; a license ended at
 * any point of an hour, with usage around the end, final-metering runs (killed, alongside a run or usage), and, for
 * most ends, a fault-free final-metering run inside the final window). Generating is pure: the same seed gives the
 * same schedule, so a failing seed replays (see `chaos-world.ts` for how a schedule is played).
 */
import type { FaultPlanInput } from '../../simulator/control-client.ts';
import { SeededRandom } from './seeded-random.ts';

export const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/** How long after a cancellation final metering sends the final hour: the hour's grace less the 15-minute margin. */
export const FINAL_SEND_AFTER_END_MS = 45 * MINUTE_MS;

/** The license product's metered dimensions, and the legacy product's. */
export const LICENSE_DIMENSIONS = ['users', 'gb'] as const;
export const LEGACY_DIMENSIONS = ['seats'] as const;

export type IdentityModel = 'license' | 'legacy';

export interface ChaosEvent {
  /** Index into the schedule's subscribers; -1 is a subscriber nobody knows. */
  readonly subscriber: number;
  readonly dimension: string;
  readonly quantity: number;
  /** ISO 8601. */
  readonly timestamp: string;
  readonly eventId?: string;
  /** The allocation the units belong to; untagged when left out. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Tag sets events draw from (one of them twice, in another key order: the same set). */
const TAG_SETS: readonly Readonly<Record<string, string>>[] = [
  { team: 'a' },
  { team: 'b' },
  { env: 'prod', team: 'a' },
  { team: 'a', env: 'prod' },
];

/** Marketplace's largest hourly quantity. */
const MAX_QUANTITY = 2_147_483_647;

/**
 * How a process dies: at its AWS call number `1 + floor(at * calls)`, where `calls` is what the process is expected to
 * make (DynamoDB and Marketplace calls, or Marketplace calls only), either before that call goes out or after the
 * service processed it but before the answer is read. Everything after it fails.
 */
export interface KillPlan {
  /** Where in the process's life, from 0 (its first call) to 1 (past its last). */
  readonly at: number;
  readonly when: 'before' | 'after';
  readonly target: 'any' | 'metering';
}

/**
 * DynamoDB failing now and then for one process: a call fails with this probability, either before it reaches the
 * table or after the table applied it (the answer lost on the way back), drawn from this seed.
 */
export interface FlakyTable {
  readonly seed: number;
  readonly probability: number;
  readonly when: 'before' | 'after' | 'either';
}

export type ChaosStep =
  | {
      readonly kind: 'record';
      readonly events: readonly ChaosEvent[];
      /** The recorder's process dies at this point of the call; the caller then sends the same call again. */
      readonly answerLost?: KillPlan;
      /** The step whose call this one sends again, whole. */
      readonly resendOf?: number;
    }
  | { readonly kind: 'faults'; readonly plan: FaultPlanInput }
  | { readonly kind: 'clear-faults' }
  | { readonly kind: 'advance'; readonly minutes: number; readonly why: string }
  | {
      readonly kind: 'run';
      readonly kill?: KillPlan;
      readonly flakyTable?: FlakyTable;
      /** The run's time budget, in buckets it takes before it stops and hands over. */
      readonly budget?: number;
    }
  | {
      readonly kind: 'two-runs';
      readonly offsetSeconds: number;
      readonly kill?: KillPlan;
      readonly flakyTable?: FlakyTable;
    }
  | { readonly kind: 'run-while-recording'; readonly events: readonly ChaosEvent[] }
  | { readonly kind: 'end-license'; readonly subscriber: number }
  | {
      /** Final metering of every ending subscriber, as its every-minute schedule runs it. */
      readonly kind: 'final-run';
      readonly kill?: KillPlan;
      readonly flakyTable?: FlakyTable;
      /** At the same time: an hourly run, or usage (the ending subscribers' own, some of it late). */
      readonly alongside?: { readonly run: true } | { readonly events: readonly ChaosEvent[] };
      /** The run inside a final window that nothing disturbs: Marketplace is reachable there. */
      readonly guaranteed?: true;
    };

export interface ChaosSettings {
  /**
   * The simulator's reading of what AWS leaves uncertain: whether a record may be stamped before the activation
   * instant in its hour, and how long after a cancellation Marketplace takes final records (this project assumes an
   * hour and sends the final hour 15 minutes early: a window up to 15 minutes shorter still takes it).
   */
  readonly marketplace: {
    readonly licensePeriodStart: 'activation-hour' | 'instant';
    readonly finalMeteringGraceSeconds: number;
  };
  /** `BatchMeterUsage` calls per batch, the first included. */
  readonly maxAttempts: number;
  /** 1 sends one call at a time (a replay sees the same order of calls); more lets calls overlap. */
  readonly callsPerSecond: number;
  readonly zeroUsageRecords: boolean;
  readonly closedHourGraceMinutes: number;
  readonly acceptanceWindowHours: number;
}

export interface ChaosSchedule {
  readonly seed: number;
  /** ISO 8601: the clock when the schedule starts. */
  readonly start: string;
  /** Each subscriber's identity model, and how long before the schedule's start it subscribed. */
  readonly subscribers: readonly { readonly model: IdentityModel; readonly minutesBeforeStart: number }[];
  readonly settings: ChaosSettings;
  readonly steps: readonly ChaosStep[];
}

/** Where a schedule's clock starts: mid-month, late on the last day of a month, or just before a month's 06:00 cut-off. */
const STARTS = [
  { day: '2026-11-18', fromHour: 8, toHour: 16 },
  { day: '2026-11-30', fromHour: 19, toHour: 23 },
  { day: '2026-12-01', fromHour: 3, toHour: 5 },
] as const;

export function generateSchedule(seed: number): ChaosSchedule {
  const random = new SeededRandom(seed);
  const startSpec = random.pick(STARTS);
  const start = new Date(
    `${startSpec.day}T${String(random.int(startSpec.fromHour, startSpec.toHour)).padStart(2, '0')}:00:00.000Z`,
  );
  let now = start.getTime() + random.int(0, 59) * MINUTE_MS + random.int(0, 59) * 1000;
  const startsAt = new Date(now).toISOString();

  const subscriberCount = random.int(2, 4);
  const models: readonly IdentityModel[] = ['license', 'legacy'];
  // At least one of each model.
  const subscribers = Array.from({ length: subscriberCount }, (_, index) => ({
    model: index < models.length ? models[index]! : random.pick(models),
    // Often within the last hours, so that early usage (before the subscription started) comes up.
    minutesBeforeStart: random.chance(0.5) ? random.int(1, 180) : random.int(181, 3 * 24 * 60),
  }));
  const settings: ChaosSettings = {
    marketplace: random.chance(0.5)
      ? { licensePeriodStart: 'activation-hour', finalMeteringGraceSeconds: 3600 }
      : { licensePeriodStart: 'instant', finalMeteringGraceSeconds: 3000 },
    maxAttempts: random.int(1, 6),
    callsPerSecond: random.pick([1, 1, 1, 4]),
    zeroUsageRecords: random.chance(0.4),
    closedHourGraceMinutes: 5,
    acceptanceWindowHours: 24,
  };

  /** Ended subscribers, with the time of the end. */
  const ended = new Map<number, number>();
  /** Ends whose final window still awaits its guaranteed run: the time it is due from. */
  const awaitingGuaranteedRun = new Set<number>();
  const steps: ChaosStep[] = [];
  /** Event ids used so far, with the event that first carried each. */
  const sentWithId: ChaosEvent[] = [];
  let nextEventId = 1;

  const dimensionsOf = (subscriber: number): readonly string[] =>
    subscribers[subscriber]!.model === 'license' ? LICENSE_DIMENSIONS : LEGACY_DIMENSIONS;

  /** A usage time relative to now: mostly this hour, often late, sometimes too old or in the future. */
  const timestampOf = (): number => {
    const hourStart = Math.floor(now / HOUR_MS) * HOUR_MS;
    const roll = random.next();
    if (roll < 0.4) return random.int(hourStart, now);
    if (roll < 0.6) return hourStart - random.int(1, HOUR_MS);
    if (roll < 0.75) return hourStart - random.int(1, 20) * HOUR_MS + random.int(0, HOUR_MS - 1);
    if (roll < 0.8) return now - random.int(21, 30) * HOUR_MS;
    if (roll < 0.85) return now + random.int(6, 120) * MINUTE_MS;
    if (roll < 0.92) return now + random.int(0, 4 * MINUTE_MS);
    // On an hour boundary, or a millisecond before one.
    return hourStart - random.int(0, 3) * HOUR_MS - random.int(0, 1);
  };

  const eventOf = (): ChaosEvent => {
    const roll = random.next();
    if (roll < 0.14 && sentWithId.length > 0) {
      // The same event again (a retry by the seller's app), the same id with other contents or for another
      // subscriber (a caller's bug: a conflict, never counted).
      const earlier = random.pick(sentWithId);
      const variant = random.next();
      if (variant < 0.65) return earlier;
      if (variant < 0.85 || earlier.subscriber === -1) {
        return { ...earlier, quantity: earlier.quantity + random.int(1, 5) };
      }
      const other = random.int(0, subscriberCount - 1);
      return { ...earlier, subscriber: other, dimension: random.pick(dimensionsOf(other)) };
    }
    const known = random.next();
    const subscriber = known < 0.03 ? -1 : random.int(0, subscriberCount - 1);
    const dimensions = subscriber === -1 ? LICENSE_DIMENSIONS : dimensionsOf(subscriber);
    const event: ChaosEvent = {
      subscriber,
      dimension: random.chance(0.04) ? 'not-a-dimension' : random.pick(dimensions),
      // Now and then large, and rarely close to the most an hour can hold, so that a bucket overflows.
      quantity: random.chance(0.05)
        ? random.int(100_000, 5_000_000)
        : random.chance(0.02)
          ? random.int(MAX_QUANTITY - 200, MAX_QUANTITY)
          : random.int(1, 100),
      timestamp: new Date(timestampOf()).toISOString(),
      ...(random.chance(0.65) ? { eventId: `evt-${seed}-${nextEventId++}` } : {}),
      ...(random.chance(0.25) ? { tags: random.pick(TAG_SETS) } : {}),
    };
    if (event.eventId !== undefined) sentWithId.push(event);
    return event;
  };

  /**
   * An event of one subscriber's around its end: this hour or the last, mostly before the end (late usage the app
   * sends after the cancellation), sometimes after it (to be refused).
   */
  const eventFor = (subscriber: number): ChaosEvent => {
    const hourStart = Math.floor(now / HOUR_MS) * HOUR_MS;
    const end = ended.get(subscriber) ?? now;
    const at = random.chance(0.8) ? random.int(hourStart - HOUR_MS, Math.min(end, now)) : random.int(end, now + 1);
    return {
      subscriber,
      dimension: random.pick(dimensionsOf(subscriber)),
      quantity: random.int(1, 100),
      timestamp: new Date(at).toISOString(),
      ...(random.chance(0.5) ? { eventId: `evt-${seed}-${nextEventId++}` } : {}),
      ...(random.chance(0.2) ? { tags: random.pick(TAG_SETS) } : {}),
    };
  };

  const killOf = (): KillPlan => ({
    at: random.next(),
    when: random.pick(['before', 'after'] as const),
    target: random.chance(0.4) ? 'metering' : 'any',
  });

  const flakyTableOf = (): FlakyTable | undefined =>
    random.chance(0.15)
      ? {
          seed: random.int(1, 2 ** 31 - 1),
          probability: random.pick([0.02, 0.05, 0.1, 0.2]),
          when: random.pick(['before', 'after', 'either'] as const),
        }
      : undefined;
  const optional = <K extends string, V>(key: K, value: V | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

  const faultPlanOf = (): FaultPlanInput => {
    const operations = ['BatchMeterUsage' as const];
    const rules: NonNullable<FaultPlanInput['rules']>[number][] = [];
    const probability = () => Math.round(random.next() * 50) / 100;
    const times = () => (random.chance(0.3) ? { times: random.int(1, 4) } : {});
    if (random.chance(0.5)) rules.push({ kind: 'throttle', operations, probability: probability(), ...times() });
    if (random.chance(0.5)) rules.push({ kind: 'internal-error', operations, probability: probability(), ...times() });
    if (random.chance(0.3)) {
      rules.push({ kind: 'latency', operations, latencyMs: random.int(1, 15), probability: probability() });
    }
    if (random.chance(0.5)) {
      rules.push({
        kind: 'unprocessed',
        operations,
        fraction: Math.round(random.next() * 100) / 100,
        probability: probability(),
        ...times(),
      });
    }
    for (const when of ['before-processing', 'after-processing'] as const) {
      if (random.chance(0.35)) {
        rules.push({ kind: 'drop-connection', when, operations, probability: probability(), ...times() });
      }
    }
    return { seed: random.int(1, 2 ** 31 - 1), rules };
  };

  const advanceBy = (minutes: number, why: string) => {
    steps.push({ kind: 'advance', minutes, why });
    now += minutes * MINUTE_MS;
  };

  /**
   * Moves the clock on, stopping inside each final window the move would pass, for a final-metering run nothing
   * disturbs: in AWS one runs every minute, so a window in which none gets through means Marketplace was unreachable
   * for all of it. Early in the window, so that it falls inside Marketplace's even when that is shorter than assumed.
   */
  const advance = (minutes: number, why: string) => {
    const target = now + minutes * MINUTE_MS;
    const due = [...awaitingGuaranteedRun]
      .map((subscriber) => ({ subscriber, sendFrom: ended.get(subscriber)! + FINAL_SEND_AFTER_END_MS }))
      .filter(({ sendFrom }) => sendFrom <= target)
      .sort((a, b) => a.sendFrom - b.sendFrom);
    for (const { subscriber, sendFrom } of due) {
      awaitingGuaranteedRun.delete(subscriber);
      const stop = Math.min(target, Math.max(now, sendFrom + random.int(0, 3) * MINUTE_MS));
      if (stop > now) advanceBy(Math.ceil((stop - now) / MINUTE_MS), 'into a final window');
      steps.push({ kind: 'clear-faults' }, { kind: 'final-run', guaranteed: true });
    }
    if (target > now) advanceBy(Math.ceil((target - now) / MINUTE_MS), why);
  };

  /** A final-metering run, now and then killed, alongside an hourly run or usage around a subscriber's end. */
  const finalRun = (subscriber: number): ChaosStep => {
    const alongside = random.next();
    return {
      kind: 'final-run',
      ...optional('kill', random.chance(0.3) ? killOf() : undefined),
      ...optional('flakyTable', flakyTableOf()),
      ...(alongside < 0.2
        ? { alongside: { run: true } }
        : alongside < 0.5
          ? { alongside: { events: Array.from({ length: random.int(1, 4) }, () => eventFor(subscriber)) } }
          : {}),
    };
  };

  if (random.chance(0.4)) steps.push({ kind: 'faults', plan: faultPlanOf() });
  const stepCount = random.int(12, 30);
  for (let index = 0; index < stepCount; index++) {
    const roll = random.next();
    if (roll < 0.34) {
      const previous = steps.flatMap((step, position) => (step.kind === 'record' ? [position] : []));
      if (previous.length > 0 && random.chance(0.08)) {
        const resendOf = random.pick(previous);
        const original = steps[resendOf] as Extract<ChaosStep, { kind: 'record' }>;
        steps.push({ kind: 'record', events: original.events, resendOf });
        continue;
      }
      const events = Array.from({ length: random.int(1, 8) }, eventOf);
      if (random.chance(0.15)) {
        // The answer is lost and the caller sends the call again: safe only with event ids, so every event has one.
        steps.push({
          kind: 'record',
          events: events.map((event) => {
            if (event.eventId !== undefined) return event;
            const withId = { ...event, eventId: `evt-${seed}-${nextEventId++}` };
            sentWithId.push(withId);
            return withId;
          }),
          answerLost: { at: random.next(), when: random.pick(['before', 'after'] as const), target: 'any' },
        });
      } else {
        steps.push({ kind: 'record', events });
      }
    } else if (roll < 0.54) {
      const choice = random.next();
      const toNextHour = Math.ceil((now + 1) / HOUR_MS) * HOUR_MS - now;
      if (choice < 0.35) advance(random.int(1, 20), 'a few minutes');
      else if (choice < 0.75) {
        // Into the next hour: sometimes still inside the closed hour's grace, mostly past it.
        advance(Math.ceil(toNextHour / MINUTE_MS) + random.pick([0, 2, 4, 5, 6, 10, 30]), 'across an hour boundary');
      } else if (choice < 0.92) advance(random.int(2, 8) * 60 + random.int(0, 59), 'several hours');
      else advance(random.int(23, 26) * 60 + random.int(0, 59), 'across the acceptance window');
    } else if (roll < 0.68) {
      steps.push({
        kind: 'run',
        ...optional('flakyTable', flakyTableOf()),
        ...optional('budget', random.chance(0.3) ? random.int(0, 12) : undefined),
      });
    } else if (roll < 0.76) {
      steps.push({ kind: 'run', kill: killOf(), ...optional('flakyTable', flakyTableOf()) });
    } else if (roll < 0.81) {
      // EventBridge delivering the same schedule twice, moments apart; now and then minutes apart, so that the two
      // runs may disagree about which hours are due or still inside the window.
      steps.push({
        kind: 'two-runs',
        offsetSeconds: random.chance(0.7) ? random.int(0, 59) : random.int(60, 600),
        ...optional('kill', random.chance(0.3) ? killOf() : undefined),
        ...optional('flakyTable', flakyTableOf()),
      });
    } else if (roll < 0.85) {
      steps.push({ kind: 'run-while-recording', events: Array.from({ length: random.int(1, 6) }, eventOf) });
    } else if (roll < 0.93) {
      steps.push({ kind: 'faults', plan: faultPlanOf() });
    } else if (roll < 0.96) {
      steps.push({ kind: 'clear-faults' });
    } else if (roll < 0.985) {
      const live = subscribers.map((_, position) => position).filter((position) => !ended.has(position));
      // Keep at least one subscriber live, so that the rest of the schedule has usage to meter.
      if (live.length <= 1) continue;
      const subscriber = random.pick(live);
      ended.set(subscriber, now);
      // Most final windows get a run that nothing disturbs; the others may pass with every run failing.
      if (random.chance(0.85)) awaitingGuaranteedRun.add(subscriber);
      steps.push({ kind: 'end-license', subscriber });
      if (random.chance(0.7)) steps.push(finalRun(subscriber));
    } else if (ended.size > 0) {
      steps.push(finalRun(random.pick([...ended.keys()])));
    }
  }
  return { seed, start: startsAt, subscribers, settings, steps };
}

/** One line per step, for a failure message. */
export function describeSchedule(schedule: ChaosSchedule): string {
  const lines = [
    `start ${schedule.start}; subscribers ${schedule.subscribers.map((subscriber) => subscriber.model).join(', ')}; ` +
      `settings ${JSON.stringify(schedule.settings)}`,
  ];
  schedule.steps.forEach((step, index) => {
    const { kind, ...rest } = step;
    lines.push(`  ${String(index).padStart(2)} ${kind} ${JSON.stringify(rest)}`);
  });
  return lines.join('\n');
}
