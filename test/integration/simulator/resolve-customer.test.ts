/** `ResolveCustomer`: registration tokens and the identity each identity model answers. */
import { GetEntitlementsCommand } from '@aws-sdk/client-marketplace-entitlement-service';
import {
  BatchMeterUsageCommand,
  ResolveCustomerCommand,
  type ResolveCustomerCommandOutput,
} from '@aws-sdk/client-marketplace-metering';
import { describe, expect, test } from 'vitest';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

const resolve = (token: string) => sim.metering.send(new ResolveCustomerCommand({ RegistrationToken: token }));

async function licenseWithToken(identityModel: 'license' | 'legacy' = 'license') {
  const product = await sim.control.createProduct(meteredProduct({ identityModel }));
  return await sim.control.createLicense({ productCode: product.code });
}

test('a license-model token resolves to the account and LicenseArn, with no CustomerIdentifier', async () => {
  const { license, registrationToken } = await licenseWithToken('license');
  const customer = await resolve(registrationToken);
  expect(customer).toEqual(
    expect.objectContaining({
      ProductCode: license.productCode,
      CustomerAWSAccountId: license.customerAWSAccountId,
      LicenseArn: license.licenseArn,
    }),
  );
  expect(customer.CustomerIdentifier).toBeUndefined();
  expect(license.licenseArn).toMatch(/^arn:aws:license-manager::\d{12}:license:l-[0-9a-f]{32}$/);
});

test('a legacy token resolves to the CustomerIdentifier and the account, with no LicenseArn', async () => {
  const { license, registrationToken } = await licenseWithToken('legacy');
  const customer = await resolve(registrationToken);
  expect(customer.CustomerIdentifier).toBe(license.customerIdentifier);
  expect(customer.CustomerAWSAccountId).toBe(license.customerAWSAccountId);
  expect(customer.LicenseArn).toBeUndefined();
});

test('tokens look like the real ones: long, opaque, with characters a form POST must encode', async () => {
  const { registrationToken } = await licenseWithToken();
  expect(registrationToken.length).toBeGreaterThan(100);
  expect(registrationToken).toMatch(/^[A-Za-z0-9+/]+=*$/);
});

test('an unknown token is InvalidTokenException', async () => {
  await expect(resolve('not-a-token')).rejects.toMatchObject({ name: 'InvalidTokenException' });
});

test('a token resolves, again and again, for 4 hours, then is ExpiredTokenException', async () => {
  const { registrationToken } = await licenseWithToken();
  await resolve(registrationToken);
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 4 * 60), false);
  await expect(resolve(registrationToken)).resolves.toBeDefined();
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 4 * 60 + 1), false);
  await expect(resolve(registrationToken)).rejects.toMatchObject({ name: 'ExpiredTokenException' });
});

test('the token lifetime is a setting', async () => {
  await sim.control.updateSettings({ registrationTokenTtlSeconds: 3600 });
  const { registrationToken } = await licenseWithToken();
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 61), false);
  await expect(resolve(registrationToken)).rejects.toMatchObject({ name: 'ExpiredTokenException' });
});

test('in single-use mode, a second resolution of the same token is ExpiredTokenException', async () => {
  await sim.control.updateSettings({ singleUseRegistrationTokens: true });
  const { registrationToken } = await licenseWithToken();
  await resolve(registrationToken);
  await expect(resolve(registrationToken)).rejects.toMatchObject({ name: 'ExpiredTokenException' });
});

test('a buyer returning from the Marketplace console gets a fresh token for the same license', async () => {
  const { license, registrationToken } = await licenseWithToken();
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 5 * 60), false);
  const { registrationToken: fresh } = await sim.control.issueRegistrationToken(license.id);
  expect(fresh).not.toBe(registrationToken);
  expect((await resolve(fresh)).LicenseArn).toBe(license.licenseArn);
});

test('DisabledApiException outside the enabled regions', async () => {
  await sim.control.updateSettings({ enabledRegions: ['eu-central-1'] });
  const { registrationToken } = await licenseWithToken();
  await expect(resolve(registrationToken)).rejects.toMatchObject({ name: 'DisabledApiException' });
});

test('legacy answers can also carry a LicenseArn, as for products migrating to Concurrent Agreements', async () => {
  await sim.control.updateSettings({ legacyResolveIncludesLicenseArn: true });
  const { license, registrationToken } = await licenseWithToken('legacy');
  const customer = await resolve(registrationToken);
  expect(customer.CustomerIdentifier).toBe(license.customerIdentifier);
  expect(customer.LicenseArn).toBe(`arn:aws:license-manager::999999999999:license:${license.id}`);
});

describe('the LicenseArn a migrating legacy product answers', () => {
  async function migratingBuyer() {
    const product = await sim.control.createProduct(
      meteredProduct({
        identityModel: 'legacy',
        pricingModel: 'contracts-with-consumption',
        dimensions: [
          { name: 'seats', kind: 'contract' },
          { name: 'users', kind: 'metered' },
        ],
      }),
    );
    const { registrationToken } = await sim.control.createLicense({
      productCode: product.code,
      entitlements: [{ dimension: 'seats', value: { IntegerValue: 5 } }],
    });
    await sim.control.updateSettings({ legacyResolveIncludesLicenseArn: true });
    return { productCode: product.code, customer: await resolve(registrationToken) };
  }
  const at = minutesFrom(SIMULATOR_NOW, -10);
  /** Four users at `at`, metered the license-model way: by the account and the LicenseArn. */
  const meterByArn = (customer: ResolveCustomerCommandOutput) =>
    sim.metering.send(
      new BatchMeterUsageCommand({
        UsageRecords: [
          {
            CustomerAWSAccountId: customer.CustomerAWSAccountId,
            LicenseArn: customer.LicenseArn,
            Dimension: 'users',
            Quantity: 4,
            Timestamp: at,
          },
        ],
      }),
    );

  test('meters usage, as the same customer-hour as its CustomerIdentifier', async () => {
    const { productCode, customer } = await migratingBuyer();
    const byArn = await meterByArn(customer);
    expect(byArn.Results?.[0]?.Status).toBe('Success');
    const byIdentifier = (quantity: number) =>
      sim.metering.send(
        new BatchMeterUsageCommand({
          ProductCode: productCode,
          UsageRecords: [
            { CustomerIdentifier: customer.CustomerIdentifier, Dimension: 'users', Quantity: quantity, Timestamp: at },
          ],
        }),
      );
    expect((await byIdentifier(4)).Results?.[0]).toMatchObject({
      Status: 'Success',
      MeteringRecordId: byArn.Results?.[0]?.MeteringRecordId,
    });
    expect((await byIdentifier(5)).Results?.[0]?.Status).toBe('DuplicateRecord');
    expect((await sim.control.billed()).records.map((record) => record.quantity)).toEqual([4]);
  });

  test('sent with the ProductCode too, is one customer-hour: billed once, no double-billing warning, not refused', async () => {
    const { productCode, customer } = await migratingBuyer();
    const both = (quantity: number) =>
      sim.metering.send(
        new BatchMeterUsageCommand({
          ProductCode: productCode,
          UsageRecords: [
            {
              CustomerAWSAccountId: customer.CustomerAWSAccountId,
              LicenseArn: customer.LicenseArn,
              Dimension: 'users',
              Quantity: quantity,
              Timestamp: at,
            },
          ],
        }),
      );
    expect((await both(4)).Results?.[0]?.Status).toBe('Success');
    const billed = await sim.control.billed({ licenseArn: customer.LicenseArn! });
    expect(billed.records.map((record) => [record.quantity, record.doubleBilled ?? false])).toEqual([[4, false]]);
    expect((await sim.control.warnings()).warnings).toEqual([]);
    await sim.control.updateSettings({ doubleBilling: 'refuse' });
    expect((await both(4)).Results?.[0]?.Status).toBe('Success');
  });

  test('names its entitlements and filters them', async () => {
    const { productCode, customer } = await migratingBuyer();
    const { Entitlements } = await sim.entitlements.send(
      new GetEntitlementsCommand({ ProductCode: productCode, Filter: { LICENSE_ARN: [customer.LicenseArn!] } }),
    );
    expect(Entitlements).toEqual([
      expect.objectContaining({
        CustomerIdentifier: customer.CustomerIdentifier,
        LicenseArn: customer.LicenseArn,
        Dimension: 'seats',
      }),
    ]);
  });

  test('is unknown again once legacy answers carry no LicenseArn', async () => {
    const { customer } = await migratingBuyer();
    await sim.control.updateSettings({ legacyResolveIncludesLicenseArn: false });
    await expect(meterByArn(customer)).rejects.toMatchObject({ name: 'InvalidLicenseException' });
  });
});
