/**
 * `MeterUsage` and `RegisterUsage`, the AMI/container operations, covered so that every operation of the metering
 * service answers like AWS. The caller's account is its access key id when that is 12 digits.
 */
import { rejectionOf } from '../../support/errors.ts';
import { MeterUsageCommand, RegisterUsageCommand, type MeterUsageRequest } from '@aws-sdk/client-marketplace-metering';
import { constants, verify } from 'node:crypto';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { MarketplaceMeteringClient } from '@aws-sdk/client-marketplace-metering';
import { meteredProduct, meteringClient, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();
const BUYER_ACCOUNT = '210987654321';
let productCode: string;
let instance: MarketplaceMeteringClient;

beforeEach(async () => {
  productCode = (await sim.control.createProduct(meteredProduct())).code;
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -3 * 60), false);
  await sim.control.createLicense({ productCode, customerAWSAccountId: BUYER_ACCOUNT });
  await sim.control.setClock(SIMULATOR_NOW, false);
  instance = meteringClient(sim.url, { accessKeyId: BUYER_ACCOUNT });
});

afterEach(() => instance.destroy());

const usage = (overrides: Partial<MeterUsageRequest> = {}) =>
  new MeterUsageCommand({
    ProductCode: productCode,
    Timestamp: minutesFrom(SIMULATOR_NOW, -20),
    UsageDimension: 'users',
    UsageQuantity: 2,
    ...overrides,
  });

test('one record per caller, dimension and hour: same quantity, same MeteringRecordId; another, DuplicateRequestException', async () => {
  const first = await instance.send(usage());
  const again = await instance.send(usage({ Timestamp: minutesFrom(SIMULATOR_NOW, -5) }));
  expect(again.MeteringRecordId).toBe(first.MeteringRecordId);
  await expect(instance.send(usage({ UsageQuantity: 3 }))).rejects.toMatchObject({ name: 'DuplicateRequestException' });
  const previousHour = await instance.send(usage({ Timestamp: minutesFrom(SIMULATOR_NOW, -40), UsageQuantity: 3 }));
  expect(previousHour.MeteringRecordId).not.toBe(first.MeteringRecordId);
  expect((await sim.control.billed({ productCode })).totalQuantity).toBe(5);
});

test('instances of one buyer account (each its own session token) meter apart; each is deduplicated on its own', async () => {
  const first = meteringClient(sim.url, { accessKeyId: BUYER_ACCOUNT, sessionToken: 'instance-a-session' });
  const second = meteringClient(sim.url, { accessKeyId: BUYER_ACCOUNT, sessionToken: 'instance-b-session' });
  const fromFirst = await first.send(usage({ UsageQuantity: 4 }));
  const fromSecond = await second.send(usage({ UsageQuantity: 7 }));
  expect(fromSecond.MeteringRecordId).not.toBe(fromFirst.MeteringRecordId);
  await expect(first.send(usage({ UsageQuantity: 7 }))).rejects.toMatchObject({ name: 'DuplicateRequestException' });
  expect((await first.send(usage({ UsageQuantity: 4 }))).MeteringRecordId).toBe(fromFirst.MeteringRecordId);
  expect((await sim.control.billed({ productCode })).totalQuantity).toBe(11);
  first.destroy();
  second.destroy();
});

test('a reused ClientToken answers the same, or IdempotencyConflictException (409) with other parameters', async () => {
  const first = await instance.send(usage({ ClientToken: 'token-1' }));
  expect((await instance.send(usage({ ClientToken: 'token-1' }))).MeteringRecordId).toBe(first.MeteringRecordId);
  const conflict = await rejectionOf(instance.send(usage({ ClientToken: 'token-1', UsageDimension: 'gb' })));
  expect(conflict.name).toBe('IdempotencyConflictException');
  expect(conflict.$metadata.httpStatusCode).toBe(409);
});

test("a ClientToken is the caller's own: another caller's request under it is answered on its own", async () => {
  await instance.send(usage({ ClientToken: 'shared-token' }));
  const stranger = meteringClient(sim.url, { accessKeyId: '999988887777' });
  await expect(stranger.send(usage({ ClientToken: 'shared-token' }))).rejects.toMatchObject({
    name: 'CustomerNotEntitledException',
  });
  stranger.destroy();
});

test('a buyer with a paid license beside a running free trial is billed on the paid one', async () => {
  const trialBuyer = '123456789012';
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -3 * 60), false);
  await sim.control.createLicense({ productCode, customerAWSAccountId: trialBuyer, offerType: 'free-trial' });
  const { license: paid } = await sim.control.createLicense({ productCode, customerAWSAccountId: trialBuyer });
  await sim.control.setClock(SIMULATOR_NOW, false);
  const buyer = meteringClient(sim.url, { accessKeyId: trialBuyer });
  await buyer.send(usage());
  buyer.destroy();
  const { records } = await sim.control.billed({ customerAWSAccountId: trialBuyer });
  expect(records.map((record) => [record.licenseId, record.freeTrial])).toEqual([[paid.id, false]]);
});

test('a call signed for a region the resource does not run in (one not enabled) is InvalidEndpointRegionException', async () => {
  const elsewhere = meteringClient(sim.url, { accessKeyId: BUYER_ACCOUNT, region: 'eu-west-1' });
  await expect(elsewhere.send(usage())).rejects.toMatchObject({
    name: 'InvalidEndpointRegionException',
    $metadata: { httpStatusCode: 400 },
  });
  elsewhere.destroy();
  expect((await sim.control.billed({ productCode })).records).toEqual([]);
});

test('timestamps up to 6 hours old are accepted', async () => {
  const old = usage({ Timestamp: minutesFrom(SIMULATOR_NOW, -6 * 60 - 1) });
  await expect(instance.send(old)).rejects.toMatchObject({ name: 'TimestampOutOfBoundsException' });
  await expect(instance.send(usage({ Timestamp: minutesFrom(SIMULATOR_NOW, -6 * 60 + 1) }))).resolves.toBeDefined();
});

test('a caller without a live subscription is CustomerNotEntitledException', async () => {
  const stranger = meteringClient(sim.url, { accessKeyId: '999988887777' });
  await expect(stranger.send(usage())).rejects.toMatchObject({ name: 'CustomerNotEntitledException' });
  stranger.destroy();
});

test('the product, dimension, tags and allocations are checked', async () => {
  await expect(instance.send(usage({ ProductCode: 'other' }))).rejects.toMatchObject({
    name: 'InvalidProductCodeException',
  });
  await expect(instance.send(usage({ UsageDimension: 'nope' }))).rejects.toMatchObject({
    name: 'InvalidUsageDimensionException',
  });
  const allocation = (quantity: number, key: string) => ({
    AllocatedUsageQuantity: quantity,
    Tags: [{ Key: key, Value: 'v' }],
  });
  await expect(instance.send(usage({ UsageAllocations: [allocation(1, 'k')] }))).rejects.toMatchObject({
    name: 'InvalidUsageAllocationsException',
  });
  await expect(instance.send(usage({ UsageAllocations: [allocation(2, 'bad{')] }))).rejects.toMatchObject({
    name: 'InvalidTagException',
  });
});

test('DryRun checks everything and meters nothing', async () => {
  await expect(instance.send(usage({ DryRun: true }))).rejects.toMatchObject({ name: 'DryRunOperation' });
  await expect(instance.send(usage({ DryRun: true, UsageDimension: 'nope' }))).rejects.toMatchObject({
    name: 'InvalidUsageDimensionException',
  });
  expect((await sim.control.billed()).records).toEqual([]);

  // Of an hour the instance has metered: the same record would succeed; another quantity would be refused, and is.
  await instance.send(usage({ UsageQuantity: 3 }));
  await expect(instance.send(usage({ DryRun: true, UsageQuantity: 3 }))).rejects.toMatchObject({
    name: 'DryRunOperation',
  });
  await expect(instance.send(usage({ DryRun: true, UsageQuantity: 9 }))).rejects.toMatchObject({
    name: 'DuplicateRequestException',
  });
  expect((await sim.control.billed()).records.map((record) => record.quantity)).toEqual([3]);
});

test('RegisterUsage answers a PS256 JWT that verifies with the published public key', async () => {
  const { Signature } = await instance.send(
    new RegisterUsageCommand({ ProductCode: productCode, PublicKeyVersion: 1, Nonce: 'n-1' }),
  );
  const [header, payload, signature] = Signature!.split('.');
  const { publicKeyPem } = await sim.control.registerUsagePublicKey();
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    {
      key: publicKeyPem,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    },
    Buffer.from(signature!, 'base64url'),
  );
  expect(valid).toBe(true);
  expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual(
    expect.objectContaining({ productCode, publicKeyVersion: 1, nonce: 'n-1', customerAWSAccountId: BUYER_ACCOUNT }),
  );
});

test('RegisterUsage refuses an unknown key version and a caller that is not entitled', async () => {
  await expect(
    instance.send(new RegisterUsageCommand({ ProductCode: productCode, PublicKeyVersion: 2 })),
  ).rejects.toMatchObject({ name: 'InvalidPublicKeyVersionException' });
  await expect(
    sim.metering.send(new RegisterUsageCommand({ ProductCode: productCode, PublicKeyVersion: 1 })),
  ).rejects.toMatchObject({ name: 'CustomerNotEntitledException' });
});
