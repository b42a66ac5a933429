/** `GetEntitlements`: unexpired contract entitlements of active licenses, filters, paging. */
import {
  GetEntitlementsCommand,
  paginateGetEntitlements,
  type Entitlement,
  type GetEntitlementsRequest,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { beforeEach, expect, test } from 'vitest';
import type { LicenseView } from '../../../simulator/control-client.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();
let productCode: string;

const contractProduct = (code?: string) =>
  meteredProduct({
    ...(code === undefined ? {} : { code }),
    pricingModel: 'contracts-with-consumption',
    dimensions: [
      { name: 'seats', kind: 'contract' },
      { name: 'tier', kind: 'contract' },
      { name: 'overage', kind: 'metered' },
    ],
  });

beforeEach(async () => {
  productCode = (await sim.control.createProduct(contractProduct())).code;
});

async function buyer(seats: number): Promise<LicenseView> {
  const { license } = await sim.control.createLicense({
    productCode,
    entitlements: [
      { dimension: 'seats', value: { IntegerValue: seats }, expirationDate: '2027-11-18T00:00:00Z' },
      { dimension: 'tier', value: { StringValue: 'gold' } },
    ],
  });
  return license;
}

async function all(request: Omit<GetEntitlementsRequest, 'ProductCode'>): Promise<Entitlement[]> {
  const entitlements: Entitlement[] = [];
  for await (const page of paginateGetEntitlements(
    { client: sim.entitlements },
    { ProductCode: productCode, ...request },
  )) {
    entitlements.push(...(page.Entitlements ?? []));
  }
  return entitlements;
}

test('entitlements carry the license identity, the typed value and the expiration date', async () => {
  const license = await buyer(10);
  const [seats] = await all({ Filter: { LICENSE_ARN: [license.licenseArn!], DIMENSION: ['seats'] } });
  expect(seats).toEqual({
    ProductCode: productCode,
    Dimension: 'seats',
    CustomerAWSAccountId: license.customerAWSAccountId,
    LicenseArn: license.licenseArn,
    Value: { IntegerValue: 10 },
    ExpirationDate: new Date('2027-11-18T00:00:00Z'),
  });
});

test('values under one filter key are OR-ed, keys are AND-ed', async () => {
  const first = await buyer(1);
  const second = await buyer(2);
  await buyer(3);
  const either = await all({
    Filter: { CUSTOMER_AWS_ACCOUNT_ID: [first.customerAWSAccountId, second.customerAWSAccountId] },
  });
  expect(either).toHaveLength(4);
  const both = await all({ Filter: { CUSTOMER_AWS_ACCOUNT_ID: [first.customerAWSAccountId], DIMENSION: ['seats'] } });
  expect(both.map((entitlement) => entitlement.Value?.IntegerValue)).toEqual([1]);
});

test('CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID cannot be combined', async () => {
  await expect(
    sim.entitlements.send(
      new GetEntitlementsCommand({
        ProductCode: productCode,
        Filter: { CUSTOMER_IDENTIFIER: ['X'], CUSTOMER_AWS_ACCOUNT_ID: ['123456789012'] },
      }),
    ),
  ).rejects.toMatchObject({ name: 'InvalidParameterException' });
});

test('an unknown filter key is a ValidationException', async () => {
  const call = sim.entitlements.send(
    new GetEntitlementsCommand({ ProductCode: productCode, Filter: { REGION: ['us-east-1'] } as never }),
  );
  await expect(call).rejects.toMatchObject({ name: 'ValidationException' });
});

test('pages hold at most MaxResults and every page is read by following NextToken', async () => {
  for (let index = 0; index < 7; index++) await buyer(index);
  const first = await sim.entitlements.send(new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 5 }));
  expect(first.Entitlements).toHaveLength(5);
  expect(first.NextToken).toBeDefined();
  expect(await all({ MaxResults: 5 })).toHaveLength(14);
});

test('changes between pages never make paging skip or repeat an entitlement that was there all along', async () => {
  const licenses: LicenseView[] = [];
  for (let seats = 0; seats < 6; seats++) {
    const { license } = await sim.control.createLicense({
      productCode,
      entitlements: [{ dimension: 'seats', value: { IntegerValue: seats } }],
    });
    licenses.push(license);
  }
  const page = (NextToken?: string) =>
    sim.entitlements.send(new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 2, NextToken }));
  const shown = (entitlements: readonly Entitlement[] | undefined) =>
    (entitlements ?? []).map(({ Value }) => Value?.IntegerValue ?? Value?.StringValue);

  const first = await page();
  expect(shown(first.Entitlements)).toEqual([0, 1]);
  // Between pages: a license already served ends, and one not yet served gains an entitlement.
  await sim.control.end(licenses[0]!.id);
  await sim.control.setEntitlements(licenses[3]!.id, [
    { dimension: 'tier', value: { StringValue: 'gold' } },
    { dimension: 'seats', value: { IntegerValue: 3 } },
  ]);
  const rest: Entitlement[] = [];
  for (let token = first.NextToken; token !== undefined;) {
    const next = await page(token);
    rest.push(...(next.Entitlements ?? []));
    token = next.NextToken;
  }
  // Counting from an offset would have lost seats 2 (one row fewer before it).
  expect(shown(rest)).toEqual([2, 'gold', 3, 4, 5]);
});

test('with entitlementEmptyPages, empty pages still carry a NextToken and the paginator reads past them', async () => {
  await sim.control.updateSettings({ entitlementEmptyPages: true });
  for (let index = 0; index < 3; index++) await buyer(index);
  const first = await sim.entitlements.send(new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 4 }));
  expect(first.Entitlements).toEqual([]);
  expect(first.NextToken).toBeDefined();
  expect(await all({ MaxResults: 4 })).toHaveLength(6);
});

test('a NextToken from another query, or a forged one, is InvalidParameterException', async () => {
  for (let index = 0; index < 3; index++) await buyer(index);
  const { NextToken } = await sim.entitlements.send(
    new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 1 }),
  );
  for (const token of [NextToken, 'forged']) {
    const call = sim.entitlements.send(
      new GetEntitlementsCommand({ ProductCode: productCode, NextToken: token, Filter: { DIMENSION: ['seats'] } }),
    );
    await expect(call).rejects.toMatchObject({ name: 'InvalidParameterException' });
  }
});

test('a NextToken from before a reset is InvalidParameterException: the license it points after is gone', async () => {
  for (let index = 0; index < 3; index++) await buyer(index);
  const { NextToken } = await sim.entitlements.send(
    new GetEntitlementsCommand({ ProductCode: productCode, MaxResults: 1 }),
  );
  await sim.control.reset();
  await sim.control.createProduct(contractProduct(productCode));
  for (let index = 0; index < 3; index++) await buyer(index);
  const call = sim.entitlements.send(new GetEntitlementsCommand({ ProductCode: productCode, NextToken }));
  await expect(call).rejects.toMatchObject({ name: 'InvalidParameterException' });
});

test('only active licenses are entitled: not pending ones, not ending or ended ones', async () => {
  const { license: pending } = await sim.control.createLicense({
    productCode,
    activate: false,
    entitlements: [{ dimension: 'seats', value: { IntegerValue: 4 } }],
  });
  const ended = await buyer(5);
  await sim.control.end(ended.id);
  expect(await all({})).toEqual([]);
  await sim.control.activate(pending.id);
  expect((await all({})).map((entitlement) => entitlement.Value?.IntegerValue)).toEqual([4]);
});

test('an entitlement past its expiration date is no longer answered (a contract not renewed)', async () => {
  const license = await buyer(10);
  const expiresAt = minutesFrom(SIMULATOR_NOW, 30);
  await sim.control.setEntitlements(license.id, [
    { dimension: 'seats', value: { IntegerValue: 10 }, expirationDate: expiresAt.toISOString() },
    { dimension: 'tier', value: { StringValue: 'gold' } },
  ]);
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, 29), false);
  expect((await all({})).map((entitlement) => entitlement.Dimension)).toEqual(['seats', 'tier']);
  await sim.control.setClock(expiresAt, false);
  expect((await all({})).map((entitlement) => entitlement.Dimension)).toEqual(['tier']);
});

test('changed entitlements are answered at once', async () => {
  const license = await buyer(10);
  await sim.control.setEntitlements(license.id, [{ dimension: 'seats', value: { IntegerValue: 25 } }]);
  expect((await all({})).map((entitlement) => entitlement.Value)).toEqual([{ IntegerValue: 25 }]);
});

test('legacy entitlements carry the CustomerIdentifier', async () => {
  const product = await sim.control.createProduct(
    meteredProduct({
      identityModel: 'legacy',
      pricingModel: 'contracts',
      dimensions: [{ name: 'seats', kind: 'contract' }],
    }),
  );
  const { license } = await sim.control.createLicense({
    productCode: product.code,
    entitlements: [{ dimension: 'seats', value: { IntegerValue: 3 } }],
  });
  const { Entitlements } = await sim.entitlements.send(
    new GetEntitlementsCommand({
      ProductCode: product.code,
      Filter: { CUSTOMER_IDENTIFIER: [license.customerIdentifier!] },
    }),
  );
  expect(Entitlements?.[0]?.CustomerIdentifier).toBe(license.customerIdentifier);
  expect(Entitlements?.[0]?.LicenseArn).toBeUndefined();
});
