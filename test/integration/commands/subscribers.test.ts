/**
 * `npm run subscribers` as an operator runs it, in a process of its own, against a local stack's tables named as a
 * deployed stack's are (`SUBSCRIBERS_TABLE`, `USAGE_TABLE`): buyers who subscribed through Marketplace and the
 * fulfillment URL, with entitlements and recorded usage, listed with their state, identity and usage pending.
 */
import { beforeAll, expect, inject, test } from 'vitest';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';
import { postFulfillment } from '../../support/buyer.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { runNodeCommand } from '../../support/node-command.ts';

const local = useLocalStack({ marketplaceNotifications: true });

/** `cdk.json`'s products: a license one metering requests, a legacy contract one with seats. */
const LICENSE_PRODUCT = 'analytics-pro-example';
const LEGACY_PRODUCT = 'data-suite-legacy-example';

const buyers = { license: '', legacy: '' };

/** A buyer subscribes in Marketplace and arrives at the fulfillment URL with the registration token. */
async function subscribe(productCode: string, entitlements: { dimension: string; value: number }[] = []) {
  const { license, registrationToken } = await local.control.createLicense({
    productCode,
    entitlements: entitlements.map(({ dimension, value }) => ({ dimension, value: { IntegerValue: value } })),
  });
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
  expect(arrival.status, arrival.body).toBe(303);
  return license.identityModel === 'license'
    ? `license:${license.licenseArn}`
    : `legacy:${productCode}:${license.customerIdentifier}`;
}

beforeAll(async () => {
  buyers.license = await subscribe(LICENSE_PRODUCT);
  buyers.legacy = await subscribe(LEGACY_PRODUCT, [{ dimension: 'seats', value: 12 }]);
  await settleLifecycle(local.stack);
  const { now } = await local.control.clock();
  const events = [
    { subscriberId: buyers.license, dimension: 'requests', quantity: 40, timestamp: now },
    { subscriberId: buyers.license, dimension: 'requests', quantity: 2, timestamp: now },
    { subscriberId: buyers.license, dimension: 'storage_gb', quantity: 7, timestamp: now },
  ];
  const recorded = await fetchSigned(`${local.stack.apiUrl}/usage`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ events }),
  });
  expect(recorded.status, await recorded.text()).toBe(200);
});

/** Each test runs the command in processes of its own (`node --import tsx`): seconds apiece on a loaded machine. */
const COMMAND_TEST_TIMEOUT_MS = 120_000;

const subscribers = (...args: string[]) =>
  runNodeCommand(['local/commands/subscribers.ts', ...args], {
    DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
    SUBSCRIBERS_TABLE: local.stack.tables.Subscribers,
    USAGE_TABLE: local.stack.tables.Usage,
    MARKETPLACE_ENDPOINT: local.stack.simulator.url,
  });

test(
  '--json lists every subscriber with its state, identity, product, entitlements and usage pending',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const run = await subscribers('--json');
    expect(run.status, run.stderr).toBe(0);
    const listed = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(listed.map((subscriber) => subscriber.subscriberId).sort()).toEqual([buyers.legacy, buyers.license].sort());
    const license = listed.find((subscriber) => subscriber.subscriberId === buyers.license);
    expect(license).toEqual(
      expect.objectContaining({
        productCode: LICENSE_PRODUCT,
        identityModel: 'license',
        licenseArn: buyers.license.slice('license:'.length),
        customerAWSAccountId: expect.stringMatching(/^\d{12}$/) as unknown,
        status: 'active',
        allowed: true,
        entitlements: [],
        entitlementsFetchedAt: expect.any(String) as unknown,
        pendingUsage: [
          { dimension: 'requests', buckets: 1, units: 42, oldestHour: expect.any(String) as unknown },
          { dimension: 'storage_gb', buckets: 1, units: 7, oldestHour: expect.any(String) as unknown },
        ],
      }),
    );
    const legacy = listed.find((subscriber) => subscriber.subscriberId === buyers.legacy);
    expect(legacy).toEqual(
      expect.objectContaining({
        productCode: LEGACY_PRODUCT,
        identityModel: 'legacy',
        customerIdentifier: expect.any(String) as unknown,
        status: 'active',
        entitlements: [expect.objectContaining({ dimension: 'seats', value: 12 })],
        pendingUsage: [],
      }),
    );
  },
);

test(
  'the table shows one line a subscriber; --id and --status narrow it',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const all = await subscribers();
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).toContain(`Subscribers in ${local.stack.tables.Subscribers}`);
    const line = all.stdout.split('\n').find((row) => row.startsWith(buyers.license));
    expect(line).toMatch(
      / active .*analytics-pro-example .*account \d{12}, not registered .*requests 42 \(1\), storage_gb 7 \(1\)$/,
    );
    expect(all.stdout.split('\n').find((row) => row.startsWith(buyers.legacy))).toContain('seats=12');

    const one = await subscribers('--id', buyers.legacy, '--json');
    expect((JSON.parse(one.stdout) as { subscriberId: string }[]).map((subscriber) => subscriber.subscriberId)).toEqual(
      [buyers.legacy],
    );
    const ending = await subscribers('--status', 'ending');
    expect(ending.status, ending.stderr).toBe(0);
    expect(ending.stdout).toContain(': 0');
    expect(ending.stdout).not.toContain(buyers.license);
  },
);

test(
  'an unknown subscriber fails naming it; an unknown option, status or malformed id shows the usage line, exit 2',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const unknown = await subscribers('--id', 'license:arn:aws:license-manager::123456789012:license:l-nobody');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no subscriber license:arn:aws:license-manager::123456789012:license:l-nobody in');

    for (const args of [
      ['--state', 'active'],
      ['--status', 'gone'],
      // A license ARN without the license: of a subscriber id.
      ['--id', 'arn:aws:license-manager::123456789012:license:l-nobody'],
    ]) {
      const refused = await subscribers(...args);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain('usage: npm run subscribers -- [--id <subscriberId>] [--status ');
      expect(refused.stdout).toBe('');
    }
  },
);

test(
  'entitlements never read (Marketplace could not be asked yet) show as not read yet, not as none',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    // As the lifecycle stores a legacy subscribe-success whose GetEntitlements keeps failing: the status, no entitlements.
    const unread = `legacy:${LEGACY_PRODUCT}:UNREADCUSTOMER1`;
    await local.writeSubscriber(unread, {
      subscriberId: unread,
      productCode: LEGACY_PRODUCT,
      identityModel: 'legacy',
      customerIdentifier: 'UNREADCUSTOMER1',
      subscriptionStatus: 'active',
      lifecycle: { activatedAt: (await local.control.clock()).now },
    });
    const all = await subscribers();
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout.split('\n').find((row) => row.startsWith(unread))).toContain(' not read yet ');
    const line = all.stdout.split('\n').find((row) => row.startsWith(buyers.license));
    expect(line).not.toContain('not read yet');
  },
);
