/**
 * `npm run preflight` as far as it can be run without AWS: the Marketplace checks against the simulator (a product it
 * sells passes; one it does not know fails with the fix), and STS, SNS and SSM at an address where nothing listens:
 * each of their checks fails, naming where it looked. Lambda's account settings, one read-only answer, come from a
 * stand-in that answers as Lambda would for the quota a test sets; one test has stand-ins for STS and SSM too, to
 * follow the account from STS's answer to the bootstrap fix. With no AWS credentials at all, every check that needs
 * them says so and how to give them, naming AWS's address it would have called.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { getFreePort } from '../../../local/free-port.ts';
import { runNodeCommand } from '../../support/node-command.ts';
import { useSimulator } from '../../support/simulator.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

const sim = useSimulator();
let nowhere = '';
let lambda: { url: string; server: Server };
/** The account's Lambda quota and what of it is unreserved, as `GetAccountSettings` answers them. */
let accountLimit = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 };

/** `cdk.json`'s license product; its legacy one (`data-suite-legacy-example`) stays unknown to the simulator. */
const KNOWN = 'analytics-pro-example';
const OWN_PRODUCT = 'prod-7x3k9q2m1a';
const SELLER_ACCOUNT = '210987654321';

beforeAll(async () => {
  nowhere = `http://127.0.0.1:${await getFreePort()}`;
  lambda = await lambdaAccountSettings();
});
afterAll(() => new Promise<void>((resolve) => lambda.server.close(() => resolve())));
beforeEach(async () => {
  accountLimit = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 };
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
    LAMBDA_ENDPOINT: lambda.url,
  });

/** Lambda's `GET /2016-08-19/account-settings`, answering `accountLimit`; anything else is a 404 as from Lambda. */
async function lambdaAccountSettings(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const known = request.method === 'GET' && request.url === '/2016-08-19/account-settings';
    response.writeHead(known ? 200 : 404, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify(
        known
          ? { AccountLimit: accountLimit, AccountUsage: { FunctionCount: 0 } }
          : { Type: 'User', message: 'Unknown operation' },
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('cdk.json as shipped: the Marketplace checks pass for a known product and fail with the fix for the other', async () => {
  const run = await preflight();
  expect(run.status).toBe(1);
  const out = run.stdout;
  expect(out).toContain('PASS  configuration: 2 products; Marketplace APIs in us-east-1');
  expect(out).toContain(`FAIL  product code: ${KNOWN} is an example code (it ends in "-example")`);
  expect(out).toContain(
    'FAIL  links and addresses: marketplace.registration.appUrl "https://app.example.com/sign-in" is on ' +
      'app.example.com, a domain reserved for examples',
  );
  expect(out).toContain(`PASS  entitlements ${KNOWN}: GetEntitlements answers for the product`);
  expect(out).toContain(`PASS  metering ${KNOWN}: BatchMeterUsage (of no records) answers in us-east-1`);
  expect(out).toContain("PASS  stack region: us-east-1 (the credentials')");
  expect(out).toMatch(
    /FAIL {2}entitlements data-suite-legacy-example: InvalidParameterException: .*\n {6}fix: Use the product's code from the AWS Marketplace Management Portal/,
  );
  expect(out).toMatch(
    /FAIL {2}metering data-suite-legacy-example: InvalidProductCodeException: .*\n {6}fix: Use the product's code/,
  );
  expect(out).toMatch(/failed: fix them before cdk deploy\.\n$/);
  // cdk.json names no one to hear the alarms.
  const alarms = failures(out).get('alarm recipients');
  expect(alarms?.detail).toBe(
    'neither marketplace.observability.alarmEmail nor marketplace.observability.alarmTopicArn is set: the ' +
      "stack's alarms would notify a topic no one reads",
  );
  expect(alarms?.fix).toContain('-c marketplace.observability.alarmEmail=<address>');
});

test('Marketplace throttling or failing: the check says to run preflight again, not to change credentials', async () => {
  await sim.control.setFaults({
    rules: [
      { kind: 'throttle', operations: ['GetEntitlements'] },
      { kind: 'internal-error', operations: ['BatchMeterUsage'] },
    ],
  });
  const failed = failures((await preflight()).stdout);
  expect(failed.get(`entitlements ${KNOWN}`)?.detail).toMatch(/^ThrottlingException: /);
  expect(failed.get(`entitlements ${KNOWN}`)?.fix).toBe(
    'the Entitlement Service (us-east-1) is busy or failing for now: run preflight again in a minute.',
  );
  expect(failed.get(`metering ${KNOWN}`)?.fix).toMatch(
    /is busy or failing for now: run preflight again in a minute\.$/,
  );
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
  expect(stdout).toContain(
    'PASS  Lambda concurrency us-east-1: quota 1000 concurrent executions, 1000 unreserved: room for the 2 the ' +
      'metering functions reserve',
  );
});

test("Lambda concurrency: a new account's quota, all of which Lambda keeps unreserved, fails with the quota to ask for", async () => {
  accountLimit = { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 };
  const small = failures((await preflight()).stdout).get('Lambda concurrency us-east-1');
  expect(small?.detail).toBe(
    'quota 10 concurrent executions, 10 unreserved: the metering functions reserve 2, and Lambda keeps 10 ' +
      'unreserved, so the deploy would roll back (Specified ReservedConcurrentExecutions ... below its minimum value)',
  );
  expect(small?.fix).toContain('Ask for a Lambda quota of at least 102 concurrent executions in us-east-1');
  expect(small?.fix).toContain('--quota-code L-B99A9384 --desired-value 1000 --region us-east-1');

  // A quota of 1,000 of which other functions reserve 899: 101 unreserved, one short of the 100 Lambda keeps.
  accountLimit = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 101 };
  const taken = failures((await preflight()).stdout).get('Lambda concurrency us-east-1');
  expect(taken?.fix).toContain('at least 1001 concurrent executions');
  accountLimit = { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 102 };
  expect((await preflight()).stdout).toContain('PASS  Lambda concurrency us-east-1: quota 1000 concurrent executions');
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
  const registration = {
    appUrl: 'https://app.acme-analytics.io/sign-in',
    supportEmail: 'support@acme-analytics.io',
  };
  const run = await preflight(
    '-c',
    `marketplace.products=${JSON.stringify(products)}`,
    '-c',
    `marketplace.registration=${JSON.stringify(registration)}`,
    '-c',
    'marketplace.observability.alarmEmail=oncall@acme-analytics.io',
  );
  expect(run.stdout).toContain(`PASS  configuration: 1 product; Marketplace APIs in us-east-1`);
  expect(run.stdout).toContain(`PASS  product code: ${OWN_PRODUCT} is not an example code`);
  expect(run.stdout).toContain('PASS  links and addresses: none is an example or on this machine');
  expect(run.stdout).toContain('PASS  alarm recipients: the alarms notify oncall@acme-analytics.io');
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

/**
 * Preflight as a seller runs it who has no credentials at all: no variables, no profile, no config files, no instance
 * metadata; every service AWS's own (nothing is sent: the SDK stops before a request for want of credentials).
 */
async function withoutCredentials(environment: Record<string, string>, ...args: string[]) {
  const home = await scratchDirectory('no-aws-');
  return runNodeCommand(['local/commands/preflight.ts', ...args], {
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_PROFILE: '',
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_SESSION_TOKEN: '',
    AWS_WEB_IDENTITY_TOKEN_FILE: '',
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_REGION: '',
    AWS_DEFAULT_REGION: '',
    ...Object.fromEntries(
      ['ENTITLEMENT', 'MARKETPLACE', 'STS', 'SNS', 'SSM', 'LAMBDA'].map((service) => [`${service}_ENDPOINT`, '']),
    ),
    ...environment,
  });
}

/** What the fix of a missing-credentials FAIL must name: the ways to give credentials, not the network. */
function expectCredentialsFix(fix: string | undefined) {
  expect(fix).toBeDefined();
  for (const way of ['AWS_PROFILE', 'aws configure', 'aws sso login', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) {
    expect(fix).toContain(way);
  }
  expect(fix).not.toMatch(/network/i);
}

/** Each FAIL line of the output with the fix line under it. */
function failures(stdout: string): Map<string, { detail: string; fix?: string }> {
  const found = new Map<string, { detail: string; fix?: string }>();
  const lines = stdout.split('\n');
  lines.forEach((line, index) => {
    const failed = /^FAIL {2}([^:]+): (.*)$/.exec(line);
    if (failed === null) return;
    const fix = /^ {6}fix: (.*)$/.exec(lines[index + 1] ?? '')?.[1];
    found.set(failed[1]!, { detail: failed[2]!, ...(fix === undefined ? {} : { fix }) });
  });
  return found;
}

test('no credentials and no region: each check that calls AWS says the credentials are missing, at the address of AWS, and how to give them', async () => {
  const run = await withoutCredentials({});
  expect(run.status).toBe(1);
  const failed = failures(run.stdout);

  const identity = failed.get('account and region');
  expect(identity?.detail).toMatch(
    /^no AWS credentials \(Could not load credentials from any providers\), and no region/,
  );
  expectCredentialsFix(identity?.fix);
  expect(identity?.fix).toContain('AWS_REGION');

  const expected = {
    'entitlements analytics-pro-example':
      'the Entitlement Service (us-east-1) at https://entitlement.marketplace.us-east-1.amazonaws.com',
    'entitlements data-suite-legacy-example':
      'the Entitlement Service (us-east-1) at https://entitlement.marketplace.us-east-1.amazonaws.com',
    'metering analytics-pro-example':
      'the Metering Service (us-east-1) at https://metering.marketplace.us-east-1.amazonaws.com',
    'metering data-suite-legacy-example':
      'the Metering Service (us-east-1) at https://metering.marketplace.us-east-1.amazonaws.com',
    'SNS topic data-suite-legacy-example subscription': 'SNS (us-east-1) at https://sns.us-east-1.amazonaws.com',
    'SNS topic data-suite-legacy-example entitlement': 'SNS (us-east-1) at https://sns.us-east-1.amazonaws.com',
  };
  for (const [check, where] of Object.entries(expected)) {
    expect(failed.get(check)?.detail, check).toBe(
      `no AWS credentials to call ${where}: Could not load credentials from any providers`,
    );
    expectCredentialsFix(failed.get(check)?.fix);
  }
  expect(run.stdout).toContain('SKIP  Lambda concurrency: no region to look in (see account and region)');
  expect(run.stdout).not.toContain("AWS's endpoint");
  expect(run.stdout).not.toContain('cannot reach');
});

test('no credentials in a region: STS and the bootstrap check say so too, naming the address of that region', async () => {
  const run = await withoutCredentials({ AWS_REGION: 'eu-west-1' });
  expect(run.status).toBe(1);
  const failed = failures(run.stdout);
  expect(failed.get('account and region')?.detail).toBe(
    'no AWS credentials to call STS at https://sts.eu-west-1.amazonaws.com: Could not load credentials from any providers',
  );
  expectCredentialsFix(failed.get('account and region')?.fix);
  expect(failed.get('CDK bootstrap eu-west-1')?.detail).toBe(
    'no AWS credentials to call SSM (eu-west-1) at https://ssm.eu-west-1.amazonaws.com: Could not load credentials from any providers',
  );
  expectCredentialsFix(failed.get('CDK bootstrap eu-west-1')?.fix);
  expect(failed.get('Lambda concurrency eu-west-1')?.detail).toBe(
    'no AWS credentials to call Lambda (eu-west-1) at https://lambda.eu-west-1.amazonaws.com: Could not load credentials from any providers',
  );

  // The credentials' region, with marketplace.region unset: a region the template would refuse at deploy time.
  expect(failed.get('stack region')?.detail).toBe(
    "the stack would deploy to eu-west-1 (the credentials' region, as marketplace.region is unset), and its " +
      'template refuses any region but us-east-1, where Marketplace sends its notifications',
  );
  expect(failed.get('stack region')?.fix).toContain(
    'Set marketplace.region to eu-west-1 (in cdk.json, or -c marketplace.region=eu-west-1',
  );
  const placed = await withoutCredentials({ AWS_REGION: 'eu-west-1' }, '-c', 'marketplace.region=eu-west-1');
  expect(placed.stdout).toContain(
    "PASS  stack region: eu-west-1 (marketplace.region); a stack in us-east-1 forwards Marketplace's notifications",
  );

  // An endpoint variable names the address tried instead of AWS's.
  const simulated = await withoutCredentials({ ENTITLEMENT_ENDPOINT: sim.url });
  expect(failures(simulated.stdout).get('entitlements analytics-pro-example')?.detail).toBe(
    `no AWS credentials to call the Entitlement Service (us-east-1) at ${sim.url}: Could not load credentials from any providers`,
  );
});

/**
 * STS and SSM as they answer a seller whose region is not yet bootstrapped: `GetCallerIdentity` names the account
 * (AWS's query protocol, in XML), and `GetParameter` finds no bootstrap version (JSON 1.1).
 */
async function stsAndUnbootstrappedSsm(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    if (request.headers['x-amz-target'] === 'AmazonSSM.GetParameter') {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify({ __type: 'ParameterNotFound', message: 'ParameterNotFound' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/xml' });
    response.end(
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
        `<Arn>arn:aws:iam::${SELLER_ACCOUNT}:user/seller</Arn><UserId>AIDAEXAMPLE</UserId>` +
        `<Account>${SELLER_ACCOUNT}</Account></GetCallerIdentityResult>` +
        '<ResponseMetadata><RequestId>sts-request</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('marketplace.region and no region in the environment: STS is called in that region, and the account is named', async () => {
  const noRegion = await withoutCredentials({}, '-c', 'marketplace.region=eu-west-1');
  expect(failures(noRegion.stdout).get('account and region')?.detail).toBe(
    'no AWS credentials to call STS at https://sts.eu-west-1.amazonaws.com: Could not load credentials from any providers',
  );

  const aws = await stsAndUnbootstrappedSsm();
  try {
    const run = await withoutCredentials(
      {
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        STS_ENDPOINT: aws.url,
        SSM_ENDPOINT: aws.url,
        LAMBDA_ENDPOINT: lambda.url,
      },
      '-c',
      'marketplace.region=eu-west-1',
    );
    expect(run.stdout).toContain(
      `PASS  account and region: account ${SELLER_ACCOUNT} as arn:aws:iam::${SELLER_ACCOUNT}:user/seller; the ` +
        'stack deploys to region eu-west-1 (marketplace.region)',
    );
    expect(failures(run.stdout).get('CDK bootstrap eu-west-1')?.fix).toBe(
      `The region is not bootstrapped for the CDK: npx cdk bootstrap aws://${SELLER_ACCOUNT}/eu-west-1, with the ` +
        'same -c options as the deploy.',
    );
    expect(run.stdout).toContain('PASS  Lambda concurrency eu-west-1');
  } finally {
    await new Promise<void>((resolve) => aws.server.close(() => resolve()));
  }
});
