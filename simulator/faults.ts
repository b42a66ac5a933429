/**
 * Deterministic fault injection. A plan is a seed and a list of rules; every request that a rule matches draws from
 * one seeded PRNG in arrival order, so the same seed and the same sequence of requests replay the same faults.
 * TPS limits are the exception: like AWS's quotas they count requests per second of real time.
 */
import { z } from 'zod';
import { operations, type Operation } from './marketplace-protocol.ts';
import { SeededRandom } from './random.ts';

const ruleScope = {
  /** Operations the rule applies to; all of them when left out. */
  operations: z.array(z.enum(operations)).min(1).optional(),
  /** Chance that a matching request is hit. */
  probability: z.number().min(0).max(1).default(1),
  /** Matching requests to let through before the rule starts. */
  skip: z.number().int().min(0).default(0),
  /** Stop after hitting this many requests. */
  times: z.number().int().min(1).optional(),
};

const faultRuleSchema = z.discriminatedUnion('kind', [
  /** `ThrottlingException` (400), which the SDK retries. */
  z.strictObject({ kind: z.literal('throttle'), ...ruleScope }),
  /** `InternalServiceErrorException` (500), which the SDK retries. */
  z.strictObject({ kind: z.literal('internal-error'), ...ruleScope }),
  /** A delay before the request is processed. */
  z.strictObject({ kind: z.literal('latency'), latencyMs: z.number().int().min(0).max(120_000), ...ruleScope }),
  /** `BatchMeterUsage` only: this fraction of the records (chosen by the PRNG) comes back in `UnprocessedRecords`. */
  z.strictObject({ kind: z.literal('unprocessed'), fraction: z.number().min(0).max(1), ...ruleScope }),
  /**
   * The connection is dropped without an answer: before the request is processed, or after it (the usage is billed
   * but the caller never learns it: the case that exposes non-idempotent retries).
   */
  z.strictObject({
    kind: z.literal('drop-connection'),
    when: z.enum(['before-processing', 'after-processing']).default('before-processing'),
    ...ruleScope,
  }),
]);

export const faultPlanSchema = z.strictObject({
  seed: z.number().int().default(1),
  rules: z.array(faultRuleSchema).default([]),
  /** Requests per second (real time) beyond which an operation is throttled, like AWS's per-account quotas. */
  tpsLimits: z.partialRecord(z.enum(operations), z.number().int().positive()).default({}),
});

export type FaultRule = z.infer<typeof faultRuleSchema>;
export type FaultPlan = z.infer<typeof faultPlanSchema>;

/** What happens to one request. */
export interface FaultDecision {
  readonly throttle: boolean;
  readonly internalError: boolean;
  readonly latencyMs: number;
  readonly unprocessedFraction: number;
  readonly drop: 'before-processing' | 'after-processing' | undefined;
}

export interface OperationStats {
  requests: number;
  throttled: number;
  internalErrors: number;
  dropped: number;
  delayed: number;
  unprocessedRecords: number;
}

export function emptyStats(): OperationStats {
  return { requests: 0, throttled: 0, internalErrors: 0, dropped: 0, delayed: 0, unprocessedRecords: 0 };
}

/**
 * How far a plan has got: where its random sequence is and how often each rule has matched and been applied. Saved
 * with the simulator's state, so that a restart goes on with the plan rather than replaying it.
 */
export interface FaultProgress {
  readonly randomPosition: number;
  readonly matched: readonly number[];
  readonly applied: readonly number[];
}

export class FaultInjector {
  private readonly random: SeededRandom;
  private readonly matched: number[];
  private readonly applied: number[];
  private readonly recentRequests = new Map<Operation, number[]>();

  constructor(
    readonly plan: FaultPlan,
    private readonly monotonicMs: () => number = () => performance.now(),
    progress?: FaultProgress,
  ) {
    this.random = new SeededRandom(progress?.randomPosition ?? plan.seed);
    this.matched = plan.rules.map((_rule, index) => progress?.matched[index] ?? 0);
    this.applied = plan.rules.map((_rule, index) => progress?.applied[index] ?? 0);
  }

  progress(): FaultProgress {
    return { randomPosition: this.random.position(), matched: [...this.matched], applied: [...this.applied] };
  }

  decide(operation: Operation): FaultDecision {
    const decision = {
      throttle: this.overTpsLimit(operation),
      internalError: false,
      latencyMs: 0,
      unprocessedFraction: 0,
      drop: undefined as FaultDecision['drop'],
    };
    this.plan.rules.forEach((rule, index) => {
      if (!this.applies(rule, index, operation)) return;
      switch (rule.kind) {
        case 'throttle':
          decision.throttle = true;
          break;
        case 'internal-error':
          decision.internalError = true;
          break;
        case 'latency':
          decision.latencyMs += rule.latencyMs;
          break;
        case 'unprocessed':
          decision.unprocessedFraction = Math.max(decision.unprocessedFraction, rule.fraction);
          break;
        case 'drop-connection':
          decision.drop = rule.when;
          break;
      }
    });
    return decision;
  }

  /** Picks which of `count` records are left unprocessed. */
  pickUnprocessed(count: number, fraction: number): boolean[] {
    if (fraction === 0) return Array.from({ length: count }, () => false);
    return Array.from({ length: count }, () => this.random.next() < fraction);
  }

  private applies(rule: FaultRule, index: number, operation: Operation): boolean {
    if (rule.operations !== undefined && !rule.operations.includes(operation)) return false;
    const matched = ++this.matched[index]!;
    if (matched <= rule.skip) return false;
    if (rule.times !== undefined && this.applied[index]! >= rule.times) return false;
    if (this.random.next() >= rule.probability) return false;
    this.applied[index]!++;
    return true;
  }

  private overTpsLimit(operation: Operation): boolean {
    const limit = this.plan.tpsLimits[operation];
    if (limit === undefined) return false;
    const now = this.monotonicMs();
    const recent = (this.recentRequests.get(operation) ?? []).filter((at) => now - at < 1000);
    const over = recent.length >= limit;
    if (!over) recent.push(now);
    this.recentRequests.set(operation, recent);
    return over;
  }
}
