/**
 * One planned `BatchMeterUsage` call carried through to an outcome for each of its records:
 * - throttling, 5xx and calls that got no answer are retried with jittered backoff, under the rate limiter, a bounded
 *   number of times; `UnprocessedRecords` (and any record the answer leaves out) are sent again, and only they;
 * - a batch refused whole because of a record is split in halves, and each half sent again, until each bad record is
 *   alone: it is rejected with the exception's name, and every other record is billed;
 * - what is still unsent when the attempts run out is reported as such, for the caller to leave pending.
 *
 * Every send of a record is the identical record, so a retry of a call that was processed (a connection dropped after
 * Marketplace billed it) is answered `Success` again and bills nothing more.
 */
import type {
  BatchMeterUsageRequest,
  BatchMeterUsageResult,
  UsageRecord,
  UsageRecordResult,
} from '@aws-sdk/client-marketplace-metering';
import { classifyFailure } from './call-failure.ts';
import type { RateLimiter, Sleep } from './rate-limiter.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.ts';
import { recordKey } from './usage-record.ts';

/** One `BatchMeterUsage` call: the SDK client's `send`, with its retries off. */
export type MeteringCall = (
  request: BatchMeterUsageRequest,
) => Promise<BatchMeterUsageResult & { readonly $metadata: { readonly requestId?: string | undefined } }>;

export type RecordOutcome =
  | { readonly kind: 'billed'; readonly meteringRecordId: string | undefined; readonly requestId: string | undefined }
  /**
   * `CustomerNotSubscribed`, `DuplicateRecord`, or the exception that refused it alone. `answerLost` when an earlier
   * send of it went unanswered: Marketplace may have billed that one and refused only the resend.
   */
  | {
      readonly kind: 'rejected';
      readonly reason: string;
      readonly requestId: string | undefined;
      readonly answerLost: boolean;
    }
  /**
   * Not settled by this run (retries exhausted, or the caller refused): the bucket stays pending. `answerLost` when a
   * send of it went unanswered (no answer, or a 5xx), which Marketplace may have billed; otherwise none was processed.
   */
  | { readonly kind: 'unsent'; readonly reason: string; readonly answerLost: boolean };

export interface SubmissionCounters {
  calls: number;
  retries: number;
  throttles: number;
  readonly requestIds: Set<string>;
}

export interface BatchSubmitterOptions {
  readonly call: MeteringCall;
  readonly limiter: RateLimiter;
  readonly policy?: RetryPolicy;
  readonly sleep: Sleep;
  readonly random?: () => number;
}

interface Indexed {
  readonly index: number;
  readonly record: UsageRecord;
}

/** Retries for one call beyond the submitter's policy: its own, each one past the usual ones if `mayRetry` allows. */
export interface RetryExtension {
  readonly policy: RetryPolicy;
  /** Whether a retry past the usual ones may go, after a pause of `pauseMs`. */
  readonly mayRetry: (pauseMs: number) => boolean;
}

interface BatchRejection {
  readonly records: readonly Indexed[];
  readonly reason: string;
  readonly requestId: string | undefined;
  /** Whether a send of these records went unanswered before the refusal: their halves inherit it. */
  readonly answerLost: boolean;
}

export class BatchSubmitter {
  readonly counters: SubmissionCounters = { calls: 0, retries: 0, throttles: 0, requestIds: new Set() };
  private readonly policy: RetryPolicy;
  private readonly random: () => number;
  /** Set once Marketplace refuses the caller itself: every later call would be refused the same way. */
  private refusal: string | undefined;

  constructor(private readonly options: BatchSubmitterOptions) {
    this.policy = options.policy ?? DEFAULT_RETRY_POLICY;
    this.random = options.random ?? Math.random;
  }

  /**
   * The outcome of each record, in the order given. An `extension` lets this call retry beyond the submitter's policy,
   * under its own, for as long as its `mayRetry` allows each retry past the usual ones, given the pause before it.
   */
  async submit(
    productCode: string | undefined,
    records: readonly UsageRecord[],
    extension?: RetryExtension,
  ): Promise<RecordOutcome[]> {
    const outcomes = new Map<number, RecordOutcome>();
    const attempts: RetryExtension = extension ?? { policy: this.policy, mayRetry: () => true };
    await this.bisect(
      productCode,
      records.map((record, index) => ({ index, record })),
      outcomes,
      attempts,
    );
    return records.map((_, index) => outcomes.get(index) ?? { kind: 'unsent', reason: 'not sent', answerLost: false });
  }

  private async bisect(
    productCode: string | undefined,
    records: readonly Indexed[],
    outcomes: Map<number, RecordOutcome>,
    attempts: RetryExtension,
    answerLost = false,
  ): Promise<void> {
    const rejection = await this.send(productCode, records, outcomes, attempts, answerLost);
    if (rejection === undefined) return;
    const [only, ...others] = rejection.records;
    if (only !== undefined && others.length === 0) {
      outcomes.set(only.index, {
        kind: 'rejected',
        reason: rejection.reason,
        requestId: rejection.requestId,
        answerLost: rejection.answerLost,
      });
      return;
    }
    const middle = Math.ceil(rejection.records.length / 2);
    const halves = [rejection.records.slice(0, middle), rejection.records.slice(middle)];
    for (const half of halves) await this.bisect(productCode, half, outcomes, attempts, rejection.answerLost);
  }

  /**
   * Sends the records until each has an answer or the attempts run out; answers the records still unanswered if the
   * batch was refused whole.
   */
  private async send(
    productCode: string | undefined,
    records: readonly Indexed[],
    outcomes: Map<number, RecordOutcome>,
    { policy, mayRetry }: RetryExtension,
    earlierAnswerLost: boolean,
  ): Promise<BatchRejection | undefined> {
    let remaining = records;
    let lastFailure = 'not sent';
    // Only the records still unanswered are sent again, so one lost answer concerns every record left at the end.
    let answerLost = earlierAnswerLost;
    for (let attempt = 1; attempt <= policy.maxAttempts && remaining.length > 0; attempt++) {
      if (this.refusal !== undefined) {
        lastFailure = this.refusal;
        break;
      }
      if (attempt > 1) {
        const pauseMs = backoffDelay(attempt - 1, policy, this.random);
        if (attempt > this.policy.maxAttempts && !mayRetry(pauseMs)) break;
        this.counters.retries++;
        await this.options.sleep(pauseMs);
      }
      await this.options.limiter.acquire();
      this.counters.calls++;
      let answer: Awaited<ReturnType<MeteringCall>>;
      try {
        answer = await this.options.call({
          ...(productCode === undefined ? {} : { ProductCode: productCode }),
          UsageRecords: remaining.map((entry) => entry.record),
        });
      } catch (error) {
        const failure = classifyFailure(error);
        if (failure.requestId !== undefined) this.counters.requestIds.add(failure.requestId);
        lastFailure = failure.reason;
        if (failure.kind === 'throttled') {
          this.counters.throttles++;
          this.options.limiter.throttled();
        }
        if (failure.kind === 'transient') answerLost = true;
        if (failure.kind === 'record-rejected') return { records: remaining, ...failure, answerLost };
        if (failure.kind === 'caller-refused') this.refusal = failure.reason;
        continue;
      }
      this.options.limiter.succeeded();
      const { requestId } = answer.$metadata;
      if (requestId !== undefined) this.counters.requestIds.add(requestId);
      const unanswered = new Map(remaining.map((entry) => [recordKey(entry.record), entry]));
      for (const result of answer.Results ?? []) {
        if (result.UsageRecord === undefined) continue;
        const key = recordKey(result.UsageRecord);
        const entry = unanswered.get(key);
        const outcome = outcomeOf(result, requestId, answerLost);
        if (entry === undefined || outcome === undefined) continue;
        outcomes.set(entry.index, outcome);
        unanswered.delete(key);
      }
      // `UnprocessedRecords`, and anything the answer does not account for: sent again, identical.
      remaining = [...unanswered.values()];
      lastFailure = 'UnprocessedRecords';
    }
    for (const entry of remaining) outcomes.set(entry.index, { kind: 'unsent', reason: lastFailure, answerLost });
    return undefined;
  }
}

function outcomeOf(
  result: UsageRecordResult,
  requestId: string | undefined,
  answerLost: boolean,
): RecordOutcome | undefined {
  switch (result.Status) {
    case 'Success':
      return { kind: 'billed', meteringRecordId: result.MeteringRecordId, requestId };
    case 'CustomerNotSubscribed':
    case 'DuplicateRecord':
      return { kind: 'rejected', reason: result.Status, requestId, answerLost };
    default:
      // A status this code does not know: not settled, so the record is asked about again.
      return undefined;
  }
}
