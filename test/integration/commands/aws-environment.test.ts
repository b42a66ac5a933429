/**
 * The operator commands run against AWS (an endpoint variable set to the empty string) in a shell whose AWS
 * environment lacks a region or credentials: each stops with the SDK's words and what to set, not the SDK's words
 * alone. Nothing is sent: the SDK stops before a request.
 */
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';
import { runProcess } from '../../support/node-command.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

/** The commands as an operator runs them against a deployed stack. */
const COMMANDS: Record<string, { args: string[]; environment: Record<string, string> }> = {
  subscribers: { args: [], environment: { DYNAMODB_ENDPOINT: '' } },
  meter: { args: ['--dry-run'], environment: { DYNAMODB_ENDPOINT: '' } },
  report: { args: [], environment: { DYNAMODB_ENDPOINT: '' } },
  redrive: { args: ['webhook'], environment: { SQS_ENDPOINT: '' } },
};

/** A shell with no AWS variable, profile or config file, and no instance metadata, plus the given variables. */
async function run(name: string, environment: Record<string, string>) {
  const home = await scratchDirectory('no-aws-');
  const inherited = Object.entries(process.env).filter(
    ([variable]) => !variable.startsWith('AWS_') && !/_(ENDPOINT|PORT|TABLE)$|^API_URL$|^PORT$/.test(variable),
  );
  const command = COMMANDS[name]!;
  return runProcess(process.execPath, ['--import', 'tsx', `local/commands/${name}.ts`, ...command.args], {
    cwd: projectRoot,
    env: {
      ...Object.fromEntries(inherited),
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      SUBSCRIBERS_TABLE: 'SaasMarketplace-SubscribersTable',
      USAGE_TABLE: 'SaasMarketplace-UsageTable',
      ...command.environment,
      ...environment,
    },
  });
}

test.each(Object.keys(COMMANDS))('%s with no region says to set AWS_REGION or a profile with one', async (name) => {
  const { status, stderr } = await run(name, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  expect(status, stderr).toBe(1);
  expect(stderr).toMatch(new RegExp(`^npm run ${name}: .*Region is missing.*\\. No AWS region\\. Set AWS_REGION`));
  expect(stderr).toContain('or AWS_PROFILE to a profile that has one');
  expect(stderr).not.toContain('..');
  expect(stderr.trim().split('\n')).toHaveLength(1);
});

test.each(Object.keys(COMMANDS))('%s with no credentials says how to give them', async (name) => {
  const { status, stderr } = await run(name, { AWS_REGION: 'eu-west-1' });
  expect(status, stderr).toBe(1);
  expect(stderr).toMatch(
    new RegExp(`^npm run ${name}: .*Could not load credentials from any providers.*\\. No usable AWS credentials`),
  );
  for (const way of ['AWS_PROFILE', 'aws sso login', 'AWS_ACCESS_KEY_ID']) expect(stderr).toContain(way);
  expect(stderr).not.toContain('..');
  expect(stderr.trim().split('\n')).toHaveLength(1);
  // Said once, whatever wrapped it.
  expect(stderr.split('Could not load credentials from any providers')).toHaveLength(2);
});

test('a profile that gives no credentials is named: the SDK does not say which one it tried', async () => {
  const { status, stderr } = await run('subscribers', { AWS_REGION: 'eu-west-1', AWS_PROFILE: 'seller' });
  expect(status, stderr).toBe(1);
  expect(stderr).toContain('No usable AWS credentials. AWS_PROFILE names the profile "seller", which gave none');
});

test('a profile that gives no region is named too, unless an empty AWS_REGION hid its region', async () => {
  const { status, stderr } = await run('subscribers', { AWS_PROFILE: 'seller' });
  expect(status, stderr).toBe(1);
  expect(stderr).toContain('No AWS region. AWS_PROFILE names the profile "seller", which gave none');
  const emptied = await run('subscribers', { AWS_PROFILE: 'seller', AWS_REGION: '' });
  expect(emptied.status, emptied.stderr).toBe(1);
  expect(emptied.stderr).toContain("No AWS region. AWS_REGION is set, but empty (it hides any profile's region).");
});
