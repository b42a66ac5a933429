/**
 * The lifecycle queue's consumer against DynamoDB Local and the simulator: the simulator's own notifications (in the
 * shapes AWS documents), delivered as SQS records, move subscribers through their states and bring their entitlements
 * (all pages, throttling retried); what is not a Marketplace notification is set aside without failing the batch.
 */
import { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import type { ProductListing } from '../../../lambdas/core/environment.ts';
import { MAX_ENTITLEMENTS_BYTES } from '../../../lambdas/core/lifecycle/entitlements.ts';
import { LifecycleRepository } from '../../../lambdas/core/lifecycle/lifecycle-repository.ts';
import { sellerEventsFor } from '../../../lambdas/core/seller-events.ts';
import { SELLER_EVENT } from '../../../contracts/index.ts';
import { agreementKey, subscriberKey } from '../../../lambdas/core/table-keys.ts';
import { createLifecycleHandler, TIME_NEEDED_PER_RECORD_MS } from '../../../lambdas/lifecycle/lifecycle-handler.ts';
import type { LicenseView, PublishedEventView } from '../../../simulator/control-client.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import {
  localCredentials,
  minutesFrom,
  SIMULATOR_NOW,
  uniqueProductCode,
  useSimulator,
} from '../../support/simulator.ts';
import { sqsEvent } from '../../support/lambda-events.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator({ entitlementEmptyPages: true });
const logger = new Logger({ logLevel: 'SILENT' });

function handlerFor(products: ProductListing[], attempts = 5) {
  const documents = documentClient(dynamoDb.endpoint);
  const lifecycle = new LifecycleRepository(documents, dynamoDb.tables.Subscribers, 3600);
  const entitlements = new MarketplaceEntitlementServiceClient({
    endpoint: sim.url,
    region: 'us-east-1',
    maxAttempts: attempts,
    credentials: localCredentials,
  });
  const handler = createLifecycleHandler({
    lifecycle,
    entitlements,
    products,
    clock: { now: () => SIMULATOR_NOW },
    logger,
  });
  /** Invoked as Lambda would, with `remainingMs` of the function's timeout left. */
  const handle = (event: SQSEvent, remainingMs = 60_000) =>
    handler(event, { getRemainingTimeInMillis: () => remainingMs });
  return { handle, lifecycle, documents };
}

/** What SQS hands the function for these bodies, sent at the simulator's time. */
const queued = (messageBodies: readonly string[]) => sqsEvent(messageBodies, SIMULATOR_NOW);

const bodies = (events: readonly PublishedEventView[]) => events.map((event) => JSON.stringify(event.body));

async function contractProduct(identityModel: 'license' | 'legacy', seats = 1) {
  const product = await sim.control.createProduct({
    code: uniqueProductCode(),
    name: 'Contract',
    pricingModel: 'contracts',
    identityModel,
    dimensions: Array.from({ length: seats }, (_, index) => ({ name: `dimension${index}`, kind: 'contract' as const })),
  });
  const listing: ProductListing = { code: product.code, name: product.name, identityModel };
  return { product, listing };
}

async function subscriberItem(subscriberId: string) {
  const { Item } = await documentClient(dynamoDb.endpoint).send(
    new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: subscriberKey(subscriberId), ConsistentRead: true }),
  );
  return Item;
}

const licenseId = (license: LicenseView) => `license:${license.licenseArn}`;

describe('EventBridge notifications', () => {
  test('a purchase makes the subscriber active, with its entitlements and its agreement', async () => {
    const { product, listing } = await contractProduct('license');
    const { license } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: [{ dimension: 'dimension0', value: { IntegerValue: 10 } }],
    });
    const { handle } = handlerFor([listing]);
    const { events } = await sim.control.events(0, 'eventbridge');
    expect(await handle(queued(bodies(events)))).toEqual({ batchItemFailures: [] });

    expect(await subscriberItem(licenseId(license))).toEqual(
      expect.objectContaining({
        subscriptionStatus: 'active',
        statusChangedAt: SIMULATOR_NOW.toISOString(),
        productCode: product.code,
        licenseArn: license.licenseArn,
        customerAWSAccountId: license.customerAWSAccountId,
        agreementId: license.agreementId,
        liveShard: expect.stringMatching(/^live#[0-7]$/) as unknown,
        entitlements: [{ dimension: 'dimension0', value: 10, valueType: 'integer' }],
      }),
    );
    const { Item: agreement } = await documentClient(dynamoDb.endpoint).send(
      new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: agreementKey(license.agreementId) }),
    );
    expect(agreement).toEqual(
      expect.objectContaining({ subscriberId: licenseId(license), agreementStatus: 'ACTIVE', intent: 'NEW' }),
    );
  });

  test('a cancellation opens the final-metering window; the sweep ends the subscription when it closes', async () => {
    const { product, listing } = await contractProduct('license');
    const { license } = await sim.control.createLicense({ productCode: product.code });
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 30), false);
    await sim.control.end(license.id);
    const { handle, lifecycle } = handlerFor([listing]);
    await handle(queued(bodies((await sim.control.events(0, 'eventbridge')).events)));

    const deadline = minutesFrom(SIMULATOR_NOW, 90).toISOString();
    expect(await subscriberItem(licenseId(license))).toEqual(
      expect.objectContaining({
        subscriptionStatus: 'ending',
        finalMeteringDeadline: deadline,
        liveShard: expect.any(String) as unknown,
      }),
    );
    expect(await lifecycle.closeFinalMeteringWindows(minutesFrom(SIMULATOR_NOW, 89))).not.toContain(licenseId(license));
    expect(await lifecycle.closeFinalMeteringWindows(minutesFrom(SIMULATOR_NOW, 90))).toContain(licenseId(license));
    const ended = await subscriberItem(licenseId(license));
    expect(ended).toEqual(expect.objectContaining({ subscriptionStatus: 'ended', statusChangedAt: deadline }));
    expect(ended?.liveShard).toBeUndefined();
    expect(ended?.finalMeteringDeadline).toBeUndefined();

    // The ended agreement's record expires (DynamoDB's TTL) 400 days after its end; the subscriber's never does.
    const { Item: agreement } = await documentClient(dynamoDb.endpoint).send(
      new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: agreementKey(license.agreementId) }),
    );
    expect(agreement).toEqual(
      expect.objectContaining({
        agreementStatus: 'CANCELLED',
        expiresAt: Date.parse(minutesFrom(SIMULATOR_NOW, 30).toISOString()) / 1000 + 400 * 86_400,
      }),
    );
    expect(ended?.expiresAt).toBeUndefined();
  });

  /** A license bought and cancelled 10 minutes on: its EventBridge events, and the handler of its product. */
  async function cancelledLicense() {
    const { product, listing } = await contractProduct('license');
    const { license } = await sim.control.createLicense({ productCode: product.code });
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 10), false);
    await sim.control.end(license.id);
    const { events } = await sim.control.events(0, 'eventbridge');
    return { license, events, handle: handlerFor([listing]).handle };
  }

  test('delivered backwards and twice over, the notifications leave the same subscriber', async () => {
    const { license, events, handle } = await cancelledLicense();
    const history = bodies(events);
    await handle(queued([...history].reverse()));
    await handle(queued([...history, ...history].reverse()));
    expect(await subscriberItem(licenseId(license))).toEqual(
      expect.objectContaining({
        subscriptionStatus: 'ending',
        statusChangedAt: minutesFrom(SIMULATOR_NOW, 10).toISOString(),
      }),
    );
  });
  test('a License Updated dated after the License Deprovisioned does not bring the license back', async () => {
    const { license, events, handle } = await cancelledLicense();
    const history = events.map((event) => event.body);
    const updated = history.find((body) => body['detail-type'] === 'License Updated - Manufacturer')!;
    // An amendment racing the cancellation: Marketplace bills nothing on the license after its end.
    const raced = { ...updated, id: `${String(updated.id)}-raced`, time: minutesFrom(SIMULATOR_NOW, 11).toISOString() };
    await handle(queued([...history, raced].map((body) => JSON.stringify(body))));
    expect(await subscriberItem(licenseId(license))).toEqual(
      expect.objectContaining({
        subscriptionStatus: 'ending',
        statusChangedAt: minutesFrom(SIMULATOR_NOW, 10).toISOString(),
        finalMeteringDeadline: minutesFrom(SIMULATOR_NOW, 70).toISOString(),
      }),
    );
  });
});

describe('SNS notifications (legacy products)', () => {
  test('subscribe-success to unsubscribe-success, in their envelopes', async () => {
    const { product, listing } = await contractProduct('legacy');
    const { license } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: [{ dimension: 'dimension0', value: { BooleanValue: true } }],
    });
    const { handle } = handlerFor([listing]);
    const subscriberId = `legacy:${product.code}:${license.customerIdentifier}`;
    await handle(queued(bodies((await sim.control.events(0, 'sns')).events)));
    expect(await subscriberItem(subscriberId)).toEqual(
      expect.objectContaining({
        subscriptionStatus: 'active',
        customerIdentifier: license.customerIdentifier,
        entitlements: [{ dimension: 'dimension0', value: true, valueType: 'boolean' }],
      }),
    );

    const { lastSequence } = await sim.control.events(0, 'sns');
    await sim.control.end(license.id);
    await sim.control.advanceClock({ hours: 1 });
    await handle(queued(bodies((await sim.control.events(lastSequence, 'sns')).events)));
    expect((await subscriberItem(subscriberId))?.subscriptionStatus).toBe('ended');
  });

  test('an unsubscribe-success dated after the final-metering window closed leaves the end where it closed', async () => {
    const { product, listing } = await contractProduct('legacy');
    const { license } = await sim.control.createLicense({ productCode: product.code });
    const { handle, lifecycle } = handlerFor([listing]);
    const subscriberId = `legacy:${product.code}:${license.customerIdentifier}`;
    const subscribed = await sim.control.events(0, 'sns');
    await handle(queued(bodies(subscribed.events)));
    // Marketplace's "about an hour": this unsubscribe-success comes 70 minutes after its unsubscribe-pending.
    await sim.control.updateSettings({ finalMeteringGraceSeconds: 4200 });
    await sim.control.end(license.id);
    const cancelled = await sim.control.events(subscribed.lastSequence, 'sns');
    await handle(queued(bodies(cancelled.events)));
    const deadline = minutesFrom(SIMULATOR_NOW, 60).toISOString();
    expect(await lifecycle.closeFinalMeteringWindows(minutesFrom(SIMULATOR_NOW, 60))).toEqual([subscriberId]);

    await sim.control.advanceClock({ minutes: 70 });
    const ended = await sim.control.events(cancelled.lastSequence, 'sns');
    expect(ended.events).toHaveLength(1);
    expect(JSON.stringify(ended.events[0]!.body)).toContain('unsubscribe-success');
    await handle(queued(bodies(ended.events)));
    // As the seller was told when the window closed: ended at the deadline, not when Marketplace said so later.
    expect(await subscriberItem(subscriberId)).toEqual(
      expect.objectContaining({ subscriptionStatus: 'ended', statusChangedAt: deadline }),
    );
  });
});

describe('seller events of changes stored in the same instant', () => {
  type StatusDetail = { readonly statusChangedAt: string; readonly statusSequence: number };
  const statusEvent = (before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined) => {
    const event = sellerEventsFor(before, after).find((candidate) => 'statusChangedAt' in candidate.detail);
    return { type: event?.detailType, detail: event?.detail as StatusDetail | undefined };
  };

  test('a license cancelled in the second of its activation: the Ending event is the newer by its statusSequence', async () => {
    const { product, listing } = await contractProduct('license');
    const { license } = await sim.control.createLicense({ productCode: product.code });
    const { handle } = handlerFor([listing]);
    const bought = await sim.control.events(0, 'eventbridge');
    await handle(queued(bodies(bought.events)));
    const active = await subscriberItem(licenseId(license));
    await sim.control.end(license.id);
    await handle(queued(bodies((await sim.control.events(bought.lastSequence, 'eventbridge')).events)));
    const ending = await subscriberItem(licenseId(license));

    const activated = statusEvent(undefined, active);
    const cancelled = statusEvent(active, ending);
    expect([activated.type, cancelled.type]).toEqual([SELLER_EVENT.activated, SELLER_EVENT.ending]);
    expect(cancelled.detail?.statusChangedAt).toBe(activated.detail?.statusChangedAt);
    expect(cancelled.detail!.statusSequence).toBeGreaterThan(activated.detail!.statusSequence);
  });

  test('a legacy buyer back in the instant of the cancellation: the Activated event is the newer', async () => {
    const { product, listing } = await contractProduct('legacy');
    // Subscribed ten minutes before; cancelled and subscribed again in one instant.
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -10), false);
    const { license } = await sim.control.createLicense({ productCode: product.code });
    const { handle } = handlerFor([listing]);
    const subscriberId = `legacy:${product.code}:${license.customerIdentifier}`;
    const subscribed = await sim.control.events(0, 'sns');
    await handle(queued(bodies(subscribed.events)));
    const active = await subscriberItem(subscriberId);
    await sim.control.setClock(SIMULATOR_NOW, false);
    await sim.control.end(license.id);
    await sim.control.createLicense({ productCode: product.code, customerAWSAccountId: license.customerAWSAccountId });
    const [cancellation, resubscription] = bodies((await sim.control.events(subscribed.lastSequence, 'sns')).events);
    await handle(queued([cancellation!]));
    const ending = await subscriberItem(subscriberId);
    await handle(queued([resubscription!]));
    const back = await subscriberItem(subscriberId);

    const cancelled = statusEvent(active, ending);
    const activated = statusEvent(ending, back);
    expect([cancelled.type, activated.type]).toEqual([SELLER_EVENT.ending, SELLER_EVENT.activated]);
    expect(activated.detail?.statusChangedAt).toBe(cancelled.detail?.statusChangedAt);
    expect(activated.detail!.statusSequence).toBeGreaterThan(cancelled.detail!.statusSequence);
  });
});

describe('entitlements', () => {
  test('every page is read, empty ones with a NextToken included, and throttling is retried', async () => {
    const { product, listing } = await contractProduct('license', 60);
    const { license } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: Array.from({ length: 60 }, (_, index) => ({
        dimension: `dimension${index}`,
        value: { IntegerValue: index },
      })),
    });
    await sim.control.setFaults({ rules: [{ kind: 'throttle', operations: ['GetEntitlements'], times: 2 }] });
    const { handle } = handlerFor([listing]);
    expect(await handle(queued(bodies((await sim.control.events(0, 'eventbridge')).events)))).toEqual({
      batchItemFailures: [],
    });
    expect(((await subscriberItem(licenseId(license)))?.entitlements as unknown[]).length).toBe(60);
    expect((await sim.control.stats()).operations.GetEntitlements.throttled).toBe(2);
  });

  test('when Marketplace keeps throttling, that message alone fails, to be retried from the queue', async () => {
    const { product, listing } = await contractProduct('license');
    await sim.control.createLicense({ productCode: product.code });
    const { handle } = handlerFor([listing], 2);
    const history = bodies((await sim.control.events(0, 'eventbridge')).events);
    await sim.control.setFaults({ rules: [{ kind: 'throttle', operations: ['GetEntitlements'] }] });
    const event = queued(history);
    const licenseUpdated = event.Records.find((record) => record.body.includes('License Updated'))!;
    expect(await handle(event)).toEqual({ batchItemFailures: [{ itemIdentifier: licenseUpdated.messageId }] });
  });

  test('numbers stored exactly are kept as Marketplace gave them', async () => {
    const { product, listing } = await contractProduct('license', 3);
    const { license } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: [
        { dimension: 'dimension0', value: { DoubleValue: 0.1 } },
        { dimension: 'dimension1', value: { DoubleValue: Number.MAX_SAFE_INTEGER } },
        { dimension: 'dimension2', value: { DoubleValue: -2.5e-7 } },
      ],
    });
    const { handle } = handlerFor([listing]);
    expect(await handle(queued(bodies((await sim.control.events(0, 'eventbridge')).events)))).toEqual({
      batchItemFailures: [],
    });
    expect((await subscriberItem(licenseId(license)))?.entitlements).toEqual([
      { dimension: 'dimension0', value: 0.1, valueType: 'double' },
      { dimension: 'dimension1', value: Number.MAX_SAFE_INTEGER, valueType: 'double' },
      { dimension: 'dimension2', value: -2.5e-7, valueType: 'double' },
    ]);
  });

  test.each([
    ['a number DynamoDB cannot carry exactly', { DoubleValue: 1e16 }],
    ['a number too small for DynamoDB', { DoubleValue: 1e-200 }],
    ['more than a subscriber may store', { StringValue: 'x'.repeat(MAX_ENTITLEMENTS_BYTES) }],
  ])('entitlements with %s leave the subscriber activated and the message to be retried', async (_case, value) => {
    const { product, listing } = await contractProduct('license');
    const { license } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: [{ dimension: 'dimension0', value }],
    });
    const { handle } = handlerFor([listing]);
    const event = queued(bodies((await sim.control.events(0, 'eventbridge')).events));
    const licenseUpdated = event.Records.find((record) => record.body.includes('License Updated'))!;
    expect((await handle(event)).batchItemFailures).toContainEqual({ itemIdentifier: licenseUpdated.messageId });
    const item = await subscriberItem(licenseId(license));
    expect(item).toEqual(expect.objectContaining({ subscriptionStatus: 'active' }));
    expect(item?.entitlements).toBeUndefined();
  });
});

test('a record is not started with too little time left: it goes back to the queue, unapplied', async () => {
  const { product, listing } = await contractProduct('license');
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const { handle, documents } = handlerFor([listing]);
  const event = queued(bodies((await sim.control.events(0, 'eventbridge')).events));

  expect(await handle(event, TIME_NEEDED_PER_RECORD_MS - 1)).toEqual({
    batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
  });
  const { Item } = await documents.send(
    new GetCommand({
      TableName: dynamoDb.tables.Subscribers,
      Key: subscriberKey(`license:${license.licenseArn}`),
    }),
  );
  expect(Item).toBeUndefined();
});

test('what is not a Marketplace notification for this deployment is set aside with its reason, never failed', async () => {
  const { listing } = await contractProduct('license');
  const other = await contractProduct('license');
  await sim.control.createLicense({ productCode: other.product.code });
  const foreign = bodies((await sim.control.events(0, 'eventbridge')).events).find((body) =>
    body.includes('License Updated'),
  )!;
  const { handle } = handlerFor([listing]);
  const junk = [
    'not json',
    '{"detail-type":"License Updated - Manufacturer","source":"aws.agreement-marketplace"}',
    foreign,
  ];
  expect(await handle(queued(junk))).toEqual({ batchItemFailures: [] });

  const day = `REJECTED#${SIMULATOR_NOW.toISOString().slice(0, 10)}`;
  const { Items = [] } = await documentClient(dynamoDb.endpoint).send(
    new QueryCommand({
      TableName: dynamoDb.tables.Subscribers,
      KeyConditionExpression: 'pk = :day',
      ExpressionAttributeValues: { ':day': day },
    }),
  );
  expect(Items.map((item) => item.reason as string).sort()).toEqual([
    `a license of ${other.product.code}, not a license-model product sold here`,
    'a malformed EventBridge event',
    'the message is not JSON',
  ]);
  expect(Items.every((item) => typeof item.expiresAt === 'number')).toBe(true);
});
