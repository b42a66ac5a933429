/**
 * The usage recorder against DynamoDB Local: events land in their hourly buckets all together or not at all, an event
 * id counts once however often and however concurrently it is sent, units for a frozen hour are carried into a later
 * one without touching the frozen bucket, and every event that is not counted says why.
 */
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { bucketItemOf } from '../../../lambdas/core/metering/bucket/bucket-item.ts';
import { allocationAttributes, bucketKey, pendingShardOf } from '../../../lambdas/core/metering/bucket/usage-bucket.ts';
import { MAX_QUANTITY, type UsageEventInput } from '../../../lambdas/core/metering/recording/usage-event.ts';
import {
  recordUsage,
  UsageBatchTooLargeError,
  type UsageRecorderDependencies,
} from '../../../lambdas/core/metering/recording/usage-recorder.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import {
  ACTIVE,
  bucketItem,
  bucketsOf,
  CURRENT_HOUR,
  deleteBucket,
  EARLIER_HOUR,
  eventItem,
  freezeBucket,
  legacySubscriber,
  licenseSubscriber,
  NEXT_HOUR,
  NOW,
  pendingSubscriber,
  recorderDependencies,
  RETENTION_DAYS,
  UNSOLD_PRODUCT,
  type History,
} from '../../support/usage.ts';
import { PENDING_INDEX } from '../../../contracts/index.ts';

const dynamoDb = useDynamoDb();
const documents = documentClient(dynamoDb.endpoint);

/**
 * Event ids name one event across the deployment, and the tests share one table: each test's ids are its own, under a
 * prefix of its own that `usage` adds and `eventKey` reads.
 */
let idScope = '';
beforeEach(() => {
  idScope = randomUUID().slice(0, 8);
});
const scoped = (input: unknown): unknown =>
  typeof input === 'object' && input !== null && typeof (input as { eventId?: unknown }).eventId === 'string'
    ? { ...input, eventId: `${idScope}:${(input as { eventId: string }).eventId}` }
    : input;

const record = (events: readonly unknown[], now = NOW, overrides: Partial<UsageRecorderDependencies> = {}) =>
  recordUsage(recorderDependencies(dynamoDb, documents, overrides), events.map(scoped), now);

const subscriber = (history: History = ACTIVE, productCode?: string) =>
  licenseSubscriber(dynamoDb, documents, history, productCode);
const bucket = (subscriberId: string, hour: Date, dimension?: string) =>
  bucketItem(dynamoDb, documents, subscriberId, hour, dimension);
const buckets = (subscriberId: string) => bucketsOf(dynamoDb, documents, subscriberId);
const eventKey = (eventId: string) => eventItem(dynamoDb, documents, `${idScope}:${eventId}`);
const freeze = (subscriberId: string, hour: Date, quantity: number) =>
  freezeBucket(dynamoDb, documents, subscriberId, hour, quantity);

/** An event of `quantity` requests at 10:15, the hour two before the current one. */
function usage(subscriberId: string, overrides: Partial<UsageEventInput> = {}): UsageEventInput {
  return { subscriberId, dimension: 'requests', quantity: 1, timestamp: '2026-11-26T10:15:00.000Z', ...overrides };
}

/** A document client that notes the name of every command it sends (to count round trips and transactions). */
function observedClient(): { client: DynamoDBDocumentClient; commands: string[] } {
  const client = documentClient(dynamoDb.endpoint);
  const commands: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      commands.push(context.commandName ?? 'unknown');
      return next(args);
    },
    { step: 'initialize', name: 'observeCommands' },
  );
  return { client, commands };
}

describe('recording', () => {
  test('an event is added to the bucket of its hour, which is open and in the pending index', async () => {
    const subscriberId = await subscriber();
    expect(await record([usage(subscriberId, { quantity: 7, eventId: 'e-1' })])).toEqual([
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
    expect(await bucket(subscriberId, EARLIER_HOUR)).toEqual({
      ...bucketKey(subscriberId, EARLIER_HOUR, 'requests'),
      subscriberId,
      dimension: 'requests',
      hour: EARLIER_HOUR.toISOString(),
      quantity: 7,
      state: 'open',
      pendingShard: pendingShardOf(subscriberId),
      pendingHour: EARLIER_HOUR.toISOString(),
    });
    const { Items } = await documents.send(
      new QueryCommand({
        TableName: dynamoDb.tables.Usage,
        IndexName: PENDING_INDEX.indexName,
        KeyConditionExpression: '#shard = :shard AND #hour = :hour',
        ExpressionAttributeNames: { '#shard': PENDING_INDEX.partitionKey, '#hour': PENDING_INDEX.sortKey },
        ExpressionAttributeValues: { ':shard': pendingShardOf(subscriberId), ':hour': EARLIER_HOUR.toISOString() },
      }),
    );
    // The index holds keys only, and only buckets' (an event id's key is not in it): the run reads buckets only.
    const key = bucketKey(subscriberId, EARLIER_HOUR, 'requests');
    expect(Items?.filter((item) => item.pk === key.pk)).toEqual([
      { ...key, pendingShard: pendingShardOf(subscriberId), pendingHour: EARLIER_HOUR.toISOString() },
    ]);
  });

  test('events of one call are summed per subscriber, dimension and hour; results keep the events order', async () => {
    const [first, second] = [await subscriber(), await subscriber()];
    const results = await record([
      usage(first, { quantity: 2 }),
      usage(second, { quantity: 3 }),
      usage(first, { quantity: 4, timestamp: '2026-11-26T10:59:59.999Z' }),
      usage(first, { quantity: 5, dimension: 'storage' }),
      usage(first, { quantity: 6, timestamp: '2026-11-26T12:00:00.000Z' }),
      usage(first, { quantity: 1, timestamp: new Date('2026-11-26T11:00:00.000+01:00') }),
    ]);
    expect(results.map((result) => (result.status === 'accepted' ? result.hour : result.status))).toEqual([
      EARLIER_HOUR.toISOString(),
      EARLIER_HOUR.toISOString(),
      EARLIER_HOUR.toISOString(),
      EARLIER_HOUR.toISOString(),
      CURRENT_HOUR.toISOString(),
      EARLIER_HOUR.toISOString(),
    ]);
    expect((await bucket(first, EARLIER_HOUR))?.quantity).toBe(7);
    expect((await bucket(first, EARLIER_HOUR, 'storage'))?.quantity).toBe(5);
    expect((await bucket(first, CURRENT_HOUR))?.quantity).toBe(6);
    expect((await bucket(second, EARLIER_HOUR))?.quantity).toBe(3);
    expect(await buckets(first)).toHaveLength(3);
  });

  test('calls add to what earlier calls recorded', async () => {
    const subscriberId = await subscriber();
    await record([usage(subscriberId, { quantity: 2 })]);
    await record([usage(subscriberId, { quantity: 3 })], new Date('2026-11-26T12:50:00.000Z'));
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(5);
  });

  test('a legacy subscriber records usage of its product dimensions', async () => {
    const subscriberId = await legacySubscriber(dynamoDb, documents);
    expect(await record([usage(subscriberId, { dimension: 'seats', quantity: 2 })])).toEqual([
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
    expect((await bucket(subscriberId, EARLIER_HOUR, 'seats'))?.quantity).toBe(2);
  });

  test('usage in the final-metering window of an ending subscription is taken', async () => {
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T12:00:00.000Z']]);
    expect((await record([usage(subscriberId)]))[0]?.status).toBe('accepted');
  });

  test('an empty call reads and writes nothing', async () => {
    const { client, commands } = observedClient();
    expect(await recordUsage(recorderDependencies(dynamoDb, client), [], NOW)).toEqual([]);
    expect(commands).toEqual([]);
  });

  test('a call is one read and one transaction, whatever number of subscribers, buckets and event ids', async () => {
    const [first, second] = [await subscriber(), await subscriber()];
    const { client, commands } = observedClient();
    const events = Array.from({ length: 50 }, (_, n) =>
      usage(n % 2 === 0 ? first : second, { dimension: n % 3 === 0 ? 'storage' : 'requests', eventId: `e-${n}` }),
    );
    const results = await recordUsage(recorderDependencies(dynamoDb, client), events.map(scoped), NOW);
    expect(results.every((result) => result.status === 'accepted')).toBe(true);
    expect(commands).toEqual(['BatchGetItemCommand', 'TransactWriteItemsCommand']);
    const total = [...(await buckets(first)), ...(await buckets(second))].reduce(
      (sum, item) => sum + Number(item.quantity),
      0,
    );
    expect(total).toBe(50);
  });

  test('more than 50 events are refused whole, before anything is read or written', async () => {
    const subscriberId = await subscriber();
    const { client, commands } = observedClient();
    const events = Array.from({ length: 51 }, () => usage(subscriberId));
    await expect(recordUsage(recorderDependencies(dynamoDb, client), events, NOW)).rejects.toBeInstanceOf(
      UsageBatchTooLargeError,
    );
    expect(commands).toEqual([]);
    expect(await buckets(subscriberId)).toEqual([]);
  });
});

describe('rejections', () => {
  test('every event that cannot be counted says why, and only the others are written', async () => {
    const subscriberId = await subscriber();
    const ended = await subscriber([...ACTIVE, ['endedAt', '2026-11-20T00:00:00.000Z']]);
    const results = await record([
      usage(subscriberId, { quantity: 1, eventId: 'ok-1' }),
      usage('license:arn:aws:license-manager::123456789012:license:l-nobody', { eventId: 'nobody' }),
      usage(ended, { eventId: 'ended' }),
      usage(subscriberId, { dimension: 'seats', eventId: 'other-product' }),
      usage(subscriberId, { quantity: 0, eventId: 'zero' }),
      usage(subscriberId, { timestamp: '2026-11-26T12:40:00.000Z', eventId: 'future' }),
      usage(subscriberId, { timestamp: '2026-11-25T13:59:59.000Z', eventId: 'old' }),
      usage(subscriberId, { tags: { 'env?': 'prod' }, eventId: 'tags' }),
      { ...usage(subscriberId), eventID: 'misspelt' },
      usage(subscriberId, { quantity: 2, eventId: 'ok-2' }),
    ]);
    expect(results.map((result) => (result.status === 'rejected' ? result.reason : result.status))).toEqual([
      'accepted',
      'unknown-subscriber',
      'not-subscribed',
      'unknown-dimension',
      'bad-quantity',
      'in-the-future',
      'too-old',
      'bad-tags',
      'bad-event',
      'accepted',
    ]);
    for (const result of results.filter((result) => result.status === 'rejected')) {
      expect(result.message).toMatch(/\w/);
    }
    expect(await buckets(subscriberId)).toEqual([
      expect.objectContaining({ hour: EARLIER_HOUR.toISOString(), quantity: 3 }) as unknown,
    ]);
    expect(await buckets(ended)).toEqual([]);
    for (const eventId of ['other-product', 'zero', 'future', 'old', 'tags']) {
      expect(await eventKey(eventId), eventId).toBeUndefined();
    }
    expect(await eventKey('ended')).toBeUndefined();
  });

  test.each<[string, History]>([
    ['failed', [['failedAt', '2026-11-01T00:00:00.000Z']]],
    ['ended', [...ACTIVE, ['endedAt', '2026-11-20T00:00:00.000Z']]],
    ['past its final-metering window', [...ACTIVE, ['endRequestedAt', '2026-11-26T11:30:00.000Z']]],
  ])('a subscription that is %s is not-subscribed', async (_name, history) => {
    const subscriberId = await subscriber(history);
    expect(await record([usage(subscriberId)])).toEqual([
      { status: 'rejected', reason: 'not-subscribed', message: expect.stringMatching(/ended|failed/) as unknown },
    ]);
    expect(await buckets(subscriberId)).toEqual([]);
  });

  test('a buyer no notification has activated yet is not-subscribed', async () => {
    const subscriberId = await pendingSubscriber(dynamoDb, documents);
    expect((await record([usage(subscriberId)]))[0]).toMatchObject({ reason: 'not-subscribed' });
  });

  test('a buyer who cancelled before any activation was heard is not-subscribed: it never started', async () => {
    const subscriberId = await subscriber([['endRequestedAt', '2026-11-26T12:10:00.000Z']]);
    expect((await record([usage(subscriberId, { timestamp: '2026-11-26T12:05:00.000Z' })]))[0]).toEqual({
      status: 'rejected',
      reason: 'not-subscribed',
      message: expect.stringContaining('cancelled before Marketplace confirmed that it started') as unknown,
    });
    expect(await buckets(subscriberId)).toEqual([]);
  });

  test('a subscriber of a product this deployment does not meter has no metered dimension', async () => {
    const subscriberId = await subscriber(ACTIVE, UNSOLD_PRODUCT);
    expect((await record([usage(subscriberId)]))[0]).toMatchObject({ reason: 'unknown-dimension' });
    expect(await buckets(subscriberId)).toEqual([]);
  });

  test('a rejected event does not use up its event id', async () => {
    const subscriberId = await subscriber();
    expect((await record([usage(subscriberId, { dimension: 'request', eventId: 'e-1' })]))[0]).toMatchObject({
      reason: 'unknown-dimension',
    });
    expect((await record([usage(subscriberId, { eventId: 'e-1' })]))[0]?.status).toBe('accepted');
  });

  test('an hour never holds more than Marketplace takes: what would take it past is rejected, the rest counted', async () => {
    const subscriberId = await subscriber();
    await record([usage(subscriberId, { quantity: MAX_QUANTITY - 10 })]);
    expect(
      await record([
        usage(subscriberId, { quantity: 11, eventId: 'too-much' }),
        usage(subscriberId, { quantity: 10, eventId: 'fits' }),
        usage(subscriberId, { quantity: 1, eventId: 'one-more' }),
      ]),
    ).toEqual([
      { status: 'rejected', reason: 'bad-quantity', message: expect.stringContaining(String(MAX_QUANTITY)) as unknown },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
      { status: 'rejected', reason: 'bad-quantity', message: expect.stringContaining(String(MAX_QUANTITY)) as unknown },
    ]);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(MAX_QUANTITY);
    expect(await eventKey('too-much')).toBeUndefined();
  });

  test('the bound holds within one call too', async () => {
    const subscriberId = await subscriber();
    expect(
      (await record([usage(subscriberId, { quantity: MAX_QUANTITY }), usage(subscriberId, { quantity: 1 })])).map(
        (result) => result.status,
      ),
    ).toEqual(['accepted', 'rejected']);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(MAX_QUANTITY);
  });
});

describe('accepted means billable: what Marketplace would refuse is refused here', () => {
  test('usage before the subscription started is not-subscribed; from the start on it is taken', async () => {
    const subscriberId = await subscriber([['activatedAt', '2026-11-26T10:20:00.000Z']]);
    expect(
      await record([
        usage(subscriberId, { timestamp: '2026-11-26T10:19:59.999Z' }),
        usage(subscriberId, { timestamp: '2026-11-26T10:20:00.000Z' }),
      ]),
    ).toEqual([
      {
        status: 'rejected',
        reason: 'not-subscribed',
        message: expect.stringContaining('before the subscription started (2026-11-26T10:20:00.000Z)') as unknown,
      },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
  });

  test('a later License Updated (an upgrade) does not move the start', async () => {
    const subscriberId = await subscriber([
      ['activatedAt', '2026-11-26T09:00:00.000Z'],
      ['activatedAt', '2026-11-26T11:00:00.000Z'],
    ]);
    expect((await record([usage(subscriberId)]))[0]).toMatchObject({ status: 'accepted' });
  });

  test('while ending, usage up to the end is taken and usage after it is not-subscribed', async () => {
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T12:10:00.000Z']]);
    expect(
      await record([
        usage(subscriberId, { timestamp: '2026-11-26T12:10:00.999Z' }),
        usage(subscriberId, { timestamp: '2026-11-26T12:10:01.000Z' }),
        usage(subscriberId),
      ]),
    ).toEqual([
      { status: 'accepted', hour: CURRENT_HOUR.toISOString() },
      {
        status: 'rejected',
        reason: 'not-subscribed',
        message: expect.stringContaining('after the subscription ended (2026-11-26T12:10:00.000Z)') as unknown,
        // What a caller who summed usage from both sides of the end sends again: the usage up to it.
        billableUntil: '2026-11-26T12:10:00.999Z',
      },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
  });

  test('once its final usage has been sent (15 minutes before the deadline), nothing more is taken', async () => {
    // Cancelled at 11:40: the final usage went out at 12:25, the deadline is 12:40; now is 12:34.
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T11:40:00.000Z']]);
    expect(await record([usage(subscriberId, { timestamp: '2026-11-26T11:30:00.000Z' })])).toEqual([
      {
        status: 'rejected',
        reason: 'not-subscribed',
        message: expect.stringContaining(
          'its final usage was sent to Marketplace at 2026-11-26T12:25:00.000Z',
        ) as unknown,
      },
    ]);
    expect(await buckets(subscriberId)).toEqual([]);
  });

  test('once its final-metering window has closed, usage is refused with the end it missed', async () => {
    // Cancelled at 11:30: the deadline was 12:30; now is 12:34, and the usage is from before the end.
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T11:30:00.000Z']]);
    expect(await record([usage(subscriberId, { timestamp: '2026-11-26T11:20:00.000Z' })])).toEqual([
      {
        status: 'rejected',
        reason: 'not-subscribed',
        message:
          'the subscription ended at 2026-11-26T11:30:00.000Z and its final-metering window has closed: ' +
          'Marketplace no longer bills its usage',
      },
    ]);
    expect(await buckets(subscriberId)).toEqual([]);
  });

  test('late usage of an ending subscriber is carried into its final hour, never past it', async () => {
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T12:10:00.000Z']]);
    await freeze(subscriberId, EARLIER_HOUR, 9);
    expect(await record([usage(subscriberId, { quantity: 2 })])).toEqual([
      { status: 'accepted', hour: CURRENT_HOUR.toISOString(), carriedFrom: EARLIER_HOUR.toISOString() },
    ]);
    await freeze(subscriberId, CURRENT_HOUR, 2);
    expect(
      await record([
        usage(subscriberId, { eventId: 'too-late' }),
        usage(subscriberId, { timestamp: '2026-11-26T12:05:00.000Z' }),
      ]),
    ).toEqual([
      {
        status: 'rejected',
        reason: 'no-open-hour',
        message: expect.stringContaining('the subscription ended in the hour 2026-11-26T12:00:00.000Z') as unknown,
      },
      {
        status: 'rejected',
        reason: 'no-open-hour',
        message: expect.stringContaining('its final usage has been sent') as unknown,
      },
    ]);
    expect(await bucket(subscriberId, NEXT_HOUR)).toBeUndefined();
    expect(await eventKey('too-late')).toBeUndefined();
  });

  test('late usage goes into the final hour even when the clock has moved past that hour (found by the black-box suite)', async () => {
    // Cancelled at 11:50: the final hour is 11:00, still open until 12:35; now is 12:34.
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T11:50:00.000Z']]);
    await freeze(subscriberId, EARLIER_HOUR, 9);
    expect(await record([usage(subscriberId, { quantity: 2 })])).toEqual([
      { status: 'accepted', hour: '2026-11-26T11:00:00.000Z', carriedFrom: EARLIER_HOUR.toISOString() },
    ]);
  });

  test('a record takes at most 2,500 allocations: a new tag set beyond is bucket-full, known ones still count', async () => {
    const subscriberId = await subscriber();
    const tagged = (n: number, quantity = 1) => usage(subscriberId, { quantity, tags: { set: String(n) } });
    // 2,499 tag sets and the untagged rest make 2,500 allocations.
    for (let first = 0; first < 2499; first += 50) {
      const events = Array.from({ length: Math.min(50, 2499 - first) }, (_, n) => tagged(first + n));
      expect((await record(events)).every((result) => result.status === 'accepted')).toBe(true);
    }
    expect(await record([tagged(2499), tagged(7, 5), usage(subscriberId, { quantity: 3 })])).toEqual([
      {
        status: 'rejected',
        reason: 'bucket-full',
        message: expect.stringContaining('already carries 2499 tag sets') as unknown,
      },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
    const item = await bucket(subscriberId, EARLIER_HOUR);
    expect(item).toMatchObject({ quantity: 2499 + 5 + 3, tagSetCount: 2499 });
    expect(item?.[allocationAttributes({ set: '7' }).quantity]).toBe(6);
  });

  test('tags fit one DynamoDB item and one request: past the byte budget a new tag set is bucket-full', async () => {
    const subscriberId = await subscriber();
    // Five tags at their longest: each tag set counts 2,000 bytes, so 175 fill the 350,000.
    const largest = (n: number) =>
      Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((key) => [key.repeat(100), `${n}`.padStart(256, key)]));
    for (let first = 0; first < 175; first += 50) {
      const events = Array.from({ length: Math.min(50, 175 - first) }, (_, n) =>
        usage(subscriberId, { tags: largest(first + n) }),
      );
      expect((await record(events)).map((result) => result.status)).toEqual(events.map(() => 'accepted'));
    }
    expect((await record([usage(subscriberId, { tags: largest(175) })]))[0]).toMatchObject({
      status: 'rejected',
      reason: 'bucket-full',
      message: expect.stringContaining('350000 bytes of tags') as unknown,
    });
    expect((await record([usage(subscriberId, { tags: largest(3) })]))[0]).toMatchObject({ status: 'accepted' });
  });
});

describe('event ids', () => {
  test('an event id counts once within a call', async () => {
    const subscriberId = await subscriber();
    expect(
      await record([
        usage(subscriberId, { quantity: 5, eventId: 'e-1' }),
        usage(subscriberId, { quantity: 5, eventId: 'e-1' }),
      ]),
    ).toEqual([{ status: 'accepted', hour: EARLIER_HOUR.toISOString() }, { status: 'duplicate' }]);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(5);
  });

  test('an event id counts once across calls, and the key remembering it expires after the retention', async () => {
    const subscriberId = await subscriber();
    await record([usage(subscriberId, { quantity: 5, eventId: 'e-1' })]);
    expect(await record([usage(subscriberId, { quantity: 5, eventId: 'e-1' }), usage(subscriberId)])).toEqual([
      { status: 'duplicate' },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(6);
    expect(await eventKey('e-1')).toMatchObject({
      subscriberId,
      eventId: `${idScope}:e-1`,
      dimension: 'requests',
      quantity: 5,
      timestamp: '2026-11-26T10:15:00.000Z',
      hour: EARLIER_HOUR.toISOString(),
      expiresAt: Math.ceil(NOW.getTime() / 1000) + RETENTION_DAYS * 86_400,
    });
  });

  test('a retry of a call that went through reads duplicate, even once the subscription has ended', async () => {
    const subscriberId = await subscriber([...ACTIVE, ['endRequestedAt', '2026-11-26T12:00:00.000Z']]);
    await record([usage(subscriberId, { eventId: 'e-1' })]);
    const afterTheWindow = new Date('2026-11-26T13:30:00.000Z');
    expect(await record([usage(subscriberId, { eventId: 'e-1' })], afterTheWindow)).toEqual([{ status: 'duplicate' }]);
  });

  test('an event id names one event: reused for another one, in the call or later, it is a conflict and not counted', async () => {
    const subscriberId = await subscriber();
    const other = await subscriber();
    const results = await record([
      usage(subscriberId, { dimension: 'requests', quantity: 3, eventId: 'req-42' }),
      usage(subscriberId, { dimension: 'storage', quantity: 7, eventId: 'req-42' }),
    ]);
    expect(results).toEqual([
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
      {
        status: 'conflict',
        message: expect.stringMatching(/req-42.*already used for another event.*dimension, quantity/) as unknown,
      },
    ]);
    expect(await bucket(subscriberId, EARLIER_HOUR, 'storage')).toBeUndefined();
    expect(
      await record([
        usage(subscriberId, { quantity: 4, eventId: 'req-42' }),
        usage(other, { quantity: 3, eventId: 'req-42' }),
        usage(subscriberId, { quantity: 3, eventId: 'req-42', timestamp: '2026-11-26T10:16:00.000Z' }),
        usage(subscriberId, { quantity: 3, eventId: 'req-42', tags: { env: 'prod' } }),
        usage(subscriberId, { quantity: 3, eventId: 'req-42' }),
      ]),
    ).toEqual([
      { status: 'conflict', message: expect.stringContaining('(its quantity differed)') as unknown },
      { status: 'conflict', message: expect.stringContaining('(its subscriberId differed)') as unknown },
      { status: 'conflict', message: expect.stringContaining('(its timestamp differed)') as unknown },
      { status: 'conflict', message: expect.stringContaining('(its tags differed)') as unknown },
      { status: 'duplicate' },
    ]);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(3);
    expect(await buckets(other)).toEqual([]);
  });

  test('the same event written twice in different spellings is one event: a resend, not a conflict', async () => {
    const subscriberId = await subscriber();
    await record([
      usage(subscriberId, { eventId: 'e-1', timestamp: '2026-11-26T10:15:00Z', tags: { b: '2', a: '1' } }),
    ]);
    expect(
      await record([
        usage(subscriberId, { eventId: 'e-1', timestamp: '2026-11-26T11:15:00+01:00', tags: { a: '1', b: '2' } }),
      ]),
    ).toEqual([{ status: 'duplicate' }]);
  });

  test('conflicting events racing for one id: one is counted, every other is told, nothing is counted twice', async () => {
    const subscriberId = await subscriber();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => record([usage(subscriberId, { quantity: n + 1, eventId: 'racing' })])),
    );
    const statuses = results.map((result) => result[0]!.status);
    expect(statuses.filter((status) => status === 'accepted')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'conflict')).toHaveLength(7);
    const counted = statuses.indexOf('accepted') + 1;
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(counted);
  });

  test('one event sent by ten callers at once counts once, and the rest of each call still counts', async () => {
    const subscriberId = await subscriber();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        record([usage(subscriberId, { quantity: 100, eventId: 'racing' }), usage(subscriberId, { quantity: 1 })]),
      ),
    );
    expect(results.map((result) => result[0]?.status).filter((status) => status === 'accepted')).toHaveLength(1);
    expect(results.map((result) => result[0]?.status).filter((status) => status === 'duplicate')).toHaveLength(9);
    expect(results.every((result) => result[1]?.status === 'accepted')).toBe(true);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(110);
  });
});

describe('concurrency and atomicity', () => {
  test('twenty calls adding to one bucket at once sum exactly', async () => {
    const subscriberId = await subscriber();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) => record([usage(subscriberId, { quantity: n + 1 })])),
    );
    expect(results.flat().every((result) => result.status === 'accepted')).toBe(true);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(210);
  });

  test('a call that cannot be written writes nothing, and may be sent again whole once it can', async () => {
    const [first, second] = [await subscriber(), await subscriber()];
    // A bucket DynamoDB cannot add to (its quantity is not a number) fails its item, and so the whole transaction.
    const broken = { ...bucketKey(second, EARLIER_HOUR, 'requests'), quantity: 'seven' };
    await documents.send(new PutCommand({ TableName: dynamoDb.tables.Usage, Item: broken }));
    const events = [
      usage(first, { quantity: 2, eventId: 'a-1' }),
      usage(first, { quantity: 3, dimension: 'storage', eventId: 'a-2' }),
      usage(second, { quantity: 4, eventId: 'b-1' }),
    ];
    await expect(record(events)).rejects.toThrow();
    expect(await buckets(first)).toEqual([]);
    expect(await buckets(second)).toEqual([broken]);
    for (const eventId of ['a-1', 'a-2', 'b-1']) expect(await eventKey(eventId)).toBeUndefined();

    await deleteBucket(dynamoDb, documents, second, EARLIER_HOUR);
    expect((await record(events)).map((result) => result.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect((await bucket(second, EARLIER_HOUR))?.quantity).toBe(4);
  });

  test('a call to a missing table throws and has written nothing', async () => {
    const subscriberId = await subscriber();
    await expect(record([usage(subscriberId)], NOW, { usageTable: `${dynamoDb.prefix}missing` })).rejects.toThrow();
    expect(await buckets(subscriberId)).toEqual([]);
  });
});

describe('carry-forward', () => {
  test('units for a frozen hour go into the current hour; the frozen bucket is left exactly as it was', async () => {
    const subscriberId = await subscriber();
    const frozen = await freeze(subscriberId, EARLIER_HOUR, 9);
    expect(await record([usage(subscriberId, { quantity: 4, eventId: 'late' })])).toEqual([
      { status: 'accepted', hour: CURRENT_HOUR.toISOString(), carriedFrom: EARLIER_HOUR.toISOString() },
    ]);
    expect(await bucket(subscriberId, EARLIER_HOUR)).toEqual(frozen);
    expect(await bucket(subscriberId, CURRENT_HOUR)).toMatchObject({
      quantity: 4,
      state: 'open',
      hour: CURRENT_HOUR.toISOString(),
      pendingHour: CURRENT_HOUR.toISOString(),
    });
    expect(await eventKey('late')).toMatchObject({ hour: CURRENT_HOUR.toISOString() });
  });

  test('sent again, a carried event is a duplicate and is not carried twice', async () => {
    const subscriberId = await subscriber();
    await freeze(subscriberId, EARLIER_HOUR, 9);
    await record([usage(subscriberId, { quantity: 4, eventId: 'late' })]);
    expect(await record([usage(subscriberId, { quantity: 4, eventId: 'late' })])).toEqual([{ status: 'duplicate' }]);
    expect((await bucket(subscriberId, CURRENT_HOUR))?.quantity).toBe(4);
  });

  test('the carried units join the current hour with the call’s own usage of it, in one bucket update', async () => {
    const subscriberId = await subscriber();
    await freeze(subscriberId, EARLIER_HOUR, 9);
    const results = await record([
      usage(subscriberId, { quantity: 1 }),
      usage(subscriberId, { quantity: 2, timestamp: '2026-11-26T12:05:00.000Z' }),
      usage(subscriberId, { quantity: 3 }),
    ]);
    expect(results).toEqual([
      { status: 'accepted', hour: CURRENT_HOUR.toISOString(), carriedFrom: EARLIER_HOUR.toISOString() },
      { status: 'accepted', hour: CURRENT_HOUR.toISOString() },
      { status: 'accepted', hour: CURRENT_HOUR.toISOString(), carriedFrom: EARLIER_HOUR.toISOString() },
    ]);
    expect((await bucket(subscriberId, CURRENT_HOUR))?.quantity).toBe(6);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(9);
  });

  test('when a final flush has frozen the current hour too, the units go into the next hour', async () => {
    const subscriberId = await subscriber();
    const frozenEarlier = await freeze(subscriberId, EARLIER_HOUR, 9);
    const frozenCurrent = await freeze(subscriberId, CURRENT_HOUR, 8);
    expect(
      await record([usage(subscriberId, { quantity: 4 }), usage(subscriberId, { timestamp: NOW.toISOString() })]),
    ).toEqual([
      { status: 'accepted', hour: NEXT_HOUR.toISOString(), carriedFrom: EARLIER_HOUR.toISOString() },
      { status: 'accepted', hour: NEXT_HOUR.toISOString(), carriedFrom: CURRENT_HOUR.toISOString() },
    ]);
    expect(await bucket(subscriberId, EARLIER_HOUR)).toEqual(frozenEarlier);
    expect(await bucket(subscriberId, CURRENT_HOUR)).toEqual(frozenCurrent);
    expect((await bucket(subscriberId, NEXT_HOUR))?.quantity).toBe(5);
  });

  test('with every hour it could go into frozen, the event is rejected and nothing of it written', async () => {
    const subscriberId = await subscriber();
    const other = await subscriber();
    const frozen = [
      await freeze(subscriberId, EARLIER_HOUR, 9),
      await freeze(subscriberId, CURRENT_HOUR, 8),
      await freeze(subscriberId, NEXT_HOUR, 7),
    ];
    expect(
      await record([usage(subscriberId, { eventId: 'nowhere' }), usage(other, { quantity: 2, eventId: 'fine' })]),
    ).toEqual([
      { status: 'rejected', reason: 'no-open-hour', message: expect.stringContaining('already metered') as unknown },
      { status: 'accepted', hour: EARLIER_HOUR.toISOString() },
    ]);
    expect(await buckets(subscriberId)).toEqual(frozen);
    expect(await eventKey('nowhere')).toBeUndefined();
    expect((await bucket(other, EARLIER_HOUR))?.quantity).toBe(2);
  });

  test('tagged units carried forward keep their allocation', async () => {
    const subscriberId = await subscriber();
    await freeze(subscriberId, EARLIER_HOUR, 9);
    await record([usage(subscriberId, { quantity: 4, tags: { env: 'prod' } })]);
    const carried = await bucket(subscriberId, CURRENT_HOUR);
    const attributes = allocationAttributes({ env: 'prod' });
    expect(carried).toMatchObject({ quantity: 4, [attributes.quantity]: 4, [attributes.tags]: { env: 'prod' } });
  });
});

describe('allocations', () => {
  test('tagged usage becomes allocations of the same bucket, which sum with the untagged rest to its quantity', async () => {
    const subscriberId = await subscriber();
    const prod = { env: 'prod', team: 'core' };
    const test = { env: 'test' };
    await record([
      usage(subscriberId, { quantity: 2, tags: { team: 'core', env: 'prod' } }),
      usage(subscriberId, { quantity: 3, tags: test }),
      usage(subscriberId, { quantity: 5 }),
    ]);
    await record([usage(subscriberId, { quantity: 7, tags: prod })], new Date('2026-11-26T12:40:00.000Z'));
    const item = (await bucket(subscriberId, EARLIER_HOUR))!;
    const [prodAttributes, testAttributes] = [allocationAttributes(prod), allocationAttributes(test)];
    expect(item).toMatchObject({
      quantity: 17,
      [prodAttributes.quantity]: 9,
      [prodAttributes.tags]: { env: 'prod', team: 'core' },
      [testAttributes.quantity]: 3,
      [testAttributes.tags]: test,
    });
    const allocated = Object.entries(item)
      .filter(([name]) => name.startsWith('allocation#'))
      .reduce((sum, [, quantity]) => sum + Number(quantity), 0);
    expect(allocated).toBe(12);
    expect(await buckets(subscriberId)).toHaveLength(1);
  });

  test('a tag set is stored in one spelling, keys sorted, whatever order the events gave', async () => {
    const subscriberId = await subscriber();
    await record([usage(subscriberId, { tags: { b: '2', a: '1' } })]);
    const attributes = allocationAttributes({ a: '1', b: '2' });
    const stored = (await bucket(subscriberId, EARLIER_HOUR))!;
    const tagAttribute = Object.keys(stored).find((name) => name.startsWith('allocationTags#'))!;
    expect(Object.keys(stored[tagAttribute] as object)).toEqual(['a', 'b']);
    expect(tagAttribute).toBe(attributes.tags);
  });

  test('a tag named __proto__, which the DynamoDB marshaller cannot carry, is refused alone', async () => {
    const subscriberId = await subscriber();
    const tags = JSON.parse('{"__proto__":"x","env":"prod"}') as Record<string, string>;
    expect(
      (await record([usage(subscriberId, { tags }), usage(subscriberId, { quantity: 2 })])).map((result) =>
        result.status === 'rejected' ? result.reason : result.status,
      ),
    ).toEqual(['bad-tags', 'accepted']);
    expect((await bucket(subscriberId, EARLIER_HOUR))?.quantity).toBe(2);
  });

  test("tags named as an object's own members (constructor, toString) are stored like any other", async () => {
    const subscriberId = await subscriber();
    const tags = JSON.parse('{"constructor":"x","toString":"y","valueOf":"z"}') as Record<string, string>;
    expect((await record([usage(subscriberId, { quantity: 3, tags })])).map((result) => result.status)).toEqual([
      'accepted',
    ]);
    const attributes = allocationAttributes(tags);
    const stored = (await bucket(subscriberId, EARLIER_HOUR))!;
    expect(stored[attributes.quantity]).toBe(3);
    expect(Object.entries(stored[attributes.tags] as object).sort()).toEqual([
      ['constructor', 'x'],
      ['toString', 'y'],
      ['valueOf', 'z'],
    ]);
    // And the metering run reads it back as that allocation.
    expect(bucketItemOf(stored)?.allocations).toEqual([{ tags, quantity: 3 }]);
  });
});
