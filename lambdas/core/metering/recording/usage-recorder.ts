/**
 * Records the seller's usage events into hourly buckets (see `usage-bucket.ts`), all of one call or none: every
 * accepted event of a call is written in one DynamoDB transaction, together with a key per event id, so that a call
 * that fails has written nothing and may be sent again whole; with event ids, sending again counts nothing twice.
 *
 * Units for an hour the metering run has already frozen are carried into a later open hour (the result says which),
 * never added to the frozen bucket (invariant 4), and never into an hour after the subscription's end. Accepted means
 * billable: whatever would keep Marketplace from billing an event (a time outside the subscription, an hour that can
 * no longer be sent, a record that cannot take it) is refused here, with its reason. Each event gets its own answer,
 * in order: `accepted`, `duplicate` (the same event again), `conflict` (its id names another event) or `rejected`;
 * only a call that cannot be recorded at all throws, and then nothing was recorded, unless it throws
 * `UsageOutcomeUnknownError`: DynamoDB never said whether the write was applied.
 *
 * @example
 * const results = await recordUsage(
 *   { client, usageTable, subscribersTable, products, acceptanceWindowHours: 24, eventIdRetentionDays: 35, finalMetering: { graceSeconds: 3600, finalHourMarginMinutes: 15 } },
 *   [{ subscriberId: 'license:arn:aws:license-manager::123456789012:license:l-1', dimension: 'requests', quantity: 3, timestamp: '2026-11-26T10:15:00Z', eventId: 'req-81f3' }],
 *   clock.now(),
 * );
 * // [{ status: 'accepted', hour: '2026-11-26T10:00:00.000Z' }]
 */
import type { MeteredProduct } from '../../environment.ts';
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type BatchGetCommandInput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { randomUUID } from 'node:crypto';
import {
  billablePeriod,
  effectiveStatus,
  isAfterEnd,
  isInRestartGap,
  isMeterable,
  lastInstantOfEnd,
  restartOf,
  type LifecycleFacts,
} from '../../lifecycle/subscription-state.ts';
import { itemId, subscriberKey, type ItemKey } from '../../table-keys.ts';
import { finalHourSendTime, isRecordableHourAt, type FinalMeteringSettings, hourOf } from '../bucket/index.ts';
import {
  MAX_USAGE_EVENTS_PER_CALL,
  parseUsageEvent,
  rejection,
  timingRejection,
  type UsageEvent,
  type UsageEventResult,
  type UsageRejection,
} from './usage-event.ts';
import {
  conflictOf,
  eventKeyOf,
  knownBucketOf,
  planWrites,
  type Candidate,
  type CountedEvent,
  type TableKnowledge,
  type TransactItem,
} from './usage-write-plan.ts';
import { BackendError } from '../../errors.ts';
import { retryPause, sendWithAttempts } from './dynamodb-attempts.ts';

export interface UsageRecorderDependencies {
  /**
   * One attempt a request (`DYNAMODB_SINGLE_ATTEMPT`): recording sends again only what is safe to (`sendWithAttempts`),
   * where the SDK's own retries would count a plain update whose answer was lost twice.
   */
  readonly client: DynamoDBDocumentClient;
  readonly usageTable: string;
  readonly subscribersTable: string;
  readonly products: readonly MeteredProduct[];
  /** How long after its hour Marketplace accepts a record (24 h today). */
  readonly acceptanceWindowHours: number;
  /** How long an event id is remembered: sending the event again within it counts it once. */
  readonly eventIdRetentionDays: number;
  /**
   * When an ending subscription's final usage is sent: usage is taken until then, not after (what arrives later could
   * only reach Marketplace inside the margin kept for retries, or not at all if its window is shorter than assumed).
   */
  readonly finalMetering: FinalMeteringSettings;
}

/** The caller sent more events than one call takes; nothing was recorded. */
export class UsageBatchTooLargeError extends BackendError {
  override readonly name = 'UsageBatchTooLargeError';

  constructor(readonly count: number) {
    super(`At most ${MAX_USAGE_EVENTS_PER_CALL} events per call; this one has ${count}`);
  }
}

/** DynamoDB did not let the call through in the attempts it has; nothing was recorded, and the call may be retried. */
export class UsageRecordingIncompleteError extends BackendError {
  override readonly name = 'UsageRecordingIncompleteError';
}

/** Attempts at the transaction: each one after a failed condition has learned something the last one did not know. */
const TRANSACTION_ATTEMPTS = 10;
/** Attempts at reading subscribers and event keys while DynamoDB leaves some unread. */
const READ_ATTEMPTS = 5;
/** Failures of a transaction item that another attempt may not meet: other writers, or a partition's throughput. */
const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/** What the Subscribers table says about a subscriber, as far as recording usage needs it. */
interface StoredSubscriber {
  readonly productCode?: string;
  readonly lifecycle?: LifecycleFacts;
}

/**
 * Records `events` as of `now` and answers one result per event, in their order. Throws {@link UsageBatchTooLargeError}
 * for more than 50 events, {@link UsageRecordingIncompleteError} or DynamoDB's own error when the call could not be
 * written (then nothing of it was), and {@link UsageOutcomeUnknownError} when DynamoDB left a write unanswered (it may
 * have been applied).
 */
export async function recordUsage(
  dependencies: UsageRecorderDependencies,
  events: readonly unknown[],
  now: Date,
): Promise<UsageEventResult[]> {
  if (events.length > MAX_USAGE_EVENTS_PER_CALL) throw new UsageBatchTooLargeError(events.length);
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
    const counted = event.eventId === undefined ? undefined : countedEvents.get(itemId(eventKeyOf(event.eventId)));
    if (counted !== undefined) {
      const conflict = conflictOf(event, counted);
      results.set(
        candidate.index,
        conflict === undefined ? { status: 'duplicate' } : { status: 'conflict', message: conflict },
      );
      continue;
    }
    const subscriber = subscribers.get(event.subscriberId);
    const rejected =
      timingRejection(event.at, now, dependencies.acceptanceWindowHours) ??
      subscriberRejection(event, subscriber, dimensions, now, dependencies);
    if (rejected !== undefined) {
      results.set(candidate.index, rejected);
      continue;
    }
    const { end } = billablePeriod(subscriber?.lifecycle ?? {});
    const facts = subscriber?.lifecycle ?? {};
    candidates.push({
      ...candidate,
      lastHour: end === undefined ? undefined : hourOf(end),
      recordable: (hour) => isRecordableHourAt(hour, facts, now, dependencies.finalMetering),
    });
  }
  const written = await writeAtomically(dependencies, candidates, { buckets: new Map(), countedEvents }, now);
  for (const [index, result] of written) results.set(index, result);
  return events.map((_, index) => results.get(index)!);
}

/**
 * Why the subscriber's usage cannot be billed: unknown, not subscribed now, a dimension its product does not meter, or
 * a time outside the subscription (before it started, after it ended): Marketplace would refuse every such record.
 */
function subscriberRejection(
  event: UsageEvent,
  subscriber: StoredSubscriber | undefined,
  dimensions: ReadonlyMap<string, readonly string[]>,
  now: Date,
  dependencies: UsageRecorderDependencies,
): UsageRejection | undefined {
  if (subscriber?.productCode === undefined) {
    return rejection('unknown-subscriber', 'no subscriber has this id');
  }
  const facts = subscriber.lifecycle ?? {};
  const status = effectiveStatus(facts, now, dependencies.finalMetering.graceSeconds);
  const { start, end } = billablePeriod(facts);
  if (status === 'ended' && end !== undefined) {
    return rejection(
      'not-subscribed',
      `the subscription ended at ${end.toISOString()} and its final-metering window has closed: Marketplace no ` +
        'longer bills its usage',
    );
  }
  if (!isMeterable(status)) {
    return rejection('not-subscribed', `the subscription is ${status}, so Marketplace would not bill its usage`);
  }
  if (start === undefined) {
    // Ending with no activation heard: cancelled while pending (an activation arriving late would start it).
    return rejection(
      'not-subscribed',
      'the subscription was cancelled before Marketplace confirmed that it started: it has no usage to bill',
    );
  }
  const finalSend = finalHourSendTime(facts, now, dependencies.finalMetering);
  if (end !== undefined && finalSend !== undefined && now >= finalSend) {
    return rejection(
      'not-subscribed',
      `the subscription ended at ${end.toISOString()} and its final usage was sent to Marketplace at ` +
        `${finalSend.toISOString()}: usage arriving later can no longer be billed`,
    );
  }
  if (event.at < start) {
    return rejection(
      'not-subscribed',
      `usage at ${event.at.toISOString()} is before the subscription started (${start.toISOString()})`,
    );
  }
  const restart = restartOf(facts);
  if (restart !== undefined && isInRestartGap(event.at, facts)) {
    return rejection(
      'not-subscribed',
      `usage at ${event.at.toISOString()} is between the end of the earlier subscription ` +
        `(${restart.endedAt.toISOString()}) and its start again (${restart.restartedAt.toISOString()})`,
      lastInstantOfEnd(restart.endedAt),
    );
  }
  if (end !== undefined && isAfterEnd(event.at, end)) {
    return rejection(
      'not-subscribed',
      `usage at ${event.at.toISOString()} is after the subscription ended (${end.toISOString()}): only usage up to ` +
        'the end is billed',
      lastInstantOfEnd(end),
    );
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
): Promise<{ subscribers: Map<string, StoredSubscriber>; countedEvents: Map<string, CountedEvent> }> {
  const subscriberIds = [...new Set(parsed.map(({ event }) => event.subscriberId))];
  const eventKeys = uniqueKeys(
    parsed.flatMap(({ event }) => (event.eventId === undefined ? [] : [eventKeyOf(event.eventId)])),
  );
  const subscribers = new Map<string, StoredSubscriber>();
  const countedEvents = new Map<string, CountedEvent>();
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
            ProjectionExpression: '#pk, #sk, #subscriberId, #dimension, #quantity, #timestamp, #fingerprint',
            ExpressionAttributeNames: {
              '#pk': 'pk',
              '#sk': 'sk',
              '#subscriberId': 'subscriberId',
              '#dimension': 'dimension',
              '#quantity': 'quantity',
              '#timestamp': 'timestamp',
              '#fingerprint': 'fingerprint',
            },
          },
        }),
  };
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const read = new BatchGetCommand({ RequestItems: requested });
    const { Responses, UnprocessedKeys } = await sendWithAttempts(() => dependencies.client.send(read), 'read');
    for (const item of Responses?.[dependencies.subscribersTable] ?? []) {
      const id = idOfSubscriberPk.get(String(item.pk));
      if (id !== undefined) subscribers.set(id, item as StoredSubscriber);
    }
    for (const item of Responses?.[dependencies.usageTable] ?? []) {
      countedEvents.set(itemId({ pk: String(item.pk), sk: String(item.sk) }), item);
    }
    if (UnprocessedKeys === undefined || Object.keys(UnprocessedKeys).length === 0) {
      return { subscribers, countedEvents };
    }
    requested = UnprocessedKeys;
    if (attempt < READ_ATTEMPTS) await retryPause(attempt);
  }
  throw new UsageRecordingIncompleteError(
    `DynamoDB left subscribers or event ids unread after ${READ_ATTEMPTS} attempts`,
  );
}

function uniqueKeys(keys: readonly ItemKey[]): ItemKey[] {
  return [...new Map(keys.map((key) => [itemId(key), key])).values()];
}

/**
 * Writes every item or none: one item (a call whose events, without ids, all fall in one bucket) as a plain
 * conditional write, since a transaction of one item costs twice the write units for nothing; more as one transaction.
 * Answers `undefined` once written, or, when a condition refused it, the reasons item by item, as a cancelled
 * transaction gives them.
 */
async function writeAll(
  client: UsageRecorderDependencies['client'],
  items: readonly TransactItem[],
): Promise<{ readonly reasons: readonly CancellationReason[]; readonly error: unknown } | undefined> {
  const [only, ...others] = items;
  try {
    if (only?.Update !== undefined && others.length === 0) {
      const update = new UpdateCommand(only.Update);
      await sendWithAttempts(() => client.send(update), 'write');
    } else {
      // Sent again when its answer is lost: with the same token, DynamoDB applies it once.
      const transaction = new TransactWriteCommand({ TransactItems: [...items], ClientRequestToken: randomUUID() });
      await sendWithAttempts(() => client.send(transaction), 'idempotent-write');
    }
    return undefined;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      return { reasons: [{ Code: 'ConditionalCheckFailed', Item: error.Item }], error };
    }
    if (error instanceof TransactionCanceledException) return { reasons: error.CancellationReasons ?? [], error };
    throw error;
  }
}

/**
 * Writes the plan for `candidates`, all of it or none (`writeAll`). When a condition fails, the reasons say which item
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
    const refused = await writeAll(dependencies.client, plan.items);
    if (refused === undefined) return plan.results;
    let learned = false;
    refused.reasons.forEach((reason, position) => {
      const target = plan.targets[position];
      if (reason.Code !== 'ConditionalCheckFailed' || target === undefined) return;
      const stored = reason.Item === undefined ? {} : unmarshall(reason.Item);
      if (target.kind === 'event') knowledge.countedEvents.set(target.id, stored);
      else knowledge.buckets.set(target.id, knownBucketOf(stored));
      learned = true;
    });
    const permanent = refused.reasons.find(
      (reason) =>
        reason.Code !== undefined &&
        reason.Code !== 'None' &&
        reason.Code !== 'ConditionalCheckFailed' &&
        !TRANSIENT_CANCELLATIONS.has(reason.Code),
    );
    if (permanent !== undefined) throw refused.error;
    if (!learned && attempt < TRANSACTION_ATTEMPTS) await retryPause(attempt);
  }
  throw new UsageRecordingIncompleteError(
    `The usage transaction did not go through in ${TRANSACTION_ATTEMPTS} attempts`,
  );
}
