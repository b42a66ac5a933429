/**
 * Found by the chaos suite. Final records billed, their answer lost, the resend refused: a subscriber ends, the final
 * flush sends its last records and Marketplace bills them, but the answer is lost (a dropped connection, the function
 * killed); the next run comes after Marketplace's final-metering hour, sends the identical record again and is
 * answered `CustomerNotSubscribed` (a license record past the license's end: `InvalidLicenseException`). The run
 * cannot learn the first answer any more: it settles the bucket `rejected` and says, at error level, that an earlier
 * send went unanswered, so that an operator settles it from CloudTrail, as it does for an expiry after such a send.
 */
import { describe, expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { LifecycleRepository } from '../../../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { MeteringLogger } from '../../../lambdas/core/metering/metering-run.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, bucketsOf, hoursBefore, subscribeBuyer } from '../../support/metering-fixtures.ts';
import { freshTables, meteringHarness } from '../../support/metering-run.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();

describe('a rejection after an unconfirmed send', () => {
  test.each(['license', 'legacy'] as const)(
    '%s: a bucket billed by a final flush whose answer was lost is not settled as a plain rejection',
    async (model) => {
      const now = SIMULATOR_NOW;
      const tables = await freshTables(dynamoDb);
      const client = documentClient(dynamoDb.endpoint);
      const { code } = await sim.control.createProduct(meteredProduct({ identityModel: model }));
      const buyer = await subscribeBuyer(
        { control: sim.control, client, subscribersTable: tables.subscribers },
        code,
        now,
      );
      await addUsage(client, tables.usage, {
        subscriberId: buyer.subscriberId,
        hour: hoursBefore(now, 1),
        dimension: 'users',
        quantity: 7,
      });
      // The buyer cancels: Marketplace takes final records for an hour.
      await sim.control.end(buyer.license.id);
      const { license } = buyer;
      await new LifecycleRepository(client, tables.subscribers, 3600).applyToSubscriber(
        {
          subscriber:
            model === 'license'
              ? {
                  model,
                  productCode: code,
                  licenseArn: license.licenseArn!,
                  customerAWSAccountId: license.customerAWSAccountId,
                }
              : { model, productCode: code, customerIdentifier: license.customerIdentifier! },
          facts: ['endRequestedAt'],
          at: now,
        },
        now,
      );
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

      // The final flush: Marketplace bills the record every time, and every answer is lost.
      await sim.control.setFaults({ rules: [{ kind: 'drop-connection', when: 'after-processing' }] });
      expect(await metering.run({ now, subscriberId: buyer.subscriberId })).toMatchObject({ billed: 0, pending: 1 });
      await sim.control.clearFaults();
      // The next hourly run, past the final-metering hour.
      const later = minutesFrom(now, 65);
      await sim.control.setClock(later, false);
      await metering.run({ now: later });

      const billed = await sim.control.billed({ licenseId: license.id });
      expect(billed.records.map((record) => record.quantity)).toEqual([7]);
      const [bucket] = await bucketsOf(client, tables.usage, buyer.subscriberId);
      const flagged = errors.some((error) => JSON.stringify(error.details).includes(String(bucket!.sk)));
      // Billed, as Marketplace has it; or at least not a rejection nobody is told may have been billed.
      expect(
        bucket!.state === 'billed' || flagged,
        `bucket ${JSON.stringify(bucket)}, errors ${JSON.stringify(errors)}`,
      ).toBe(true);
    },
  );
});
