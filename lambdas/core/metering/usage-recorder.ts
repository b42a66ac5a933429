/**
 * Records the seller's usage events into hourly buckets (see `usage-bucket.ts`), all of one call or none: every
 * accepted event of a call is written in one DynamoDB transaction, together with a key per event id, so that a call
 * that fails has written nothing and may be sent again whole; with event ids, sending again counts nothing twice.
 *
 * Units for an hour the metering run has already frozen are carried into a later open hour (the result says which),
 * never added to the frozen bucket (invariant 4). Each event gets its own answer, in order: `accepted`, `duplicate`
 * or `rejected` with a reason; only a call that cannot be recorded at all throws, and then nothing was recorded.
 *
 * @example
 * const results = await recordUsage(
 *   { client, usageTable, subscribersTable, products, acceptanceWindowHours: 24, eventIdRetentionDays: 35, finalMeteringGraceSeconds: 3600 },
 *   [{ subscriberId: 'license:arn:aws:license-manager::123456789012:license:l-1', dimension: 'requests', quantity: 3, timestamp: '2026-11-26T10:15:00Z', eventId: 'req-81f3' }],
 *   clock.now(),
 * );
 * // [{ status: 'accepted', hour: '2026-11-26T10:00:00.000Z' }]
 */
import type { MeteredProduct } from '../environment.ts';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  TransactWriteCommand,
  type BatchGetCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { effectiveStatus, isMeterable, type LifecycleFacts } from '../lifecycle/subscription-state.ts';
import { subscriberKey, type ItemKey } from '../table-keys.ts';
import {
  MAX_USAGE_EVENTS_PER_CALL,
  parseUsageEvent,
  rejection,
  timingRejection,
  type UsageEvent,
  type UsageEventResult,
} from './usage-event.ts';
import { eventKeyOf, itemId, planWrites, type Candidate, type TableKnowledge } from './usage-write-plan.ts';

export interface UsageRecorderDependencies {
  readonly client: DynamoDBDocumentClient;
  readonly usageTable: string;
  readonly subscribersTable: string;
  readonly products: readonly MeteredProduct[];
  /** How long after its hour Marketplace accepts a record (24 h today). */
  readonly acceptanceWindowHours: number;
  /** How long an event id is remembered: sending the event again within it counts it once. */
  readonly eventIdRetentionDays: number;
  /** How long after an end request usage is still taken (the subscription is `ending` until then). */
  readonly finalMeteringGraceSeconds: number;
}

/** The caller sent more events than one call takes; nothing was recorded. */
export class UsageBatchTooLarge extends Error {
  override readonly name = 'UsageBatchTooLarge';

  constructor(readonly count: number) {
    super(`At most ${MAX_USAGE_EVENTS_PER_CALL} events per call; this one has ${count}`);
  }
}

/** DynamoDB did not let the call through in the attempts it has; nothing was recorded, and the call may be retried. */
export class UsageRecordingIncomplete extends Error {
  override readonly name = 'UsageRecordingIncomplete';
}

/** Attempts at the transaction: each one after a failed condition has learned something the last one did not know. */
const TRANSACTION_ATTEMPTS = 10;
/** Attempts at reading subscribers and event keys while DynamoDB leaves some unread. */
const READ_ATTEMPTS = 5;
/** Failures of a transaction item that another attempt may not meet: other writers, or a partition's throughput. */
const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** A random, growing pause before another attempt, so that writers racing for one bucket do not collide in step. */
const retryPause = (attempt: number) => sleep(Math.random() * Math.min(1000, 20 * 2 ** attempt));

/** What the Subscribers table says about a subscriber, as far as recording usage needs it. */
interface StoredSubscriber {
  readonly productCode?: string;
  readonly lifecycle?: LifecycleFacts;
}

/**
 * Records `events` as of `now` and answers one result per event, in their order. Throws {@link UsageBatchTooLarge}
 * for more than 50 events, and {@link UsageRecordingIncomplete} or DynamoDB's own error when the call could not be
 * written; then nothing of it was.
 */
export async function recordUsage(
  dependencies: UsageRecorderDependencies,
  events: readonly unknown[],
  now: Date,
): Promise<UsageEventResult[]> {
  if (events.length > MAX_USAGE_EVENTS_PER_CALL) throw new UsageBatchTooLarge(events.length);
  const results = new Map<number, UsageEventResult>();
  const parsed: Candidate[] = [];
  events.forEach((input, index) => {
    const outcome = parseUsageEvent(input);
    if (outcome.outcome === 'rejected') results.set(index, outcome.result);
    else parsed.push({ index, event: outcome.event });
  });
  const { subscribers, countedEvents } = await readState(dependencies, parsed);
  const dimensions = new Map(dependencies.products.map((product) => [product.code, product.meteredDimensions]));
  const candidates: Candidate[] = [];
  for (const candidate of parsed) {
    // An event counted before is answered as such first: a retry of a call that did go through (its answer lost) must
    // read `duplicate`, even if the subscription has ended or the hour has aged since.
    const { event } = candidate;
    const counted =
      event.eventId !== undefined && countedEvents.has(itemId(eventKeyOf(event.subscriberId, event.eventId)));
    const result = counted
      ? ({ status: 'duplicate' } as const)
      : (timingRejection(event.at, now, dependencies.acceptanceWindowHours) ??
        subscriberRejection(event, subscribers.get(event.subscriberId), dimensions, now, dependencies));
    if (result === undefined) candidates.push(candidate);
    else results.set(candidate.index, result);
  }
  const written = await writeAtomically(dependencies, candidates, { buckets: new Map(), countedEvents }, now);
  for (const [index, result] of written) results.set(index, result);
  return events.map((_, index) => results.get(index)!);
}

function subscriberRejection(
  event: UsageEvent,
  subscriber: StoredSubscriber | undefined,
  dimensions: ReadonlyMap<string, readonly string[]>,
  now: Date,
  dependencies: UsageRecorderDependencies,
): UsageEventResult | undefined {
  if (subscriber?.productCode === undefined) {
    return rejection('unknown-subscriber', 'no subscriber has this id');
  }
  const status = effectiveStatus(subscriber.lifecycle ?? {}, now, dependencies.finalMeteringGraceSeconds);
  if (!isMeterable(status)) {
    return rejection('not-subscribed', `the subscription is ${status}, so Marketplace would not bill its usage`);
  }
  const metered = dimensions.get(subscriber.productCode);
  if (metered === undefined) {
    return rejection('unknown-dimension', `this deployment meters no dimension of product ${subscriber.productCode}`);
  }
  if (!metered.includes(event.dimension)) {
    return rejection(
      'unknown-dimension',
      `${event.dimension} is not a metered dimension of product ${subscriber.productCode}`,
    );
  }
  return undefined;
}

/**
 * The subscribers the events name and which of their event ids were counted before, in one strongly consistent read of
 * both tables (at most 50 keys each, within BatchGetItem's 100).
 */
async function readState(
  dependencies: UsageRecorderDependencies,
  parsed: readonly Candidate[],
): Promise<{ subscribers: Map<string, StoredSubscriber>; countedEvents: Set<string> }> {
  const subscriberIds = [...new Set(parsed.map(({ event }) => event.subscriberId))];
  const eventKeys = uniqueKeys(
    parsed.flatMap(({ event }) => (event.eventId === undefined ? [] : [eventKeyOf(event.subscriberId, event.eventId)])),
  );
  const subscribers = new Map<string, StoredSubscriber>();
  const countedEvents = new Set<string>();
  if (subscriberIds.length === 0) return { subscribers, countedEvents };
  const idOfSubscriberPk = new Map(subscriberIds.map((id) => [subscriberKey(id).pk, id]));
  let requested: NonNullable<BatchGetCommandInput['RequestItems']> = {
    [dependencies.subscribersTable]: {
      Keys: subscriberIds.map(subscriberKey),
      ConsistentRead: true,
      ProjectionExpression: '#pk, #productCode, #lifecycle',
      ExpressionAttributeNames: { '#pk': 'pk', '#productCode': 'productCode', '#lifecycle': 'lifecycle' },
    },
    ...(eventKeys.length === 0
      ? {}
      : {
          [dependencies.usageTable]: {
            Keys: eventKeys,
            ConsistentRead: true,
            ProjectionExpression: '#pk, #sk',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
          },
        }),
  };
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const { Responses, UnprocessedKeys } = await dependencies.client.send(
      new BatchGetCommand({ RequestItems: requested }),
    );
    for (const item of Responses?.[dependencies.subscribersTable] ?? []) {
      const id = idOfSubscriberPk.get(String(item.pk));
      if (id !== undefined) subscribers.set(id, item as StoredSubscriber);
    }
    for (const item of Responses?.[dependencies.usageTable] ?? []) {
      countedEvents.add(itemId({ pk: String(item.pk), sk: String(item.sk) }));
    }
    if (UnprocessedKeys === undefined || Object.keys(UnprocessedKeys).length === 0) {
      return { subscribers, countedEvents };
    }
    requested = UnprocessedKeys;
    await retryPause(attempt);
  }
  throw new UsageRecordingIncomplete(`DynamoDB left subscribers or event ids unread after ${READ_ATTEMPTS} attempts`);
}

function uniqueKeys(keys: readonly ItemKey[]): ItemKey[] {
  return [...new Map(keys.map((key) => [itemId(key), key])).values()];
}

/**
 * Writes the plan for `candidates` in one transaction. When a condition fails, the cancellation reasons say which item
 * (in item order) and, for a bucket, what it held: a counted event id is a duplicate, a frozen bucket sends its units
 * to a later hour, a full one rejects what no longer fits. The plan is then made again from what was learned.
 */
async function writeAtomically(
  dependencies: UsageRecorderDependencies,
  candidates: readonly Candidate[],
  knowledge: TableKnowledge,
  now: Date,
): Promise<ReadonlyMap<number, UsageEventResult>> {
  const settings = {
    usageTable: dependencies.usageTable,
    now,
    eventIdRetentionDays: dependencies.eventIdRetentionDays,
  };
  for (let attempt = 1; attempt <= TRANSACTION_ATTEMPTS; attempt++) {
    const plan = planWrites(candidates, knowledge, settings);
    if (plan.items.length === 0) return plan.results;
    try {
      await dependencies.client.send(
        new TransactWriteCommand({
          TransactItems: [...plan.items],
          // The SDK resends a request whose answer was lost; with the same token DynamoDB applies it once.
          ClientRequestToken: randomUUID(),
        }),
      );
      return plan.results;
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      let learned = false;
      reasons.forEach((reason, position) => {
        const target = plan.targets[position];
        if (reason.Code !== 'ConditionalCheckFailed' || target === undefined) return;
        if (target.kind === 'event') {
          knowledge.countedEvents.add(target.id);
        } else {
          const stored = reason.Item === undefined ? {} : unmarshall(reason.Item);
          knowledge.buckets.set(target.id, {
            frozen: stored.frozenAt !== undefined,
            quantity: typeof stored.quantity === 'number' ? stored.quantity : 0,
          });
        }
        learned = true;
      });
      const permanent = reasons.find(
        (reason) =>
          reason.Code !== undefined &&
          reason.Code !== 'None' &&
          reason.Code !== 'ConditionalCheckFailed' &&
          !TRANSIENT_CANCELLATIONS.has(reason.Code),
      );
      if (permanent !== undefined) throw error;
      if (!learned) await retryPause(attempt);
    }
  }
  throw new UsageRecordingIncomplete(`The usage transaction did not go through in ${TRANSACTION_ATTEMPTS} attempts`);
}
