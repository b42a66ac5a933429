/**
 * A `BatchMeterUsage` record sent with `ProductCode` whose record carries `LicenseArn`: AWS accepts it and bills the
 * customer-hour twice (once per identity). The simulator does the same by default and says so in its log, in
 * `/control/warnings`, in `/control/stats` and on the billed records; the `doubleBilling: 'refuse'` setting keeps the
 * strict refusal. All through the real SDK client.
 */
import { BatchMeterUsageCommand, type UsageRecord } from '@aws-sdk/client-marketplace-metering';
import { afterEach, expect, test, vi } from 'vitest';
import { SimulatorControl, type LicenseView } from '../../../simulator/control-client.ts';
import { startSimulator } from '../../../simulator/server.ts';
import { rejectionOf } from '../../support/errors.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

/** The warning lines the simulator writes to its log (still written: the spy only listens). */
const warnSpy = vi.spyOn(console, 'warn');
const warned = () => warnSpy.mock.calls.map((parts) => parts.map(String).join(' '));
afterEach(() => warnSpy.mockClear());

async function licensed(): Promise<LicenseView> {
  const product = await sim.control.createProduct(meteredProduct());
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -20 * 60), false);
  const { license } = await sim.control.createLicense({ productCode: product.code });
  await sim.control.setClock(SIMULATOR_NOW, false);
  return license;
}

function record(license: LicenseView, quantity = 5): UsageRecord {
  return {
    Timestamp: minutesFrom(SIMULATOR_NOW, -60),
    Dimension: 'users',
    Quantity: quantity,
    CustomerAWSAccountId: license.customerAWSAccountId,
    LicenseArn: license.licenseArn,
  };
}

function send(records: UsageRecord[], productCode?: string) {
  return sim.metering.send(new BatchMeterUsageCommand({ UsageRecords: records, ProductCode: productCode }));
}

test('by default a record with ProductCode and LicenseArn is accepted and billed twice, and flagged loudly', async () => {
  const license = await licensed();
  const output = await send([record(license)], license.productCode);
  const [result] = output.Results ?? [];
  expect(result?.Status).toBe('Success');

  const { records, totalQuantity } = await sim.control.billed({ licenseId: license.id });
  expect(records).toHaveLength(2);
  expect(totalQuantity).toBe(10);
  expect(records.every((billed) => billed.doubleBilled && billed.quantity === 5)).toBe(true);
  expect(records.map((billed) => billed.meteringRecordId)).toContain(result?.MeteringRecordId);

  const { warnings } = await sim.control.warnings();
  expect(warnings).toEqual([
    expect.objectContaining({
      kind: 'double-billing',
      requestId: output.$metadata.requestId,
      recordPosition: 1,
      licenseId: license.id,
      licenseArn: license.licenseArn,
      productCode: license.productCode,
      dimension: 'users',
      hour: '2026-11-18T11:00:00.000Z',
      meteringRecordIds: [result?.MeteringRecordId, expect.any(String)],
    }),
  ]);
  expect((await sim.control.stats()).doubleBilled).toBe(1);
  expect(warned()).toEqual([expect.stringContaining('simulator: WARNING double billing')]);
  expect(warned()[0]).toContain(license.licenseArn);
  expect(warned()[0]).toContain(`usage record 1 of request ${output.$metadata.requestId}`);
});

test('an identical resend is answered as before and bills nothing more', async () => {
  const license = await licensed();
  const first = await send([record(license)], license.productCode);
  const again = await send([record(license)], license.productCode);
  expect(again.Results?.[0]).toEqual(first.Results?.[0]);
  expect((await sim.control.billed({ licenseId: license.id })).totalQuantity).toBe(10);
  expect((await sim.control.warnings()).warnings).toHaveLength(1);
  expect(warned()).toHaveLength(1);
});

test('an hour metered by LicenseArn alone, then again with ProductCode, is billed a second time', async () => {
  const license = await licensed();
  await send([record(license)]);
  expect((await sim.control.billed({ licenseId: license.id })).records.map((billed) => billed.doubleBilled)).toEqual([
    false,
  ]);

  await send([record(license)], license.productCode);
  const { records } = await sim.control.billed({ licenseId: license.id });
  expect(records.map((billed) => billed.doubleBilled)).toEqual([true, true]);
  expect((await sim.control.stats()).doubleBilled).toBe(1);
});

test('records without LicenseArn in a license request are billed once and raise no warning', async () => {
  const license = await licensed();
  await send([record(license)]);
  expect((await sim.control.billed()).totalQuantity).toBe(5);
  expect((await sim.control.warnings()).warnings).toEqual([]);
  expect((await sim.control.stats()).doubleBilled).toBe(0);
  expect(warned()).toEqual([]);
});

test('a LicenseArn of another product than the ProductCode is an InvalidLicenseException', async () => {
  const license = await licensed();
  const other = await sim.control.createProduct(meteredProduct());
  const error = await rejectionOf(send([record(license)], other.code));
  expect(error.name).toBe('InvalidLicenseException');
  expect(error.message).toContain(`is a license of product ${license.productCode}, not ${other.code}`);
});

test("doubleBilling 'refuse' answers the ValidationException and bills nothing", async () => {
  await sim.control.updateSettings({ doubleBilling: 'refuse' });
  const license = await licensed();
  const error = await rejectionOf(send([record(license)], license.productCode));
  expect(error.name).toBe('ValidationException');
  expect(error.$metadata.httpStatusCode).toBe(400);
  expect(error.message).toBe(
    'Usage record 1: LicenseArn must not be sent with a ProductCode (a customer-hour metered both ways is billed twice)',
  );
  expect((await sim.control.billed()).records).toEqual([]);
  expect((await sim.control.warnings()).warnings).toEqual([]);
});

test('doubleBilling is a setting like the others: given at start, read and changed through the control API', async () => {
  const strict = await startSimulator({ settings: { doubleBilling: 'refuse' } });
  try {
    const control = new SimulatorControl(strict.url);
    expect((await control.settings()).doubleBilling).toBe('refuse');
    expect((await control.updateSettings({ doubleBilling: 'bill-twice' })).doubleBilling).toBe('bill-twice');
  } finally {
    await strict.close();
  }
});
