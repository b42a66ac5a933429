/**
 * The seller notifier against the local event bus, through the real EventBridge client: entries the bus refuses one by
 * one are put again, alone, so that a change's other events are not put twice (under new ids) by a retry of its record.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { expect, test } from 'vitest';
import { SELLER_EVENT } from '../../../contracts/index.ts';
import { createSellerNotifier } from '../../../lambdas/seller-notifications/seller-notifier-handler.ts';
import { useLocalEventBus } from '../../support/local-event-bus.ts';
import { licenseSubscriberItem } from '../../support/subscriber-items.ts';

const BUS = 'seller-events';
const local = useLocalEventBus(BUS);

const warnings: unknown[][] = [];
const quietLogger = { warn: (...args: unknown[]) => warnings.push(args), error: () => undefined } as unknown as Logger;
const pauses: number[] = [];
const notify = (event: DynamoDBStreamEvent) =>
  createSellerNotifier({
    events: local.client,
    busName: BUS,
    source: 'saas-marketplace',
    logger: quietLogger,
    sleep: (ms) => Promise.resolve(void pauses.push(ms)),
  })(event);

const pending = { ...licenseSubscriberItem, subscriptionStatus: 'pending' };
/** One write that calls for two events: the buyer registered, and Marketplace confirmed the subscription. */
const registeredAndActive = {
  ...pending,
  subscriptionStatus: 'active',
  statusChangedAt: '2026-12-06T09:00:00.000Z',
  entitlements: [],
  registration: { details: { company: 'Acme' }, registeredAt: '2026-12-06T08:59:00.000Z' },
};
const streamEvent = {
  Records: [
    {
      dynamodb: {
        SequenceNumber: '100',
        OldImage: marshall(pending),
        NewImage: marshall(registeredAndActive, { removeUndefinedValues: true }),
      },
    },
  ],
} as unknown as DynamoDBStreamEvent;

const published = () => local.bus.events().map((event) => event['detail-type']);

test('an entry the bus refuses is put again alone: each event of the change goes out once, the record succeeds', async () => {
  // The first entry of the first put refused, the second one taken.
  local.bus.failNext({ entries: 1 });
  const before = published().length;

  expect(await notify(streamEvent)).toEqual({ batchItemFailures: [] });

  expect(published().slice(before).sort()).toEqual([SELLER_EVENT.activated, SELLER_EVENT.registered]);
  expect(pauses).toEqual([200]);
});

test('entries refused at every put fail their record, for Lambda to retry it, and the log names whose it is', async () => {
  // Both entries, at each of the three puts.
  local.bus.failNext({ entries: 6 });
  const before = published().length;

  expect(await notify(streamEvent)).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });

  expect(published().slice(before)).toEqual([]);
  // The dead letter of a record Lambda gives up on names only its sequence numbers: the log says whose change it was.
  expect(warnings.at(-1)).toEqual([
    'Some seller events were not published; Lambda will retry',
    { failed: [{ sequenceNumber: '100', subscriberId: licenseSubscriberItem.subscriberId }] },
  ]);
  local.bus.failNext({});
});
