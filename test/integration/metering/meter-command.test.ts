/**
 * `npm run meter` as a seller runs it, in a process of its own, against the tables and the simulator the environment
 * names: a dry run prints the calls and changes nothing; a real run bills; bad arguments say what is wrong.
 */
import { expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';
import { addUsage, bucketsOf, hoursBefore, subscribeBuyer } from '../../support/metering-fixtures.ts';
import { freshTables } from '../../support/metering-run.ts';
import { runNodeCommand } from '../../support/node-command.ts';
import { configuredProduct, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const dynamoDb = useDynamoDb();
const sim = useSimulator();

/** `cdk.json`'s license product, which the command reads its products from. */
const PRODUCT = 'analytics-pro-example';

/** Each test runs the command in a process of its own (`node --import tsx`): seconds on a loaded machine. */
const COMMAND_TEST_TIMEOUT_MS = 120_000;

async function setup() {
  const tables = await freshTables(dynamoDb);
  const client = documentClient(tables.endpoint);
  await sim.control.createProduct(configuredProduct(PRODUCT));
  const buyer = await subscribeBuyer(
    { control: sim.control, client, subscribersTable: tables.subscribers },
    PRODUCT,
    SIMULATOR_NOW,
  );
  await addUsage(client, tables.usage, {
    subscriberId: buyer.subscriberId,
    hour: hoursBefore(SIMULATOR_NOW, 1),
    dimension: 'requests',
    quantity: 42,
  });
  const meter = (...args: string[]) =>
    runNodeCommand(['local/commands/meter.ts', ...args], {
      DYNAMODB_ENDPOINT: tables.endpoint,
      USAGE_TABLE: tables.usage,
      SUBSCRIBERS_TABLE: tables.subscribers,
      MARKETPLACE_ENDPOINT: sim.url,
    });
  return { client, tables, buyer, meter };
}

test(
  '--dry-run prints the BatchMeterUsage call a run would make, and neither writes nor sends anything',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const { client, tables, buyer, meter } = await setup();
    const run = await meter('--dry-run');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('Dry run: nothing written, nothing sent.');
    expect(run.stdout).toContain('BatchMeterUsage call 1:');
    expect(run.stdout).toContain(`"LicenseArn": "${buyer.license.licenseArn}"`);
    expect(run.stdout).toContain('"Quantity": 42');
    expect((await sim.control.billed({ licenseId: buyer.license.id })).records).toEqual([]);
    const [bucket, ...others] = await bucketsOf(client, tables.usage, buyer.subscriberId);
    expect(others).toEqual([]);
    expect(bucket).toEqual(expect.objectContaining({ state: 'open', quantity: 42 }));
    expect(bucket?.frozenAt).toBeUndefined();
  },
);

test(
  'a run bills the closed hour, by the simulator clock, and says so',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const { buyer, meter } = await setup();
    const run = await meter();
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/billed\s+1\n/);
    expect((await sim.control.billed({ licenseId: buyer.license.id })).records).toEqual([
      expect.objectContaining({
        dimension: 'requests',
        quantity: 42,
        hour: hoursBefore(SIMULATOR_NOW, 1).toISOString(),
      }),
    ]);
  },
);

test(
  'an unknown option is refused with the usage line, and nothing runs',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const { buyer, meter } = await setup();
    const run = await meter('--dryrun');
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("npm run meter: Unknown option '--dryrun'");
    expect(run.stderr).toContain('usage: npm run meter -- [--dry-run] [--final | --subscriber <id>]');
    expect((await sim.control.billed({ licenseId: buyer.license.id })).records).toEqual([]);
  },
);

test(
  'a --subscriber that names no subscriber is refused with status 1, and nothing runs',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const { buyer, meter } = await setup();
    const run = await meter('--subscriber', 'license:arn:aws:license-manager::123456789012:license:l-nobody');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('npm run meter: no subscriber has the id "license:arn:aws:license-manager::');
    expect((await sim.control.billed({ licenseId: buyer.license.id })).records).toEqual([]);
    expect((await meter('--subscriber', buyer.subscriberId)).status).toBe(0);
    expect((await sim.control.billed({ licenseId: buyer.license.id })).records).toHaveLength(1);
  },
);
