/**
 * The run's last stage, and every earlier stage's way out: a bucket settled `billed`, `rejected` (with its reason) or
 * `expired`, or left pending for the next run. Each settlement is conditional on the bucket being unsettled, so one
 * that another run settled meanwhile is counted as settled elsewhere, never twice.
 */
import type { ItemKey } from '../../table-keys.ts';
import { finalMeteringDeadline } from '../../lifecycle/subscription-state.ts';
import { finalHourSendTime, type BucketItem } from '../bucket/index.ts';
import type { RecordOutcome } from './batch-submitter.ts';
import type { RunContext } from './run-context.ts';

/** An ending subscriber's bucket whose final-metering deadline passed: the caller is alarmed about its units. */
export interface MissedFinalDeadline {
  readonly subscriberId: string;
  readonly hour: Date;
  readonly deadline: string;
}

/** Marketplace's refusals of a record for a customer it takes no usage from (legacy, license). */
const NOT_SUBSCRIBED_REFUSALS: ReadonlySet<string> = new Set(['CustomerNotSubscribed', 'InvalidLicenseException']);

export class Settler {
  constructor(private readonly run: RunContext) {}

  /** A sent record's outcome, on its bucket. */
  async settle(bucket: BucketItem, outcome: RecordOutcome): Promise<void> {
    const { ledger, tally, logger, now } = this.run;
    try {
      switch (outcome.kind) {
        case 'billed':
          if (await ledger.settleBilled(bucket.key, outcome, now)) tally.billed++;
          else tally.settledElsewhere++;
          return;
        case 'rejected': {
          const missed = await this.closedFinalWindow(bucket, outcome.reason);
          if (missed !== undefined) {
            const unconfirmedSend = this.mayHaveBeenBilled(bucket, outcome.answerLost);
            if (await this.expire(bucket.key, 'final-window-passed', missed, unconfirmedSend)) {
              logger.error('Marketplace refused a final record: its final-metering window closed before ours', {
                key: bucket.key,
                reason: outcome.reason,
                requestId: outcome.requestId,
              });
            }
            return;
          }
          if (outcome.reason === 'DuplicateRecord') {
            // Another quantity was billed for this customer-hour: the freeze is meant to make that impossible.
            logger.error('Marketplace answered DuplicateRecord', { key: bucket.key, requestId: outcome.requestId });
          }
          await this.reject(bucket, outcome.reason, outcome.requestId, outcome.answerLost);
          return;
        }
        case 'unsent':
          tally.leavePending(bucket.hour);
          return;
      }
    } catch (error) {
      // The record went out; the next run sends it again, identical, and settles it then.
      this.leavePending(bucket.hour, 'outcome could not be recorded', { key: bucket.key, error: String(error) });
    }
  }

  /**
   * Settles a bucket rejected, marking it when a send of it went unanswered (`answerLost`, in this run) or an earlier
   * run froze it (and may have sent it unanswered), with usage in it: a zero-usage record bills nothing either way.
   */
  async reject(bucket: BucketItem, reason: string, requestId: string | undefined, answerLost = false): Promise<void> {
    const { ledger, tally, logger, now } = this.run;
    const unconfirmedSend = bucket.quantity > 0 && this.mayHaveBeenBilled(bucket, answerLost);
    if (!(await ledger.settleRejected(bucket.key, { reason, requestId, unconfirmedSend }, now))) {
      // Another run settled it meanwhile (billed, as a run whose resend Marketplace took does): nothing to alarm on.
      tally.settledElsewhere++;
      return;
    }
    tally.reject(reason);
    if (unconfirmedSend && reason !== 'DuplicateRecord') {
      // Marketplace may have billed the first send and refuse the resend now (the license ended, the hour aged).
      tally.unconfirmedSends++;
      logger.error('Usage bucket rejected after an unconfirmed send', { key: bucket.key, reason, requestId });
    }
  }

  /** Whether a send of the bucket may have been billed unheard: one went unanswered, or an earlier run froze it. */
  private mayHaveBeenBilled(bucket: BucketItem, answerLost: boolean): boolean {
    return answerLost || (bucket.frozenAt !== undefined && Date.parse(bucket.frozenAt) < this.run.now.getTime());
  }

  /** A bucket that is not one: nothing to send, nothing to learn from its freeze. */
  async rejectKey(key: ItemKey, reason: string): Promise<void> {
    const { ledger, tally, now } = this.run;
    const rejected = { reason, requestId: undefined, unconfirmedSend: false };
    if (await ledger.settleRejected(key, rejected, now)) tally.reject(reason);
    else tally.settledElsewhere++;
  }

  /** A bucket too large for any request (no call can carry it). */
  async rejectTooLarge(bucket: BucketItem): Promise<void> {
    this.run.logger.error('Usage bucket too large for any request rejected', { key: bucket.key });
    await this.reject(bucket, 'record-too-large', undefined);
  }

  /** Answers whether this run expired it (not another, which settled it meanwhile). */
  async expire(key: ItemKey, reason: string, missed?: MissedFinalDeadline, unconfirmedSend = true): Promise<boolean> {
    const { ledger, tally, logger, now } = this.run;
    const { expired, frozenEarlier, units } = await ledger.expire(key, reason, now, { unconfirmedSend });
    if (!expired) {
      tally.settledElsewhere++;
      return false;
    }
    tally.expired++;
    // An earlier run froze it and may have sent it without learning the answer: CloudTrail tells whether it billed. A
    // zero-usage record bills nothing either way: no one need look.
    if (frozenEarlier && units !== 0) {
      tally.unconfirmedSends++;
      logger.error('Usage bucket expired after an unconfirmed send', { key, reason });
    }
    if (missed !== undefined && units !== undefined && units > 0) {
      tally.missFinalDeadline(units);
      // After an unconfirmed send Marketplace may have billed it after all (the report counts it `unconfirmed`).
      logger.error(
        frozenEarlier
          ? 'Final metering missed its deadline: usage expired, unbilled unless its unconfirmed send was billed'
          : 'Final metering missed its deadline: usage expired unbilled',
        { ...missed, hour: missed.hour.toISOString(), key, units },
      );
    }
    return true;
  }

  /**
   * The missed deadline a refusal means, if it does: an ending subscriber's record refused as not subscribed once its
   * final send time has passed. Marketplace's window may be shorter than the hour assumed (`finalMeteringGraceMinutes`);
   * a record it refuses then was not refused for what it is, but because the window closed: the final deadline missed.
   */
  private async closedFinalWindow(bucket: BucketItem, reason: string): Promise<MissedFinalDeadline | undefined> {
    if (!NOT_SUBSCRIBED_REFUSALS.has(reason)) return undefined;
    const { subscribers, now, dependencies } = this.run;
    const lookup = await subscribers.identityOf(bucket.subscriberId);
    if (lookup.kind === 'unknown') return undefined;
    const sendAt = finalHourSendTime(lookup.lifecycle, now, dependencies.finalMetering);
    const deadline = finalMeteringDeadline(lookup.lifecycle, dependencies.finalMetering.graceSeconds);
    if (sendAt === undefined || deadline === undefined || now < sendAt) return undefined;
    return { subscriberId: bucket.subscriberId, hour: bucket.hour, deadline: deadline.toISOString() };
  }

  leavePending(hour: Date, message: string, details: Record<string, unknown>): void {
    this.run.tally.leavePending(hour);
    this.run.logger.warn(`Usage left pending: ${message}`, details);
  }
}
