/**
 * `npm run preflight` as far as it can be run without AWS: the Marketplace checks against the simulator (a product it
 * sells passes; one it does not know fails with the fix), and STS, SNS and SSM, which have no local stand-in, at an
 * address where nothing listens: each of their checks fails, naming where it looked.
 */
import { beforeAll, beforeEach, expect, test } from 'vitest';
import { getFreePort } from '../../../local/free-port.ts';
import { runNodeCommand } from '../../support/node-command.ts';
import { useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();
let nowhere = '';

/** `cdk.json`'s license product; its legacy one (`data-suite-legacy-example`) stays unknown to the simulator. */
const KNOWN = 'analytics-pro-example';
const OWN_PRODUCT = 'prod-7x3k9q2m1a';

beforeAll(async () => {
  nowhere = `http://127.0.0.1:${await getFreePort()}`;
});
beforeEach(async () => {
  for (const code of [KNOWN, OWN_PRODUCT]) {
    await sim.control.createProduct({
      code,
      name: code,
      pricingModel: 'subscriptions',
      identityModel: 'license',
      dimensions: [{ name: 'requests', kind: 'metered' }],
    });
  }
});

const preflight = (...args: string[]) =>
  runNodeCommand(['local/commands/preflight.ts', ...args], {
    ENTITLEMENT_ENDPOINT: sim.url,
    MARKETPLACE_ENDPOINT: sim.url,
    STS_ENDPOINT: nowhere,
    SNS_ENDPOINT: nowhere,
    SSM_ENDPOINT: nowhere,
  });

test('cdk.json as shipped: the Marketplace checks pass for a known product and fail with the fix for the other', async () => {
  const run = await preflight();
  expect(run.status).toBe(1);
  const out = run.stdout;
  expect(out).toContain('PASS  configuration: 2 products; Marketplace APIs in us-east-1');
  expect(out).toContain(`FAIL  product code: ${KNOWN} is an example code that shipped with cdk.json`);
  expect(out).toContain(`PASS  entitlements ${KNOWN}: GetEntitlements answers for the product`);
  expect(out).toContain(`PASS  metering ${KNOWN}: BatchMeterUsage (of no records) answers in us-east-1`);
  expect(out).toMatch(
    /FAIL {2}entitlements data-suite-legacy-example: InvalidParameterException: .*\n {6}fix: Use the product's code from the AWS Marketplace Management Portal/,
  );
  expect(out).toMatch(
    /FAIL {2}metering data-suite-legacy-example: InvalidProductCodeException: .*\n {6}fix: Use the product's code/,
  );
  expect(out).toMatch(/failed: fix them before cdk deploy\.\n$/);
});

test('STS, SNS and SSM unreachable: their checks fail, naming the address and the variable', async () => {
  const { stdout } = await preflight();
  expect(stdout).toContain(`FAIL  account and region: cannot reach STS at ${nowhere}: `);
  for (const kind of ['subscription', 'entitlement']) {
    expect(stdout).toContain(
      `FAIL  SNS topic data-suite-legacy-example ${kind}: cannot reach SNS (us-east-1) at ${nowhere}`,
    );
  }
  expect(stdout).toContain(`FAIL  CDK bootstrap us-east-1: cannot reach SSM (us-east-1) at ${nowhere}`);
  expect(stdout).toContain('fix: Check the network (proxy, VPN), or SSM_ENDPOINT if it is set.');
});

test('-c overrides cdk.json as for cdk deploy: an own license product passes, and no SNS topic applies', async () => {
  const products = [
    {
      code: OWN_PRODUCT,
      name: 'Own',
      pricingModel: 'subscriptions',
      identityModel: 'license',
      dimensions: [{ name: 'requests', kind: 'metered' }],
    },
  ];
  const run = await preflight('-c', `marketplace.products=${JSON.stringify(products)}`);
  expect(run.stdout).toContain(`PASS  product code: ${OWN_PRODUCT} is not an example code`);
  expect(run.stdout).toContain(`PASS  entitlements ${OWN_PRODUCT}`);
  expect(run.stdout).toContain(`PASS  metering ${OWN_PRODUCT}`);
  expect(run.stdout).toContain('SKIP  SNS topics: no legacy product');
  expect(run.stdout).not.toContain('FAIL  product code');
  // Only the services with no local stand-in are left failing.
  expect(run.stdout.match(/^FAIL/gm)).toHaveLength(2);
  expect(run.status).toBe(1);

  const regionless = await preflight('-c', 'marketplace.region=eu-west-9x');
  expect(regionless.status).toBe(1);
  expect(regionless.stdout).toContain('FAIL  configuration: Invalid configuration');

  const malformed = await preflight('-c', 'marketplace.region');
  expect(malformed.status).toBe(2);
  expect(malformed.stderr).toContain('-c takes key=value, not "marketplace.region"\nusage: npm run preflight');
});
