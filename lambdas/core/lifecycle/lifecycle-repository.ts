/**
 * The lifecycle's writes to the Subscribers table. The lifecycle owns its own attributes of a subscriber item (the
 * facts, the status derived from them, the `live` index shard, the final-metering deadline, the entitlements) and
 * never touches the fulfillment URL's or the registration page's. A notification is folded into the stored facts by
 * read, merge and a write conditional on the version read, retried when another write got there first: the merge is
 * commutative and idempotent (see `subscription-state.ts`), so every order and every duplicate lands on the same item.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { subscriberIdOf } from '../subscriber.ts';
import {
  agreementKey,
  endingShardOf,
  liveShardOf,
  rejectedMarketplaceMessageKey,
  subscriberKey,
} from '../table-keys.ts';
import type { SubscriberEntitlement } from './entitlements.ts';
import type { AgreementMessage, SubscriberMessage, SubscriberReference } from './marketplace-messages.ts';
import type { OfferType, SubscriptionStatus } from '../subscriber.ts';
import {
  finalMeteringDeadline,
  isMeterable,
  statusAsOf,
  supersededSubscription,
  withFact,
  type LifecycleFacts,
} from './subscription-state.ts';
import { ENDING_INDEX, LIVE_INDEX, LIVE_SHARDS } from '../../../contracts/index.ts';
import { BackendError } from '../errors.ts';
import { itemsOfPages } from '../table-pages.ts';

/** Entitlements as read from Marketplace, and when. */
export interface FetchedEntitlements {
  readonly entitlements: readonly SubscriberEntitlement[];
  readonly fetchedAt: Date;
}

/** Another writer kept winning the race for the same subscriber; the notification is retried from the queue. */
export class LifecycleContentionError extends BackendError {
  override readonly name = 'LifecycleContentionError';
}

/** A subscriber the sweep could not end, and why. */
export interface SweepFailure {
  readonly pk: string;
  readonly reason: string;
}

/** Some subscribers past their final-metering deadline could not be ended; every other one was. */
export class FinalMeteringSweepIncompleteError extends BackendError {
  override readonly name = 'FinalMeteringSweepIncompleteError';

  constructor(
    readonly closed: readonly string[],
    readonly failures: readonly SweepFailure[],
  ) {
    super(`${failures.length} subscriber(s) past their final-metering deadline could not be ended`);
  }
}

const WRITE_ATTEMPTS = 8;
/** A random pause before another attempt, so that writers racing for one item do not collide again in step. */
const retryPause = (attempt: number) => sleep(Math.random() * 20 * attempt);
/** How long a set-aside notification is kept for an operator to look at. */
const REJECTED_RETENTION_DAYS = 30;
/** How long an ended agreement's record outlives its end: past a year of invoices and disputes about them. */
const ENDED_AGREEMENT_RETENTION_DAYS = 400;
/** Enough of a set-aside notification to see what it was. */
const REJECTED_BODY_CHARACTERS = 8_000;

interface StoredLifecycle {
  readonly lifecycle?: LifecycleFacts;
  readonly lifecycleVersion?: number;
  readonly subscriptionStatus?: SubscriptionStatus;
  readonly entitlements?: SubscriberEntitlement[];
  readonly entitlementsFetchedAt?: string;
  readonly entitlementsReadAt?: string;
  readonly agreementId?: string;
  readonly agreementAt?: string;
  readonly offerType?: string;
  readonly marketplaceOfferType?: string;
  readonly [ENDING_INDEX.sortKey]?: string;
}

export class LifecycleRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly finalMeteringGraceSeconds: number,
  ) {}

  /**
   * Folds a notification (and entitlements read for it) into the subscriber, with its status as of `now`; answers
   * whether anything changed.
   */
  async applyToSubscriber(
    notification: Pick<SubscriberMessage, 'subscriber' | 'facts' | 'at' | 'freeTrial'>,
    now: Date,
    fetched?: FetchedEntitlements,
  ): Promise<'changed' | 'unchanged'> {
    const { subscriber } = notification;
    const subscriberId = subscriberIdOf(subscriber);
    for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: subscriberKey(subscriberId), ConsistentRead: true }),
      );
      const stored = (Item ?? {}) as StoredLifecycle;
      // A legacy buyer may subscribe again: known before the facts are folded, so that they keep the recent ones.
      const before: LifecycleFacts =
        subscriber.model === 'legacy' && notification.facts.length > 0
          ? { ...stored.lifecycle, resubscribable: true }
          : (stored.lifecycle ?? {});
      const facts = notification.facts.reduce((merged, fact) => withFact(merged, fact, notification.at), before);
      const state = statusAsOf(facts, now, this.finalMeteringGraceSeconds);
      const entitlements = fetched === undefined ? undefined : readToStore(fetched, stored);
      // The agreement named by the latest license event, by event time: a stale event cannot re-point it.
      const agreement =
        subscriber.model === 'license' &&
        subscriber.agreementId !== undefined &&
        (stored.agreementAt === undefined || stored.agreementAt < notification.at.toISOString())
          ? { agreementId: subscriber.agreementId, agreementAt: notification.at.toISOString() }
          : undefined;
      const offer = offerOf(notification, facts, stored);
      const unchanged =
        JSON.stringify(facts) === JSON.stringify(stored.lifecycle ?? {}) &&
        state.status === (stored.subscriptionStatus ?? 'pending') &&
        this.finalMeteringUntil(facts, state.status, now)?.toISOString() === stored[ENDING_INDEX.sortKey] &&
        entitlements === undefined &&
        agreement === undefined &&
        offer === undefined;
      if (unchanged) return 'unchanged';
      try {
        await this.write(
          subscriberId,
          subscriber,
          stored.lifecycleVersion ?? 0,
          { facts, state, entitlements, agreement, offer },
          now,
        );
        return 'changed';
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        await retryPause(attempt);
      }
    }
    throw new LifecycleContentionError(`Could not update ${subscriberId} in ${WRITE_ATTEMPTS} attempts`);
  }

  /**
   * Until when final metering has the subscriber to see to (the `ending` index's key): an ending subscription's
   * deadline, or, for a buyer who subscribed again, the deadline of the subscription before, while it is ahead.
   */
  private finalMeteringUntil(facts: LifecycleFacts, status: SubscriptionStatus, now: Date): Date | undefined {
    if (status === 'ending') return finalMeteringDeadline(facts, this.finalMeteringGraceSeconds);
    const superseded = supersededSubscription(facts, this.finalMeteringGraceSeconds);
    return isMeterable(status) && superseded !== undefined && now < superseded.deadline
      ? superseded.deadline
      : undefined;
  }

  private async write(
    subscriberId: string,
    subscriber: SubscriberReference,
    version: number,
    changes: {
      readonly facts: LifecycleFacts;
      readonly state: { status: SubscriptionStatus; since?: string };
      readonly entitlements: StoredRead | undefined;
      readonly agreement: { agreementId: string; agreementAt: string } | undefined;
      readonly offer: { offerType: OfferType; marketplaceOfferType: OfferType } | undefined;
    },
    now: Date,
  ): Promise<void> {
    const { facts, state, entitlements, agreement, offer } = changes;
    const { status, since } = state;
    const deadline = this.finalMeteringUntil(facts, status, now);
    const set: Record<string, unknown> = {
      lifecycle: facts,
      lifecycleVersion: version + 1,
      subscriptionStatus: status,
      ...(since === undefined ? {} : { statusChangedAt: since }),
      ...(isMeterable(status) ? { [LIVE_INDEX.partitionKey]: liveShardOf(subscriberId) } : {}),
      ...(deadline === undefined
        ? {}
        : {
            [ENDING_INDEX.sortKey]: deadline.toISOString(),
            [ENDING_INDEX.partitionKey]: endingShardOf(subscriberId),
          }),
      ...(entitlements === undefined
        ? {}
        : {
            entitlements: entitlements.entitlements,
            entitlementsFetchedAt: entitlements.fetchedAt,
            entitlementsReadAt: entitlements.readAt,
          }),
      ...agreement,
      ...offer,
    };
    // Who the subscriber is, for an item the lifecycle creates before the buyer arrives; never overwritten.
    const identity: Record<string, string> = Object.fromEntries(
      Object.entries({
        subscriberId,
        identityModel: subscriber.model,
        productCode: subscriber.productCode,
        ...(subscriber.model === 'license'
          ? { licenseArn: subscriber.licenseArn, customerAWSAccountId: subscriber.customerAWSAccountId }
          : { customerIdentifier: subscriber.customerIdentifier }),
      }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    const remove = [
      ...(isMeterable(status) ? [] : [LIVE_INDEX.partitionKey]),
      ...(deadline === undefined ? [ENDING_INDEX.sortKey, ENDING_INDEX.partitionKey] : []),
    ];
    const names = [...Object.keys(set), ...Object.keys(identity), ...remove];
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: subscriberKey(subscriberId),
        UpdateExpression: [
          `SET ${[
            ...Object.keys(set).map((name) => `#${name} = :${name}`),
            ...Object.keys(identity).map((name) => `#${name} = if_not_exists(#${name}, :${name})`),
          ].join(', ')}`,
          ...(remove.length > 0 ? [`REMOVE ${remove.map((name) => `#${name}`).join(', ')}`] : []),
        ].join(' '),
        ConditionExpression:
          version === 0 ? 'attribute_not_exists(#lifecycleVersion)' : '#lifecycleVersion = :expectedVersion',
        ExpressionAttributeNames: Object.fromEntries([...new Set(names)].map((name) => [`#${name}`, name])),
        ExpressionAttributeValues: {
          ...Object.fromEntries(Object.entries({ ...set, ...identity }).map(([name, value]) => [`:${name}`, value])),
          ...(version === 0 ? {} : { ':expectedVersion': version }),
        },
      }),
    );
  }

  /**
   * Records what an agreement event says, the latest by event time, and which subscriber the agreement belongs to
   * once a license event has named it. Agreement events name no license, so they change no subscriber's state.
   */
  async recordAgreement(notification: AgreementMessage): Promise<void> {
    const at = notification.at.toISOString();
    const attributes = Object.fromEntries(
      Object.entries({
        agreementStatus: notification.status,
        intent: notification.intent,
        acceptorAccountId: notification.acceptorAccountId,
        offerId: notification.offerId,
        lastEventAt: at,
        lastEvent: notification.name,
        // An ended agreement changes no more; it is kept a while for an operator, then DynamoDB's TTL removes it.
        ...(notification.name.startsWith('Purchase Agreement Ended')
          ? { expiresAt: Math.ceil(notification.at.getTime() / 1000) + ENDED_AGREEMENT_RETENTION_DAYS * 86_400 }
          : {}),
      }).filter((entry): entry is [string, string | number] => entry[1] !== undefined),
    );
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: agreementKey(notification.agreementId),
          UpdateExpression: `SET ${Object.keys(attributes)
            .map((name) => `#${name} = :${name}`)
            .join(', ')}`,
          ConditionExpression: 'attribute_not_exists(#lastEventAt) OR #lastEventAt <= :lastEventAt',
          ExpressionAttributeNames: Object.fromEntries(Object.keys(attributes).map((name) => [`#${name}`, name])),
          ExpressionAttributeValues: Object.fromEntries(
            Object.entries(attributes).map(([name, value]) => [`:${name}`, value]),
          ),
        }),
      );
    } catch (error) {
      // An older event than the one recorded: nothing to change.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Notes which subscriber an agreement belongs to (License events name both). */
  async linkAgreement(agreementId: string, subscriberId: string): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: agreementKey(agreementId),
        UpdateExpression: 'SET #subscriberId = :subscriberId',
        ExpressionAttributeNames: { '#subscriberId': 'subscriberId' },
        ExpressionAttributeValues: { ':subscriberId': subscriberId },
      }),
    );
  }

  /** Sets a notification aside with its reason, for an operator; it is kept for a month. */
  async recordRejected(rejected: {
    readonly messageId: string;
    readonly receivedAt: Date;
    readonly reason: string;
    readonly name?: string | undefined;
    readonly body: string;
  }): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...rejectedMarketplaceMessageKey(rejected.receivedAt, rejected.messageId),
          reason: rejected.reason,
          ...(rejected.name === undefined ? {} : { name: rejected.name }),
          body: rejected.body.slice(0, REJECTED_BODY_CHARACTERS),
          expiresAt: Math.ceil(rejected.receivedAt.getTime() / 1000) + REJECTED_RETENTION_DAYS * 86_400,
        },
      }),
    );
  }

  /** The final-metering deadlines still ahead of `after`, of every subscriber inside a final-metering window. */
  async finalMeteringDeadlinesAfter(after: Date): Promise<Date[]> {
    const deadlines: Date[] = [];
    for await (const item of this.inFinalMeteringWindows('>', after)) {
      deadlines.push(new Date(String(item[ENDING_INDEX.sortKey])));
    }
    return deadlines;
  }

  /**
   * Ends every subscription whose final-metering window has passed by `now` (EventBridge sends no notification when
   * it closes; the legacy `unsubscribe-success` may come late or not at all), and lets go of a buyer who subscribed
   * again once the old subscription's window has passed. Answers the subscribers whose window it closed; one that
   * fails does not stop the others, and {@link FinalMeteringSweepIncompleteError} names them all at the end.
   */
  async closeFinalMeteringWindows(now: Date): Promise<string[]> {
    const closed: string[] = [];
    const failures: SweepFailure[] = [];
    for await (const item of this.inFinalMeteringWindows('<=', now)) {
      const subscriber = referenceOf(item);
      if (subscriber === undefined) {
        failures.push({ pk: String(item.pk), reason: 'the item does not say who the subscriber is' });
        continue;
      }
      try {
        // No fact is recorded: the status is derived from the deadline, so a resubscription dated inside the
        // window still wins if its notification arrives after this sweep.
        const outcome = await this.applyToSubscriber({ subscriber, facts: [], at: now }, now);
        if (outcome === 'changed') closed.push(subscriberIdOf(subscriber));
      } catch (error) {
        failures.push({ pk: String(item.pk), reason: error instanceof Error ? error.message : String(error) });
      }
    }
    if (failures.length > 0) throw new FinalMeteringSweepIncompleteError(closed, failures);
    return closed;
  }

  /** The `ending` index's items whose deadline compares so with `instant`, shard by shard, page by page. */
  private async *inFinalMeteringWindows(
    comparison: '>' | '<=',
    instant: Date,
  ): AsyncGenerator<Record<string, unknown>> {
    for (let shard = 0; shard < LIVE_SHARDS; shard++) {
      yield* itemsOfPages((startKey) =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: ENDING_INDEX.indexName,
            KeyConditionExpression: `#shard = :shard AND #deadline ${comparison} :instant`,
            ExpressionAttributeNames: { '#shard': ENDING_INDEX.partitionKey, '#deadline': ENDING_INDEX.sortKey },
            ExpressionAttributeValues: { ':shard': `ending#${shard}`, ':instant': instant.toISOString() },
            ExclusiveStartKey: startKey,
          }),
        ),
      );
    }
  }
}

/**
 * The offer Marketplace says the subscription has, to record when it differs from the stored one: only from the
 * notification that set the latest activation, so that a stale `subscribe-success` (a trial's, after the buyer
 * subscribed again without one) changes nothing. Kept apart too (`marketplaceOfferType`), so that a later browser
 * claiming a trial cannot overwrite Marketplace's word.
 */
function offerOf(
  notification: Pick<SubscriberMessage, 'freeTrial' | 'at'>,
  facts: LifecycleFacts,
  stored: StoredLifecycle,
): { offerType: OfferType; marketplaceOfferType: OfferType } | undefined {
  if (notification.freeTrial === undefined || facts.activatedAt !== notification.at.toISOString()) return undefined;
  const offerType: OfferType = notification.freeTrial ? 'free-trial' : 'standard';
  return offerType === stored.offerType && offerType === stored.marketplaceOfferType
    ? undefined
    : { offerType, marketplaceOfferType: offerType };
}

/** The reference a stored subscriber item carries, as a notification would name it. */
function referenceOf(item: Record<string, unknown>): SubscriberReference | undefined {
  const { identityModel, productCode, licenseArn, customerIdentifier, customerAWSAccountId } = item as Record<
    string,
    string | undefined
  >;
  if (productCode === undefined) return undefined;
  if (identityModel === 'license' && licenseArn !== undefined) {
    return { model: 'license', productCode, licenseArn, customerAWSAccountId };
  }
  if (identityModel === 'legacy' && customerIdentifier !== undefined) {
    return { model: 'legacy', productCode, customerIdentifier };
  }
  return undefined;
}

/**
 * A read of the entitlements as stored: `readAt` when it was read, `fetchedAt` the time it is published as (seller
 * events' `entitlementsFetchedAt` and `version`), later than every read stored before it.
 */
interface StoredRead {
  readonly entitlements: readonly SubscriberEntitlement[];
  readonly readAt: string;
  readonly fetchedAt: string;
}

/**
 * The read to store, if it replaces the stored one. The latest read wins, even when it reads the same: an older read
 * finishing late must not undo it. Of two reads at the same instant (a clock's resolution; two changes in one second of
 * a stopped simulator clock), the one applied last that reads something else is kept: usually the later change, as a
 * queue mostly hands notifications over in the order they came. It is then published a millisecond after the stored
 * one, so that an app deduplicating on the version, or keeping the latest `entitlementsFetchedAt`, keeps it too.
 */
function readToStore(fetched: FetchedEntitlements, stored: StoredLifecycle): StoredRead | undefined {
  const readAt = fetched.fetchedAt.toISOString();
  const storedReadAt = stored.entitlementsReadAt ?? stored.entitlementsFetchedAt;
  const newer =
    storedReadAt === undefined ||
    storedReadAt < readAt ||
    (storedReadAt === readAt && JSON.stringify(stored.entitlements ?? []) !== JSON.stringify(fetched.entitlements));
  if (!newer) return undefined;
  const afterStored = stored.entitlementsFetchedAt === undefined ? 0 : Date.parse(stored.entitlementsFetchedAt) + 1;
  const fetchedAt = new Date(Math.max(fetched.fetchedAt.getTime(), afterStored)).toISOString();
  return { entitlements: fetched.entitlements, readAt, fetchedAt };
}
