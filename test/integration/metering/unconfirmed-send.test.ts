/**
 * Found by the chaos suite. Final records billed, their answer lost: a subscriber ends, final metering sends its last
 * records and Marketplace bills them, but every answer is lost (a dropped connection, the function killed), until the
 * final-metering deadline has passed. Marketplace takes nothing from then on, so the run cannot learn the first answer
 * any more: it settles the bucket `expired`, marks it `unconfirmedSend` (for the report and its alarm) and says so at
 * error level, so that an operator settles it from CloudTrail. A zero-usage record so lost expires quietly: it bills
 * nothing either way.
 */
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import type { MeteringLogger } from '../../../lambdas/core/metering/run/metering-run.ts';
import { usageReport } from '../../../lambdas/core/metering/report/usage-report.ts';
import { startAnswerLosingProxy } from '../../support/answer-losing-proxy.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import {
  addUsage,
  bucketsOf,
  cancelSubscription,
  hoursBefore,
  subscribeBuyer,
} from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();

/**
 * A buyer of a `model` product with `quantity` units in the hour before `SIMULATOR_NOW` cancels; final metering sends
 * the record and Marketplace bills it, but every answer is lost; the next run comes after the deadline, at `later`.
 */
async function finalSendAnswersLost(model: 'license' | 'legacy', quantity: number) {
  const now = SIMULATOR_NOW;
  const tables = await freshTables(dynamoDb);
  const client = documentClient(dynamoDb.endpoint);
  const { code } = await sim.control.createProduct(meteredProduct({ identityModel: model }));
  const setup = { control: sim.control, client, subscribersTable: tables.subscribers };
  const buyer = await subscribeBuyer(setup, code, now);
  await addUsage(client, tables.usage, {
    subscriberId: buyer.subscriberId,
    hour: hoursBefore(now, 1),
    dimension: 'users',
    quantity,
  });
  // The buyer cancels: Marketplace takes final records for an hour.
  await cancelSubscription(setup, buyer, now);
  const errors: { message: string; details: Record<string, unknown> }[] = [];
  const logger: MeteringLogger = {
    info: () => {},
    warn: () => {},
    error: (message, details) => errors.push({ message, details }),
  };
  const metering = meteringHarness(tables, sim.url, {
    products: [{ code, meteredDimensions: ['users', 'gb'] }],
    logger,
  });

  // Final metering: Marketplace bills the record every time, and every answer is lost.
  await sim.control.setFaults({ rules: [{ kind: 'drop-connection', when: 'after-processing' }] });
  expect(await metering.run({ now, scope: 'ending' })).toMatchObject({ billed: 0, pending: 1 });
  await sim.control.clearFaults();
  // The next run comes after the deadline.
  const later = minutesFrom(now, 65);
  await sim.control.setClock(later, false);
  return { now, later, tables, client, buyer, errors, metering };
}

describe('an expiry after an unconfirmed send', () => {
  test.each(['license', 'legacy'] as const)(
    '%s: a bucket billed by final metering whose answers were all lost is marked, logged and reported',
    async (model) => {
      const { now, later, tables, client, buyer, errors, metering } = await finalSendAnswersLost(model, 7);
      expect(await metering.run({ now: later })).toMatchObject({
        expired: 1,
        unconfirmedSends: 1,
        finalDeadlineMissed: { records: 1, units: 7 },
      });

      const billed = await sim.control.billed({ licenseId: buyer.license.id });
      expect(billed.records.map((record) => record.quantity)).toEqual([7]);
      const [bucket] = await bucketsOf(client, tables.usage, buyer.subscriberId);
      expect(bucket).toMatchObject({ state: 'expired', reason: 'final-window-passed', unconfirmedSend: true });
      expect(errors.map((error) => error.message)).toContain('Usage bucket expired after an unconfirmed send');
      const report = await usageReport(client, tables.usage, { from: now, to: now });
      expect(report.totals).toMatchObject({ expired: 7, unconfirmed: 7 });
      expect(report.unconfirmedSends).toEqual([
        expect.objectContaining({
          subscriberId: buyer.subscriberId,
          dimension: 'users',
          quantity: 7,
          outcome: 'expired',
          frozenAt: now.toISOString(),
        }),
      ]);
    },
  );

  test.each([
    ['once: the SDK resends it and finds the bucket expired by that very call', 1],
    ['at every SDK attempt: the ledger reads the bucket back and finds its own write there', 10],
  ])("the expiry's own answer lost %s, which counts it", async (_, lostAnswers) => {
    const { later, tables, buyer, errors, metering } = await finalSendAnswersLost('license', 7);
    const proxy = await startAnswerLosingProxy(tables.endpoint);
    try {
      proxy.loseAnswers('UpdateItem', lostAnswers, '"expired"');
      const throughProxy = meteringHarness(tables, sim.url, {
        ...metering.dependencies,
        client: documentClient(proxy.url),
      });
      expect(await throughProxy.run({ now: later })).toMatchObject({
        expired: 1,
        settledElsewhere: 0,
        unconfirmedSends: 1,
        finalDeadlineMissed: { records: 1, units: 7 },
      });
      expect(errors.map((error) => error.message)).toEqual([
        'Usage bucket expired after an unconfirmed send',
        'Final metering missed its deadline: usage expired, unbilled unless its unconfirmed send was billed',
      ]);
      const [bucket] = await bucketsOf(documentClient(tables.endpoint), tables.usage, buyer.subscriberId);
      expect(bucket).toMatchObject({ state: 'expired', unconfirmedSend: true });
    } finally {
      await proxy.close();
    }
  });

  test('a zero-usage record whose answers were all lost expires quietly: it bills nothing either way', async () => {
    const { now, later, tables, client, errors, metering } = await finalSendAnswersLost('license', 0);
    expect(await metering.run({ now: later })).toMatchObject({ expired: 1, unconfirmedSends: 0 });

    expect(errors.map((error) => error.message)).not.toContain('Usage bucket expired after an unconfirmed send');
    const report = await usageReport(client, tables.usage, { from: now, to: now });
    expect(report.totals).toMatchObject({ recorded: 0, expired: 0, unconfirmed: 0 });
    expect(report.unconfirmedSends).toEqual([]);
  });
});
