/**
 * The property the lifecycle rests on, against DynamoDB Local through the real repositories: any permutation of a
 * valid history, with any notification delivered any number of times, the buyer's arrival and registration and runs
 * of the final-metering sweep interleaved anywhere, leaves the subscriber item exactly as the history in order does:
 * status, facts, deadline, entitlements (the latest read) and agreement (the latest named). (Two reads at one instant
 * that differ, which the histories here never hold, are the exception: the one applied last is kept, stamped after the
 * other, so both what is kept and its stamp follow the order; a test below pins that down.)
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { LifecycleRepository } from '../../../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { LifecycleFact } from '../../../lambdas/core/lifecycle/subscription-state.ts';
import { SubscriberRepository } from '../../../lambdas/core/subscriber-repository.ts';
import { subscriberKey } from '../../../lambdas/core/table-keys.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';

const dynamoDb = useDynamoDb();
/** Tables of their own for the sweep, which reads the whole table: the property test leaves subscribers ending. */
const sweepTables = useDynamoDb();
const PRODUCT = 'licensed-product';
const ACCOUNT = '210987654321';
const minute = (n: number) => new Date(Date.UTC(2026, 10, 26, 8, n));
/** What Marketplace answers GetEntitlements with at a given minute: a later read may see more seats. */
const entitlementsReadAt = (at: number) => ({
  entitlements: [{ dimension: 'seats', value: at, valueType: 'integer' as const }],
  fetchedAt: minute(at),
});

/**
 * One thing that happens to a subscriber: a Marketplace notification (which may name an agreement, and may have the
 * entitlements read at some minute), the buyer's own doing, or a run of the final-metering sweep.
 */
type Step =
  | {
      readonly kind: 'notification';
      readonly fact: LifecycleFact | undefined;
      readonly minute: number;
      readonly readEntitlementsAt: number | undefined;
      readonly namesAgreement: boolean;
    }
  | { readonly kind: 'arrival' }
  | { readonly kind: 'registration' }
  | { readonly kind: 'sweep' };

const notification = fc.record({
  kind: fc.constant('notification' as const),
  fact: fc.constantFrom<LifecycleFact | undefined>('activatedAt', 'failedAt', 'endRequestedAt', 'endedAt', undefined),
  minute: fc.nat(180),
  readEntitlementsAt: fc.option(fc.nat(180), { nil: undefined }),
  namesAgreement: fc.boolean(),
});

/** Replays of each history, each shuffled and with duplicates: 500 histories x 4 = 2,000 permutations. */
const REPLAYS = 4;

/** A history, and replays of it: shuffled, with duplicates added; when the steps are processed; a final sweep's time. */
const histories = fc
  .tuple(
    fc.array(notification, { minLength: 1, maxLength: 7 }),
    fc.boolean(),
    fc.nat(1),
    fc.integer({ min: 0, max: 300 }),
  )
  .chain(([notifications, registers, sweeps, end]) => {
    const steps: Step[] = [
      { kind: 'arrival' },
      ...(registers ? [{ kind: 'registration' } as const] : []),
      ...Array.from({ length: sweeps }, () => ({ kind: 'sweep' }) as const),
      ...notifications,
    ];
    const replay = fc.array(fc.constantFrom(...notifications), { maxLength: 4 }).chain((duplicates) => {
      const all = [...steps, ...duplicates];
      return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
    });
    return fc.tuple(fc.constant(steps), fc.array(replay, { minLength: REPLAYS, maxLength: REPLAYS }), fc.constant(end));
  });

/**
 * Plays the steps in order, each processed a second after the one before, up to `end`, when the subscriber's status is
 * brought up to date: the time things are processed moves on, so a sweep or a late notification may fall on either
 * side of a deadline.
 */
async function play(documents: DynamoDBDocumentClient, licenseArn: string, steps: readonly Step[], end: number) {
  const subscribers = new SubscriberRepository(documents, dynamoDb.tables.Subscribers);
  const lifecycle = new LifecycleRepository(documents, dynamoDb.tables.Subscribers, 3600);
  const subscriber = { model: 'license' as const, productCode: PRODUCT, licenseArn, customerAWSAccountId: ACCOUNT };
  const processedAt = (index: number) => new Date(minute(end).getTime() - (steps.length - index) * 1000);
  let arrived = false;
  const registrationPending: Step[] = [];
  const register = () => subscribers.completeRegistration(`license:${licenseArn}`, { company: 'Acme' }, minute(200));
  for (const [index, step] of steps.entries()) {
    if (step.kind === 'arrival') {
      await subscribers.recordResolution({ ...subscriber }, 'standard', minute(0));
      arrived = true;
      // A buyer registers after arriving: a registration drawn earlier waits for the arrival.
      if (registrationPending.splice(0).length > 0) await register();
    } else if (step.kind === 'registration') {
      if (arrived) await register();
      else registrationPending.push(step);
    } else if (step.kind === 'sweep') {
      await lifecycle.closeFinalMeteringWindows(processedAt(index));
    } else {
      const agreementId = step.namesAgreement ? `agmt-${step.minute % 3}` : undefined;
      await lifecycle.applyToSubscriber(
        {
          subscriber: { ...subscriber, agreementId },
          facts: step.fact === undefined ? [] : [step.fact],
          at: minute(step.minute),
        },
        processedAt(index),
        step.readEntitlementsAt === undefined ? undefined : entitlementsReadAt(step.readEntitlementsAt),
      );
    }
  }
  // What the sweep does for this subscriber at `end` (the real sweep runs as a step: at the end, it would also sweep
  // every other run's subscribers in the shared table).
  await lifecycle.applyToSubscriber({ subscriber, facts: [], at: minute(end) }, minute(end));
  const { Item } = await documents.send(
    new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: subscriberKey(`license:${licenseArn}`) }),
  );
  // What legitimately differs between two subscribers: who they are, and bookkeeping of how many writes it took.
  const differing = ['pk', 'sk', 'subscriberId', 'licenseArn', 'liveShard', 'endingShard', 'lifecycleVersion'];
  const state = Object.fromEntries(Object.entries(Item ?? {}).filter(([name]) => !differing.includes(name)));
  return { ...state, live: Item?.liveShard !== undefined, ending: Item?.endingShard !== undefined };
}

// 2,000 replays against a real DynamoDB Local took 44-46 s at a load average of 2-5 on two cores, and the suite must
// pass on a machine several times busier: the limit is there only to end a run that hangs.
test(
  'every permutation and duplication of a history converges on the same subscriber item',
  { timeout: 600_000 },
  async () => {
    const documents = documentClient(dynamoDb.endpoint);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(histories, async ([inOrder, replays, end]) => {
        run++;
        const licenseArn = (name: string) => `arn:aws:license-manager::999999999999:license:l-${name}-${run}`;
        // Each replay is its own subscriber, so they run side by side.
        const [expected, ...replayed] = await Promise.all([
          play(documents, licenseArn('ordered'), inOrder, end),
          ...replays.map((steps, index) => play(documents, licenseArn(`replay${index}`), steps, end)),
        ]);
        for (const state of replayed) expect(state).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  },
);

test('notifications applied concurrently to one subscriber lose nothing', async () => {
  const documents = documentClient(dynamoDb.endpoint);
  const lifecycle = new LifecycleRepository(documents, dynamoDb.tables.Subscribers, 3600);
  const subscriber = {
    model: 'license' as const,
    productCode: PRODUCT,
    licenseArn: 'arn:aws:license-manager::999999999999:license:l-concurrent',
    customerAWSAccountId: ACCOUNT,
  };
  const facts: LifecycleFact[] = ['activatedAt', 'failedAt', 'endRequestedAt', 'endedAt'];
  // Each kind's latest time must win while 40 writers race (and the earliest activation and end). One that
  // keeps losing the race gives up, and its
  // notification comes back from the queue: here, applied again afterwards.
  const notifications = Array.from({ length: 40 }, (_, index) => ({
    subscriber,
    facts: [facts[index % 4]!],
    at: minute(index),
  }));
  const outcomes = await Promise.allSettled(notifications.map((each) => lifecycle.applyToSubscriber(each, minute(40))));
  for (const [index, outcome] of outcomes.entries()) {
    if (outcome.status === 'rejected') await lifecycle.applyToSubscriber(notifications[index]!, minute(40));
  }
  const { Item } = await documents.send(
    new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: subscriberKey(`license:${subscriber.licenseArn}`) }),
  );
  expect(Item?.lifecycle).toEqual({
    startedAt: minute(0).toISOString(),
    activatedAt: minute(36).toISOString(),
    failedAt: minute(37).toISOString(),
    endRequestedAt: minute(38).toISOString(),
    endedAt: minute(39).toISOString(),
    firstEndAt: minute(2).toISOString(),
  });
  expect(Item?.subscriptionStatus).toBe('ended');
});

test('a legacy buyer who subscribed again stays with final metering until the old deadline, then the sweep lets go', async () => {
  const documents = documentClient(sweepTables.endpoint);
  const lifecycle = new LifecycleRepository(documents, sweepTables.tables.Subscribers, 3600);
  const subscriber = { model: 'legacy' as const, productCode: PRODUCT, customerIdentifier: 'resubscribed-buyer' };
  const key = subscriberKey(`legacy:${PRODUCT}:resubscribed-buyer`);
  const read = async () =>
    (await documents.send(new GetCommand({ TableName: sweepTables.tables.Subscribers, Key: key }))).Item;
  await lifecycle.applyToSubscriber({ subscriber, facts: ['activatedAt'], at: minute(0) }, minute(0));
  await lifecycle.applyToSubscriber({ subscriber, facts: ['endRequestedAt'], at: minute(10) }, minute(10));
  await lifecycle.applyToSubscriber({ subscriber, facts: ['activatedAt'], at: minute(30) }, minute(30));
  expect(await read()).toEqual(
    expect.objectContaining({ subscriptionStatus: 'active', finalMeteringDeadline: minute(70).toISOString() }),
  );

  expect(await lifecycle.closeFinalMeteringWindows(minute(69))).toEqual([]);
  expect(await lifecycle.closeFinalMeteringWindows(minute(70))).toEqual([`legacy:${PRODUCT}:resubscribed-buyer`]);
  const after = await read();
  expect(after).toEqual(expect.objectContaining({ subscriptionStatus: 'active' }));
  expect(after).not.toHaveProperty('finalMeteringDeadline');
  expect(await lifecycle.closeFinalMeteringWindows(minute(80))).toEqual([]);
});

test('reads at the same instant that differ are each stored with an entitlementsFetchedAt of their own, in order', async () => {
  const documents = documentClient(dynamoDb.endpoint);
  const lifecycle = new LifecycleRepository(documents, dynamoDb.tables.Subscribers, 3600);
  const licenseArn = 'arn:aws:license-manager::999999999999:license:l-same-instant';
  const subscriber = { model: 'license' as const, productCode: PRODUCT, licenseArn, customerAWSAccountId: ACCOUNT };
  // A stopped clock: the upgrade to 25 seats, then the downgrade to 5, read in the same millisecond.
  const seats = (value: number) => ({
    entitlements: [{ dimension: 'seats', value, valueType: 'integer' as const }],
    fetchedAt: minute(10),
  });
  const stored = async () => {
    const { Item } = await documents.send(
      new GetCommand({ TableName: dynamoDb.tables.Subscribers, Key: subscriberKey(`license:${licenseArn}`) }),
    );
    return {
      seats: (Item?.entitlements as { value: number }[])[0]?.value,
      fetchedAt: Item?.entitlementsFetchedAt as string,
    };
  };
  const apply = (value: number) =>
    lifecycle.applyToSubscriber({ subscriber, facts: [], at: minute(10) }, minute(10), seats(value));

  await apply(10);
  expect(await stored()).toEqual({ seats: 10, fetchedAt: '2026-11-26T08:10:00.000Z' });
  await apply(25);
  expect(await stored()).toEqual({ seats: 25, fetchedAt: '2026-11-26T08:10:00.001Z' });
  await apply(5);
  expect(await stored()).toEqual({ seats: 5, fetchedAt: '2026-11-26T08:10:00.002Z' });
  expect(await apply(5)).toBe('unchanged');
  // A read a millisecond later than the first is still later than those stamped after it.
  await lifecycle.applyToSubscriber({ subscriber, facts: [], at: minute(10) }, minute(10), {
    ...seats(7),
    fetchedAt: new Date(minute(10).getTime() + 1),
  });
  expect(await stored()).toEqual({ seats: 7, fetchedAt: '2026-11-26T08:10:00.003Z' });
  // An older read finishing late changes nothing.
  expect(
    await lifecycle.applyToSubscriber({ subscriber, facts: [], at: minute(9) }, minute(10), {
      ...seats(99),
      fetchedAt: minute(9),
    }),
  ).toBe('unchanged');
});
