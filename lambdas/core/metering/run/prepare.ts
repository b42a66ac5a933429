/**
 * The run's second stage: a bucket found due is decided (by its subscriber's lifecycle and the acceptance window) and
 * frozen, and becomes the record to send, or is settled without a send (after the subscription's end, past a
 * deadline, malformed, of an unknown subscriber), or is left for later (not due yet, identity incomplete).
 */
import type { PlannedRecord } from './batch-plan.ts';
import {
  expiryOf,
  bucketItemOf,
  SETTLED_STATES,
  type BucketItem,
  bucketTiming,
  recordTimestampOf,
} from '../bucket/index.ts';
import type { DueBucket } from './due-buckets.ts';
import type { IdentityLookup } from './metering-subscribers.ts';
import type { RunContext } from './run-context.ts';
import type { Settler } from './settle.ts';
import { usageRecordOf } from './usage-record.ts';

export class Preparer {
  constructor(
    private readonly run: RunContext,
    private readonly settler: Settler,
  ) {}

  /** The bucket's record, ready to send; `undefined` when there is nothing to send now. */
  async prepare(candidate: DueBucket): Promise<PlannedRecord<BucketItem> | undefined> {
    this.run.tally.due++;
    try {
      const ready = await this.frozenForSending(candidate);
      return ready === undefined
        ? undefined
        : { record: usageRecordOf(ready.bucket, ready.identity), ...ready, source: ready.bucket };
    } catch (error) {
      this.settler.leavePending(candidate.coordinates?.hour ?? this.run.now, 'bucket could not be prepared', {
        key: candidate.key,
        error: String(error),
      });
      return undefined;
    }
  }

  /**
   * The bucket frozen and ready to send, or `undefined` once it is settled (or found settled) or is not due yet. What
   * decides is the subscriber's, so it is read first: an ending subscriber's final hour must stay open for late usage.
   */
  private async frozenForSending(candidate: DueBucket) {
    if (candidate.state !== undefined && SETTLED_STATES.has(candidate.state)) return undefined;
    const { now, dueBefore, subscribers, dependencies, ledger, tally, logger } = this.run;
    const subscriberId = candidate.coordinates?.subscriberId;
    const hour = candidate.coordinates?.hour;
    const lookup = subscriberId === undefined ? undefined : await subscribers.identityOf(subscriberId);
    const lifecycle = lookup === undefined || lookup.kind === 'unknown' ? {} : lookup.lifecycle;
    if (hour !== undefined && subscriberId !== undefined) {
      const timing = bucketTiming(hour, lifecycle, now, dueBefore, dependencies.finalMetering);
      switch (timing.kind) {
        case 'not-yet':
          // A bucket frozen already takes no more usage: holding it back would only delay its answer.
          if (candidate.state !== 'frozen') {
            tally.holdBack();
            return undefined;
          }
          break;
        case 'after-end':
          await this.freezeAndReject(candidate, hour, 'after-subscription-end');
          return undefined;
        case 'final-window-passed':
          await this.settler.expire(candidate.key, 'final-window-passed', {
            subscriberId,
            hour,
            deadline: timing.deadline.toISOString(),
          });
          return undefined;
        case 'due':
          break;
      }
      const expiry = expiryOf(hour, now, dependencies.acceptanceWindowHours);
      if (expiry !== undefined) {
        await this.settler.expire(candidate.key, expiry);
        return undefined;
      }
    }
    const recordTimestamp = hour === undefined ? now : recordTimestampOf(hour, lifecycle);
    const item = await ledger.freeze(candidate.key, { now, recordTimestamp });
    const bucket = item === undefined ? undefined : bucketItemOf(item);
    if (bucket === undefined) {
      if (item !== undefined) {
        logger.error('Malformed usage bucket rejected', { key: candidate.key });
        await this.settler.rejectKey(candidate.key, 'malformed-bucket');
      }
      return undefined;
    }
    if (SETTLED_STATES.has(bucket.state)) {
      tally.settledElsewhere++;
      return undefined;
    }
    return this.sendableOf(bucket, lookup ?? (await subscribers.identityOf(bucket.subscriberId)));
  }

  private async sendableOf(bucket: BucketItem, lookup: IdentityLookup) {
    if (lookup.kind === 'unknown') {
      this.run.logger.warn('Usage of an unknown subscriber rejected', {
        subscriberId: bucket.subscriberId,
        key: bucket.key,
      });
      await this.settler.reject(bucket, 'unknown-subscriber', undefined);
      return undefined;
    }
    if (lookup.kind === 'incomplete') {
      this.settler.leavePending(bucket.hour, 'subscriber identity incomplete', {
        subscriberId: bucket.subscriberId,
        missing: lookup.missing,
      });
      return undefined;
    }
    return { bucket, identity: lookup.identity };
  }

  /** An hour after the subscription ended: frozen (so that no more usage joins it) and settled without a send. */
  private async freezeAndReject(candidate: DueBucket, hour: Date, reason: string): Promise<void> {
    const item = await this.run.ledger.freeze(candidate.key, { now: this.run.now, recordTimestamp: hour });
    const bucket = item === undefined ? undefined : bucketItemOf(item);
    if (bucket === undefined || SETTLED_STATES.has(bucket.state)) return;
    this.run.logger.warn('Usage after the subscription ended rejected unsent', {
      key: candidate.key,
      units: bucket.quantity,
    });
    await this.settler.reject(bucket, reason, undefined);
  }
}
