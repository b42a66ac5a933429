import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { FORWARDER_STACK_ID, STACK_ID } from '../../lib/app.ts';
import { ALLOW_EXAMPLE_PRODUCTS } from '../../lib/example-products.ts';
import { projectRoot } from '../../local/config.ts';
import { tableDefinitions } from '../../contracts/index.ts';

interface SynthRun {
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly outputDir: string;
}

interface SynthesizedTemplate {
  readonly Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
}

/**
 * Optional signers the AWS SDK loads inside a try/catch and does without when they are not installed (they are not):
 * the only modules a bundle may still ask the runtime for, apart from Node's own.
 */
const optionalSdkModules = ['@aws-sdk/signature-v4-crt', '@aws-sdk/signature-v4a'];

const outputDirs: string[] = [];

/** A seller's shell with no AWS account: synth must never need credentials, a profile or a region. */
function environmentWithoutAws(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
}

/** What a seller adds to synthesize the example products of `cdk.json` on purpose. */
const allowExamples = ['-c', `${ALLOW_EXAMPLE_PRODUCTS}=true`];

async function cdkSynth(...extraArgs: string[]): Promise<SynthRun> {
  const outputDir = await mkdtemp(join(tmpdir(), 'saas-marketplace-synth-'));
  outputDirs.push(outputDir);
  const child = spawn('npx', ['cdk', 'synth', '--no-notices', '--quiet', '-o', outputDir, ...extraArgs], {
    cwd: projectRoot,
    env: environmentWithoutAws(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { exitCode, stderr, outputDir };
}

afterAll(async () => {
  await Promise.all(outputDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function readTemplate(run: SynthRun): Promise<SynthesizedTemplate> {
  return JSON.parse(await readFile(join(run.outputDir, `${STACK_ID}.template.json`), 'utf8')) as SynthesizedTemplate;
}

// With three at once, a bundling run took 27.5 s at a load average of 5 on two cores and 44 s at 8, and the suite must
// pass on a machine busier still: the infra project's 120 s would not do, so every test here gets 10 minutes.
describe.concurrent('npx cdk synth, run as a seller would', { timeout: 600_000 }, () => {
  let withCdkJson: Promise<SynthRun> | undefined;
  /** One run with the cdk.json configuration, shared by the tests that read its output. */
  const synthWithCdkJson = () => (withCdkJson ??= cdkSynth(...allowExamples));

  test('succeeds without AWS credentials and writes a template with both tables', async () => {
    const run = await synthWithCdkJson();
    expect(run.exitCode, run.stderr).toBe(0);

    const template = await readTemplate(run);
    const tablePaths = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::DynamoDB::GlobalTable')
      .map((resource) => resource.Metadata?.['aws:cdk:path']);
    expect(tablePaths.sort()).toEqual(
      tableDefinitions.map((definition) => `${STACK_ID}/Storage/${definition.id}/Resource`).sort(),
    );
  });

  test('bundles every function as minified ESM with a source map, its dependencies and the AWS SDK inside', async () => {
    const run = await synthWithCdkJson();
    expect(run.exitCode, run.stderr).toBe(0);
    const functions = Object.values((await readTemplate(run)).Resources).filter(
      (resource) => resource.Type === 'AWS::Lambda::Function',
    );
    // Every function of the cdk.json configuration (no webhook): the registration and access check functions behind
    // the API, usage recording, the metering run and final metering, the seller notifier, the lifecycle and its sweep.
    expect(functions.map((resource) => resource.Metadata?.['aws:cdk:path']).sort()).toEqual(
      [
        'Registration/Fulfillment',
        'Registration/RegistrationPage',
        'AccessCheck/SubscriberAccess',
        'Metering/Usage',
        'Metering/Metering',
        'Metering/FinalMetering',
        'SellerNotifications/SellerNotifier',
        'Lifecycle/Lifecycle',
        'Lifecycle/FinalMeteringWindows',
      ]
        .map((path) => `${STACK_ID}/${path}/Function/Resource`)
        .sort(),
    );
    for (const resource of functions) {
      const assetDir = join(run.outputDir, String(resource.Metadata?.['aws:asset:path']));
      const bundle = await readFile(join(assetDir, 'index.mjs'), 'utf8');
      const where = String(resource.Metadata?.['aws:cdk:path']);
      expect(bundle.startsWith("import { createRequire } from 'node:module';"), where).toBe(true);
      expect(bundle.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map'), where).toBe(true);
      await expect(readFile(join(assetDir, 'index.mjs.map'), 'utf8')).resolves.toContain('"mappings"');
      // Minified: a few hundred lines at most, where the unminified bundle has tens of thousands.
      expect(bundle.split('\n').length, where).toBeLessThan(1000);
      const requested = [...bundle.matchAll(/(?:\bfrom|\bimport|\brequire\()\s*["']([^"']+)["']/g)].map(
        (match) => match[1],
      );
      const fromOutside = requested.filter(
        (specifier) => !specifier?.startsWith('node:') && !optionalSdkModules.includes(specifier ?? ''),
      );
      expect(fromOutside, where).toEqual([]);
    }
  });

  test('with a region other than us-east-1, writes the stack for it and the forwarder for us-east-1', async () => {
    const run = await cdkSynth(...allowExamples, '-c', 'marketplace.region=eu-west-1');
    expect(run.exitCode, run.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(run.outputDir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string; dependencies?: string[] }>;
    };
    const stacks = Object.entries(manifest.artifacts).filter(
      ([, artifact]) => artifact.type === 'aws:cloudformation:stack',
    );
    expect(Object.fromEntries(stacks.map(([id, artifact]) => [id, artifact.environment]))).toEqual({
      [STACK_ID]: 'aws://unknown-account/eu-west-1',
      [FORWARDER_STACK_ID]: 'aws://unknown-account/us-east-1',
    });
    expect(manifest.artifacts[FORWARDER_STACK_ID]?.dependencies).toContain(STACK_ID);
  });

  test('refuses the example configuration of cdk.json, naming each field and how to allow them', async () => {
    const run = await cdkSynth();
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain(
      'marketplace.products[0].code: "analytics-pro-example" is an example, not a product of yours on AWS Marketplace',
    );
    expect(run.stderr).toContain('marketplace.products[1].code: "data-suite-legacy-example" is an example');
    expect(run.stderr).toContain(
      'marketplace.registration.appUrl: "https://app.example.com/sign-in" is on app.example.com, a domain reserved ' +
        'for examples',
    );
    expect(run.stderr).toContain('marketplace.registration.supportEmail: "support@example.com"');
    expect(run.stderr).toContain('-c allowExampleProducts=true');
    expect(run.stderr).not.toMatch(/^ {4}at /m);
  });

  test("takes a seller's own product codes and links without the allowance", async () => {
    const run = await cdkSynth(
      ...[
        'marketplace.products.0.code=prod-abcdefghijklmnopqrstuvwxy',
        'marketplace.products.1.code=prod-zyxwvutsrqponmlkjihgfedcb',
        'marketplace.registration.appUrl=https://app.acme-analytics.io/sign-in',
        'marketplace.registration.supportEmail=support@acme-analytics.io',
        'marketplace.registration.supportUrl=https://acme-analytics.io/support',
        'marketplace.registration.freeTrialLandingUrl=https://app.acme-analytics.io/trial',
      ].flatMap((setting) => ['-c', setting]),
    );
    expect(run.exitCode, run.stderr).toBe(0);
  });

  test('fails on a bad configuration value, naming the field, without a stack trace', async () => {
    const run = await cdkSynth(...allowExamples, '-c', 'marketplace.products.0.code=bad!code');
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('marketplace.products[0].code');
    expect(run.stderr).not.toMatch(/^ {4}at /m);
  });
});
