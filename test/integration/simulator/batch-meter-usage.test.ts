/**
 * `BatchMeterUsage`, rule by rule, through the real SDK client. Each test fails if the rule it names is removed; the
 * last test checks that every batch rule the simulator declares has a test here.
 */
import {
  BatchMeterUsageCommand,
  type BatchMeterUsageCommandOutput,
  type UsageRecord,
} from '@aws-sdk/client-marketplace-metering';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { LicenseView, ProductInput } from '../../../simulator/control-client.ts';
import { batchRules } from '../../../simulator/operations/batch-meter-usage.ts';
import { rejectionOf } from '../../support/errors.ts';
import { meteredProduct, meteringClient, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

/** Buyers subscribe at this time, early enough that the hours tests meter are inside their licenses. */
const SUBSCRIBED_AT = minutesFrom(SIMULATOR_NOW, -20 * 60);

async function subscribedLicense(product: Partial<ProductInput> = {}, license: { activate?: boolean } = {}) {
  const created = await sim.control.createProduct(meteredProduct(product));
  return await licenseOf(created.code, license);
}

async function licenseOf(productCode: string, license: { activate?: boolean; offerType?: 'free-trial' } = {}) {
  await sim.control.setClock(SUBSCRIBED_AT, false);
  const created = await sim.control.createLicense({ productCode, ...license });
  await sim.control.setClock(SIMULATOR_NOW, false);
  return created.license;
}

function licenseRecord(license: LicenseView, overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    Timestamp: minutesFrom(SIMULATOR_NOW, -60),
    Dimension: 'users',
    Quantity: 5,
    CustomerAWSAccountId: license.customerAWSAccountId,
    LicenseArn: license.licenseArn,
    ...overrides,
  };
}

function legacyRecord(license: LicenseView, overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    Timestamp: minutesFrom(SIMULATOR_NOW, -60),
    Dimension: 'users',
    Quantity: 5,
    CustomerIdentifier: license.customerIdentifier,
    ...overrides,
  };
}

function send(records: UsageRecord[], productCode?: string): Promise<BatchMeterUsageCommandOutput> {
  return sim.metering.send(new BatchMeterUsageCommand({ UsageRecords: records, ProductCode: productCode }));
}

describe('model constraints (ValidationException naming the member and the constraint)', () => {
  test('at most 25 records per request', async () => {
    const license = await subscribedLicense();
    const records = Array.from({ length: 26 }, (_, hour) =>
      licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, -60 * (hour % 20) - 30), Quantity: hour }),
    );
    const error = await rejectionOf(send(records));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("at 'usageRecords' failed to satisfy constraint");
    expect(error.message).toContain('less than or equal to 25');
    await expect(send(records.slice(0, 25))).resolves.toBeDefined();
  });

  test('quantity is a non-negative 32-bit integer', async () => {
    const license = await subscribedLicense();
    const error = await rejectionOf(send([licenseRecord(license, { Quantity: 2_147_483_648 })]));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("Value '2147483648' at 'usageRecords.1.member.quantity'");
    expect(error.message).toContain('less than or equal to 2147483647');
  });

  test('required members must be present', async () => {
    const license = await subscribedLicense();
    const withoutDimension = { ...licenseRecord(license), Dimension: undefined } as unknown as UsageRecord;
    const error = await rejectionOf(send([withoutDimension]));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe(
      "1 validation error detected: Value null at 'usageRecords.1.member.dimension' failed to satisfy constraint: Member must not be null",
    );
  });

  test('LicenseArn must match the model pattern', async () => {
    const license = await subscribedLicense();
    const error = await rejectionOf(send([licenseRecord(license, { LicenseArn: 'license-123' })]));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("at 'usageRecords.1.member.licenseArn'");
    expect(error.message).toContain('regular expression pattern');
  });

  test('a request over 1 MB is refused with 413', async () => {
    const license = await subscribedLicense();
    const allocations = Array.from({ length: 2000 }, (_, index) => ({
      AllocatedUsageQuantity: index === 0 ? 5 : 0,
      Tags: [{ Key: 'tenant', Value: `${index}-${'x'.repeat(200)}` }],
    }));
    const records = Array.from({ length: 3 }, (_, hour) =>
      licenseRecord(license, {
        Timestamp: minutesFrom(SIMULATOR_NOW, -60 * (hour + 1)),
        UsageAllocations: allocations,
      }),
    );
    const error = await rejectionOf(send(records));
    expect(error.$metadata.httpStatusCode).toBe(413);
    expect(error.name).toBe('RequestEntityTooLargeException');
    expect((await sim.control.billed()).records).toHaveLength(0);
  });
});

describe('batch rules (a violation rejects the whole batch)', () => {
  test('rule customer-identifier-present: a record names its customer', async () => {
    const license = await subscribedLicense();
    const error = await rejectionOf(send([licenseRecord(license, { CustomerAWSAccountId: undefined })]));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('Usage record 1: one of CustomerIdentifier and CustomerAWSAccountId is required');
  });

  test('rule customer-identifiers-exclusive: CustomerIdentifier and CustomerAWSAccountId are not both sent', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const license = await licenseOf(product.code);
    const both = legacyRecord(license, { CustomerAWSAccountId: license.customerAWSAccountId });
    expect((await rejectionOf(send([both], product.code))).name).toBe('ValidationException');

    await sim.control.updateSettings({ bothCustomerIdentifiersError: 'InvalidCustomerIdentifierException' });
    expect((await rejectionOf(send([both], product.code))).name).toBe('InvalidCustomerIdentifierException');
  });

  test('rule identity-model: license records carry LicenseArn and no ProductCode; legacy records no LicenseArn', async () => {
    const license = await subscribedLicense();
    const noArn = await rejectionOf(send([licenseRecord(license, { LicenseArn: undefined })]));
    expect(noArn.name).toBe('ValidationException');
    expect(noArn.message).toContain('LicenseArn is required when the request has no ProductCode');

    // By default such a record is billed twice, as AWS bills it (double-billing.test.ts); strictly, it is refused.
    await sim.control.updateSettings({ doubleBilling: 'refuse' });
    const mixed = await rejectionOf(send([licenseRecord(license)], license.productCode));
    expect(mixed.name).toBe('ValidationException');
    expect(mixed.message).toContain('billed twice');
  });

  test('rule known-product-code: InvalidProductCodeException for a product the seller does not have', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const license = await licenseOf(product.code);
    const error = await rejectionOf(send([legacyRecord(license)], 'not-a-product'));
    expect(error.name).toBe('InvalidProductCodeException');
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  test('rule one-product-per-request: license records of two products are not mixed in one request', async () => {
    const first = await subscribedLicense();
    const second = await subscribedLicense();
    const error = await rejectionOf(send([licenseRecord(first), licenseRecord(second)]));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain('one product only');

    await sim.control.updateSettings({ rejectSeveralProductsPerRequest: false });
    const mixed = await send([licenseRecord(first), licenseRecord(second)]);
    expect(mixed.Results?.map((result) => result.Status)).toEqual(['Success', 'Success']);
  });

  test('rule known-dimension: one unknown dimension rejects every record of the batch', async () => {
    const license = await subscribedLicense({
      pricingModel: 'contracts-with-consumption',
      dimensions: [
        { name: 'users', kind: 'metered' },
        { name: 'seats', kind: 'contract' },
      ],
    });
    const good = licenseRecord(license);
    const unknown = await rejectionOf(send([good, licenseRecord(license, { Dimension: 'nope' })]));
    expect(unknown.name).toBe('InvalidUsageDimensionException');
    expect(unknown.message).toContain('Usage record 2');
    const contract = await rejectionOf(send([good, licenseRecord(license, { Dimension: 'seats' })]));
    expect(contract.name).toBe('InvalidUsageDimensionException');
    expect((await sim.control.billed()).records).toHaveLength(0);
  });

  test('rule valid-tags: at most 5 tags per allocation, each key and value well formed and keys unique', async () => {
    const license = await subscribedLicense();
    const tagged = (tags: { Key: string; Value: string }[]) =>
      licenseRecord(license, { Quantity: 1, UsageAllocations: [{ AllocatedUsageQuantity: 1, Tags: tags }] });
    const sixTags = Array.from({ length: 6 }, (_, index) => ({ Key: `k${index}`, Value: 'v' }));
    for (const tags of [
      sixTags,
      [{ Key: 'bad{key}', Value: 'v' }],
      [{ Key: 'k', Value: '' }],
      [{ Key: 'k'.repeat(101), Value: 'v' }],
      [
        { Key: 'k', Value: 'a' },
        { Key: 'k', Value: 'b' },
      ],
    ]) {
      expect((await rejectionOf(send([tagged(tags)]))).name).toBe('InvalidTagException');
    }
    // The model's character class runs from space to `=`, so punctuation such as `#` and `,` is allowed.
    const accepted = await send([tagged([{ Key: 'team #1, ops', Value: 'a/b@c:d=e' }])]);
    expect(accepted.Results?.[0]?.Status).toBe('Success');
  });

  test('rule valid-allocations: allocations sum to the quantity, with distinct tag sets, within the limit', async () => {
    const license = await subscribedLicense();
    const allocated = (quantity: number, allocations: UsageRecord['UsageAllocations']) =>
      licenseRecord(license, { Quantity: quantity, UsageAllocations: allocations });
    const tag = (value: string) => [{ Key: 'team', Value: value }];

    const wrongSum = await rejectionOf(
      send([allocated(5, [{ AllocatedUsageQuantity: 3, Tags: tag('a') }, { AllocatedUsageQuantity: 1 }])]),
    );
    expect(wrongSum.name).toBe('InvalidUsageAllocationsException');
    expect(wrongSum.message).toContain('sum to 4');

    const sameTags = await rejectionOf(
      send([
        allocated(5, [
          { AllocatedUsageQuantity: 3, Tags: tag('a') },
          { AllocatedUsageQuantity: 2, Tags: tag('a') },
        ]),
      ]),
    );
    expect(sameTags.name).toBe('InvalidUsageAllocationsException');

    await sim.control.updateSettings({ maxAllocationsPerRecord: 2 });
    const three = [tag('a'), tag('b'), tag('c')].map((tags) => ({ AllocatedUsageQuantity: 1, Tags: tags }));
    expect((await rejectionOf(send([allocated(3, three)]))).name).toBe('InvalidUsageAllocationsException');
    const two = three.slice(0, 2);
    expect((await send([allocated(2, two)])).Results?.[0]?.Status).toBe('Success');
  });

  test('rule timestamp-window: records up to 24 h old (a setting), and not in the future', async () => {
    const license = await subscribedLicense();
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 26 * 60), false);
    const now = minutesFrom(SIMULATOR_NOW, 26 * 60);
    const at = (minutesAgo: number) => licenseRecord(license, { Timestamp: minutesFrom(now, -minutesAgo) });

    const tooOld = await rejectionOf(send([at(60), at(24 * 60 + 1)]));
    expect(tooOld.name).toBe('TimestampOutOfBoundsException');
    expect((await sim.control.billed()).records).toHaveLength(0);
    expect((await send([at(24 * 60 - 1)])).Results?.[0]?.Status).toBe('Success');

    expect((await rejectionOf(send([at(-10)]))).name).toBe('TimestampOutOfBoundsException');
    expect((await send([at(-4)])).Results?.[0]?.Status).toBe('Success');

    await sim.control.updateSettings({ timestampWindowHours: 6 });
    expect((await rejectionOf(send([at(7 * 60)]))).name).toBe('TimestampOutOfBoundsException');
  });

  test('rule timestamp-window: last month closes at 06:00 UTC on the 1st, even inside 24 h', async () => {
    const license = await subscribedLicense();
    const lastMonth = licenseRecord(license, { Timestamp: new Date('2026-11-30T23:00:00Z') });

    await sim.control.setClock(new Date('2026-12-01T05:59:00Z'), false);
    expect((await send([lastMonth])).Results?.[0]?.Status).toBe('Success');

    await sim.control.setClock(new Date('2026-12-01T06:00:00Z'), false);
    const late = licenseRecord(license, { Timestamp: new Date('2026-11-30T23:00:00Z'), Dimension: 'gb' });
    const error = await rejectionOf(send([late]));
    expect(error.name).toBe('TimestampOutOfBoundsException');
    expect(error.message).toContain('previous month');
  });

  test('rule license-belongs-to-customer: InvalidLicenseException for an unknown license or another account', async () => {
    const license = await subscribedLicense();
    const unknown = `${license.licenseArn!.slice(0, -4)}0000`;
    expect((await rejectionOf(send([licenseRecord(license, { LicenseArn: unknown })]))).name).toBe(
      'InvalidLicenseException',
    );
    const otherAccount = await rejectionOf(send([licenseRecord(license, { CustomerAWSAccountId: '123456789012' })]));
    expect(otherAccount.name).toBe('InvalidLicenseException');
    expect(otherAccount.message).toContain('does not belong to account 123456789012');
  });

  test('rule license-active-period: InvalidLicenseException for usage before the start hour or after the end', async () => {
    const license = await subscribedLicense();
    const beforeStart = await rejectionOf(
      send([licenseRecord(license, { Timestamp: minutesFrom(SUBSCRIBED_AT, -31) })]),
    );
    expect(beforeStart.name).toBe('InvalidLicenseException');
    // The bound it names is the one enforced, the start of the activation's hour, not the activation itself.
    const startOfHour = new Date(Math.floor(SUBSCRIBED_AT.getTime() / 3_600_000) * 3_600_000).toISOString();
    expect(beforeStart.message).toContain(`before license ${license.id} started (usage is taken from ${startOfHour})`);
    // Usage earlier in the hour the license started in is inside the period.
    const startHour = await send([licenseRecord(license, { Timestamp: minutesFrom(SUBSCRIBED_AT, -29) })]);
    expect(startHour.Results?.[0]?.Status).toBe('Success');

    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 120), false);
    await sim.control.end(license.id);
    const afterEnd = await rejectionOf(send([licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, 121) })]));
    expect(afterEnd.name).toBe('InvalidLicenseException');
    expect(afterEnd.message).toContain('after license');
  });

  test('rule known-legacy-customer: per record by default, the whole batch when so set', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const license = await licenseOf(product.code);
    const stranger = legacyRecord(license, { CustomerIdentifier: 'NOBODY00000' });
    const perRecord = await send([legacyRecord(license), stranger], product.code);
    expect(perRecord.Results?.map((result) => result.Status)).toEqual(['Success', 'CustomerNotSubscribed']);

    await sim.control.updateSettings({ unknownLegacyCustomer: 'InvalidCustomerIdentifierException' });
    const other = legacyRecord(license, { CustomerIdentifier: 'NOBODY00000', Dimension: 'gb' });
    expect((await rejectionOf(send([legacyRecord(license, { Dimension: 'gb' }), other], product.code))).name).toBe(
      'InvalidCustomerIdentifierException',
    );
  });
});

describe('per-record statuses', () => {
  test('CustomerNotSubscribed before the license is live, and after subscribe-fail', async () => {
    const pending = await subscribedLicense({}, { activate: false });
    const early = await send([licenseRecord(pending)]);
    expect(early.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
    expect(early.Results?.[0]?.MeteringRecordId).toBeUndefined();

    await sim.control.fail(pending.id);
    expect((await send([licenseRecord(pending)])).Results?.[0]?.Status).toBe('CustomerNotSubscribed');
    expect((await sim.control.billed()).records).toHaveLength(0);
  });

  test('the final-metering grace: accepted for an hour after the license ends, then CustomerNotSubscribed', async () => {
    const license = await subscribedLicense();
    const usage = licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, 10) });
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 20), false);
    await sim.control.end(license.id);

    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 79), false);
    expect((await send([usage])).Results?.[0]?.Status).toBe('Success');

    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 80), false);
    const late = await send([{ ...usage, Dimension: 'gb' }]);
    expect(late.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
  });

  test('legacy usage outside the active period is CustomerNotSubscribed (legacy records have no license to reject)', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const license = await licenseOf(product.code);
    const before = await send([legacyRecord(license, { Timestamp: minutesFrom(SUBSCRIBED_AT, -90) })], product.code);
    expect(before.Results?.[0]?.Status).toBe('CustomerNotSubscribed');
  });

  test('DuplicateRecord for the same customer, dimension and hour with another quantity; the first stays billed', async () => {
    const license = await subscribedLicense();
    const first = await send([licenseRecord(license, { Quantity: 5 })]);
    const second = await send([licenseRecord(license, { Quantity: 7, Timestamp: minutesFrom(SIMULATOR_NOW, -40) })]);
    expect(first.Results?.[0]?.Status).toBe('Success');
    expect(second.Results?.[0]?.Status).toBe('DuplicateRecord');
    const { records, totalQuantity } = await sim.control.billed({ licenseId: license.id });
    expect(records).toHaveLength(1);
    expect(totalQuantity).toBe(5);
  });

  test('the dedup key is the hour: another hour, another dimension or another license is a new record', async () => {
    const license = await subscribedLicense();
    const other = await licenseOf(license.productCode);
    const results = await send([
      // 10:59 and 11:01: two minutes apart, but in two hours.
      licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, -91) }),
      licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, -89), Quantity: 6 }),
      licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, -91), Dimension: 'gb', Quantity: 6 }),
      licenseRecord(other, { Timestamp: minutesFrom(SIMULATOR_NOW, -91), Quantity: 6 }),
    ]);
    expect(results.Results?.map((result) => result.Status)).toEqual(['Success', 'Success', 'Success', 'Success']);
    expect((await sim.control.billed()).totalQuantity).toBe(23);
  });

  test('an identical resend is Success with the same MeteringRecordId and bills nothing more', async () => {
    const license = await subscribedLicense();
    const tagged = licenseRecord(license, {
      Quantity: 3,
      UsageAllocations: [
        { AllocatedUsageQuantity: 1, Tags: [{ Key: 'a', Value: '1' }] },
        { AllocatedUsageQuantity: 2, Tags: [{ Key: 'a', Value: '2' }] },
      ],
    });
    const first = await send([tagged]);
    const reordered = { ...tagged, UsageAllocations: [...tagged.UsageAllocations!].reverse() };
    const again = await send([reordered]);
    expect(again.Results?.[0]?.Status).toBe('Success');
    expect(again.Results?.[0]?.MeteringRecordId).toBe(first.Results?.[0]?.MeteringRecordId);
    expect((await sim.control.billed()).records).toHaveLength(1);
    expect((await sim.control.results()).results.map((result) => result.status)).toEqual(['Success', 'Success']);
  });

  test('no allocations and one untagged allocation of the whole quantity are the same record', async () => {
    const license = await subscribedLicense();
    const first = await send([licenseRecord(license, { Quantity: 4 })]);
    const again = await send([
      licenseRecord(license, { Quantity: 4, UsageAllocations: [{ AllocatedUsageQuantity: 4 }] }),
    ]);
    expect(again.Results?.[0]?.Status).toBe('Success');
    expect(again.Results?.[0]?.MeteringRecordId).toBe(first.Results?.[0]?.MeteringRecordId);
    const split = await send([
      licenseRecord(license, {
        Quantity: 4,
        UsageAllocations: [
          { AllocatedUsageQuantity: 3 },
          { AllocatedUsageQuantity: 1, Tags: [{ Key: 't', Value: '1' }] },
        ],
      }),
    ]);
    expect(split.Results?.[0]?.Status).toBe('DuplicateRecord');
  });

  test('a legacy buyer who subscribes again is billed on the new, live license', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const ended = await licenseOf(product.code);
    await sim.control.setClock(minutesFrom(SUBSCRIBED_AT, 60), false);
    await sim.control.end(ended.id);
    await sim.control.setClock(minutesFrom(SUBSCRIBED_AT, 180), false);
    const { license: renewed } = await sim.control.createLicense({
      productCode: product.code,
      customerAWSAccountId: ended.customerAWSAccountId,
    });
    await sim.control.setClock(SIMULATOR_NOW, false);
    expect(renewed.customerIdentifier).toBe(ended.customerIdentifier);

    const byIdentifier = legacyRecord(ended, { Dimension: 'users' });
    const byAccount = legacyRecord(ended, {
      Dimension: 'gb',
      CustomerIdentifier: undefined,
      CustomerAWSAccountId: ended.customerAWSAccountId,
    });
    const output = await send([byIdentifier, byAccount], product.code);
    expect(output.Results?.map((result) => result.Status)).toEqual(['Success', 'Success']);
    expect((await sim.control.billed({ licenseId: renewed.id })).records).toHaveLength(2);
  });

  test('a legacy buyer who subscribes again stays one customer: its hour billed before the end is a DuplicateRecord after', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const ended = await licenseOf(product.code);
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -50), false);
    await sim.control.end(ended.id);
    await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -40), false);
    const { license: renewed } = await sim.control.createLicense({
      productCode: product.code,
      customerAWSAccountId: ended.customerAWSAccountId,
    });
    await sim.control.setClock(SIMULATOR_NOW, false);

    const beforeTheEnd = await send(
      [legacyRecord(ended, { Timestamp: minutesFrom(SIMULATOR_NOW, -70) })],
      product.code,
    );
    const afterTheReturn = await send(
      [legacyRecord(renewed, { Timestamp: minutesFrom(SIMULATOR_NOW, -35), Quantity: 7 })],
      product.code,
    );
    expect(beforeTheEnd.Results?.[0]?.Status).toBe('Success');
    expect(afterTheReturn.Results?.[0]?.Status).toBe('DuplicateRecord');
    const { records, totalQuantity } = await sim.control.billed({ customerIdentifier: ended.customerIdentifier });
    expect(records).toHaveLength(1);
    expect(totalQuantity).toBe(5);
  });

  test("a legacy record stamped at the very instant a live license ended is that license's", async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const first = await licenseOf(product.code);
    await sim.control.setClock(minutesFrom(SUBSCRIBED_AT, 5), false);
    await sim.control.end(first.id);
    const resubscribedAt = minutesFrom(SUBSCRIBED_AT, 10);
    await sim.control.setClock(resubscribedAt, false);
    const { license: second } = await sim.control.createLicense({
      productCode: product.code,
      customerAWSAccountId: first.customerAWSAccountId,
    });
    const endedAt = new Date(resubscribedAt.getTime() + 1000);
    await sim.control.setClock(endedAt, false);
    await sim.control.end(second.id);
    await sim.control.setClock(minutesFrom(SUBSCRIBED_AT, 50), false);

    const output = await send([legacyRecord(first, { Timestamp: endedAt })], product.code);
    expect(output.Results?.[0]?.Status).toBe('Success');
    expect((await sim.control.billed({ licenseId: second.id })).records).toHaveLength(1);
  });

  test('identical resends answer DuplicateRecord when so set', async () => {
    await sim.control.updateSettings({ identicalResendStatus: 'DuplicateRecord' });
    const license = await subscribedLicense();
    await send([licenseRecord(license)]);
    expect((await send([licenseRecord(license)])).Results?.[0]?.Status).toBe('DuplicateRecord');
  });

  test('legacy records name the customer by CustomerIdentifier or account id, deduplicated together', async () => {
    const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
    const license = await licenseOf(product.code);
    const byIdentifier = await send([legacyRecord(license)], product.code);
    const byAccount = legacyRecord(license, {
      CustomerIdentifier: undefined,
      CustomerAWSAccountId: license.customerAWSAccountId,
    });
    const again = await send([{ ...byAccount, Quantity: 9 }], product.code);
    expect(byIdentifier.Results?.[0]?.Status).toBe('Success');
    expect(again.Results?.[0]?.Status).toBe('DuplicateRecord');
    const billed = (await sim.control.billed({ customerIdentifier: license.customerIdentifier })).records;
    expect(billed.map((record) => record.quantity)).toEqual([5]);
  });

  test('results echo each record, and fractional-second timestamps are accepted', async () => {
    const license = await subscribedLicense();
    const timestamp = new Date('2026-11-18T12:10:00.250Z');
    const output = await send([licenseRecord(license, { Timestamp: timestamp })]);
    expect(output.Results?.[0]?.UsageRecord).toEqual(expect.objectContaining({ Timestamp: timestamp, Quantity: 5 }));
    const [billed] = (await sim.control.billed()).records;
    expect(billed?.timestamp).toBe('2026-11-18T12:10:00.250Z');
    expect(billed?.hour).toBe('2026-11-18T12:00:00.000Z');
    expect(output.$metadata.requestId).toBe(billed?.requestId);
  });

  test('free-trial usage is billed and flagged as such', async () => {
    const product = await sim.control.createProduct(meteredProduct());
    const license = await licenseOf(product.code, { offerType: 'free-trial' });
    await send([licenseRecord(license, { Timestamp: minutesFrom(SIMULATOR_NOW, -10) })]);
    expect((await sim.control.billed()).records[0]?.freeTrial).toBe(true);
  });
});

test('DisabledApiException outside the enabled regions (us-east-1 by default)', async () => {
  const license = await subscribedLicense();
  const europe = meteringClient(sim.url, { region: 'eu-west-1' });
  const command = new BatchMeterUsageCommand({ UsageRecords: [licenseRecord(license)] });
  expect((await rejectionOf(europe.send(command))).name).toBe('DisabledApiException');
  await sim.control.updateSettings({ enabledRegions: ['us-east-1', 'eu-west-1'] });
  expect((await europe.send(command)).Results?.[0]?.Status).toBe('Success');
  europe.destroy();
});

test('every batch rule the simulator declares has a test in this file', () => {
  const source = readFileSync(import.meta.filename, 'utf8');
  const untested = batchRules.map((rule) => rule.id).filter((id) => !source.includes(`test('rule ${id}:`));
  expect(untested).toEqual([]);
});
